import { CaldError } from './cald-error.js';

/** A file-system operation failed (missing file, permission, full disk...). `data.path` names the file. */
export class IoError extends CaldError {
  constructor(
    code: `IO_${string}`,
    message: string,
    options: { hint?: string; data?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/** Turns a Node.js system error into an IoError with one readable line (an IoError stays as it is). */
export function ioErrorFrom(e: unknown, action: string, path: string): IoError {
  if (e instanceof IoError) return e; // already says what and where
  const err = e as NodeJS.ErrnoException;
  const sys = err?.code ?? 'EIO';
  const reasons: Record<string, [string, string | undefined]> = {
    ENOENT: ['no such file or directory', 'check the path'],
    EACCES: ['permission denied', 'check the file and directory permissions'],
    EPERM: ['operation not permitted', 'check the file and directory permissions'],
    EISDIR: ['is a directory', 'give a file, not a directory'],
    ENOTDIR: ['a component of the path is not a directory', 'check the path'],
    ENOSPC: ['no space left on device', 'free some space and retry (nothing is left half-written)'],
    EDQUOT: ['disk quota exceeded', 'free some space and retry (nothing is left half-written)'],
    EROFS: ['read-only file system', 'choose a writable location'],
    EEXIST: ['already exists', undefined],
    EMFILE: ['too many open files', 'raise the open-file limit (ulimit -n)'],
    ELOOP: ['too many levels of symbolic links (or of #! interpreters)', 'check the links and #! lines'],
    ENAMETOOLONG: ['file name too long', 'give a shorter path'],
    ENXIO: ['no such device or address', undefined],
    EBUSY: ['device or resource busy', 'retry when it is no longer in use'],
    ETXTBSY: ['text file busy (being written)', 'retry once the writer has finished'],
    ENOEXEC: ['not an executable format the kernel can run', undefined],
    E2BIG: ['argument list too long', 'pass fewer or shorter arguments'],
  };
  const [why, hint] = reasons[sys] ?? [err?.message ?? String(e), undefined];
  return new IoError(`IO_${sys}`, `cannot ${action} ${path}: ${why}`, {
    ...(hint === undefined ? {} : { hint }),
    data: { path, errno: sys },
    cause: e,
  });
}

/** A Node.js system error: an errno `code` (ENOENT, ELOOP...) and the `syscall` that failed. */
function isSystemError(e: unknown): e is NodeJS.ErrnoException & { code: string; syscall: string } {
  const err = e as NodeJS.ErrnoException | undefined;
  return (
    e instanceof Error &&
    typeof err?.code === 'string' &&
    /^E[A-Z0-9]+$/.test(err.code) &&
    typeof err.syscall === 'string'
  );
}

const ACTIONS: Readonly<Record<string, string>> = {
  open: 'open',
  read: 'read',
  write: 'write',
  mkdir: 'create the directory',
  rmdir: 'remove the directory',
  unlink: 'remove',
  rename: 'rename',
  link: 'link',
  symlink: 'make a symbolic link at',
  scandir: 'list',
  opendir: 'list',
  stat: 'look at',
  lstat: 'look at',
  access: 'access',
  copyfile: 'copy',
  chmod: 'change the mode of',
  utime: 'set the times of',
  readlink: 'read the link',
  realpath: 'resolve',
};

/**
 * The one place that classifies an error that escaped as it was thrown: a Node.js system error
 * (ENOTDIR from a mkdir, ELOOP from a spawn...) is a fault of the environment, not of cald, so it
 * becomes an IoError naming what was done and to which file; anything else is returned as it is.
 */
export function classifyError(e: unknown): unknown {
  if (e instanceof CaldError || !isSystemError(e)) return e;
  const spawn = /^spawn(?: (.+))?$/.exec(e.syscall);
  if (spawn !== null) {
    const args = (e as { spawnargs?: unknown[] }).spawnargs;
    return ioErrorFrom(e, 'run', e.path ?? spawn[1] ?? String(args?.[0] ?? 'a program'));
  }
  const action = ACTIONS[e.syscall] ?? e.syscall;
  const { path = '(no path)', dest } = e as { path?: string; dest?: string };
  return ioErrorFrom(e, dest === undefined ? action : `${action} ${path} to`, dest ?? path);
}

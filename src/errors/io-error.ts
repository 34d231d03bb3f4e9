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

/** Turns a Node.js system error into an IoError with one readable line. */
export function ioErrorFrom(e: unknown, action: string, path: string): IoError {
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
  };
  const [why, hint] = reasons[sys] ?? [err?.message ?? String(e), undefined];
  return new IoError(`IO_${sys}`, `cannot ${action} ${path}: ${why}`, {
    ...(hint === undefined ? {} : { hint }),
    data: { path, errno: sys },
    cause: e,
  });
}

// `cald mount DIR` and `cald unmount DIR` (docs/mount.md): the store as a read-only,
// content-addressed file system, served by the native FUSE server native/cald-mount.c. This file
// checks what can be checked before mounting (one clear error each), starts the server, waits
// until the kernel has spoken to it, and leaves it running in the background (or in front).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { resolve } from 'node:path';
import { CaldError } from '../errors/index.js';
import { nativeArtifact } from '../runtime/native.js';
import { openFiles, type StoreSelection } from './store-open.js';

export const MOUNT_SERVER = 'cald-mount';
/** The file system type the server mounts as (in /proc/self/mountinfo: `fuse.cald`). */
export const MOUNT_FSTYPE = 'fuse.cald';
const READY_TIMEOUT_MS = 30_000;

export interface MountOptions extends StoreSelection {
  /** The mount point: an existing, empty directory. */
  dir: string;
  /** Stay in front until the mount is gone (SIGINT/SIGTERM unmount it). Default: background. */
  foreground?: boolean;
  /** Ask the kernel for passthrough reads (default true); false: every read goes through the server. */
  passthrough?: boolean;
  /** In the background: append the server's log (refusals, fetch failures) to this file. */
  log?: string;
  /** With foreground: called once the mount is ready, before waiting for it to end. */
  onReady?: (report: MountReport) => void;
}

export interface MountReport {
  dir: string;
  store: string;
  /** How reads are served: by the kernel from the store file (passthrough) or by the server (read). */
  reads: 'passthrough' | 'read';
  pid: number;
}

/** Mount points and file system types from /proc/self/mountinfo (octal escapes decoded). */
function mountTable(): Array<{ point: string; type: string }> {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const decode = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  const table: Array<{ point: string; type: string }> = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    table.push({ point: decode(left.split(' ')[4] ?? ''), type: right.split(' ')[0] ?? '' });
  }
  return table;
}

/** Mount points of fuse.cald file systems. */
export function caldMounts(): string[] {
  return mountTable()
    .filter((m) => m.type === MOUNT_FSTYPE)
    .map((m) => m.point);
}

/** Is anything mounted on path (a real path)? */
const mountedOn = (path: string): boolean => mountTable().some((m) => m.point === path);

/** The checks that have a clear answer before the kernel is asked; returns DIR's real path. */
function checkMountPoint(dir: string): string {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new CaldError(
      'MOUNT_NOT_ROOT',
      'mounting needs root (FUSE mounts without fusermount3 are root-only)',
      { hint: 'run it as root (sudo cald mount DIR)' },
    );
  }
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    throw new CaldError(
      'MOUNT_NO_FUSE',
      '/dev/fuse is missing or not usable: this kernel or container has no FUSE',
      { hint: 'load the fuse module (modprobe fuse), or in a container pass --device /dev/fuse' },
    );
  }
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN')
      throw new CaldError('MOUNT_ALREADY', `${dir} is a mount whose server is gone`, {
        hint: `cald unmount ${dir} first`,
      });
    throw new CaldError('MOUNT_DIR_MISSING', `${dir} does not exist`, {
      hint: `create it first: mkdir -p ${dir}`,
    });
  }
  if (!statSync(real).isDirectory()) throw new CaldError('MOUNT_DIR_NOT_DIR', `${dir} is not a directory`);
  if (mountedOn(real)) {
    throw new CaldError(
      'MOUNT_ALREADY',
      `${dir} is already a mount point${caldMounts().includes(real) ? ' (of cald)' : ''}`,
      { hint: `cald unmount ${dir}` },
    );
  }
  if (readdirSync(real).length > 0)
    throw new CaldError('MOUNT_DIR_NOT_EMPTY', `${dir} is not empty`, {
      hint: 'mount on an empty directory',
    });
  return real;
}

/** The first line the server wrote on stderr, without its "cald-mount: " prefix. */
const serverLine = (stderr: string): string =>
  (stderr.trim().split('\n')[0] ?? '').replace(/^cald-mount: /, '') ||
  'the server exited before the mount was ready';

/**
 * Mounts the store read-only on options.dir. Resolves once the kernel has completed the FUSE
 * handshake, so the mount answers as soon as this returns; in the background the server is left
 * running detached (its own session), and `unmount` (or a kill) ends it.
 */
export async function mount(options: MountOptions): Promise<MountReport> {
  const dir = checkMountPoint(resolve(options.cwd ?? process.cwd(), options.dir));
  const { path } = openFiles(options); // opening applies the store's trust rule
  const storeReal = realpathSync(path);
  const server = nativeArtifact(MOUNT_SERVER, options.env ?? process.env);
  const args = [
    ...(options.passthrough === false ? ['--no-passthrough'] : []),
    ...(options.foreground === true ? ['--foreground'] : []),
    storeReal,
    dir,
  ];
  let logFd: number | undefined;
  if (options.log !== undefined && options.foreground !== true) {
    try {
      logFd = openSync(resolve(options.cwd ?? process.cwd(), options.log), 'a', 0o600);
    } catch (e) {
      throw new CaldError('MOUNT_LOG', `cannot open the log ${options.log}: ${(e as Error).message}`);
    }
  }
  const child = spawn(server, args, {
    detached: options.foreground !== true,
    stdio: ['ignore', 'pipe', 'pipe', ...(logFd === undefined ? [] : [logFd])],
    env: { ...(options.env ?? process.env) } as NodeJS.ProcessEnv,
  });
  if (logFd !== undefined) closeSync(logFd);
  if (options.foreground !== true) {
    const reads = await waitReady(child);
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.unref();
    return { dir, store: storeReal, reads, pid: child.pid ?? 0 };
  }
  // In front: a stop signal goes to the server (which unmounts), from the start, so one that
  // arrives while the mount comes up does not end this process and leave the server behind.
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', forward).on('SIGTERM', forward).on('SIGHUP', forward);
  try {
    const reads = await waitReady(child);
    const report: MountReport = { dir, store: storeReal, reads, pid: child.pid ?? 0 };
    options.onReady?.(report);
    child.stderr?.pipe(process.stderr);
    await exited;
    return report;
  } finally {
    process.off('SIGINT', forward).off('SIGTERM', forward).off('SIGHUP', forward);
  }
}

function waitReady(child: ChildProcess): Promise<'passthrough' | 'read'> {
  return new Promise((resolveReady, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(
        new CaldError(
          'MOUNT_FAILED',
          `the kernel did not start the mount within ${READY_TIMEOUT_MS / 1000} s`,
        ),
      );
    }, READY_TIMEOUT_MS);
    child.stderr?.on('data', (d) => {
      err += String(d);
    });
    const failed = () => reject(new CaldError('MOUNT_FAILED', serverLine(err)));
    const onExit = () => {
      clearTimeout(timer);
      // the pipe may still hold the server's last words: let them arrive before reporting
      if (child.stderr === null || child.stderr.closed) failed();
      else child.stderr.once('close', failed);
    };
    child.stdout?.on('data', (d) => {
      out += String(d);
      const m = /^ready (passthrough|read)\n/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolveReady(m[1] as 'passthrough' | 'read');
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new CaldError('MOUNT_FAILED', `cannot start ${MOUNT_SERVER}: ${e.message}`));
    });
    child.once('exit', onExit);
  });
}

export interface UnmountOptions {
  dir: string;
  /** Detach now even if busy; the kernel finishes when the last user lets go (umount -l). */
  lazy?: boolean;
  cwd?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

/** Unmounts a cald mount (only a fuse.cald one: anything else is refused, never touched). */
export async function unmount(options: UnmountOptions): Promise<{ dir: string }> {
  const given = resolve(options.cwd ?? process.cwd(), options.dir);
  let dir = given;
  try {
    dir = realpathSync(given);
  } catch {
    // a mount whose server died answers ENOTCONN: its path is taken as written
  }
  const mounts = caldMounts();
  if (!mounts.includes(dir)) {
    if (mountedOn(dir))
      throw new CaldError('MOUNT_NOT_CALD', `${options.dir} is a mount point, but not of cald: left alone`);
    throw new CaldError('MOUNT_NOT_MOUNTED', `${options.dir} is not a cald mount`);
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new CaldError('MOUNT_NOT_ROOT', 'unmounting needs root', {
      hint: 'run it as root (sudo cald unmount DIR)',
    });
  }
  const server = nativeArtifact(MOUNT_SERVER, options.env ?? process.env);
  const r = spawnSync(server, ['--unmount', ...(options.lazy === true ? ['--lazy'] : []), dir], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new CaldError(r.status === 3 ? 'MOUNT_BUSY' : 'MOUNT_FAILED', `${serverLine(r.stderr ?? '')}`);
  }
  return { dir };
}

import {
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  ftruncateSync,
  linkSync,
  openSync,
  realpathSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ioErrorFrom } from '../errors/index.js';

/** process.pid is a system call each time it is read; temp names use it once per file. */
const PID = process.pid;

/**
 * The unique part of a temporary name: this process's id, a random tag drawn once and a counter.
 * Names need not be secret (each is made with O_EXCL, which neither follows a link nor clobbers a
 * file), only unlikely to meet a leftover of an earlier process with the same id. Math.random, not
 * node:crypto: loading that module cost `cald patchelf` ~10 ms of start-up, and randomBytes two
 * calls per file (docs/benchmarks.md, "Renaming ...", session 6).
 */
let tag: string | undefined;
let serial = 0;
function unique(): string {
  tag ??= Math.floor(Math.random() * 0x1000000000000)
    .toString(16)
    .padStart(12, '0');
  serial += 1;
  return `${PID}-${tag}-${serial.toString(16)}`;
}

export interface WriteFileAtomicOptions {
  /**
   * Permission bits of the written file. By default those of the file being replaced, or
   * 0o666 less the umask for a new file.
   */
  mode?: number;
  /**
   * fsync the file and its directory (the default), so the new contents survive a power loss.
   * Either way the replacement is atomic for every reader.
   */
  durable?: boolean;
}

/**
 * Replaces `path` with `data` so that a reader sees the old file or the new one, never a mix:
 * writes a temporary file in the same directory, fsyncs it, renames it over the target and
 * fsyncs the directory (the fsyncs only when `durable`, the default). The target keeps its permission bits (and, when running as root, its
 * owner and group).
 *
 * A symbolic link is written through, as patchelf does: the file it points to is replaced and
 * the link stays. (patchelf rewrites the target's inode in place; cald renames a new inode
 * over it, so other hard links to the old file keep the old contents.)
 *
 * On any failure the temporary file is removed, the target is left as it was, and an IoError
 * naming `path` is thrown.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const target = resolveTarget(path);
  let existing: FileOwner | undefined;
  try {
    const st = statSync(target);
    if (isSpecial(st)) {
      writeIntoSpecial(path, target, data);
      return;
    }
    existing = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioErrorFrom(e, 'write', path);
  }
  replaceFileAtomic(path, target, existing, data, options);
}

/** A device, a FIFO or a socket: neither a regular file nor a directory. */
function isSpecial(st: Stats): boolean {
  return !st.isFile() && !st.isDirectory();
}

/**
 * Whether `path` names a device, a FIFO or a socket (/dev/null, /dev/full, /dev/stdout on a pipe):
 * output goes into it as a shell's `>` would put it, never by a rename that would replace the
 * device node with a regular file.
 */
export function isSpecialOutput(path: string): boolean {
  try {
    return isSpecial(statSync(path));
  } catch {
    return false;
  }
}

/** Writes `data` into an existing device or FIFO; an IoError naming `path` when it fails (ENOSPC of /dev/full). */
function writeIntoSpecial(path: string, target: string, data: Uint8Array): void {
  let fd: number | undefined;
  try {
    fd = openSync(target, constants.O_WRONLY | constants.O_NOCTTY);
    writeAll(fd, data);
    closeSync(fd);
    fd = undefined;
  } catch (e) {
    discard(fd, []);
    throw ioErrorFrom(e, 'write', path);
  }
}

/** Permission bits and owner of a file being replaced. */
export interface FileOwner {
  mode: number;
  uid: number;
  gid: number;
}

/**
 * writeFileAtomic for a caller that has already resolved `target` (a real path: no symbolic link
 * in it) and knows what is there (`existing`, from an fstat of the file it read; undefined for a
 * new file), so neither is looked up again. `path` names the file in errors.
 */
export function replaceFileAtomic(
  path: string,
  target: string,
  existing: FileOwner | undefined,
  data: Uint8Array,
  options: WriteFileAtomicOptions = {},
): void {
  // Synchronous calls on purpose: a batch of small writes (cald patchelf over a closure) would
  // otherwise spend most of its time hopping to the thread pool and back.
  const dir = dirname(target);
  const mode = options.mode ?? existing?.mode;
  const durable = options.durable !== false;
  const tmp = tempName(dir, target);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', mode ?? 0o666);
    writeAll(fd, data);
    if (existing !== undefined && process.getuid?.() === 0) fchownSync(fd, existing.uid, existing.gid);
    // After chown, which clears set-id bits; and open's mode was cut by the umask.
    if (mode !== undefined) fchmodSync(fd, mode);
    if (durable) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    discard(fd, [tmp]);
    throw ioErrorFrom(e, 'write', path);
  }
  if (durable) syncDir(dir);
}

/** After a failed write: the descriptor closed and the names made removed, quietly (the first error is the one to report). */
function discard(fd: number | undefined, names: ReadonlyArray<string | undefined>): void {
  if (fd !== undefined) {
    try {
      closeSync(fd);
    } catch {}
  }
  for (const name of names) {
    if (name === undefined) continue;
    try {
      unlinkSync(name);
    } catch {}
  }
}

/** The file a patch was computed from, as it was when it was read. */
export interface PatchedSource extends FileOwner {
  size: number;
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
}

/**
 * replaceFileAtomic for a result that is the current file with a few ranges changed: the temporary
 * file is a copy of `target` made by the kernel (copyFileSync: copy_file_range, or a clone where
 * the file system shares blocks), so the unchanged bytes never pass through this process; then
 * `ranges` of `data` are written over it, the copy is cut to `data.length`, and it is renamed over
 * the target as replaceFileAtomic does (same owner, mode, fsyncs and failure handling).
 * `source` is what the caller read: when the target no longer matches it (size, inode,
 * modification or change time) the copy would not be those bytes, and nothing is replaced.
 *
 * `releaseOld`: the rename then no longer frees the old file. Freeing a file's pages and blocks
 * (hundreds of microseconds per MB) is the larger part of replacing it; renaming over the last
 * link to it makes the rename do that, holding up the caller. With `releaseOld`, a second link
 * to the old file (a hidden name beside it) keeps it across the rename, and is handed to
 * `releaseOld` to remove later (off the main thread: the freeing runs after unlink releases the
 * directory). Readers see the same: the target is the old file, then the new one. Not with
 * `durable` (the extra name would be made durable too); skipped where hard links fail.
 */
export function replaceFilePatched(
  path: string,
  target: string,
  source: PatchedSource,
  data: Uint8Array,
  ranges: ReadonlyArray<readonly [number, number]>,
  options: WriteFileAtomicOptions & { releaseOld?: (oldLink: string) => void } = {},
): void {
  const dir = dirname(target);
  const mode = options.mode ?? source.mode;
  const durable = options.durable !== false;
  const tmp = tempName(dir, target);
  let fd: number | undefined;
  let made = false;
  let oldLink: string | undefined;
  try {
    copyFileSync(target, tmp, constants.COPYFILE_EXCL);
    made = true;
    fd = openSync(tmp, 'r+');
    // After the copy: a change made while it ran shows in the target's times or size.
    if (!sameFile(statSync(target), source)) {
      throw Object.assign(new Error('the file changed while it was being edited'), { code: 'EAGAIN' });
    }
    if (data.length < source.size) ftruncateSync(fd, data.length);
    for (const [start, end] of joined(ranges)) writeAll(fd, data.subarray(start, end), start);
    if (data.length > source.size) writeAll(fd, data.subarray(source.size), source.size);
    if (process.getuid?.() === 0) fchownSync(fd, source.uid, source.gid);
    fchmodSync(fd, mode);
    if (durable) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (options.releaseOld !== undefined && !durable) oldLink = linkOld(dir, target);
    renameSync(tmp, target);
  } catch (e) {
    discard(fd, made ? [tmp, oldLink] : [oldLink]);
    throw ioErrorFrom(e, 'write', path);
  }
  if (oldLink !== undefined) options.releaseOld!(oldLink);
  if (durable) syncDir(dir);
}

/** A second name for `target` beside it, or undefined when the file system refuses one. */
function linkOld(dir: string, target: string): string | undefined {
  const name = join(dir, `.${basename(target)}.cald-${unique()}.old`);
  try {
    linkSync(target, name);
    return name;
  } catch {
    return undefined;
  }
}

/** Ranges less than a page apart written as one: one larger write costs less than two calls. */
function joined(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [s, e] of ranges) {
    const last = out.at(-1);
    if (last !== undefined && s <= last[1] + 4096) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function sameFile(st: Stats, source: PatchedSource): boolean {
  return (
    st.size === source.size &&
    st.ino === source.ino &&
    st.mtimeMs === source.mtimeMs &&
    st.ctimeMs === source.ctimeMs
  );
}

function tempName(dir: string, target: string): string {
  return join(dir, `.${basename(target)}.cald-${unique()}.tmp`);
}

function writeAll(fd: number, data: Uint8Array, position?: number): void {
  let off = 0;
  while (off < data.length)
    off += writeSync(fd, data, off, data.length - off, position === undefined ? null : position + off);
}

/** The file a write to `path` must replace: `path` itself, or where its symbolic link(s) lead. */
function resolveTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      try {
        return join(realpathSync(dirname(path)), basename(path));
      } catch (e2) {
        throw ioErrorFrom(e2, 'write', path);
      }
    }
    throw ioErrorFrom(e, 'write', path);
  }
}

/** Makes the rename durable. Some file systems refuse fsync on a directory; that is not an error. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

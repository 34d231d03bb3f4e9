import { randomBytes } from 'node:crypto';
import {
  closeSync,
  rename,
  fchmodSync,
  fchownSync,
  fsyncSync,
  openSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  unlink,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ioErrorFrom } from '../errors/index.js';

/** process.pid is a system call each time it is read; temp names use it once per file. */
const PID = process.pid;

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
  /**
   * Hand the final rename to these renames (made in order on the thread pool) instead of making
   * it before returning: the caller goes on with the next file while the kernel works.
   */
  renames?: OrderedRenames;
}

const renameAsync = promisify(rename);
const unlinkAsync = promisify(unlink);

/** Renames handed over and not yet known to be done, at most (each holds a temp file). */
const MAX_PENDING_RENAMES = 16;

/**
 * The last step of replaceFileAtomic for a batch of files (cald patchelf over a closure): each
 * temp file, written and closed, is renamed over its target on the thread pool, one after the
 * other in the order handed over, while the caller edits the next file. The rename is where the
 * kernel pays for the new contents (ext4's auto_da_alloc starts their writeback when a file is
 * renamed over another), so that cost overlaps the caller's work instead of adding to it.
 *
 * The guarantees stay those of a synchronous rename: each target is the old file or the whole new
 * one, at every moment. Renames happen in order, and after a failure none of the later ones is
 * made (their temp files are removed), so a batch stops at its first failing file as it would
 * with synchronous writes. settle() must be awaited before the batch is reported done.
 */
export class OrderedRenames {
  /** The last rename handed over: it settles after every earlier one. */
  private last: Promise<void> = Promise.resolve();
  private readonly pending: Array<Promise<void>> = [];

  /** Set by the first rename that fails (or is not made because an earlier one failed). */
  private failed = false;

  /** Queues `tmp` -> `target` (a temp file written and closed); `path` names the file in errors. */
  add(tmp: string, target: string, path: string, durable: boolean): void {
    const before = this.last;
    const job = (async () => {
      // An earlier failure ends the batch there: this file stays as it was.
      await before;
      try {
        await renameAsync(tmp, target);
      } catch (e) {
        throw ioErrorFrom(e, 'write', path);
      }
      if (durable) syncDir(dirname(target));
    })().catch(async (e: unknown) => {
      this.failed = true;
      await unlinkAsync(tmp).catch(() => {});
      throw e;
    });
    this.last = job;
    // Awaited by room and settle; the failure is reported by settle, once.
    this.pending.push(job.catch(() => {}));
  }

  /**
   * Before the next file: waits while many renames are pending, and throws (as settle does) once
   * one has failed, so the batch stops there.
   */
  async room(): Promise<void> {
    while (this.pending.length >= MAX_PENDING_RENAMES) await this.pending.shift();
    if (this.failed) await this.settle();
  }

  /** Waits for every rename handed over; throws the first failure (an IoError naming its file). */
  async settle(): Promise<void> {
    await Promise.all(this.pending.splice(0));
    await this.last;
  }
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
    existing = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioErrorFrom(e, 'write', path);
  }
  replaceFileAtomic(path, target, existing, data, options);
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
  const tmp = join(dir, `.${basename(target)}.cald-${PID}-${randomBytes(6).toString('hex')}.tmp`);
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
    if (options.renames !== undefined) {
      // From here the temp file is the renames' (they remove it if it is never renamed).
      options.renames.add(tmp, target, path, durable);
      return;
    }
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {}
    }
    try {
      unlinkSync(tmp);
    } catch {}
    throw ioErrorFrom(e, 'write', path);
  }
  if (durable) syncDir(dir);
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
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

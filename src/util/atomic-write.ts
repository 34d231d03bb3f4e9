import { randomBytes } from 'node:crypto';
import { type FileHandle, open, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ioErrorFrom } from '../errors/index.js';

export interface WriteFileAtomicOptions {
  /**
   * Permission bits of the written file. By default those of the file being replaced, or
   * 0o666 less the umask for a new file.
   */
  mode?: number;
}

/**
 * Replaces `path` with `data` so that a reader sees the old file or the new one, never a mix:
 * writes a temporary file in the same directory, fsyncs it, renames it over the target and
 * fsyncs the directory. The target keeps its permission bits (and, when running as root, its
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
  const target = await resolveTarget(path);
  const dir = dirname(target);
  let existing: { mode: number; uid: number; gid: number } | undefined;
  try {
    const st = await stat(target);
    existing = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioErrorFrom(e, 'write', path);
  }
  const mode = options.mode ?? existing?.mode;
  const tmp = join(dir, `.${basename(target)}.cald-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    // 'wx': never follow or reuse something already at the temporary name.
    fh = await open(tmp, 'wx', mode ?? 0o666);
    await fh.writeFile(data);
    // The umask applies to open()'s mode; an explicit chmod gives exactly the bits asked for.
    if (mode !== undefined) await fh.chmod(mode);
    if (existing !== undefined && process.getuid?.() === 0) {
      await fh.chown(existing.uid, existing.gid);
      // chown clears set-user-ID and set-group-ID bits: set them again.
      if (mode !== undefined) await fh.chmod(mode);
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, target);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw ioErrorFrom(e, 'write', path);
  }
  await syncDir(dir);
}

/** The file a write to `path` must replace: `path` itself, or where its symbolic link(s) lead. */
async function resolveTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // A new file: resolve its directory only. (A dangling link is replaced by the new file.)
    if (code === 'ENOENT') {
      try {
        return join(await realpath(dirname(path)), basename(path));
      } catch (e2) {
        throw ioErrorFrom(e2, 'write', path);
      }
    }
    throw ioErrorFrom(e, 'write', path);
  }
}

/** Makes the rename durable. Some file systems refuse fsync on a directory; that is not an error. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // EINVAL/EISDIR/EACCES on some file systems: the data is written; durability is best effort.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  type Dirent,
  fchmodSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { ioErrorFrom } from '../errors/index.js';

/** The errno code of a Node.js system error, or undefined. */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Writes every byte (writeSync may write fewer than asked). */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Makes a directory's entries (a rename, a new link) durable. File systems that cannot fsync a
 * directory (EINVAL) commit entries with the file data anyway.
 */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch (e) {
    if (errnoOf(e) !== 'EINVAL') throw e;
  } finally {
    closeSync(fd);
  }
}

/**
 * A fresh name in `dir` no other writer can pick: `<prefix>-<pid>-<16 hex>`, the hex a random
 * number drawn once per process plus a counter (random bytes drawn per name cost 0.1 ms per object
 * of a lazy fetch).
 */
export function tempPath(dir: string, prefix: string): string {
  tempCounter = (tempCounter + 1n) & 0xffff_ffff_ffff_ffffn;
  return join(dir, `${prefix}-${process.pid}-${tempCounter.toString(16).padStart(16, '0')}`);
}
let tempCounter = randomBytes(8).readBigUInt64BE();

/**
 * Writes `bytes` to `path` atomically: a temp file in `tmpDir` (same file system), fsync,
 * chmod, rename over `path`, fsync of path's directory. Readers see the old file or the new one.
 */
export function writeFileAtomic(
  path: string,
  dirOfPath: string,
  tmpDir: string,
  bytes: Uint8Array,
  mode: number,
): void {
  const tmp = tempPath(tmpDir, 'write');
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeAll(fd, bytes);
      fchmodSync(fd, mode); // exact mode, whatever the umask
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirOfPath);
}

export { makeDirs } from '../util/make-dirs.js';

/** A directory's entries; none when it does not exist. Other errors become one IoError line. */
export function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return [];
    throw ioErrorFrom(e, 'list', dir);
  }
}

/** Like readdirOrEmpty, with each entry's type. */
export function readdirOrEmptyTyped(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return [];
    throw ioErrorFrom(e, 'list', dir);
  }
}

/** Removes an entry and makes the removal durable; false when there was none. */
export function unlinkDurably(path: string, what: string): boolean {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return false;
    throw ioErrorFrom(e, what, path);
  }
  fsyncDir(dirname(path));
  return true;
}

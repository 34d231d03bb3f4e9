// The narrow file-system interface the closure walk needs, so tests can run it over a fake tree.
import { type BigIntStats, closeSync, realpathSync, statSync } from 'node:fs';
import { openRegular, readAt, readSource } from './source-file.js';

/** ld.so.cache is a few hundred KB; a bigger one is not read. */
const MAX_CACHE_SIZE = 64 * 1024 * 1024;

export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

export interface ClosureStat extends FileIdentity {
  isFile: boolean;
  isDirectory: boolean;
  size: number;
}

/**
 * Synchronous on purpose: the walk makes hundreds of tiny reads, and ld.so itself is sequential.
 * Every method reports a missing path by returning undefined (or throwing a Node-style error with a
 * `code` such as ENOENT for reads); nothing else is expected of an implementation.
 */
export interface ClosureFs {
  /** The whole file (used for ld.so.cache). */
  readFile(path: string): Buffer;
  /** Up to `length` bytes at `position`; fewer at the end of the file. */
  readRange(path: string, position: number, length: number): Buffer;
  /** Follows symbolic links; undefined when the path does not exist or cannot be reached. */
  stat(path: string): ClosureStat | undefined;
  /** The canonical absolute path, symbolic links resolved. */
  realpath(path: string): string;
}

/**
 * The real file system through node:fs. Reads open without blocking and read regular files only
 * (source-file.ts), and never allocate more than the file holds: a FIFO, a device or an absurd
 * size in a header cannot hang the walk or exhaust memory.
 */
export const nodeFs: ClosureFs = {
  readFile: (path) => readSource(path, MAX_CACHE_SIZE).bytes,
  readRange(path, position, length) {
    const { fd, st } = openRegular(path);
    try {
      return readAt(fd, Number(st.size), position, length);
    } finally {
      closeSync(fd);
    }
  },
  stat(path) {
    let s: BigIntStats | undefined;
    try {
      s = statSync(path, { bigint: true, throwIfNoEntry: false });
    } catch {
      return undefined; // ENOTDIR, EACCES, ELOOP...: ld.so cannot reach it either
    }
    if (s === undefined) return undefined;
    return { dev: s.dev, ino: s.ino, isFile: s.isFile(), isDirectory: s.isDirectory(), size: Number(s.size) };
  },
  realpath: (path) => realpathSync(path),
};

// The narrow file-system interface the closure walk needs, so tests can run it over a fake tree.
import {
  type BigIntStats,
  closeSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  statSync,
} from 'node:fs';

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

/** The real file system through node:fs. */
export const nodeFs: ClosureFs = {
  readFile: (path) => readFileSync(path),
  readRange(path, position, length) {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, buf, got, length - got, position + got);
        if (n === 0) break;
        got += n;
      }
      return got === length ? buf : buf.subarray(0, got);
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

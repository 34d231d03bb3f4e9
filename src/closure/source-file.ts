// Reading a file cald does not trust: opened without blocking (a FIFO or a device never holds the
// import), checked by fstat to be a regular file after it was opened (what was checked is what is
// read), its size bounded before a byte is read, and re-checked after reading.
import { type BigIntStats, close, closeSync, fstatSync, openSync, read, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileKind, INPUT_OPEN_FLAGS } from '../util/input-file.js';
import { ClosureError } from './closure-error.js';

export { fileKind };

/** The largest file an import reads: 2 GiB (the largest real libraries are a few hundred MB). */
export const MAX_SOURCE_SIZE = 2 ** 31;

/** One file's bytes, read once, with the identity and permissions of what was read. */
export interface SourceFile {
  /** The path it was opened by. */
  path: string;
  /** In memory of their own (not Node's shared buffer pool). */
  bytes: Buffer;
  dev: bigint;
  ino: bigint;
  /** st_mode permission bits (& 0o7777). */
  mode: number;
  uid: number;
}

/**
 * Opens `path` for reading without blocking and returns the descriptor with its fstat, or throws
 * ClosureError CLOSURE_NOT_REGULAR when what was opened is not a regular file (and Node's own
 * error, with its `code`, when it cannot be opened at all).
 */
export function openRegular(path: string): { fd: number; st: BigIntStats } {
  const fd = openSync(path, INPUT_OPEN_FLAGS);
  let st: BigIntStats;
  try {
    st = fstatSync(fd, { bigint: true });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  if (!st.isFile()) {
    closeSync(fd);
    throw new ClosureError('CLOSURE_NOT_REGULAR', `${path} is ${fileKind(st)}, not a regular file`, {
      hint: 'only regular files are read; remove or replace it',
      data: { path },
    });
  }
  return { fd, st };
}

/**
 * Room left after a whole file's bytes in their memory, for an import's rewrite in place to grow
 * into (the segment it appends for the longer content names: at most 300 KB over ffmpeg's
 * closure). Address space only: no page is touched unless the rewrite writes there.
 */
const growthRoom = (n: number) => Math.floor(n / 8) + 64 * 1024;

/**
 * Memory of its own for a file's `size` bytes (never a slice of Node's shared pool), its
 * ArrayBuffer at least `capacity` bytes long: fresh by default, or lent by a BufferPool
 * (util/buffer-pool.ts) that the reader's caller gives back once done with the bytes.
 */
export type OwnMemory = (size: number, capacity: number) => Buffer;

const freshMemory: OwnMemory = (size, capacity) => Buffer.allocUnsafeSlow(capacity).subarray(0, size);

/**
 * Reads up to `length` bytes at `position` of an open file: never more than the file holds.
 * `own`: in memory of its own from `own`, with growthRoom after it.
 */
export function readAt(fd: number, size: number, position: number, length: number, own?: OwnMemory): Buffer {
  const n = Math.max(0, Math.min(length, size - position));
  const buf = own !== undefined ? own(n, n + growthRoom(n)) : Buffer.allocUnsafe(n);
  let got = 0;
  while (got < n) {
    const r = readSync(fd, buf, got, n - got, position + got);
    if (r === 0) break;
    got += r;
  }
  return got === n ? buf : buf.subarray(0, got);
}

export function tooLarge(path: string, size: bigint, max: number): ClosureError {
  return new ClosureError(
    'CLOSURE_FILE_TOO_LARGE',
    `${path} is ${size} bytes, more than the ${max} an import reads`,
    {
      hint: 'a shared library or program this large is not expected; check the file',
      data: { path },
    },
  );
}

/**
 * The whole of a regular file of at most `maxSize` bytes, read once. A file that changes size or
 * identity while it is read is refused (CLOSURE_SOURCE_CHANGED): what is returned is exactly one
 * state of the file.
 */
export function readSource(
  path: string,
  maxSize: number = MAX_SOURCE_SIZE,
  memory: OwnMemory = freshMemory,
): SourceFile {
  const { fd, st } = openRegular(path);
  try {
    if (st.size > BigInt(maxSize)) throw tooLarge(path, st.size, maxSize);
    return readOpened(path, fd, st, memory);
  } finally {
    closeSync(fd);
  }
}

/** The whole of a file opened by openRegular, checked by fstat again after reading. */
export function readOpened(
  path: string,
  fd: number,
  st: BigIntStats,
  memory: OwnMemory = freshMemory,
): SourceFile {
  const size = Number(st.size);
  // Its own memory: the importer rewrites these very bytes in place (EditOptions.reuseInput).
  return checkedAfterRead(path, fd, st, readAt(fd, size, 0, size, memory));
}

const readAsync = promisify(read);
const closeAsync = promisify(close);

/**
 * readSource with the bytes read on the thread pool (opened, checked and bounded here first), so
 * a caller can read the next file while it works on this one.
 */
export function readSourceAsync(
  path: string,
  maxSize: number = MAX_SOURCE_SIZE,
  memory: OwnMemory = freshMemory,
): Promise<SourceFile> {
  const { fd, st } = openRegular(path);
  const whole = async () => {
    if (st.size > BigInt(maxSize)) throw tooLarge(path, st.size, maxSize);
    const size = Number(st.size);
    const bytes = memory(size, size + growthRoom(size));
    let got = 0;
    while (got < size) {
      const { bytesRead } = await readAsync(fd, bytes, got, size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return checkedAfterRead(path, fd, st, bytes.subarray(0, got));
  };
  return whole().finally(() => closeAsync(fd));
}

function checkedAfterRead(path: string, fd: number, st: BigIntStats, bytes: Buffer): SourceFile {
  const size = Number(st.size);
  const after = fstatSync(fd, { bigint: true });
  if (bytes.length !== size || after.size !== st.size || after.mtimeNs !== st.mtimeNs) {
    throw new ClosureError('CLOSURE_SOURCE_CHANGED', `${path} changed while it was being read`, {
      hint: 'import it again once nothing is writing to it',
      data: { path },
    });
  }
  return { path, bytes, dev: st.dev, ino: st.ino, mode: Number(st.mode) & 0o7777, uid: Number(st.uid) };
}

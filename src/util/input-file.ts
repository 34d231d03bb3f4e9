// Opening a file a user named, for reading: without blocking (a FIFO with no writer, a terminal
// or a device never holds the command), and refused unless fstat says it is a regular file (a
// directory, /dev/zero or a FIFO is not an ELF file, and reading one would hang or never end).
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { IoError, ioErrorFrom } from '../errors/index.js';

/** O_NONBLOCK: open(2) of a FIFO returns at once; O_NOCTTY: a terminal never becomes ours. */
export const INPUT_OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** What kind of file a stat describes, for messages. */
export function fileKind(st: {
  isFIFO(): boolean;
  isDirectory(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
  isSymbolicLink(): boolean;
}): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** IO_NOT_REGULAR: `path` is a FIFO, a device, a socket where a file's bytes were wanted (IO_EISDIR: a directory). */
export function notRegularError(path: string, st: Parameters<typeof fileKind>[0]): IoError {
  if (st.isDirectory()) return ioErrorFrom({ code: 'EISDIR' }, 'read', path); // as read(2) says
  const kind = fileKind(st);
  return new IoError('IO_NOT_REGULAR', `cannot read ${path}: it is ${kind}, not a regular file`, {
    hint: 'give a regular file (a program, library or object file)',
    data: { path, kind },
  });
}

/**
 * Opens a regular file for reading and returns the descriptor with its fstat (taken after the
 * open, so what was checked is what is read). Throws IoError: IO_NOT_REGULAR for anything but a
 * regular file, IO_<errno> when it cannot be opened.
 */
export function openInput(path: string): { fd: number; st: Stats } {
  try {
    return openRegularRaw(path);
  } catch (e) {
    throw ioErrorFrom(e, 'read', path); // an IoError (IO_NOT_REGULAR) stays as it is
  }
}

/** The whole of a regular file (see openInput for what is refused); errors as IoError. */
export function readInputFile(path: string): Buffer {
  const { fd, st } = openInput(path);
  try {
    return readAll(fd, st.size);
  } catch (e) {
    throw ioErrorFrom(e, 'read', path);
  } finally {
    closeSync(fd);
  }
}

/**
 * readFileSync for a file that must be a regular one (a store object, say): a FIFO or a device put
 * in its place is refused with IO_NOT_REGULAR instead of read (a FIFO with no writer would hold the
 * command for good). Other errors are the system's, as readFileSync's are.
 */
export function readRegularFile(path: string): Buffer {
  const { fd, st } = openRegularRaw(path);
  try {
    return readAll(fd, st.size);
  } finally {
    closeSync(fd);
  }
}

/** openInput with the system's errors left as they are (callers that tell ENOENT apart). */
function openRegularRaw(path: string): { fd: number; st: Stats } {
  const fd = openSync(path, INPUT_OPEN_FLAGS);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notRegularError(path, st);
    return { fd, st };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The `size` bytes of an open regular file (fewer if it shrank meanwhile). */
function readAll(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, got);
    if (n === 0) break;
    got += n;
  }
  return got === buf.length ? buf : buf.subarray(0, got);
}

/**
 * A small file that may also be a pipe (a key given as `<(pass show key)`), read to its end but
 * never past `maxBytes`: a device that never ends (/dev/zero) is refused instead of read forever.
 * Errors as IoError, `what` naming the file in them ("read the signing key").
 */
export function readSmallFile(path: string, maxBytes: number, what: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOCTTY);
  } catch (e) {
    throw ioErrorFrom(e, what, path);
  }
  try {
    const buf = Buffer.allocUnsafe(maxBytes + 1);
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) return buf.subarray(0, got);
      got += n;
      if (got > maxBytes) {
        throw new IoError('IO_TOO_LARGE', `cannot ${what} ${path}: it is longer than ${maxBytes} bytes`, {
          hint: 'give the file itself (a key file is a few hundred bytes)',
          data: { path, maxBytes },
        });
      }
    }
  } catch (e) {
    throw ioErrorFrom(e, what, path);
  } finally {
    closeSync(fd);
  }
}

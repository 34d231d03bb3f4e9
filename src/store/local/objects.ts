import {
  chmodSync,
  closeSync,
  createReadStream,
  fchmodSync,
  fsync,
  fsyncSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ioErrorFrom, isCaldError, StoreError, StoreIntegrityError } from '../../errors/index.js';
import { readRegularFile } from '../../util/input-file.js';
import {
  createHasher,
  DEFAULT_ALGORITHM,
  Digest,
  type DigestAlgorithm,
  digestAndSizeOfFile,
  digestOfBuffer,
  READ_CHUNK,
} from '../digest.js';
import { errnoOf, fsyncDir, tempPath, writeAll } from '../fs-util.js';
import { EXECUTABLE_OBJECT_MODE, OBJECT_MODE, OWNER_ONLY_MASK, type StoreLayout } from '../layout.js';
import type { ObjectInfo, ObjectStream, PutOptions } from '../store.js';
import { ARENA_LIMIT, giveArena, growArena, takeArena } from './arena.js';
import { assertWritable, lstatIfPresent, objectMissing } from './guard.js';

const fsyncOffLoop = promisify(fsync);

/** How a write may skip work its caller does once for many objects. */
export interface AdoptOptions {
  readonly executable?: boolean;
  /** Readable by the store's owner only (as PutOptions.ownerOnly). */
  readonly ownerOnly?: boolean;
  /** The caller has fsynced the file's data already. */
  readonly synced?: boolean;
  /** false: leave the directory fsync to one syncDir() after a batch. */
  readonly syncDir?: boolean;
}

/**
 * `<store>/objects/<alg>/<hex>`: immutable read-only files named by their digest, what the loader
 * opens. Every write is atomic (a temp file in tmp/, fsync, rename, fsync of the directory), so a
 * crash leaves either nothing or a complete file; an intact object is never written again.
 *
 * The file operations are synchronous: cald is a CLI, sync calls are the fastest way to hash and
 * copy here, and they keep each write's steps in one uninterrupted order. Only the stream put is
 * async (its bytes arrive from elsewhere).
 */
export class ObjectFiles {
  constructor(
    private readonly layout: StoreLayout,
    private readonly readOnly: boolean,
  ) {}

  /** Absolute path of the object's file (whether or not it exists). */
  pathOf(digest: Digest): string {
    return join(this.layout.objectDir(digest.algorithm), digest.hex);
  }

  /** undefined when the object is not stored; INTEGRITY_NOT_A_FILE when its entry is not a file. */
  stat(digest: Digest): ObjectInfo | undefined {
    const path = this.pathOf(digest);
    const st = lstatIfPresent(path);
    if (st === undefined) return undefined;
    if (!st.isFile()) {
      throw new StoreIntegrityError(
        'INTEGRITY_NOT_A_FILE',
        `object ${digest} is not a regular file: ${path}`,
        {
          hint: 'something other than cald wrote into the store; run cald verify',
          data: { store: this.layout.root, digest: digest.toString(), path },
        },
      );
    }
    return infoOf(digest, st);
  }

  /** The object's bytes, verified against the digest. */
  readBytes(digest: Digest): Buffer {
    const path = this.pathOf(digest);
    let bytes: Buffer;
    try {
      bytes = readRegularFile(path);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') throw objectMissing(this.layout.root, digest);
      throw ioErrorFrom(e, 'read object', path);
    }
    const actual = digestOfBuffer(bytes, digest.algorithm);
    if (!actual.equals(digest)) throw this.corrupt(digest, actual);
    return bytes;
  }

  /**
   * The object's bytes as a stream, hashed as they are read: a corrupt object fails
   * (INTEGRITY_CORRUPT_OBJECT) before the stream ends. Nothing is opened until it is iterated.
   */
  async *chunks(digest: Digest): ObjectStream {
    const path = this.pathOf(digest);
    const hasher = createHasher(digest.algorithm);
    const stream = createReadStream(path, { highWaterMark: READ_CHUNK });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hasher.update(chunk);
        yield chunk;
      }
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') throw objectMissing(this.layout.root, digest);
      throw ioErrorFrom(e, 'read object', path);
    } finally {
      stream.destroy();
    }
    const actual = hasher.digest();
    if (!actual.equals(digest)) throw this.corrupt(digest, actual);
  }

  /**
   * Stores bytes or a file. The digest is computed from the bytes themselves; for a file it is
   * computed once before and once while copying, so a file that changes meanwhile is refused
   * (INTEGRITY_SOURCE_CHANGED) rather than stored under a wrong name. An object already stored is
   * re-hashed: if intact it is kept as it is, if damaged it is replaced by the new bytes.
   */
  put(source: Uint8Array | { readonly path: string }, options: PutOptions = {}): Digest {
    assertWritable(this.layout.root, this.readOnly);
    const algorithm = options.expect?.algorithm ?? DEFAULT_ALGORITHM;
    const isPath = !(source instanceof Uint8Array);
    const digest = isPath
      ? digestAndSizeOfFile(source.path, algorithm).digest
      : digestOfBuffer(source, algorithm);
    if (options.expect !== undefined && !options.expect.equals(digest)) {
      throw mismatch(isPath ? source.path : 'the bytes', options.expect, digest);
    }
    const mode = modeOf(options);
    const final = this.pathOf(digest);
    if (this.existingIsIntact(digest, final, mode)) return digest;
    const tmp = tempPath(this.layout.tmp, 'object');
    try {
      const fd = openSync(tmp, 'wx', 0o600);
      try {
        if (isPath) copyVerified(source.path, fd, digest);
        else writeAll(fd, source);
        fchmodSync(fd, mode);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, final);
      fsyncDir(this.layout.objectDir(algorithm));
    } catch (e) {
      rmSync(tmp, { force: true });
      if (isCaldError(e)) throw e;
      throw ioErrorFrom(e, 'store an object in', this.layout.root);
    }
    return digest;
  }

  /**
   * Stores a stream that must hash to `expect`: it is written to tmp/ while hashed and renamed
   * into objects/ only when whole and right (else INTEGRITY_MISMATCH, or the stream's own error,
   * and nothing is kept). An intact object already stored wins, and the stream is not read.
   * The bytes are gathered in a reused arena (arena.ts) and written in one call, or a few for an
   * object larger than ARENA_LIMIT; `whole`, when given, is called with the object's bytes once
   * they are verified and written, when they fit (the view is valid only during the call; an
   * error it throws is passed on once the object is stored). Each chunk is copied or
   * written before the next is asked for, so a source may reuse its buffer (ReadOptions.transient).
   */
  async putStream(
    source: ObjectStream,
    expect: Digest,
    options: PutOptions & {
      readonly syncDir?: boolean;
      readonly whole?: (bytes: Buffer) => void;
    } = {},
  ): Promise<Digest> {
    assertWritable(this.layout.root, this.readOnly);
    const mode = modeOf(options);
    const final = this.pathOf(expect);
    if (this.existingIsIntact(expect, final, mode)) return expect;
    const tmp = tempPath(this.layout.tmp, 'object');
    // An error of the source (a remote's, say) is passed on as it is; only the store's own are IO_*.
    let inSource = false;
    let arena: Buffer | undefined = takeArena();
    let wholeFailed: { e: unknown } | undefined; // thrown by `whole`: passed on once the object is stored
    try {
      // Only the sync goes to the thread pool: open, chmod and close take microseconds, and each
      // round trip through the pool cost more than that per object of a lazy fetch (0.1-0.2 ms).
      const fd = openSync(tmp, 'wx', 0o600);
      try {
        const hasher = createHasher(expect.algorithm);
        let used = 0;
        let spilled = false; // written as it came: larger than an arena may grow
        inSource = true;
        for await (const chunk of source) {
          inSource = false;
          hasher.update(chunk);
          if (used + chunk.byteLength > arena.length) {
            if (!spilled && used + chunk.byteLength <= ARENA_LIMIT) {
              arena = growArena(arena, used);
            } else {
              spilled = true;
              writeAll(fd, arena.subarray(0, used));
              used = 0;
            }
          }
          if (chunk.byteLength > arena.length) writeAll(fd, chunk);
          else {
            arena.set(chunk, used);
            used += chunk.byteLength;
          }
          inSource = true;
        }
        inSource = false;
        const actual = hasher.digest();
        if (!actual.equals(expect)) throw mismatch('the stream', expect, actual);
        writeAll(fd, arena.subarray(0, used));
        // The bytes are verified and written: `whole` reads them now and the arena goes back
        // before the sync, for the puts that run meanwhile.
        if (!spilled && options.whole !== undefined) {
          try {
            options.whole(arena.subarray(0, used));
          } catch (e) {
            wholeFailed = { e };
          }
        }
        giveArena(arena);
        arena = undefined;
        fchmodSync(fd, mode);
        // Synced off the event loop: other streams go on meanwhile.
        await fsyncOffLoop(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, final);
      if (options.syncDir !== false) fsyncDir(this.layout.objectDir(expect.algorithm));
    } catch (e) {
      rmSync(tmp, { force: true });
      if (arena !== undefined) giveArena(arena);
      if (isCaldError(e) || inSource) throw e;
      throw ioErrorFrom(e, 'store an object in', this.layout.root);
    }
    if (wholeFailed !== undefined) throw wholeFailed.e;
    return expect;
  }

  /**
   * Makes a file this process wrote in the store's tmp/ the object `digest`, without copying it:
   * for bytes whose digest the caller computed from exactly what it wrote. The file is made
   * read-only, synced and renamed into objects/; an intact object already there wins and the
   * file is removed.
   */
  adoptTemp(tmp: string, digest: Digest, options: AdoptOptions = {}): void {
    assertWritable(this.layout.root, this.readOnly);
    if (dirname(resolve(tmp)) !== this.layout.tmp) {
      throw new StoreError('STORE_NOT_TEMP', `${tmp} is not in the store's tmp/ directory`, {
        data: { path: tmp },
      });
    }
    const mode = modeOf(options);
    const final = this.pathOf(digest);
    try {
      if (this.existingIsIntact(digest, final, mode)) {
        rmSync(tmp, { force: true });
        return;
      }
      if (options.synced === true) {
        // Written and synced by this process: only its mode is left (one call, no descriptor).
        chmodSync(tmp, mode);
      } else {
        const fd = openSync(tmp, 'r');
        try {
          fchmodSync(fd, mode);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
      renameSync(tmp, final);
      if (options.syncDir !== false) fsyncDir(this.layout.objectDir(digest.algorithm));
    } catch (e) {
      rmSync(tmp, { force: true });
      if (isCaldError(e)) throw e;
      throw ioErrorFrom(e, 'store an object in', this.layout.root);
    }
  }

  /**
   * Whether `digest` is stored and intact (re-hashed), its mode widened as a put of the same bytes
   * with these options would: a writer that knows the digest of its bytes need not write them again.
   */
  hasIntact(
    digest: Digest,
    options: { readonly executable?: boolean; readonly ownerOnly?: boolean } = {},
  ): boolean {
    assertWritable(this.layout.root, this.readOnly);
    return this.existingIsIntact(digest, this.pathOf(digest), modeOf(options));
  }

  /**
   * Makes the renames of objects written with `syncDir: false` durable: one directory fsync for
   * many objects. Call it before anything that names them (a name, a root) is written.
   */
  syncDir(algorithm: DigestAlgorithm = DEFAULT_ALGORITHM): void {
    try {
      fsyncDir(this.layout.objectDir(algorithm));
    } catch (e) {
      throw ioErrorFrom(e, 'sync the objects of', this.layout.root);
    }
  }

  /** Every well-named object file; anything else under objects/ is skipped (cald verify reports it). */
  list(algorithm: DigestAlgorithm = DEFAULT_ALGORITHM): Digest[] {
    const dir = this.layout.objectDir(algorithm);
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      throw ioErrorFrom(e, 'list objects in', dir);
    }
    const out: Digest[] = [];
    for (const hex of entries) {
      const d = Digest.tryParse(`${algorithm}:${hex}`);
      if (d !== undefined) out.push(d);
    }
    return out;
  }

  /** Removes the object's file (the caller removes its names first); false if there was none. */
  delete(digest: Digest): boolean {
    assertWritable(this.layout.root, this.readOnly);
    const path = this.pathOf(digest);
    try {
      unlinkSync(path);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return false;
      throw ioErrorFrom(e, 'delete object', path);
    }
    fsyncDir(this.layout.objectDir(digest.algorithm));
    return true;
  }

  private corrupt(digest: Digest, actual: Digest): StoreIntegrityError {
    const path = this.pathOf(digest);
    return new StoreIntegrityError(
      'INTEGRITY_CORRUPT_OBJECT',
      `object ${digest} is corrupt: its content hashes to ${actual}`,
      {
        hint: 'run cald verify --repair',
        data: { store: this.layout.root, digest: digest.toString(), actual: actual.toString(), path },
      },
    );
  }

  /**
   * An intact existing object is kept, its mode widened to include `mode` (executable, or readable
   * by all, when asked: the same bytes came from such a file); a damaged one is not.
   */
  private existingIsIntact(digest: Digest, path: string, mode: number): boolean {
    const st = lstatIfPresent(path);
    if (st === undefined) return false;
    if (!st.isFile()) return false; // rename replaces a symlink; a directory makes rename fail clearly
    let actual: Digest;
    try {
      actual = digestAndSizeOfFile(path, digest.algorithm).digest;
    } catch {
      return false;
    }
    if (!actual.equals(digest)) return false;
    const widened = (st.mode & 0o777) | mode;
    if ((st.mode & 0o777) !== widened) {
      try {
        chmodSync(path, widened);
      } catch (e) {
        throw ioErrorFrom(e, 'widen the mode of', path);
      }
    }
    return true;
  }
}

function modeOf(options: PutOptions): number {
  return (
    (options.executable === true ? EXECUTABLE_OBJECT_MODE : OBJECT_MODE) &
    (options.ownerOnly === true ? OWNER_ONLY_MASK : 0o777)
  );
}

function mismatch(what: string, expected: Digest, actual: Digest): StoreIntegrityError {
  return new StoreIntegrityError(
    'INTEGRITY_MISMATCH',
    `${what} hash to ${actual}, not the expected ${expected}`,
    {
      data: { expected: expected.toString(), actual: actual.toString() },
    },
  );
}

function infoOf(digest: Digest, st: Stats): ObjectInfo {
  return { digest, size: st.size, executable: (st.mode & 0o111) !== 0, added: Math.floor(st.mtimeMs) };
}

/** Copies `from` into `fd` while hashing; throws if the copy does not hash to `expected`. */
function copyVerified(from: string, fd: number, expected: Digest): void {
  let src: number;
  try {
    src = openSync(from, 'r');
  } catch (e) {
    throw ioErrorFrom(e, 'open', from);
  }
  try {
    const h = createHasher(expected.algorithm);
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    for (;;) {
      let n: number;
      try {
        n = readSync(src, buf, 0, buf.length, null);
      } catch (e) {
        throw ioErrorFrom(e, 'read', from);
      }
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      h.update(chunk);
      let off = 0;
      while (off < n) off += writeSync(fd, chunk, off, n - off);
    }
    const actual = h.digest();
    if (!actual.equals(expected)) {
      throw new StoreIntegrityError('INTEGRITY_SOURCE_CHANGED', `${from} changed while it was being stored`, {
        hint: 'retry once nothing is writing to it',
        data: { path: from, expected: expected.toString(), actual: actual.toString() },
      });
    }
  } finally {
    closeSync(src);
  }
}

import { StoreError, StoreIntegrityError } from '../errors/index.js';
import {
  createHasher,
  DEFAULT_ALGORITHM,
  type Digest,
  digestAndSizeOfFile,
  digestOfBuffer,
} from './digest.js';
import type { Root, RootSpec } from './roots.js';

// The one Store interface (docs/design.md, "Stores"): the local store, the memory store and the
// remotes (an HTTP cache, an OCI registry) all implement it, and everything above store/ talks
// to it. Objects are immutable and named by their digest: there is no update, and a put of bytes
// already stored keeps the stored copy.

/** What a store knows about one object without reading it. */
export interface ObjectInfo {
  readonly digest: Digest;
  /** Size in bytes. */
  readonly size: number;
  /** Stored with execute permission (mode 0555 rather than 0444 in a file store). */
  readonly executable: boolean;
  /** When the object was first stored, in ms since the epoch (a file store uses the file's mtime). */
  readonly added: number;
}

/** What every store can say of an object: a remote knows its size, not how it was stored. */
export type ObjectStat = Pick<ObjectInfo, 'digest' | 'size'> &
  Partial<Pick<ObjectInfo, 'executable' | 'added'>>;

/**
 * An object's bytes in order: a Node stream, a web stream or a generator all are. A chunk once
 * yielded belongs to the consumer (its producer does not write into it again): a store may keep it.
 */
export type ObjectStream = AsyncIterable<Uint8Array>;

/** Bytes to store: a buffer, a file read by path (never kept open or linked), or a stream. */
export type PutSource = Uint8Array | { readonly path: string } | ObjectStream;

export interface PutOptions {
  /** Store with execute permission (programs); libraries need not be executable. */
  readonly executable?: boolean;
  /**
   * Readable by the store's owner only (mode 0400, or 0500 executable): the bytes came from a file
   * others cannot read (docs/import.md). Storing the same bytes again without it widens the mode.
   */
  readonly ownerOnly?: boolean;
  /**
   * The digest the bytes must have; a mismatch stores nothing and throws INTEGRITY_MISMATCH.
   * Required with a stream: a remote names an upload before it sends it.
   */
  readonly expect?: Digest;
}

export interface ReadOptions {
  /** The size the caller was told: more bytes, or fewer, fail the read. */
  readonly size?: number;
  /**
   * The caller hashes the bytes itself before it keeps any (a put with `expect` does): a store
   * may then pass them on without hashing them too (a remote does; sizes and limits still hold).
   * A local store checks them all the same.
   */
  readonly checkedByCaller?: boolean;
  /**
   * The caller is done with each chunk before it asks for the next (it copies or writes it at
   * once, as a local store's put does): a remote may then hand out views of one reused buffer.
   */
  readonly transient?: boolean;
}

/** The `cas:` names of a store that has a name directory (names/ on disk). */
export interface StoreNames {
  /** Adds the name of a stored object (STORE_OBJECT_MISSING if it is not stored); idempotent. */
  add(name: string): string;
  /** The digest a name stands for, if the store has the name. */
  resolve(name: string): Digest | undefined;
  /** Every name, sorted. */
  list(): string[];
  remove(name: string): boolean;
}

/** The garbage-collection roots of a store that keeps them. */
export interface StoreRoots {
  add(spec: RootSpec, now?: number): Root;
  remove(id: string): boolean;
  /** Every root, sorted by id. */
  list(): Root[];
}

export interface Store {
  /** Where the store is: a directory or a URL, for messages. */
  readonly url: string;
  has(digest: Digest): Promise<boolean>;
  /** undefined when the object is not stored. */
  stat(digest: Digest): Promise<ObjectStat | undefined>;
  /**
   * The object's bytes, streamed and checked against its digest as they pass: bytes that do not
   * hash to it fail the stream before it ends (a caller that keeps bytes only once the stream has
   * ended keeps only verified bytes). Nothing is asked of the store until the stream is read; a
   * missing object fails it with STORE_OBJECT_MISSING (a remote: REMOTE_NOT_FOUND).
   */
  read(digest: Digest, options?: ReadOptions): ObjectStream;
  /**
   * Stores bytes and returns their digest, computed from the bytes actually stored. A stream
   * needs `expect`; an object already stored intact is kept and the stream is left unread.
   */
  put(source: ObjectStream, options: PutOptions & { readonly expect: Digest }): Promise<Digest>;
  put(source: Uint8Array | { readonly path: string }, options?: PutOptions): Promise<Digest>;
  /** Every stored object, in no particular order (STORE_UNSUPPORTED where a remote cannot list). */
  list(): AsyncIterable<Digest>;
  /** Removes an object; false if it was not stored (STORE_UNSUPPORTED where a remote cannot). */
  delete(digest: Digest): Promise<boolean>;
  /** Present where the backend has a name directory. */
  readonly names?: StoreNames;
  /** Present where the backend keeps roots. */
  readonly roots?: StoreRoots;
}

export function isObjectStream(source: PutSource): source is ObjectStream {
  return (
    !(source instanceof Uint8Array) && typeof (source as ObjectStream)[Symbol.asyncIterator] === 'function'
  );
}

/** The digest of a buffer or file to put (in the algorithm of `expect`, when given). */
export function digestOfSource(source: Uint8Array | { readonly path: string }, expect?: Digest): Digest {
  const algorithm = expect?.algorithm ?? DEFAULT_ALGORITHM;
  return source instanceof Uint8Array
    ? digestOfBuffer(source, algorithm)
    : digestAndSizeOfFile(source.path, algorithm).digest;
}

/** A whole object in memory (small objects: manifests, tests). */
export async function readAll(store: Store, digest: Digest, options?: ReadOptions): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of store.read(digest, options)) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** The error a store gives for what its backend cannot do. */
export function unsupported(url: string, what: string): StoreError {
  return new StoreError('STORE_UNSUPPORTED', `${url} cannot ${what}`, { data: { store: url } });
}

/** Copies one object from a store to another, streaming; verified on the way in (the put's `expect`). */
export async function copyObject(
  from: Store,
  to: Store,
  digest: Digest,
  options: Omit<PutOptions, 'expect'> & ReadOptions = {},
): Promise<void> {
  const { size, ...put } = options;
  await to.put(from.read(digest, { ...(size === undefined ? {} : { size }), checkedByCaller: true }), {
    ...put,
    expect: digest,
  });
}

/**
 * Passes a stream on while hashing it, failing it before it ends (INTEGRITY_MISMATCH) when it does
 * not hash to `expect`: what a store sending bytes elsewhere wraps them in.
 */
export async function* checkedStream(source: ObjectStream, expect: Digest, what: string): ObjectStream {
  const hasher = createHasher(expect.algorithm);
  for await (const chunk of source) {
    hasher.update(chunk);
    yield chunk;
  }
  const actual = hasher.digest();
  if (!actual.equals(expect)) {
    throw new StoreIntegrityError(
      'INTEGRITY_MISMATCH',
      `${what} hash to ${actual}, not the expected ${expect}`,
      {
        data: { expected: expect.toString(), actual: actual.toString() },
      },
    );
  }
}

/** The error for a stream put without its digest. */
export function noDigest(): StoreError {
  return new StoreError('STORE_PUT_NO_DIGEST', 'a stream is stored only with its expected digest', {
    hint: 'give the digest the bytes must have (expect)',
  });
}

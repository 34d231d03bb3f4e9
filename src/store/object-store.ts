import type { Digest } from './digest.js';

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

/** Bytes to store: a buffer, or a file read by path (never kept open or linked). */
export type PutSource = Uint8Array | { readonly path: string };

export interface PutOptions {
  /** Store with execute permission (programs); libraries need not be executable. */
  readonly executable?: boolean;
  /**
   * Readable by the store's owner only (mode 0400, or 0500 executable): the bytes came from a file
   * others cannot read (docs/import.md). Storing the same bytes again without it widens the mode.
   */
  readonly ownerOnly?: boolean;
  /** The digest the caller expects; a mismatch stores nothing and throws INTEGRITY_MISMATCH. */
  readonly expect?: Digest;
}

/**
 * The primitives every store offers, local or remote. A remote (HTTP cache, OCI registry) needs
 * only these; everything else (names, index, gc) is built on top. Objects are immutable: there
 * is no update, and `put` of bytes already stored keeps the stored copy.
 */
export interface ObjectStore {
  has(digest: Digest): Promise<boolean>;
  /** undefined when the object is not stored. */
  stat(digest: Digest): Promise<ObjectInfo | undefined>;
  /**
   * The object's bytes, checked against its digest (INTEGRITY_CORRUPT_OBJECT if they differ).
   * Throws StoreError STORE_OBJECT_MISSING if it is not stored.
   */
  read(digest: Digest): Promise<Buffer>;
  /** Stores bytes and returns their digest, computed from the bytes actually stored. */
  put(source: PutSource, options?: PutOptions): Promise<Digest>;
  /** Every stored object, in no particular order. */
  list(): AsyncIterable<Digest>;
  /** Removes an object; false if it was not stored. */
  delete(digest: Digest): Promise<boolean>;
}

/** A store whose objects are files the dynamic loader can open. */
export interface LocalObjectStore extends ObjectStore {
  /** Absolute path of the store directory. */
  readonly root: string;
  /** Absolute path of the object's file (whether or not it exists). */
  pathOf(digest: Digest): string;
}

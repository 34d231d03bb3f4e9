import { readFileSync } from 'node:fs';
import { ioErrorFrom, StoreError, StoreIntegrityError } from '../errors/index.js';
import { DEFAULT_ALGORITHM, type Digest, digestOfBuffer } from './digest.js';
import type { ObjectInfo, ObjectStore, PutOptions, PutSource } from './object-store.js';

interface Entry {
  readonly info: ObjectInfo;
  bytes: Buffer;
}

/**
 * An ObjectStore in memory, for tests and as the reference for the contract every store keeps
 * (test/store/contract.ts runs the same cases against this and FileStore). `now` is injectable
 * so tests can compare `added` times.
 */
export class MemoryStore implements ObjectStore {
  private readonly objects = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  async has(digest: Digest): Promise<boolean> {
    return this.objects.has(digest.toString());
  }

  async stat(digest: Digest): Promise<ObjectInfo | undefined> {
    return this.objects.get(digest.toString())?.info;
  }

  async read(digest: Digest): Promise<Buffer> {
    const entry = this.objects.get(digest.toString());
    if (entry === undefined) {
      throw new StoreError('STORE_OBJECT_MISSING', `object ${digest} is not in the memory store`, {
        data: { digest: digest.toString() },
      });
    }
    const actual = digestOfBuffer(entry.bytes, digest.algorithm);
    if (!actual.equals(digest)) {
      throw new StoreIntegrityError(
        'INTEGRITY_CORRUPT_OBJECT',
        `object ${digest} is corrupt: its content hashes to ${actual}`,
        {
          data: { digest: digest.toString(), actual: actual.toString() },
        },
      );
    }
    return Buffer.from(entry.bytes);
  }

  async put(source: PutSource, options: PutOptions = {}): Promise<Digest> {
    let bytes: Buffer;
    if (source instanceof Uint8Array) {
      bytes = Buffer.from(source); // a copy: the caller may reuse its buffer
    } else {
      try {
        bytes = readFileSync(source.path);
      } catch (e) {
        throw ioErrorFrom(e, 'read', source.path);
      }
    }
    const digest = digestOfBuffer(bytes, options.expect?.algorithm ?? DEFAULT_ALGORITHM);
    if (options.expect !== undefined && !options.expect.equals(digest)) {
      throw new StoreIntegrityError(
        'INTEGRITY_MISMATCH',
        `the bytes hash to ${digest}, not the expected ${options.expect}`,
        { data: { expected: options.expect.toString(), actual: digest.toString() } },
      );
    }
    const key = digest.toString();
    const existing = this.objects.get(key);
    const executable = options.executable === true || existing?.info.executable === true;
    if (existing !== undefined && digestOfBuffer(existing.bytes, digest.algorithm).equals(digest)) {
      if (executable !== existing.info.executable) {
        this.objects.set(key, { info: { ...existing.info, executable }, bytes: existing.bytes });
      }
      return digest;
    }
    this.objects.set(key, {
      info: { digest, size: bytes.length, executable, added: existing?.info.added ?? this.now() },
      bytes,
    });
    return digest;
  }

  async *list(): AsyncIterable<Digest> {
    for (const entry of [...this.objects.values()]) yield entry.info.digest;
  }

  async delete(digest: Digest): Promise<boolean> {
    return this.objects.delete(digest.toString());
  }

  /** Test hook: overwrite an object's bytes in place, as disk corruption would. */
  corruptForTest(digest: Digest, bytes: Uint8Array): void {
    const entry = this.objects.get(digest.toString());
    if (entry !== undefined) entry.bytes = Buffer.from(bytes);
  }
}

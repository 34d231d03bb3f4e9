import { readFileSync } from 'node:fs';
import { ioErrorFrom, StoreError, StoreIntegrityError } from '../errors/index.js';
import { DEFAULT_ALGORITHM, type Digest, digestOfBuffer } from './digest.js';
import {
  isObjectStream,
  noDigest,
  type ObjectInfo,
  type ObjectStream,
  type PutOptions,
  type PutSource,
  type Store,
} from './store.js';

interface Entry {
  readonly info: ObjectInfo;
  bytes: Buffer;
}

/**
 * A Store in memory, for tests and as the reference for the contract every store keeps
 * (test/store/contract.ts runs the same cases against this, FileStore, LocalStore and the remotes).
 * `now` is injectable so tests can compare `added` times.
 */
export class MemoryStore implements Store {
  readonly url = 'memory:';
  private readonly objects = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  async has(digest: Digest): Promise<boolean> {
    return this.objects.has(digest.toString());
  }

  async stat(digest: Digest): Promise<ObjectInfo | undefined> {
    return this.objects.get(digest.toString())?.info;
  }

  async *read(digest: Digest): ObjectStream {
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
    yield Buffer.from(entry.bytes);
  }

  async put(source: PutSource, options: PutOptions = {}): Promise<Digest> {
    let bytes: Buffer;
    if (isObjectStream(source)) {
      if (options.expect === undefined) {
        throw noDigest();
      }
      if (options.expect !== undefined && (await this.intact(options.expect))) {
        return this.keep(options.expect, options);
      }
      const parts: Buffer[] = [];
      for await (const chunk of source) parts.push(Buffer.from(chunk));
      bytes = Buffer.concat(parts);
    } else if (source instanceof Uint8Array) {
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
        {
          data: { expected: options.expect.toString(), actual: digest.toString() },
        },
      );
    }
    if (await this.intact(digest)) return this.keep(digest, options);
    const existing = this.objects.get(digest.toString());
    this.objects.set(digest.toString(), {
      info: {
        digest,
        size: bytes.length,
        executable: options.executable === true,
        added: existing?.info.added ?? this.now(),
      },
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

  private async intact(digest: Digest): Promise<boolean> {
    const entry = this.objects.get(digest.toString());
    return entry !== undefined && digestOfBuffer(entry.bytes, digest.algorithm).equals(digest);
  }

  /** An intact object is kept; a put asking for executable widens it. */
  private keep(digest: Digest, options: PutOptions): Digest {
    const key = digest.toString();
    const existing = this.objects.get(key)!;
    if (options.executable === true && !existing.info.executable) {
      this.objects.set(key, { info: { ...existing.info, executable: true }, bytes: existing.bytes });
    }
    return digest;
  }
}

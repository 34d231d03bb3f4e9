import { UsageError } from '../errors/index.js';
import type { Digest } from '../store/digest.js';
import { HttpCache } from './http-cache.js';
import { openRegistry } from './oci/registry.js';

/**
 * What push and pull need of a remote, whatever it is: objects by digest and manifests by tag.
 * An OCI registry and an HTTP cache (docs/distribution.md) both give these few primitives; every
 * check (digests, sizes, signatures, names) is made above them, once.
 */
export interface ClosureRemote {
  /** `oci://host/repo` or `https://host/path`: for messages. */
  readonly name: string;
  /** The object's size when the remote has it. */
  objectSize(digest: Digest): Promise<number | undefined>;
  /** Uploads a file as the object `digest`. */
  putObject(digest: Digest, path: string): Promise<void>;
  putObjectBytes(digest: Digest, bytes: Uint8Array): Promise<void>;
  /** Streams the object into `fd`, failing unless exactly `size` bytes hashing to `digest` arrive. */
  readObjectInto(digest: Digest, size: number, fd: number): Promise<void>;
  /**
   * One request instead of objectSize and readObjectInto (lazy fetch, where each round trip is
   * waited for by a starting program): streams the object into `fd`, its size from the answer
   * (at most `maxSize`), checked against `digest`. The size written; undefined when absent.
   */
  readObjectAnySize?(digest: Digest, fd: number, maxSize: number): Promise<number | undefined>;
  putManifest(tag: string, bytes: Buffer): Promise<void>;
  /** The manifest a tag names, with its digest; undefined when there is none. */
  getManifest(tag: string): Promise<{ bytes: Buffer; digest: Digest } | undefined>;
}

/** The remote a string names: `oci://…` a registry, `http(s)://…` a cache. */
export function openRemote(remote: string, env: Readonly<Record<string, string | undefined>>): ClosureRemote {
  if (remote.startsWith('http://') || remote.startsWith('https://')) return new HttpCache(remote, env);
  if (remote.startsWith('oci://')) return openRegistry(remote, env);
  throw new UsageError(`${remote}: a remote is oci://HOST/REPOSITORY or http(s)://HOST/PATH`);
}

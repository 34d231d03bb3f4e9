import { createReadStream } from 'node:fs';
import { RemoteError, StoreIntegrityError, UsageError } from '../errors/index.js';
import type { Digest } from '../store/digest.js';
import {
  checkedStream,
  digestOfSource,
  isObjectStream,
  noDigest,
  type PutSource,
  type Store,
  unsupported,
} from '../store/store.js';
import { parseStoreUrl } from '../store/url.js';
import { HttpCache } from './http-cache.js';
import { openRegistry } from './oci/registry.js';

/**
 * A remote is a Store (objects by digest: has, stat, read, put; it cannot list or delete) plus
 * what push and pull need besides: manifests by tag. An OCI registry and an HTTP cache
 * (docs/distribution.md) both give these few primitives; every check (digests, sizes,
 * signatures, names) is made above them, once.
 */
export interface ClosureRemote extends Store {
  /** `oci://host/repo` or `https://host/path`: for messages (the same as `url`). */
  readonly name: string;
  putManifest(tag: string, bytes: Buffer): Promise<void>;
  /** The manifest a tag names, with its digest; undefined when there is none. */
  getManifest(tag: string): Promise<{ bytes: Buffer; digest: Digest } | undefined>;
}

/** The remote a string names: `oci://…` a registry, `http(s)://…` a cache (parsed by store/url.ts). */
export function openRemote(remote: string, env: Readonly<Record<string, string | undefined>>): ClosureRemote {
  const url = /^(https?|oci):\/\//.test(remote) ? parseStoreUrl(remote, undefined, remote) : undefined;
  if (url?.kind === 'http') return new HttpCache(remote, env);
  if (url?.kind === 'oci') return openRegistry(remote, env);
  throw new UsageError(`${remote}: a remote is oci://HOST/REPOSITORY or http(s)://HOST/PATH`, {
    hint: 'a local store is chosen with --store or CALD_STORE',
  });
}

/**
 * Sends a put to a remote: `upload` gets the digest to name the upload by and the body (made
 * again for a retry; a stream can be sent once). Buffers and files are hashed here, streams as
 * they are sent: bytes that are not what the digest says fail the upload before its last byte
 * (INTEGRITY_MISMATCH), so a server that stores whatever a PUT sends never gets a whole wrong
 * body. When the source itself fails (a local object found corrupt, a broken stream), that is the
 * error, not the connection's.
 */
export async function putVia(
  source: PutSource,
  expect: Digest | undefined,
  remote: string,
  upload: (digest: Digest, body: () => Uint8Array | AsyncIterable<Uint8Array>) => Promise<void>,
): Promise<Digest> {
  let failure: unknown;
  const watched = async function* (chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    try {
      yield* chunks;
    } catch (e) {
      failure = e;
      throw e;
    }
  };
  let digest: Digest;
  let body: () => Uint8Array | AsyncIterable<Uint8Array>;
  if (isObjectStream(source)) {
    if (expect === undefined) throw noDigest();
    const wanted = expect;
    let sent = false;
    digest = wanted;
    body = () => {
      if (sent) {
        throw new RemoteError(
          'REMOTE_AUTH',
          `${remote} asked for credentials again in the middle of an upload`,
          {
            hint: 'try again',
            data: { remote },
          },
        );
      }
      sent = true;
      return watched(checkedStream(source, wanted, 'the bytes sent'));
    };
  } else {
    digest = digestOfSource(source, expect);
    if (expect !== undefined && !expect.equals(digest)) {
      throw new StoreIntegrityError(
        'INTEGRITY_MISMATCH',
        `the bytes hash to ${digest}, not the expected ${expect}`,
        {
          data: { expected: expect.toString(), actual: digest.toString() },
        },
      );
    }
    const named = digest;
    if (source instanceof Uint8Array) body = () => source;
    else {
      const path = source.path;
      body = () => watched(checkedStream(createReadStream(path), named, path));
    }
  }
  try {
    await upload(digest, body);
  } catch (e) {
    throw failure ?? e;
  }
  return digest;
}

/** What a remote cannot do as a Store. */
export function cannotList(remote: string): never {
  throw unsupported(remote, 'list its objects (an HTTP cache and a registry have no listing of blobs)');
}

export function cannotDelete(remote: string): never {
  throw unsupported(remote, 'delete objects (remove them on the server)');
}

/**
 * A put of a remote's `read(…, { checkedByCaller: true })` that failed because the bytes do not
 * hash to the digest asked for: the remote's fault, said as a remote error (as the remote's own
 * check would have said it); any other error is returned as it is.
 */
export function asArrivalError(remote: ClosureRemote, digest: Digest, e: unknown): unknown {
  if (!(e instanceof StoreIntegrityError) || e.code !== 'INTEGRITY_MISMATCH') return e;
  const actual = String(e.data.actual ?? 'other bytes');
  const what = remote.name.startsWith('oci://') ? 'blob' : 'object';
  return new RemoteError('REMOTE_DIGEST_MISMATCH', `${remote.name}: ${what} ${digest} arrived as ${actual}`, {
    hint: 'the remote sent other bytes than asked for; nothing was stored',
    data: { remote: remote.name, digest: digest.toString(), actual },
  });
}

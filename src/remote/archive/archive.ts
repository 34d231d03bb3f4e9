import { RemoteError } from '../../errors/index.js';
import { createHasher, Digest, digestOfBuffer } from '../../store/digest.js';
import { type Closure, type ClosureObject, decodeClosureManifest } from '../closure-manifest.js';
import { decodeSignatures, type Signature } from '../signing.js';
import { readTar, TAR_END, tarHeader, tarPadding } from './tar.js';
import { compressFrames, decompressFrames } from './zstd.js';

// A cald archive (docs/distribution.md, "Archives"): closures for a machine with no network,
// as a zstd-compressed tar any `tar --zstd` lists and extracts. Entries, in this order:
//   closures/sha256-<hex>.json      a closure manifest, exactly the bytes a push would tag
//   closures/sha256-<hex>.sig.json  its signatures, as the `.sig` tag of a remote holds them
//   objects/sha256/<hex>            every object of those closures, once
// Manifests come first so a reader checks signatures and knows every name and size before the
// first byte of an object arrives; each object is then hashed as it streams.

const MAX_MANIFEST = 16 * 1024 * 1024;
const MAX_CLOSURES = 10_000;
const CLOSURE_NAME = /^closures\/sha256-([0-9a-f]{64})(\.sig)?\.json$/;
const OBJECT_NAME = /^objects\/sha256\/([0-9a-f]{64})$/;

export interface ArchivedClosure {
  readonly manifest: Digest;
  readonly bytes: Buffer;
  readonly closure: Closure;
  readonly signatures: readonly Signature[];
}

export interface ArchiveInput {
  readonly closures: ReadonlyArray<{ manifest: Buffer; signatures?: Buffer }>;
  /** Every object of those closures, once; `read` streams its bytes. */
  readonly objects: ReadonlyArray<ClosureObject & { read: () => AsyncIterable<Buffer> }>;
}

function bad(source: string, why: string, hint?: string): RemoteError {
  return new RemoteError('REMOTE_BAD_ARCHIVE', `${source}: ${why}`, {
    hint: hint ?? 'the archive is damaged, or not made by cald export',
    data: { remote: source },
  });
}

async function* tarOf(input: ArchiveInput): AsyncGenerator<Buffer> {
  const file = function* (name: string, bytes: Buffer) {
    yield tarHeader({ name, size: bytes.length, executable: false });
    yield bytes;
    yield tarPadding(bytes.length);
  };
  for (const c of input.closures) {
    const hex = digestOfBuffer(c.manifest).hex;
    yield* file(`closures/sha256-${hex}.json`, c.manifest);
    if (c.signatures !== undefined) yield* file(`closures/sha256-${hex}.sig.json`, c.signatures);
  }
  for (const o of input.objects) {
    yield tarHeader({ name: `objects/sha256/${o.digest.hex}`, size: o.size, executable: o.executable });
    const hasher = createHasher(o.digest.algorithm);
    let size = 0;
    for await (const chunk of o.read()) {
      hasher.update(chunk);
      size += chunk.length;
      if (size > o.size) break;
      yield chunk;
    }
    // Never a corrupt archive: an object that changed on disk stops the export.
    const actual = hasher.digest();
    if (size !== o.size || !actual.equals(o.digest)) {
      throw new RemoteError(
        'REMOTE_SOURCE_CORRUPT',
        `${o.digest} in the store is ${size} bytes hashing to ${actual}: not what its name says`,
        { hint: 'run cald verify --repair, then export again', data: { digest: o.digest.toString() } },
      );
    }
    yield tarPadding(o.size);
  }
  yield TAR_END;
}

/** The archive's bytes: deterministic for the same closures, compressed frame by frame. */
export function writeArchive(input: ArchiveInput, level = 3): AsyncGenerator<Buffer> {
  return compressFrames(tarOf(input), level);
}

export interface ArchiveSink {
  /** Once, with every closure, before any object byte: check trust here, or throw. */
  closures(list: readonly ArchivedClosure[]): void | Promise<void>;
  /** Each object as it comes: `body` must be read to its end (hashed by the sink). */
  object(o: ClosureObject, body: AsyncIterable<Buffer>): Promise<void>;
}

/**
 * Reads an archive, checking its shape entry by entry: only the three kinds of entry, manifests
 * that are cald closures and hash to their names, objects that some closure lists, at the size it
 * lists, each at most once. Objects' bytes are the sink's to verify as they stream.
 */
export async function readArchive(
  input: AsyncIterable<Buffer>,
  source: string,
  sink: ArchiveSink,
): Promise<{ closures: number; objects: number }> {
  const manifests = new Map<string, { bytes: Buffer; sigs?: Buffer }>();
  let expected: Map<string, ClosureObject> | undefined;
  const seen = new Set<string>();
  const readAll = async (body: AsyncIterable<Buffer>, size: number, name: string) => {
    if (size > MAX_MANIFEST) throw bad(source, `${name} is ${size} bytes: too large for a manifest`);
    const parts: Buffer[] = [];
    for await (const b of body) parts.push(b);
    return Buffer.concat(parts);
  };
  for await (const entry of readTar(decompressFrames(input, source), source)) {
    const closure = CLOSURE_NAME.exec(entry.name);
    if (closure !== null) {
      if (expected !== undefined) throw bad(source, `${entry.name} comes after the objects`);
      const bytes = await readAll(entry.body, entry.size, entry.name);
      const hex = closure[1]!;
      const slot = manifests.get(hex) ?? { bytes: Buffer.alloc(0) };
      if (closure[2] !== undefined) slot.sigs = bytes;
      else {
        if (digestOfBuffer(bytes).hex !== hex) throw bad(source, `${entry.name} does not hash to its name`);
        slot.bytes = bytes;
      }
      manifests.set(hex, slot);
      if (manifests.size > MAX_CLOSURES) throw bad(source, `more than ${MAX_CLOSURES} closures`);
      continue;
    }
    const object = OBJECT_NAME.exec(entry.name);
    if (object === null) throw bad(source, `an entry named ${JSON.stringify(entry.name.slice(0, 120))}`);
    if (expected === undefined) expected = await announce(manifests, source, sink);
    const o = expected.get(object[1]!);
    if (o === undefined) throw bad(source, `${entry.name} is in no closure of the archive`);
    if (seen.has(object[1]!)) throw bad(source, `${entry.name} appears twice`);
    if (entry.size !== o.size)
      throw bad(source, `${entry.name} is ${entry.size} bytes; its closure says ${o.size}`);
    seen.add(object[1]!);
    await sink.object(o, entry.body);
  }
  if (expected === undefined) expected = await announce(manifests, source, sink);
  return { closures: manifests.size, objects: seen.size };
}

async function announce(
  manifests: Map<string, { bytes: Buffer; sigs?: Buffer }>,
  source: string,
  sink: ArchiveSink,
): Promise<Map<string, ClosureObject>> {
  const list: ArchivedClosure[] = [];
  for (const [hex, m] of manifests) {
    if (m.bytes.length === 0)
      throw bad(source, `closures/sha256-${hex}.sig.json signs a manifest the archive lacks`);
    list.push({
      manifest: Digest.parse(`sha256:${hex}`),
      bytes: m.bytes,
      closure: decodeClosureManifest(m.bytes, `${source}:closures/sha256-${hex}.json`),
      signatures: decodeSignatures(m.sigs),
    });
  }
  if (list.length === 0) throw bad(source, 'it holds no closure manifest before its objects');
  await sink.closures(list);
  const expected = new Map<string, ClosureObject>();
  for (const c of list) for (const o of c.closure.objects) expected.set(o.digest.hex, o);
  return expected;
}

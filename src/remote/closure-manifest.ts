import { RemoteError } from '../errors/index.js';
import { formatCasName, tryParseCasName } from '../store/cas-name.js';
import { Digest, digestOfBuffer } from '../store/digest.js';

// A program's closure as an OCI artifact (docs/distribution.md): an image manifest whose
// artifactType says it is cald's, whose config is the spec's empty descriptor, and whose layers
// are the closure's objects, each a blob whose digest is exactly the object's hash. The first
// layer is the program. Deterministic: the same closure gives the same manifest bytes.

export const ARTIFACT_TYPE = 'application/vnd.cald.closure.v1';
export const OBJECT_MEDIA_TYPE = 'application/vnd.cald.object.v1';
export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const EMPTY_CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
} as const;
export const EMPTY_CONFIG_BYTES = Buffer.from('{}');

const NAME_KEY = 'dev.cald.name';
const EXEC_KEY = 'dev.cald.executable';
const PROGRAM_KEY = 'dev.cald.program';
/** More layers than any real closure (ffmpeg has about 215): a bound for hostile manifests. */
const MAX_OBJECTS = 100_000;
/** Larger than any shared library people ship (4 GiB). */
export const MAX_OBJECT_SIZE = 4 * 1024 ** 3;

export interface ClosureObject {
  readonly digest: Digest;
  readonly size: number;
  /** The `?name=` hint: the file name it was imported from. */
  readonly name?: string;
  readonly executable: boolean;
}

export interface Closure {
  /** The program's `cas:` name. */
  readonly program: string;
  /** The program first, then its closure. */
  readonly objects: readonly ClosureObject[];
}

export function encodeClosureManifest(c: Closure): Buffer {
  const manifest = {
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    artifactType: ARTIFACT_TYPE,
    config: EMPTY_CONFIG,
    layers: c.objects.map((o) => ({
      mediaType: OBJECT_MEDIA_TYPE,
      digest: o.digest.toString(),
      size: o.size,
      annotations: {
        ...(o.name === undefined ? {} : { [NAME_KEY]: o.name }),
        ...(o.executable ? { [EXEC_KEY]: 'true' } : {}),
      },
    })),
    annotations: { [PROGRAM_KEY]: c.program },
  };
  return Buffer.from(JSON.stringify(manifest));
}

function bad(source: string, why: string): RemoteError {
  return new RemoteError('REMOTE_BAD_MANIFEST', `${source}: not a cald closure manifest: ${why}`, {
    data: { remote: source },
  });
}

/**
 * Reads a closure manifest, refusing anything that is not exactly what cald writes: another
 * artifact type, a layer that is not an object, a digest or name that does not parse, sizes out
 * of bounds. Names from a remote go through the same parsers as local ones.
 */
export function decodeClosureManifest(bytes: Buffer, source: string): Closure {
  let m: {
    artifactType?: unknown;
    layers?: unknown;
    annotations?: Record<string, unknown>;
  };
  try {
    m = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bad(source, 'not JSON');
  }
  if (m === null || typeof m !== 'object') throw bad(source, 'not an object');
  if (m.artifactType !== ARTIFACT_TYPE)
    throw bad(source, `artifactType is ${JSON.stringify(m.artifactType)}`);
  if (!Array.isArray(m.layers) || m.layers.length === 0 || m.layers.length > MAX_OBJECTS) {
    throw bad(source, 'no layers, or too many');
  }
  const objects: ClosureObject[] = m.layers.map((layer: unknown, i: number) => {
    const l = layer as {
      mediaType?: unknown;
      digest?: unknown;
      size?: unknown;
      annotations?: Record<string, unknown>;
    };
    if (l === null || typeof l !== 'object' || l.mediaType !== OBJECT_MEDIA_TYPE)
      throw bad(source, `layer ${i} is not an object`);
    const digest = typeof l.digest === 'string' ? Digest.tryParse(l.digest) : undefined;
    if (digest === undefined) throw bad(source, `layer ${i} has no valid digest`);
    if (
      typeof l.size !== 'number' ||
      !Number.isSafeInteger(l.size) ||
      l.size < 0 ||
      l.size > MAX_OBJECT_SIZE
    ) {
      throw bad(source, `layer ${i} has a size out of bounds`);
    }
    const name = l.annotations?.[NAME_KEY];
    if (name !== undefined) {
      if (typeof name !== 'string') throw bad(source, `layer ${i} has a bad name`);
      try {
        // The whole name, as the store will record it: a hint that parses but makes the name
        // longer than a name may be failed the pull only after every object was fetched.
        formatCasName(digest, name);
      } catch (e) {
        throw bad(source, `layer ${i}: ${(e as Error).message}`);
      }
    }
    return {
      digest,
      size: l.size,
      ...(typeof name === 'string' ? { name } : {}),
      executable: l.annotations?.[EXEC_KEY] === 'true',
    };
  });
  // Each object once: a repeated one would be fetched again by each of the pull's parallel downloads.
  const seen = new Map<string, number>();
  for (const [i, o] of objects.entries()) {
    const first = seen.get(o.digest.hex);
    if (first !== undefined) throw bad(source, `layer ${i} repeats layer ${first}`);
    seen.set(o.digest.hex, i);
  }
  // Parsed as a local name is (it is signed, shown and recorded): not just any text after the digest.
  const program = m.annotations?.[PROGRAM_KEY];
  const cas = typeof program === 'string' ? tryParseCasName(program) : undefined;
  if (typeof program !== 'string' || cas === undefined || !cas.digest.equals(objects[0]!.digest)) {
    throw bad(source, 'the program annotation does not name the first layer');
  }
  return { program, objects };
}

/** The manifest's own digest, as a registry names it. */
export function manifestDigest(bytes: Buffer): Digest {
  return digestOfBuffer(bytes);
}

import { NotFoundError } from '../errors/index.js';
import { Digest } from '../store/digest.js';
import type { FileStore } from '../store/file-store.js';
import { MIN_PREFIX, parseObjectRef, resolveObjectRef } from '../store/object-ref.js';
import { listPrograms, programNameOf } from '../store/program-names.js';
import type { Root } from '../store/roots.js';

/** What `PROGRAM|URI` named, and how. */
export interface RunTarget {
  /** The file to run: a store object, or the path given. */
  readonly path: string;
  /** The object's digest; undefined for a path outside the store. */
  readonly digest: Digest | undefined;
  /** argv[0] by default: the imported program's name, else the hint, else the argument as given. */
  readonly argv0: string;
  readonly via: 'path' | 'uri' | 'digest' | 'prefix' | 'root' | 'name';
  /** The root that named it, when found by name or root id. */
  readonly root: Root | undefined;
}

export { MIN_PREFIX, programNameOf };

/** The name an object was imported under, from the store's roots. */
export function nameForDigest(store: FileStore, digest: Digest): string | undefined {
  return listPrograms(store.listRoots()).find((p) => p.digest.equals(digest))?.name;
}

/**
 * Resolves `PROGRAM|URI` (docs/running.md, "Naming the program") with the one parser every command
 * uses (store/object-ref.ts). A path containing `/` is run as it is; everything else is a store
 * object, so `store` is needed for everything but a path.
 */
export function resolveTarget(spec: string, store: FileStore | undefined): RunTarget {
  const ref = parseObjectRef(spec);
  if (ref.form === 'path') {
    return { path: spec, digest: undefined, argv0: spec, via: 'path', root: undefined };
  }
  if (store === undefined) {
    throw new NotFoundError('NOT_FOUND_PROGRAM', `no store to look up ${spec} in`, {
      hint: 'create one with cald import, or set CALD_STORE',
      data: { program: spec },
    });
  }
  const match = resolveObjectRef(store, ref);
  const argv0 = match.name ?? (ref.form === 'uri' ? ref.hint : undefined) ?? spec;
  return {
    path: store.pathOf(match.digest),
    digest: match.digest,
    argv0,
    via: match.via === 'path' ? 'root' : match.via,
    root: match.roots[0],
  };
}

import { NotFoundError } from '../errors/index.js';
import type { Digest } from '../store/digest.js';
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
  /** The name it was invoked by: the program name given, the URI's hint, else the imported program's name, else the argument as given. */
  readonly argv0: string;
  readonly via: 'path' | 'uri' | 'digest' | 'prefix' | 'root' | 'name';
  /** The root that named it, when found by name or root id. */
  readonly root: Root | undefined;
  /** The program name it is known by (a name given or recorded, else the URI's hint); undefined if none. */
  readonly name: string | undefined;
}

export interface ResolveTargetOptions {
  /**
   * A path names a store object (the object's own path, or the path a program was imported
   * from) instead of a file to run as it is: for commands that need a store object (install).
   */
  readonly pathsInStore?: boolean;
  readonly cwd?: string;
}

export { MIN_PREFIX, programNameOf };

/** The name an object was imported under, from the store's roots. */
export function nameForDigest(store: FileStore, digest: Digest): string | undefined {
  return listPrograms(store.roots.list()).find((p) => p.digest.equals(digest))?.name;
}

/**
 * Resolves `PROGRAM|URI` (docs/running.md, "Naming the program") with the one parser every command
 * uses (store/object-ref.ts). A path containing `/` is run as it is; everything else is a store
 * object, so `store` is needed for everything but a path.
 */
export function resolveTarget(
  spec: string,
  store: FileStore | undefined,
  options: ResolveTargetOptions = {},
): RunTarget {
  const ref = parseObjectRef(spec);
  if (ref.form === 'path' && options.pathsInStore !== true) {
    return { path: spec, digest: undefined, argv0: spec, via: 'path', root: undefined, name: undefined };
  }
  if (store === undefined) {
    throw new NotFoundError('NOT_FOUND_PROGRAM', `no store to look up ${spec} in`, {
      hint: 'create one with cald import, or set CALD_STORE',
      data: { program: spec },
    });
  }
  const match = resolveObjectRef(store, ref, options.cwd === undefined ? {} : { cwd: options.cwd });
  // The name it was invoked by: a URI's hint picks a multi-call program's command.
  const name = (ref.form === 'uri' ? ref.hint : undefined) ?? match.name;
  return {
    path: store.pathOf(match.digest),
    digest: match.digest,
    argv0: name ?? spec,
    via: match.via === 'path' ? 'root' : match.via,
    root: match.roots[0],
    name,
  };
}

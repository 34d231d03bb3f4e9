import { basename } from 'node:path';
import { CaldError } from '../errors/index.js';
import { CAS_PREFIX, parseCasName } from '../store/cas-name.js';
import { Digest } from '../store/digest.js';
import type { FileStore } from '../store/file-store.js';
import type { Root } from '../store/roots.js';

/** What `PROGRAM|URI` named, and how. */
export interface RunTarget {
  /** The file to run: a store object, or the path given. */
  readonly path: string;
  /** The object's digest; undefined for a path outside the store. */
  readonly digest: Digest | undefined;
  /** The name it was invoked by: the program name given, the URI's hint, else the imported program's name, else the argument as given. */
  readonly argv0: string;
  readonly via: 'path' | 'uri' | 'digest' | 'prefix' | 'root';
  /** The root that named it, when found by name. */
  readonly root: Root | undefined;
}

/** Hex prefixes shorter than this are refused (too easy to match by accident). */
export const MIN_PREFIX = 6;

/**
 * The program name a root records (docs/running.md, "Naming the program"). Only `object` roots
 * name programs. `cald import` writes the original path as the note (`/usr/bin/ffmpeg`): the
 * name is its last component. Also understood: a JSON object note with a string `name`, and a
 * root id that is not a generated default (`object-<16 hex>`).
 */
export function programNameOf(root: Root): string | undefined {
  if (root.kind !== 'object') return undefined;
  const note = root.note;
  if (note?.startsWith('/') === true && !note.endsWith('/')) return basename(note);
  if (note?.startsWith('{') === true) {
    try {
      const v = JSON.parse(note) as unknown;
      if (typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string') {
        return (v as { name: string }).name;
      }
    } catch {
      // not JSON: fall back to the id
    }
  }
  return /^object-[0-9a-f]{16}$/.test(root.id) ? undefined : root.id;
}

/** The name an object was imported under, from the store's roots. */
export function nameForDigest(store: FileStore, digest: Digest): string | undefined {
  for (const root of store.listRoots()) {
    if (root.target === digest.toString()) {
      const name = programNameOf(root);
      if (name !== undefined) return name;
    }
  }
  return undefined;
}

function notFound(spec: string, message: string, hint: string): CaldError {
  return new CaldError('RUN_NOT_FOUND', message, { hint, data: { program: spec } });
}

/**
 * Resolves `PROGRAM|URI` (docs/running.md, "Naming the program"), first match wins:
 * 1. contains `/`: a file path, run as it is (not a store object);
 * 2. `cas:sha256:<hex>[?name=<hint>]`: that object;
 * 3. `sha256:<hex>`: that object;
 * 4. the name of an imported program recorded in a root;
 * 5. 6 to 63 lowercase hex digits: the one stored object whose hex starts with them.
 * `store` is needed for everything but a path.
 */
export function resolveTarget(spec: string, store: FileStore | undefined): RunTarget {
  if (spec === '') throw notFound(spec, 'empty program name', 'give a program name, a cas: URI or a path');
  // A content name is parsed strictly before anything else: 'cas:sha256:../x' is a bad name, not a path.
  if (spec.startsWith('cas:')) parseCasName(spec);
  if (spec.includes('/')) {
    return { path: spec, digest: undefined, argv0: spec, via: 'path', root: undefined };
  }
  const needStore = (): FileStore => {
    if (store === undefined) {
      throw notFound(
        spec,
        `no store to look up ${spec} in`,
        'create one with cald import, or set CALD_STORE',
      );
    }
    return store;
  };
  const object = (
    digest: Digest,
    via: RunTarget['via'],
    argv0: string | undefined,
    root?: Root,
  ): RunTarget => {
    const s = needStore();
    const path = s.pathOf(digest);
    if (s.statSync(digest) === undefined) {
      throw new CaldError('RUN_NOT_FOUND', `${digest} is not in the store ${s.root}`, {
        hint: 'import the program (cald import), or set CALD_STORE to the store that has it',
        data: { program: spec, digest: digest.toString(), path },
      });
    }
    const name = argv0 ?? nameForDigest(s, digest) ?? spec;
    return { path, digest, argv0: name, via, root };
  };
  if (spec.startsWith(CAS_PREFIX)) {
    const cas = parseCasName(spec);
    const s = needStore();
    // The name it was invoked by: a multi-call program's URI hint picks its command.
    return object(cas.digest, 'uri', cas.hint ?? nameForDigest(s, cas.digest));
  }
  const digest = Digest.tryParse(spec);
  if (digest !== undefined) return object(digest, 'digest', undefined);
  if (spec.includes(':')) Digest.parse(spec); // throws the digest's own error for sha256:<bad>
  const s = needStore();
  const named = s
    .listRoots()
    .filter((r) => programNameOf(r) === spec)
    .map((r) => ({ root: r, digest: Digest.tryParse(r.target) }));
  const targets = new Set(named.map((n) => n.digest?.toString()));
  if (targets.size > 1) {
    throw new CaldError('RUN_AMBIGUOUS', `${spec} names ${targets.size} imported programs`, {
      hint: `give one of: ${[...targets].join(' ')}`,
      data: { program: spec, candidates: [...targets] },
    });
  }
  const first = named[0];
  if (first?.digest !== undefined) return object(first.digest, 'root', spec, first.root);
  if (/^[0-9a-f]+$/.test(spec) && spec.length >= MIN_PREFIX && spec.length < 64) {
    const matches = s.listSync().filter((d) => d.hex.startsWith(spec));
    if (matches.length > 1) {
      throw new CaldError('RUN_AMBIGUOUS', `${spec} is the start of ${matches.length} stored objects`, {
        hint: `give more digits: ${matches
          .slice(0, 5)
          .map((d) => d.hex.slice(0, 16))
          .join(' ')}${matches.length > 5 ? ' …' : ''}`,
        data: { program: spec, candidates: matches.map(String) },
      });
    }
    const only = matches[0];
    if (only !== undefined) return object(only, 'prefix', undefined);
  }
  throw notFound(
    spec,
    `${spec} is not an imported program, a cas: URI, a digest or a hex prefix of an object in ${s.root}`,
    `import it first (cald import), or give a path containing '/' (e.g. ./${basename(spec)})`,
  );
}

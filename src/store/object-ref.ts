import { readFileSync, realpathSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { BadNameError, NotFoundError, UsageError } from '../errors/index.js';
import { didYouMean } from '../util/did-you-mean.js';
import { CAS_PREFIX, parseCasName } from './cas-name.js';
import { Digest } from './digest.js';
import type { FileStore } from './file-store.js';
import { listPrograms, type ProgramEntry, programNameOf, programRootId } from './program-names.js';
import { resolveRoot } from './root-targets.js';
import { type Root, rootFromJson } from './roots.js';

/**
 * The one way every command names an object (docs/cli.md, "Naming an object"): each form any
 * command prints is accepted back. `parseObjectRef` decides the form from the text alone;
 * `resolveObjectRef` finds the object in a store.
 */
export type ObjectRef =
  /** `cas:sha256:<hex>[?name=<hint>]`, also the whole line `cald import` prints (URI, spaces, path). */
  | {
      readonly form: 'uri';
      readonly text: string;
      readonly digest: Digest;
      readonly hint: string | undefined;
    }
  /** `sha256:<hex>`, or 64 hex digits alone. */
  | { readonly form: 'digest'; readonly text: string; readonly digest: Digest }
  /** Contains `/`: a file (a store object's path, or the path a program was imported from). */
  | { readonly form: 'path'; readonly text: string }
  /** Anything else: a program name, a root id, or a hex prefix of a stored object, in that order. */
  | { readonly form: 'word'; readonly text: string };

/** Hex prefixes shorter than this are refused (too easy to match by accident). */
export const MIN_PREFIX = 6;

const HEX64 = /^[0-9a-f]{64}$/;

/** Parses what a user typed; throws BadNameError (exit 2) for a malformed cas: name or digest. */
export function parseObjectRef(input: string): ObjectRef {
  const text = input.trim();
  if (text === '') {
    throw new BadNameError('NAME_EMPTY', 'empty program or object name', {
      hint: 'give a program name, cas:sha256:<hex>, sha256:<hex>, a hex prefix, a root id or a path',
    });
  }
  if (text.startsWith(CAS_PREFIX)) {
    // The line `cald import` prints is `<uri>  <path>`: the URI is what names the object.
    const uri = text.split(/\s+/)[0]!;
    const { digest, hint } = parseCasName(uri);
    return { form: 'uri', text, digest, hint };
  }
  if (HEX64.test(text)) return { form: 'digest', text, digest: Digest.parse(`sha256:${text}`) };
  if (text.includes('/')) return { form: 'path', text };
  // sha256:<hex>, or a mistyped one: the digest's own error says what is wrong.
  if (/^[a-z0-9]+:/.test(text)) return { form: 'digest', text, digest: Digest.parse(text) };
  return { form: 'word', text };
}

/** The object a reference names, and how it was found. */
export interface ObjectMatch {
  readonly digest: Digest;
  readonly via: 'uri' | 'digest' | 'name' | 'root' | 'prefix' | 'path';
  /** The program name it is known by: the one given, else the one recorded for its digest. */
  readonly name: string | undefined;
  /** The roots the reference named directly (a name's root, a root id, a path's imports). */
  readonly roots: readonly Root[];
}

export interface ResolveRefOptions {
  /** Where a relative path is taken from. */
  readonly cwd?: string;
  /** Roots to look names up in (by default the store's). */
  readonly roots?: readonly Root[];
}

/** Finds the object a reference names in `files`; NotFoundError (or a usage error) otherwise. */
export function resolveObjectRef(
  files: FileStore,
  ref: ObjectRef,
  options: ResolveRefOptions = {},
): ObjectMatch {
  if (options.roots === undefined) {
    const quick = byProgramRoot(files, ref);
    if (quick !== undefined) return quick;
  }
  const roots = options.roots ?? files.roots.list();
  const programs = listPrograms(roots);
  const stored = (digest: Digest): Digest => {
    if (files.objects.stat(digest) === undefined) {
      throw new NotFoundError('NOT_FOUND_OBJECT', `${digest} is not in the store ${files.root}`, {
        hint: 'import the program (cald import), or give the store that has it (--store, CALD_STORE)',
        data: { store: files.root, digest: digest.toString() },
      });
    }
    return digest;
  };
  const nameOf = (digest: Digest, prefer?: string): string | undefined => {
    const names = programs.filter((p) => p.digest.equals(digest)).map((p) => p.name);
    return prefer !== undefined && names.includes(prefer) ? prefer : names[0];
  };
  switch (ref.form) {
    case 'uri':
      return { digest: stored(ref.digest), via: 'uri', name: nameOf(ref.digest, ref.hint), roots: [] };
    case 'digest':
      return { digest: stored(ref.digest), via: 'digest', name: nameOf(ref.digest), roots: [] };
    case 'path':
      return byPath(files, ref.text, programs, options.cwd ?? process.cwd(), stored);
    case 'word':
      return byWord(files, ref.text, programs, roots, stored);
  }
}

function byPath(
  files: FileStore,
  text: string,
  programs: readonly ProgramEntry[],
  cwd: string,
  stored: (d: Digest) => Digest,
): ObjectMatch {
  const path = resolve(cwd, text);
  const real = realOr(path);
  const imported = programs
    .filter((p) => p.path === path || (p.path !== undefined && realOr(p.path) === real))
    .sort(
      (a, b) =>
        b.root.added - a.root.added || Number(b.name === basename(path)) - Number(a.name === basename(path)),
    );
  const newest = imported[0];
  if (newest !== undefined) {
    return {
      digest: stored(newest.digest),
      via: 'path',
      name: newest.name,
      roots: imported.map((p) => p.root),
    };
  }
  // The object's own path, or a file imported from there (a library): <store>/paths mirrors them.
  const object = objectAt(files, path) ?? objectAt(files, join(files.layout.paths, real));
  if (object !== undefined) {
    const name = programs.find((p) => p.digest.equals(object))?.name;
    return { digest: stored(object), via: 'path', name, roots: [] };
  }
  throw new NotFoundError(
    'NOT_FOUND_PROGRAM',
    `${path} is neither a store object nor a path a program was imported from`,
    {
      hint: `import it first (cald import ${text}); cald list shows what is imported`,
      data: { program: text, store: files.root },
    },
  );
}

/**
 * `cald run NAME` and a URI whose hint is a program name read that name's own root (one file)
 * instead of every root; undefined when that does not settle it.
 */
function byProgramRoot(files: FileStore, ref: ObjectRef): ObjectMatch | undefined {
  const name = ref.form === 'word' ? ref.text : ref.form === 'uri' ? ref.hint : undefined;
  const root = readProgramRoot(files, name);
  const digest = root === undefined ? undefined : Digest.tryParse(root.target);
  if (root === undefined || digest === undefined || files.objects.stat(digest) === undefined)
    return undefined;
  if (ref.form === 'word') return { digest, via: 'name', name, roots: [root] };
  if (ref.form === 'uri' && digest.equals(ref.digest)) return { digest, via: 'uri', name, roots: [] };
  return undefined;
}

/** The root `program-<name>`, when it is there and still gives that name. */
function readProgramRoot(files: FileStore, name: string | undefined): Root | undefined {
  if (name === undefined) return undefined;
  try {
    const root = rootFromJson(readFileSync(join(files.layout.roots, programRootId(name)), 'utf8'));
    return programNameOf(root) === name ? root : undefined;
  } catch {
    return undefined;
  }
}

function realOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The digest of a store object given by a path (after following links), if it is one. */
function objectAt(files: FileStore, path: string): Digest | undefined {
  let real: string;
  let dir: string;
  try {
    real = realpathSync(path);
    dir = realpathSync(files.layout.objectDir('sha256'));
  } catch {
    return undefined;
  }
  if (!real.startsWith(`${dir}/`)) return undefined;
  const hex = real.slice(dir.length + 1);
  return HEX64.test(hex) ? Digest.parse(`sha256:${hex}`) : undefined;
}

function byWord(
  files: FileStore,
  word: string,
  programs: readonly ProgramEntry[],
  roots: readonly Root[],
  stored: (d: Digest) => Digest,
): ObjectMatch {
  const program = programs.find((p) => p.name === word);
  if (program !== undefined) {
    return { digest: stored(program.digest), via: 'name', name: word, roots: [program.root] };
  }
  const root = roots.find((r) => r.id === word);
  const rootDigest = root === undefined ? undefined : rootObject(files, root);
  if (root !== undefined && rootDigest !== undefined) {
    const name = programs.find((p) => p.digest.equals(rootDigest))?.name;
    return { digest: stored(rootDigest), via: 'root', name, roots: [root] };
  }
  if (/^[0-9a-f]+$/.test(word) && word.length >= MIN_PREFIX) {
    const matches = files.objects.list().filter((d) => d.hex.startsWith(word));
    if (matches.length > 1) {
      throw new UsageError(`${word} is the start of ${matches.length} stored objects`, {
        hint: `give more digits: ${matches
          .slice(0, 5)
          .map((d) => d.hex.slice(0, 16))
          .join(' ')}${matches.length > 5 ? ' …' : ''}`,
        data: { program: word, candidates: matches.map(String) },
      });
    }
    const only = matches[0];
    if (only !== undefined) {
      const name = programs.find((p) => p.digest.equals(only))?.name;
      return { digest: only, via: 'prefix', name, roots: [] };
    }
  }
  const close = didYouMean(
    word,
    programs.map((p) => p.name),
  );
  throw new NotFoundError(
    'NOT_FOUND_PROGRAM',
    `${word} is not an imported program, a root id or a hex prefix of an object in ${files.root}`,
    {
      hint:
        close.length > 0
          ? `did you mean ${close.join(', ')}?`
          : programs.length > 0
            ? 'cald list shows the imported programs; cald import PATH imports one'
            : 'nothing is imported yet: cald import PATH',
      data: { program: word, store: files.root, ...(close.length > 0 ? { suggestions: close } : {}) },
    },
  );
}

/** The one object a root keeps directly (an import, a name, a launcher), if it keeps exactly one. */
function rootObject(files: FileStore, root: Root): Digest | undefined {
  const { digests } = resolveRoot(files, root);
  return digests.length === 1 ? digests[0] : undefined;
}

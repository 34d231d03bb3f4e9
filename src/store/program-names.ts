import { createHash } from 'node:crypto';
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { Digest } from './digest.js';
import type { Root } from './roots.js';
import type { StoreRoots } from './store.js';

/**
 * Program names behave like tags (docker's `-t`, `nix profile`): each name is one `object` root,
 * `program-<name>`, whose note records the name and the path it was imported from. Importing a
 * new build under a name moves the name; the old object stays reachable by digest until gc frees
 * it. docs/lifecycle.md, "Program names".
 */

/** The part of a store that keeps roots: FileStore and LocalStore (which keeps its index in step). */
/** Where program names are kept: any store's roots (the local store's keep the index in step). */
export type RootBook = StoreRoots;

/** What a program root's note holds (JSON). */
export interface ProgramNote {
  readonly name: string;
  /** The absolute path it was imported from, as the user gave it (before symlinks are followed). */
  readonly path?: string;
}

const ID_CHARS = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,119}$/;

/** `program-<name>` when the name fits a root id, else `program-<16 hex of sha256(name)>`. */
export function programRootId(name: string): string {
  if (ID_CHARS.test(name) && !name.includes('..')) return `program-${name}`;
  return `program-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}

function noteOf(root: Root): { name?: string; path?: string } {
  const note = root.note;
  if (note === undefined) return {};
  // What imports before program roots wrote: the original path alone.
  if (note.startsWith('/')) return note.endsWith('/') ? {} : { name: basename(note), path: note };
  if (!note.startsWith('{')) return {};
  try {
    const v = JSON.parse(note) as Record<string, unknown>;
    return {
      ...(typeof v.name === 'string' && v.name !== '' ? { name: v.name } : {}),
      ...(typeof v.path === 'string' && isAbsolute(v.path) ? { path: v.path } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * The program name a root records. Only `object` roots name programs: the note's `name` (JSON),
 * the last component of a note that is an absolute path (older imports), or a root id that is
 * not a generated default (`object-<16 hex>`).
 */
export function programNameOf(root: Root): string | undefined {
  if (root.kind !== 'object') return undefined;
  const { name } = noteOf(root);
  if (name !== undefined) return name;
  if (/^object-[0-9a-f]{16}$/.test(root.id)) return undefined;
  return root.id.startsWith('program-') ? undefined : root.id;
}

/** The path a program root was imported from, if it records one. */
export function importedPathOf(root: Root): string | undefined {
  return root.kind === 'object' ? noteOf(root).path : undefined;
}

/** An imported program as a user sees it: one name, the object it names. */
export interface ProgramEntry {
  readonly name: string;
  readonly digest: Digest;
  readonly root: Root;
  /** Where it was imported from. */
  readonly path: string | undefined;
}

/**
 * Every program name with the object it names. A name claimed by several roots (stores written
 * before names moved) goes to the newest root: the name a later import gave wins.
 */
export function listPrograms(roots: readonly Root[]): ProgramEntry[] {
  const byName = new Map<string, ProgramEntry>();
  for (const root of roots) {
    const name = programNameOf(root);
    const digest = Digest.tryParse(root.target);
    if (name === undefined || digest === undefined) continue;
    const seen = byName.get(name);
    if (seen !== undefined && seen.root.added > root.added) continue;
    byName.set(name, { name, digest, root, path: importedPathOf(root) });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The names a path is known by: its own basename, then the basename of every link it leads
 * through, ending with the file's real name (`/usr/bin/python3` -> `python3`, `python3.11`).
 */
export function namesAlongLinks(path: string, maxLinks = 40): string[] {
  const names: string[] = [];
  const add = (p: string) => {
    const n = basename(p);
    if (n !== '' && !names.includes(n)) names.push(n);
  };
  let current = resolve(path);
  for (let i = 0; i < maxLinks; i++) {
    add(current);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(current);
    } catch {
      return names;
    }
    if (!st.isSymbolicLink()) break;
    current = resolve(dirname(current), readlinkSync(current));
  }
  try {
    add(realpathSync(path));
  } catch {
    // a dangling link: the names seen so far
  }
  return names;
}

/** One imported program to be named: its object and the names it answers to. */
export interface ProgramToName {
  readonly digest: Digest;
  /** The path as given (absolute; not resolved through links); none for a program pulled from a remote. */
  readonly path?: string;
  readonly names: readonly string[];
}

/** A name that moved from one object to another. */
export interface MovedName {
  readonly name: string;
  readonly from: string;
  readonly to: string;
}

/**
 * Records each name as the root `program-<name>` on its object, and takes it from whatever other
 * object root held it before (so the older object is left to gc unless something else keeps it).
 */
export function nameProgram(book: RootBook, program: ProgramToName): MovedName[] {
  const to = program.digest.toString();
  const moved: MovedName[] = [];
  for (const name of program.names) {
    const id = programRootId(name);
    for (const old of book.list()) {
      if (programNameOf(old) !== name || old.target === to) continue;
      moved.push({ name, from: old.target, to });
      // A legacy root (path note) or the name's own root: the name leaves it.
      if (old.id !== id) book.remove(old.id);
    }
    const note: ProgramNote = program.path === undefined ? { name } : { name, path: program.path };
    book.add({ kind: 'object', target: to, id, note: JSON.stringify(note) });
  }
  return moved;
}

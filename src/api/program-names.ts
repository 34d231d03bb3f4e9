import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BadNameError, UsageError } from '../errors/index.js';
import {
  type Digest,
  formatCasName,
  hintFromName,
  type MovedName,
  nameProgram,
  namesAlongLinks,
  type RootBook,
} from '../store/index.js';

/** An imported program with every name it answers to (`cald import` output and --json). */
export interface NamedImport {
  /** The path as given, made absolute (links not followed). */
  readonly path: string;
  readonly names: string[];
  readonly digest: string;
  /**
   * Its `cas:` name with the hint it runs as: the first of its names (the path's own basename, or
   * `--name`), not the real file's, so that the line printed for `/usr/bin/rview` or
   * `/usr/sbin/iptables` (links to a multi-call program) runs that command, as the path does.
   */
  readonly uri: string;
}

/** A host directory an imported program probably reads at run time (not imported). */
export interface HostFiles {
  readonly program: string;
  readonly path: string;
}

export interface NamingResult {
  readonly programs: NamedImport[];
  /** Names that moved here from an older import (that object stays stored until gc). */
  readonly moved: MovedName[];
  readonly hostFiles: HostFiles[];
}

/** What the importer stored for one file it was asked to import. */
export interface StoredRoot {
  /** The real path (symlinks resolved), as the importer read it. */
  readonly path: string;
  readonly digest: Digest;
}

/** Throws unless `name` can name a program: a file name that no other form of reference reads as something else. */
export function checkProgramName(name: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\0\s:]/.test(name) || name.startsWith('-')) {
    throw new BadNameError('NAME_BAD_PROGRAM', `bad program name ${JSON.stringify(name)}`, {
      hint: 'a program name is a file name without "/", ":" or spaces, not starting with "-"',
      data: { value: name },
    });
  }
}

/** The files a path argument stands for: itself, or every file under a directory that was imported. */
function givenFiles(given: string, stored: ReadonlyMap<string, StoredRoot>): string[] {
  let isDir = false;
  try {
    isDir = statSync(given).isDirectory();
  } catch {
    return [];
  }
  if (!isDir) return [given];
  const real = realpathSync(given);
  return [...stored.keys()].filter((p) => p.startsWith(`${real}/`));
}

/**
 * Names what an import stored (docs/lifecycle.md, "Program names"): each program given on the
 * command line gets the names of its path (the link's own basename, every link on the way, the
 * real file's name) or the `--name`s asked for; each name moves to this import. Files imported
 * only `--with` a program are kept by a root without a name.
 */
export function nameImports(
  book: RootBook,
  stored: readonly StoredRoot[],
  given: readonly string[],
  options: { names?: readonly string[]; cwd?: string } = {},
): NamingResult {
  const cwd = options.cwd ?? process.cwd();
  const byReal = new Map(stored.map((s) => [s.path, s]));
  const programs: NamedImport[] = [];
  const moved: MovedName[] = [];
  const asked = options.names ?? [];
  for (const n of asked) checkProgramName(n);
  const files = given.flatMap((g) => givenFiles(resolve(cwd, g), byReal));
  if (asked.length > 0 && files.length !== 1) {
    throw new UsageError(`--name names one program; ${files.length} were given`, {
      hint: 'import the programs one at a time to name each',
    });
  }
  const named = new Set<string>();
  for (const file of files) {
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      continue;
    }
    const root = byReal.get(real);
    if (root === undefined) continue;
    named.add(real);
    const names = asked.length > 0 ? [...asked] : namesAlongLinks(file).filter(isProgramName);
    moved.push(...nameProgram(book, { digest: root.digest, path: file, names }));
    const uri = formatCasName(root.digest, hintFromName(names[0] ?? file));
    programs.push({ path: file, names, digest: root.digest.toString(), uri });
  }
  for (const s of stored) {
    if (named.has(s.path)) continue;
    book.add({ kind: 'object', target: s.digest.toString(), note: JSON.stringify({ path: s.path }) });
  }
  return { programs, moved, hostFiles: programs.flatMap(hostFilesOf) };
}

export function isProgramName(name: string): boolean {
  try {
    checkProgramName(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Directories beside a program's prefix named after it (`/usr/lib/git-core`, `/usr/lib/python3.11`,
 * `/usr/libexec/N`, `/usr/share/N`): helpers, modules and data it reads from the host at run time.
 */
function hostFilesOf(p: NamedImport): HostFiles[] {
  let real: string;
  try {
    real = realpathSync(p.path);
  } catch {
    return [];
  }
  const prefix = dirname(dirname(real));
  const dirs = [join(prefix, 'libexec'), join(prefix, 'lib'), join(prefix, 'share')];
  const multiarch = readdirOr(join(prefix, 'lib')).filter((e) => /^[a-z0-9_]+-linux-gnu[a-z]*$/.test(e));
  dirs.push(...multiarch.map((m) => join(prefix, 'lib', m)));
  const out: HostFiles[] = [];
  for (const dir of dirs) {
    for (const entry of readdirOr(dir)) {
      if (!p.names.some((n) => relatedDir(n, entry))) continue;
      const path = join(dir, entry);
      if (existsSync(path) && statSync(path).isDirectory()) out.push({ program: basename(p.path), path });
    }
  }
  return out;
}

/** `git` and `git-core`, `python3` and `python3.11`: the directory is the program's own. */
function relatedDir(name: string, entry: string): boolean {
  if (entry === name) return true;
  if (!entry.startsWith(name) || name.length < 2) return false;
  const rest = entry.slice(name.length);
  return rest === '-core' || /^\.?[0-9][0-9.]*$/.test(rest);
}

function readdirOr(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

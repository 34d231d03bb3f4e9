// A program's library closure, found as glibc's ld.so finds it at start-up: breadth-first over
// DT_NEEDED (_dl_map_object_deps, elf/dl-deps.c), each name first matched against the objects
// already loaded, then searched (search-path.ts). The result is the load order and the DAG's edges.
import { basename, dirname } from 'node:path';
import { ET_DYN } from '../elf/format/constants.js';
import { ElfFormatError, isCaldError } from '../errors/index.js';
import { ClosureError } from './closure-error.js';
import { type DynamicInfo, readDynamicInfo } from './dynamic-info.js';
import { type ClosureFs, nodeFs } from './fs.js';
import { cacheFlagsFor, type LdCache, parseLdCache } from './ld-so-cache.js';
import {
  fallbackLoaderFacts,
  isaLevelsOf,
  type LoaderFacts,
  probeLoaderFacts,
  searchSubdirs,
  systemLoaderPath,
} from './loader-facts.js';
import { type LoaderAbi, verifyCandidate } from './open-verify.js';
import {
  type DstValues,
  expandDst,
  type FoundVia,
  LibrarySearch,
  type SearchedDirs,
  type SearchingObject,
  type SkippedCandidate,
  splitSearchList,
} from './search-path.js';

export interface ResolveClosureOptions {
  /** The program (or library) whose closure is wanted. */
  program: string;
  /** LD_LIBRARY_PATH is used only when given here; the caller's own environment never leaks in. */
  env?: { LD_LIBRARY_PATH?: string };
  fs?: ClosureFs;
  /** The directory relative names are taken from (default: process.cwd()). */
  cwd?: string;
  /**
   * The loader's facts; default: asked of the system loader at its fixed path (`ld.so --help`),
   * else cald's built-in table. Never the program's own PT_INTERP: it is input, and never run.
   */
  loader?: LoaderFacts;
  /** The parsed ld.so.cache, or null for none; default: read from loader.cachePath through `fs`. */
  cache?: LdCache | null;
}

export type ObjectKind = 'program' | 'interpreter' | 'library';

export interface NeededEdge {
  /** The DT_NEEDED string as written in the object. */
  name: string;
  /** The index of the object it resolves to; undefined when it is missing. */
  object: number | undefined;
  /** 'loaded': matched an object already loaded by name (no search); 'same-file': the search found a file already loaded under another name. */
  how: 'loaded' | 'searched' | 'same-file' | 'missing';
}

export interface ClosureObject {
  /** Position in load order (0 = the program). */
  index: number;
  kind: ObjectKind;
  /** The path ld.so opened it by (what ldd prints right of "=>"). */
  path: string;
  /** The canonical path, symbolic links resolved. */
  realPath: string;
  /** The absolute path its bytes were read from (the key of its bytes in a SnapshotFs). */
  source: string;
  /** The names it was asked for by, first first (ldd prints the first left of "=>"). */
  names: string[];
  soname: string | undefined;
  needed: NeededEdge[];
  /** The object whose DT_NEEDED loaded it first. */
  loadedBy: number | undefined;
  /** How it was found. */
  foundVia: FoundVia | 'program' | 'interpreter';
  /** The object whose DT_RPATH/DT_RUNPATH found it. */
  foundThrough: string | undefined;
  rpath: string | undefined;
  runpath: string | undefined;
  nodeflib: boolean;
}

export interface MissingLibrary {
  name: string;
  neededBy: number;
  neededByPath: string;
  /** "cannot open shared object file", or ld.so's error for a file it refused ("invalid ELF header"). */
  reason: string;
  /** The file ld.so refused, when it stopped at one. */
  path: string | undefined;
  /** When the file was found but is malformed: the ElfFormatError, naming it. */
  formatError?: ElfFormatError;
  searched: SearchedDirs[];
  usedCache: boolean;
  skipped: SkippedCandidate[];
}

export interface InterpreterInfo {
  /** PT_INTERP as written. */
  requested: string;
  realPath: string | undefined;
  soname: string | undefined;
  /**
   * Its index in load order: it takes the place where something first needs it (normally libc's
   * DT_NEEDED). Undefined when nothing names it: ld.so then leaves itself out of the list (ldd
   * does not print it).
   */
  index: number | undefined;
  /** Objects whose DT_NEEDED names it (normally libc.so.6): they get it without any search. */
  neededBy: number[];
  /**
   * Why the file PT_INTERP names is not an ELF loader for the program (not an absolute path,
   * missing, not a regular file, not ELF, another class or machine, not ET_DYN, has a PT_INTERP
   * of its own); undefined when it is one. An import refuses such a program.
   */
  problem: string | undefined;
}

export interface Closure {
  program: string;
  abi: LoaderAbi;
  objects: ClosureObject[];
  missing: MissingLibrary[];
  interpreter: InterpreterInfo | undefined;
  loader: LoaderFacts;
  warnings: string[];
}

interface Loaded extends SearchingObject {
  object: ClosureObject;
  identity: string | undefined;
  info: DynamicInfo;
  origin: string | undefined;
  queued: boolean;
}

/** Names musl's loader takes as itself (name+3 starts with one of these and a dot). */
const MUSL_RESERVED = /^lib(c|pthread|rt|m|dl|util|xnet)\./;

/** Finds the closure of `program` in load order. Deterministic for a given file tree. */
export function resolveClosure(options: ResolveClosureOptions): Closure {
  const fs = options.fs ?? nodeFs;
  const cwd = options.cwd ?? process.cwd();
  const warnings: string[] = [];
  const abs = (p: string) => (p.startsWith('/') ? p : `${cwd.replace(/\/$/, '')}/${p}`);
  const realpathOr = (p: string): string | undefined => {
    try {
      return fs.realpath(abs(p));
    } catch {
      return undefined;
    }
  };

  const programReal = realpathOr(options.program);
  const programStat = programReal === undefined ? undefined : fs.stat(programReal);
  if (programReal === undefined || programStat === undefined) {
    throw new ClosureError('CLOSURE_NO_PROGRAM', `cannot read ${options.program}: no such file`, {
      hint: 'check the path',
      data: { path: options.program },
    });
  }
  if (!programStat.isFile) {
    throw new ClosureError('CLOSURE_NOT_REGULAR', `${options.program} is not a regular file`, {
      hint: 'give a program or shared library file',
      data: { path: options.program },
    });
  }
  let info: DynamicInfo;
  try {
    info = readDynamicInfo(fs, programReal);
  } catch (e) {
    // A malformed ELF file is an ElfFormatError naming the file (exit 3 from the command line).
    if (!isCaldError(e) || e instanceof ElfFormatError) throw e;
    throw new ClosureError('CLOSURE_NOT_ELF', `${options.program} is not a usable ELF file: ${e.message}`, {
      hint: 'give a dynamically linked program or shared library',
      data: { path: options.program },
      cause: e,
    });
  }
  const abi = info.abi;

  const facts = options.loader ?? loaderFactsFor(info, abi, warnings);
  const dstBase = { platform: facts.platform, lib: facts.lib };
  const cache =
    options.cache === undefined ? readCache(fs, facts.cachePath, warnings) : (options.cache ?? undefined);
  const ldLibraryPath =
    options.env?.LD_LIBRARY_PATH === undefined
      ? undefined
      : splitSearchList(options.env.LD_LIBRARY_PATH, ':;', { ...dstBase, origin: dirname(programReal) });
  const search = new LibrarySearch(
    fs,
    abi,
    searchSubdirs(facts),
    facts.systemDirs,
    ldLibraryPath,
    cache,
    {
      ...cacheFlagsFor(abi.is64, abi.machine),
      hwcaps: facts.glibcHwcaps,
      isaLevels: isaLevelsOf(facts, abi.machine),
    },
    cwd,
  );

  const all: Loaded[] = []; // in creation order: what name matching walks
  const order: Loaded[] = []; // in load order
  const byIdentity = new Map<string, Loaded>();
  const missing: MissingLibrary[] = [];

  const makeLoaded = (
    kind: ObjectKind,
    path: string,
    realPath: string,
    names: string[],
    dyn: DynamicInfo,
    source: string,
    origin: string | undefined,
    loader: Loaded | undefined,
    via: ClosureObject['foundVia'],
    through: string | undefined,
    identity: string | undefined,
  ): Loaded => {
    const values: DstValues = { ...dstBase, origin };
    const object: ClosureObject = {
      index: -1,
      kind,
      path,
      realPath,
      source,
      names,
      soname: dyn.soname,
      needed: [],
      loadedBy: loader?.object.index,
      foundVia: via,
      foundThrough: through,
      rpath: dyn.rpath,
      runpath: dyn.runpath,
      nodeflib: dyn.nodeflib,
    };
    const l: Loaded = {
      object,
      path,
      identity,
      info: dyn,
      origin,
      queued: false,
      loader,
      nodeflib: dyn.nodeflib,
      rpathDirs: dyn.rpath === undefined ? undefined : splitSearchList(dyn.rpath, ':', values),
      runpathDirs: dyn.runpath === undefined ? undefined : splitSearchList(dyn.runpath, ':', values),
    };
    all.push(l);
    if (identity !== undefined) byIdentity.set(identity, l);
    return l;
  };
  const enqueue = (l: Loaded) => {
    if (l.queued) return;
    l.queued = true;
    l.object.index = order.length;
    order.push(l);
  };

  // The program: $ORIGIN is the directory of its real path (ld.so reads /proc/self/exe).
  const main = makeLoaded(
    'program',
    options.program,
    programReal,
    [],
    info,
    programReal,
    dirname(programReal),
    undefined,
    'program',
    undefined,
    `${programStat.dev}:${programStat.ino}`,
  );
  enqueue(main);

  // The interpreter is loaded before anything else, under its PT_INTERP string and its SONAME,
  // with no file identity: a library naming it any other way gets a second copy (loader-facts.md).
  // It is only read, never run, and must be an ELF loader for the program's ABI.
  // A shared library has no PT_INTERP, but whatever program loads it brings the system loader:
  // libc.so.6 then finds ld.so by its SONAME, as in a program's closure.
  const requested =
    info.interp ?? (info.type === ET_DYN ? systemLoaderPath(abi.machine, abi.is64) : undefined);
  const implied = info.interp === undefined;
  let interp: Loaded | undefined;
  let interpProblem: string | undefined;
  const checked = requested === undefined ? undefined : checkInterpreter(fs, requested, abi, realpathOr);
  if (requested !== undefined && checked !== undefined && !(implied && checked.problem !== undefined)) {
    const real = checked.real;
    const dyn = checked.dyn;
    interpProblem = checked.problem;
    if (interpProblem !== undefined) warnings.push(`the interpreter ${requested} ${interpProblem}`);
    const d: DynamicInfo = dyn ?? {
      ...info,
      needed: [],
      soname: undefined,
      rpath: undefined,
      runpath: undefined,
      interp: undefined,
    };
    const names = [requested, ...(d.soname !== undefined && d.soname !== requested ? [d.soname] : [])];
    interp = makeLoaded(
      'interpreter',
      requested,
      real ?? requested,
      names,
      d,
      real ?? requested,
      dirname(requested),
      undefined,
      'interpreter',
      undefined,
      undefined,
    );
  }

  // _dl_map_object: each loaded object in turn, by the names it was loaded by (the program has
  // none: its l_name is empty) or its path, then by its SONAME.
  // musl's loader is its libc: it answers libc.*, libm.*, libpthread.* ... itself, by name, and never
  // searches for them (ldso/dynlink.c, load_library's "reserved" names).
  const muslSelf = interp !== undefined && basename(interp.path).startsWith('ld-musl-') ? interp : undefined;
  const matchLoaded = (name: string): Loaded | undefined =>
    (muslSelf !== undefined && MUSL_RESERVED.test(name) ? muslSelf : undefined) ??
    all.find(
      (l) =>
        (l.object.kind !== 'program' && (l.object.names.includes(name) || l.path === name)) ||
        l.info.soname === name,
    );

  for (let q = 0; q < order.length; q++) {
    const obj = order[q] as Loaded;
    const earlier = new Map<string, NeededEdge>();
    for (const raw of obj.info.needed) {
      const before = earlier.get(raw);
      if (before !== undefined) {
        // The same name again: ld.so finds what it just loaded by that name (or failed on it
        // already). Resolved once, so 50,000 copies of one entry cost one search.
        obj.object.needed.push({
          name: raw,
          object: before.object,
          how: before.object === undefined ? 'missing' : 'loaded',
        });
        continue;
      }
      const edge: NeededEdge = { name: raw, object: undefined, how: 'missing' };
      earlier.set(raw, edge);
      obj.object.needed.push(edge);
      // dl-deps.c expands tokens in DT_NEEDED before anything else.
      const name = expandDst(raw, { ...dstBase, origin: obj.origin });
      if (name === undefined || name === '') {
        missing.push({
          name: raw,
          neededBy: obj.object.index,
          neededByPath: obj.path,
          reason: 'empty dynamic string token substitution',
          path: undefined,
          searched: [],
          usedCache: false,
          skipped: [],
        });
        continue;
      }
      const known = matchLoaded(name);
      if (known !== undefined) {
        if (!known.object.names.includes(name) && (known.info.soname === name || known === muslSelf)) {
          known.object.names.push(name);
        }
        enqueue(known);
        edge.object = known.object.index;
        edge.how = 'loaded';
        continue;
      }
      const outcome = name.includes('/') ? search.openPath(name) : search.search(name, obj, main);
      const r = outcome.result;
      if (r.kind !== 'found') {
        missing.push({
          name,
          neededBy: obj.object.index,
          neededByPath: obj.path,
          reason:
            r.kind === 'invalid'
              ? r.reason
              : outcome.skipped.length > 0
                ? `cannot open shared object file: ${(outcome.skipped[0] as SkippedCandidate).reason}`
                : 'cannot open shared object file: No such file or directory',
          path: r.kind === 'invalid' ? r.path : undefined,
          searched: outcome.searched,
          usedCache: outcome.usedCache,
          skipped: outcome.skipped,
        });
        continue;
      }
      const identity = `${r.stat.dev}:${r.stat.ino}`;
      const same = byIdentity.get(identity);
      if (same !== undefined) {
        // _dl_map_object_from_fd: the file is already loaded under another name.
        if (!same.object.names.includes(name)) same.object.names.push(name);
        enqueue(same);
        edge.object = same.object.index;
        edge.how = 'same-file';
        continue;
      }
      const absPath = search.absolute(r.path);
      let dyn: DynamicInfo;
      try {
        dyn = readDynamicInfo(fs, absPath, r.head);
      } catch (e) {
        if (!isCaldError(e)) throw e;
        missing.push({
          name,
          neededBy: obj.object.index,
          neededByPath: obj.path,
          reason: e.message,
          ...(e instanceof ElfFormatError ? { formatError: e } : {}),
          path: r.path,
          searched: outcome.searched,
          usedCache: outcome.usedCache,
          skipped: outcome.skipped,
        });
        continue;
      }
      const real = realpathOr(absPath) ?? absPath;
      const l = makeLoaded(
        'library',
        r.path,
        real,
        [name],
        dyn,
        absPath,
        dirname(absPath),
        obj,
        r.via,
        r.owner,
        identity,
      );
      enqueue(l);
      edge.object = l.object.index;
      edge.how = 'searched';
    }
  }

  let interpreter: InterpreterInfo | undefined;
  // The loader a library implies counts only when something in its closure names it.
  if (interp !== undefined && (!implied || interp.queued)) {
    const index = interp.queued ? interp.object.index : undefined;
    interpreter = {
      requested: interp.path,
      realPath: interp.object.realPath,
      soname: interp.info.soname,
      index,
      neededBy: order
        .filter((l) => l.object.needed.some((e) => e.object === index))
        .map((l) => l.object.index),
      problem: interpProblem,
    };
  }
  return {
    program: options.program,
    abi,
    objects: order.map((l) => l.object),
    missing,
    interpreter,
    loader: facts,
    warnings,
  };
}

/**
 * The search path's facts for a program: from the system loader at its fixed path when the program
 * is one of its programs (no PT_INTERP, or a PT_INTERP with the system loader's name), else from
 * cald's built-in table (musl, a private glibc, another machine). The program's interpreter is
 * never run: import must not execute what it imports.
 */
function loaderFactsFor(info: DynamicInfo, abi: LoaderAbi, warnings: string[]): LoaderFacts {
  const system = systemLoaderPath(abi.machine, abi.is64);
  const ours =
    info.interp === undefined || (system !== undefined && basename(info.interp) === basename(system));
  const facts = system !== undefined && ours ? probeLoaderFacts(system) : undefined;
  if (facts !== undefined) return facts;
  warnings.push(
    ours
      ? `could not ask the system loader ${system ?? `for machine ${abi.machine}`} for its search directories and hwcaps (glibc >= 2.33 needed); using a built-in guess`
      : `the search directories of ${info.interp}'s programs are cald's built-in guess (the program's own loader is never run)`,
  );
  return fallbackLoaderFacts(abi.machine, abi.is64);
}

/** The file PT_INTERP names, checked to be an ELF loader for `abi` (it is read, never run). */
function checkInterpreter(
  fs: ClosureFs,
  requested: string,
  abi: LoaderAbi,
  realpathOr: (p: string) => string | undefined,
): { real: string | undefined; dyn: DynamicInfo | undefined; problem: string | undefined } {
  if (!requested.startsWith('/')) {
    return { real: undefined, dyn: undefined, problem: 'is not an absolute path' };
  }
  const real = realpathOr(requested);
  if (real === undefined) return { real, dyn: undefined, problem: 'does not exist' };
  const v = verifyCandidate(fs, real, abi);
  if (v.kind === 'absent') return { real, dyn: undefined, problem: 'cannot be read' };
  if (v.kind !== 'ok')
    return { real, dyn: undefined, problem: `is not an ELF loader for the program: ${v.reason}` };
  let dyn: DynamicInfo;
  try {
    dyn = readDynamicInfo(fs, real, v.head);
  } catch (e) {
    if (!isCaldError(e)) throw e;
    return { real, dyn: undefined, problem: `is not a usable ELF file: ${e.message}` };
  }
  if (dyn.type !== ET_DYN) {
    return { real, dyn, problem: 'is not an ELF loader for the program: not a shared object (ET_DYN)' };
  }
  if (dyn.interp !== undefined) {
    return {
      real,
      dyn,
      problem: `is not an ELF loader for the program: it names an interpreter itself (${dyn.interp})`,
    };
  }
  return { real, dyn, problem: undefined };
}

/** Reads and parses the cache; a missing cache is no cache, a corrupt one is ignored with a warning, as ld.so does. */
function readCache(fs: ClosureFs, path: string, warnings: string[]): LdCache | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFile(path);
  } catch {
    return undefined;
  }
  try {
    const cache = parseLdCache(buf);
    warnings.push(...cache.warnings);
    return cache;
  } catch (e) {
    if (!isCaldError(e)) throw e;
    warnings.push(`${path} ignored: ${e.message}`);
    return undefined;
  }
}

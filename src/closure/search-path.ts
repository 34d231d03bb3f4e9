// Where ld.so looks for one DT_NEEDED name of one object, in glibc 2.36's order (_dl_map_object,
// elf/dl-load.c), and the dynamic string tokens it expands on the way (_dl_dst_substitute).

import type { ClosureFs, ClosureStat } from './fs.js';
import type { LdCache } from './ld-so-cache.js';
import { type CacheTarget, lookupLdCache } from './ld-so-cache.js';
import { type LoaderAbi, type Verdict, verifyCandidate } from './open-verify.js';

/** The values dynamic string tokens expand to for one object. */
export interface DstValues {
  /** $ORIGIN: the directory of the object; undefined when unknown (paths using it are dropped). */
  origin: string | undefined;
  platform: string | undefined;
  lib: string;
}

/** Length of the token `ref` at `text[at]` (just after '$'), in either $REF or ${REF} form; 0 if none. */
function dstLength(text: string, at: number, ref: string): number {
  const curly = text[at] === '{';
  const start = curly ? at + 1 : at;
  if (text.slice(start, start + ref.length) !== ref) return 0;
  const next = text[start + ref.length];
  if (curly) return next === '}' ? ref.length + 2 : 0;
  if (next !== undefined && /[A-Za-z0-9_]/.test(next)) return 0;
  return ref.length;
}

/**
 * Expands $ORIGIN, $PLATFORM and $LIB (and their ${...} forms). Unknown tokens stay as they are.
 * Returns undefined when a known token has no value: ld.so then discards the whole path.
 */
export function expandDst(text: string, values: DstValues): string | undefined {
  if (!text.includes('$')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== '$') {
      out += c;
      continue;
    }
    const tokens: Array<[string, string | undefined]> = [
      ['ORIGIN', values.origin],
      ['PLATFORM', values.platform],
      ['LIB', values.lib],
    ];
    let matched = false;
    for (const [ref, value] of tokens) {
      const len = dstLength(text, i + 1, ref);
      if (len === 0) continue;
      if (value === undefined) return undefined;
      out += value;
      i += len;
      matched = true;
      break;
    }
    if (!matched) out += '$';
  }
  return out;
}

/**
 * A DT_RPATH, DT_RUNPATH or LD_LIBRARY_PATH value as the directory list ld.so makes of it
 * (fillin_rpath): split on `separators`, tokens expanded, elements whose tokens have no value or
 * that expand to nothing dropped, trailing slashes removed (but "/" kept), an empty element meaning
 * the current directory (''), and each directory kept once.
 */
export function splitSearchList(value: string, separators: string, values: DstValues): string[] {
  const out: string[] = [];
  const parts = value.split(new RegExp(`[${separators.replace(/[\]\\^-]/g, '\\$&')}]`));
  for (const part of parts) {
    let dir = '';
    if (part !== '') {
      const expanded = expandDst(part, values);
      if (expanded === undefined || expanded === '') continue;
      dir = expanded.length > 1 ? expanded.replace(/(?<=.)\/+$/, '') : expanded;
    }
    if (!out.includes(dir)) out.push(dir);
  }
  return out;
}

/** Where a search step's directories come from, as LD_DEBUG=libs labels them. */
export type SearchSource = 'RPATH' | 'LD_LIBRARY_PATH' | 'RUNPATH' | 'system';

export interface SearchedDirs {
  source: SearchSource;
  /** The object whose DT_RPATH/DT_RUNPATH this is. */
  owner?: string;
  dirs: readonly string[];
}

/** What one object contributes to searches for its own needs and its dependents' needs. */
export interface SearchingObject {
  path: string;
  /** Expanded DT_RPATH directories; undefined when the object has none (or has DT_RUNPATH). */
  rpathDirs: readonly string[] | undefined;
  /** Expanded DT_RUNPATH directories; undefined when the object has no DT_RUNPATH at all. */
  runpathDirs: readonly string[] | undefined;
  nodeflib: boolean;
  /** The object that first loaded this one (l_loader); undefined for the program. */
  loader: SearchingObject | undefined;
}

export type FoundVia = SearchSource | 'ld.so.cache' | 'path';

export interface SkippedCandidate {
  path: string;
  reason: string;
}

export type SearchResult =
  | { kind: 'found'; path: string; via: FoundVia; owner: string | undefined; head: Buffer; stat: ClosureStat }
  /** ld.so stops with an error at this file (e.g. "invalid ELF header"). */
  | { kind: 'invalid'; path: string; reason: string }
  | { kind: 'missing' };

export interface SearchOutcome {
  result: SearchResult;
  /** The directory lists searched, in order (the cache is listed as a source of its own). */
  searched: SearchedDirs[];
  usedCache: boolean;
  /** Files of another class or machine passed over, as ld.so does. */
  skipped: SkippedCandidate[];
}

/** Everything fixed for one closure walk: the file system, the loader and the caches. */
export class LibrarySearch {
  private readonly dirExists = new Map<string, boolean>();
  private readonly systemPrefixes: string[];

  constructor(
    readonly fs: ClosureFs,
    readonly abi: LoaderAbi,
    readonly subdirs: readonly string[],
    readonly systemDirs: readonly string[],
    readonly ldLibraryPath: readonly string[] | undefined,
    readonly cache: LdCache | undefined,
    readonly cacheTarget: CacheTarget,
    readonly cwd: string,
  ) {
    this.systemPrefixes = systemDirs.map((d) => (d.endsWith('/') ? d : `${d}/`));
  }

  /** Opens a name containing '/' directly (relative names from the current directory). */
  openPath(path: string): SearchOutcome {
    const skipped: SkippedCandidate[] = [];
    const v = this.verify(path);
    const result = this.judge(path, v, 'path', undefined, skipped);
    return { result: result ?? { kind: 'missing' }, searched: [], usedCache: false, skipped };
  }

  /** The search for a slash-free name needed by `loader`, step by step as ld.so makes it. */
  search(name: string, loader: SearchingObject, main: SearchingObject): SearchOutcome {
    const searched: SearchedDirs[] = [];
    const skipped: SkippedCandidate[] = [];
    const done = (result: SearchResult, usedCache: boolean): SearchOutcome => ({
      result,
      searched,
      usedCache,
      skipped,
    });
    const tryDirs = (source: SearchSource, dirs: readonly string[], owner: string | undefined) => {
      searched.push(owner === undefined ? { source, dirs } : { source, owner, dirs });
      return this.searchDirs(name, dirs, source, owner, skipped);
    };

    // 1. DT_RPATH of the loader and of each object up its loader chain, then of the program:
    //    only when the loader has no DT_RUNPATH.
    if (loader.runpathDirs === undefined) {
      let didMain = false;
      for (let l: SearchingObject | undefined = loader; l !== undefined; l = l.loader) {
        if (l.rpathDirs === undefined || l.rpathDirs.length === 0) continue;
        const r = tryDirs('RPATH', l.rpathDirs, l.path);
        if (r !== undefined) return done(r, false);
        didMain ||= l === main;
      }
      if (!didMain && main.rpathDirs !== undefined && main.rpathDirs.length > 0) {
        const r = tryDirs('RPATH', main.rpathDirs, main.path);
        if (r !== undefined) return done(r, false);
      }
    }
    // 2. LD_LIBRARY_PATH, when the caller asked for it.
    if (this.ldLibraryPath !== undefined && this.ldLibraryPath.length > 0) {
      const r = tryDirs('LD_LIBRARY_PATH', this.ldLibraryPath, undefined);
      if (r !== undefined) return done(r, false);
    }
    // 3. DT_RUNPATH of the loader only.
    if (loader.runpathDirs !== undefined && loader.runpathDirs.length > 0) {
      const r = tryDirs('RUNPATH', loader.runpathDirs, loader.path);
      if (r !== undefined) return done(r, false);
    }
    // 4. ld.so.cache. With DF_1_NODEFLIB on the loader, an answer inside a system directory is
    //    dropped (answers elsewhere, e.g. /usr/local/lib, still count).
    let usedCache = false;
    if (this.cache !== undefined) {
      usedCache = true;
      const entry = lookupLdCache(this.cache, name, this.cacheTarget);
      if (
        entry !== undefined &&
        !(loader.nodeflib && this.systemPrefixes.some((p) => entry.value.startsWith(p)))
      ) {
        const r = this.judge(entry.value, this.verify(entry.value), 'ld.so.cache', undefined, skipped);
        if (r !== undefined) return done(r, true);
      }
    }
    // 5. The system directories, unless the loader has DF_1_NODEFLIB.
    if (!loader.nodeflib) {
      const r = tryDirs('system', this.systemDirs, undefined);
      if (r !== undefined) return done(r, usedCache);
    }
    return done({ kind: 'missing' }, usedCache);
  }

  /** Each directory with each hwcaps subdirectory (open_path); undefined when nothing was found. */
  private searchDirs(
    name: string,
    dirs: readonly string[],
    via: FoundVia,
    owner: string | undefined,
    skipped: SkippedCandidate[],
  ): SearchResult | undefined {
    for (const dir of dirs) {
      for (const sub of this.subdirs) {
        const where = joinDir(dir, sub);
        if (!this.exists(where)) continue;
        const path = `${where}${name}`;
        const r = this.judge(path, this.verify(path), via, owner, skipped);
        if (r !== undefined) return r;
      }
    }
    return undefined;
  }

  private judge(
    path: string,
    v: Verdict & { stat?: ClosureStat },
    via: FoundVia,
    owner: string | undefined,
    skipped: SkippedCandidate[],
  ): SearchResult | undefined {
    switch (v.kind) {
      case 'absent':
        return undefined;
      case 'mismatch':
        skipped.push({ path, reason: v.reason });
        return undefined;
      case 'invalid':
        return { kind: 'invalid', path, reason: v.reason };
      case 'ok':
        return { kind: 'found', path, via, owner, head: v.head, stat: v.stat as ClosureStat };
    }
  }

  private verify(path: string): Verdict & { stat?: ClosureStat } {
    const abs = this.absolute(path);
    const v = verifyCandidate(this.fs, abs, this.abi);
    if (v.kind !== 'ok') return v;
    const stat = this.fs.stat(abs);
    return stat === undefined ? { kind: 'absent' } : { ...v, stat };
  }

  /** Whether a directory exists (ld.so remembers this per directory, so do we). */
  private exists(dirWithSlash: string): boolean {
    const dir = dirWithSlash === '' ? this.cwd : this.absolute(dirWithSlash).replace(/(?<=.)\/+$/, '');
    let known = this.dirExists.get(dir);
    if (known === undefined) {
      known = this.fs.stat(dir)?.isDirectory === true;
      this.dirExists.set(dir, known);
    }
    return known;
  }

  absolute(path: string): string {
    return path.startsWith('/') ? path : `${this.cwd.replace(/\/$/, '')}/${path}`;
  }
}

/** `dir` + `sub` as ld.so concatenates them: each ends with '/', the empty directory stays empty. */
function joinDir(dir: string, sub: string): string {
  const base = dir === '' ? '' : dir.endsWith('/') ? dir : `${dir}/`;
  return sub === '' ? base : `${base}${sub}/`;
}

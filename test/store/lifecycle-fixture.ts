// Shared by the lifecycle tests: real stores with real programs imported, and an independent
// reachability oracle built from `readelf -d` of the stored objects (not cald's ELF reader).
import { existsSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type ImportReport, importFiles } from '../../src/api/index.js';
import { readelfDynamicMany } from '../helpers/readelf.js';

export const SQLITE3 = '/usr/bin/sqlite3';
export const CURL = '/usr/bin/curl';
export const HAVE_PROGRAMS = existsSync(SQLITE3) && existsSync(CURL);

export async function importInto(store: string, program: string): Promise<ImportReport> {
  return importFiles({ paths: [program], store, env: {} });
}

export function objectDir(store: string): string {
  return join(store, 'objects', 'sha256');
}

/** Every stored object, as sha256:<hex>. */
export function storedObjects(store: string): Set<string> {
  return new Set(readdirSync(objectDir(store)).map((h) => `sha256:${h}`));
}

/** The digest each object's DT_NEEDED cas: names point at, per readelf. */
export function readelfRefs(store: string): Map<string, string[]> {
  const files = [...storedObjects(store)].map((d) => join(objectDir(store), d.slice(7)));
  const out = new Map<string, string[]>();
  for (const [file, info] of readelfDynamicMany(files)) {
    const refs = info.needed
      .filter((n) => n.startsWith('cas:sha256:'))
      .map((n) => `sha256:${n.slice('cas:sha256:'.length, 'cas:sha256:'.length + 64)}`);
    out.set(`sha256:${file.slice(-64)}`, refs);
  }
  return out;
}

/** Objects reachable from `roots` through readelf's NEEDED, plus the loader (named in programs' notes). */
export function oracleClosure(
  refs: ReadonlyMap<string, readonly string[]>,
  roots: readonly string[],
  loader: string | undefined,
): Set<string> {
  const seen = new Set<string>();
  const queue = [...roots];
  if (loader !== undefined && roots.length > 0) queue.push(loader);
  while (queue.length > 0) {
    const d = queue.pop()!;
    if (seen.has(d) || !refs.has(d)) continue;
    seen.add(d);
    queue.push(...(refs.get(d) ?? []));
  }
  return seen;
}

/** names/ entries and paths/ symlinks, each with the digest it points at. */
export function nameEntries(store: string): Array<{ entry: string; digest: string }> {
  return readdirSync(join(store, 'names')).map((n) => ({
    entry: n,
    digest: `sha256:${n.slice('cas:sha256:'.length, 'cas:sha256:'.length + 64)}`,
  }));
}

export function pathLinks(store: string): Array<{ entry: string; digest: string }> {
  const out: Array<{ entry: string; digest: string }> = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isSymbolicLink()) out.push({ entry: p, digest: `sha256:${readlinkSync(p).slice(-64)}` });
    }
  };
  if (existsSync(join(store, 'paths'))) walk(join(store, 'paths'));
  return out;
}

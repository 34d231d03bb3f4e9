import { lstatSync, readlinkSync, renameSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ioErrorFrom } from '../errors/index.js';
import { readRegularFile } from '../util/input-file.js';
import { tryParseCasName } from './cas-name.js';
import { Digest } from './digest.js';
import type { FileStore } from './file-store.js';
import { errnoOf, fsyncDir, readdirOrEmpty, readdirOrEmptyTyped, tempPath } from './fs-util.js';
import type { ExtractRefs, IndexDb } from './index-db.js';
import { liveLeases, lockExclusive } from './lock.js';
import { resolveRoot, runtimeRoots } from './root-targets.js';

export interface GcOptions {
  /** Report what would be deleted, delete nothing (the lock is still taken, so the set is exact). */
  readonly dryRun?: boolean;
  /** Stop once at least this many bytes are freed (objects are taken in digest order). */
  readonly maxFreed?: number;
  /** Keep unreachable objects whose file is younger than this many ms (default 0). */
  readonly keepYoungerThanMs?: number;
  /** Keep objects mapped by running processes (/proc scan; default true). */
  readonly runtimeRoots?: boolean;
  /** How long to wait for in-flight imports or another gc (default 60 s). */
  readonly waitMs?: number;
  /** Finds an object's references in its bytes: the ground truth the index is checked against. */
  readonly extractRefs: ExtractRefs;
  readonly now?: number;
}

export interface GcDeleted {
  readonly digest: string;
  readonly size: number;
}

export interface GcReport {
  readonly dryRun: boolean;
  readonly objectsBefore: number;
  readonly roots: number;
  /** Indirect roots whose file is gone: their records are removed (kept in a dry run). */
  readonly releasedRoots: string[];
  readonly runtimeRoots: number;
  readonly temporaryRoots: number;
  /** Objects reachable from the roots (kept). */
  readonly reachable: number;
  /** Unreachable objects kept because they are younger than keepYoungerThanMs, or beyond maxFreed. */
  readonly keptUnreachable: number;
  readonly deleted: GcDeleted[];
  readonly freedBytes: number;
  readonly namesRemoved: number;
  readonly pathsRemoved: number;
  /** References found in kept objects' bytes that the index did not list (a stale index). */
  readonly refsMissingFromIndex: number;
  /** References from kept objects to objects that are not stored (a broken closure; see verify). */
  readonly missingObjects: string[];
  readonly ms: number;
}

/**
 * Deletes every object not reachable from the roots through the references recorded in the
 * objects themselves (docs/lifecycle.md). Holds the store's exclusive lock throughout, so no
 * import adds or relies on an object meanwhile.
 *
 * Mark: the roots (recorded, indirect, runtime, the temporary roots of live leases) are followed
 * through the union of the index's refs and the refs `extractRefs` finds in each kept object's
 * bytes, so a stale, partial or missing index never makes gc delete a needed object.
 * Sweep: name and paths/ entries of the victims first (none dangles), then each object is renamed
 * into tmp/ and unlinked (an object is never visible half-deleted under its name), then the index.
 */
export async function collectGarbage(
  files: FileStore,
  index: IndexDb | undefined,
  options: GcOptions,
): Promise<GcReport> {
  const lock = lockExclusive(files.root, {
    purpose: 'gc',
    ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
  });
  try {
    return sweep(files, index, options, mark(files, index, options));
  } finally {
    lock.release();
  }
}

interface Marked {
  readonly started: number;
  readonly all: Digest[];
  readonly reachable: Set<string>;
  readonly roots: number;
  readonly released: string[];
  readonly runtime: number;
  readonly temporary: number;
  readonly refsMissingFromIndex: number;
  readonly missing: string[];
}

function mark(files: FileStore, index: IndexDb | undefined, options: GcOptions): Marked {
  const started = performance.now();
  const all = files.objects.list();
  const stored = new Set<string>(all.map((d) => d.toString()));
  const roots = files.roots.list();
  const queue: string[] = [];
  const released: string[] = [];
  for (const r of roots) {
    const resolved = resolveRoot(files, r);
    if (!resolved.alive) released.push(r.id);
    for (const d of resolved.digests) queue.push(d.toString());
  }
  const runtime = options.runtimeRoots === false ? [] : runtimeRoots(files);
  for (const d of runtime) queue.push(d.toString());
  let temporary = 0;
  for (const lease of liveLeases(files.root)) {
    for (const d of lease.temporaryRoots) {
      queue.push(d.toString());
      temporary++;
    }
  }
  const reachable = new Set<string>();
  const missing = new Set<string>();
  let refsMissingFromIndex = 0;
  while (queue.length > 0) {
    const d = queue.pop()!;
    if (reachable.has(d)) continue;
    if (!stored.has(d)) {
      missing.add(d);
      continue;
    }
    reachable.add(d);
    const digest = Digest.parse(d);
    const fromIndex = new Set<string>((index?.refsOf(digest) ?? []).map((r) => r.digest.toString()));
    for (const t of fromIndex) queue.push(t);
    for (const name of refsInBytes(files, digest, options.extractRefs)) {
      const t: string | undefined = tryParseCasName(name)?.digest.toString();
      if (t === undefined) continue;
      if (index !== undefined && !fromIndex.has(t)) refsMissingFromIndex++;
      queue.push(t);
    }
  }
  return {
    started,
    all,
    reachable,
    roots: roots.length,
    released,
    runtime: runtime.length,
    temporary,
    refsMissingFromIndex,
    missing: [...missing].sort(),
  };
}

function refsInBytes(files: FileStore, digest: Digest, extractRefs: ExtractRefs): readonly string[] {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(files.pathOf(digest));
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return [];
    throw ioErrorFrom(e, 'read object', files.pathOf(digest));
  }
  try {
    return extractRefs(bytes, digest);
  } catch {
    return [];
  }
}

function sweep(files: FileStore, index: IndexDb | undefined, options: GcOptions, m: Marked): GcReport {
  const now = options.now ?? Date.now();
  const minAge = options.keepYoungerThanMs ?? 0;
  const maxFreed = options.maxFreed ?? Number.POSITIVE_INFINITY;
  const dryRun = options.dryRun === true;
  const victims: GcDeleted[] = [];
  let keptUnreachable = 0;
  let freed = 0;
  const unreachable = m.all.filter((d) => !m.reachable.has(d.toString())).sort((a, b) => cmp(a.hex, b.hex));
  for (const d of unreachable) {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(files.pathOf(d));
    } catch {
      continue; // gone meanwhile
    }
    if (freed >= maxFreed || now - st.mtimeMs < minAge) {
      keptUnreachable++;
      continue;
    }
    victims.push({ digest: d.toString(), size: st.size });
    freed += st.size;
  }
  let namesRemoved = 0;
  let pathsRemoved = 0;
  if (!dryRun && victims.length > 0) {
    const doomed = new Set(victims.map((v) => v.digest));
    // The index first: a crash after this leaves objects the index does not list (behind the
    // files, which gc and verify tolerate), never rows for deleted objects ("missing" to verify).
    if (index !== undefined) {
      index.transaction(() => {
        for (const v of victims) index.forgetObject(Digest.parse(v.digest));
      });
    }
    namesRemoved = removeNames(files, doomed);
    pathsRemoved = removePaths(files, doomed);
    // `cald run`'s launchers of the victims (launchers/<hex>/): nothing to run any more.
    for (const v of victims) {
      rmSync(join(files.layout.launchers, Digest.parse(v.digest).hex), { recursive: true, force: true });
    }
    removeObjects(files, victims);
  }
  if (!dryRun) {
    for (const id of m.released) {
      files.roots.remove(id);
      index?.removeRoot(id);
    }
  }
  return {
    dryRun,
    objectsBefore: m.all.length,
    roots: m.roots,
    releasedRoots: m.released,
    runtimeRoots: m.runtime,
    temporaryRoots: m.temporary,
    reachable: m.reachable.size,
    keptUnreachable,
    deleted: victims,
    freedBytes: freed,
    namesRemoved,
    pathsRemoved,
    refsMissingFromIndex: m.refsMissingFromIndex,
    missingObjects: m.missing,
    ms: performance.now() - m.started,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Removes the name entries of doomed objects (one directory listing for all of them). */
function removeNames(files: FileStore, doomed: ReadonlySet<string>): number {
  let removed = 0;
  for (const name of readdirOrEmpty(files.layout.names)) {
    const d = tryParseCasName(name)?.digest.toString();
    if (d === undefined || !doomed.has(d)) continue;
    unlinkQuiet(join(files.layout.names, name));
    removed++;
  }
  if (removed > 0) fsyncDir(files.layout.names);
  return removed;
}

const OBJECT_LINK = /objects\/(sha256)\/([0-9a-f]{64})$/;

/** Every symlink under paths/ with the digest it points at. */
export function pathEntries(pathsDir: string): Array<{ entry: string; digest: string | undefined }> {
  const out: Array<{ entry: string; digest: string | undefined }> = [];
  const walk = (dir: string) => {
    for (const e of readdirOrEmptyTyped(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isSymbolicLink()) {
        let target = '';
        try {
          target = readlinkSync(p);
        } catch {
          // vanished
        }
        const m = OBJECT_LINK.exec(target);
        out.push({ entry: p, digest: m === null ? undefined : `${m[1]}:${m[2]}` });
      }
    }
  };
  walk(pathsDir);
  return out;
}

/** Removes paths/ entries of doomed objects, and directories that become empty. */
function removePaths(files: FileStore, doomed: ReadonlySet<string>): number {
  let removed = 0;
  const dirs = new Set<string>();
  for (const { entry, digest } of pathEntries(files.layout.paths)) {
    if (digest === undefined || !doomed.has(digest)) continue;
    unlinkQuiet(entry);
    dirs.add(entry.slice(0, entry.lastIndexOf('/')));
    removed++;
  }
  for (const dir of [...dirs].sort((a, b) => b.length - a.length)) pruneEmpty(dir, files.layout.paths);
  return removed;
}

function pruneEmpty(dir: string, stop: string): void {
  let d = dir;
  while (d.length > stop.length && d.startsWith(`${stop}/`)) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty (or gone)
    }
    d = d.slice(0, d.lastIndexOf('/'));
  }
}

/** Rename into tmp/ (atomic: the name now means nothing), one directory fsync, then unlink. */
function removeObjects(files: FileStore, victims: readonly GcDeleted[]): void {
  const moved: string[] = [];
  try {
    for (const v of victims) {
      const d = Digest.parse(v.digest);
      const tmp = tempPath(files.layout.tmp, `gc-${d.hex.slice(0, 16)}`);
      try {
        renameSync(files.pathOf(d), tmp);
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') continue;
        throw ioErrorFrom(e, 'delete object', files.pathOf(d));
      }
      moved.push(tmp);
    }
  } finally {
    if (moved.length > 0) fsyncDir(files.layout.objectDir('sha256'));
    for (const tmp of moved) unlinkQuiet(tmp);
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw ioErrorFrom(e, 'remove', path);
  }
}

/** Parses a size like 10M, 1G, 512k, 100 (bytes); powers of 1024. undefined if malformed. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?$/.exec(text.trim());
  if (m === null) return undefined;
  const unit = { '': 0, k: 1, m: 2, g: 3, t: 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * 1024 ** unit);
}

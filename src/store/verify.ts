import { existsSync, lstatSync, readdirSync, readlinkSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ioErrorFrom, isCaldError } from '../errors/index.js';
import { tryParseCasName } from './cas-name.js';
import { Digest, digestOfFile } from './digest.js';
import type { FileStore } from './file-store.js';
import { errnoOf, makeDirs, writeFileAtomic } from './fs-util.js';
import { pathEntries } from './gc.js';
import type { IndexDb } from './index-db.js';
import { DIR_MODE, nameTarget } from './layout.js';
import { type HeldLock, leaseIfWritable, lockExclusive } from './lock.js';
import type { HashJob, HashResult } from './verify-worker.js';

/**
 * Produces the exact bytes of a damaged object from an original file it was imported from: a
 * path to a file that hashes to `digest`, or the reason it cannot (the api layer re-imports the
 * original into a scratch store; the store layer cannot, it does not read ELF).
 */
export type RestoreFromOriginal = (
  digest: Digest,
  original: string,
) => Promise<{ readonly path: string } | { readonly reason: string }>;

export interface VerifyOptions {
  /** Restore or quarantine damaged objects; remove dangling names and paths/ entries; forget index rows of missing objects. */
  readonly repair?: boolean;
  /** Hashing threads (default: one per core). */
  readonly workers?: number;
  readonly restore?: RestoreFromOriginal;
  /** How long repair waits for the store's exclusive lock (default 60 s). */
  readonly waitMs?: number;
}

export interface VerifyMismatch {
  readonly digest: string;
  /** What the content hashes to now, or undefined if it could not be read. */
  readonly actual: string | undefined;
  readonly size: number;
  readonly error?: string;
  /** With --repair: what was done. */
  readonly repair?:
    | { readonly action: 'restored'; readonly from: string }
    | { readonly action: 'quarantined'; readonly to: string; readonly reasons: string[] };
}

export interface VerifyProblem {
  readonly what: string;
  readonly reason: string;
  readonly repaired?: boolean;
}

export interface VerifyReport {
  readonly objects: number;
  readonly bytes: number;
  readonly workers: number;
  readonly hashMs: number;
  /** Hashing throughput, bytes per second. */
  readonly bytesPerSecond: number;
  readonly mismatches: VerifyMismatch[];
  /** Objects the index lists that are not on disk. */
  readonly missing: VerifyProblem[];
  /** References from stored objects (index) to objects not stored. */
  readonly missingRefs: VerifyProblem[];
  /** names/ entries pointing nowhere, or not as cald makes them. */
  readonly danglingNames: VerifyProblem[];
  /** paths/ entries pointing at no stored object. */
  readonly danglingPaths: VerifyProblem[];
  /** Entries under objects/sha256/ that are not well-named regular files. */
  readonly strays: VerifyProblem[];
  readonly clean: boolean;
}

const BATCH = 64;

/**
 * Hashes every object in parallel; reports (and with `repair` fixes) what is wrong.
 *
 * Consistent beside imports and gc (docs/lifecycle.md, "verify and repair"): it holds a shared
 * lease, so no gc deletes anything while it looks, and imports only add. An object an import adds
 * after the listing is looked up again before anything naming it is called missing, so only
 * real problems are reported. `repair` holds the exclusive lock for the whole run instead: what
 * it repairs is what it found.
 */
export async function verifyStore(
  files: FileStore,
  index: IndexDb | undefined,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const lock = holdWhileVerifying(files.root, options);
  try {
    return await verifyHeld(files, index, options);
  } finally {
    lock?.release();
  }
}

/** The lease (the exclusive lock for repair); none where the store cannot be written at all. */
function holdWhileVerifying(root: string, options: VerifyOptions): HeldLock | undefined {
  const wait = options.waitMs === undefined ? {} : { waitMs: options.waitMs };
  if (options.repair === true) return lockExclusive(root, { purpose: 'verify --repair', ...wait });
  return leaseIfWritable(root, { purpose: 'verify', ...wait });
}

async function verifyHeld(
  files: FileStore,
  index: IndexDb | undefined,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const dir = files.layout.objectDir('sha256');
  const strays: VerifyProblem[] = [];
  const hexes: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!/^[0-9a-f]{64}$/.test(e.name)) strays.push({ what: join(dir, e.name), reason: 'not a sha256 name' });
    else if (!e.isFile()) strays.push({ what: join(dir, e.name), reason: 'not a regular file' });
    else hexes.push(e.name);
  }
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), hexes.length));
  const t0 = performance.now();
  // Small batches when there are few objects (so every thread gets some), up to BATCH.
  const batch = Math.max(1, Math.min(BATCH, Math.ceil(hexes.length / (workers * 8))));
  const results = await hashAll(dir, hexes, workers, batch);
  const hashMs = performance.now() - t0;
  let bytes = 0;
  const mismatches: VerifyMismatch[] = [];
  for (const r of results) {
    bytes += r.size;
    if (r.actual !== r.hex) {
      mismatches.push({
        digest: `sha256:${r.hex}`,
        actual: r.actual === undefined ? undefined : `sha256:${r.actual}`,
        size: r.size,
        ...(r.error === undefined ? {} : { error: r.error }),
      });
    }
  }
  const listed = new Set(hexes.map((h) => `sha256:${h}`));
  // Stored now: listed, or added by an import since the listing (never removed meanwhile: the lease).
  const onDisk = { has: (digest: string) => listed.has(digest) || addedSince(files, digest) };
  const missing: VerifyProblem[] = [];
  const missingRefs: VerifyProblem[] = [];
  if (index !== undefined) {
    for (const row of index.objectRows()) {
      if (!onDisk.has(row.digest)) missing.push({ what: row.digest, reason: 'in the index, not on disk' });
    }
    for (const r of index.snapshot().refs) {
      if (onDisk.has(r.from) && !onDisk.has(r.to)) {
        missingRefs.push({ what: r.from, reason: `refers to ${r.name}, which is not stored` });
      }
    }
  }
  const danglingNames = checkNames(files, onDisk);
  const danglingPaths = pathEntries(files.layout.paths)
    .filter((p) => p.digest === undefined || !onDisk.has(p.digest))
    .map((p) => ({
      what: p.entry,
      reason: p.digest === undefined ? 'not a link to an object' : `${p.digest} is not stored`,
    }));

  let repaired = { mismatches, missing, danglingNames, danglingPaths };
  if (options.repair === true) repaired = await repair(files, index, options, repaired);
  const clean =
    mismatches.length === 0 &&
    missing.length === 0 &&
    missingRefs.length === 0 &&
    danglingNames.length === 0 &&
    danglingPaths.length === 0 &&
    strays.length === 0;
  return {
    objects: hexes.length,
    bytes,
    workers,
    hashMs,
    bytesPerSecond: hashMs > 0 ? (bytes / hashMs) * 1000 : 0,
    ...repaired,
    missingRefs,
    strays,
    clean,
  };
}

async function hashAll(
  dir: string,
  hexes: readonly string[],
  workers: number,
  batch: number,
): Promise<HashResult[]> {
  const results: HashResult[] = [];
  let next = 0;
  const url = new URL('./verify-worker.js', import.meta.url);
  const runOne = () =>
    new Promise<void>((resolve, reject) => {
      // Not the parent's flags: --input-type or -e would make the worker fail to start.
      const w = new Worker(url, { execArgv: [] });
      const feed = () => {
        if (next >= hexes.length) {
          void w.terminate().then(() => resolve());
          return;
        }
        const job: HashJob = { dir, hexes: hexes.slice(next, next + batch) };
        next += batch;
        w.postMessage(job);
      };
      w.on('message', (batch: HashResult[]) => {
        results.push(...batch);
        feed();
      });
      w.on('error', reject);
      feed();
    });
  await Promise.all(Array.from({ length: workers }, runOne));
  return results;
}

/** Whether an object missing from the listing is there now (an import stored it since). */
function addedSince(files: FileStore, digest: string): boolean {
  const d = Digest.tryParse(digest);
  return d !== undefined && existsSync(files.pathOf(d));
}

function checkNames(files: FileStore, onDisk: { has(digest: string): boolean }): VerifyProblem[] {
  const out: VerifyProblem[] = [];
  let entries: string[];
  try {
    entries = readdirSync(files.layout.names);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return [];
    throw ioErrorFrom(e, 'list', files.layout.names);
  }
  for (const name of entries.sort()) {
    const what = join(files.layout.names, name);
    const parsed = tryParseCasName(name);
    if (parsed === undefined) {
      out.push({ what, reason: 'not a cas: name' });
      continue;
    }
    let target: string;
    try {
      target = readlinkSync(what);
    } catch {
      out.push({ what, reason: 'not a symlink' });
      continue;
    }
    const { digest } = parsed;
    if (target !== nameTarget(digest.algorithm, digest.hex))
      out.push({ what, reason: `points at ${target}` });
    else if (!onDisk.has(digest.toString())) out.push({ what, reason: `${digest} is not stored` });
  }
  return out;
}

interface Repairable {
  mismatches: VerifyMismatch[];
  missing: VerifyProblem[];
  danglingNames: VerifyProblem[];
  danglingPaths: VerifyProblem[];
}

async function repair(
  files: FileStore,
  index: IndexDb | undefined,
  options: VerifyOptions,
  found: Repairable,
): Promise<Repairable> {
  const originals = originalsByDigest(files);
  const mismatches: VerifyMismatch[] = [];
  for (const m of found.mismatches) {
    const digest = Digest.parse(m.digest);
    const reasons: string[] = [];
    let restoredFrom: string | undefined;
    for (const original of originals.get(m.digest)) {
      const source = await bytesFor(digest, original, options.restore);
      if ('reason' in source) {
        reasons.push(`${original}: ${source.reason}`);
        continue;
      }
      const executable = isExecutable(files.pathOf(digest));
      files.objects.put({ path: source.path }, { expect: digest, executable });
      restoredFrom = original;
      break;
    }
    if (restoredFrom !== undefined) {
      mismatches.push({ ...m, repair: { action: 'restored', from: restoredFrom } });
      continue;
    }
    if (reasons.length === 0) reasons.push('no original file recorded (paths/ or a root note)');
    const to = quarantine(files, index, m, reasons);
    mismatches.push({ ...m, repair: { action: 'quarantined', to, reasons } });
  }
  if (index !== undefined && found.missing.length > 0) {
    index.transaction(() => {
      for (const p of found.missing) index.forgetObject(Digest.parse(p.what));
    });
  }
  for (const p of [...found.danglingNames, ...found.danglingPaths]) unlinkQuiet(p.what);
  for (const p of found.danglingNames) {
    const name = p.what.slice(files.layout.names.length + 1);
    if (tryParseCasName(name) !== undefined) index?.forgetName(name);
  }
  const done = (ps: VerifyProblem[]) => ps.map((p) => ({ ...p, repaired: true }));
  return {
    mismatches,
    missing: done(found.missing),
    danglingNames: done(found.danglingNames),
    danglingPaths: done(found.danglingPaths),
  };
}

/**
 * Original files to try for each object: its own paths/ entries first, then every program
 * imported as a root (recorded in the root's note), whose re-import rebuilds its closure.
 */
function originalsByDigest(files: FileStore): { get(digest: string): string[] } {
  const out = new Map<string, string[]>();
  const add = (d: string, p: string) => {
    const list = out.get(d) ?? [];
    if (!list.includes(p)) list.push(p);
    out.set(d, list);
  };
  for (const { entry, digest } of pathEntries(files.layout.paths)) {
    if (digest !== undefined) add(digest, entry.slice(files.layout.paths.length));
  }
  // The programs imported as roots: re-importing one re-creates its whole closure.
  const programs = files.roots
    .list()
    .filter((r) => r.kind === 'object' && r.note?.startsWith('/') === true)
    .map((r) => r.note!);
  return {
    get: (d: string) => [...(out.get(d) ?? []), ...programs.filter((p) => !out.get(d)?.includes(p))],
  };
}

async function bytesFor(
  digest: Digest,
  original: string,
  restore: RestoreFromOriginal | undefined,
): Promise<{ path: string } | { reason: string }> {
  try {
    statSync(original);
  } catch {
    return { reason: 'the original file is gone' };
  }
  try {
    // Stored as is (an interpreter, a non-ELF file): the original itself has the bytes.
    if (digestOfFile(original).equals(digest)) return { path: original };
  } catch (e) {
    return { reason: e instanceof Error ? e.message : String(e) };
  }
  if (restore === undefined) return { reason: 'imported objects are rewritten copies; no importer given' };
  return restore(digest, original);
}

function isExecutable(path: string): boolean {
  try {
    return (lstatSync(path).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Moves a damaged object to quarantine/<hex> with a JSON note beside it; drops its names and paths. */
function quarantine(
  files: FileStore,
  index: IndexDb | undefined,
  m: VerifyMismatch,
  reasons: string[],
): string {
  const qdir = join(files.root, 'quarantine');
  makeDirs(qdir, DIR_MODE);
  const digest = Digest.parse(m.digest);
  const to = join(qdir, `${digest.hex}-${Date.now()}`);
  const note = {
    digest: m.digest,
    actual: m.actual,
    size: m.size,
    quarantined: new Date().toISOString(),
    reasons,
  };
  writeFileAtomic(
    `${to}.json`,
    qdir,
    files.layout.tmp,
    Buffer.from(`${JSON.stringify(note, null, 2)}\n`),
    0o644,
  );
  for (const name of readdirSync(files.layout.names)) {
    if (tryParseCasName(name)?.digest.equals(digest) === true) unlinkQuiet(join(files.layout.names, name));
  }
  for (const p of pathEntries(files.layout.paths)) if (p.digest === m.digest) unlinkQuiet(p.entry);
  try {
    renameSync(files.pathOf(digest), to);
  } catch (e) {
    throw ioErrorFrom(e, 'quarantine', files.pathOf(digest));
  }
  index?.forgetObject(digest);
  return to;
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw ioErrorFrom(e, 'remove', path);
  }
}

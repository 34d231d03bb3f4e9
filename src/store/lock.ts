import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ioErrorFrom, isCaldError, StoreError } from '../errors/index.js';
import { Digest } from './digest.js';
import { errnoOf, makeDirs, writeAll } from './fs-util.js';
import { DIR_MODE } from './layout.js';

/**
 * The store's lock protocol (docs/lifecycle.md, "Locking"): a writer-preferring readers-writer
 * lock made of lock files in `<store>/locks/`, each created with O_CREAT|O_EXCL (`'wx'`) and
 * holding its owner's pid and that process's start time, so a lock left by a dead process (or by
 * a recycled pid) is recognised as stale and removed by whoever meets it.
 *
 * - `locks/gc`: the exclusive lock, held by gc for its whole mark and sweep.
 * - `locks/lease-<pid>-<random>`: a shared lease, held by every process that adds objects
 *   (imports) until the roots of what it added are recorded. It may list temporary roots.
 *
 * Both sides write their own file first and look for the other's second (Dekker's order), so
 * of a gc and an import starting at once at least one sees the other: the import withdraws its
 * lease and waits; gc waits for existing leases to end (it never sweeps beside a live lease).
 */
export const LOCK_DIR = 'locks';
const GC_LOCK = 'gc';
const LEASE_PREFIX = 'lease-';
const POLL_MS = 25;

interface Owner {
  readonly pid: number;
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22); 0 if unknown. */
  readonly start: number;
  readonly since: number;
  readonly purpose: string;
  readonly temporaryRoots?: readonly string[];
}

export interface LockOptions {
  /** How long to wait for the other side, in ms (default 60 s); then STORE_BUSY. */
  readonly waitMs?: number;
  /** What the lock is for, shown to whoever waits on it. */
  readonly purpose?: string;
}

/** A lock file this process holds. */
export interface HeldLock {
  readonly path: string;
  release(): void;
}

/** A shared lease: a HeldLock that can name temporary roots (objects gc must keep while it lives). */
export interface Lease extends HeldLock {
  addTemporaryRoots(digests: Iterable<Digest>): void;
}

/** The live leases gc found, with their temporary roots. */
export interface LeaseInfo {
  readonly pid: number;
  readonly purpose: string;
  readonly temporaryRoots: Digest[];
}

function startTimeOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 2 (comm) may hold spaces and parentheses: count fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(rest[19]);
    return Number.isFinite(start) ? start : 0;
  } catch {
    return undefined;
  }
}

const SELF: { pid: number; start: number } = { pid: process.pid, start: startTimeOf(process.pid) ?? 0 };

/** Whether the process that wrote `owner` still runs (same pid and same start time). */
export function ownerAlive(owner: { pid: number; start: number }): boolean {
  if (owner.pid === SELF.pid && owner.start === SELF.start) return true;
  const start = startTimeOf(owner.pid);
  if (start === undefined) {
    // No /proc entry: dead, unless /proc is unavailable, in which case ask the kernel.
    try {
      process.kill(owner.pid, 0);
      return true;
    } catch (e) {
      return errnoOf(e) === 'EPERM';
    }
  }
  return owner.start === 0 || start === 0 || start === owner.start;
}

function readOwner(path: string): Owner | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<Owner>;
    if (typeof v.pid !== 'number' || typeof v.start !== 'number') return undefined;
    return {
      pid: v.pid,
      start: v.start,
      since: typeof v.since === 'number' ? v.since : 0,
      purpose: typeof v.purpose === 'string' ? v.purpose : '',
      ...(Array.isArray(v.temporaryRoots) ? { temporaryRoots: v.temporaryRoots.map(String) } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * A lock file that is unreadable or half-written is treated as live for a short while (its
 * writer may be between open and write), then as stale.
 */
const UNREADABLE_GRACE_MS = 5_000;

function isStale(path: string, now: number): boolean {
  const owner = readOwner(path);
  if (owner !== undefined) return !ownerAlive(owner);
  let mtime: number;
  try {
    mtime = statSync(path).mtimeMs;
  } catch {
    return false; // gone already
  }
  return now - mtime > UNREADABLE_GRACE_MS;
}

/** Creates `path` exclusively with the owner record; false if it exists. */
function createLockFile(path: string, owner: Owner): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (e) {
    if (errnoOf(e) === 'EEXIST') return false;
    throw ioErrorFrom(e, 'create lock file', path);
  }
  try {
    writeAll(fd, Buffer.from(`${JSON.stringify(owner)}\n`));
  } finally {
    closeSync(fd);
  }
  return true;
}

function lockDir(storeRoot: string): string {
  const dir = join(storeRoot, LOCK_DIR);
  try {
    makeDirs(dir, DIR_MODE);
  } catch (e) {
    throw ioErrorFrom(e, 'create lock directory', dir);
  }
  return dir;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function busy(storeRoot: string, what: string, holder: Owner | undefined): StoreError {
  const who =
    holder === undefined ? '' : ` (pid ${holder.pid}${holder.purpose ? `, ${holder.purpose}` : ''})`;
  return new StoreError('STORE_BUSY', `the store at ${storeRoot} is busy: ${what}${who}`, {
    hint: 'retry when it has finished; a lock of a dead process is removed automatically',
    data: { store: storeRoot, ...(holder === undefined ? {} : { pid: holder.pid }) },
  });
}

function leaseFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.startsWith(LEASE_PREFIX));
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return [];
    throw ioErrorFrom(e, 'list locks in', dir);
  }
}

/** Removes a lock file if it is stale; true if it is gone (removed or already absent). */
function clearIfStale(path: string, now: number): boolean {
  if (!isStale(path, now)) return false;
  rmSync(path, { force: true });
  return true;
}

/**
 * Takes the exclusive (gc) lock: creates `locks/gc`, then waits until no live lease remains.
 * Stale leases and a stale gc lock are removed. STORE_BUSY after `waitMs`.
 */
export function lockExclusive(storeRoot: string, options: LockOptions = {}): HeldLock {
  const dir = lockDir(storeRoot);
  const path = join(dir, GC_LOCK);
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  const owner: Owner = { ...SELF, since: Date.now(), purpose: options.purpose ?? 'gc' };
  while (!createLockFile(path, owner)) {
    if (clearIfStale(path, Date.now())) continue;
    if (Date.now() > deadline) throw busy(storeRoot, 'another gc holds the lock', readOwner(path));
    sleep(POLL_MS);
  }
  const held: HeldLock = { path, release: () => rmSync(path, { force: true }) };
  try {
    for (;;) {
      const now = Date.now();
      const live = leaseFiles(dir).filter((n) => !clearIfStale(join(dir, n), now));
      if (live.length === 0) break;
      if (now > deadline) {
        throw busy(storeRoot, `${live.length} import(s) in progress`, readOwner(join(dir, live[0]!)));
      }
      sleep(POLL_MS);
    }
  } catch (e) {
    held.release();
    throw e;
  }
  return held;
}

/**
 * acquireLease for a reader (verify, export): undefined where the store cannot be written at all,
 * a read-only file system (nothing can change it) or another user's store (its owner's gc could,
 * and the reader's own checks then fail on what went missing instead of reading a wrong byte).
 */
export function leaseIfWritable(storeRoot: string, options: LockOptions = {}): Lease | undefined {
  try {
    return acquireLease(storeRoot, options);
  } catch (e) {
    if (isCaldError(e) && ['IO_EROFS', 'IO_EACCES', 'IO_EPERM'].includes(e.code)) return undefined;
    throw e;
  }
}

/**
 * Takes a shared lease (imports): creates `locks/lease-<pid>-<random>`, then checks for the gc
 * lock; while a live gc holds it, the lease is withdrawn and retried. STORE_BUSY after `waitMs`.
 */
export function acquireLease(storeRoot: string, options: LockOptions = {}): Lease {
  const dir = lockDir(storeRoot);
  const path = join(dir, `${LEASE_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
  const gcPath = join(dir, GC_LOCK);
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  const base: Owner = { ...SELF, since: Date.now(), purpose: options.purpose ?? 'import' };
  let temporaryRoots: string[] = [];
  for (;;) {
    if (!createLockFile(path, base)) throw new Error(`lease file ${path} already exists`);
    const gcOwner = readOwner(gcPath);
    const gcHeld = gcOwner === undefined ? !clearIfStaleOrAbsent(gcPath) : ownerAlive(gcOwner);
    if (!gcHeld) break;
    rmSync(path, { force: true });
    if (gcOwner !== undefined && !ownerAlive(gcOwner)) rmSync(gcPath, { force: true });
    if (Date.now() > deadline) throw busy(storeRoot, 'gc holds the lock', gcOwner);
    sleep(POLL_MS);
  }
  return {
    path,
    release: () => rmSync(path, { force: true }),
    addTemporaryRoots(digests: Iterable<Digest>) {
      temporaryRoots = [...new Set([...temporaryRoots, ...[...digests].map((d) => d.toString())])];
      // Rewritten whole (the file is ours alone); a reader sees the old or the new record.
      const tmp = `${path}.tmp`;
      rmSync(tmp, { force: true });
      createLockFile(tmp, { ...base, temporaryRoots });
      renameOver(tmp, path);
    },
  };
}

function renameOver(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    rmSync(from, { force: true });
    throw ioErrorFrom(e, 'update lease', to);
  }
}

/** true when there is no gc lock file, or a stale one was removed. */
function clearIfStaleOrAbsent(path: string): boolean {
  try {
    statSync(path);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return true;
  }
  return clearIfStale(path, Date.now());
}

/** The live leases and their temporary roots (what gc, holding the exclusive lock, must keep). */
export function liveLeases(storeRoot: string): LeaseInfo[] {
  const dir = join(storeRoot, LOCK_DIR);
  const out: LeaseInfo[] = [];
  for (const n of leaseFiles(dir)) {
    if (n.endsWith('.tmp')) continue;
    const owner = readOwner(join(dir, n));
    if (owner === undefined || !ownerAlive(owner)) continue;
    out.push({
      pid: owner.pid,
      purpose: owner.purpose,
      temporaryRoots: (owner.temporaryRoots ?? [])
        .map((t) => Digest.tryParse(t))
        .filter((d): d is Digest => d !== undefined),
    });
  }
  return out;
}

/** Runs `fn` under a shared lease, released however `fn` ends. */
export async function withLease<T>(
  storeRoot: string,
  options: LockOptions,
  fn: (lease: Lease) => Promise<T>,
): Promise<T> {
  const lease = acquireLease(storeRoot, options);
  try {
    return await fn(lease);
  } finally {
    lease.release();
  }
}

/** Runs `fn` under the exclusive lock, released however `fn` ends. */
export async function withExclusive<T>(
  storeRoot: string,
  options: LockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const lock = lockExclusive(storeRoot, options);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { tryParseCasName } from './cas-name.js';
import { Digest } from './digest.js';
import type { FileStore } from './file-store.js';
import { errnoOf } from './fs-util.js';
import type { Root } from './roots.js';

/** What a root stands for at this moment. */
export interface ResolvedRoot {
  readonly root: Root;
  /** The objects it keeps directly (their references are followed by gc). */
  readonly digests: Digest[];
  /** false for an indirect root whose file is gone: the root is released. */
  readonly alive: boolean;
}

/** How much of an indirect root's file is scanned for digests (a launcher is ~20 KB). */
const SCAN_BYTES = 1 << 20;
/** How many entries of an indirect root's directory are looked at. */
const MAX_DIR_ENTRIES = 100_000;

const DIGEST_TEXT = /(?:sha256:|objects\/sha256\/)([0-9a-f]{64})/g;

/**
 * The objects a root keeps. `object` and `name` roots keep their digest. An `indirect` root is a
 * path outside the store: gone means released; a symlink (at any depth) into the store keeps
 * the object it reaches; a regular file keeps the digests written in it (`sha256:<hex>` or
 * `objects/sha256/<hex>`, as in a launcher's slots) and those named in the root's note; a
 * directory keeps what its entries keep.
 */
export function resolveRoot(files: FileStore, root: Root): ResolvedRoot {
  switch (root.kind) {
    case 'object': {
      const d = Digest.tryParse(root.target);
      return { root, digests: d === undefined ? [] : [d], alive: true };
    }
    case 'name': {
      const n = tryParseCasName(root.target);
      return { root, digests: n === undefined ? [] : [n.digest], alive: true };
    }
    case 'indirect': {
      const out = new Set<string>();
      const alive = scanPath(files, root.target, out, { entries: 0 });
      if (alive) for (const d of digestsInText(root.note ?? '')) out.add(d);
      return { root, digests: [...out].map((d) => Digest.parse(d)), alive };
    }
  }
}

function digestsInText(text: string): string[] {
  return [...text.matchAll(DIGEST_TEXT)].map((m) => `sha256:${m[1]}`);
}

/** The digest of a store object path (after realpath), if it is one. */
function objectOfPath(files: FileStore, real: string): string | undefined {
  const dir = realObjectsDir(files);
  if (!real.startsWith(`${dir}/`)) return undefined;
  const hex = real.slice(dir.length + 1);
  return /^[0-9a-f]{64}$/.test(hex) ? `sha256:${hex}` : undefined;
}

const objectsDirCache = new WeakMap<FileStore, string>();
function realObjectsDir(files: FileStore): string {
  let dir = objectsDirCache.get(files);
  if (dir === undefined) {
    const path = files.layout.objectDir('sha256');
    try {
      dir = realpathSync(path);
    } catch {
      dir = path;
    }
    objectsDirCache.set(files, dir);
  }
  return dir;
}

/** Adds what `path` keeps to `out`; false if the path does not exist (or is a dangling link). */
function scanPath(files: FileStore, path: string, out: Set<string>, budget: { entries: number }): boolean {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return false;
    return true; // unreadable: alive, keeps what its note names
  }
  if (st.isSymbolicLink()) {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      return false; // dangling: released
    }
    const d = objectOfPath(files, real);
    if (d !== undefined) {
      out.add(d);
      return true;
    }
    const target = readlinkSync(path);
    for (const t of digestsInText(target)) out.add(t);
    return scanPath(files, real, out, budget);
  }
  if (st.isFile()) {
    const d = objectOfPath(files, path);
    if (d !== undefined) {
      out.add(d);
      return true;
    }
    try {
      const bytes = readFileSync(path);
      for (const t of digestsInText(bytes.subarray(0, SCAN_BYTES).toString('latin1'))) out.add(t);
    } catch {
      // unreadable: alive, keeps what its note names
    }
    return true;
  }
  if (st.isDirectory()) {
    let entries: string[] = [];
    try {
      entries = readdirSync(path);
    } catch {
      return true;
    }
    for (const e of entries) {
      if (++budget.entries > MAX_DIR_ENTRIES) break;
      scanPath(files, join(path, e), out, budget);
    }
    return true;
  }
  return true;
}

/**
 * Objects mapped or executed by running processes, found in /proc/<pid>/maps and /proc/<pid>/exe
 * (like Nix's runtime roots). Processes of other users are not readable and are missed.
 */
export function runtimeRoots(files: FileStore): Digest[] {
  const dir = realObjectsDir(files);
  const prefix = `${dir}/`;
  const out = new Set<string>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return [];
  }
  const take = (p: string) => {
    const path = p.endsWith(' (deleted)') ? p.slice(0, -10) : p;
    if (!path.startsWith(prefix)) return;
    const hex = path.slice(prefix.length);
    if (/^[0-9a-f]{64}$/.test(hex)) out.add(`sha256:${hex}`);
  };
  for (const pid of pids) {
    try {
      take(readlinkSync(`/proc/${pid}/exe`));
    } catch {
      // gone or not ours
    }
    let maps: string;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'latin1');
    } catch {
      continue;
    }
    if (!maps.includes(prefix)) continue;
    for (const line of maps.split('\n')) {
      const at = line.indexOf('/');
      if (at >= 0) take(line.slice(at));
    }
  }
  return [...out].map((d) => Digest.parse(d));
}

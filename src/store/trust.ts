import { lstatSync, readdirSync, readFileSync, realpathSync, type Stats } from 'node:fs';
import { join, sep } from 'node:path';
import { StoreError } from '../errors/index.js';

/**
 * The store rule (docs/threat-model.md), the same as native/trust.h checks in the resolver and
 * the launcher: a store is used only when every directory from / down to it, and its own
 * directories (objects/, objects/sha256/, names/, roots/, tmp/...), are owned by the user, by root or by an owner the administrator names in
 * /etc/cald/store-owners, and no one else can write them. A directory above the store may be
 * sticky and world-writable (/tmp): others cannot rename or remove what is not theirs there.
 */
export const STORE_OWNERS_FILE = '/etc/cald/store-owners';

/** The uids the administrator names (a root-owned file no one else can write), else none. */
export function adminOwners(file = STORE_OWNERS_FILE): ReadonlySet<number> {
  try {
    const st = lstatSync(file);
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o022) !== 0) return new Set();
    const uids = readFileSync(file, 'latin1')
      .split('\n')
      .map((l) => l.replace(/#.*/, '').replace(/[ \t]/g, ''))
      .filter((l) => /^[0-9]+$/.test(l))
      .map(Number);
    return new Set(uids);
  } catch {
    return new Set();
  }
}

export interface TrustOptions {
  /** The user the store must belong to (besides root and named owners); the effective uid by default. */
  readonly uid?: number;
  readonly owners?: ReadonlySet<number>;
}

/** What is wrong with one directory or file, or undefined when it may be trusted. */
function problem(st: Stats, uid: number, owners: ReadonlySet<number>, stickyOk: boolean): string | undefined {
  if (st.uid !== uid && st.uid !== 0 && !owners.has(st.uid)) {
    return `is owned by uid ${st.uid}; it must belong to you (uid ${uid}) or root (or an owner named in ${STORE_OWNERS_FILE})`;
  }
  if ((st.mode & 0o022) !== 0 && !(stickyOk && (st.mode & 0o1000) !== 0)) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    return `is writable by group or others (mode ${mode}); make it writable only by its owner (chmod go-w)`;
  }
  return undefined;
}

function untrusted(store: string, path: string, why: string): StoreError {
  return new StoreError('STORE_UNTRUSTED', `refusing the store ${store}: ${path} ${why}`, {
    hint: 'see docs/threat-model.md, "The store rule"',
    data: { store, path },
  });
}

/** The store's own directories; none when it cannot be listed (opening it then says why). */
function subdirectories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/**
 * Checks the store at `root` (absolute) and returns its real path; throws STORE_UNTRUSTED naming
 * the directory at fault and why. Directories below it that do not exist yet are skipped.
 */
export function checkStoreTrust(root: string, options: TrustOptions = {}): string {
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const owners = options.owners ?? adminOwners();
  let real: string;
  try {
    real = realpathSync(root);
  } catch {
    return root; // not there: nothing to trust yet (opening it reports what is missing)
  }
  const parts = real.split(sep).filter((p) => p !== '');
  // Every directory of the store itself (objects/, names/, roots/, tmp/...), and objects/sha256/.
  const below = [...subdirectories(real), join('objects', 'sha256')];
  const chain = ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
  for (const [i, dir] of chain.entries()) {
    let st: Stats;
    try {
      st = lstatSync(dir);
    } catch {
      throw untrusted(root, dir, 'cannot be examined');
    }
    const why = problem(st, uid, owners, i < chain.length - 1);
    if (why !== undefined) throw untrusted(root, dir, why);
  }
  for (const rel of below) {
    const dir = join(real, rel);
    let st: Stats;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (!st.isDirectory()) throw untrusted(root, dir, 'is not a directory');
    const why = problem(st, uid, owners, false);
    if (why !== undefined) throw untrusted(root, dir, why);
  }
  return real;
}

/** Characters that split or expand a search path (LD_LIBRARY_PATH, LD_AUDIT) or a shell line. */
export const SEARCH_PATH_SPECIALS = /[:;$\n]/;

/** Refuses a path that would reach a search path with a character ld.so reads specially. */
export function checkSearchPathSafe(path: string, what: string): void {
  if (SEARCH_PATH_SPECIALS.test(path)) {
    throw new StoreError(
      'STORE_PATH_UNSAFE',
      `${what} ${JSON.stringify(path)} contains ':', ';', '$' or a newline, which would split or expand the search path it goes into`,
      { hint: 'move it to a path without those characters', data: { path } },
    );
  }
}

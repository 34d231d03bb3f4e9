// cald checkout and cald diff: trees read back from the store (docs/trees.md).
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { CaldError, ioErrorFrom, isCaldError, UsageError } from '../errors/index.js';
import {
  acquireLease,
  type Digest,
  type FileStore,
  parseObjectRef,
  resolveObjectRef,
} from '../store/index.js';
import { type FlatEntry, flattenTree, looksLikeTree, type TreeEntry, TreeError } from '../tree/index.js';
import { makeDirs } from '../util/make-dirs.js';
import { openExisting, openReadOnly, type StoreSelection } from './store-open.js';

/** The tree a reference names: anything `cald path` takes, or the name given at import (root tree-NAME). */
function treeOf(files: FileStore, ref: string, cwd: string): Digest {
  let digest: Digest;
  try {
    digest = resolveObjectRef(files, parseObjectRef(ref), { cwd }).digest;
  } catch (e) {
    if (!isCaldError(e) || !e.code.startsWith('NOT_FOUND') || ref.includes('/') || ref.includes(':')) throw e;
    try {
      digest = resolveObjectRef(files, parseObjectRef(`tree-${ref}`), { cwd }).digest;
    } catch {
      throw e;
    }
  }
  const head = files.objects.readBytes(digest);
  if (!looksLikeTree(head)) {
    throw new TreeError('TREE_NOT_A_TREE', `${ref} names ${digest}, which is a file, not a tree`, {
      hint: 'give what cald import --tree printed',
    });
  }
  return digest;
}

async function flatten(files: FileStore, digest: Digest): Promise<FlatEntry[]> {
  return flattenTree((d) => files.objects.readBytes(d), digest);
}

export interface CheckoutOptions extends StoreSelection {
  tree: string;
  dir: string;
}

export interface CheckoutReport {
  tree: string;
  dir: string;
  /** Files made as hard links to their objects, files copied, symbolic links, directories. */
  linked: number;
  copied: number;
  links: number;
  dirs: number;
  /** Bytes of the files (each counted once per path). */
  bytes: number;
  /** The store root that keeps the tree's objects while the directory exists. */
  root: string;
}

/**
 * Lays a tree out in DIR (new, or an empty directory): files as hard links to their objects
 * where the store is on the same file system and the object's mode fits, copies otherwise;
 * everything read-only. An indirect root keeps the tree (and so its closure) while DIR exists.
 */
export async function checkout(options: CheckoutOptions): Promise<CheckoutReport> {
  const cwd = options.cwd ?? process.cwd();
  const dir = resolve(cwd, options.dir);
  if (existsSync(dir)) {
    if (!lstatSync(dir).isDirectory() || readdirSync(dir).length > 0)
      throw new UsageError(
        `${options.dir} exists and is not an empty directory; cald checkout makes a new one`,
      );
  }
  const existed = existsSync(dir);
  const { store } = await openExisting(options);
  // Lifecycle (docs/lifecycle.md): a shared lease keeps gc out until the checkout's root is recorded.
  let lease: ReturnType<typeof acquireLease> | undefined;
  try {
    const files = store.files;
    const digest = treeOf(files, options.tree, cwd);
    lease = acquireLease(store.root, { purpose: `checkout ${digest} ${dir}` });
    lease.addTemporaryRoots([digest]);
    const entries = await flatten(files, digest);
    const report = { linked: 0, copied: 0, links: 0, dirs: 1, bytes: 0 };
    const made: string[] = [dir];
    try {
      makeDirs(dir, 0o755);
      for (const { path, entry } of entries) {
        const to = dir + path;
        if (entry.kind === 'tree') {
          mkdirSync(to, { mode: 0o755 });
          made.push(to);
          report.dirs++;
        } else if (entry.kind === 'link') {
          symlinkSync(entry.target, to);
          report.links++;
        } else {
          placeFile(files, entry, path, to, report);
        }
      }
    } catch (e) {
      // Nothing half made is left behind: what this checkout created goes.
      for (const d of made) chmodSync(d, 0o755);
      if (existed)
        for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
      else rmSync(dir, { recursive: true, force: true });
      if (isCaldError(e)) throw e;
      throw ioErrorFrom(e, 'check out into', dir);
    }
    for (const d of made.reverse()) chmodSync(d, 0o555);
    const root = store.addRoot({
      kind: 'indirect',
      target: realpathSync(dir),
      note: `checkout of tree ${digest}`,
    });
    return { tree: digest.toString(), dir, ...report, root: root.id };
  } finally {
    lease?.release();
    store.close();
  }
}

function placeFile(
  files: FileStore,
  entry: Extract<TreeEntry, { kind: 'file' }>,
  path: string,
  to: string,
  report: { linked: number; copied: number; bytes: number },
): void {
  const object = files.pathOf(entry.digest);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(object);
  } catch {
    throw new CaldError(
      'TREE_OBJECT_MISSING',
      `${path}: its object ${entry.digest} is not in the store ${files.root}`,
      {
        hint: 'import the tree again (or pull it) into this store',
      },
    );
  }
  if (st.size !== entry.size)
    throw new CaldError(
      'TREE_SIZE_MISMATCH',
      `${path}: its object ${entry.digest} has ${st.size} bytes, the tree says ${entry.size}`,
      {
        hint: 'the object is damaged: cald verify --repair, or import the tree again',
      },
    );
  report.bytes += entry.size;
  const objectExec = (st.mode & 0o111) !== 0;
  if (objectExec === entry.executable) {
    try {
      linkSync(object, to);
      report.linked++;
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'EACCES') throw e;
    }
  }
  copyFileSync(object, to);
  chmodSync(to, entry.executable ? 0o555 : 0o444);
  report.copied++;
}

export interface DiffOptions extends StoreSelection {
  a: string;
  b: string;
}

export interface DiffSide {
  kind: 'file' | 'tree' | 'link';
  digest?: string;
  size?: number;
  executable?: boolean;
  target?: string;
}

export interface DiffReport {
  a: string;
  b: string;
  added: Array<{ path: string } & DiffSide>;
  removed: Array<{ path: string } & DiffSide>;
  /** A file's content, mode or kind, or a link's target, changed (directories are not listed: their changes are). */
  changed: Array<{ path: string; from: DiffSide; to: DiffSide }>;
}

function side(e: TreeEntry): DiffSide {
  if (e.kind === 'file')
    return { kind: 'file', digest: e.digest.toString(), size: e.size, executable: e.executable };
  if (e.kind === 'tree') return { kind: 'tree', digest: e.digest.toString() };
  return { kind: 'link', target: e.target };
}

/** What changed from tree A to tree B, by path; a subtree with the same digest on both sides is not read. */
export async function diffTrees(options: DiffOptions): Promise<DiffReport> {
  const { files, index } = await openReadOnly(options);
  index?.close();
  const cwd = options.cwd ?? process.cwd();
  const a = treeOf(files, options.a, cwd);
  const b = treeOf(files, options.b, cwd);
  const [left, right] = [await flatten(files, a), await flatten(files, b)];
  const l = new Map(left.map((x) => [x.path, x.entry]));
  const r = new Map(right.map((x) => [x.path, x.entry]));
  const report: DiffReport = { a: a.toString(), b: b.toString(), added: [], removed: [], changed: [] };
  const under = (path: string, set: Set<string>) => {
    for (let p = path.slice(0, path.lastIndexOf('/')); p !== ''; p = p.slice(0, p.lastIndexOf('/')))
      if (set.has(p)) return true;
    return false;
  };
  const addedDirs = new Set<string>();
  const removedDirs = new Set<string>();
  for (const { path, entry } of right) {
    const was = l.get(path);
    if (was === undefined) {
      if (under(path, addedDirs)) continue;
      if (entry.kind === 'tree') addedDirs.add(path);
      report.added.push({ path, ...side(entry) });
    } else if (entry.kind !== 'tree' || was.kind !== 'tree') {
      const [from, to] = [side(was), side(entry)];
      if (JSON.stringify(from) !== JSON.stringify(to)) report.changed.push({ path, from, to });
    }
  }
  for (const { path, entry } of left) {
    if (r.has(path) || under(path, removedDirs)) continue;
    if (entry.kind === 'tree') removedDirs.add(path);
    report.removed.push({ path, ...side(entry) });
  }
  const byPath = (x: { path: string }, y: { path: string }) =>
    x.path < y.path ? -1 : x.path > y.path ? 1 : 0;
  report.added.sort(byPath);
  report.removed.sort(byPath);
  report.changed.sort(byPath);
  return report;
}

// cald import --tree (and any .deb): a directory, a .deb file or installed Debian packages become
// one tree of objects (docs/trees.md). ELF files go through the closure importer first; every
// other file is stored as it is; every directory becomes a tree object.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { SnapshotFs } from '../closure/index.js';
import { ElfFile, isElf } from '../elf/read/index.js';
import { CaldError, ioErrorFrom, isCaldError, UsageError } from '../errors/index.js';
import { objectRefs } from '../importer/cald-note.js';
import { importClosure } from '../importer/import-closure.js';
import { acquireLease, type Digest, digestOfBuffer, formatCasName, type LocalStore } from '../store/index.js';
import {
  addNode,
  checkLinks,
  type DirNode,
  type FileNode,
  newDir,
  storeModel,
  TreeError,
  walkModel,
} from '../tree/index.js';
import { eachLimited } from '../util/each-limited.js';
import { hostProvidedTest, walkClosures, walkedInput } from './closure-walk.js';
import { AUDIT_LIBRARY_NAME, type ImportOptions, type ImportReport } from './import.js';
import { locate, openForWrite } from './store-open.js';

/** A Debian package name (with an optional :arch), as dpkg -L takes it. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?$/;
const ET_EXEC = 2;
const ET_DYN = 3;

function isDebFile(path: string): boolean {
  return path.endsWith('.deb') && existsSync(path);
}

function isInstalledPackage(word: string): boolean {
  if (!PACKAGE_NAME.test(word) || existsSync(word)) return false;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Status}', word], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

/** What is always imported as a tree: a .deb file, or a word that names no file but an installed package. */
export function isTreeSource(path: string): boolean {
  return isDebFile(path) || isInstalledPackage(path);
}

/** What the tree is made of: directories laid over one another at the tree's root. */
interface Source {
  /** The directory whose contents are the tree's root, or '/' for installed packages. */
  dir: string;
  /** For installed packages: only these paths (dpkg -L), else everything under dir. */
  only?: string[];
  label: string;
}

function walkDir(root: DirNode, dir: string, prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw ioErrorFrom(e, 'read the directory', dir);
  }
  for (const name of names.sort()) addPath(root, join(dir, name), `${prefix}/${name}`, true);
}

/** Adds the file system object at `real` to the tree at `inTree`; directories recursively when `deep`. */
function addPath(root: DirNode, real: string, inTree: string, deep: boolean): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(real);
  } catch (e) {
    throw ioErrorFrom(e, 'import', real);
  }
  if (st.isDirectory()) {
    addNode(root, inTree, newDir());
    if (deep) walkDir(root, real, inTree);
  } else if (st.isSymbolicLink()) {
    addNode(root, inTree, { kind: 'link', target: readlinkSync(real) });
  } else if (st.isFile()) {
    addNode(root, inTree, { kind: 'file', source: real, executable: (st.mode & 0o111) !== 0 });
  } else {
    throw new TreeError(
      'TREE_SPECIAL_FILE',
      `${real} is a device, socket or FIFO; a tree holds only files, directories and symbolic links`,
      {
        hint: 'remove it from the directory, or import a directory without it',
      },
    );
  }
}

function dpkgList(pkg: string): string[] {
  const r = spawnSync('dpkg', ['-L', pkg], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    throw new UsageError(
      `${pkg} is neither a file nor an installed Debian package (dpkg -L: ${(r.stderr || String(r.error)).trim().split('\n')[0]})`,
    );
  }
  return r.stdout.split('\n').filter((l) => l.startsWith('/') && l !== '/.');
}

function sourcesOf(paths: readonly string[], tmp: () => string): Source[] {
  return paths.map((p) => {
    if (existsSync(p) && lstatSync(p).isDirectory())
      return { dir: realpathSync(p), label: basename(realpathSync(p)) };
    if (isDebFile(p)) {
      const dir = join(tmp(), basename(p));
      const r = spawnSync('dpkg-deb', ['-x', p, dir], { encoding: 'utf8' });
      if (r.error !== undefined || r.status !== 0)
        throw new CaldError(
          'TREE_BAD_DEB',
          `${p} cannot be unpacked: ${(r.stderr || String(r.error)).trim().split('\n')[0]}`,
        );
      return {
        dir,
        label: basename(p)
          .replace(/_.*$/, '')
          .replace(/\.deb$/, ''),
      };
    }
    if (!existsSync(p) && PACKAGE_NAME.test(p))
      return { dir: '/', only: dpkgList(p), label: p.replace(/:.*$/, '') };
    if (existsSync(p))
      throw new UsageError(
        `${p} is not a directory, a .deb file or an installed package: a tree is made of one of those`,
      );
    throw ioErrorFrom(Object.assign(new Error('no such file'), { code: 'ENOENT' }), 'import', p);
  });
}

function buildModel(sources: readonly Source[]): DirNode {
  const root = newDir();
  for (const s of sources) {
    if (s.only === undefined) {
      walkDir(root, s.dir, '');
      continue;
    }
    // dpkg -L lists directories too; a listed path missing on disk was left out by dpkg's
    // path-exclude (documentation in minimal images) and is not part of what is installed.
    for (const p of s.only) if (existsSync(p) || isLink(p)) addPath(root, p, p, false);
  }
  checkLinks(root);
  return root;
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Whether a file is a dynamically linked ELF program or library (the rest is stored as it is). */
function isDynamicElf(path: string): boolean {
  let bytes: Buffer;
  try {
    const head = Buffer.alloc(4);
    const fd = openSync(path, 'r');
    try {
      if (readSync(fd, head, 0, 4, 0) < 4 || !isElf(head)) return false;
    } finally {
      closeSync(fd);
    }
    bytes = readFileSync(path);
  } catch (e) {
    throw ioErrorFrom(e, 'read', path);
  }
  try {
    const elf = ElfFile.parse(bytes);
    return (elf.header.type === ET_DYN || elf.header.type === ET_EXEC) && elf.dynamic !== undefined;
  } catch {
    return false;
  }
}

/** The standard library directories a tree may hold: searched (as LD_LIBRARY_PATH) before the host's. */
function treeLibraryDirs(sources: readonly Source[]): string[] {
  const sub = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'lib64', 'lib', 'usr/lib64', 'usr/lib'];
  return sources
    .filter((s) => s.only === undefined)
    .flatMap((s) => sub.map((d) => join(s.dir, d)))
    .filter((d) => existsSync(d));
}

/** How many files are written and synced at once (each fsync waits on the disk, on libuv's pool). */
const PARALLEL_WRITES = 8;

/**
 * Stores the files that are not ELF objects, by source path. Each is read once and hashed; a new
 * object is written into the store's tmp/, its data synced on the thread pool (several at once)
 * and adopted, with one sync of the objects directory at the end, before the trees that name them.
 * Bytes already stored (and files others cannot read, stored owner-only) go through put.
 */
async function storePlainFiles(
  store: LocalStore,
  nodes: readonly FileNode[],
): Promise<Map<string, { digest: Digest; size: number }>> {
  const out = new Map<string, { digest: Digest; size: number }>();
  const sources = [...new Map(nodes.map((n) => [n.source, n] as const)).values()];
  await eachLimited(sources, PARALLEL_WRITES, async (node) => {
    let bytes: Buffer;
    try {
      bytes = await readFile(node.source);
    } catch (e) {
      throw ioErrorFrom(e, 'read', node.source);
    }
    const digest = digestOfBuffer(bytes);
    out.set(node.source, { digest, size: bytes.length });
    const ownerOnly = (lstatSync(node.source).mode & 0o004) === 0;
    if (ownerOnly || store.files.objects.stat(digest) !== undefined) {
      await store.put(bytes, { executable: node.executable, ownerOnly, refs: [] });
      return;
    }
    const tmp = join(store.files.layout.tmp, `tree-${process.pid}-${randomBytes(8).toString('hex')}`);
    try {
      const file = await open(tmp, 'wx', 0o600);
      try {
        await file.writeFile(bytes);
        await file.sync();
      } finally {
        await file.close();
      }
      store.adopt(tmp, digest, { executable: node.executable, synced: true, syncDir: false, refs: [] });
    } catch (e) {
      if (isCaldError(e)) throw e;
      throw ioErrorFrom(e, 'store an object in', store.root);
    } finally {
      rmSync(tmp, { force: true });
    }
  });
  store.files.objects.syncDir();
  return out;
}

/** Imports the sources as one tree; the report's one imported entry is the tree. */
export async function importTree(options: ImportOptions): Promise<ImportReport> {
  if (options.paths.length === 0)
    throw new UsageError('nothing to import: give a directory, a .deb file or a package');
  const env = options.env ?? process.env;
  const location = locate({ store: options.store, env, cwd: process.cwd() });
  let tmpDir: string | undefined;
  const tmp = () => {
    tmpDir ??= mkdtempSync(join(tmpdir(), 'cald-tree-'));
    return tmpDir;
  };
  try {
    const sources = sourcesOf(options.paths, tmp);
    const model = buildModel(sources);
    const files = [...walkModel(model)].filter((e): e is [string, FileNode] => e[1].kind === 'file');

    // Real path -> the paths inside the tree where it appears (a file may be there twice).
    const elfPaths = new Map<string, string[]>();
    for (const [inTree, node] of files) {
      if (!isDynamicElf(node.source)) continue;
      const real = realpathSync(node.source);
      elfPaths.set(real, [...(elfPaths.get(real) ?? []), inTree]);
    }
    const fs = new SnapshotFs();
    const libDirs = treeLibraryDirs(sources).join(':');
    const roots = [...elfPaths.keys()].sort();
    const hostProvided = hostProvidedTest(options);
    const walk = walkClosures({
      roots,
      fs,
      ldLibraryPath: libDirs === '' ? undefined : libDirs,
      hostProvided,
    });

    const { store } = await openForWrite({ store: location.path, env });
    let lease: ReturnType<typeof acquireLease> | undefined;
    try {
      lease = acquireLease(store.root, { purpose: `import ${options.paths[0] ?? ''}` });
      const auditName = options.audit === true ? AUDIT_LIBRARY_NAME : undefined;
      const outcome = await importClosure(
        store,
        {
          ...walkedInput(walk, roots, fs, hostProvided, auditName),
          isPrivate: (p) => (walk.walked(p).mode & 0o004) === 0,
          tree: { pathsOf: (p) => elfPaths.get(p) ?? [] },
        },
        options.progress,
      );
      const elfDigest = new Map(outcome.objects.map((o) => [o.path, o.digest] as const));
      const sized = (digest: Digest) => ({ digest, size: store.files.objects.stat(digest)!.size });
      const plain = await storePlainFiles(
        store,
        files.map(([, node]) => node).filter((n) => !elfDigest.has(realpathSync(n.source))),
      );
      let trees = 0;
      const tree = await storeModel(
        model,
        (node) => {
          const d = elfDigest.get(realpathSync(node.source));
          return d !== undefined ? sized(d) : plain.get(node.source)!;
        },
        (bytes) => {
          trees++;
          return store.put(bytes, { refs: objectRefs(bytes) });
        },
      );
      // One word both a root id and a cas: hint can hold.
      const label = (options.names?.[0] ?? sources.map((s) => s.label).join('_'))
        .replace(/[^A-Za-z0-9._-]/g, '_')
        .replace(/\.\.+/g, '.')
        .slice(0, 100);
      lease.addTemporaryRoots([tree]);
      store.addRoot({
        kind: 'object',
        target: tree.toString(),
        id: `tree-${label}`,
        note: `tree ${label} from ${options.paths.join(' ')}`,
      });
      const uri = formatCasName(tree, label);
      return {
        store: store.root,
        imported: [{ path: options.paths.join(' '), uri, digest: tree.toString() }],
        objects: outcome.objects.length + plain.size + trees + (outcome.loader === undefined ? 0 : 1),
        loader:
          outcome.loader === undefined
            ? undefined
            : {
                path: outcome.loader.path,
                uri: outcome.loader.uri,
                digest: outcome.loader.digest.toString(),
              },
        hostProvided: outcome.keptNames
          .filter(([, n]) => !n.startsWith('ld-'))
          .map(([from, name]) => ({ from, name })),
        droppedCycleEdges: outcome.droppedCycleEdges.map(([from, name]) => ({ from, name })),
        warnings: [],
        programs: [],
        movedNames: [],
        hostFiles: [],
        tree: {
          digest: tree.toString(),
          uri,
          root: `tree-${label}`,
          files: files.length,
          elfFiles: elfPaths.size,
        },
      };
    } finally {
      lease?.release();
      store.close();
    }
  } finally {
    if (tmpDir !== undefined) rmSync(tmpDir, { recursive: true, force: true });
  }
}

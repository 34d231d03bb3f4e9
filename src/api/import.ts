import { closeSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openRegular, readAt, SnapshotFs } from '../closure/index.js';
import { isElf } from '../elf/read/index.js';
import { CaldError, ioErrorFrom, UsageError } from '../errors/index.js';
import { type ImportProgress, importClosure } from '../importer/import-closure.js';
import { acquireLease } from '../store/index.js';
import { BufferPool } from '../util/buffer-pool.js';
import { hostProvidedTest, walkClosures, walkedInput } from './closure-walk.js';
import { importScripts, isScriptFile } from './import-script.js';
import { importTree, isTreeSource } from './import-tree.js';
import { checkProgramName, type NamingResult, nameImports } from './program-names.js';
import { locate, openForWrite } from './store-open.js';

export { DEFAULT_HOST_PROVIDED } from './closure-walk.js';

/**
 * Memory of files already written kept for the next reads, at most: about what is in use at once
 * (the walk keeps up to 64 MiB of files whole, the batch writes up to 64 MiB at a time).
 */
const READ_POOL_BYTES = 128 * 1024 * 1024;

/**
 * Files the walk keeps whole for the rewrite, at most (the other walks keep SNAPSHOT_BUDGET). What
 * the walk keeps is fresh memory, taken before any file is written and gives memory back; the
 * rewrite reads the rest into memory the files already written gave back. With 8 MiB instead of
 * 64 an import of ffmpeg made 28 K page faults instead of 40 K (~35 ms of CPU here: a first touch
 * costs ~2.6 us a page in this VM), with the same reads of the same bytes.
 */
const WALK_KEEPS_BYTES = 8 * 1024 * 1024;

export interface ImportOptions {
  /** Programs, libraries, or directories (every ELF file under them). */
  paths: readonly string[];
  /** Extra files a program dlopens, imported with it. */
  with?: readonly string[];
  /** Store directory; default CALD_STORE, then the XDG data directory. */
  store?: string;
  /** Globs on a library's file name (or full path) that stay host-provided, added to the defaults. */
  exclude?: readonly string[];
  /** Turn off DEFAULT_HOST_PROVIDED. */
  noDefaultExcludes?: boolean;
  /** Search LD_LIBRARY_PATH as the loader would (off by default: imports should not depend on a shell). */
  useLdLibraryPath?: boolean;
  env?: Readonly<Record<string, string | undefined>>;
  progress?: ImportProgress;
  /**
   * Give imported programs DT_AUDIT = /usr/local/lib/libcald-audit.so, so they run with no
   * environment once the audit library is installed there (`cald install-audit`), and the audit
   * sentinel as their first DT_NEEDED, so they refuse to start without it (docs/threat-model.md).
   */
  audit?: boolean;
  /** Names for the one program imported (`--name`), instead of those of its path. */
  names?: readonly string[];
  /**
   * Import files that other users cannot read. They are then stored readable by the store's owner
   * only, and their directories mirrored under paths/ with their own restrictions. Without it such
   * a file is refused when the store is one that others can reach (docs/import.md).
   */
  allowPrivate?: boolean;
  /** Import directories as one tree (a .deb, or an installed Debian package named by a word that is no path, always is one): docs/trees.md. */
  tree?: boolean;
}

/**
 * The audit library imported programs name in DT_AUDIT: where `cald install-audit` puts it. An
 * absolute path, because ld.so searches a bare DT_AUDIT name along LD_LIBRARY_PATH first, where
 * another user's directory could hold a libcald-audit.so whose constructor would run.
 */
export const AUDIT_LIBRARY_NAME = '/usr/local/lib/libcald-audit.so';

export interface ImportedFile {
  path: string;
  uri: string;
  digest: string;
}

export interface ImportReport {
  store: string;
  /** The files asked for, in order. */
  imported: ImportedFile[];
  /** Every object stored (the whole closure), dependencies first. */
  objects: number;
  loader: ImportedFile | undefined;
  hostProvided: Array<{ from: string; name: string }>;
  droppedCycleEdges: Array<{ from: string; name: string }>;
  warnings: string[];
  /** The programs given, with the names they answer to (api/program-names.ts). */
  programs: NamingResult['programs'];
  /** Names taken from older imports. */
  movedNames: NamingResult['moved'];
  /** Host directories the programs probably read at run time, which stay host files. */
  hostFiles: NamingResult['hostFiles'];
  /** For a tree import: the tree, the root that keeps it, and how many files (ELF files) it holds. */
  tree?: { digest: string; uri: string; root: string; files: number; elfFiles: number };
}

/** The first bytes of a file, read without blocking; empty for anything but a regular file. */
function readHead(path: string): Buffer {
  let opened: ReturnType<typeof openRegular>;
  try {
    opened = openRegular(path);
  } catch {
    return Buffer.alloc(0);
  }
  try {
    return readAt(opened.fd, Number(opened.st.size), 0, 4);
  } finally {
    closeSync(opened.fd);
  }
}

/** Every ELF file under a directory, sorted, each real file once. */
function elfFilesUnder(dir: string): string[] {
  const out = new Set<string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        if (isElf(readHead(p))) out.add(realpathSync(p));
      }
    }
  };
  walk(dir);
  return [...out];
}

function expandPaths(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch (e) {
      throw ioErrorFrom(e, 'import', p);
    }
    if (st.isDirectory()) {
      const found = elfFilesUnder(p);
      if (found.length === 0) throw new UsageError(`${p} holds no ELF files to import`);
      files.push(...found);
    } else {
      files.push(realpathSync(p));
    }
  }
  return [...new Set(files)];
}

function privateSourceError(path: string, count: number, store: string): CaldError {
  const more = count > 1 ? ` (and ${count - 1} more)` : '';
  return new CaldError(
    'IMPORT_PRIVATE_SOURCE',
    `${path} cannot be read by other users, but the store ${store} can${more}`,
    {
      hint: 'pass --allow-private to store it readable by you only, or make it readable by others first',
      data: { path, store },
    },
  );
}

/**
 * Who can read what: a file is private when others cannot read it (no o+r on the file, or no o+x
 * on a directory above it). Directory modes are looked up once each.
 */
class Privacy {
  private readonly modes = new Map<string, number>();

  dirMode(dir: string): number {
    let m = this.modes.get(dir);
    if (m === undefined) {
      try {
        m = statSync(dir).mode & 0o7777;
      } catch {
        m = 0o700;
      }
      this.modes.set(dir, m);
    }
    return m;
  }

  private readonly reach = new Map<string, boolean>();

  /** Whether others can reach the real directory `dir`: it and every directory above searchable by others. */
  private reaches(dir: string): boolean {
    let r = this.reach.get(dir);
    if (r === undefined) {
      r = (this.dirMode(dir) & 0o001) !== 0 && (dir === dirname(dir) || this.reaches(dirname(dir)));
      this.reach.set(dir, r);
    }
    return r;
  }

  /** Whether others can reach `path` (a store yet to be made: its nearest existing parent). */
  othersReach(path: string): boolean {
    let d = path;
    for (;;) {
      try {
        return this.reaches(realpathSync(d));
      } catch {
        if (d === dirname(d)) return false;
        d = dirname(d);
      }
    }
  }

  /** A file at the real path `realPath` with permission bits `mode`. */
  isPrivate(realPath: string, mode: number): boolean {
    return (mode & 0o004) === 0 || !this.reaches(dirname(realPath));
  }
}

/**
 * Imports programs and libraries with their whole closure into the store, bottom-up, and returns
 * their content names. The closure is what ld.so would load on this machine.
 */
export async function importFiles(options: ImportOptions): Promise<ImportReport> {
  if (options.paths.length === 0)
    throw new UsageError('nothing to import: give a program, library or directory');
  if (options.tree === true || options.paths.some(isTreeSource)) return importTree(options);
  for (const name of options.names ?? []) checkProgramName(name);
  // Scripts (#! files) have their own importer (import-script.ts), which brings the rest here.
  const scripts = options.paths.filter(isScriptFile);
  if (scripts.length > 0) return importScripts(options, scripts, importFiles);
  const env = options.env ?? process.env;
  const location = locate({ store: options.store, env, cwd: process.cwd() });
  const roots = expandPaths([...options.paths, ...(options.with ?? [])]);
  const hostProvided = hostProvidedTest(options);
  // Every file is read once, by the walk; the rewrite works on those very bytes, in memory given
  // back by the files already written (about the batch's bytes in flight plus the walk's budget).
  const buffers = new BufferPool(READ_POOL_BYTES);
  const fs = new SnapshotFs(undefined, WALK_KEEPS_BYTES, (size, capacity) => buffers.take(size, capacity));
  const walk = walkClosures({
    roots,
    fs,
    ldLibraryPath: options.useLdLibraryPath === true ? env.LD_LIBRARY_PATH : undefined,
    hostProvided,
  });
  const { walkedAs, warnings, walked } = walk;
  const privacy = new Privacy();
  const privateFiles = [...walkedAs.keys()].filter((p) => privacy.isPrivate(p, walked(p).mode));
  if (privateFiles.length > 0 && options.allowPrivate !== true && privacy.othersReach(location.path)) {
    throw privateSourceError(privateFiles[0]!, privateFiles.length, location.path);
  }

  const { store } = await openForWrite({ store: location.path, env });
  // Lifecycle (docs/lifecycle.md): a shared lease keeps gc out until the roots are recorded.
  let lease: ReturnType<typeof acquireLease> | undefined;
  try {
    lease = acquireLease(store.root, { purpose: `import ${roots[0] ?? ''}` });
    const auditName = options.audit === true ? AUDIT_LIBRARY_NAME : undefined;
    const outcome = await importClosure(
      store,
      {
        // The walked bytes themselves, or one read checked against them (SnapshotFs.source).
        ...walkedInput(walk, roots, fs, hostProvided, auditName),
        readFileAsync: async (p) => (await fs.sourceAsync(walked(p).path))!.bytes,
        readAhead: (p) => fs.prefetch(walked(p).path),
        // Each file's buffer is its own (readSource) and rewritten once, after its last reader.
        rewriteInPlace: true,
        releaseBytes: (bytes) => buffers.release(bytes),
        isPrivate: (p) => privacy.isPrivate(p, walked(p).mode),
        dirMode: (d) => privacy.dirMode(d),
      },
      options.progress,
    );
    lease.addTemporaryRoots(outcome.roots.map((r) => r.digest));
    const naming = nameImports(store.roots, outcome.roots, options.paths, {
      ...(options.names === undefined ? {} : { names: options.names }),
    });
    const file = (o: { path: string; uri: string; digest: { toString(): string } }): ImportedFile => ({
      path: o.path,
      uri: o.uri,
      digest: o.digest.toString(),
    });
    return {
      store: store.root,
      imported: outcome.roots.map(file),
      objects: outcome.objects.length,
      loader: outcome.loader === undefined ? undefined : file(outcome.loader),
      hostProvided: outcome.keptNames
        .filter(([, n]) => !n.startsWith('ld-'))
        .map(([from, name]) => ({ from, name })),
      droppedCycleEdges: outcome.droppedCycleEdges.map(([from, name]) => ({ from, name })),
      warnings,
      programs: naming.programs,
      movedNames: naming.moved,
      hostFiles: naming.hostFiles,
    };
  } finally {
    lease?.release();
    store.close();
  }
}

import {
  chmodSync,
  closeSync,
  fchmodSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, isAbsolute, join, normalize, relative, resolve } from 'node:path';
import { BadNameError, ioErrorFrom, isCaldError, StoreError, StoreIntegrityError } from '../errors/index.js';
import { formatCasName, parseCasName } from './cas-name.js';
import {
  createHasher,
  DEFAULT_ALGORITHM,
  Digest,
  type DigestAlgorithm,
  digestAndSizeOfFile,
  digestOfBuffer,
  READ_CHUNK,
} from './digest.js';
import {
  errnoOf,
  fsyncDir,
  makeDirs,
  readdirOrEmpty,
  tempPath,
  unlinkDurably,
  writeAll,
  writeFileAtomic,
} from './fs-util.js';
import { isHalfMadeStore } from './half-made.js';
import {
  DIR_MODE,
  EXECUTABLE_OBJECT_MODE,
  LAYOUT_VERSION,
  MARKER_FILE,
  MARKER_TEXT,
  nameTarget,
  OBJECT_MODE,
  OWNER_ONLY_MASK,
  type StoreLayout,
  storeLayout,
} from './layout.js';
import type { LocalObjectStore, ObjectInfo, PutOptions, PutSource } from './object-store.js';
import { checkRootId, makeRoot, type Root, type RootSpec, rootFromJson } from './roots.js';
import { checkStoreTrust } from './trust.js';

export interface OpenFileStoreOptions {
  /** Create the store (and missing parent directories) if the path does not exist or is an empty directory. */
  readonly create?: boolean;
  /** Open without creating or changing anything; every write then throws STORE_READ_ONLY. */
  readonly readOnly?: boolean;
}

/**
 * The on-disk store (docs/store-layout.md). Objects are immutable read-only files named by
 * their digest; names are relative symlinks named exactly like DT_NEEDED strings; roots are
 * small JSON files. Every write is atomic (temp file in `tmp/`, fsync, rename, fsync of the
 * directory), so a crash leaves either nothing or a complete file.
 *
 * File operations are synchronous inside async methods: cald is a CLI, sync calls are the
 * fastest way to hash and copy here, and they keep each write's steps in one uninterrupted order.
 */
/** How FileStore.adoptTemp may skip work its caller has done or will do for many files at once. */
export interface AdoptOptions {
  readonly executable?: boolean;
  /** Readable by the store's owner only (as PutOptions.ownerOnly). */
  readonly ownerOnly?: boolean;
  /** The caller has fsynced the file's data already. */
  readonly synced?: boolean;
  /** false: leave the directory fsync to one syncObjectDir() after a batch. */
  readonly syncDir?: boolean;
}

export class FileStore implements LocalObjectStore {
  readonly layout: StoreLayout;

  private constructor(
    readonly root: string,
    readonly readOnly: boolean,
  ) {
    this.layout = storeLayout(root);
  }

  /** Opens (or creates) the store at `path`. Every refusal is one StoreError line. */
  static open(path: string, options: OpenFileStoreOptions = {}): FileStore {
    const root = resolve(path);
    const create = options.create ?? false;
    const readOnly = options.readOnly ?? false;
    let st = statOrUndefined(root);
    if (st === undefined) {
      if (!create) {
        throw new StoreError('STORE_NOT_FOUND', `no store at ${root}`, {
          hint: 'cald import creates it; or point --store / CALD_STORE at an existing store',
          data: { store: root },
        });
      }
      try {
        makeDirs(root, DIR_MODE);
        chmodSync(root, DIR_MODE);
      } catch (e) {
        throw ioErrorFrom(e, 'create store directory', root);
      }
      st = statSync(root);
    }
    if (!st.isDirectory()) {
      throw new StoreError('STORE_NOT_DIRECTORY', `store path ${root} is not a directory`, {
        hint: 'point --store / CALD_STORE at a directory',
        data: { store: root },
      });
    }
    checkStoreTrust(root);
    let entries: string[];
    try {
      entries = readdirSync(root);
    } catch (e) {
      throw new StoreError('STORE_UNREADABLE', ioErrorFrom(e, 'read store directory', root).message, {
        hint: 'check the directory permissions',
        data: { store: root },
        cause: e,
      });
    }
    const store = new FileStore(root, readOnly);
    if (entries.includes(MARKER_FILE)) {
      store.checkMarker();
      if (!readOnly) store.ensureDirectories();
      return store;
    }
    // No marker: an empty directory, or one an interrupted creation left (completed here, by
    // whichever process comes next; creators running at once all finish it the same way).
    const halfMade = entries.length > 0 && isHalfMadeStore(root, entries);
    if (entries.length > 0 && !halfMade) {
      throw new StoreError('STORE_NOT_A_STORE', `${root} is a non-empty directory but not a cald store`, {
        hint: `a store has a "${MARKER_FILE}" file; choose an empty or new directory`,
        data: { store: root },
      });
    }
    if (!create) {
      throw new StoreError(
        'STORE_NOT_FOUND',
        `no store at ${root} (${halfMade ? 'its creation was interrupted' : 'empty directory'})`,
        {
          hint: halfMade ? 'cald import completes it' : 'cald import creates it',
          data: { store: root },
        },
      );
    }
    if (readOnly) {
      throw new StoreError('STORE_READ_ONLY', `cannot create a store at ${root} when opened read-only`, {
        data: { store: root },
      });
    }
    store.ensureDirectories();
    store.writeMarker();
    return store;
  }

  // --- objects -----------------------------------------------------------------------------

  pathOf(digest: Digest): string {
    return join(this.layout.objectDir(digest.algorithm), digest.hex);
  }

  async has(digest: Digest): Promise<boolean> {
    return this.statSync(digest) !== undefined;
  }

  async stat(digest: Digest): Promise<ObjectInfo | undefined> {
    return this.statSync(digest);
  }

  statSync(digest: Digest): ObjectInfo | undefined {
    const path = this.pathOf(digest);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return undefined;
      throw ioErrorFrom(e, 'stat object', path);
    }
    if (!st.isFile()) {
      throw new StoreIntegrityError(
        'INTEGRITY_NOT_A_FILE',
        `object ${digest} is not a regular file: ${path}`,
        {
          hint: 'something other than cald wrote into the store; run cald verify',
          data: { store: this.root, digest: digest.toString(), path },
        },
      );
    }
    return infoOf(digest, st);
  }

  async read(digest: Digest): Promise<Buffer> {
    return this.readSync(digest);
  }

  /** The object's bytes, verified against the digest. */
  readSync(digest: Digest): Buffer {
    const path = this.pathOf(digest);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') throw this.missing(digest);
      throw ioErrorFrom(e, 'read object', path);
    }
    const actual = digestOfBuffer(bytes, digest.algorithm);
    if (!actual.equals(digest)) {
      throw new StoreIntegrityError(
        'INTEGRITY_CORRUPT_OBJECT',
        `object ${digest} is corrupt: its content hashes to ${actual}`,
        {
          hint: 'run cald verify --repair',
          data: { store: this.root, digest: digest.toString(), actual: actual.toString(), path },
        },
      );
    }
    return bytes;
  }

  async put(source: PutSource, options: PutOptions = {}): Promise<Digest> {
    return this.putSync(source, options);
  }

  /**
   * Stores bytes. The digest is computed from the bytes themselves; for a file it is computed
   * once before and once while copying, so a file that changes meanwhile is refused
   * (INTEGRITY_SOURCE_CHANGED) rather than stored under a wrong name. An object already stored
   * is re-hashed: if intact it is kept as it is, if damaged it is replaced by the new bytes.
   */
  putSync(source: PutSource, options: PutOptions = {}): Digest {
    this.assertWritable();
    const algorithm = options.expect?.algorithm ?? DEFAULT_ALGORITHM;
    const isPath = !(source instanceof Uint8Array);
    const digest = isPath
      ? digestAndSizeOfFile(source.path, algorithm).digest
      : digestOfBuffer(source, algorithm);
    if (options.expect !== undefined && !options.expect.equals(digest)) {
      throw new StoreIntegrityError(
        'INTEGRITY_MISMATCH',
        `${isPath ? source.path : 'the bytes'} hash to ${digest}, not the expected ${options.expect}`,
        { data: { expected: options.expect.toString(), actual: digest.toString() } },
      );
    }
    const mode = objectMode(options);
    const final = this.pathOf(digest);
    if (this.existingIsIntact(digest, final, mode)) return digest;

    const tmp = tempPath(this.layout.tmp, 'object');
    try {
      const fd = this.openTemp(tmp);
      try {
        if (isPath) this.copyVerified(source.path, fd, digest);
        else writeAll(fd, source);
        fchmodSync(fd, mode);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, final);
      fsyncDir(this.layout.objectDir(algorithm));
    } catch (e) {
      rmSync(tmp, { force: true });
      if (isCaldError(e)) throw e;
      throw ioErrorFrom(e, 'store an object in', this.root);
    }
    return digest;
  }

  /**
   * Makes a file this process wrote in the store's tmp/ the object `digest`, without copying it:
   * for bytes whose digest the caller computed from exactly what it wrote (a download hashed
   * as it streamed in). The file is made read-only, synced and renamed into objects/; an intact
   * object already there wins and the file is removed.
   */
  adoptTemp(tmp: string, digest: Digest, options: AdoptOptions = {}): void {
    this.assertWritable();
    if (dirname(resolve(tmp)) !== this.layout.tmp) {
      throw new StoreError('STORE_NOT_TEMP', `${tmp} is not in the store's tmp/ directory`, {
        data: { path: tmp },
      });
    }
    const mode = objectMode(options);
    const final = this.pathOf(digest);
    try {
      if (this.existingIsIntact(digest, final, mode)) {
        rmSync(tmp, { force: true });
        return;
      }
      const fd = openSync(tmp, 'r');
      try {
        fchmodSync(fd, mode);
        if (options.synced !== true) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, final);
      if (options.syncDir !== false) fsyncDir(this.layout.objectDir(digest.algorithm));
    } catch (e) {
      rmSync(tmp, { force: true });
      if (isCaldError(e)) throw e;
      throw ioErrorFrom(e, 'store an object in', this.root);
    }
  }

  /**
   * Whether `digest` is stored and intact (re-hashed), its mode widened as a put of the same bytes
   * with these options would: a writer that knows the digest of its bytes need not write them again.
   */
  hasIntact(
    digest: Digest,
    options: { readonly executable?: boolean; readonly ownerOnly?: boolean } = {},
  ): boolean {
    this.assertWritable();
    return this.existingIsIntact(digest, this.pathOf(digest), objectMode(options));
  }

  /**
   * Makes the renames of objects adopted with `syncDir: false` durable: one directory fsync for
   * many objects. Call it before anything that names them (a name, a root) is written.
   */
  syncObjectDir(algorithm: DigestAlgorithm = DEFAULT_ALGORITHM): void {
    try {
      fsyncDir(this.layout.objectDir(algorithm));
    } catch (e) {
      throw ioErrorFrom(e, 'sync the objects of', this.root);
    }
  }

  async *list(): AsyncIterable<Digest> {
    yield* this.listSync();
  }

  /** Every well-named object file; anything else under objects/ is skipped (cald verify reports it). */
  listSync(algorithm: DigestAlgorithm = DEFAULT_ALGORITHM): Digest[] {
    const dir = this.layout.objectDir(algorithm);
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      throw ioErrorFrom(e, 'list objects in', dir);
    }
    const out: Digest[] = [];
    for (const hex of entries) {
      const d = Digest.tryParse(`${algorithm}:${hex}`);
      if (d !== undefined) out.push(d);
    }
    return out;
  }

  /** Removes an object and every name that points at it (names first, so none dangles). */
  async delete(digest: Digest): Promise<boolean> {
    return this.deleteSync(digest);
  }

  deleteSync(digest: Digest): boolean {
    this.assertWritable();
    for (const name of this.namesOf(digest)) this.removeNameSync(name);
    const path = this.pathOf(digest);
    try {
      unlinkSync(path);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return false;
      throw ioErrorFrom(e, 'delete object', path);
    }
    fsyncDir(this.layout.objectDir(digest.algorithm));
    return true;
  }

  // --- names -------------------------------------------------------------------------------

  /**
   * Adds `<store>/names/<name>` → `../objects/<alg>/<hex>` for a stored object and returns the
   * name. Accepts a cas name string or a digest plus optional hint. Idempotent.
   */
  addName(name: string): string;
  addName(digest: Digest, hint?: string): string;
  addName(nameOrDigest: string | Digest, hint?: string): string {
    this.assertWritable();
    const name = typeof nameOrDigest === 'string' ? nameOrDigest : formatCasName(nameOrDigest, hint);
    if (this.linkName(name)) this.syncNames();
    return name;
  }

  /**
   * addName for many names, with one fsync of names/ for all of them (after their objects'
   * renames were made durable: FileStore.syncObjectDir).
   */
  addNames(names: Iterable<string>): void {
    this.assertWritable();
    let changed = false;
    for (const name of names) changed = this.linkName(name) || changed;
    if (changed) this.syncNames();
  }

  /** Makes one name entry; false when it was there already. The caller syncs names/. */
  private linkName(name: string): boolean {
    const { digest } = parseCasName(name);
    if (this.statSync(digest) === undefined) throw this.missing(digest, name);
    const entry = join(this.layout.names, name);
    const target = nameTarget(digest.algorithm, digest.hex);
    if (readlinkOrUndefined(entry) === target) return false;
    try {
      placeLink(target, entry, () => tempPath(this.layout.tmp, 'name'));
    } catch (e) {
      throw ioErrorFrom(e, 'add name in', this.layout.names);
    }
    return true;
  }

  private syncNames(): void {
    try {
      fsyncDir(this.layout.names);
    } catch (e) {
      throw ioErrorFrom(e, 'add name in', this.layout.names);
    }
  }

  /**
   * Records that the file at `original` (an absolute, normalized path) was imported as `digest`:
   * `<store>/paths<original>` becomes a relative link to the object, so the resolver can answer a
   * dlopen of that path with the object. A later import of the same path replaces the entry.
   * `dirMode` gives the mode of each directory of `original` (from the top, '/' excluded): the
   * mirrored directories then keep the source's restrictions (never more than DIR_MODE), so a
   * private directory's contents are not listed to others under paths/.
   */
  addPath(original: string, digest: Digest, options: { dirMode?: (dir: string) => number } = {}): string {
    this.assertWritable();
    return this.linkPath(original, digest, options, new Set());
  }

  /** addPath for many files: each directory under paths/ is made and given its mode once. */
  addPaths(
    entries: Iterable<readonly [original: string, digest: Digest]>,
    options: { dirMode?: (dir: string) => number } = {},
  ): void {
    this.assertWritable();
    const prepared = new Set<string>();
    for (const [original, digest] of entries) this.linkPath(original, digest, options, prepared);
  }

  private linkPath(
    original: string,
    digest: Digest,
    options: { dirMode?: (dir: string) => number },
    prepared: Set<string>,
  ): string {
    if (
      !isAbsolute(original) ||
      normalize(original) !== original ||
      original.includes('\0') ||
      original === '/'
    ) {
      throw new BadNameError(
        'NAME_BAD_PATH',
        `not an absolute, normalized file path: ${JSON.stringify(original)}`,
        {
          hint: 'give the real path of the imported file',
        },
      );
    }
    if (this.statSync(digest) === undefined) throw this.missing(digest, original);
    const entry = join(this.layout.paths, original);
    const target = relative(dirname(entry), join(this.layout.objectDir(digest.algorithm), digest.hex));
    if (readlinkOrUndefined(entry) === target) return entry;
    try {
      if (!prepared.has(dirname(original))) {
        if (options.dirMode === undefined) makeDirs(dirname(entry), DIR_MODE);
        else {
          // Made owner-only first, then given each source directory's mode: nothing shows meanwhile.
          makeDirs(dirname(entry), 0o700);
          for (let d = dirname(original); d !== '/'; d = dirname(d)) {
            chmodSync(join(this.layout.paths, d), DIR_MODE & options.dirMode(d));
          }
        }
        prepared.add(dirname(original));
      }
      placeLink(target, entry, () => tempPath(this.layout.tmp, 'path'));
    } catch (e) {
      throw ioErrorFrom(e, 'record the path of an imported file in', this.layout.paths);
    }
    return entry;
  }

  /** The digest recorded for an imported file's original path, if any. */
  resolvePath(original: string): Digest | undefined {
    if (!isAbsolute(original)) return undefined;
    const target = readlinkOrUndefined(join(this.layout.paths, normalize(original)));
    const m = target === undefined ? null : /objects\/(sha256)\/([0-9a-f]{64})$/.exec(target);
    return m === null ? undefined : Digest.from(m[1]!, m[2]!);
  }

  /** The valid `cas:` names in the name directory, sorted. Other entries are skipped. */
  listNames(): string[] {
    const entries = readdirOrEmpty(this.layout.names);
    return entries.filter((n) => this.resolveName(n) !== undefined).sort();
  }

  /**
   * The digest a name entry stands for, if the entry exists and is exactly the link cald makes
   * (a malformed name or a link pointing anywhere else gives undefined).
   */
  resolveName(name: string): Digest | undefined {
    let parsed: ReturnType<typeof parseCasName>;
    try {
      parsed = parseCasName(name);
    } catch {
      return undefined;
    }
    const { digest } = parsed;
    return readlinkOrUndefined(join(this.layout.names, name)) === nameTarget(digest.algorithm, digest.hex)
      ? digest
      : undefined;
  }

  /** Removes a name entry; false if there was none. Malformed names throw BadNameError. */
  removeName(name: string): boolean {
    this.assertWritable();
    parseCasName(name);
    return this.removeNameSync(name);
  }

  private removeNameSync(name: string): boolean {
    return unlinkDurably(join(this.layout.names, name), 'remove name');
  }

  /** Name entries for one object: the bare name and every hinted one. */
  private namesOf(digest: Digest): string[] {
    const bare = formatCasName(digest);
    const entries = readdirOrEmpty(this.layout.names);
    return entries.filter((n) => n === bare || n.startsWith(`${bare}?`));
  }

  // --- roots -------------------------------------------------------------------------------

  /** Records a root as `<store>/roots/<id>` (JSON, written atomically). Returns it with its id. */
  addRoot(spec: RootSpec, now: number = Date.now()): Root {
    this.assertWritable();
    const existing = spec.id === undefined ? undefined : this.readRoot(spec.id);
    const root = makeRoot(spec, existing?.added ?? now);
    const path = join(this.layout.roots, root.id);
    try {
      writeFileAtomic(
        path,
        this.layout.roots,
        this.layout.tmp,
        Buffer.from(`${JSON.stringify(root)}\n`),
        0o644,
      );
    } catch (e) {
      throw ioErrorFrom(e, 'write root', path);
    }
    return root;
  }

  removeRoot(id: string): boolean {
    this.assertWritable();
    checkRootId(id);
    return unlinkDurably(join(this.layout.roots, id), 'remove root');
  }

  /** Every valid root, sorted by id (unreadable or malformed root files are skipped). */
  listRoots(): Root[] {
    const entries = readdirOrEmpty(this.layout.roots);
    return entries
      .sort()
      .map((id) => this.readRoot(id))
      .filter((r): r is Root => r !== undefined);
  }

  private readRoot(id: string): Root | undefined {
    try {
      const root = rootFromJson(readFileSync(join(this.layout.roots, id), 'utf8'));
      return root.id === id ? root : undefined;
    } catch {
      return undefined;
    }
  }

  // --- maintenance -------------------------------------------------------------------------

  /**
   * Removes temp files older than `maxAgeMs` (left by crashed writers). Younger ones may belong
   * to a write in progress in another process and are left alone. Returns how many were removed.
   */
  cleanTemp(maxAgeMs: number, now: number = Date.now()): number {
    this.assertWritable();
    let removed = 0;
    for (const entry of readdirOrEmpty(this.layout.tmp)) {
      const path = join(this.layout.tmp, entry);
      const st = statOrUndefined(path, true);
      if (st !== undefined && now - st.mtimeMs > maxAgeMs) {
        rmSync(path, { force: true, recursive: true });
        removed++;
      }
    }
    return removed;
  }

  // --- internals ---------------------------------------------------------------------------

  private assertWritable(): void {
    if (this.readOnly) {
      throw new StoreError('STORE_READ_ONLY', `the store at ${this.root} was opened read-only`, {
        data: { store: this.root },
      });
    }
  }

  private missing(digest: Digest, name?: string): StoreError {
    return new StoreError('STORE_OBJECT_MISSING', `object ${digest} is not in the store at ${this.root}`, {
      data: { store: this.root, digest: digest.toString(), ...(name === undefined ? {} : { name }) },
    });
  }

  private checkMarker(): void {
    let text: string;
    try {
      text = readFileSync(this.layout.marker, 'utf8');
    } catch (e) {
      throw ioErrorFrom(e, 'read', this.layout.marker);
    }
    const m = /^cald store, layout (\d+)\n?$/.exec(text);
    if (m === null) {
      throw new StoreError('STORE_BAD_MARKER', `${this.layout.marker} is not a cald store marker`, {
        data: { store: this.root },
      });
    }
    if (Number(m[1]) > LAYOUT_VERSION) {
      throw new StoreError(
        'STORE_LAYOUT_VERSION',
        `the store at ${this.root} has layout ${m[1]}; this cald understands layout ${LAYOUT_VERSION}`,
        { hint: 'upgrade cald', data: { store: this.root } },
      );
    }
  }

  /** The marker comes last: it is what makes the directory a store (see isHalfMadeStore). */
  private writeMarker(): void {
    try {
      writeFileAtomic(this.layout.marker, this.root, this.layout.tmp, Buffer.from(MARKER_TEXT), 0o644);
    } catch (e) {
      throw ioErrorFrom(e, 'create store in', this.root);
    }
  }

  private ensureDirectories(): void {
    const { objects, names, roots, tmp } = this.layout;
    for (const dir of [objects, this.layout.objectDir(DEFAULT_ALGORITHM), names, roots, tmp]) {
      const st = statOrUndefined(dir, true);
      if (st?.isDirectory()) continue;
      if (st !== undefined) {
        throw new StoreError('STORE_BAD_LAYOUT', `${dir} should be a directory`, {
          hint: 'something other than cald wrote into the store',
          data: { store: this.root, path: dir },
        });
      }
      try {
        mkdirSync(dir, { mode: DIR_MODE });
        chmodSync(dir, DIR_MODE);
      } catch (e) {
        if (errnoOf(e) !== 'EEXIST') throw ioErrorFrom(e, 'create', dir);
      }
    }
  }

  private openTemp(tmp: string): number {
    return openSync(tmp, 'wx', 0o600);
  }

  /**
   * An intact existing object is kept, its mode widened to include `mode` (executable, or readable
   * by all, when asked: the same bytes came from such a file); a damaged one is not.
   */
  private existingIsIntact(digest: Digest, path: string, mode: number): boolean {
    const st = statOrUndefined(path, true);
    if (st === undefined) return false;
    if (!st.isFile()) return false; // rename replaces a symlink; a directory makes rename fail clearly
    let actual: Digest;
    try {
      actual = digestAndSizeOfFile(path, digest.algorithm).digest;
    } catch {
      return false;
    }
    if (!actual.equals(digest)) return false;
    const widened = (st.mode & 0o777) | mode;
    if ((st.mode & 0o777) !== widened) {
      try {
        chmodSync(path, widened);
      } catch (e) {
        throw ioErrorFrom(e, 'widen the mode of', path);
      }
    }
    return true;
  }

  /** Copies `from` into `fd` while hashing; throws if the copy does not hash to `expected`. */
  private copyVerified(from: string, fd: number, expected: Digest): void {
    let src: number;
    try {
      src = openSync(from, 'r');
    } catch (e) {
      throw ioErrorFrom(e, 'open', from);
    }
    try {
      const h = createHasher(expected.algorithm);
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      for (;;) {
        let n: number;
        try {
          n = readSync(src, buf, 0, buf.length, null);
        } catch (e) {
          throw ioErrorFrom(e, 'read', from);
        }
        if (n === 0) break;
        const chunk = buf.subarray(0, n);
        h.update(chunk);
        let off = 0;
        while (off < n) off += writeSync(fd, chunk, off, n - off);
      }
      const actual = h.digest();
      if (!actual.equals(expected)) {
        throw new StoreIntegrityError(
          'INTEGRITY_SOURCE_CHANGED',
          `${from} changed while it was being stored`,
          {
            hint: 'retry once nothing is writing to it',
            data: { path: from, expected: expected.toString(), actual: actual.toString() },
          },
        );
      }
    } finally {
      closeSync(src);
    }
  }
}

/** An object file's mode: read-only, executable when asked, owner-only when asked. */
function objectMode(options: { readonly executable?: boolean; readonly ownerOnly?: boolean }): number {
  return (
    (options.executable === true ? EXECUTABLE_OBJECT_MODE : OBJECT_MODE) &
    (options.ownerOnly === true ? OWNER_ONLY_MASK : 0o777)
  );
}

function infoOf(digest: Digest, st: Stats): ObjectInfo {
  return { digest, size: st.size, executable: (st.mode & 0o111) !== 0, added: Math.floor(st.mtimeMs) };
}

function statOrUndefined(path: string, noFollow = false): Stats | undefined {
  try {
    return noFollow ? lstatSync(path) : statSync(path);
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') {
      throw new StoreError('STORE_NOT_DIRECTORY', `a component of ${path} is not a directory`, {
        data: { path },
        cause: e,
      });
    }
    throw ioErrorFrom(e, 'stat', path);
  }
}

/**
 * Makes the symbolic link `entry` -> `target` so it appears whole: made in place when there is
 * no entry, else made under a temp name (in the store's tmp/) and renamed over the old entry.
 */
function placeLink(target: string, entry: string, tempName: () => string): void {
  try {
    symlinkSync(target, entry);
    return;
  } catch (e) {
    if (errnoOf(e) !== 'EEXIST') throw e;
  }
  const tmp = tempName();
  try {
    symlinkSync(target, tmp);
    renameSync(tmp, entry);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

function readlinkOrUndefined(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

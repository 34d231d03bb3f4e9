import { existsSync, readFileSync, renameSync } from 'node:fs';
import { StoreError, StoreIntegrityError } from '../errors/index.js';
import type { Digest } from './digest.js';
import { type AdoptOptions, FileStore } from './file-store.js';
import { type ExtractRefs, IndexDb, type RebuildReport } from './index-db.js';
import type { Root, RootSpec } from './roots.js';
import {
  isObjectStream,
  noDigest,
  type ObjectInfo,
  type ObjectStream,
  type PutOptions,
  type PutSource,
  type Store,
  type StoreNames,
  type StoreRoots,
} from './store.js';

export interface OpenLocalStoreOptions {
  readonly path: string;
  readonly create?: boolean;
  readonly readOnly?: boolean;
  /** Needed to rebuild a missing or damaged index, and to index puts that give no refs. */
  readonly extractRefs?: ExtractRefs;
  /**
   * With readOnly: an index rebuilt from the files in memory (needs extractRefs), for a reader
   * whose store's index file cannot be read as it is and cannot be rebuilt in place.
   */
  readonly indexInMemory?: boolean;
}

/** Why the index was rebuilt on open, if it was. */
export interface IndexRecovery {
  readonly reason: 'missing' | 'corrupt';
  /** Where a damaged index was moved (kept for inspection, never deleted). */
  readonly movedTo: string | undefined;
  readonly report: RebuildReport;
}

export interface LocalPutOptions extends PutOptions {
  /**
   * The cas: names the object refers to; by default extractRefs finds them (or none are recorded).
   * A function is asked once the bytes are stored (a stream's caller that kept them as they
   * passed); its undefined means "find them".
   */
  readonly refs?: readonly string[] | (() => readonly string[] | undefined);
  /** false (a stream): leave the directory fsync to one syncObjects() after a batch. */
  readonly syncDir?: boolean;
  /**
   * Leave the object's index rows here for one indexObjects() after a batch (with `syncDir:
   * false`: after syncObjects(), so the index is never ahead of the files). A transaction per
   * object cost a pull of ffmpeg ~0.4 ms per object (docs/benchmarks.md, "Session 5").
   */
  readonly indexLater?: IndexRow[];
}

/** An object's index rows, written later (LocalPutOptions.indexLater). */
export interface IndexRow {
  readonly info: ObjectInfo;
  readonly refs: readonly string[] | undefined;
}

/**
 * A file store with its index kept in step: the store's files are written first (they are the
 * truth), then the index. A crash between the two leaves the index behind, never ahead; a
 * rebuild catches it up.
 */
export class LocalStore implements Store {
  /** names/ with the index kept in step. */
  readonly names: StoreNames;
  /** roots/ with the index kept in step. */
  readonly roots: StoreRoots;

  private constructor(
    readonly files: FileStore,
    readonly index: IndexDb,
    readonly recovery: IndexRecovery | undefined,
    private readonly extractRefs: ExtractRefs | undefined,
  ) {
    this.names = {
      add: (name) => this.addName(name),
      resolve: (name) => files.names.resolve(name),
      list: () => files.names.list(),
      remove: (name) => this.removeName(name),
    };
    this.roots = {
      add: (spec) => this.addRoot(spec),
      remove: (id) => this.removeRoot(id),
      list: () => files.roots.list(),
    };
  }

  /**
   * Opens the store and its index. A missing index (with objects present) or a damaged one is
   * rebuilt from the files when `extractRefs` is given; the damaged file is moved aside.
   */
  static async open(options: OpenLocalStoreOptions): Promise<LocalStore> {
    const files = FileStore.open(options.path, {
      ...(options.create === undefined ? {} : { create: options.create }),
      ...(options.readOnly === undefined ? {} : { readOnly: options.readOnly }),
    });
    const path = files.layout.index;
    const readOnly = options.readOnly === true;
    if (readOnly && options.indexInMemory === true && options.extractRefs !== undefined) {
      const index = IndexDb.memory();
      try {
        await index.rebuild(files, options.extractRefs);
      } catch (e) {
        index.close();
        throw e;
      }
      return new LocalStore(files, index, undefined, options.extractRefs);
    }
    const cannotRebuild = (reason: string) =>
      new StoreError(
        'STORE_INDEX_NEEDS_REBUILD',
        `the store index ${path} is ${reason} and must be rebuilt`,
        {
          hint: 'run cald index rebuild',
          data: { store: files.root },
        },
      );
    let index: IndexDb;
    let reason: IndexRecovery['reason'] | undefined;
    let movedTo: string | undefined;
    try {
      index = IndexDb.open(path, { readOnly, create: !readOnly });
    } catch (e) {
      if (!(e instanceof StoreIntegrityError)) throw e;
      // Nothing is touched unless the index can be rebuilt right now.
      if (readOnly || options.extractRefs === undefined) throw cannotRebuild('damaged');
      reason = 'corrupt';
      movedTo = `${path}.corrupt-${Date.now()}`;
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(path + suffix)) renameSync(path + suffix, movedTo + suffix);
      }
      index = IndexDb.open(path, { create: true });
    }
    if (reason === undefined && !index.ready) {
      if (isEmpty(files)) {
        if (!readOnly) index.markReady();
      } else {
        reason = 'missing';
      }
    }
    let recovery: IndexRecovery | undefined;
    if (reason !== undefined) {
      if (readOnly || options.extractRefs === undefined) {
        index.close();
        throw cannotRebuild(reason === 'missing' ? 'missing or incomplete' : 'damaged');
      }
      recovery = { reason, movedTo, report: await index.rebuild(files, options.extractRefs) };
    }
    return new LocalStore(files, index, recovery, options.extractRefs);
  }

  get root(): string {
    return this.files.root;
  }

  get url(): string {
    return this.files.root;
  }

  pathOf(digest: Digest): string {
    return this.files.objects.pathOf(digest);
  }

  async has(digest: Digest): Promise<boolean> {
    return this.files.objects.stat(digest) !== undefined;
  }

  async stat(digest: Digest): Promise<ObjectInfo | undefined> {
    return this.files.objects.stat(digest);
  }

  read(digest: Digest): ObjectStream {
    return this.files.objects.chunks(digest);
  }

  async *list(): AsyncIterable<Digest> {
    yield* this.files.objects.list();
  }

  /** Makes the renames of objects put with `syncDir: false` durable (one fsync for a batch). */
  syncObjects(): void {
    this.files.objects.syncDir();
  }

  close(): void {
    this.index.close();
  }

  /**
   * Stores bytes, a file or a stream (with `expect`), then indexes the object and its references.
   * A stream is stored only once whole and hashing to `expect` (pull's path).
   */
  async put(source: PutSource, options: LocalPutOptions = {}): Promise<Digest> {
    let digest: Digest;
    let refs = typeof options.refs === 'function' ? undefined : options.refs;
    const extract = options.refs === undefined ? this.extractRefs : undefined;
    let found = false; // refs read from the bytes the put still held
    if (isObjectStream(source)) {
      if (options.expect === undefined) {
        throw noDigest();
      }
      // The references are read from the bytes the put gathered (a lazy fetch spent 0.7 ms per
      // object reading the file back); an object too large to gather is read back.
      const expect = options.expect;
      digest = await this.files.objects.putStream(source, expect, {
        ...options,
        ...(extract === undefined
          ? {}
          : {
              whole: (bytes: Buffer) => {
                refs = extract(bytes, expect);
                found = true;
              },
            }),
      });
    } else {
      digest = this.files.objects.put(source, options);
    }
    const info = this.files.objects.stat(digest);
    if (info === undefined) throw new Error(`object ${digest} vanished right after it was stored`);
    if (typeof options.refs === 'function') refs = options.refs();
    if (refs === undefined && !found && this.extractRefs !== undefined) {
      // Just written (or found intact) and verified: read as it is, not hashed again.
      const bytes = source instanceof Uint8Array ? source : readFileSync(this.files.objects.pathOf(digest));
      refs = this.extractRefs(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), digest);
    }
    if (options.indexLater !== undefined) options.indexLater.push({ info, refs });
    else this.indexObjects([{ info, refs }]);
    return digest;
  }

  /** The index rows of objects put with `indexLater`, in one transaction. */
  indexObjects(rows: readonly IndexRow[]): void {
    if (rows.length === 0) return;
    this.index.transaction(() => {
      for (const { info, refs } of rows) {
        this.index.recordObject(info);
        if (refs !== undefined) this.index.recordRefs(info.digest, refs);
      }
    });
  }

  /** FileStore.adoptTemp, then the index: the object's row and the references it holds. */
  adopt(tmp: string, digest: Digest, options: AdoptOptions & { refs: readonly string[] }): void {
    this.files.objects.adoptTemp(tmp, digest, options);
    const info = this.files.objects.stat(digest);
    if (info === undefined) throw new Error(`object ${digest} vanished right after it was stored`);
    this.index.transaction(() => {
      this.index.recordObject(info);
      this.index.recordRefs(digest, options.refs);
    });
  }

  /**
   * Many temp files made objects at once, for a writer that synced each file's data itself
   * (an import): each renamed into objects/ in the order given (FileStore.adoptTemp), the
   * directory synced once, and only then the index. Names and roots pointing at them come after.
   * An item with no `tmp` is an object the caller found stored and intact (FileStore.hasIntact):
   * only its index rows are written.
   */
  adoptAll(
    items: ReadonlyArray<{
      readonly tmp: string | undefined;
      readonly digest: Digest;
      readonly options: Omit<AdoptOptions, 'syncDir'> & { readonly refs: readonly string[] };
    }>,
  ): void {
    const adopted = items.filter((i) => i.tmp !== undefined);
    for (const { tmp, digest, options } of adopted)
      this.files.objects.adoptTemp(tmp!, digest, { ...options, syncDir: false });
    if (adopted.length > 0) this.files.objects.syncDir();
    const infos = items.map(({ digest }) => {
      const info = this.files.objects.stat(digest);
      if (info === undefined) throw new Error(`object ${digest} vanished right after it was stored`);
      return info;
    });
    this.index.recordObjects(items.map(({ options }, i) => ({ info: infos[i]!, refs: options.refs })));
  }

  async delete(digest: Digest): Promise<boolean> {
    const removed = await this.files.delete(digest);
    this.index.forgetObject(digest);
    return removed;
  }

  addName(name: string): string {
    this.files.names.add(name);
    this.index.recordName(name);
    return name;
  }

  /** addName for many names: one fsync of names/ and one index transaction for all. */
  addNames(names: readonly string[]): void {
    this.files.names.addMany(names);
    this.index.transaction(() => {
      for (const name of names) this.index.recordName(name);
    });
  }

  /** See PathDir.add: the original path of an imported file, for the resolver. */
  addPath(original: string, digest: Digest, options: { dirMode?: (dir: string) => number } = {}): string {
    return this.files.paths.add(original, digest, options);
  }

  /** See FileStore.addPaths. */
  addPaths(
    entries: Iterable<readonly [original: string, digest: Digest]>,
    options: { dirMode?: (dir: string) => number } = {},
  ): void {
    this.files.paths.addMany(entries, options);
  }

  removeName(name: string): boolean {
    const removed = this.files.names.remove(name);
    this.index.forgetName(name);
    return removed;
  }

  addRoot(spec: RootSpec): Root {
    const root = this.files.roots.add(spec);
    this.index.addRoot(root);
    return root;
  }

  removeRoot(id: string): boolean {
    const removed = this.files.roots.remove(id);
    this.index.removeRoot(id);
    return removed;
  }

  async rebuildIndex(extractRefs: ExtractRefs): Promise<RebuildReport> {
    return this.index.rebuild(this.files, extractRefs);
  }
}

function isEmpty(files: FileStore): boolean {
  return (
    files.objects.list().length === 0 && files.names.list().length === 0 && files.roots.list().length === 0
  );
}

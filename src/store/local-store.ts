import { existsSync, renameSync } from 'node:fs';
import { StoreError, StoreIntegrityError } from '../errors/index.js';
import type { Digest } from './digest.js';
import { type AdoptOptions, FileStore } from './file-store.js';
import { type ExtractRefs, IndexDb, type RebuildReport } from './index-db.js';
import type { PutOptions, PutSource } from './object-store.js';
import type { Root, RootSpec } from './roots.js';

export interface OpenLocalStoreOptions {
  readonly path: string;
  readonly create?: boolean;
  readonly readOnly?: boolean;
  /** Needed to rebuild a missing or damaged index, and to index puts that give no refs. */
  readonly extractRefs?: ExtractRefs;
}

/** Why the index was rebuilt on open, if it was. */
export interface IndexRecovery {
  readonly reason: 'missing' | 'corrupt';
  /** Where a damaged index was moved (kept for inspection, never deleted). */
  readonly movedTo: string | undefined;
  readonly report: RebuildReport;
}

export interface LocalPutOptions extends PutOptions {
  /** The cas: names the object refers to; by default extractRefs finds them (or none are recorded). */
  readonly refs?: readonly string[];
}

/**
 * A file store with its index kept in step: the store's files are written first (they are the
 * truth), then the index. A crash between the two leaves the index behind, never ahead; a
 * rebuild catches it up.
 */
export class LocalStore {
  private constructor(
    readonly files: FileStore,
    readonly index: IndexDb,
    readonly recovery: IndexRecovery | undefined,
    private readonly extractRefs: ExtractRefs | undefined,
  ) {}

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

  close(): void {
    this.index.close();
  }

  async put(source: PutSource, options: LocalPutOptions = {}): Promise<Digest> {
    const digest = this.files.putSync(source, options);
    const info = this.files.statSync(digest);
    if (info === undefined) throw new Error(`object ${digest} vanished right after it was stored`);
    let refs = options.refs;
    if (refs === undefined && this.extractRefs !== undefined) {
      refs = this.extractRefs(this.files.readSync(digest), digest);
    }
    this.index.transaction(() => {
      this.index.recordObject(info);
      if (refs !== undefined) this.index.recordRefs(digest, refs);
    });
    return digest;
  }

  /** FileStore.adoptTemp, then the index: the object's row and the references it holds. */
  adopt(tmp: string, digest: Digest, options: AdoptOptions & { refs: readonly string[] }): void {
    this.files.adoptTemp(tmp, digest, options);
    const info = this.files.statSync(digest);
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
      this.files.adoptTemp(tmp!, digest, { ...options, syncDir: false });
    if (adopted.length > 0) this.files.syncObjectDir();
    const infos = items.map(({ digest }) => {
      const info = this.files.statSync(digest);
      if (info === undefined) throw new Error(`object ${digest} vanished right after it was stored`);
      return info;
    });
    this.index.transaction(() => {
      items.forEach(({ digest, options }, i) => {
        this.index.recordObject(infos[i]!);
        this.index.recordRefs(digest, options.refs);
      });
    });
  }

  async delete(digest: Digest): Promise<boolean> {
    const removed = this.files.deleteSync(digest);
    this.index.forgetObject(digest);
    return removed;
  }

  addName(name: string): string {
    this.files.addName(name);
    this.index.recordName(name);
    return name;
  }

  /** addName for many names: one fsync of names/ and one index transaction for all. */
  addNames(names: readonly string[]): void {
    this.files.addNames(names);
    this.index.transaction(() => {
      for (const name of names) this.index.recordName(name);
    });
  }

  /** See FileStore.addPath: the original path of an imported file, for the resolver. */
  addPath(original: string, digest: Digest, options: { dirMode?: (dir: string) => number } = {}): string {
    return this.files.addPath(original, digest, options);
  }

  /** See FileStore.addPaths. */
  addPaths(
    entries: Iterable<readonly [original: string, digest: Digest]>,
    options: { dirMode?: (dir: string) => number } = {},
  ): void {
    this.files.addPaths(entries, options);
  }

  removeName(name: string): boolean {
    const removed = this.files.removeName(name);
    this.index.forgetName(name);
    return removed;
  }

  addRoot(spec: RootSpec): Root {
    const root = this.files.addRoot(spec);
    this.index.addRoot(root);
    return root;
  }

  removeRoot(id: string): boolean {
    const removed = this.files.removeRoot(id);
    this.index.removeRoot(id);
    return removed;
  }

  async rebuildIndex(extractRefs: ExtractRefs): Promise<RebuildReport> {
    return this.index.rebuild(this.files, extractRefs);
  }
}

function isEmpty(files: FileStore): boolean {
  return files.listSync().length === 0 && files.listNames().length === 0 && files.listRoots().length === 0;
}

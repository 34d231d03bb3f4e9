import type { Digest } from './digest.js';
import type { StoreLayout } from './layout.js';
import { LoaderView } from './local/loader-view.js';
import { type OpenFileStoreOptions, openStoreDirectory } from './local/marker.js';
import { NameDir } from './local/names.js';
import { ObjectFiles } from './local/objects.js';
import { PathDir } from './local/paths.js';
import { RootDir } from './local/roots.js';
import { TmpDir } from './local/tmp.js';
import {
  isObjectStream,
  noDigest,
  type ObjectInfo,
  type ObjectStream,
  type PutOptions,
  type PutSource,
  type ReadOptions,
  type Store,
} from './store.js';

export type { OpenFileStoreOptions } from './local/marker.js';
export type { AdoptOptions } from './local/objects.js';

/**
 * The on-disk store (docs/store-layout.md), made of one part per directory: `objects` (immutable
 * files named by digest), `names` (relative symlinks named like DT_NEEDED strings), `paths`
 * (imported files' original paths), `roots` (small JSON files), `tmp` (where every write
 * starts); the marker is checked and written by `open`. `view` is the part the loader reads.
 * The Store methods are the async face of `objects`.
 */
export class FileStore implements Store {
  readonly objects: ObjectFiles;
  readonly names: NameDir;
  readonly paths: PathDir;
  readonly roots: RootDir;
  readonly tmp: TmpDir;
  readonly view: LoaderView;

  private constructor(
    readonly layout: StoreLayout,
    readonly readOnly: boolean,
  ) {
    this.objects = new ObjectFiles(layout, readOnly);
    this.names = new NameDir(layout, readOnly, this.objects);
    this.paths = new PathDir(layout, readOnly, this.objects);
    this.roots = new RootDir(layout, readOnly);
    this.tmp = new TmpDir(layout, readOnly);
    this.view = new LoaderView(layout, this.objects, this.names, this.paths);
  }

  /** Opens (or creates) the store at `path` (local/marker.ts). Every refusal is one StoreError line. */
  static open(path: string, options: OpenFileStoreOptions = {}): FileStore {
    return new FileStore(openStoreDirectory(path, options), options.readOnly ?? false);
  }

  /** Absolute path of the store directory. */
  get root(): string {
    return this.layout.root;
  }

  get url(): string {
    return this.layout.root;
  }

  pathOf(digest: Digest): string {
    return this.objects.pathOf(digest);
  }

  async has(digest: Digest): Promise<boolean> {
    return this.objects.stat(digest) !== undefined;
  }

  async stat(digest: Digest): Promise<ObjectInfo | undefined> {
    return this.objects.stat(digest);
  }

  /** Verified as it is read; a size the caller gives is not needed here (the digest covers it). */
  read(digest: Digest, _options?: ReadOptions): ObjectStream {
    return this.objects.chunks(digest);
  }

  async put(source: PutSource, options: PutOptions = {}): Promise<Digest> {
    if (!isObjectStream(source)) return this.objects.put(source, options);
    if (options.expect === undefined) {
      throw noDigest();
    }
    return this.objects.putStream(source, options.expect, options);
  }

  async *list(): AsyncIterable<Digest> {
    yield* this.objects.list();
  }

  /** Removes an object and every name that points at it (names first, so none dangles). */
  async delete(digest: Digest): Promise<boolean> {
    this.names.removeAllOf(digest);
    return this.objects.delete(digest);
  }
}

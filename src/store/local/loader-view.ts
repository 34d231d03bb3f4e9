import type { Digest } from '../digest.js';
import type { StoreLayout } from '../layout.js';
import type { NameDir } from './names.js';
import type { ObjectFiles } from './objects.js';
import type { PathDir } from './paths.js';

/**
 * The loader's view of a local store: the three directories ld.so and the resolver open
 * (objects/, names/, paths/), read-only and synchronous, with no index and no SQLite (this is on
 * `cald run`'s start-up path). The runtime's loader code reads objects only through this; where the
 * directories are (for LD_LIBRARY_PATH, CALD_STORE, launchers/) comes from the layout.
 */
export class LoaderView {
  constructor(
    private readonly layout: StoreLayout,
    private readonly objects: ObjectFiles,
    private readonly names: NameDir,
    private readonly paths: PathDir,
  ) {}

  /** Absolute path of the store directory (what CALD_STORE names for the resolver). */
  get root(): string {
    return this.layout.root;
  }

  /** The file ld.so opens for an object (whether or not it exists). */
  pathOf(digest: Digest): string {
    return this.objects.pathOf(digest);
  }

  has(digest: Digest): boolean {
    return this.objects.stat(digest) !== undefined;
  }

  /** The digest a `cas:` name entry stands for, when the entry is exactly the link cald makes. */
  resolveName(name: string): Digest | undefined {
    return this.names.resolve(name);
  }

  /** The object an imported file's original path was recorded as (paths/), if any. */
  resolvePath(original: string): Digest | undefined {
    return this.paths.resolve(original);
  }
}

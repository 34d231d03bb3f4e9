import { UsageError } from '../errors/index.js';
import { objectRefs } from '../importer/cald-note.js';
import { collectGarbage, type GcReport, parseSize } from '../store/index.js';
import { openExisting, type StoreSelection } from './store-open.js';

export interface GcApiOptions extends StoreSelection {
  /** Report what would be deleted; delete nothing. */
  dryRun?: boolean;
  /** Stop after freeing at least this much: bytes, or a size like "10M", "1G". */
  maxFreed?: number | string;
  /** Keep unreachable objects younger than this many ms (default 0). */
  keepYoungerThanMs?: number;
  /** Keep objects mapped by running processes (default true). */
  runtimeRoots?: boolean;
  /** How long to wait for in-flight imports (default 60 s). */
  waitMs?: number;
}

export interface GcResult extends GcReport {
  readonly store: string;
}

/** Deletes the objects no root reaches (docs/lifecycle.md). */
export async function gc(options: GcApiOptions = {}): Promise<GcResult> {
  let maxFreed: number | undefined;
  if (typeof options.maxFreed === 'string') {
    maxFreed = parseSize(options.maxFreed);
    if (maxFreed === undefined) {
      throw new UsageError(`--max-freed ${JSON.stringify(options.maxFreed)} is not a size`, {
        hint: 'give bytes or a number with K, M, G or T (powers of 1024), e.g. 10M',
      });
    }
  } else maxFreed = options.maxFreed;
  const { store } = await openExisting(options);
  try {
    const report = await collectGarbage(store.files, store.index, {
      extractRefs: objectRefs,
      ...(options.dryRun === undefined ? {} : { dryRun: options.dryRun }),
      ...(maxFreed === undefined ? {} : { maxFreed }),
      ...(options.keepYoungerThanMs === undefined ? {} : { keepYoungerThanMs: options.keepYoungerThanMs }),
      ...(options.runtimeRoots === undefined ? {} : { runtimeRoots: options.runtimeRoots }),
      ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
    });
    return { store: store.root, ...report };
  } finally {
    store.close();
  }
}

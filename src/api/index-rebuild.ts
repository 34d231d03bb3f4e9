import { objectRefs } from '../importer/cald-note.js';
import type { RebuildReport } from '../store/index.js';
import { openExisting, type StoreSelection } from './store-open.js';

export interface IndexRebuildResult extends RebuildReport {
  readonly store: string;
  readonly index: string;
  readonly ms: number;
}

/** Rebuilds the SQLite index from the store's files alone (objects, names/, roots/). */
export async function rebuildIndex(options: StoreSelection = {}): Promise<IndexRebuildResult> {
  const t0 = performance.now();
  const { store } = await openExisting(options);
  try {
    const report = await store.rebuildIndex(objectRefs);
    return { store: store.root, index: store.index.path, ...report, ms: performance.now() - t0 };
  } finally {
    store.close();
  }
}

import { objectRefs } from '../importer/cald-note.js';
import { type StoreLocationSource, type StoreStats, storeStats } from '../store/index.js';
import { openReadOnly, type StoreSelection } from './store-open.js';

export interface StoreInfo extends StoreStats {
  /** The store directory. */
  readonly path: string;
  /** Which setting chose it: the --store option, CALD_STORE, XDG_DATA_HOME or HOME. */
  readonly source: StoreLocationSource;
  /** Whether the index was complete and used (else references were read from the objects). */
  readonly indexReady: boolean;
}

/** Where the store is and what it holds (read-only: changes nothing, not even the index). */
export async function storeInfo(options: StoreSelection = {}): Promise<StoreInfo> {
  const { location, files, index } = await openReadOnly(options);
  try {
    return {
      path: location.path,
      source: location.source,
      indexReady: index !== undefined,
      ...storeStats(files, index, objectRefs),
    };
  } finally {
    index?.close();
  }
}

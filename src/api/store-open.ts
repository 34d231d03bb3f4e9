import { objectRefs } from '../importer/cald-note.js';
import { FileStore, IndexDb, LocalStore, resolveStoreLocation, type StoreLocation } from '../store/index.js';

/** Where the lifecycle commands find the store: --store, CALD_STORE, XDG, HOME. */
export interface StoreSelection {
  /** The --store option. */
  store?: string;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}

export function locate(options: StoreSelection): StoreLocation {
  return resolveStoreLocation({
    option: options.store,
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
  });
}

/** Opens an existing store with its index (rebuilt from the objects if missing or damaged). */
export async function openExisting(
  options: StoreSelection,
): Promise<{ location: StoreLocation; store: LocalStore }> {
  const location = locate(options);
  const store = await LocalStore.open({ path: location.path, extractRefs: objectRefs });
  return { location, store };
}

/** Opens a store read-only; the index only if it is there and complete. */
export function openReadOnly(options: StoreSelection): {
  location: StoreLocation;
  files: FileStore;
  index: IndexDb | undefined;
} {
  const location = locate(options);
  const files = FileStore.open(location.path, { readOnly: true });
  let index: IndexDb | undefined;
  try {
    index = IndexDb.open(files.layout.index, { readOnly: true, create: false });
    if (!index.ready) {
      index.close();
      index = undefined;
    }
  } catch {
    index = undefined;
  }
  return { location, files, index };
}

export { objectRefs };

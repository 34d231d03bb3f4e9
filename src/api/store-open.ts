// The one place a store is chosen and opened (docs/store-layout.md, "Naming a store"). Commands
// name a store by --store / CALD_STORE (local) or by a URL (a remote for push and pull); this file
// resolves both and opens them the few ways the commands need. Deep imports only: `cald run`
// comes through here, and the SQLite index is loaded only by the openers that need it.

import { accessSync, constants, existsSync } from 'node:fs';
import { isCaldError, StoreError } from '../errors/index.js';
import { FileStore } from '../store/file-store.js';
import type { IndexDb } from '../store/index-db.js';
import { storeLayout } from '../store/layout.js';
import type { LocalStore } from '../store/local-store.js';
import { resolveStoreLocation, type StoreLocation } from '../store/location.js';
import type { Store, StoreRoots } from '../store/store.js';
import { parseStoreUrl } from '../store/url.js';

/** Where a command finds the local store: --store, CALD_STORE, XDG, HOME. */
export interface StoreSelection {
  /** The --store option: a directory or a file:/// URL. */
  store?: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}

/** The local store's location (store/location.ts): the only caller of the resolver above store/. */
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
  const { LocalStore } = await import('../store/local-store.js');
  const { objectRefs } = await import('../importer/cald-note.js');
  const store = await LocalStore.open({ path: location.path, extractRefs: objectRefs });
  return { location, store };
}

/**
 * Opens an existing store for a command that only reads it (verify, list, path, roots list,
 * why-depends, referrers): as openExisting where this user can write the store; read-only where
 * not (read-only media, or another user's shared store), with its index read as it is, or rebuilt
 * in memory from the files when that file cannot be read or is not complete.
 */
export async function openForReading(
  options: StoreSelection,
): Promise<{ location: StoreLocation; store: LocalStore }> {
  const location = locate(options);
  if (canWrite(location.path)) return openExisting(options);
  const { LocalStore } = await import('../store/local-store.js');
  const { objectRefs } = await import('../importer/cald-note.js');
  try {
    return { location, store: await LocalStore.open({ path: location.path, readOnly: true }) };
  } catch (e) {
    const unreadable =
      isCaldError(e) &&
      (e.code === 'STORE_INDEX_NEEDS_REBUILD' ||
        e.code === 'STORE_INDEX_MISSING' ||
        e.code.startsWith('IO_'));
    if (!unreadable) throw e;
  }
  const store = await LocalStore.open({
    path: location.path,
    readOnly: true,
    indexInMemory: true,
    extractRefs: objectRefs,
  });
  return { location, store };
}

/** Whether this process may write the store at `path` and its index (false on read-only media). */
function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    const index = storeLayout(path).index;
    if (existsSync(index)) accessSync(index, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Opens the store with its index, creating it when missing (import, pull). */
export async function openForWrite(
  options: StoreSelection,
): Promise<{ location: StoreLocation; store: LocalStore }> {
  const location = locate(options);
  const { LocalStore } = await import('../store/local-store.js');
  const { objectRefs } = await import('../importer/cald-note.js');
  const store = await LocalStore.open({ path: location.path, create: true, extractRefs: objectRefs });
  return { location, store };
}

/** Opens a store read-only; the index only if it is there and complete. */
export async function openReadOnly(options: StoreSelection): Promise<{
  location: StoreLocation;
  files: FileStore;
  index: IndexDb | undefined;
}> {
  const location = locate(options);
  const files = FileStore.open(location.path, { readOnly: true });
  const { IndexDb } = await import('../store/index-db.js');
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

/**
 * Opens the store read-only without its index (run, ldd, install, push: `view` is what the loader
 * reads). With `optional`, a store that does not exist yet gives undefined instead of an error.
 */
export function openFiles(
  options: StoreSelection,
  optional = false,
): { location: StoreLocation; path: string; store: FileStore | undefined } {
  const location = locate(options);
  try {
    return { location, path: location.path, store: FileStore.open(location.path, { readOnly: true }) };
  } catch (e) {
    if (optional && e instanceof StoreError && e.code === 'STORE_NOT_FOUND') {
      return { location, path: location.path, store: undefined };
    }
    throw e;
  }
}

/**
 * Runs `use` on the roots of the store at `path` (already located): through the index when it
 * can be opened as it is, else roots/ only (the files are the truth; an index rebuild picks it up).
 */
export async function withRoots<T>(path: string, use: (roots: StoreRoots) => T): Promise<T> {
  const { LocalStore } = await import('../store/local-store.js');
  let local: LocalStore;
  try {
    local = await LocalStore.open({ path });
  } catch {
    return use(FileStore.open(path).roots);
  }
  try {
    return use(local.roots);
  } finally {
    local.close();
  }
}

/**
 * Any store by URL: a directory or file:/// (the local store, opened read-only: the trust rule
 * applies however it is named), http(s):// (an HTTP cache) or oci:// (a registry repository).
 */
export async function openStoreUrl(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): Promise<Store> {
  const url = parseStoreUrl(text, cwd, text);
  if (url.kind === 'local') return FileStore.open(url.path, { readOnly: true });
  const { openRemote } = await import('../remote/closure-remote.js');
  return openRemote(url.url, env);
}

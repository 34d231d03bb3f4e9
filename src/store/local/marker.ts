import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ioErrorFrom, StoreError } from '../../errors/index.js';
import { DEFAULT_ALGORITHM } from '../digest.js';
import { errnoOf, makeDirs, writeFileAtomic } from '../fs-util.js';
import { isHalfMadeStore } from '../half-made.js';
import {
  DIR_MODE,
  LAYOUT_VERSION,
  MARKER_FILE,
  MARKER_TEXT,
  type StoreLayout,
  storeLayout,
} from '../layout.js';
import { checkStoreTrust } from '../trust.js';
import { statOrUndefined } from './guard.js';

export interface OpenFileStoreOptions {
  /** Create the store (and missing parent directories) if the path does not exist or is an empty directory. */
  readonly create?: boolean;
  /** Open without creating or changing anything; every write then throws STORE_READ_ONLY. */
  readonly readOnly?: boolean;
}

/**
 * The one way into a store directory: the marker `cald-store` says a directory is a store (and
 * which layout), the trust rule (trust.ts) is checked, and a store is created or completed here.
 * Every refusal is one StoreError line. Returns the store's layout.
 */
export function openStoreDirectory(path: string, options: OpenFileStoreOptions = {}): StoreLayout {
  const root = resolve(path);
  const layout = storeLayout(root);
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
  if (!st.isDirectory()) throw storeNotDirectory(root);
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
  if (entries.includes(MARKER_FILE)) {
    checkMarker(layout);
    if (!readOnly) ensureDirectories(layout);
    return layout;
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
  ensureDirectories(layout);
  writeMarker(layout);
  return layout;
}

function checkMarker(layout: StoreLayout): void {
  let text: string;
  try {
    text = readFileSync(layout.marker, 'utf8');
  } catch (e) {
    throw ioErrorFrom(e, 'read', layout.marker);
  }
  const m = /^cald store, layout (\d+)\n?$/.exec(text);
  if (m === null) {
    throw new StoreError('STORE_BAD_MARKER', `${layout.marker} is not a cald store marker`, {
      data: { store: layout.root },
    });
  }
  if (Number(m[1]) > LAYOUT_VERSION) {
    throw new StoreError(
      'STORE_LAYOUT_VERSION',
      `the store at ${layout.root} has layout ${m[1]}; this cald understands layout ${LAYOUT_VERSION}`,
      { hint: 'upgrade cald', data: { store: layout.root } },
    );
  }
}

/** The marker comes last: it is what makes the directory a store (see isHalfMadeStore). */
function writeMarker(layout: StoreLayout): void {
  try {
    writeFileAtomic(layout.marker, layout.root, layout.tmp, Buffer.from(MARKER_TEXT), 0o644);
  } catch (e) {
    throw ioErrorFrom(e, 'create store in', layout.root);
  }
}

function ensureDirectories(layout: StoreLayout): void {
  const { objects, names, roots, tmp } = layout;
  for (const dir of [objects, layout.objectDir(DEFAULT_ALGORITHM), names, roots, tmp]) {
    const st = statOrUndefined(dir, true);
    if (st?.isDirectory()) continue;
    if (st !== undefined) {
      throw new StoreError('STORE_BAD_LAYOUT', `${dir} should be a directory`, {
        hint: 'something other than cald wrote into the store',
        data: { store: layout.root, path: dir },
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

/** STORE_NOT_DIRECTORY: a store path that names something other than a directory. */
export function storeNotDirectory(root: string): StoreError {
  return new StoreError('STORE_NOT_DIRECTORY', `store path ${root} is not a directory`, {
    hint: 'point --store / CALD_STORE at a directory',
    data: { store: root },
  });
}

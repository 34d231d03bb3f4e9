import { isAbsolute, join, resolve } from 'node:path';
import { StoreError } from '../errors/index.js';
import { localPathOf, parseStoreUrl } from './url.js';

export type StoreLocationSource = 'option' | 'CALD_STORE' | 'XDG_DATA_HOME' | 'HOME';

export interface StoreLocation {
  /** Absolute path of the store directory. */
  readonly path: string;
  /** Which setting chose it (for `cald store info` and error messages). */
  readonly source: StoreLocationSource;
}

export interface StoreLocationInput {
  /** The `--store` option, if given. */
  readonly option?: string | undefined;
  /** The environment to read (normally process.env). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory a relative --store or CALD_STORE is taken from (normally process.cwd()). */
  readonly cwd: string;
}

/**
 * Where the local store lives, in order (the one resolver: api/store-open.ts is its only caller
 * above store/): `--store`, `CALD_STORE`, `$XDG_DATA_HOME/cald/store`,
 * `$HOME/.local/share/cald/store` (the embedded default). A pure function of its input.
 * Empty values count as unset; a relative XDG_DATA_HOME is ignored, as the XDG base directory
 * specification requires; a relative CALD_STORE is refused (a relative --store is taken from cwd). `--store` may be a
 * `file:///…` URL; CALD_STORE stays a plain absolute path (native code reads it too); a remote
 * URL in either is STORE_NOT_LOCAL.
 */
export function resolveStoreLocation(input: StoreLocationInput): StoreLocation {
  const set = (v: string | undefined): v is string => v !== undefined && v !== '';
  if (set(input.option)) {
    const url = parseStoreUrl(input.option, input.cwd, `--store ${input.option}`);
    return { path: localPathOf(url, `--store ${input.option}`), source: 'option' };
  }
  const { CALD_STORE, XDG_DATA_HOME, HOME } = input.env;
  if (set(CALD_STORE)) {
    // Inherited by every child in every directory: a relative one would name another store in each.
    const what = `CALD_STORE=${CALD_STORE}`;
    const path = localPathOf(parseStoreUrl(CALD_STORE, undefined, what), what);
    // The audit library and the launchers read CALD_STORE too, as a plain path (native/): a URL
    // there would name a store for cald and none for them.
    if (!isAbsolute(CALD_STORE)) {
      throw new StoreError('STORE_BAD_URL', `${what}: CALD_STORE is a path, not a URL`, {
        hint: `set CALD_STORE=${path} (the resolver and the launchers read it too)`,
        data: { store: CALD_STORE },
      });
    }
    return { path, source: 'CALD_STORE' };
  }
  if (set(XDG_DATA_HOME) && isAbsolute(XDG_DATA_HOME)) {
    return { path: join(resolve(XDG_DATA_HOME), 'cald', 'store'), source: 'XDG_DATA_HOME' };
  }
  if (set(HOME) && isAbsolute(HOME)) {
    return { path: join(resolve(HOME), '.local', 'share', 'cald', 'store'), source: 'HOME' };
  }
  throw new StoreError('STORE_NO_LOCATION', 'cannot choose a store location: HOME is not set', {
    hint: 'pass --store DIR or set CALD_STORE',
  });
}

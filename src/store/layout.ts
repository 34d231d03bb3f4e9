import { join } from 'node:path';
import type { DigestAlgorithm } from './digest.js';

/**
 * Paths inside a store directory (docs/store-layout.md explains each). Names and object
 * directories are siblings one level below the root, so a name entry's relative link
 * `../objects/sha256/<hex>` resolves the same from `names/` and from `tmp/`.
 */
export const LAYOUT_VERSION = 1;
export const MARKER_FILE = 'cald-store';
export const MARKER_TEXT = `cald store, layout ${LAYOUT_VERSION}\n`;

export interface StoreLayout {
  readonly root: string;
  readonly marker: string;
  readonly objects: string;
  readonly names: string;
  /** Original paths of imported files, mirrored: paths/usr/lib/x.so -> ../../../objects/sha256/<hex>. */
  readonly paths: string;
  readonly roots: string;
  readonly tmp: string;
  /** Launchers `cald run` gives programs as argv[0]: launchers/<hex>/<name> (docs/running.md, "Self-exec"). */
  readonly launchers: string;
  readonly index: string;
  objectDir(algorithm: DigestAlgorithm): string;
}

export function storeLayout(root: string): StoreLayout {
  return {
    root,
    marker: join(root, MARKER_FILE),
    objects: join(root, 'objects'),
    names: join(root, 'names'),
    paths: join(root, 'paths'),
    roots: join(root, 'roots'),
    tmp: join(root, 'tmp'),
    launchers: join(root, 'launchers'),
    index: join(root, 'index.sqlite'),
    objectDir: (algorithm) => join(root, 'objects', algorithm),
  };
}

/** The symlink target of a name entry: relative, so the store can move. */
export function nameTarget(algorithm: DigestAlgorithm, hex: string): string {
  return `../objects/${algorithm}/${hex}`;
}

/** Directory modes: readable and searchable by all (the loader runs as any user), writable by the owner. */
export const DIR_MODE = 0o755;
export const OBJECT_MODE = 0o444;
export const EXECUTABLE_OBJECT_MODE = 0o555;
/** Applied to an object's mode when its source was private: the owner's bits only. */
export const OWNER_ONLY_MASK = 0o500;

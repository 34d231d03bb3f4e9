import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MARKER_FILE } from './layout.js';

/** The directories store creation makes before it writes the marker (docs/store-layout.md, "Creating a store"). */
const SKELETON = new Set(['objects', 'names', 'roots', 'tmp', 'paths', 'locks']);
/** cald's temp file names (fs-util.ts tempPath): `<prefix>-<pid>-<16 hex>`. */
const TEMP_NAME = /^[a-z]+-\d+-[0-9a-f]{16}$/;

function listing(path: string): string[] | undefined {
  try {
    return lstatSync(path).isDirectory() ? readdirSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a directory without a marker holds only what an interrupted store creation leaves
 * behind: skeleton directories with nothing in them but `objects/sha256/` (empty) and cald's temp
 * files in `tmp/`. The marker is written last, so such a directory is a store not finished yet:
 * it is completed, never refused. Anything else in it (a user's file, an object, a root) means
 * it is not cald's, and it is left alone.
 */
export function isHalfMadeStore(root: string, entries: readonly string[]): boolean {
  if (entries.includes(MARKER_FILE)) return false;
  for (const entry of entries) {
    if (!SKELETON.has(entry)) return false;
    const inside = listing(join(root, entry));
    if (inside === undefined) return false;
    if (entry === 'tmp') {
      if (!inside.every((name) => TEMP_NAME.test(name))) return false;
    } else if (entry === 'objects') {
      if (!inside.every((name) => name === 'sha256' && listing(join(root, entry, name))?.length === 0))
        return false;
    } else if (inside.length > 0) return false;
  }
  return true;
}

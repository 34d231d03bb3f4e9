import { closeSync, openSync, readSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MARKER_FILE } from './layout.js';

/**
 * The cald store a path lies in, if any: the nearest directory above its real path (links
 * followed, so a link to an object counts) that holds a store marker. Any store counts, not only
 * the default one, so editing commands can refuse to touch stored objects wherever they are.
 */
export function storeContaining(path: string): { store: string; real: string } | undefined {
  const real = realParent(path);
  let dir = real;
  for (;;) {
    if (isStoreDir(dir)) return { store: dir, real };
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The real path of a file, or of its directory when the file does not exist yet. */
function realParent(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return dirname(path);
    }
  }
}

function isStoreDir(dir: string): boolean {
  let fd: number;
  try {
    fd = openSync(join(dir, MARKER_FILE), 'r');
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(10);
    const n = readSync(fd, head, 0, head.length, 0);
    return head.toString('latin1', 0, n) === 'cald store';
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

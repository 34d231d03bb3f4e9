import { lstatSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readdirOrEmpty, tempPath } from '../fs-util.js';
import type { StoreLayout } from '../layout.js';
import { assertWritable } from './guard.js';

/**
 * `<store>/tmp/`: where every write starts (objects, names, roots, the marker), on the store's own
 * file system so the final rename never crosses one. A crash leaves at most a temp file here.
 */
export class TmpDir {
  constructor(
    private readonly layout: StoreLayout,
    private readonly readOnly: boolean,
  ) {}

  get dir(): string {
    return this.layout.tmp;
  }

  /** A fresh path in tmp/ no other writer can pick: `<prefix>-<pid>-<16 hex>`. */
  path(prefix: string): string {
    return tempPath(this.layout.tmp, prefix);
  }

  /**
   * Removes temp files older than `maxAgeMs` (left by crashed writers). Younger ones may belong
   * to a write in progress in another process and are left alone. Returns how many were removed.
   */
  clean(maxAgeMs: number, now: number = Date.now()): number {
    assertWritable(this.layout.root, this.readOnly);
    let removed = 0;
    for (const entry of readdirOrEmpty(this.layout.tmp)) {
      const path = join(this.layout.tmp, entry);
      let mtime: number;
      try {
        mtime = lstatSync(path).mtimeMs;
      } catch {
        continue;
      }
      if (now - mtime > maxAgeMs) {
        rmSync(path, { force: true, recursive: true });
        removed++;
      }
    }
    return removed;
  }
}

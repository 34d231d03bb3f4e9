import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { nativeDir } from '../runtime/index.js';

/** The native helper (native/cald-drop-cache.c), built at install with the others. */
const HELPER = 'cald-drop-cache';
/** Paths per helper process: well under any argument-size limit. */
const PER_CALL = 256;

/**
 * Drops the page cache of objects an import has just written and synced (POSIX_FADV_DONTNEED,
 * through native/cald-drop-cache: Node.js has no posix_fadvise). Freshly written files sit in
 * large page-cache folios that a program maps whole on its first fault, so a program run right
 * after its import held megabytes more than the same libraries read from disk
 * (docs/benchmarks.md, "Peak RSS of ffmpeg -version"); dropped, they are read back page by page
 * like any library. Best effort: without the helper, or when it fails, nothing happens (only
 * memory use is at stake, never correctness). Settles once the helpers have exited.
 */
export async function dropCachedPages(paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return;
  let helper: string;
  try {
    helper = join(nativeDir(), HELPER);
  } catch {
    return;
  }
  if (!existsSync(helper)) return;
  // The helpers run while the caller goes on (an import makes its names and paths meanwhile).
  const runs: Array<Promise<void>> = [];
  for (let i = 0; i < paths.length; i += PER_CALL) {
    runs.push(
      new Promise((settled) => {
        const child = spawn(helper, paths.slice(i, i + PER_CALL), { stdio: 'ignore' });
        child.on('error', () => settled());
        child.on('close', () => settled());
      }),
    );
  }
  await Promise.all(runs);
}

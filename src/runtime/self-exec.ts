import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from '../store/digest.js';
import { makeDirs, writeFileAtomic } from '../store/fs-util.js';
import { DIR_MODE, storeLayout } from '../store/layout.js';
import { fillLauncher, type LauncherValues } from './launcher.js';

/** A name usable as one file name (and so as a launcher's basename). */
export function isCommandName(name: string): boolean {
  return /^[^/\0]+$/.test(name) && name !== '.' && name !== '..' && Buffer.byteLength(name) <= 255;
}

/**
 * The launcher `cald run` passes as the program's argv[0] (docs/running.md, "Self-exec"):
 * `<store>/launchers/<hex>/<name>`, a copy of cald-launch filled for the object. Its basename is
 * the name the program was invoked by, so multi-call programs choose by it as usual; and a program
 * that starts itself again by argv[0] (CPython's sys.executable is argv[0] when it holds a slash)
 * starts this launcher, so the same object again, with no cald process. Written once per object
 * and name, atomically; rewritten when its bytes would differ (a moved store, a new cald).
 */
export function selfExecLauncher(
  store: string,
  digest: Digest,
  name: string,
  template: Buffer,
  values: LauncherValues,
): string {
  const layout = storeLayout(store);
  const dir = join(layout.launchers, digest.hex);
  const path = join(dir, name);
  const bytes = fillLauncher(template, values);
  try {
    if (readFileSync(path).equals(bytes)) return path;
  } catch {
    // not written yet
  }
  makeDirs(dir, DIR_MODE);
  writeFileAtomic(path, dir, layout.tmp, bytes, 0o755);
  return path;
}

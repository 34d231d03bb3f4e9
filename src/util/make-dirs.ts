import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * mkdir -p that reports the real error and always ends. Node's `recursive: true` turns EROFS (and
 * others) on the last component into ENOENT, which would make "read-only file system" read "no
 * such file", and under /proc (`mkdirSync('/proc/x', { recursive: true })`, Node 20) it never
 * returns: it spins at full CPU.
 */
export function makeDirs(dir: string, mode = 0o777): void {
  try {
    mkdirSync(dir, { mode });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw e;
    makeDirs(dirname(dir), mode);
    mkdirSync(dir, { mode });
  }
}

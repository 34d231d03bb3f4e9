import { basename, dirname } from 'node:path';
import { CaldError } from '../errors/index.js';

/** glibc's libraries that share GLIBC_PRIVATE symbols with ld.so and libc and must match them. */
const GLIBC_FAMILY =
  /^(libc|libm|libresolv|libpthread|libdl|librt|libutil|libanl|libmvec|libBrokenLocale|libnsl|libc_malloc_debug|libmemusage|libthread_db)\.so\.\d+$/;

const BANNER = /\(([^()\n]{1,80})\) (?:stable )?release version ([0-9][0-9.]*)/;
const MARK = Buffer.from('release version ');

/**
 * The "(... GLIBC 2.36-9) stable release version 2.36" banner both ld.so and libc.so.6 carry:
 * the first place the pattern matches, looked for only around each "release version" (a native
 * search), not in a string of the whole file.
 */
function releaseBanner(bytes: Buffer): string | undefined {
  for (let at = bytes.indexOf(MARK); at >= 0; at = bytes.indexOf(MARK, at + 1)) {
    const from = Math.max(0, at - 100);
    const m = BANNER.exec(bytes.toString('latin1', from, Math.min(bytes.length, at + MARK.length + 64)));
    if (m !== null) return `${m[1]} ${m[2]}`;
  }
  return undefined;
}

/**
 * ld.so, libc and their sibling libraries call each other through GLIBC_PRIVATE symbols and
 * must come from one glibc build (loader-facts.md). The importer refuses a closure that mixes
 * builds: it would import cleanly and then crash at start-up.
 */
export function checkOneGlibc(
  interpreter: string | undefined,
  paths: readonly string[],
  readFile: (p: string) => Buffer,
): void {
  const family = paths.filter((p) => GLIBC_FAMILY.test(basename(p)));
  const libc = family.find((p) => basename(p) === 'libc.so.6');
  if (libc === undefined) return;
  const home = dirname(libc);
  const stray = family.find((p) => dirname(p) !== home);
  if (stray !== undefined) {
    throw new CaldError(
      'IMPORT_MIXED_GLIBC',
      `${stray} and ${libc} come from different directories: one glibc build is required`,
      {
        hint: 'import with the system glibc only (remove LD_LIBRARY_PATH/RPATH entries that point at another glibc)',
      },
    );
  }
  if (interpreter === undefined) return;
  const a = releaseBanner(readFile(interpreter));
  const b = releaseBanner(readFile(libc));
  if (a !== undefined && b !== undefined && a !== b) {
    throw new CaldError(
      'IMPORT_MIXED_GLIBC',
      `the interpreter ${interpreter} (${a}) and ${libc} (${b}) come from different glibc builds`,
      {
        hint: 'ld.so and libc.so.6 must be from one glibc: check PT_INTERP and the library search path',
      },
    );
  }
}

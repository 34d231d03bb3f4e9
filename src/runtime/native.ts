import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaldError } from '../errors/index.js';
import { SEARCH_PATH_SPECIALS } from '../store/trust.js';

/** The native artifacts the runtime uses (built by scripts/build-native.mjs at `npm ci`). */
export const AUDIT_LIBRARY = 'libcald-audit.so';
export const LAUNCHER = 'cald-launch';

/**
 * The directory holding cald's built native artifacts: `CALD_NATIVE_DIR` when set (tests and
 * development builds compiled outside the package), else `native/build` of the package this
 * module belongs to, found by walking up to the directory with `native/cald-audit.c`.
 */
export function nativeDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const override = env.CALD_NATIVE_DIR;
  if (override !== undefined && override !== '') {
    if (!isAbsolute(override)) {
      throw new CaldError('RUN_NATIVE_DIR', `CALD_NATIVE_DIR must be an absolute path, not ${override}`);
    }
    return override;
  }
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'native', 'cald-audit.c'))) return join(dir, 'native', 'build');
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new CaldError('RUN_NATIVE_DIR', 'cannot find the cald package directory (native/cald-audit.c)', {
    hint: 'set CALD_NATIVE_DIR to the directory that holds libcald-audit.so and cald-launch',
  });
}

/** Absolute path of a built native artifact; a clear error when it was not built. */
export function nativeArtifact(
  name: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const dir = nativeDir(env);
  const path = join(dir, name);
  if (!existsSync(path)) {
    throw new CaldError('RUN_NATIVE_MISSING', `${path} is missing: cald's native parts were not built`, {
      hint: `they are built at install (npm ci) by scripts/build-native.mjs; run 'node scripts/build-native.mjs' in ${dirname(dirname(dir))} (needs cc)`,
      data: { path },
    });
  }
  return path;
}

/**
 * Absolute path of libcald-audit.so, checked to be usable in LD_AUDIT: ':' or ';' would split the
 * list, '$' would be expanded by ld.so, and a newline would break the shell line `cald env` prints.
 */
export function auditLibraryPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const path = nativeArtifact(AUDIT_LIBRARY, env);
  if (SEARCH_PATH_SPECIALS.test(path)) {
    throw new CaldError(
      'RUN_AUDIT_PATH',
      `the audit library's path ${JSON.stringify(path)} contains ':', ';', '$' or a newline`,
      {
        hint: "LD_AUDIT splits on ':' and ld.so expands '$'; install cald under a plainer path",
        data: { path },
      },
    );
  }
  return path;
}

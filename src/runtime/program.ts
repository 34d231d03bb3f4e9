import { readFileSync } from 'node:fs';
import { ElfFile } from '../elf/read/index.js';
import { ioErrorFrom, isCaldError, StoreError, StoreIntegrityError } from '../errors/index.js';
// Deep imports from the store (not its index.ts): index.ts also loads the SQLite index and
// the SQLite binding, which `cald run` never needs on its start-up path.
import { digestOfBuffer } from '../store/digest.js';
import { FileStore } from '../store/file-store.js';
import { resolveStoreLocation } from '../store/location.js';
import type { Env } from './environment.js';
import { type CasShebang, hasCasShebang, parseCasShebang } from './shebang.js';
import type { RunTarget } from './target.js';

/**
 * Opens the store read-only (no index, no SQLite: this is on `cald run`'s start-up path).
 * With `optional`, a store that does not exist yet gives undefined instead of an error.
 */
export function openStore(
  option: string | undefined,
  env: Env,
  cwd: string,
  optional = false,
): { path: string; store: FileStore | undefined } {
  const { path } = resolveStoreLocation({ option, env, cwd });
  try {
    return { path, store: FileStore.open(path, { readOnly: true }) };
  } catch (e) {
    if (optional && e instanceof StoreError && e.code === 'STORE_NOT_FOUND')
      return { path, store: undefined };
    throw e;
  }
}

/**
 * The program's bytes, verified against its digest when it is a store object, and parsed: an ELF
 * file, or a script that names its interpreter by content (`#!cas:`, docs/scripts.md).
 */
export function readProgram(target: RunTarget): {
  bytes: Buffer;
  elf: ElfFile | undefined;
  script?: CasShebang | undefined;
} {
  let bytes: Buffer;
  try {
    bytes = readFileSync(target.path);
  } catch (e) {
    throw ioErrorFrom(e, 'read', target.path);
  }
  if (target.digest !== undefined) {
    const actual = digestOfBuffer(bytes, target.digest.algorithm);
    if (!actual.equals(target.digest)) {
      throw new StoreIntegrityError(
        'INTEGRITY_CORRUPT_OBJECT',
        `refusing cas:${target.digest}?name=${target.argv0.slice(target.argv0.lastIndexOf('/') + 1)}: ${target.path} has ${actual}, not the hash in its name (changed or corrupted)`,
        {
          hint: 'cald verify --repair restores it from its original file (or moves it to quarantine)',
          data: { digest: target.digest.toString(), actual: actual.toString(), path: target.path },
        },
      );
    }
  }
  if (hasCasShebang(bytes)) return { bytes, elf: undefined, script: parseCasShebang(bytes, target.path) };
  try {
    return { bytes, elf: ElfFile.parse(bytes) };
  } catch (e) {
    // A script or other non-ELF file given by path is run as it is.
    if (target.digest === undefined && isCaldError(e) && e.code.startsWith('ELF_'))
      return { bytes, elf: undefined };
    throw e;
  }
}

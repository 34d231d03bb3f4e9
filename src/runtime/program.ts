import { readFileSync } from 'node:fs';
import { ElfFile } from '../elf/read/index.js';
import { ioErrorFrom, isCaldError, StoreIntegrityError } from '../errors/index.js';
// Deep imports from the store (not its index.ts): index.ts also loads the SQLite index and
// the SQLite binding, which `cald run` never needs on its start-up path. The store itself is
// opened by api/store-open.ts (openFiles); the runtime reads it through its LoaderView.
import { digestOfBuffer } from '../store/digest.js';
import { type CasShebang, hasCasShebang, parseCasShebang } from './shebang.js';
import type { RunTarget } from './target.js';

/** The program's bytes, verified against its digest when it is a store object, and parsed. */
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

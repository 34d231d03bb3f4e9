import { ElfFile, isElf } from '../elf/read/index.js';
import { ElfFormatError, isCaldError, StoreIntegrityError } from '../errors/index.js';
// Deep imports from the store (not its index.ts): index.ts also loads the SQLite index and
// the SQLite binding, which `cald run` never needs on its start-up path. The store itself is
// opened by api/store-open.ts (openFiles); the runtime reads it through its LoaderView.
import { digestOfBuffer } from '../store/digest.js';
import { readInputFile } from '../util/input-file.js';
import { type CasShebang, hasCasShebang, parseCasShebang } from './shebang.js';
import type { RunTarget } from './target.js';

/** The program's bytes, verified against its digest when it is a store object, and parsed. */
export function readProgram(target: RunTarget): {
  bytes: Buffer;
  elf: ElfFile | undefined;
  script?: CasShebang | undefined;
  /** For a path whose file is an ELF file the engine cannot read: why (the file is damaged). */
  damage?: ElfFormatError;
} {
  // Not blocking on a FIFO, not reading /dev/zero for ever (a path given to run or ldd, or a
  // store object replaced by one).
  const bytes = readInputFile(target.path);
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
    if (target.digest === undefined && isCaldError(e) && e.code.startsWith('ELF_')) {
      if (!isElf(bytes) || !(e instanceof ElfFormatError)) return { bytes, elf: undefined };
      return { bytes, elf: undefined, damage: e };
    }
    throw e;
  }
}

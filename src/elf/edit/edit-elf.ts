import { CaldError, ElfEditError } from '../../errors/index.js';
import { WriteLog } from '../../util/write-log.js';
import { ElfFile } from '../read/index.js';
import { applyEdit } from './apply-edits.js';
import { checkEditableLayout } from './check-layout.js';
import type { EditOptions, ElfEdit } from './edits.js';
import { type EditModel, modelOf, sameModel, sameNotes } from './model.js';
import { rewrite } from './rewrite.js';
import { dynamicSymbolNames, renameDynamicSymbols } from './symbol-names.js';
import { clearSymbolVersion, globalVersions } from './symbol-versions.js';

export interface EditResult {
  /** The edited file; the very input buffer when nothing changed. */
  buffer: Buffer;
  changed: boolean;
  /**
   * Where `buffer` may differ from the input: sorted, disjoint [start, end) ranges, past the
   * input's end too. Every other byte of `buffer` is the input's byte at the same offset, so a
   * writer holding a copy of the input needs to store only these (and cut the copy to
   * `buffer.length` when the file shrank). Empty when nothing changed.
   */
  written: ReadonlyArray<readonly [number, number]>;
}

/**
 * Applies `edits`, in order, to the ELF file in `buf` and returns the new file. Pure: no I/O.
 * An edit that changes nothing returns the input itself, byte for byte. Every result is parsed
 * again and checked against what was asked before it is returned.
 */
export function editElf(buf: Buffer, edits: readonly ElfEdit[], options: EditOptions = {}): EditResult {
  if (options.pageSize !== undefined) checkPageSize(options.pageSize);
  return editParsed(ElfFile.parse(buf), edits, options);
}

/**
 * editElf for a file the caller has already parsed (its bytes are `elf.buf`): a caller that reads
 * the file to choose its edits does not parse it twice.
 */
export function editParsed(elf: ElfFile, edits: readonly ElfEdit[], options: EditOptions = {}): EditResult {
  if (options.pageSize !== undefined) checkPageSize(options.pageSize);
  const buf = elf.buf;
  const before = modelOf(elf);
  const model = modelOf(elf);
  for (const e of edits) {
    if (e.kind === 'clearSymbolVersion') clearSymbolVersion(model, elf, e.name);
    else if (e.kind === 'renameDynamicSymbols') renameDynamicSymbols(model, elf, e.map);
    else applyEdit(model, e, elf.dynamic !== undefined);
  }
  if (sameModel(before, model)) return { buffer: buf, changed: false, written: [] };
  // Before the layout: with reuseInput it may overwrite the symbol table read here.
  const wantNames = symbolNamesAfter(elf, model);
  checkEditableLayout(elf);
  let out: Buffer;
  const log = new WriteLog();
  try {
    out = rewrite(elf, model, options, log);
  } catch (e) {
    if (e instanceof CaldError) throw e;
    // A hostile file can still reach a case the layout did not foresee: never a stray error type.
    throw new ElfEditError(
      'EDIT_INTERNAL',
      `internal error while laying out the edited file: ${(e as Error).message}`,
      {
        hint: 'the file is probably corrupt; if it is not, please report this with the file',
        cause: e,
      },
    );
  }
  verify(out, model, wantNames, elf.view.holes);
  return { buffer: out, changed: true, written: log.ranges() };
}

/** The dynamic symbols' names the edited file must have, sorted (renaming may reorder symbols). */
function symbolNamesAfter(elf: ElfFile, m: EditModel): string | undefined {
  if (m.symbolRenames.length === 0) return undefined;
  const names = dynamicSymbolNames(elf);
  for (const [i, n] of m.symbolRenames) names[i] = n;
  return names.sort().join('\0');
}

function isNotRead(e: unknown): boolean {
  return e instanceof CaldError && e.code === 'ELF_NOT_READ';
}

function checkPageSize(n: number): void {
  if (!Number.isInteger(n) || n < 1 || (n & (n - 1)) !== 0 || n > 0x40000000) {
    throw new ElfEditError('EDIT_BAD_PAGE_SIZE', `page size ${n} is not a power of two`, {
      hint: 'use e.g. 4096 or 65536',
    });
  }
}

/** Reads the result back: what it says must be what the model says, or the edit is refused. */
function verify(
  out: Buffer,
  want: EditModel,
  wantNames: string | undefined,
  holes: ReadonlyArray<readonly [number, number]> | undefined,
): void {
  let got: EditModel;
  let symbolsAsAsked: boolean;
  try {
    const elf = ElfFile.parse(out, holes);
    got = modelOf(elf);
    symbolsAsAsked =
      globalVersions(elf, want.versymGlobal).length === want.versymGlobal.length &&
      (wantNames === undefined || dynamicSymbolNames(elf).sort().join('\0') === wantNames);
  } catch (e) {
    // The check needs bytes a file read in part lacks: the caller reads it whole and edits again.
    if (isNotRead(e)) throw e;
    throw new ElfEditError(
      'EDIT_SELF_CHECK',
      `internal error: the edited file does not parse again (${(e as Error).message})`,
      {
        hint: 'please report this with the input file; nothing was written',
        cause: e,
      },
    );
  }
  const strip = (m: EditModel): EditModel => ({
    ...m,
    entries: m.entries.map(({ tag, value, str }) =>
      str === undefined ? { tag, value } : { tag, value: 0n, str },
    ),
    verneedFiles: m.verneedFiles.filter((f) => f !== null),
  });
  const a = strip(want);
  const b = strip(got);
  const same =
    a.interp === b.interp &&
    a.osabi === b.osabi &&
    a.gnuStackFlags === b.gnuStackFlags &&
    sameNotes(a.notes, b.notes) &&
    symbolsAsAsked &&
    a.verneedFiles.join('\0') === b.verneedFiles.join('\0') &&
    a.entries
      .filter((e) => e.str !== undefined)
      .map((e) => `${e.tag}=${e.str}`)
      .join('\0') ===
      b.entries
        .filter((e) => e.str !== undefined)
        .map((e) => `${e.tag}=${e.str}`)
        .join('\0');
  if (!same) {
    throw new ElfEditError(
      'EDIT_SELF_CHECK',
      'internal error: the edited file does not say what the edit asked',
      {
        hint: 'please report this with the input file; nothing was written',
      },
    );
  }
}

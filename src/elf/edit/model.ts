import { ElfEditError } from '../../errors/index.js';
import { DT_STRING_TAGS, PT_GNU_STACK } from '../format/constants.js';
import type { ElfFile } from '../read/index.js';
import { findTailSegment } from './tail-segment.js';

/** A dynamic entry in the editable model. String-valued tags carry the string, not an offset. */
export interface ModelEntry {
  tag: bigint;
  /** The raw value; for string tags, recomputed at layout time. */
  value: bigint;
  str?: string;
  /** Index in the file's dynamic table, for entries that came from the file. */
  origin?: number;
  /** Added by addNeeded in this edit (patchelf puts those first, in the order given). */
  added?: boolean;
}

/**
 * What an edit can change, detached from where it lives in the file. Edits change the model;
 * layout (rewrite.ts) then decides where each table goes.
 */
export interface EditModel {
  entries: ModelEntry[];
  interp: string | undefined;
  /** One per Elf_Verneed record in file order: its vn_file, or null when the record is removed. */
  verneedFiles: Array<string | null>;
  osabi: number;
  /** Flags of PT_GNU_STACK: undefined when the file has none and none is to be added. */
  gnuStackFlags: number | undefined;
  /** Notes added by edits (those in the appended segment's PT_NOTE), in order. */
  notes: AddedNote[];
  /** Dynamic symbols (by index, ascending) whose .gnu.version entry an edit sets to VER_NDX_GLOBAL. */
  versymGlobal: number[];
  /** Dynamic symbols (by index, ascending) an edit renames, with their new names. */
  symbolRenames: Array<[number, string]>;
}

export interface AddedNote {
  name: string;
  type: number;
  desc: Buffer;
}

/** The notes an earlier edit added: those inside the appended segment's PT_NOTE. */
function addedNotes(elf: ElfFile): AddedNote[] {
  const tail = findTailSegment(elf);
  if (tail?.notePhdrIndex === undefined) return [];
  const ph = elf.programHeaders[tail.notePhdrIndex]!;
  return elf.notes
    .filter((n) => n.offset >= ph.offset && n.offset < ph.offset + ph.filesz)
    .map((n) => ({ name: n.name, type: n.type, desc: Buffer.from(n.desc) }));
}

export function modelOf(elf: ElfFile): EditModel {
  const entries: ModelEntry[] = elf.dynamicEntries.map((e, origin) =>
    DT_STRING_TAGS.has(e.tag)
      ? { tag: e.tag, value: e.value, str: elf.dynString(e.value), origin }
      : { tag: e.tag, value: e.value, origin },
  );
  return {
    entries,
    interp: elf.interp?.value,
    verneedFiles: elf.versionNeeds.map((v) => v.file),
    osabi: elf.header.osabi,
    gnuStackFlags: elf.programHeaders.find((p) => p.type === PT_GNU_STACK)?.flags,
    notes: addedNotes(elf),
    versymGlobal: [],
    symbolRenames: [],
  };
}

function sameEntry(a: ModelEntry, b: ModelEntry): boolean {
  return (
    a.tag === b.tag && (a.str !== undefined || b.str !== undefined ? a.str === b.str : a.value === b.value)
  );
}

/** True when the edited model says exactly what the file already says. */
export function sameModel(a: EditModel, b: EditModel): boolean {
  return (
    a.interp === b.interp &&
    a.osabi === b.osabi &&
    a.gnuStackFlags === b.gnuStackFlags &&
    a.entries.length === b.entries.length &&
    a.entries.every((e, i) => sameEntry(e, b.entries[i]!)) &&
    a.verneedFiles.length === b.verneedFiles.length &&
    a.verneedFiles.every((f, i) => f === b.verneedFiles[i]) &&
    sameNotes(a.notes, b.notes) &&
    a.versymGlobal.join() === b.versymGlobal.join() &&
    a.symbolRenames.length === b.symbolRenames.length &&
    a.symbolRenames.every(([i, n], k) => b.symbolRenames[k]![0] === i && b.symbolRenames[k]![1] === n)
  );
}

export function sameNotes(a: readonly AddedNote[], b: readonly AddedNote[]): boolean {
  return (
    a.length === b.length &&
    a.every((n, i) => n.name === b[i]!.name && n.type === b[i]!.type && n.desc.equals(b[i]!.desc))
  );
}

/** Strings entering the file: no NUL inside (it would end the string early). */
export function checkElfString(s: string, what: string): void {
  if (s.includes('\0')) {
    throw new ElfEditError('EDIT_BAD_STRING', `${what} contains a NUL byte`, { hint: 'remove the NUL byte' });
  }
}

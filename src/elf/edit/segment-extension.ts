import type { ByteView } from '../../util/byte-view.js';
import { PF_X, PT_LOAD, SHF_ALLOC, SHT_NOBITS } from '../format/constants.js';
import type { ElfFile, SectionHeader } from '../read/index.js';
import { writeSectionHeaderTablePlace, writeSectionOffset } from '../write/records.js';
import { alignUp, imageEnd } from './placement.js';
import { isAddressTag } from './tail-segment.js';

/**
 * A .dynstr that outgrows its place goes at the end of the file's last loadable segment, which
 * grows to hold it: its bss becomes zero bytes in the file and the table follows at the segment's
 * memory end. The file keeps its program header table and its number of segments; only what
 * follows the segment in the file (sections the loader never maps, the section header table)
 * moves, by `shift` bytes.
 */
export interface SegmentExtension {
  /** Index of the PT_LOAD that grows. */
  phdrIndex: number;
  /** Where the table goes: file offset and address (congruent with the segment's). */
  offset: number;
  vaddr: bigint;
  /** The segment's file end before the edit, and its file and memory size after it. */
  oldEnd: number;
  size: number;
  /** How far everything after `oldEnd` moves. */
  shift: number;
  /** Sections after the segment, which move by `shift`. */
  moved: readonly SectionHeader[];
}

/**
 * A bss larger than this (or than 1/16 of the file) is not written out as zeros: such a file takes
 * a segment of its own for the table instead (rule 3), as every file did before.
 */
const BSS_LIMIT = 64 * 1024;

/**
 * Why not a new segment (rule 3): the loader then maps one more segment per library, reads a
 * program header table that moved out of the first page with one more pread, and protects the
 * hole between the two segments: on ffmpeg's closure, 26 of 209 objects paid that at every start.
 * Why the last segment: it is the only one whose end no other segment follows in memory, so it
 * can grow without moving any code or data. It is writable, so the strings are too; ld.so only
 * reads them, as it reads the GOT that lives there.
 *
 * Only for the common layout, checked in full: the last PT_LOAD is not executable and ends the
 * loaded part of the file (no segment's bytes and no program header table after it), its bss is
 * small, everything after it is sections the loader does not map (non-alloc, with alignments up to
 * a page) and the section header table, with no data appended after the ELF image, and no dynamic
 * entry points at the addresses the segment grows over. A .dynstr that already ends the segment (a
 * re-edit) grows where it is. Otherwise undefined: the table takes a new segment.
 */
export function planSegmentExtension(elf: ElfFile, size: number): SegmentExtension | undefined {
  const t = elf.dynstr;
  const h = elf.header;
  if (t === undefined) return undefined;
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD && (p.memsz > 0 || p.filesz > 0));
  const last = loads[loads.length - 1];
  if (last === undefined || (last.flags & PF_X) !== 0 || last.memsz < last.filesz) return undefined;
  const oldEnd = last.offset + last.filesz;
  for (const p of elf.programHeaders) {
    if (p !== last && p.filesz > 0 && p.offset + p.filesz > oldEnd) return undefined;
  }
  if (h.phnum > 0 && h.phoff + h.phnum * h.phentsize > oldEnd) return undefined;
  if (imageEnd(elf) < elf.buf.length) return undefined;

  const endsSegment =
    last.filesz === last.memsz &&
    t.offset + t.size === oldEnd &&
    t.offset >= last.offset &&
    t.vaddr - last.vaddr === BigInt(t.offset - last.offset);
  const bss = last.memsz - last.filesz;
  if (!endsSegment && bss > Math.max(BSS_LIMIT, elf.buf.length / 16)) return undefined;
  const offset = endsSegment ? t.offset : last.offset + last.memsz;
  const vaddr = endsSegment ? t.vaddr : last.vaddr + BigInt(last.memsz);
  const newEnd = Math.max(offset + size, oldEnd);
  if (vaddr + BigInt(size) >= 1n << (elf.is64 ? 64n : 32n)) return undefined;

  // What follows the segment: sections the loader never maps, moved as a whole (empty and NOBITS
  // ones too, so they keep their place relative to the rest). A section with bytes that straddles
  // the segment's end, or is mapped, cannot move.
  const moved: SectionHeader[] = [];
  for (const s of elf.sections) {
    if (s.index === 0) continue;
    const alloc = (s.flags & BigInt(SHF_ALLOC)) !== 0n;
    const bytes = s.type !== SHT_NOBITS && s.size > 0;
    if (bytes && s.offset + s.size > oldEnd && (s.offset < oldEnd || alloc)) return undefined;
    if (!alloc && s.offset >= oldEnd) moved.push(s);
  }
  // They move whole: a file read in part must have them (else ELF_NOT_READ: the caller reads it all).
  elf.view.bytesAt(oldEnd, elf.buf.length - oldEnd, 'the sections after the last segment');
  const align = Math.max(elf.is64 ? 8 : 4, ...moved.map((s) => s.addralign));
  if ((align & (align - 1)) !== 0 || align > 4096) return undefined;
  const shift = alignUp(newEnd - oldEnd, align);

  // ld.so would read the new bytes through a pointer that aimed past the segment before.
  const memEnd = last.vaddr + BigInt(last.memsz);
  const growEnd = last.vaddr + BigInt(newEnd - last.offset);
  for (const e of elf.dynamicEntries) {
    if (isAddressTag(e.tag) && e.value >= memEnd && e.value < growEnd) return undefined;
  }
  return {
    phdrIndex: last.index,
    offset,
    vaddr,
    oldEnd,
    size: newEnd - last.offset,
    shift,
    moved,
  };
}

/**
 * Moves what follows the segment by `shift` (after every other writer wrote at the old places),
 * zeroes the bss and the table's room, writes the table, and sets the moved sections' offsets and
 * the section header table's place. The bss sections stay NOBITS (eu-elflint expects .bss so) at
 * their addresses: only the segment's file size says that their bytes are now zeros in the file.
 */
export function applySegmentExtension(
  out: ByteView,
  elf: ElfFile,
  ext: SegmentExtension,
  bytes: Buffer,
): void {
  const h = elf.header;
  const end = elf.buf.length;
  out.move(ext.oldEnd + ext.shift, ext.oldEnd, end);
  out.fill(0, Math.min(ext.oldEnd, ext.offset), ext.oldEnd + ext.shift);
  out.copyIn(bytes, ext.offset);
  const shoff = h.shnum > 0 && h.shoff >= ext.oldEnd ? h.shoff + ext.shift : h.shoff;
  if (shoff !== h.shoff) writeSectionHeaderTablePlace(out, shoff);
  for (const s of ext.moved) writeSectionOffset(out, shoff, s.index, s.offset + ext.shift);
}

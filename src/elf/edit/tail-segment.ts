import {
  DT_STRING_TAGS,
  DT_STRTAB,
  PT_DYNAMIC,
  PT_INTERP,
  PT_LOAD,
  PT_NOTE,
  PT_PHDR,
  SHT_NOBITS,
} from '../format/constants.js';
import type { ElfFile } from '../read/index.js';
import { alignUp } from './placement.js';
import { tableSections } from './tables.js';

export type TailTable = 'pht' | 'interp' | 'dynstr' | 'dynamic' | 'notes';

/** A loadable segment at the end of the file that holds nothing but tables an earlier edit moved there. */
export interface TailSegment {
  phdrIndex: number;
  offset: number;
  vaddr: bigint;
  align: number;
  holds: ReadonlySet<TailTable>;
  /** The PT_NOTE segment inside it, when it holds notes an edit added. */
  notePhdrIndex: number | undefined;
}

/**
 * Finds the segment a previous edit appended, so this edit can rebuild it instead of appending
 * another (a hundred edits must not grow the file a hundred times). It is recognised only by
 * its exact shape: the last PT_LOAD, ending the file, with no bss, and tiled exactly, in the
 * order and alignment this engine writes, by the program header table, .interp, .dynstr,
 * .dynamic and one PT_NOTE of added notes. Anything else in it (another tool's layout, real data) makes it not ours.
 */
export function findTailSegment(elf: ElfFile): TailSegment | undefined {
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
  const tail = loads[loads.length - 1];
  if (tail === undefined || loads.length < 2) return undefined;
  if (tail.offset + tail.filesz !== elf.buf.length || tail.filesz !== tail.memsz || tail.offset === 0)
    return undefined;
  const start = tail.offset;
  const end = tail.offset + tail.filesz;
  const inside = (off: number) => off >= start && off < end;
  const h = elf.header;
  if (h.shnum > 0 && h.shoff + h.shnum * h.shentsize > start) return undefined;

  const word = elf.is64 ? 8 : 4;
  const regions: Array<{ table: TailTable; offset: number; size: number; align: number }> = [];
  if (inside(h.phoff))
    regions.push({ table: 'pht', offset: h.phoff, size: h.phnum * h.phentsize, align: word });
  if (elf.interp !== undefined && inside(elf.interp.offset)) {
    regions.push({ table: 'interp', offset: elf.interp.offset, size: elf.interp.size, align: 1 });
  }
  if (elf.dynstr !== undefined && inside(elf.dynstr.offset)) {
    regions.push({ table: 'dynstr', offset: elf.dynstr.offset, size: elf.dynstr.size, align: 1 });
  }
  const dyn = elf.programHeaders.find((p) => p.type === PT_DYNAMIC);
  if (dyn !== undefined && inside(dyn.offset))
    regions.push({ table: 'dynamic', offset: dyn.offset, size: dyn.filesz, align: word });
  const notes = elf.programHeaders.filter((p) => p.type === PT_NOTE && p.filesz > 0 && inside(p.offset));
  if (notes.length > 1) return undefined;
  const note = notes[0];
  if (note !== undefined) regions.push({ table: 'notes', offset: note.offset, size: note.filesz, align: 4 });
  if (regions.length === 0) return undefined;
  // A table that starts before the segment but runs into it means the segment is not ours.
  const overlaps = (off: number, size: number) => off < start && off + size > start;
  if (
    (elf.dynstr !== undefined && overlaps(elf.dynstr.offset, elf.dynstr.size)) ||
    (elf.interp !== undefined && overlaps(elf.interp.offset, elf.interp.size)) ||
    (dyn !== undefined && overlaps(dyn.offset, dyn.filesz)) ||
    overlaps(h.phoff, h.phnum * h.phentsize) ||
    elf.versionNeeds.some((v) => v.offset + 16 > start || v.entries.some((a) => a.offset + 16 > start))
  ) {
    return undefined;
  }

  // The tables must tile the segment exactly, in the order the engine writes them.
  const order: TailTable[] = ['pht', 'interp', 'dynstr', 'dynamic', 'notes'];
  regions.sort((a, b) => a.offset - b.offset);
  let cursor = 0;
  let lastRank = -1;
  for (const r of regions) {
    const rank = order.indexOf(r.table);
    if (rank <= lastRank || r.offset - start !== alignUp(cursor, r.align)) return undefined;
    lastRank = rank;
    cursor = r.offset - start + r.size;
  }
  if (cursor !== tail.filesz) return undefined;

  // No other section or segment may live there, and no dynamic entry but DT_STRTAB may point there.
  const t = tableSections(elf);
  const ours = new Set([t.dynamic, t.dynstr, t.interp].filter((s) => s !== undefined).map((s) => s!.index));
  if (elf.sections.some((s) => s.type !== SHT_NOBITS && s.size > 0 && inside(s.offset) && !ours.has(s.index)))
    return undefined;
  const allowed = new Set([PT_PHDR, PT_INTERP, PT_DYNAMIC, PT_NOTE]);
  if (elf.programHeaders.some((p) => p !== tail && p.filesz > 0 && inside(p.offset) && !allowed.has(p.type)))
    return undefined;
  const vend = tail.vaddr + BigInt(tail.memsz);
  if (
    elf.dynamicEntries.some(
      (e) => e.tag !== DT_STRTAB && e.value >= tail.vaddr && e.value < vend && isAddressTag(e.tag),
    )
  ) {
    return undefined;
  }
  return {
    phdrIndex: tail.index,
    offset: start,
    vaddr: tail.vaddr,
    align: tail.align,
    holds: new Set(regions.map((r) => r.table)),
    notePhdrIndex: note?.index,
  };
}

/** Tags whose value is an address (d_ptr). DT_CONFIG, DT_DEPAUDIT and DT_AUDIT sit in the address range but hold string offsets. */
export function isAddressTag(tag: bigint): boolean {
  if (DT_STRING_TAGS.has(tag)) return false;
  const ptr = [3n, 4n, 5n, 6n, 7n, 12n, 13n, 17n, 21n, 23n, 25n, 26n, 32n, 36n];
  if (ptr.includes(tag)) return true;
  if (tag >= 0x6ffffe00n && tag <= 0x6ffffeffn) return true; // DT_ADDRRNGLO..HI
  return tag === 0x6ffffff0n || tag === 0x6ffffffcn || tag === 0x6ffffffen; // VERSYM, VERDEF, VERNEED
}

import type { ByteView } from '../../util/byte-view.js';
import {
  PT_LOAD,
  SHT_GNU_VERDEF,
  SHT_GNU_VERNEED,
  SHT_GNU_VERSYM,
  SHT_NOBITS,
  SHT_REL,
  SHT_RELA,
  SHT_RELR,
} from '../format/constants.js';
import type { ElfFile, SectionHeader } from '../read/index.js';
import { alignUp } from './placement.js';
import { isAddressTag } from './tail-segment.js';

/**
 * A .dynstr that grows where it is: the tables after it in its segment slide up by `delta` bytes
 * into the padding that ends the segment's last page, and the table takes their room.
 */
export interface DynstrSlide {
  /** File offsets of what slides: from the end of the old .dynstr to the end of the segment's bytes. */
  start: number;
  end: number;
  /** Addresses of the same bytes. */
  vstart: bigint;
  vend: bigint;
  delta: number;
  /** Index of the PT_LOAD that grows by `delta`. */
  phdrIndex: number;
  /** The sections that slide. */
  sections: readonly SectionHeader[];
}

const PAGE = 4096;

/** Tables the loader finds through dynamic entries only, and that nothing else points into. */
const SLIDING_TYPES: ReadonlySet<number> = new Set([
  SHT_GNU_VERSYM,
  SHT_GNU_VERDEF,
  SHT_GNU_VERNEED,
  SHT_RELA,
  SHT_REL,
  SHT_RELR,
]);

/**
 * When .dynstr must grow to `size` bytes, moving it to a new segment leaves the old copy in the
 * first segment, among pages the loader maps anyway (.dynsym before it, the version and relocation
 * tables after it): every run then holds both copies. Linkers end that segment with the version
 * and relocation tables and pad it to a page; when that padding has room, those tables slide up
 * and .dynstr grows in place, and nothing is added to the file.
 *
 * Only for the common layout, checked in full: .dynstr inside one PT_LOAD with no bss, followed to
 * the segment's end by version and relocation sections only (section headers must say so), the
 * padding free of any other segment, section, header or program header, and no processor-specific
 * dynamic entry (whose meaning is unknown here). Otherwise undefined: the caller moves .dynstr.
 */
export function planDynstrSlide(elf: ElfFile, size: number): DynstrSlide | undefined {
  const t = elf.dynstr;
  if (t === undefined || size <= t.size || elf.sections.length === 0) return undefined;
  const seg = elf.programHeaders.find(
    (p) => p.type === PT_LOAD && t.offset >= p.offset && t.offset + t.size <= p.offset + p.filesz,
  );
  if (seg === undefined || seg.filesz !== seg.memsz) return undefined;
  if (t.vaddr - seg.vaddr !== BigInt(t.offset - seg.offset)) return undefined;
  const start = t.offset + t.size;
  const end = seg.offset + seg.filesz;
  const inside = elf.sections.filter(
    (s) =>
      s.index !== 0 && s.type !== SHT_NOBITS && s.size > 0 && s.offset < end && s.offset + s.size > start,
  );
  const misplaced = (s: SectionHeader) =>
    !SLIDING_TYPES.has(s.type) ||
    s.offset < start ||
    s.offset + s.size > end ||
    s.addr - seg.vaddr !== BigInt(s.offset - seg.offset);
  if (inside.some(misplaced)) return undefined;
  // Each sliding section keeps its alignment; the growth rounds up to the largest.
  const align = Math.max(1, ...inside.map((s) => s.addralign));
  if ((align & (align - 1)) !== 0 || align > 4096) return undefined;
  const delta = alignUp(size - t.size, align);
  const vstart = t.vaddr + BigInt(t.size);
  const vend = seg.vaddr + BigInt(seg.filesz);
  const newEnd = end + delta;
  const newVend = vend + BigInt(delta);
  // Within the segment's last 4 KiB page, in the file and in memory: the segment maps no page it
  // did not map before, and shares none with the next (whatever the machine's page size).
  if (newEnd > alignUp(end, PAGE) || newVend > ((vend + BigInt(PAGE) - 1n) & -BigInt(PAGE))) return undefined;
  // The padding must be free: no other segment, section, header table or program header there.
  for (const p of elf.programHeaders) {
    if (p === seg || (p.filesz === 0 && p.memsz === 0)) continue;
    if (p.type === PT_LOAD) {
      if (p.offset < newEnd && p.offset + p.filesz > seg.offset) return undefined;
      if (p.vaddr < newVend && p.vaddr + BigInt(p.memsz) > seg.vaddr) return undefined;
    } else if (p.offset < newEnd && p.offset + p.filesz > start) {
      return undefined;
    }
  }
  if (
    elf.sections.some(
      (s) =>
        s.index !== 0 && s.type !== SHT_NOBITS && s.size > 0 && s.offset < newEnd && s.offset + s.size > end,
    )
  ) {
    return undefined;
  }
  const h = elf.header;
  const overlaps = (off: number, len: number) => len > 0 && off < newEnd && off + len > start;
  if (overlaps(h.phoff, h.phnum * h.phentsize) || overlaps(h.shoff, h.shnum * h.shentsize)) return undefined;
  if (newEnd > elf.buf.length) return undefined;
  if (elf.dynamicEntries.some((e) => e.tag >= 0x70000000n && e.tag <= 0x7fffffffn)) return undefined;
  // Nothing but the sliding tables' own entries may point into the bytes that slide or the padding.
  for (const e of elf.dynamicEntries) {
    if (!isAddressTag(e.tag) || e.value < vstart || e.value >= newVend) continue;
    if (e.value >= vend || !inside.some((s) => s.addr === e.value)) return undefined;
  }
  return { start, end, vstart, vend, delta, phdrIndex: seg.index, sections: inside };
}

/** A dynamic entry's value after the slide. */
export function slidValue(slide: DynstrSlide, tag: bigint, value: bigint): bigint {
  return isAddressTag(tag) && value >= slide.vstart && value < slide.vend
    ? value + BigInt(slide.delta)
    : value;
}

/**
 * Moves the sliding bytes up in `out` (after everything else was written at the old places) and
 * writes the grown table in place, its new bytes past `keptLength`.
 */
export function applyDynstrSlide(
  out: ByteView,
  elf: ElfFile,
  slide: DynstrSlide,
  bytes: Buffer,
  keptLength: number,
): void {
  const t = elf.dynstr!;
  out.move(slide.start + slide.delta, slide.start, slide.end);
  out.fill(0, t.offset + keptLength, slide.start + slide.delta);
  out.copyIn(bytes, t.offset + keptLength, keptLength);
}

import { SHF_ALLOC, SHT_DYNAMIC, SHT_GNU_VERNEED, SHT_PROGBITS, SHT_STRTAB } from '../format/constants.js';
import type { ElfFile, SectionHeader } from '../read/index.js';

/** The section headers that describe the tables an edit may move or resize. */
export interface TableSections {
  dynamic: SectionHeader | undefined;
  dynstr: SectionHeader | undefined;
  interp: SectionHeader | undefined;
  verneed: SectionHeader | undefined;
}

/**
 * Only a section header that describes the very bytes the loader uses is kept in step with an
 * edit; one that disagrees (a corrupt or hand-made file) is left as it was rather than made to
 * describe something else.
 */
export function tableSections(elf: ElfFile): TableSections {
  const dynamic = elf.sections.find(
    (s) =>
      s.type === SHT_DYNAMIC &&
      elf.dynamic !== undefined &&
      s.offset === elf.dynamic.offset &&
      s.addr === elf.dynamic.vaddr,
  );
  const strtab = elf.dynstr;
  const linked = dynamic !== undefined ? elf.sections[dynamic.link] : undefined;
  const isDynstr = (s: SectionHeader | undefined) =>
    s !== undefined &&
    s.type === SHT_STRTAB &&
    (s.flags & BigInt(SHF_ALLOC)) !== 0n &&
    strtab !== undefined &&
    s.addr === strtab.vaddr &&
    s.offset === strtab.offset;
  const dynstr = isDynstr(linked) ? linked : elf.sections.find(isDynstr);
  const interp =
    elf.interp === undefined
      ? undefined
      : elf.sections.find(
          (s) => s.type === SHT_PROGBITS && s.offset === elf.interp!.offset && s.addr === elf.interp!.vaddr,
        );
  const verneed = elf.sections.find(
    (s) =>
      s.type === SHT_GNU_VERNEED && elf.verneedRegion !== undefined && s.offset === elf.verneedRegion.offset,
  );
  return { dynamic, dynstr, interp, verneed };
}

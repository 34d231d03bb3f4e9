import { ElfFormatError } from '../../errors/index.js';
import type { ByteView } from '../../util/byte-view.js';
import { SHT_NOBITS } from '../format/constants.js';
import { layoutsFor } from '../format/layouts.js';
import type { ElfHeader } from './header.js';
import { StringTable } from './string-table.js';

export interface SectionHeader {
  index: number;
  /** Name from the section-header string table; '' when it cannot be read. */
  name: string;
  type: number;
  flags: bigint;
  /** Exact (bigint): addresses may use all 64 bits. */
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export function readSections(view: ByteView, h: ElfHeader): SectionHeader[] {
  if (h.shnum === 0 || h.shoff === 0) return [];
  const L = layoutsFor(h.is64).shdr;
  if (h.shentsize !== L.size) {
    throw new ElfFormatError(
      'ELF_BAD_HEADER',
      `e_shentsize is ${h.shentsize}, expected ${L.size} for ELF${h.is64 ? 64 : 32}`,
      {
        hint: 'the file is corrupt',
      },
    );
  }
  view.check(h.shoff, h.shnum * L.size, 'section header table');
  // Name offsets apart from the headers: no per-section object copy to drop them afterwards.
  const raw: SectionHeader[] = [];
  const nameOffsets: number[] = [];
  for (let i = 0; i < h.shnum; i++) {
    const at = h.shoff + i * L.size;
    const what = `section header ${i}`;
    nameOffsets.push(view.u32(at + L.sh_name));
    raw.push({
      index: i,
      name: '',
      type: view.u32(at + L.sh_type),
      flags: view.wordBig(at + L.sh_flags),
      addr: view.wordBig(at + L.sh_addr, `${what} sh_addr`),
      offset: view.word(at + L.sh_offset, `${what} sh_offset`),
      size: view.word(at + L.sh_size, `${what} sh_size`),
      link: view.u32(at + L.sh_link),
      info: view.u32(at + L.sh_info),
      addralign: view.word(at + L.sh_addralign, `${what} sh_addralign`),
      entsize: view.word(at + L.sh_entsize, `${what} sh_entsize`),
    });
  }
  for (const s of raw) {
    if (s.index !== 0 && s.type !== SHT_NOBITS && s.size > 0) {
      view.check(s.offset, s.size, `section ${s.index} contents`);
    }
  }
  const strtab = h.shstrndx > 0 && h.shstrndx < raw.length ? raw[h.shstrndx] : undefined;
  if (strtab !== undefined && strtab.type !== SHT_NOBITS) {
    const names = new StringTable(view.bytesAt(strtab.offset, strtab.size, 'section names'), 0, strtab.size);
    for (const s of raw) s.name = names.at(nameOffsets[s.index]!) ?? '';
  }
  return raw;
}

import type { ByteView } from '../../util/byte-view.js';
import { layoutsFor } from '../format/layouts.js';

/** A program header's fields, as written. */
export interface PhdrFields {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
  align: number;
}

export function writePhdr(view: ByteView, at: number, p: PhdrFields): void {
  const L = layoutsFor(view.is64).phdr;
  view.setU32(at + L.p_type, p.type);
  view.setU32(at + L.p_flags, p.flags);
  view.setWord(at + L.p_offset, p.offset);
  view.setWord(at + L.p_vaddr, p.vaddr);
  view.setWord(at + L.p_paddr, p.paddr);
  view.setWord(at + L.p_filesz, p.filesz);
  view.setWord(at + L.p_memsz, p.memsz);
  view.setWord(at + L.p_align, p.align);
}

export function writeDyn(view: ByteView, at: number, tag: bigint, value: bigint): void {
  const L = layoutsFor(view.is64).dyn;
  view.setWord(at + L.d_tag, tag);
  view.setWord(at + L.d_val, value);
}

/** Moves or resizes a section: only its address, offset and size change. */
export function writeSectionPlacement(
  view: ByteView,
  shoff: number,
  index: number,
  place: { offset: number; addr: bigint; size: number },
): void {
  const L = layoutsFor(view.is64).shdr;
  const at = shoff + index * L.size;
  view.setWord(at + L.sh_offset, place.offset);
  view.setWord(at + L.sh_addr, place.addr);
  view.setWord(at + L.sh_size, place.size);
}

export function writeSectionInfo(view: ByteView, shoff: number, index: number, info: number): void {
  const L = layoutsFor(view.is64).shdr;
  view.setU32(shoff + index * L.size + L.sh_info, info);
}

/** A section's file offset (the section header table at `shoff`). */
export function writeSectionOffset(view: ByteView, shoff: number, index: number, offset: number): void {
  const L = layoutsFor(view.is64).shdr;
  view.setWord(shoff + index * L.size + L.sh_offset, offset);
}

/** The section header table's place in the file header. */
export function writeSectionHeaderTablePlace(view: ByteView, shoff: number): void {
  view.setWord(layoutsFor(view.is64).ehdr.e_shoff, shoff);
}

export function writeSectionSize(view: ByteView, shoff: number, index: number, size: number): void {
  const L = layoutsFor(view.is64).shdr;
  view.setWord(shoff + index * L.size + L.sh_size, size);
}

/** The program header table's place in the file header. */
export function writePhdrTablePlace(view: ByteView, phoff: number, phnum: number): void {
  const L = layoutsFor(view.is64).ehdr;
  view.setWord(L.e_phoff, phoff);
  view.setU16(L.e_phnum, phnum);
}

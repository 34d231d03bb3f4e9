import { ElfFormatError } from '../../errors/index.js';
import type { ByteView } from '../../util/byte-view.js';
import { layoutsFor } from '../format/layouts.js';
import type { ElfHeader } from './header.js';

export interface ProgramHeader {
  index: number;
  type: number;
  flags: number;
  offset: number;
  /** Addresses are exact (bigint): they may use all 64 bits. Offsets and sizes are numbers. */
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
  align: number;
}

export function readProgramHeaders(view: ByteView, h: ElfHeader): ProgramHeader[] {
  if (h.phnum === 0) return [];
  const L = layoutsFor(h.is64).phdr;
  if (h.phentsize !== L.size) {
    throw new ElfFormatError(
      'ELF_BAD_HEADER',
      `e_phentsize is ${h.phentsize}, expected ${L.size} for ELF${h.is64 ? 64 : 32}`,
      {
        hint: 'the file is corrupt',
      },
    );
  }
  view.check(h.phoff, h.phnum * L.size, 'program header table');
  const out: ProgramHeader[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const at = h.phoff + i * L.size;
    const what = `program header ${i}`;
    const ph: ProgramHeader = {
      index: i,
      type: view.u32(at + L.p_type),
      flags: view.u32(at + L.p_flags),
      offset: view.word(at + L.p_offset, `${what} p_offset`),
      vaddr: view.wordBig(at + L.p_vaddr, `${what} p_vaddr`),
      paddr: view.wordBig(at + L.p_paddr, `${what} p_paddr`),
      filesz: view.word(at + L.p_filesz, `${what} p_filesz`),
      memsz: view.word(at + L.p_memsz, `${what} p_memsz`),
      align: view.word(at + L.p_align, `${what} p_align`),
    };
    out.push(ph);
  }
  return out;
}

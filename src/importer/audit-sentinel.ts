import {
  DT_NULL,
  DT_STRSZ,
  DT_STRTAB,
  DT_SYMENT,
  DT_SYMTAB,
  EI_CLASS,
  EI_DATA,
  EI_VERSION,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  ELFMAG,
  ET_DYN,
  EV_CURRENT,
  PF_R,
  PF_W,
  PT_DYNAMIC,
  PT_GNU_STACK,
  PT_LOAD,
} from '../elf/format/constants.js';
import { layoutsFor } from '../elf/format/layouts.js';
import type { ElfHeader } from '../elf/read/header.js';
import { writeDyn, writePhdr } from '../elf/write/records.js';
import { ByteView } from '../util/byte-view.js';

/**
 * The largest page size in common use (64 KiB; x86-64 has 4 KiB, AArch64 and POWER up to 64 KiB):
 * ld.so refuses a PT_LOAD whose alignment is not a multiple of the running page size.
 */
const SEGMENT_ALIGN = 0x10000;

/**
 * The empty shared object an `--audit` program's first DT_NEEDED names (docs/spec.md, "The audit
 * sentinel"). It defines no symbol, has no constructor, no relocation, no DT_NEEDED and no
 * executable segment, and asks for a non-executable stack (without PT_GNU_STACK, ld.so makes the
 * stack executable: measured, docs/threat-model.md). It comes first in the program's symbol search scope, so it must change
 * nothing there. Its bytes depend only on the program's class, byte order, machine and flags,
 * never on the machine that imports it, so the program's digest is the same everywhere.
 *
 * Layout: file header, three program headers (PT_LOAD over the whole file, read-write so that an
 * older ld.so may relocate the dynamic section in place; PT_DYNAMIC; PT_GNU_STACK), the dynamic
 * section (DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_NULL), the one null symbol, and an
 * empty string table.
 */
export function emptySharedObject(
  program: Pick<ElfHeader, 'is64' | 'littleEndian' | 'machine' | 'flags'>,
): Buffer {
  const L = layoutsFor(program.is64);
  const word = program.is64 ? 8 : 4;
  const phoff = L.ehdr.size;
  const dynoff = phoff + 3 * L.phdr.size;
  const symoff = dynoff + 5 * L.dyn.size;
  const stroff = symoff + L.sym.size;
  const size = stroff + 1;
  const dyn: ReadonlyArray<readonly [bigint, bigint]> = [
    [DT_STRTAB, BigInt(stroff)],
    [DT_SYMTAB, BigInt(symoff)],
    [DT_STRSZ, 1n],
    [DT_SYMENT, BigInt(L.sym.size)],
    [DT_NULL, 0n],
  ];

  const buf = Buffer.alloc(size); // the null symbol and the string table's one NUL are zeros
  const view = new ByteView(buf, program.littleEndian, program.is64);
  ELFMAG.copy(buf, 0);
  buf[EI_CLASS] = program.is64 ? ELFCLASS64 : ELFCLASS32;
  buf[EI_DATA] = program.littleEndian ? ELFDATA2LSB : ELFDATA2MSB;
  buf[EI_VERSION] = EV_CURRENT; // EI_OSABI and EI_ABIVERSION stay 0 (System V)
  view.setU16(L.ehdr.e_type, ET_DYN);
  view.setU16(L.ehdr.e_machine, program.machine);
  view.setU32(L.ehdr.e_version, EV_CURRENT);
  view.setWord(L.ehdr.e_phoff, phoff);
  view.setU32(L.ehdr.e_flags, program.flags); // float ABI and the like, as the program has them
  view.setU16(L.ehdr.e_ehsize, L.ehdr.size);
  view.setU16(L.ehdr.e_phentsize, L.phdr.size);
  view.setU16(L.ehdr.e_phnum, 3);
  const zero = { vaddr: 0n, paddr: 0n };
  writePhdr(view, phoff, {
    type: PT_LOAD,
    flags: PF_R | PF_W,
    offset: 0,
    ...zero,
    filesz: size,
    memsz: size,
    align: SEGMENT_ALIGN,
  });
  const dynSize = dyn.length * L.dyn.size;
  writePhdr(view, phoff + L.phdr.size, {
    type: PT_DYNAMIC,
    flags: PF_R | PF_W,
    offset: dynoff,
    vaddr: BigInt(dynoff),
    paddr: BigInt(dynoff),
    filesz: dynSize,
    memsz: dynSize,
    align: word,
  });
  writePhdr(view, phoff + 2 * L.phdr.size, {
    type: PT_GNU_STACK,
    flags: PF_R | PF_W,
    offset: 0,
    ...zero,
    filesz: 0,
    memsz: 0,
    align: 16,
  });
  for (const [i, [tag, value]] of dyn.entries()) writeDyn(view, dynoff + i * L.dyn.size, tag, value);
  return buf;
}

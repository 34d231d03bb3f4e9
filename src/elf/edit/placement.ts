import { ElfEditError } from '../../errors/index.js';
import {
  EM_AARCH64,
  EM_ALPHA,
  EM_IA_64,
  EM_LOONGARCH,
  EM_MIPS,
  EM_PPC,
  EM_PPC64,
  EM_SPARCV9,
  EM_TILEGX,
  PT_LOAD,
  SHT_NOBITS,
} from '../format/constants.js';
import { layoutsFor } from '../format/layouts.js';
import type { ElfFile } from '../read/index.js';

export const alignUp = (n: number, a: number): number => (a <= 1 ? n : Math.ceil(n / a) * a);

/** The largest page size each machine's kernels use; a new segment must be aligned to it. */
function machineMaxPageSize(machine: number): number {
  switch (machine) {
    case EM_AARCH64:
    case EM_PPC:
    case EM_PPC64:
    case EM_MIPS:
    case EM_IA_64:
    case EM_LOONGARCH:
    case EM_TILEGX:
      return 0x10000;
    case EM_SPARCV9:
    case EM_ALPHA:
      return 0x2000;
    default:
      return 0x1000;
  }
}

/**
 * The alignment of a new PT_LOAD: the machine's largest page size, but no more than the file's own
 * segments already demand (a file linked for 4 KiB pages only runs on 4 KiB kernels anyway, and a
 * 2 MiB alignment from an old linker would only waste file space).
 */
export function segmentPageSize(elf: ElfFile, override: number | undefined): number {
  if (override !== undefined) return override;
  const maxAlign = Math.max(0, ...elf.programHeaders.filter((p) => p.type === PT_LOAD).map((p) => p.align));
  return Math.min(machineMaxPageSize(elf.header.machine), Math.max(maxAlign, 0x1000));
}

/** Where the ELF image ends: headers, tables, sections and segments. Bytes past it were appended. */
export function imageEnd(elf: ElfFile): number {
  const h = elf.header;
  let end = h.is64 ? 64 : 52;
  end = Math.max(end, h.phoff + h.phnum * h.phentsize);
  if (h.shnum > 0) end = Math.max(end, h.shoff + h.shnum * h.shentsize);
  for (const s of elf.sections) if (s.type !== SHT_NOBITS) end = Math.max(end, s.offset + s.size);
  for (const p of elf.programHeaders) end = Math.max(end, p.offset + p.filesz);
  return end;
}

/**
 * Where a new segment goes: after everything in the file, at an address past every segment's
 * memory. For a program (it has PT_INTERP) the address keeps the same address-minus-offset as the
 * first PT_LOAD, so that kernels which compute AT_PHDR as (first segment's address - offset) +
 * e_phoff (Linux before 5.18) find a program header table placed there; the file grows by what
 * that congruence costs. A library needs no such thing: it grows by its new contents only.
 */
export function newSegmentPlace(
  elf: ElfFile,
  fileEnd: number,
  pageSize: number,
): { offset: number; vaddr: number } {
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
  const word = elf.is64 ? 8 : 4;
  const first = loads[0];
  const memEnd = Math.max(0, ...loads.map((p) => p.vaddr + p.memsz));
  // A gap as large as the largest dynamic symbol: eu-elflint reads a relocation's target plus the
  // symbol's size as touched memory, and must not find it in the new read-only segment.
  const nextPage = alignUp(memEnd + largestDynamicSymbol(elf), pageSize);
  const base = first === undefined ? 0 : first.vaddr - first.offset;
  const program = elf.interp !== undefined;
  const compact = alignUp(fileEnd, word);
  let place = { offset: compact, vaddr: nextPage + (compact % pageSize) };
  if (program && base >= 0 && base % pageSize === 0) {
    const offset = Math.max(compact, nextPage - base);
    // Padding the file by more than this for old kernels' sake is not worth it (a huge .bss).
    if (offset - fileEnd <= Math.max(MAX_CONGRUENCE_PADDING, fileEnd))
      place = { offset, vaddr: base + offset };
  }
  const limit = elf.is64 ? 2 ** 47 : 2 ** 32;
  if (place.vaddr + MAX_CONGRUENCE_PADDING >= limit) {
    throw new ElfEditError(
      'EDIT_BAD_LAYOUT',
      `the file's segments reach address 0x${memEnd.toString(16)}: no room for a new segment`,
      { hint: 'the program headers are corrupt, or the file uses its whole address space' },
    );
  }
  return place;
}

const MAX_CONGRUENCE_PADDING = 64 * 1024 * 1024;

function largestDynamicSymbol(elf: ElfFile): number {
  const syms = elf.dynamicSymbols();
  if (syms === undefined) return 0;
  const L = layoutsFor(elf.is64).sym;
  let max = 0n;
  for (let i = 0; i < syms.count; i++) {
    const v = elf.view.wordBig(syms.offset + i * L.size + L.st_size);
    if (v > max) max = v;
  }
  return Number(max > 16_777_216n ? 16_777_216n : max);
}

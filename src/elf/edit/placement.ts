import { ElfEditError } from '../../errors/index.js';
import { PT_LOAD, SHT_NOBITS } from '../format/constants.js';
import { layoutsFor } from '../format/layouts.js';
import type { ElfFile } from '../read/index.js';

export const alignUp = (n: number, a: number): number => (a <= 1 ? n : Math.ceil(n / a) * a);
const alignUpBig = (n: bigint, a: bigint): bigint => (a <= 1n ? n : ((n + a - 1n) / a) * a);

const MIN_PAGE = 0x1000;
const MAX_PAGE = 0x40000000;

/**
 * The alignment of a new PT_LOAD: the same as the file's own loadable segments (the largest, when
 * they differ). A library linked for 64 KiB or 2 MiB pages keeps one alignment everywhere, so it
 * runs wherever it ran before and huge-page mappings still line up. At least 4 KiB (the smallest
 * page); an alignment that is not a power of two, or is absurdly large, is corrupt and ignored.
 */
export function segmentPageSize(elf: ElfFile, override: number | undefined): number {
  if (override !== undefined) return override;
  let page = MIN_PAGE;
  for (const p of elf.programHeaders) {
    const a = p.align;
    if (p.type === PT_LOAD && a > page && a <= MAX_PAGE && (a & (a - 1)) === 0) page = a;
  }
  return page;
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
 * memory. When it holds a program's (PT_INTERP) program header table, the address keeps the same
 * address-minus-offset as the first PT_LOAD, so that kernels which compute AT_PHDR as (first
 * segment's address - offset) + e_phoff (Linux before 5.18) find the table there; the file grows
 * by what that congruence costs. Otherwise it grows by its new contents only.
 */
export function newSegmentPlace(
  elf: ElfFile,
  fileEnd: number,
  pageSize: number,
  holdsPhdrs: boolean,
): { offset: number; vaddr: bigint } {
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
  const word = elf.is64 ? 8 : 4;
  const page = BigInt(pageSize);
  const first = loads[0];
  let memEnd = 0n;
  for (const p of loads) {
    const end = p.vaddr + BigInt(Math.max(p.memsz, p.filesz));
    if (end > memEnd) memEnd = end;
  }
  // A gap as large as the largest dynamic symbol: eu-elflint reads a relocation's target plus the
  // symbol's size as touched memory, and must not find it in the new read-only segment.
  const nextPage = alignUpBig(memEnd + BigInt(largestDynamicSymbol(elf)), page);
  const base = first === undefined ? 0n : first.vaddr - BigInt(first.offset);
  const program = elf.interp !== undefined && holdsPhdrs;
  const compact = alignUp(fileEnd, word);
  let place = { offset: compact, vaddr: nextPage + BigInt(compact % pageSize) };
  if (program && base >= 0n && base % page === 0n) {
    const past = nextPage - base;
    // Padding the file by more than this for old kernels' sake is not worth it (a huge .bss).
    if (past - BigInt(fileEnd) <= BigInt(Math.max(MAX_CONGRUENCE_PADDING, fileEnd))) {
      const offset = Math.max(compact, Number(past));
      place = { offset, vaddr: base + BigInt(offset) };
    }
  }
  const limit = 1n << (elf.is64 ? 64n : 32n);
  if (place.vaddr + BigInt(MAX_CONGRUENCE_PADDING) >= limit) {
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

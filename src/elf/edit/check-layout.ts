import { ElfEditError } from '../../errors/index.js';
import {
  DT_GNU_HASH,
  DT_HASH,
  DT_JMPREL,
  DT_PLTGOT,
  DT_REL,
  DT_RELA,
  DT_RELR,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  DT_SYMTAB,
  DT_VERDEF,
  DT_VERDEFNUM,
  DT_VERNEED,
  DT_VERNEEDNUM,
  DT_VERSYM,
  PT_DYNAMIC,
  PT_INTERP,
  PT_LOAD,
  PT_TLS,
} from '../format/constants.js';
import type { ElfFile } from '../read/index.js';

/** Dynamic tags that may appear once: a file with two is ambiguous. */
const SINGLE_TAGS: ReadonlySet<bigint> = new Set([
  DT_HASH,
  DT_GNU_HASH,
  DT_STRTAB,
  DT_STRSZ,
  DT_SYMTAB,
  DT_SONAME,
  DT_RPATH,
  DT_RUNPATH,
  DT_VERSYM,
  DT_VERNEED,
  DT_VERNEEDNUM,
  DT_VERDEF,
  DT_VERDEFNUM,
]);

/**
 * Refuses the edit. The hint says the loader would refuse the file too only where that is so (glibc's
 * and the kernel's checks): elsewhere the file may well run, but cald cannot lay out an edit of it.
 */
function refuse(what: string, loaderRefuses: boolean): never {
  throw new ElfEditError('EDIT_BAD_LAYOUT', `refusing to edit: ${what}`, {
    hint: loaderRefuses
      ? 'the file is corrupt; the dynamic loader would not load it either'
      : 'the file is corrupt or unusual; cald cannot lay out an edit of it safely',
  });
}

/** The smallest page size of any Linux machine: the kernel and ld.so map segments in pages at least this big. */
const MIN_PAGE = 0x1000n;

/**
 * What an edit relies on, checked before anything is laid out, and only what the loader itself
 * demands (so "would not load it either" is true): non-empty loadable segments in ascending,
 * non-overlapping order, each inside the file, with address and offset congruent modulo the
 * page (mmap cannot map them otherwise; congruence with a larger p_align is the linker's
 * promise, not the loader's need); and the dynamic section and interpreter inside them.
 * Empty PT_LOADs (a linker's segment for an empty note section) map nothing and are ignored, as
 * the kernel and ld.so ignore them; PT_DYNAMIC's sizes are not read by the loader either.
 */
export function checkEditableLayout(elf: ElfFile): void {
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD && (p.memsz > 0 || p.filesz > 0));
  // ld.so: "object file has no loadable segments"; the kernel will not execute one either.
  if (loads.length === 0) refuse('it has no loadable segment (no PT_LOAD in its program headers)', true);
  let prevEnd = -1n;
  for (const p of loads) {
    const at = `PT_LOAD ${p.index} (offset 0x${p.offset.toString(16)}, address 0x${p.vaddr.toString(16)})`;
    if (p.offset + p.filesz > elf.buf.length) refuse(`${at} runs past the end of the file`, false);
    if ((p.vaddr - BigInt(p.offset)) % MIN_PAGE !== 0n)
      refuse(`${at} has an address and offset that differ by a fraction of a page`, true);
    if (p.vaddr < prevEnd) refuse(`${at} overlaps or precedes the segment before it`, false);
    prevEnd = p.vaddr + BigInt(Math.max(p.memsz, p.filesz));
  }
  // ld.so's TLS set-up copies p_filesz bytes into a block of p_memsz bytes.
  for (const p of elf.programHeaders) {
    if (p.type === PT_TLS && p.filesz > p.memsz) {
      refuse(`the TLS segment (program header ${p.index}) has more bytes in the file than in memory`, false);
    }
  }
  // ld.so keeps the last of duplicated tags, the tools the first: an edit could only pick one.
  const seen = new Set<bigint>();
  for (const e of elf.dynamicEntries) {
    if (!SINGLE_TAGS.has(e.tag)) continue;
    if (seen.has(e.tag))
      refuse(`the dynamic section has more than one entry with tag 0x${e.tag.toString(16)}`, false);
    seen.add(e.tag);
  }
  const inLoad = (offset: number, size: number) =>
    loads.some((l) => offset >= l.offset && offset + size <= l.offset + l.filesz);
  for (const p of elf.programHeaders) {
    if ((p.type === PT_DYNAMIC || p.type === PT_INTERP) && p.filesz > 0 && !inLoad(p.offset, p.filesz)) {
      // ld.so reads the dynamic section from memory (not mapped: it faults); the kernel reads
      // PT_INTERP from the file, so a program like that may still run.
      refuse(
        `${p.type === PT_DYNAMIC ? 'PT_DYNAMIC' : 'PT_INTERP'} is not inside a loadable segment`,
        p.type === PT_DYNAMIC,
      );
    }
  }
}

/** Dynamic entries that point at tables ld.so reads (d_ptr into the loaded image). */
const TABLE_POINTER_TAGS: ReadonlySet<bigint> = new Set([
  DT_PLTGOT,
  DT_HASH,
  DT_GNU_HASH,
  DT_STRTAB,
  DT_SYMTAB,
  DT_RELA,
  DT_REL,
  DT_JMPREL,
  DT_RELR,
  DT_VERSYM,
  DT_VERNEED,
  DT_VERDEF,
]);

/**
 * A table pointer outside every segment is harmless while nothing lives there (objects that are
 * never relocated: alpha, ppc32 PIE; DT_PLTGOT in a NOBITS .plt), but a new segment placed over it
 * would give the loader bytes it never had. Refused only in that case.
 */
export function checkPointersClear(elf: ElfFile, vaddr: bigint, size: number): void {
  const end = vaddr + BigInt(size);
  for (const e of elf.dynamicEntries) {
    if (TABLE_POINTER_TAGS.has(e.tag) && e.value >= vaddr && e.value < end) {
      throw new ElfEditError(
        'EDIT_BAD_LAYOUT',
        `refusing to edit: dynamic entry 0x${e.tag.toString(16)} points at 0x${e.value.toString(16)}, outside the file's segments, where the new segment would go`,
        { hint: 'the file is corrupt, or the edit must fit in place (shorter names)' },
      );
    }
  }
}

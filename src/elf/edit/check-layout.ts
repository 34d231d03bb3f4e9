import { ElfEditError } from '../../errors/index.js';
import {
  DT_GNU_HASH,
  DT_HASH,
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
  PT_PHDR,
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

function refuse(what: string): never {
  throw new ElfEditError('EDIT_BAD_LAYOUT', `refusing to edit: ${what}`, {
    hint: 'the file is corrupt; the dynamic loader would not load it either',
  });
}

/**
 * What an edit relies on, checked before anything is laid out: loadable segments in ascending,
 * non-overlapping order, each inside the file and congruent with its alignment, and the dynamic
 * section and interpreter inside them. The loader demands the same of a file; an edit of a file
 * that breaks these rules could only produce another broken file.
 */
export function checkEditableLayout(elf: ElfFile): void {
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
  let prevEnd = -1;
  for (const p of loads) {
    const at = `PT_LOAD ${p.index} (offset 0x${p.offset.toString(16)}, address 0x${p.vaddr.toString(16)})`;
    if (p.filesz > p.memsz) refuse(`${at} has more bytes in the file than in memory`);
    if (p.offset + p.filesz > elf.buf.length) refuse(`${at} runs past the end of the file`);
    if (p.align > 1 && (p.vaddr - p.offset) % p.align !== 0)
      refuse(`${at} is not congruent with its alignment 0x${p.align.toString(16)}`);
    if (p.vaddr < prevEnd) refuse(`${at} overlaps or precedes the segment before it`);
    prevEnd = p.vaddr + p.memsz;
  }
  // Segments the loader maps or reads from memory; others (PT_RISCV_ATTRIBUTES...) may have no memory image.
  const mapped = new Set([PT_LOAD, PT_INTERP, PT_DYNAMIC, PT_PHDR, PT_TLS]);
  for (const p of elf.programHeaders) {
    if (mapped.has(p.type) && p.filesz > p.memsz) {
      refuse(
        `program header ${p.index} (type 0x${p.type.toString(16)}) has more bytes in the file than in memory`,
      );
    }
  }
  // ld.so keeps the last of duplicated tags, the tools the first: an edit could only pick one.
  const seen = new Set<bigint>();
  for (const e of elf.dynamicEntries) {
    if (!SINGLE_TAGS.has(e.tag)) continue;
    if (seen.has(e.tag))
      refuse(`the dynamic section has more than one entry with tag 0x${e.tag.toString(16)}`);
    seen.add(e.tag);
  }
  const inLoad = (offset: number, size: number) =>
    loads.some((l) => offset >= l.offset && offset + size <= l.offset + l.filesz);
  for (const p of elf.programHeaders) {
    if ((p.type === PT_DYNAMIC || p.type === PT_INTERP) && p.filesz > 0 && !inLoad(p.offset, p.filesz)) {
      refuse(`${p.type === PT_DYNAMIC ? 'PT_DYNAMIC' : 'PT_INTERP'} is not inside a loadable segment`);
    }
  }
}

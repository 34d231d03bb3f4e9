// Reads an ELF file for an edit without its code and data: an edit needs the headers and the
// tables (dynamic section, strings, symbols, versions, relocations, notes), which are under a tenth
// of a typical library. The large SHT_PROGBITS sections (.text, .rodata, .eh_frame, .data...) are
// left out as holes: the engine's reads are checked against them (util/byte-view.ts), so a read
// of a byte that was not read throws ELF_NOT_READ instead of seeing garbage, and the caller then
// reads the whole file. The bytes the edit writes go over a kernel copy of the file
// (util/atomic-write.ts, replaceFilePatched), so the holes are never needed for the output.
import { readSync } from 'node:fs';
import { SHT_PROGBITS } from '../elf/format/constants.js';
import { layoutsFor } from '../elf/format/layouts.js';
import { readHeader } from '../elf/read/header.js';

/** Files smaller than this are read whole: a few more reads would cost more than they save. */
const PARTIAL_FROM = 1024 * 1024;
/** Sections smaller than this are read: a hole costs one more read. */
const HOLE_FROM = 64 * 1024;
/** Read first: the file header and, in every linked file, the program headers. */
const HEAD = 64 * 1024;

export type Holes = Array<[number, number]>;

/**
 * Fills `buf` (at least `size` bytes) with the file behind `fd`, except for holes, which are
 * returned (sorted, disjoint; empty when the whole file was read). Never a hole in the file header,
 * the program header table or the section header table.
 */
export function readTables(fd: number, buf: Buffer, size: number): Holes {
  if (size < PARTIAL_FROM) {
    readRange(fd, buf, 0, size);
    return [];
  }
  readRange(fd, buf, 0, HEAD);
  const holes = holesOf(fd, buf, size);
  let at = HEAD;
  for (const [start, end] of holes) {
    if (start > at) readRange(fd, buf, at, start);
    at = Math.max(at, end);
  }
  if (at < size) readRange(fd, buf, at, size);
  return holes;
}

/** Reads the whole file into `buf` (after readTables left holes). */
export function readWhole(fd: number, buf: Buffer, size: number): void {
  readRange(fd, buf, 0, size);
}

/** The holes: large SHT_PROGBITS sections, read from the section header table (read here). */
function holesOf(fd: number, buf: Buffer, size: number): Holes {
  let header: ReturnType<typeof readHeader>['header'];
  try {
    header = readHeader(buf.subarray(0, HEAD), () => {
      throw new Error('extended section numbering');
    }).header;
  } catch {
    // Not an ELF file, or one this shortcut does not handle: whole, so the parse says why.
    readRange(fd, buf, HEAD, size);
    return [];
  }
  const S = layoutsFor(header.is64).shdr;
  const { shoff, shnum, shentsize, phoff, phnum, phentsize } = header;
  const shEnd = shoff + shnum * shentsize;
  if (shnum === 0 || shentsize < S.size || shEnd > size || phoff + phnum * phentsize > HEAD) {
    readRange(fd, buf, HEAD, size);
    return [];
  }
  if (shoff < HEAD) readRange(fd, buf, HEAD, Math.max(HEAD, shEnd));
  else readRange(fd, buf, shoff, shEnd);
  const word = (at: number) =>
    header.is64 ? Number(read64(buf, at, header.littleEndian)) : read32(buf, at, header.littleEndian);
  const found: Holes = [];
  for (let i = 1; i < shnum; i++) {
    const at = shoff + i * shentsize;
    if (read32(buf, at + S.sh_type, header.littleEndian) !== SHT_PROGBITS) continue;
    const start = word(at + S.sh_offset);
    const end = Math.min(start + word(at + S.sh_size), size);
    // Never over the headers read above, nor past the file.
    if (end - start < HOLE_FROM || start < HEAD || (start < shEnd && end > shoff)) continue;
    found.push([start, end]);
  }
  found.sort((a, b) => a[0] - b[0]);
  const holes: Holes = [];
  for (const [s, e] of found) {
    const last = holes.at(-1);
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else holes.push([s, e]);
  }
  return holes;
}

function read32(buf: Buffer, at: number, le: boolean): number {
  return le ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
}

function read64(buf: Buffer, at: number, le: boolean): bigint {
  return le ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at);
}

/** Reads [start, end) of the file into the same place of `buf`; a file that ends early is an error. */
function readRange(fd: number, buf: Buffer, start: number, end: number): void {
  for (let at = start; at < end; ) {
    const n = readSync(fd, buf, at, end - at, at);
    if (n === 0) throw Object.assign(new Error('the file shrank while it was read'), { code: 'EAGAIN' });
    at += n;
  }
}

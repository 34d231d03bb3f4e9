// Reads only what the closure walk needs from an ELF file: the header checks ld.so's open_verify
// makes (elf/dl-load.c) and the dynamic entries (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH,
// DT_FLAGS_1) plus PT_INTERP. A 200 MB library costs three small reads, not a full read.

import {
  DF_1_NODEFLIB,
  DT_FLAGS_1,
  DT_NEEDED,
  DT_NULL,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  EI_ABIVERSION,
  EI_CLASS,
  EI_DATA,
  EI_NIDENT,
  EI_OSABI,
  EI_VERSION,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFMAG,
  ET_DYN,
  ET_EXEC,
  EV_CURRENT,
  PT_DYNAMIC,
  PT_INTERP,
  PT_LOAD,
} from '../elf/format/constants.js';
import { layoutsFor } from '../elf/format/layouts.js';
import { StringTable } from '../elf/read/string-table.js';
import { ElfFormatError } from '../errors/index.js';
import { ByteView } from '../util/byte-view.js';
import type { ClosureFs } from './fs.js';

/** The ABI every object of one process shares: the class, byte order and machine of its loader. */
export interface LoaderAbi {
  is64: boolean;
  littleEndian: boolean;
  machine: number;
}

const ELFOSABI_SYSV = 0;
const ELFOSABI_GNU = 3;
/** One past the highest GNU ABI version glibc 2.36 accepts (LIBC_ABI_MAX: unique, ifunc, absolute). */
const LIBC_ABI_MAX = 4;
const EI_PAD = 9;
const HEAD_READ = 4096;

/**
 * What ld.so makes of a candidate file:
 * - absent: it cannot be opened (missing, not a directory, no permission): the search goes on;
 * - mismatch: an ELF file of another class or machine: skipped, the search goes on;
 * - invalid: ld.so stops with an error ("invalid ELF header", "file too short"...);
 * - ok: the file is loaded.
 */
export type Verdict =
  | { kind: 'absent' }
  | { kind: 'mismatch'; reason: string }
  | { kind: 'invalid'; reason: string }
  | { kind: 'ok'; head: Buffer };

/** open_verify's checks, in its order. */
export function verifyCandidate(fs: ClosureFs, path: string, abi: LoaderAbi): Verdict {
  const st = fs.stat(path);
  if (st === undefined) return { kind: 'absent' };
  if (st.isDirectory) return { kind: 'invalid', reason: 'cannot read file data: Is a directory' };
  // ld.so would open a FIFO and wait for a writer; cald never reads anything but regular files.
  if (!st.isFile) return { kind: 'invalid', reason: 'not a regular file' };
  let head: Buffer;
  try {
    head = fs.readRange(path, 0, HEAD_READ);
  } catch {
    return { kind: 'absent' };
  }
  const ehdrSize = layoutsFor(abi.is64).ehdr.size;
  if (head.length < ehdrSize) return { kind: 'invalid', reason: 'file too short' };
  if (!head.subarray(0, 4).equals(ELFMAG)) return { kind: 'invalid', reason: 'invalid ELF header' };
  const is64 = head[EI_CLASS] === ELFCLASS64;
  if (head[EI_CLASS] !== (abi.is64 ? ELFCLASS64 : 1)) {
    return { kind: 'mismatch', reason: `wrong ELF class: ELFCLASS${is64 ? 64 : 32}` };
  }
  if ((head[EI_DATA] === ELFDATA2LSB) !== abi.littleEndian || (head[EI_DATA] !== 1 && head[EI_DATA] !== 2)) {
    return {
      kind: 'invalid',
      reason: `ELF file data encoding not ${abi.littleEndian ? 'little' : 'big'}-endian`,
    };
  }
  if (head[EI_VERSION] !== EV_CURRENT) {
    return { kind: 'invalid', reason: 'ELF file version ident does not match current one' };
  }
  const osabi = head[EI_OSABI] ?? 0;
  if (osabi !== ELFOSABI_SYSV && osabi !== ELFOSABI_GNU)
    return { kind: 'invalid', reason: 'ELF file OS ABI invalid' };
  const abiversion = head[EI_ABIVERSION] ?? 0;
  if (abiversion !== 0 && !(osabi === ELFOSABI_GNU && abiversion < LIBC_ABI_MAX)) {
    return { kind: 'invalid', reason: 'ELF file ABI version invalid' };
  }
  if (head.subarray(EI_PAD, EI_NIDENT).some((b) => b !== 0)) {
    return { kind: 'invalid', reason: 'nonzero padding in e_ident' };
  }
  const view = new ByteView(head, abi.littleEndian, abi.is64);
  const L = layoutsFor(abi.is64).ehdr;
  if (view.u32(L.e_version) !== EV_CURRENT) {
    return { kind: 'invalid', reason: 'ELF file version does not match current one' };
  }
  const machine = view.u16(L.e_machine);
  if (machine !== abi.machine) return { kind: 'mismatch', reason: `wrong machine (e_machine ${machine})` };
  const type = view.u16(L.e_type);
  if (type !== ET_DYN && type !== ET_EXEC) {
    return { kind: 'invalid', reason: 'only ET_DYN and ET_EXEC can be loaded' };
  }
  if (view.u16(L.e_phentsize) !== layoutsFor(abi.is64).phdr.size) {
    return { kind: 'invalid', reason: "ELF file's phentsize not the expected size" };
  }
  return { kind: 'ok', head };
}

/** The dynamic facts of one object. Strings are byte strings (one character per byte). */
export interface DynamicInfo {
  abi: LoaderAbi;
  osabi: number;
  type: number;
  interp: string | undefined;
  needed: string[];
  soname: string | undefined;
  /** DT_RPATH, already dropped when DT_RUNPATH is present (elf/get-dynamic-info.h). */
  rpath: string | undefined;
  runpath: string | undefined;
  nodeflib: boolean;
}

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

/**
 * Reads the header, program headers, dynamic table and the strings it names. `head` is the start
 * of the file when the caller already has it. Throws ElfFormatError, naming `path`, when the file
 * is malformed: every range read is checked against the file's size before anything is allocated.
 */
export function readDynamicInfo(fs: ClosureFs, path: string, head?: Buffer): DynamicInfo {
  try {
    return readDynamicInfoOf(fs, path, head);
  } catch (e) {
    if (!(e instanceof ElfFormatError) || e.message.startsWith(`${path}:`)) throw e;
    throw new ElfFormatError(e.code as `ELF_${string}`, `${path}: ${e.message}`, {
      ...(e.hint === undefined ? {} : { hint: e.hint }),
      data: { ...e.data, path },
      cause: e,
    });
  }
}

function readDynamicInfoOf(fs: ClosureFs, path: string, head?: Buffer): DynamicInfo {
  let buf = head ?? fs.readRange(path, 0, HEAD_READ);
  if (buf.length < EI_NIDENT || !buf.subarray(0, 4).equals(ELFMAG)) {
    throw new ElfFormatError('ELF_NOT_ELF', `${path}: not an ELF file (no \\x7fELF magic at the start)`);
  }
  const abi: LoaderAbi = {
    is64: buf[EI_CLASS] === ELFCLASS64,
    littleEndian: buf[EI_DATA] === ELFDATA2LSB,
    machine: 0,
  };
  const lay = layoutsFor(abi.is64);
  let view = new ByteView(buf, abi.littleEndian, abi.is64);
  abi.machine = view.u16(lay.ehdr.e_machine, 'e_machine');
  const type = view.u16(lay.ehdr.e_type, 'e_type');
  const phoff = view.word(lay.ehdr.e_phoff, 'e_phoff');
  const phnum = view.u16(lay.ehdr.e_phnum, 'e_phnum');
  const phEnd = phoff + phnum * lay.phdr.size;
  if (phEnd > buf.length) {
    buf = fs.readRange(path, 0, phEnd);
    view = new ByteView(buf, abi.littleEndian, abi.is64);
  }
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * lay.phdr.size;
    segments.push({
      type: view.u32(at + lay.phdr.p_type, 'p_type'),
      offset: view.word(at + lay.phdr.p_offset, 'p_offset'),
      vaddr: view.word(at + lay.phdr.p_vaddr, 'p_vaddr'),
      filesz: view.word(at + lay.phdr.p_filesz, 'p_filesz'),
    });
  }
  const read = (offset: number, size: number, what: string): ByteView => {
    const b =
      offset + size <= buf.length ? buf.subarray(offset, offset + size) : fs.readRange(path, offset, size);
    if (b.length < size) {
      throw new ElfFormatError(
        'ELF_TRUNCATED',
        `${path}: ${what} (${size} bytes at offset ${offset}) lies outside the file`,
        {
          hint: 'the file is truncated or corrupt',
        },
      );
    }
    return new ByteView(b, abi.littleEndian, abi.is64);
  };
  const interpSeg = segments.find((s) => s.type === PT_INTERP);
  let interp: string | undefined;
  if (interpSeg !== undefined && interpSeg.filesz > 0) {
    const v = read(interpSeg.offset, interpSeg.filesz, 'PT_INTERP');
    interp = v.cstring(0, interpSeg.filesz, 'PT_INTERP');
  }
  const info: DynamicInfo = {
    abi,
    osabi: buf[EI_OSABI] ?? 0,
    type,
    interp,
    needed: [],
    soname: undefined,
    rpath: undefined,
    runpath: undefined,
    nodeflib: false,
  };
  const dynSeg = segments.find((s) => s.type === PT_DYNAMIC);
  if (dynSeg === undefined || dynSeg.filesz === 0) return info;
  const dv = read(dynSeg.offset, dynSeg.filesz, 'PT_DYNAMIC');
  const entries: Array<{ tag: bigint; value: bigint }> = [];
  for (let at = 0; at + lay.dyn.size <= dynSeg.filesz; at += lay.dyn.size) {
    const tag = dv.swordBig(at + lay.dyn.d_tag, 'd_tag');
    if (tag === DT_NULL) break;
    entries.push({ tag, value: dv.wordBig(at + lay.dyn.d_val, 'd_val') });
  }
  const first = (tag: bigint) => entries.find((e) => e.tag === tag)?.value;
  const strtab = first(DT_STRTAB);
  const strsz = first(DT_STRSZ);
  const flags1 = first(DT_FLAGS_1);
  info.nodeflib = flags1 !== undefined && (flags1 & DF_1_NODEFLIB) !== 0n;
  if (strtab === undefined || strsz === undefined) return info;
  const load = segments.find(
    (s) =>
      s.type === PT_LOAD && Number(strtab) >= s.vaddr && Number(strtab) + Number(strsz) <= s.vaddr + s.filesz,
  );
  if (load === undefined) {
    throw new ElfFormatError(
      'ELF_BAD_DYNAMIC',
      `${path}: DT_STRTAB 0x${strtab.toString(16)} is in no loaded segment`,
      {
        hint: 'the file is corrupt',
      },
    );
  }
  const size = Number(strsz);
  const sv = read(load.offset + Number(strtab) - load.vaddr, size, '.dynstr');
  const strings = new StringTable(sv.buf, 0, size);
  const str = (v: bigint, what: string) => {
    if (v >= strsz) {
      throw new ElfFormatError('ELF_BAD_STRING', `${path}: ${what} string offset ${v} lies outside .dynstr`, {
        hint: 'the file is corrupt',
      });
    }
    const s = strings.at(Number(v));
    if (s === undefined) {
      throw new ElfFormatError(
        'ELF_BAD_STRING',
        `${path}: ${what} at .dynstr offset ${v} is not NUL-terminated inside the table`,
        {
          hint: 'the file is truncated or corrupt',
        },
      );
    }
    return s;
  };
  for (const e of entries) {
    if (e.tag === DT_NEEDED) info.needed.push(str(e.value, 'DT_NEEDED'));
    else if (e.tag === DT_SONAME && info.soname === undefined) info.soname = str(e.value, 'DT_SONAME');
    else if (e.tag === DT_RPATH && info.rpath === undefined) info.rpath = str(e.value, 'DT_RPATH');
    else if (e.tag === DT_RUNPATH && info.runpath === undefined) info.runpath = str(e.value, 'DT_RUNPATH');
  }
  if (info.runpath !== undefined) info.rpath = undefined;
  return info;
}

/** readDynamicInfo over bytes in memory (`path` names them in errors): a light, independent check of an edited file. */
export function dynamicInfoOfBuffer(buf: Buffer, path: string): DynamicInfo {
  const fs: ClosureFs = {
    readFile: () => buf,
    readRange: (_p, position, length) =>
      buf.subarray(Math.min(position, buf.length), Math.min(position + length, buf.length)),
    stat: () => ({ dev: 0n, ino: 0n, isFile: true, isDirectory: false, size: buf.length }),
    realpath: (p) => p,
  };
  return readDynamicInfo(fs, path);
}

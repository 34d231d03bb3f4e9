// Which candidate files ld.so accepts: the checks its open_verify makes (elf/dl-load.c), in its
// order, on the start of the file. The bytes are read by the ELF engine (elf/read); the rules
// (what is skipped, what stops the search) are the loader's.
import {
  EI_ABIVERSION,
  EI_CLASS,
  EI_DATA,
  EI_NIDENT,
  EI_OSABI,
  EI_PAD,
  EI_VERSION,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  ELFOSABI_GNU,
  ELFOSABI_SYSV,
  ET_DYN,
  ET_EXEC,
  EV_CURRENT,
} from '../elf/format/constants.js';
import { layoutsFor } from '../elf/format/layouts.js';
import { type ElfHeader, HEAD_SIZE, isElf, readHeader } from '../elf/read/index.js';
import { ElfFormatError } from '../errors/index.js';
import type { ClosureFs } from './fs.js';

/** The ABI every object of one process shares: the class, byte order and machine of its loader. */
export interface LoaderAbi {
  is64: boolean;
  littleEndian: boolean;
  machine: number;
}

/** One past the highest GNU ABI version glibc 2.36 accepts (LIBC_ABI_MAX: unique, ifunc, absolute). */
const LIBC_ABI_MAX = 4;

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
    head = fs.readRange(path, 0, HEAD_SIZE);
  } catch {
    return { kind: 'absent' };
  }
  if (head.length < layoutsFor(abi.is64).ehdr.size) return { kind: 'invalid', reason: 'file too short' };
  if (!isElf(head)) return { kind: 'invalid', reason: 'invalid ELF header' };
  const cls = head[EI_CLASS];
  if (cls !== (abi.is64 ? ELFCLASS64 : ELFCLASS32)) {
    return { kind: 'mismatch', reason: `wrong ELF class: ELFCLASS${cls === ELFCLASS64 ? 64 : 32}` };
  }
  const data = head[EI_DATA];
  if ((data === ELFDATA2LSB) !== abi.littleEndian || (data !== ELFDATA2LSB && data !== ELFDATA2MSB)) {
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
  let header: ElfHeader;
  try {
    header = readHeader(head, (shoff, size) => fs.readRange(path, shoff, size)).header;
  } catch (e) {
    if (e instanceof ElfFormatError) return { kind: 'invalid', reason: e.message };
    throw e;
  }
  if (header.version !== EV_CURRENT) {
    return { kind: 'invalid', reason: 'ELF file version does not match current one' };
  }
  if (header.machine !== abi.machine) {
    return { kind: 'mismatch', reason: `wrong machine (e_machine ${header.machine})` };
  }
  if (header.type !== ET_DYN && header.type !== ET_EXEC) {
    return { kind: 'invalid', reason: 'only ET_DYN and ET_EXEC can be loaded' };
  }
  if (header.phentsize !== layoutsFor(abi.is64).phdr.size) {
    return { kind: 'invalid', reason: "ELF file's phentsize not the expected size" };
  }
  return { kind: 'ok', head };
}

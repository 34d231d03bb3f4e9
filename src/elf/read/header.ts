import { ElfFormatError } from '../../errors/index.js';
import { ByteView } from '../../util/byte-view.js';
import {
  EI_ABIVERSION,
  EI_CLASS,
  EI_DATA,
  EI_NIDENT,
  EI_OSABI,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  ELFMAG,
  PN_XNUM,
  SHN_XINDEX,
} from '../format/constants.js';
import { layoutsFor } from '../format/layouts.js';

export interface ElfHeader {
  is64: boolean;
  littleEndian: boolean;
  osabi: number;
  abiversion: number;
  type: number;
  machine: number;
  version: number;
  entry: bigint;
  flags: number;
  ehsize: number;
  phoff: number;
  phentsize: number;
  /** The real count, after the PN_XNUM escape is resolved. */
  phnum: number;
  shoff: number;
  shentsize: number;
  /** The real count, after the extended-numbering escape is resolved. */
  shnum: number;
  /** The real index, after SHN_XINDEX is resolved; 0 when there is none. */
  shstrndx: number;
}

/** True when `buf` starts with the ELF magic. */
export function isElf(buf: Buffer): boolean {
  return buf.length >= 4 && buf.subarray(0, 4).equals(ELFMAG);
}

/**
 * Validates e_ident and reads the file header; returns a view fixed to the file's class and byte order.
 * `section0`: where section header 0 is read from when extended numbering needs it, for a caller
 * whose `buf` is only the start of the file (the bytes at `shoff`, `size` of them); default `buf`.
 * `holes`: ranges of `buf` never read (ByteView); the file header itself must not lie in one.
 */
export function readHeader(
  buf: Buffer,
  section0?: (shoff: number, size: number) => Buffer,
  holes?: ReadonlyArray<readonly [number, number]>,
): { view: ByteView; header: ElfHeader } {
  if (buf.length < EI_NIDENT || !isElf(buf)) {
    throw new ElfFormatError('ELF_NOT_ELF', 'not an ELF file (no \\x7fELF magic at the start)', {
      hint: 'give an ELF program, shared library or object file',
    });
  }
  const cls = buf[EI_CLASS];
  const data = buf[EI_DATA];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) {
    throw new ElfFormatError('ELF_BAD_CLASS', `unknown ELF class ${cls} in e_ident[EI_CLASS]`, {
      hint: 'the file is corrupt',
    });
  }
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) {
    throw new ElfFormatError('ELF_BAD_DATA', `unknown ELF byte order ${data} in e_ident[EI_DATA]`, {
      hint: 'the file is corrupt',
    });
  }
  const is64 = cls === ELFCLASS64;
  const view = new ByteView(buf, data === ELFDATA2LSB, is64, undefined, holes);
  const L = layoutsFor(is64).ehdr;
  view.check(0, L.size, 'ELF file header');
  const header: ElfHeader = {
    is64,
    littleEndian: view.littleEndian,
    osabi: view.u8(EI_OSABI),
    abiversion: view.u8(EI_ABIVERSION),
    type: view.u16(L.e_type),
    machine: view.u16(L.e_machine),
    version: view.u32(L.e_version),
    entry: view.wordBig(L.e_entry),
    flags: view.u32(L.e_flags),
    ehsize: view.u16(L.e_ehsize),
    phoff: view.word(L.e_phoff, 'e_phoff'),
    phentsize: view.u16(L.e_phentsize),
    phnum: view.u16(L.e_phnum),
    shoff: view.word(L.e_shoff, 'e_shoff'),
    shentsize: view.u16(L.e_shentsize),
    shnum: view.u16(L.e_shnum),
    shstrndx: view.u16(L.e_shstrndx),
  };
  resolveExtendedNumbering(view, header, section0);
  return { view, header };
}

/** Large files keep the real section count, string-table index or segment count in section 0. */
function resolveExtendedNumbering(
  fileView: ByteView,
  h: ElfHeader,
  section0: ((shoff: number, size: number) => Buffer) | undefined,
): void {
  const needsSection0 = (h.shnum === 0 && h.shoff !== 0) || h.shstrndx === SHN_XINDEX || h.phnum === PN_XNUM;
  if (!needsSection0) return;
  if (h.shoff === 0) {
    throw new ElfFormatError(
      'ELF_BAD_HEADER',
      'extended section/segment numbering is used but there is no section header table',
      {
        hint: 'the file is corrupt',
      },
    );
  }
  const S = layoutsFor(h.is64).shdr;
  // Section 0 in the file's own view, or alone in a view of the bytes `section0` gives.
  let view = fileView;
  let at = h.shoff;
  if (section0 === undefined) view.check(at, S.size, 'section header 0');
  else {
    const bytes = section0(h.shoff, S.size);
    if (bytes.length < S.size) {
      throw new ElfFormatError(
        'ELF_TRUNCATED',
        `section header 0 at offset 0x${h.shoff.toString(16)} (${S.size} bytes) lies outside the file`,
        { hint: 'the file is truncated or corrupt', data: { offset: h.shoff, size: S.size } },
      );
    }
    view = new ByteView(bytes, fileView.littleEndian, h.is64);
    at = 0;
  }
  if (h.shnum === 0) h.shnum = view.word(at + S.sh_size, 'section 0 sh_size');
  if (h.shstrndx === SHN_XINDEX) h.shstrndx = view.u32(at + S.sh_link);
  if (h.phnum === PN_XNUM) h.phnum = view.u32(at + S.sh_info);
}

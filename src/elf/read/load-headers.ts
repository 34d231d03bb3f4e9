// What the dynamic loader reads of a file to load it, read by ranges: the file header, the
// program headers, PT_INTERP, the dynamic table (PT_DYNAMIC: the loader never looks at section
// headers) and the strings it names. A 200 MB library costs a few small reads, not a full read;
// the records are parsed by the same code as ElfFile's (header.ts, program-headers.ts,
// dynamic.ts, string-table.ts).
import { ElfFormatError } from '../../errors/index.js';
import { ByteView } from '../../util/byte-view.js';
import {
  DT_FLAGS_1,
  DT_NEEDED,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  PT_DYNAMIC,
  PT_INTERP,
} from '../format/constants.js';
import { AddressMap } from './address-map.js';
import { type DynamicEntry, readDynamicEntries } from './dynamic.js';
import { type ElfHeader, readHeader } from './header.js';
import { type ProgramHeader, readProgramHeaders } from './program-headers.js';
import { StringTable, stringAt } from './string-table.js';

/** A file read by ranges. */
export interface RangeSource {
  /** The file's size in bytes. */
  readonly size: number;
  /** Up to `length` bytes at `position`; fewer at the end of the file. */
  read(position: number, length: number): Buffer;
}

/** The loader's view of a file. Strings are byte strings (one latin1 character per byte). */
export interface LoadHeaders {
  header: ElfHeader;
  programHeaders: readonly ProgramHeader[];
  /** PT_INTERP's path; undefined when there is none or it is empty. */
  interp: string | undefined;
  /** PT_DYNAMIC's entries before DT_NULL; empty when there is no PT_DYNAMIC or it has no bytes. */
  dynamicEntries: readonly DynamicEntry[];
  needed: string[];
  /** Each the first entry of its tag. */
  soname: string | undefined;
  rpath: string | undefined;
  runpath: string | undefined;
  flags1: bigint | undefined;
}

/** How much of the start of a file is read first: the headers of nearly every file fit. */
export const HEAD_SIZE = 4096;

/** Reads the loader's view of a file. `head`: the file's first bytes, when the caller has them. */
export function readLoadHeaders(src: RangeSource, head: Buffer = src.read(0, HEAD_SIZE)): LoadHeaders {
  const exactly = (position: number, length: number, what: string): Buffer => {
    if (position + length > src.size) {
      throw new ElfFormatError(
        'ELF_TRUNCATED',
        `${what} at offset 0x${position.toString(16)} (${length} bytes) lies outside the file (${src.size} bytes)`,
        { hint: 'the file is truncated or corrupt', data: { offset: position, size: length } },
      );
    }
    if (position + length <= head.length) return head.subarray(position, position + length);
    return src.read(position, length);
  };
  const { view: headView, header } = readHeader(head, (shoff, size) =>
    shoff + size <= src.size ? exactly(shoff, size, 'section header 0') : Buffer.alloc(0),
  );
  const viewOf = (b: Buffer) => new ByteView(b, header.littleEndian, header.is64);

  // The program header table, in the head or read alone (then parsed as if it began the file).
  const phSize = header.phnum * header.phentsize;
  const phInHead = header.phoff + phSize <= head.length;
  const programHeaders = readProgramHeaders(
    phInHead ? headView : viewOf(exactly(header.phoff, phSize, 'program header table')),
    phInHead ? header : { ...header, phoff: 0 },
  );

  const ip = programHeaders.find((p) => p.type === PT_INTERP);
  const interp =
    ip === undefined || ip.filesz === 0
      ? undefined
      : viewOf(exactly(ip.offset, ip.filesz, 'PT_INTERP')).cstring(
          0,
          ip.filesz,
          'interpreter path (PT_INTERP)',
        );

  const dp = programHeaders.find((p) => p.type === PT_DYNAMIC);
  const dynamicEntries =
    dp === undefined || dp.filesz === 0
      ? []
      : readDynamicEntries(viewOf(exactly(dp.offset, dp.filesz, 'dynamic section')), 0, dp.filesz, dp.offset)
          .entries;
  const first = (tag: bigint) => dynamicEntries.find((e) => e.tag === tag)?.value;

  const withStrings = [DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH];
  const strtab = first(DT_STRTAB);
  const strsz = first(DT_STRSZ);
  let str = (_value: bigint, what: string): string => {
    throw new ElfFormatError(
      'ELF_BAD_DYNAMIC',
      `${what} refers to a string table the file does not have (no DT_STRTAB)`,
      { hint: 'the file is corrupt' },
    );
  };
  if (strtab !== undefined && dynamicEntries.some((e) => withStrings.includes(e.tag))) {
    if (strsz === undefined) {
      throw new ElfFormatError('ELF_BAD_DYNAMIC', 'DT_STRTAB is present but DT_STRSZ is missing', {
        hint: 'the file is corrupt',
      });
    }
    const size = Number(strsz);
    const offset = new AddressMap(programHeaders, [], src.size).offset(strtab, size, '.dynstr (DT_STRTAB)');
    const table = new StringTable(exactly(offset, size, '.dynstr'), 0, size);
    str = (value, what) => stringAt(table, size, offset, value, what);
  }
  const firstString = (tag: bigint, what: string) => {
    const v = first(tag);
    return v === undefined ? undefined : str(v, what);
  };
  return {
    header,
    programHeaders,
    interp,
    dynamicEntries,
    needed: dynamicEntries.filter((e) => e.tag === DT_NEEDED).map((e) => str(e.value, 'DT_NEEDED')),
    soname: firstString(DT_SONAME, 'DT_SONAME'),
    rpath: firstString(DT_RPATH, 'DT_RPATH'),
    runpath: firstString(DT_RUNPATH, 'DT_RUNPATH'),
    flags1: first(DT_FLAGS_1),
  };
}

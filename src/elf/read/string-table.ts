// Strings of one ELF string table (.dynstr, .shstrtab), each ended by the first NUL inside the
// table. A crafted table with no NUL must not make lookups quadratic (30,000 section names over a
// 4 MB table without NUL): a lookup scans at most MAX_STRING bytes, and each offset is looked up once.

import { ElfFormatError } from '../../errors/index.js';

/** The longest string read from a table: real names and search paths are far shorter. */
export const MAX_STRING = 64 * 1024;
const SHORT = 64;

export class StringTable {
  private readonly memo = new Map<number, string | undefined>();

  /** The table is buf[offset, offset + size). */
  constructor(
    private readonly buf: Buffer,
    readonly offset: number,
    readonly size: number,
  ) {}

  /**
   * The string at `off`; undefined when `off` is outside the table or no NUL ends it inside the
   * table within MAX_STRING bytes.
   */
  at(off: number): string | undefined {
    if (this.memo.has(off)) return this.memo.get(off);
    const nul = this.nulAfter(off);
    const s = nul < 0 ? undefined : this.buf.toString('latin1', this.offset + off, nul);
    this.memo.set(off, s);
    return s;
  }

  /** Whether table bytes [start, end) hold a NUL (bytes past the end of `buf` hold none). */
  hasNul(start: number, end: number): boolean {
    const stop = Math.min(this.offset + end, this.offset + this.size, this.buf.length);
    const from = this.offset + start;
    return from < stop && this.buf.subarray(from, stop).indexOf(0) >= 0;
  }

  /** The file offset of the NUL that ends the string at `off`, or -1 (as for `at`). */
  nulAfter(off: number): number {
    if (!Number.isSafeInteger(off) || off < 0 || off >= this.size) return -1;
    const start = this.offset + off;
    const stop = Math.min(this.offset + this.size, start + MAX_STRING, this.buf.length);
    // Most strings are short: look at their bytes directly before a bounded native scan.
    const near = Math.min(stop, start + SHORT);
    for (let i = start; i < near; i++) if (this.buf[i] === 0) return i;
    if (near === stop) return -1;
    const found = this.buf.subarray(near, stop).indexOf(0);
    return found < 0 ? -1 : near + found;
  }
}

/**
 * The string at `off` of a dynamic string table of `size` bytes (DT_STRSZ), or an ElfFormatError
 * saying why there is none. `fileOffset`: where the table starts in the file, for messages.
 */
export function stringAt(
  table: StringTable,
  size: number,
  fileOffset: number,
  off: number | bigint,
  what: string,
): string {
  const o = Number(off);
  if (o >= size) {
    throw new ElfFormatError('ELF_BAD_STRING', `${what} offset ${o} lies outside .dynstr (${size} bytes)`, {
      hint: 'the file is corrupt',
    });
  }
  const s = table.at(o);
  if (s === undefined) {
    throw new ElfFormatError(
      'ELF_BAD_STRING',
      `${what} at offset 0x${(fileOffset + o).toString(16)} is not NUL-terminated inside .dynstr (within ${MAX_STRING} bytes)`,
      { hint: 'the file is truncated or corrupt' },
    );
  }
  return s;
}

import { ElfFormatError } from '../errors/index.js';
import type { WriteLog } from './write-log.js';

/**
 * Bounds-checked, endian-fixed access to a byte buffer. Byte order and word size are chosen once,
 * at construction, so no caller can forget them. Every read past the end throws ElfFormatError
 * naming what was read and where; no read returns garbage.
 *
 * Two kinds of 64-bit field. Offsets and sizes are JS numbers (`word`): a value above 2^53 cannot be
 * an offset or size of a real file or segment, and `u64` refuses it. Addresses and values that may be
 * anything (p_vaddr, sh_addr, d_val, st_value) are read exact as bigint (`wordBig`): ia64 programs
 * load at 0x4000000000000000 and some embedded images use the whole 64-bit space.
 *
 * The bytes are reachable only through these methods. Writes (set*, fill, copyIn, move) are
 * recorded in `writes` when the view has a WriteLog, so its owner knows every range it changed.
 * Reads (u8...u64big, cstring, bytesAt) refuse the `holes`: ranges of a file read in part that
 * were never read (api/patch-file.ts reads code and data of a file it edits only when asked);
 * such a read throws ElfFormatError ELF_NOT_READ, and the caller reads the whole file instead.
 */
export class ByteView {
  constructor(
    private readonly buf: Buffer,
    readonly littleEndian: boolean,
    readonly is64: boolean,
    readonly writes?: WriteLog,
    /** Sorted, disjoint [start, end) ranges of `buf` that hold no bytes of the file. */
    readonly holes?: ReadonlyArray<readonly [number, number]>,
  ) {
    this.data = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  /** 64-bit fields go through DataView's built-ins: Buffer's BigInt methods compute in JavaScript. */
  private readonly data: DataView;

  get length(): number {
    return this.buf.length;
  }

  /** Size in bytes of a native word (Elf32_Addr / Elf64_Addr). */
  get wordSize(): 4 | 8 {
    return this.is64 ? 8 : 4;
  }

  check(off: number, size: number, what: string): void {
    if (!Number.isSafeInteger(off) || off < 0 || size < 0 || off + size > this.buf.length) {
      throw new ElfFormatError(
        'ELF_TRUNCATED',
        `${what} at offset 0x${Math.max(0, off).toString(16)} (${size} bytes) lies outside the file (${this.buf.length} bytes)`,
        { hint: 'the file is truncated or corrupt', data: { offset: off, size } },
      );
    }
  }

  /** Throws ELF_NOT_READ when [off, off + size) meets a hole. */
  private loaded(off: number, size: number, what: string): void {
    const holes = this.holes!;
    const end = off + size;
    for (const [s, e] of holes) {
      if (s >= end) return;
      if (e > off && size > 0) {
        throw new ElfFormatError(
          'ELF_NOT_READ',
          `${what} at offset 0x${off.toString(16)} lies in a part of the file not read`,
          {
            hint: 'internal: the file must be read whole for this operation',
            data: { offset: off, size },
          },
        );
      }
    }
  }

  /** Bounds and holes: what every read checks. */
  private readable(off: number, size: number, what: string): void {
    this.check(off, size, what);
    if (this.holes !== undefined) this.loaded(off, size, what);
  }

  /**
   * `size` bytes at `off` as a view of this memory (clamped at the end, as Buffer.subarray is),
   * never meeting a hole. Not copied: a later write through this view shows in it.
   */
  bytesAt(off: number, size: number, what = 'bytes'): Buffer {
    const end = Math.min(off + size, this.buf.length);
    if (this.holes !== undefined && end > off) this.loaded(off, end - off, what);
    return this.buf.subarray(off, end);
  }

  /**
   * The 32-bit fields at off, off + stride, ... (`count` of them): one field of every record of a
   * table, checked once for the whole table (a .dynsym has thousands of records).
   */
  u32Column(off: number, count: number, stride: number, what = 'table'): number[] {
    const out: number[] = new Array(count);
    if (count === 0) return out;
    this.readable(off, (count - 1) * stride + 4, what);
    const data = this.data;
    const le = this.littleEndian;
    for (let i = 0; i < count; i++) out[i] = data.getUint32(off + i * stride, le);
    return out;
  }

  /** The largest of the fields u32Column would return that is below `below`; -1 when none is. */
  u32ColumnMax(off: number, count: number, stride: number, below: number, what = 'table'): number {
    if (count === 0) return -1;
    this.readable(off, (count - 1) * stride + 4, what);
    const data = this.data;
    const le = this.littleEndian;
    let max = -1;
    for (let i = 0; i < count; i++) {
      const v = data.getUint32(off + i * stride, le);
      if (v < below && v > max) max = v;
    }
    return max;
  }

  u8(off: number, what = 'byte'): number {
    this.readable(off, 1, what);
    return this.buf.readUInt8(off);
  }

  u16(off: number, what = 'half-word'): number {
    this.readable(off, 2, what);
    return this.littleEndian ? this.buf.readUInt16LE(off) : this.buf.readUInt16BE(off);
  }

  u32(off: number, what = 'word'): number {
    this.readable(off, 4, what);
    return this.littleEndian ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off);
  }

  u64big(off: number, what = 'double word'): bigint {
    this.readable(off, 8, what);
    // Most fields (tags, flags, a library's addresses) fit in 32 bits: one BigInt from the low
    // half instead of Buffer's three (its readBigUInt64 computes in BigInts), which code run a
    // few hundred times paid on every dynamic entry and section header.
    const b = this.buf;
    if (this.littleEndian) {
      if (b.readUInt32LE(off + 4) === 0) return BigInt(b.readUInt32LE(off));
      return b.readBigUInt64LE(off);
    }
    if (b.readUInt32BE(off) === 0) return BigInt(b.readUInt32BE(off + 4));
    return b.readBigUInt64BE(off);
  }

  /** A 64-bit field that must be a usable file offset or size (< 2^53). */
  u64(off: number, what = 'double word'): number {
    this.readable(off, 8, what);
    const le = this.littleEndian;
    const lo = le ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off + 4);
    const hi = le ? this.buf.readUInt32LE(off + 4) : this.buf.readUInt32BE(off);
    // Below 2^53 exactly when the high word is below 2^21: no BigInt on the common path.
    if (hi < 0x200000) return hi * 0x100000000 + lo;
    const v = this.u64big(off, what);
    throw new ElfFormatError(
      'ELF_VALUE_RANGE',
      `${what} at offset 0x${off.toString(16)} is too large (0x${v.toString(16)})`,
      {
        hint: 'the file is corrupt: no file or segment has 2^53 bytes or more',
      },
    );
  }

  /** A native word (Elf_Addr, Elf_Off, Elf_Xword in 64-bit files) as a number. */
  word(off: number, what = 'word'): number {
    return this.is64 ? this.u64(off, what) : this.u32(off, what);
  }

  /** A native word, exact. */
  wordBig(off: number, what = 'word'): bigint {
    return this.is64 ? this.u64big(off, what) : BigInt(this.u32(off, what));
  }

  /** A signed native word (Elf_Sxword / Elf32_Sword), exact. */
  swordBig(off: number, what = 'word'): bigint {
    if (!this.is64) return BigInt(this.u32(off, what) | 0);
    const v = this.u64big(off, what);
    // Below 2^63 the signed value is the unsigned one (the common case: no second BigInt).
    return v < 0x8000000000000000n ? v : BigInt.asIntN(64, v);
  }

  setU8(off: number, v: number): void {
    this.check(off, 1, 'byte written');
    this.writes?.add(off, off + 1);
    this.buf.writeUInt8(v, off);
  }

  setU16(off: number, v: number): void {
    this.check(off, 2, 'half-word written');
    this.writes?.add(off, off + 2);
    if (this.littleEndian) this.buf.writeUInt16LE(v, off);
    else this.buf.writeUInt16BE(v, off);
  }

  setU32(off: number, v: number): void {
    this.check(off, 4, 'word written');
    this.writes?.add(off, off + 4);
    if (this.littleEndian) this.buf.writeUInt32LE(v >>> 0, off);
    else this.buf.writeUInt32BE(v >>> 0, off);
  }

  setU64(off: number, v: bigint | number): void {
    this.check(off, 8, 'double word written');
    this.writes?.add(off, off + 8);
    const le = this.littleEndian;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
      // An offset or size: two 32-bit halves, no BigInt.
      const lo = v % 0x100000000;
      const hi = (v - lo) / 0x100000000;
      if (le) {
        this.buf.writeUInt32LE(lo, off);
        this.buf.writeUInt32LE(hi, off + 4);
      } else {
        this.buf.writeUInt32BE(hi, off);
        this.buf.writeUInt32BE(lo, off + 4);
      }
      return;
    }
    this.data.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), le);
  }

  setWord(off: number, v: bigint | number): void {
    if (this.is64) this.setU64(off, v);
    else if (typeof v === 'number' && Number.isSafeInteger(v)) this.setU32(off, v >>> 0);
    else this.setU32(off, Number(BigInt.asUintN(32, BigInt(v))));
  }

  // fill, copyIn and move behave as Buffer's fill, copy and copyWithin do (the same clamping and
  // errors): routing a write through here must not change what it writes.

  /** Sets bytes [start, end) to `value` (Buffer.fill). */
  fill(value: number, start: number, end = this.buf.length): void {
    this.buf.fill(value, start, end);
    this.writes?.add(start, end);
  }

  /** Copies `src` (or its [srcStart, srcEnd)) to `at` (Buffer.copy); returns the bytes copied. */
  copyIn(src: Buffer, at: number, srcStart = 0, srcEnd = src.length): number {
    const n = src.copy(this.buf, at, srcStart, srcEnd);
    this.writes?.add(at, at + n);
    return n;
  }

  /** Moves bytes [start, end) to `target`, the ranges may overlap (Buffer.copyWithin). */
  move(target: number, start: number, end: number): void {
    this.buf.copyWithin(target, start, end);
    const n = Math.min(end, this.buf.length) - start;
    this.writes?.add(target, Math.min(target + n, this.buf.length));
  }

  /** One ELF byte string at `at`, without its NUL (Buffer.write latin1); returns the bytes written. */
  writeLatin1(text: string, at: number): number {
    const n = this.buf.write(text, at, 'latin1');
    this.writes?.add(at, at + n);
    return n;
  }

  /** A NUL-terminated string starting at `off` and ending before `end`. */
  cstring(off: number, end: number, what = 'string'): string {
    this.check(off, 1, what);
    const stop = Math.min(end, this.buf.length);
    // Searched up to `end` only: a table with no NUL must not cost a scan of the whole file per string.
    const found = off < stop ? this.buf.subarray(off, stop).indexOf(0) : -1;
    const nul = found < 0 ? -1 : off + found;
    // What was looked at: the string and its NUL, or the whole range when there is none.
    if (this.holes !== undefined) this.loaded(off, (nul < 0 ? stop : nul + 1) - off, what);
    if (nul < 0) {
      throw new ElfFormatError(
        'ELF_BAD_STRING',
        `${what} at offset 0x${off.toString(16)} is not NUL-terminated inside its table`,
        {
          hint: 'the file is truncated or corrupt',
        },
      );
    }
    return this.buf.toString('latin1', off, nul);
  }
}

// /etc/ld.so.cache: the table ldconfig writes and ld.so consults after RPATH, LD_LIBRARY_PATH and
// RUNPATH. The three layouts glibc reads (elf/dl-cache.c, sysdeps/generic/dl-cache.h):
//   - old:      "ld.so-1.7.0", nlibs, nlibs x {flags, key, value} (12 bytes), strings;
//   - new:      "glibc-ld.so.cache1.1" header (48 bytes), nlibs x 24-byte entries, strings,
//               optionally an extension directory (generator string, glibc-hwcaps names);
//   - old+new:  the old table, padded to 8 bytes, then a complete new-format cache whose string
//               offsets count from the start of the new header.
// When both are present ld.so uses the new table only; so does lookupLdCache.
import { EM_AARCH64, EM_X86_64 } from '../elf/format/constants.js';
import { LdCacheError } from './closure-error.js';

export const OLD_MAGIC = 'ld.so-1.7.0';
export const NEW_MAGIC = 'glibc-ld.so.cache1.1';
const OLD_HEADER_SIZE = 16; // char magic[11]; (pad); uint32 nlibs
const OLD_ENTRY_SIZE = 12;
const NEW_HEADER_SIZE = 48;
const NEW_ENTRY_SIZE = 24;
const NEW_ALIGN = 8;
const EXTENSION_MAGIC = 0xeaa42174; // (uint32_t) -358342284
const EXT_TAG_GENERATOR = 0;
const EXT_TAG_GLIBC_HWCAPS = 1;

/** The low byte of an entry's flags: the kind of library. */
export const FLAG_ELF = 0x0001;
export const FLAG_ELF_LIBC6 = 0x0003;
/** The second byte: the ABI variant, as ldconfig.h numbers them. */
export const FLAG_REQUIRED_MASK = 0xff00;
export const FLAG_SPARC_LIB64 = 0x0100;
export const FLAG_IA64_LIB64 = 0x0200;
export const FLAG_X8664_LIB64 = 0x0300;
export const FLAG_S390_LIB64 = 0x0400;
export const FLAG_POWERPC_LIB64 = 0x0500;
export const FLAG_MIPS64_LIBN32 = 0x0600;
export const FLAG_MIPS64_LIBN64 = 0x0700;
export const FLAG_X8664_LIBX32 = 0x0800;
export const FLAG_ARM_LIBHF = 0x0900;
export const FLAG_AARCH64_LIB64 = 0x0a00;
export const FLAG_ARM_LIBSF = 0x0b00;
export const FLAG_MIPS_LIB32_NAN2008 = 0x0c00;
export const FLAG_MIPS64_LIBN32_NAN2008 = 0x0d00;
export const FLAG_MIPS64_LIBN64_NAN2008 = 0x0e00;
export const FLAG_RISCV_FLOAT_ABI_SOFT = 0x0f00;
export const FLAG_RISCV_FLOAT_ABI_DOUBLE = 0x1000;

/** Bit 62 of `hwcap`: the low 32 bits index the glibc-hwcaps names of the extension. */
export const HWCAP_EXTENSION = 1n << 62n;
const ISA_LEVEL_MASK = 0x3ffn;

export interface LdCacheEntry {
  /** The library name (a byte string, one character per byte). */
  key: string;
  /** The file ld.so opens for it. */
  value: string;
  flags: number;
  /** New format only: the (unused) required OS version and the hwcap word. */
  osVersion: number;
  hwcap: bigint;
  /** The glibc-hwcaps subdirectory name when the entry uses the hwcaps extension. */
  hwcapsName: string | undefined;
  /** x86 ISA level bits (bits 32..41 of hwcap) of an extension entry; 0 otherwise. */
  isaLevel: number;
}

export interface LdCache {
  format: 'old' | 'new' | 'old+new';
  /** The entries ld.so searches, in file order: the new table when there is one, else the old. */
  entries: readonly LdCacheEntry[];
  /** Entry count of the old table, when there is one (its entries duplicate the new ones). */
  oldCount: number;
  /** The glibc-hwcaps names of the extension section, in file order. */
  hwcapsNames: readonly string[];
  /** The generator extension (e.g. "ldconfig (GNU libc) stable release version 2.36"). */
  generator: string | undefined;
  /** Problems ld.so tolerates (a bad extension directory disables glibc-hwcaps entries). */
  warnings: readonly string[];
}

function corrupt(message: string, data: Record<string, unknown> = {}): LdCacheError {
  return new LdCacheError('LDCACHE_CORRUPT', `corrupt ld.so.cache: ${message}`, {
    hint: 'run ldconfig to rebuild the cache; until then ld.so ignores it',
    data,
  });
}

class Reader {
  constructor(
    readonly buf: Buffer,
    readonly littleEndian: boolean,
  ) {}

  need(off: number, size: number, what: string): void {
    if (off < 0 || size < 0 || off + size > this.buf.length) {
      throw corrupt(
        `${what} at offset ${off} (${size} bytes) lies outside the file (${this.buf.length} bytes)`,
        {
          offset: off,
          size,
        },
      );
    }
  }

  u32(off: number, what: string): number {
    this.need(off, 4, what);
    return this.littleEndian ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off);
  }

  i32(off: number, what: string): number {
    this.need(off, 4, what);
    return this.littleEndian ? this.buf.readInt32LE(off) : this.buf.readInt32BE(off);
  }

  u64(off: number, what: string): bigint {
    this.need(off, 8, what);
    return this.littleEndian ? this.buf.readBigUInt64LE(off) : this.buf.readBigUInt64BE(off);
  }

  /** A NUL-terminated string at `base + rel`, which must end inside the file. */
  cstring(base: number, rel: number, what: string): string {
    const at = base + rel;
    if (at >= this.buf.length) {
      throw corrupt(`${what} string offset ${rel} lies outside the file`, { offset: rel });
    }
    const end = this.buf.indexOf(0, at);
    if (end < 0) throw corrupt(`${what} string at offset ${at} has no terminating NUL`, { offset: at });
    return this.buf.toString('latin1', at, end);
  }
}

function startsWith(buf: Buffer, at: number, magic: string): boolean {
  return buf.length >= at + magic.length && buf.toString('latin1', at, at + magic.length) === magic;
}

/**
 * Parses an ld.so.cache image. Every offset is checked; a file ld.so would ignore (bad magic,
 * counts that do not fit, wrong byte order) raises LdCacheError, and so does an entry whose
 * strings lie outside the file (ld.so skips such entries one by one; cald refuses the cache).
 */
export function parseLdCache(buf: Buffer, hostLittleEndian = true): LdCache {
  if (startsWith(buf, 0, NEW_MAGIC)) {
    const r = new Reader(buf, newCacheLittleEndian(buf, 0, hostLittleEndian));
    const parsed = parseNew(r, 0);
    return { format: 'new', oldCount: 0, ...parsed };
  }
  if (startsWith(buf, 0, OLD_MAGIC)) {
    const r0 = new Reader(buf, hostLittleEndian);
    if (buf.length <= OLD_HEADER_SIZE) throw corrupt('the old-format header is truncated');
    const nlibs = r0.u32(12, 'old-format entry count');
    if (Math.floor((buf.length - OLD_HEADER_SIZE) / OLD_ENTRY_SIZE) < nlibs) {
      throw corrupt(`the old-format table claims ${nlibs} entries but the file holds fewer`, { nlibs });
    }
    const tableEnd = OLD_HEADER_SIZE + nlibs * OLD_ENTRY_SIZE;
    const newAt = Math.ceil(tableEnd / NEW_ALIGN) * NEW_ALIGN;
    if (buf.length >= newAt + NEW_HEADER_SIZE && startsWith(buf, newAt, NEW_MAGIC)) {
      const r = new Reader(buf, newCacheLittleEndian(buf, newAt, hostLittleEndian));
      const parsed = parseNew(r, newAt);
      return { format: 'old+new', oldCount: nlibs, ...parsed };
    }
    const entries: LdCacheEntry[] = [];
    for (let i = 0; i < nlibs; i++) {
      const at = OLD_HEADER_SIZE + i * OLD_ENTRY_SIZE;
      const what = `old-format entry ${i}`;
      entries.push({
        flags: r0.i32(at, what),
        key: r0.cstring(tableEnd, r0.u32(at + 4, what), `${what} key`),
        value: r0.cstring(tableEnd, r0.u32(at + 8, what), `${what} value`),
        osVersion: 0,
        hwcap: 0n,
        hwcapsName: undefined,
        isaLevel: 0,
      });
    }
    return { format: 'old', entries, oldCount: nlibs, hwcapsNames: [], generator: undefined, warnings: [] };
  }
  throw new LdCacheError(
    'LDCACHE_BAD_MAGIC',
    `not an ld.so.cache: it starts with neither "${OLD_MAGIC}" nor "${NEW_MAGIC}"`,
    {
      hint: 'run ldconfig to rebuild the cache; until then ld.so ignores it',
    },
  );
}

function newCacheLittleEndian(buf: Buffer, at: number, hostLittleEndian: boolean): boolean {
  if (buf.length < at + NEW_HEADER_SIZE) throw corrupt('the new-format header is truncated');
  const endian = (buf[at + 28] ?? 0) & 3;
  if (endian === 1) {
    throw new LdCacheError('LDCACHE_ENDIAN', 'ld.so.cache marks itself invalid (endianness flag 1)', {
      hint: 'run ldconfig to rebuild the cache',
    });
  }
  if (endian === 0) return hostLittleEndian;
  const little = endian === 2;
  if (little !== hostLittleEndian) {
    throw new LdCacheError(
      'LDCACHE_ENDIAN',
      `ld.so.cache is ${little ? 'little' : 'big'}-endian, this machine is not`,
      {
        hint: 'the cache was written for another machine; run ldconfig here',
      },
    );
  }
  return little;
}

function parseNew(
  r: Reader,
  at: number,
): Pick<LdCache, 'entries' | 'hwcapsNames' | 'generator' | 'warnings'> {
  const nlibs = r.u32(at + 20, 'new-format entry count');
  if (Math.floor((r.buf.length - at - NEW_HEADER_SIZE) / NEW_ENTRY_SIZE) < nlibs) {
    throw corrupt(`the new-format table claims ${nlibs} entries but the file holds fewer`, { nlibs });
  }
  const warnings: string[] = [];
  const ext = readExtensions(r, r.u32(at + 32, 'extension offset'), warnings);
  const entries: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const e = at + NEW_HEADER_SIZE + i * NEW_ENTRY_SIZE;
    const what = `entry ${i}`;
    const hwcap = r.u64(e + 16, what);
    const extension = isHwcapExtension(hwcap);
    const index = Number(hwcap & 0xffffffffn);
    entries.push({
      flags: r.i32(e, what),
      key: r.cstring(at, r.u32(e + 4, what), `${what} key`),
      value: r.cstring(at, r.u32(e + 8, what), `${what} value`),
      osVersion: r.u32(e + 12, what),
      hwcap,
      hwcapsName: extension ? ext.hwcapsNames[index] : undefined,
      isaLevel: extension ? Number((hwcap >> 32n) & ISA_LEVEL_MASK) : 0,
    });
  }
  return { entries, ...ext, warnings };
}

/** True when the hwcap word uses the glibc-hwcaps extension (only bit 62 set above the ISA bits). */
export function isHwcapExtension(hwcap: bigint): boolean {
  return ((hwcap >> 32n) & ~ISA_LEVEL_MASK) === HWCAP_EXTENSION >> 32n;
}

/** The extension directory; a malformed one only disables the extensions, as in ld.so. */
function readExtensions(
  r: Reader,
  offset: number,
  warnings: string[],
): { hwcapsNames: string[]; generator: string | undefined } {
  const none = { hwcapsNames: [], generator: undefined };
  if (offset === 0) return none;
  const size = r.buf.length;
  const bad = (why: string) => {
    warnings.push(`ld.so.cache extension directory ignored: ${why}`);
    return none;
  };
  if (offset % 4 !== 0) return bad(`offset ${offset} is not a multiple of 4`);
  if (offset + 8 > size) return bad(`offset ${offset} lies outside the file`);
  if (r.u32(offset, 'extension magic') !== EXTENSION_MAGIC) return bad('wrong magic number');
  const count = r.u32(offset + 4, 'extension count');
  if (offset + 8 + count * 16 > size)
    return bad(`its ${count} section descriptors run past the end of the file`);
  let hwcaps: { at: number; size: number } | undefined;
  let generator: string | undefined;
  for (let i = 0; i < count; i++) {
    const d = offset + 8 + i * 16;
    const tag = r.u32(d, 'extension tag');
    const at = r.u32(d + 8, 'extension offset');
    const len = r.u32(d + 12, 'extension size');
    if (at + len > size) return bad(`section ${i} runs past the end of the file`);
    if (tag === EXT_TAG_GENERATOR) generator = r.buf.toString('latin1', at, at + len).replace(/\0+$/, '');
    if (tag === EXT_TAG_GLIBC_HWCAPS) hwcaps = { at, size: len };
  }
  const hwcapsNames: string[] = [];
  if (hwcaps !== undefined && hwcaps.size > 0 && hwcaps.at % 4 === 0 && hwcaps.size % 4 === 0) {
    for (let i = 0; i < hwcaps.size / 4; i++) {
      const strOff = r.u32(hwcaps.at + i * 4, 'glibc-hwcaps name offset');
      // The names are offsets from the start of the file (not from the new header).
      hwcapsNames.push(strOff < size ? r.cstring(0, strOff, 'glibc-hwcaps name') : '');
    }
  }
  return { hwcapsNames, generator };
}

/** What the cache is searched for: the loader's ABI (its cache flags) and this CPU's glibc-hwcaps. */
export interface CacheTarget {
  /** The flags value that is an exact match and ends the search (_DL_CACHE_DEFAULT_ID). */
  defaultFlags: number;
  /** Whether an entry's flags are acceptable at all (_dl_cache_check_flags). */
  acceptsFlags(flags: number): boolean;
  /** Active glibc-hwcaps subdirectories, most preferred first. */
  hwcaps: readonly string[];
  /** x86 ISA level bits this CPU supports (1 = baseline, 2 = v2, 4 = v3, 8 = v4); undefined elsewhere. */
  isaLevels: number | undefined;
}

/** The cache flags glibc's loader for this class and machine expects (sysdeps/.../dl-cache.h). */
export function cacheFlagsFor(
  is64: boolean,
  machine: number,
): Pick<CacheTarget, 'defaultFlags' | 'acceptsFlags'> {
  const exact = (id: number) => ({ defaultFlags: id, acceptsFlags: (f: number) => f === id });
  if (machine === EM_X86_64) return exact(FLAG_ELF_LIBC6 | (is64 ? FLAG_X8664_LIB64 : FLAG_X8664_LIBX32));
  if (machine === EM_AARCH64 && is64) return exact(FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64);
  // The generic rule (i386 and the rest): plain ELF or libc6, with no ABI byte.
  return { defaultFlags: FLAG_ELF_LIBC6, acceptsFlags: (f) => f === FLAG_ELF || f === FLAG_ELF_LIBC6 };
}

/** Numeric-aware name comparison used to sort the cache (_dl_cache_libcmp); bytes are signed chars. */
export function cacheNameCompare(a: string, b: string): number {
  const isDigit = (c: number) => c >= 48 && c <= 57;
  const at = (s: string, i: number) => {
    if (i >= s.length) return 0;
    const c = s.charCodeAt(i);
    return c > 127 ? c - 256 : c;
  };
  let i = 0;
  let j = 0;
  while (at(a, i) !== 0) {
    const c1 = at(a, i);
    const c2 = at(b, j);
    if (isDigit(c1)) {
      if (!isDigit(c2)) return 1;
      let v1 = 0;
      let v2 = 0;
      while (isDigit(at(a, i))) v1 = v1 * 10 + at(a, i++) - 48;
      while (isDigit(at(b, j))) v2 = v2 * 10 + at(b, j++) - 48;
      if (v1 !== v2) return v1 - v2;
    } else if (isDigit(c2)) {
      return -1;
    } else if (c1 !== c2) {
      return c1 - c2;
    } else {
      i++;
      j++;
    }
  }
  return at(a, i) - at(b, j);
}

/**
 * The cache's answer for `name`, as _dl_load_cache_lookup gives it: binary search on the sorted
 * table, then among the entries with this name the best glibc-hwcaps entry this CPU supports, else
 * the first plain entry with acceptable flags (an exact ABI match ends the search).
 * Entries with legacy hwcap bits (not the extension) are skipped: cald does not model
 * AT_HWCAP-based selection (glibc 2.37 removed it).
 */
export function lookupLdCache(cache: LdCache, name: string, target: CacheTarget): LdCacheEntry | undefined {
  const entries = cache.entries;
  let left = 0;
  let right = entries.length - 1;
  const isNew = cache.format !== 'old';
  while (left <= right) {
    let middle = (left + right) >> 1;
    const cmp = cacheNameCompare(name, (entries[middle] as LdCacheEntry).key);
    if (cmp === 0) {
      left = middle;
      while (middle > 0 && cacheNameCompare(name, (entries[middle - 1] as LdCacheEntry).key) === 0) middle--;
      let best: LdCacheEntry | undefined;
      let bestPriority = 0;
      for (; middle <= right; middle++) {
        const e = entries[middle] as LdCacheEntry;
        if (middle > left && cacheNameCompare(name, e.key) !== 0) break;
        if (!target.acceptsFlags(e.flags)) continue;
        let named = false;
        if (isNew) {
          named = isHwcapExtension(e.hwcap);
          if (named && !isaCompatible(e.isaLevel, target.isaLevels)) continue;
          if (!named && best !== undefined) break;
          if (!named && e.hwcap !== 0n) continue;
          if (named) {
            const priority = e.hwcapsName === undefined ? 0 : target.hwcaps.indexOf(e.hwcapsName) + 1;
            if (priority === 0) continue;
            if (best !== undefined && priority >= bestPriority) continue;
            bestPriority = priority;
          }
        }
        best = e;
        if (!named && e.flags === target.defaultFlags) break;
      }
      return best;
    }
    // The table is sorted in descending order of cacheNameCompare.
    if (cmp < 0) left = middle + 1;
    else right = middle - 1;
  }
  return undefined;
}

function isaCompatible(needed: number, supported: number | undefined): boolean {
  if (supported === undefined || needed === 0) return true;
  return (needed & supported) === needed;
}

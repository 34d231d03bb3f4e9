import { ElfEditError } from '../../errors/index.js';
import type { ByteView } from '../../util/byte-view.js';
import { DT_GNU_HASH, DT_HASH, EM_MIPS } from '../format/constants.js';
import { layoutsFor } from '../format/layouts.js';
import type { ElfFile } from '../read/index.js';
import { checkElfString, type EditModel } from './model.js';
import { reorderDynamicSymbols } from './symbol-order.js';

/** The dynamic symbols' names, by index. */
export function dynamicSymbolNames(elf: ElfFile): string[] {
  return elf.dynamicSymbolNameOffsets().map((off) => elf.dynString(off, 'dynamic symbol name'));
}

/**
 * patchelf's --rename-dynamic-symbols: every dynamic symbol (but the null symbol 0) whose name is a
 * key of `map` takes the mapped name. The names go into .dynstr like any other string the edit adds;
 * the hash tables are rebuilt for the new names when the file is laid out.
 */
export function renameDynamicSymbols(m: EditModel, elf: ElfFile, map: ReadonlyMap<string, string>): void {
  for (const [from, to] of map) {
    checkElfString(from, 'symbol name');
    checkElfString(to, 'new symbol name');
    if (from === '' || to === '') throw new ElfEditError('EDIT_BAD_STRING', 'a symbol name is empty');
  }
  const names = dynamicSymbolNames(elf);
  const renamed = new Map(m.symbolRenames);
  for (let i = 1; i < names.length; i++) {
    const current = renamed.get(i) ?? names[i]!;
    const to = map.get(current);
    if (to === undefined) continue;
    if (to === names[i]) renamed.delete(i);
    else renamed.set(i, to);
  }
  m.symbolRenames = [...renamed].sort((a, b) => a[0] - b[0]);
}

/**
 * Writes the renamed symbols' st_name and rebuilds DT_HASH and DT_GNU_HASH in place for the new
 * names, with their sizes unchanged. When the new names break DT_GNU_HASH's bucket order the
 * dynamic symbols are reordered, with .gnu.version and the relocations (symbol-order.ts); on MIPS
 * the table gets one bucket instead (lookups stay correct; the bloom filter still turns misses away).
 */
export function writeSymbolNames(
  elf: ElfFile,
  out: ByteView,
  m: EditModel,
  offsetOf: (s: string) => number,
): void {
  if (m.symbolRenames.length === 0) return;
  const syms = elf.dynamicSymbols()!;
  const S = layoutsFor(elf.is64).sym;
  const names = dynamicSymbolNames(elf);
  for (const [i, name] of m.symbolRenames) {
    out.setU32(syms.offset + i * S.size + S.st_name, offsetOf(name));
    names[i] = name;
  }
  const gnu = elf.dynValue(DT_GNU_HASH);
  const order = gnu === undefined ? undefined : bucketOrder(elf, out, gnu, names);
  if (order !== undefined) {
    reorderDynamicSymbols(elf, out, order);
    const before = [...names];
    order.forEach((old, k) => {
      names[k] = before[old]!;
    });
  }
  const sysv = elf.dynValue(DT_HASH);
  if (sysv !== undefined) rebuildSysvHash(elf, out, sysv, names);
  if (gnu !== undefined) rebuildGnuHash(elf, out, gnu, names);
}

/**
 * DT_GNU_HASH needs the symbols it hashes grouped by bucket, in bucket order. When the new names
 * break that order, the symbols are reordered (as the linker orders them), except on MIPS, whose
 * global offset table is tied to the dynamic symbols' order: there the table gets one bucket.
 * Returns the new order (old index for each new index), or undefined when none is needed.
 */
function bucketOrder(
  elf: ElfFile,
  out: ByteView,
  addr: bigint,
  names: readonly string[],
): number[] | undefined {
  if (elf.header.machine === EM_MIPS) return undefined;
  const at = elf.addressMap.offset(addr, 16, 'DT_GNU_HASH header');
  const nbuckets = out.u32(at);
  const symoffset = out.u32(at + 4);
  if (nbuckets === 0 || symoffset >= names.length) return undefined;
  const bucket = (i: number) => gnuHash(names[i]!) % nbuckets;
  const hashed = names.map((_, i) => i).slice(symoffset);
  if (hashed.every((i, k) => k === 0 || bucket(i) >= bucket(hashed[k - 1]!))) return undefined;
  const sorted = [...hashed].sort((a, b) => bucket(a) - bucket(b) || a - b);
  return [...names.map((_, i) => i).slice(0, symoffset), ...sorted];
}

function sysvHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) {
    h = ((h << 4) + name.charCodeAt(i)) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h &= ~g >>> 0;
  }
  return h >>> 0;
}

function gnuHash(name: string): number {
  let h = 5381;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 33) + name.charCodeAt(i)) >>> 0;
  return h;
}

function rebuildSysvHash(elf: ElfFile, out: ByteView, addr: bigint, names: readonly string[]): void {
  const at = elf.addressMap.offset(addr, 8, 'DT_HASH header');
  const nbucket = out.u32(at);
  const nchain = out.u32(at + 4);
  const buckets = at + 8;
  const chains = buckets + nbucket * 4;
  out.check(buckets, (nbucket + nchain) * 4, 'DT_HASH table');
  if (nbucket === 0) return;
  for (let b = 0; b < nbucket; b++) out.setU32(buckets + b * 4, 0);
  for (let i = 0; i < nchain; i++) out.setU32(chains + i * 4, 0);
  // Inserting from the last symbol down keeps each chain in ascending index order.
  for (let i = Math.min(nchain, names.length) - 1; i >= 1; i--) {
    const b = sysvHash(names[i]!) % nbucket;
    out.setU32(chains + i * 4, out.u32(buckets + b * 4));
    out.setU32(buckets + b * 4, i);
  }
}

function rebuildGnuHash(elf: ElfFile, out: ByteView, addr: bigint, names: readonly string[]): void {
  const at = elf.addressMap.offset(addr, 16, 'DT_GNU_HASH header');
  const nbuckets = out.u32(at);
  const symoffset = out.u32(at + 4);
  const bloomSize = out.u32(at + 8);
  const shift = out.u32(at + 12);
  const word = elf.is64 ? 8 : 4;
  const bloomAt = at + 16;
  const hashed = names.length - symoffset;
  if (nbuckets === 0 || hashed <= 0) return;
  const hashes = names.slice(symoffset).map(gnuHash);
  const ascending = hashes.every((h, i) => i === 0 || h % nbuckets >= hashes[i - 1]! % nbuckets);
  const buckets = ascending ? nbuckets : 1;
  const bucketsAt = bloomAt + bloomSize * word;
  const chainsAt = bucketsAt + buckets * 4;
  // The table only shrinks (fewer buckets); what it no longer uses is zeroed.
  out.check(bloomAt, bloomSize * word + nbuckets * 4 + hashed * 4, 'DT_GNU_HASH table');
  out.fill(0, bloomAt, bucketsAt + nbuckets * 4 + hashed * 4);
  out.setU32(at, buckets);
  const bits = BigInt(word * 8);
  for (const h of hashes) {
    const index = bloomSize === 0 ? 0 : Math.floor(h / (word * 8)) % bloomSize;
    const mask = (1n << (BigInt(h) % bits)) | (1n << (BigInt(h >>> shift) % bits));
    if (bloomSize === 0) continue;
    const w = bloomAt + index * word;
    out.setWord(w, out.wordBig(w) | mask);
  }
  for (let i = hashed - 1; i >= 0; i--) {
    const b = hashes[i]! % buckets;
    out.setU32(bucketsAt + b * 4, symoffset + i);
    const last = i === hashed - 1 || hashes[i + 1]! % buckets !== b;
    out.setU32(chainsAt + i * 4, last ? (hashes[i]! | 1) >>> 0 : (hashes[i]! & ~1) >>> 0);
  }
}

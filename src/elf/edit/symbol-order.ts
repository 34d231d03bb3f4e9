import type { ByteView } from '../../util/byte-view.js';
import {
  DT_JMPREL,
  DT_PLTREL,
  DT_PLTRELSZ,
  DT_REL,
  DT_RELA,
  DT_RELASZ,
  DT_RELSZ,
  DT_VERSYM,
  SHT_DYNSYM,
  SHT_REL,
  SHT_RELA,
} from '../format/constants.js';
import { layoutsFor } from '../format/layouts.js';
import type { ElfFile } from '../read/index.js';

/**
 * Moves dynamic symbols from index `order[k]` to index k (DT_GNU_HASH wants the symbols it hashes
 * grouped by bucket), with everything that names a dynamic symbol by index: the .gnu.version
 * entries, and the symbol field of every dynamic relocation (DT_RELA, DT_REL, DT_JMPREL and any
 * REL/RELA section linked to .dynsym, each entry once).
 */
export function reorderDynamicSymbols(elf: ElfFile, out: ByteView, order: readonly number[]): void {
  const syms = elf.dynamicSymbols()!;
  const S = layoutsFor(elf.is64).sym;
  permute(out, syms.offset, S.size, order);
  const versym = elf.dynValue(DT_VERSYM);
  if (versym !== undefined)
    permute(out, elf.addressMap.offset(versym, order.length * 2, '.gnu.version'), 2, order);
  const newIndex = new Array<number>(order.length);
  order.forEach((old, k) => {
    newIndex[old] = k;
  });
  for (const at of relocationOffsets(elf)) {
    if (elf.is64) {
      const info = out.u64big(at + 8);
      const sym = Number(info >> 32n);
      if (sym > 0 && sym < newIndex.length)
        out.setU64(at + 8, (BigInt(newIndex[sym]!) << 32n) | (info & 0xffffffffn));
    } else {
      const info = out.u32(at + 4);
      const sym = info >>> 8;
      if (sym > 0 && sym < newIndex.length) out.setU32(at + 4, ((newIndex[sym]! << 8) | (info & 0xff)) >>> 0);
    }
  }
}

function permute(out: ByteView, base: number, size: number, order: readonly number[]): void {
  out.check(base, order.length * size, 'table to reorder');
  const copy = Buffer.from(out.bytesAt(base, order.length * size, 'table to reorder'));
  order.forEach((old, k) => {
    out.copyIn(copy, base + k * size, old * size, (old + 1) * size);
  });
}

/** The file offset of every dynamic relocation entry (r_offset), each once. */
function relocationOffsets(elf: ElfFile): number[] {
  const rela = elf.is64 ? 24 : 12;
  const rel = elf.is64 ? 16 : 8;
  const seen = new Set<number>();
  const table = (addr: bigint | undefined, size: bigint | undefined, entry: number) => {
    if (addr === undefined || size === undefined || size === 0n) return;
    const start = elf.addressMap.offset(addr, Number(size), 'relocation table');
    for (let at = start; at + entry <= start + Number(size); at += entry) seen.add(at);
  };
  table(elf.dynValue(DT_RELA), elf.dynValue(DT_RELASZ), rela);
  table(elf.dynValue(DT_REL), elf.dynValue(DT_RELSZ), rel);
  table(elf.dynValue(DT_JMPREL), elf.dynValue(DT_PLTRELSZ), elf.dynValue(DT_PLTREL) === DT_REL ? rel : rela);
  const dynsym = elf.sections.find((s) => s.type === SHT_DYNSYM);
  for (const s of elf.sections) {
    if (dynsym === undefined || s.link !== dynsym.index) continue;
    if (s.type === SHT_RELA || s.type === SHT_REL) {
      const entry = s.type === SHT_RELA ? rela : rel;
      for (let at = s.offset; at + entry <= s.offset + s.size; at += entry) seen.add(at);
    }
  }
  return [...seen];
}

import type { ByteView } from '../../util/byte-view.js';
import { VER_NDX_GLOBAL } from '../format/constants.js';
import { VERNAUX, VERNEED } from '../format/layouts.js';
import type { ElfFile, VersionNeed } from '../read/index.js';

/**
 * Rewrites .gnu.version_r in place. Each kept record's vn_file names the string its DT_NEEDED
 * uses (a mismatch aborts ld.so). Removed records are dropped and the rest packed from the table's
 * start, and .gnu.version entries that used a removed record's versions fall back to
 * VER_NDX_GLOBAL, so no symbol refers to a version index that no longer exists.
 * Returns how many records remain.
 */
export function rewriteVersionNeeds(
  elf: ElfFile,
  out: ByteView,
  files: ReadonlyArray<string | null>,
  offsetOf: (s: string) => number,
): number {
  const needs = elf.versionNeeds;
  const kept = needs.map((v, i) => ({ v, file: files[i] ?? null })).filter((k) => k.file !== null) as Array<{
    v: VersionNeed;
    file: string;
  }>;
  if (kept.length === needs.length) {
    for (const { v, file } of kept) out.setU32(v.offset + VERNEED.vn_file, offsetOf(file));
    return kept.length;
  }
  const start = elf.verneedRegion!.offset;
  let extent = start;
  for (const v of needs) {
    extent = Math.max(extent, v.offset + VERNEED.size);
    for (const a of v.entries) extent = Math.max(extent, a.offset + VERNAUX.size);
  }
  const src = elf.view;
  const records = kept.map(({ v, file }) => ({
    version: src.u16(v.offset + VERNEED.vn_version),
    file: offsetOf(file),
    // Copies: `out` may be the input's own memory, and the table is cleared before it is rewritten.
    aux: v.entries.map((a) => Buffer.from(src.bytesAt(a.offset, VERNAUX.size, 'Elf_Vernaux'))),
  }));
  out.fill(0, start, extent);
  let at = start;
  records.forEach((r, i) => {
    const size = VERNEED.size + r.aux.length * VERNAUX.size;
    out.setU16(at + VERNEED.vn_version, r.version);
    out.setU16(at + VERNEED.vn_cnt, r.aux.length);
    out.setU32(at + VERNEED.vn_file, r.file);
    out.setU32(at + VERNEED.vn_aux, r.aux.length > 0 ? VERNEED.size : 0);
    out.setU32(at + VERNEED.vn_next, i === records.length - 1 ? 0 : size);
    r.aux.forEach((bytes, j) => {
      const a = at + VERNEED.size + j * VERNAUX.size;
      out.copyIn(bytes, a);
      out.setU32(a + VERNAUX.vna_next, j === r.aux.length - 1 ? 0 : VERNAUX.size);
    });
    at += size;
  });
  const removed = new Set(
    needs.filter((_, i) => files[i] === null).flatMap((v) => v.entries.map((a) => a.other & 0x7fff)),
  );
  resetVersionIndexes(elf, out, removed);
  return kept.length;
}

function resetVersionIndexes(elf: ElfFile, out: ByteView, removed: ReadonlySet<number>): void {
  const versym = elf.dynValue(0x6ffffff0n);
  const syms = elf.dynamicSymbols();
  if (versym === undefined || syms === undefined || removed.size === 0) return;
  const at = elf.addressMap.offset(versym, syms.count * 2, '.gnu.version (DT_VERSYM)');
  for (let i = 0; i < syms.count; i++) {
    const v = out.u16(at + i * 2);
    if (removed.has(v & 0x7fff)) out.setU16(at + i * 2, VER_NDX_GLOBAL);
  }
}

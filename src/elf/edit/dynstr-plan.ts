import { SHT_DYNAMIC, SHT_DYNSYM, SHT_GNU_VERDEF, SHT_GNU_VERNEED } from '../format/constants.js';
import { layoutsFor } from '../format/layouts.js';
import type { ElfFile } from '../read/index.js';
import { MAX_STRING, StringTable } from '../read/string-table.js';
import type { EditModel } from './model.js';

export interface DynstrPlan {
  /** The new table: the kept prefix of the old one, then the strings that were not found in it. */
  bytes: Buffer;
  /** Offsets of the kept prefix's length; strings at or past it were added by this plan. */
  keptLength: number;
  /** Where each string the model needs lives in `bytes`. */
  offsetOf: Map<string, number>;
}

/**
 * The length of .dynstr that must stay as it is: everything up to the end of the last string that
 * something other than the strings we manage refers to (symbol names, version names). What lies
 * beyond only held dynamic-entry and vn_file strings, which are placed anew, so repeated edits
 * reuse that space instead of growing the table each time.
 */
function keptPrefixLength(elf: ElfFile): number {
  const table = elf.dynstr!;
  // Any other section that uses .dynstr may refer to strings we cannot see: keep everything.
  const strIndex = elf.sections.find((s) => s.type === SHT_DYNAMIC)?.link;
  const known = new Set([SHT_DYNAMIC, SHT_DYNSYM, SHT_GNU_VERNEED, SHT_GNU_VERDEF]);
  if (
    strIndex !== undefined &&
    elf.sections.some((s) => s.index !== 0 && s.link === strIndex && !known.has(s.type))
  ) {
    return table.size;
  }
  const strings = new StringTable(elf.view.bytesAt(table.offset, table.size, '.dynstr'), 0, table.size);
  const offsets: number[] = [];
  for (const v of elf.versionNeeds) for (const a of v.entries) offsets.push(a.nameOffset);
  for (const d of elf.versionDefs) for (const off of d.nameOffsets) offsets.push(off);
  // The string that ends last starts at the largest offset: a NUL after an offset is also after
  // every smaller one. Only a string with no NUL within StringTable's bound breaks that; the
  // table can hold one only if some block of half that bound has no NUL (a crafted table).
  const syms = elf.dynamicSymbols();
  const S = layoutsFor(elf.is64).sym;
  if (syms !== undefined) elf.view.check(syms.offset, syms.count * S.size, '.dynsym');
  let last =
    syms === undefined
      ? -1
      : elf.view.u32ColumnMax(syms.offset + S.st_name, syms.count, S.size, table.size, '.dynsym');
  for (const off of offsets) if (off < table.size && off > last) last = off;
  if (last < 0) return Math.min(1, table.size);
  if (!hasNulFreeRun(strings, table.size)) {
    const nul = strings.nulAfter(last);
    return nul < 0 ? table.size : Math.min(Math.max(1, nul + 1), table.size);
  }
  let end = 1;
  for (const off of [...elf.dynamicSymbolNameOffsets(), ...offsets]) {
    if (off >= table.size) continue;
    // Inside the table only (a hostile table may have no NUL): no scan of the rest of the file.
    const nul = strings.nulAfter(off);
    end = nul < 0 ? table.size : Math.max(end, nul + 1);
  }
  return Math.min(end, table.size);
}

/** Whether some block of MAX_STRING / 2 bytes of the table holds no NUL. */
function hasNulFreeRun(strings: StringTable, size: number): boolean {
  const block = MAX_STRING / 2;
  for (let at = 0; at + block <= size; at += block) if (!strings.hasNul(at, at + block)) return true;
  return false;
}

/** Every string the edited file needs in .dynstr, in a deterministic order. */
export function wantedStrings(m: EditModel): string[] {
  const out: string[] = [];
  for (const e of m.entries) if (e.str !== undefined) out.push(e.str);
  for (const f of m.verneedFiles) if (f !== null) out.push(f);
  for (const [, name] of m.symbolRenames) out.push(name);
  return out;
}

export function planDynstr(elf: ElfFile, m: EditModel): DynstrPlan {
  const table = elf.dynstr!;
  const keptLength = keptPrefixLength(elf);
  const prefix = elf.view.bytesAt(table.offset, keptLength, '.dynstr');
  const offsetOf = new Map<string, number>();
  const added: Buffer[] = [];
  let next = keptLength;
  for (const s of wantedStrings(m)) {
    if (offsetOf.has(s)) continue;
    const needle = Buffer.from(`${s}\0`, 'latin1');
    // A string may share the tail of a longer one ("libc.so.6" inside "xlibc.so.6"): the loader only reads to NUL.
    const found = s === '' ? prefix.indexOf(0) : prefix.indexOf(needle);
    if (found >= 0) {
      offsetOf.set(s, found);
    } else {
      offsetOf.set(s, next);
      added.push(needle);
      next += needle.length;
    }
  }
  return { bytes: Buffer.concat([prefix, ...added]), keptLength, offsetOf };
}

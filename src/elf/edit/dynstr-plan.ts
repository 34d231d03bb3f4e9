import { SHT_DYNAMIC, SHT_DYNSYM, SHT_GNU_VERDEF, SHT_GNU_VERNEED } from '../format/constants.js';
import type { ElfFile } from '../read/index.js';
import { StringTable } from '../read/string-table.js';
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
  let end = 1;
  const strings = new StringTable(elf.view.bytesAt(table.offset, table.size, '.dynstr'), 0, table.size);
  const use = (off: number) => {
    if (off >= table.size) return;
    // Inside the table only (a hostile table may have no NUL): no scan of the rest of the file.
    const nul = strings.nulAfter(off);
    end = nul < 0 ? table.size : Math.max(end, nul + 1);
  };
  for (const off of elf.dynamicSymbolNameOffsets()) use(off);
  for (const v of elf.versionNeeds) for (const a of v.entries) use(a.nameOffset);
  for (const d of elf.versionDefs) for (const off of d.nameOffsets) use(off);
  return Math.min(end, table.size);
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

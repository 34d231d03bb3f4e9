import { ElfEditError } from '../../errors/index.js';
import type { ByteView } from '../../util/byte-view.js';
import { DT_VERSYM, VER_NDX_GLOBAL } from '../format/constants.js';
import type { ElfFile } from '../read/index.js';
import type { EditModel } from './model.js';

/** Where .gnu.version (one half-word per dynamic symbol) lives, when the file has one. */
function versymTable(elf: ElfFile): { offset: number; count: number } | undefined {
  const addr = elf.dynValue(DT_VERSYM);
  const syms = elf.dynamicSymbols();
  if (addr === undefined || syms === undefined) return undefined;
  return {
    offset: elf.addressMap.offset(addr, syms.count * 2, '.gnu.version (DT_VERSYM)'),
    count: syms.count,
  };
}

/**
 * patchelf's --clear-symbol-version: every dynamic symbol with this name gets version index
 * VER_NDX_GLOBAL (it then binds to any definition, versioned or not). A symbol already global, or
 * a file without symbol versions, is left as it is.
 */
export function clearSymbolVersion(m: EditModel, elf: ElfFile, name: string): void {
  if (name === '') throw new ElfEditError('EDIT_BAD_STRING', 'the symbol name is empty');
  const table = versymTable(elf);
  if (table === undefined) return;
  const names = elf.dynamicSymbolNameOffsets();
  const set = new Set(m.versymGlobal);
  for (let i = 0; i < names.length; i++) {
    if (set.has(i) || elf.view.u16(table.offset + i * 2) === VER_NDX_GLOBAL) continue;
    if (elf.dynString(names[i]!, 'dynamic symbol name') === name) set.add(i);
  }
  m.versymGlobal = [...set].sort((a, b) => a - b);
}

/** Writes the model's cleared versions into `out` (the table never moves). */
export function writeClearedVersions(elf: ElfFile, out: ByteView, m: EditModel): void {
  if (m.versymGlobal.length === 0) return;
  const table = versymTable(elf)!;
  for (const i of m.versymGlobal) out.setU16(table.offset + i * 2, VER_NDX_GLOBAL);
}

/** The symbols (by index) whose version index is VER_NDX_GLOBAL in `elf`, among `indexes`. */
export function globalVersions(elf: ElfFile, indexes: readonly number[]): number[] {
  const table = versymTable(elf);
  if (table === undefined) return [];
  return indexes.filter((i) => elf.view.u16(table.offset + i * 2) === VER_NDX_GLOBAL);
}

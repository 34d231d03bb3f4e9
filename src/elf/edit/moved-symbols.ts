import type { ByteView } from '../../util/byte-view.js';
import { SHT_DYNSYM, SHT_SYMTAB } from '../format/constants.js';
import { layoutsFor } from '../format/layouts.js';
import type { ElfFile } from '../read/index.js';

/**
 * Symbols defined relative to a section that moved (`_DYNAMIC` in .dynamic, the section symbols
 * some linkers emit for .interp or .dynstr) follow it: their value shifts by the section's move,
 * so debuggers, eu-elflint and anything reading the symbol tables see the new address.
 */
export function moveSectionSymbols(elf: ElfFile, out: ByteView, moves: ReadonlyMap<number, bigint>): void {
  if (moves.size === 0) return;
  const S = layoutsFor(elf.is64).sym;
  for (const table of elf.sections) {
    if (table.type !== SHT_SYMTAB && table.type !== SHT_DYNSYM) continue;
    const count = Math.floor(table.size / S.size);
    for (let i = 0; i < count; i++) {
      const at = table.offset + i * S.size;
      const delta = moves.get(out.u16(at + S.st_shndx));
      if (delta === undefined) continue;
      out.setWord(at + S.st_value, out.wordBig(at + S.st_value) + delta);
    }
  }
}

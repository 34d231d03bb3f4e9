import { ElfFormatError } from '../../errors/index.js';
import type { ByteView } from '../../util/byte-view.js';
import { DT_GNU_HASH, DT_HASH, SHT_DYNSYM } from '../format/constants.js';
import { layoutsFor } from '../format/layouts.js';
import type { AddressMap } from './address-map.js';
import type { DynamicEntry } from './dynamic.js';
import type { SectionHeader } from './sections.js';

/**
 * How many entries .dynsym has. Section headers say it directly; without them the count comes
 * from DT_HASH's nchain or, failing that, by walking DT_GNU_HASH's buckets and chains as the
 * loader would. Returns undefined when none of these exist.
 */
export function dynamicSymbolCount(
  view: ByteView,
  map: AddressMap,
  sections: readonly SectionHeader[],
  dyn: readonly DynamicEntry[],
): number | undefined {
  const L = layoutsFor(view.is64).sym;
  const sec = sections.find((s) => s.type === SHT_DYNSYM);
  if (sec !== undefined) return Math.floor(sec.size / L.size);
  const hash = dyn.find((e) => e.tag === DT_HASH);
  if (hash !== undefined) return view.u32(map.offset(hash.value + 4n, 4, 'DT_HASH nchain'), 'DT_HASH nchain');
  const gnu = dyn.find((e) => e.tag === DT_GNU_HASH);
  if (gnu !== undefined) return gnuHashSymbolCount(view, map, gnu.value);
  return undefined;
}

function gnuHashSymbolCount(view: ByteView, map: AddressMap, addr: bigint): number {
  const at = map.offset(addr, 16, 'DT_GNU_HASH header');
  const nbuckets = view.u32(at);
  const symoffset = view.u32(at + 4);
  const bloomSize = view.u32(at + 8);
  const bucketsAt = at + 16 + bloomSize * view.wordSize;
  view.check(bucketsAt, nbuckets * 4, 'DT_GNU_HASH buckets');
  let last = 0;
  for (let i = 0; i < nbuckets; i++) last = Math.max(last, view.u32(bucketsAt + i * 4));
  if (last < symoffset) return symoffset;
  const chainsAt = bucketsAt + nbuckets * 4;
  // Each chain ends with an entry whose low bit is set; the file's size bounds the walk.
  for (let i = last; ; i++) {
    const at2 = chainsAt + (i - symoffset) * 4;
    if (at2 + 4 > view.length) {
      throw new ElfFormatError('ELF_BAD_HASH', 'DT_GNU_HASH chain runs past the end of the file', {
        hint: 'the file is corrupt',
      });
    }
    if ((view.u32(at2) & 1) !== 0) return i + 1;
  }
}

/** The st_name of every dynamic symbol: which .dynstr offsets the symbol table uses. */
export function dynamicSymbolNameOffsets(view: ByteView, symtabOffset: number, count: number): number[] {
  const L = layoutsFor(view.is64).sym;
  view.check(symtabOffset, count * L.size, '.dynsym');
  return view.u32Column(symtabOffset + L.st_name, count, L.size, '.dynsym');
}

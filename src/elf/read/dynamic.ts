import { ElfFormatError } from '../../errors/index.js';
import type { ByteView } from '../../util/byte-view.js';
import { DT_NULL, PT_DYNAMIC, SHT_DYNAMIC, SHT_NOBITS } from '../format/constants.js';
import { layoutsFor } from '../format/layouts.js';
import type { ProgramHeader } from './program-headers.js';
import type { SectionHeader } from './sections.js';

export interface DynamicEntry {
  tag: bigint;
  value: bigint;
}

export interface DynamicTable {
  /** File offset and address of the table (from PT_DYNAMIC, else the SHT_DYNAMIC section). */
  offset: number;
  vaddr: bigint;
  /** Entries before the first DT_NULL. */
  entries: DynamicEntry[];
  /** How many entries fit in the table's space, DT_NULL slots included. */
  capacity: number;
  /** The SHT_DYNAMIC section, when the file has section headers. */
  section: SectionHeader | undefined;
}

export function readDynamic(
  view: ByteView,
  phdrs: readonly ProgramHeader[],
  sections: readonly SectionHeader[],
): DynamicTable | undefined {
  const section = sections.find((s) => s.type === SHT_DYNAMIC);
  const ph = phdrs.find((p) => p.type === PT_DYNAMIC);
  let offset: number;
  let vaddr: bigint;
  let size: number;
  if (ph !== undefined) {
    // Separate debug-info files keep PT_DYNAMIC with no bytes behind it: no dynamic section.
    if (ph.filesz === 0) return undefined;
    ({ offset, vaddr, filesz: size } = ph);
  } else if (section !== undefined && section.type !== SHT_NOBITS) {
    ({ offset, addr: vaddr, size } = section);
  } else {
    return undefined;
  }
  view.check(offset, size, 'dynamic section');
  // When the section header describes the same table, the smaller of the two sizes is the room.
  if (
    ph !== undefined &&
    section !== undefined &&
    section.offset === offset &&
    section.type === SHT_DYNAMIC
  ) {
    size = Math.min(size, section.size);
  }
  const { entries, capacity } = readDynamicEntries(view, offset, size, offset);
  return { offset, vaddr, entries, capacity, section };
}

/**
 * The entries of a dynamic table of `size` bytes at `at` in `view`, up to the first DT_NULL
 * (which must be there). `fileOffset`: where the table is in the file, for messages.
 */
export function readDynamicEntries(
  view: ByteView,
  at: number,
  size: number,
  fileOffset: number,
): { entries: DynamicEntry[]; capacity: number } {
  const L = layoutsFor(view.is64).dyn;
  const capacity = Math.floor(size / L.size);
  const entries: DynamicEntry[] = [];
  let terminated = false;
  for (let i = 0; i < capacity; i++) {
    const e = at + i * L.size;
    const tag = view.swordBig(e + L.d_tag, 'dynamic entry tag');
    if (tag === DT_NULL) {
      terminated = true;
      break;
    }
    entries.push({ tag, value: view.wordBig(e + L.d_val, 'dynamic entry value') });
  }
  if (!terminated) {
    throw new ElfFormatError(
      'ELF_BAD_DYNAMIC',
      `the dynamic section at offset 0x${fileOffset.toString(16)} has no DT_NULL terminator`,
      {
        hint: 'the file is truncated or corrupt',
      },
    );
  }
  return { entries, capacity };
}

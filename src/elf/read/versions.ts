import { ElfFormatError } from '../../errors/index.js';
import type { ByteView } from '../../util/byte-view.js';
import { VERDAUX, VERDEF, VERNAUX, VERNEED } from '../format/layouts.js';

/** One Elf_Verneed record and its Elf_Vernaux entries (.gnu.version_r). */
export interface VersionNeed {
  /** File offset of the record. */
  offset: number;
  version: number;
  /** dynstr offset of vn_file, and the string. */
  fileOffset: number;
  file: string;
  entries: VersionNeedAux[];
}

export interface VersionNeedAux {
  offset: number;
  hash: number;
  flags: number;
  /** The version index that .gnu.version entries use for this version. */
  other: number;
  nameOffset: number;
  name: string;
}

/** One Elf_Verdef record and its names (.gnu.version_d). */
export interface VersionDef {
  offset: number;
  version: number;
  flags: number;
  index: number;
  hash: number;
  names: string[];
  nameOffsets: number[];
}

type StringAt = (offset: number, what: string) => string;

/**
 * Calls `visit` with each record of a chain linked by relative `next` offsets (the next one read
 * after the visit), refusing loops and runaway chains: a hostile file must not make the reader
 * hang. A plain loop, not a generator: generators stay slow in code run a few hundred times.
 */
function eachInChain(
  view: ByteView,
  start: number,
  count: number,
  nextField: number,
  what: string,
  visit: (at: number) => void,
): void {
  const seen = new Set<number>();
  let at = start;
  for (let i = 0; i < count; i++) {
    if (seen.has(at)) {
      throw new ElfFormatError('ELF_BAD_VERSION', `${what} chain loops back to offset 0x${at.toString(16)}`, {
        hint: 'the file is corrupt',
      });
    }
    seen.add(at);
    visit(at);
    const next = view.u32(at + nextField, `${what} next`);
    if (next === 0) {
      if (i !== count - 1 && what !== 'vernaux' && what !== 'verdaux') {
        throw new ElfFormatError('ELF_BAD_VERSION', `${what} chain ends after ${i + 1} of ${count} records`, {
          hint: 'the file is corrupt',
        });
      }
      return;
    }
    at += next;
  }
}

export function readVersionNeeds(
  view: ByteView,
  offset: number,
  count: number,
  str: StringAt,
): VersionNeed[] {
  const out: VersionNeed[] = [];
  eachInChain(view, offset, count, VERNEED.vn_next, 'verneed', (at) => {
    view.check(at, VERNEED.size, 'verneed record');
    const fileOffset = view.u32(at + VERNEED.vn_file);
    const cnt = view.u16(at + VERNEED.vn_cnt);
    const need: VersionNeed = {
      offset: at,
      version: view.u16(at + VERNEED.vn_version),
      fileOffset,
      file: str(fileOffset, 'verneed vn_file'),
      entries: [],
    };
    if (cnt > 0) {
      eachInChain(view, at + view.u32(at + VERNEED.vn_aux), cnt, VERNAUX.vna_next, 'vernaux', (a) => {
        view.check(a, VERNAUX.size, 'vernaux record');
        const nameOffset = view.u32(a + VERNAUX.vna_name);
        need.entries.push({
          offset: a,
          hash: view.u32(a + VERNAUX.vna_hash),
          flags: view.u16(a + VERNAUX.vna_flags),
          other: view.u16(a + VERNAUX.vna_other),
          nameOffset,
          name: str(nameOffset, 'vernaux vna_name'),
        });
      });
    }
    out.push(need);
  });
  return out;
}

export function readVersionDefs(view: ByteView, offset: number, count: number, str: StringAt): VersionDef[] {
  const out: VersionDef[] = [];
  eachInChain(view, offset, count, VERDEF.vd_next, 'verdef', (at) => {
    view.check(at, VERDEF.size, 'verdef record');
    const cnt = view.u16(at + VERDEF.vd_cnt);
    const def: VersionDef = {
      offset: at,
      version: view.u16(at + VERDEF.vd_version),
      flags: view.u16(at + VERDEF.vd_flags),
      index: view.u16(at + VERDEF.vd_ndx),
      hash: view.u32(at + VERDEF.vd_hash),
      names: [],
      nameOffsets: [],
    };
    if (cnt > 0) {
      eachInChain(view, at + view.u32(at + VERDEF.vd_aux), cnt, VERDAUX.vda_next, 'verdaux', (a) => {
        view.check(a, VERDAUX.size, 'verdaux record');
        const nameOffset = view.u32(a + VERDAUX.vda_name);
        def.nameOffsets.push(nameOffset);
        def.names.push(str(nameOffset, 'verdaux vda_name'));
      });
    }
    out.push(def);
  });
  return out;
}

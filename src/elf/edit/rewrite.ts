import { ElfEditError } from '../../errors/index.js';
import { ByteView } from '../../util/byte-view.js';
import type { WriteLog } from '../../util/write-log.js';
import {
  DT_MIPS_RLD_MAP_REL,
  DT_STRSZ,
  DT_STRTAB,
  DT_VERDEF,
  DT_VERNEED,
  DT_VERNEEDNUM,
  DT_VERSYM,
  EI_OSABI,
  PF_R,
  PF_W,
  PN_XNUM,
  PT_DYNAMIC,
  PT_GNU_STACK,
  PT_INTERP,
  PT_LOAD,
  PT_NOTE,
  PT_NULL,
  PT_PHDR,
} from '../format/constants.js';
import { layoutsFor } from '../format/layouts.js';
import type { ElfFile, SectionHeader } from '../read/index.js';
import { notesSize, writeNotes } from '../write/notes.js';
import {
  type PhdrFields,
  writeDyn,
  writePhdr,
  writePhdrTablePlace,
  writeSectionInfo,
  writeSectionPlacement,
} from '../write/records.js';
import { checkPointersClear } from './check-layout.js';
import { type DynstrPlan, planDynstr, wantedStrings } from './dynstr-plan.js';
import { applyDynstrSlide, type DynstrSlide, planDynstrSlide, slidValue } from './dynstr-slide.js';
import type { EditOptions } from './edits.js';
import type { EditModel } from './model.js';
import { moveSectionSymbols } from './moved-symbols.js';
import { alignUp, imageEnd, newSegmentPlace, segmentPageSize } from './placement.js';
import { applySegmentExtension, planSegmentExtension, type SegmentExtension } from './segment-extension.js';
import { writeSymbolNames } from './symbol-names.js';
import { writeClearedVersions } from './symbol-versions.js';
import { tableSections } from './tables.js';
import { findTailSegment } from './tail-segment.js';
import { rewriteVersionNeeds } from './verneed-rewrite.js';

type Phdr = PhdrFields & { origin?: number };

/** Where one table ends up: in its old place, or at an offset inside the new segment. */
type Place = { inPlace: true } | { inPlace: false; at: number };

/**
 * Lays the edited model out in a new file. Tables that still fit stay where they are and are
 * rewritten in place; those that grew (or sat in a segment an earlier edit appended) go into one
 * loadable segment at the end of the file, with the program header table when it must grow.
 * Nothing else in the file moves, so code, data, notes and sections keep their addresses.
 * Every byte it writes goes through one ByteView, which records the ranges in `log` when given
 * (the result is the input, or a copy of it, with those ranges changed).
 */
export function rewrite(elf: ElfFile, m: EditModel, options: EditOptions, log?: WriteLog): Buffer {
  const h = elf.header;
  const L = layoutsFor(h.is64);
  const word = h.is64 ? 8 : 4;
  const tail = findTailSegment(elf);
  // A rebuilt tail overwrites tables that are still read while writing: such edits copy.
  const reuse = options.reuseInput === true && tail === undefined;
  const inTail = (t: 'pht' | 'interp' | 'dynstr' | 'dynamic') => tail?.holds.has(t) === true;

  // Strings first: every other table refers to them.
  const strings = planStrings(elf, m, inTail('dynstr'));
  const needsStrings =
    m.entries.some((e) => e.str !== undefined) ||
    m.verneedFiles.some((f) => f !== null) ||
    m.symbolRenames.length > 0;
  if (strings === undefined && needsStrings) {
    throw new ElfEditError(
      'EDIT_NO_DYNSTR',
      'the file has a dynamic section but no string table (DT_STRTAB) to hold names',
      {
        hint: 'the file is unusual or corrupt; it cannot take string entries',
      },
    );
  }
  const grownSize = strings?.rewrite === true ? strings.plan.bytes.length : 0;
  const dynstrGrows = grownSize > (elf.dynstr?.size ?? 0);
  // A table that outgrows its place grows where it is when the tables after it can slide up.
  const slide: DynstrSlide | undefined =
    dynstrGrows && !inTail('dynstr') ? planDynstrSlide(elf, grownSize) : undefined;
  const dynstrLeaves = strings !== undefined && (inTail('dynstr') || (dynstrGrows && slide === undefined));

  const interpBytes = m.interp === undefined ? undefined : Buffer.from(`${m.interp}\0`, 'latin1');
  const interpChanged = m.interp !== elf.interp?.value;
  const interpMoves =
    interpBytes !== undefined && (inTail('interp') || interpBytes.length > elf.interp!.size);

  const dropVersionTags = removeVersionTags(m, elf);
  const entries = dropVersionTags
    ? m.entries.filter((e) => e.tag !== DT_VERNEED && e.tag !== DT_VERNEEDNUM && e.tag !== DT_VERSYM)
    : m.entries;
  const dynSlots = entries.length + 1;
  const dynMoves = elf.dynamic !== undefined && (inTail('dynamic') || dynSlots > elf.dynamic.capacity);

  // The program header table, edited.
  // Each header copied field by field: an object spread of the parsed header took a slow path in
  // code run a few hundred times (docs/benchmarks.md, "Renaming ...", session 6).
  const table: Phdr[] = elf.programHeaders.map(
    (p): Phdr => ({
      type: p.type,
      flags: p.flags,
      offset: p.offset,
      vaddr: p.vaddr,
      paddr: p.paddr,
      filesz: p.filesz,
      memsz: p.memsz,
      align: p.align,
      origin: p.index,
    }),
  );
  if (m.gnuStackFlags !== undefined && !table.some((p) => p.type === PT_GNU_STACK)) {
    table.push({
      type: PT_GNU_STACK,
      flags: m.gnuStackFlags,
      offset: 0,
      vaddr: 0n,
      paddr: 0n,
      filesz: 0,
      memsz: 0,
      align: 0x10,
    });
  }
  // Added notes live in one PT_NOTE inside the appended segment.
  const notesLen = notesSize(m.notes);
  let notePh =
    tail?.notePhdrIndex === undefined ? undefined : table.find((p) => p.origin === tail.notePhdrIndex);
  if (notePh !== undefined && m.notes.length === 0) {
    table.splice(table.indexOf(notePh), 1);
    notePh = undefined;
  } else if (notePh === undefined && m.notes.length > 0) {
    notePh = { type: PT_NOTE, flags: PF_R, offset: 0, vaddr: 0n, paddr: 0n, filesz: 0, memsz: 0, align: 4 };
    const lastNote = table.map((p) => p.type).lastIndexOf(PT_NOTE);
    table.splice(lastNote < 0 ? table.length : lastNote + 1, 0, notePh);
  }
  fitTable(table, h.phnum);
  // A .dynstr that is the only table to leave its place goes at the end of the last segment (rule 3b).
  const extension: SegmentExtension | undefined =
    dynstrLeaves &&
    tail === undefined &&
    !interpMoves &&
    !dynMoves &&
    m.notes.length === 0 &&
    table.length <= h.phnum
      ? planSegmentExtension(elf, grownSize)
      : undefined;
  const dynstrMoves = dynstrLeaves && extension === undefined;
  const anyMoves = dynstrMoves || interpMoves || dynMoves || m.notes.length > 0;
  const needLoad = anyMoves || tail !== undefined || table.length > h.phnum;
  let load: Phdr | undefined;
  if (needLoad) {
    if (tail !== undefined) {
      load = table.find((p) => p.origin === tail.phdrIndex)!;
    } else {
      load = { type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0n, paddr: 0n, filesz: 0, memsz: 0, align: 0 };
      const lastLoad = table.map((p) => p.type).lastIndexOf(PT_LOAD);
      table.splice(lastLoad + 1, 0, load);
      fitTable(table, h.phnum);
    }
  }
  const phtMoves = table.length > h.phnum || inTail('pht');
  const phnumChanges = table.length !== h.phnum;
  if (table.length >= PN_XNUM) {
    throw new ElfEditError(
      'EDIT_TOO_MANY_SEGMENTS',
      `the edit needs ${table.length} program headers, more than ELF allows here`,
    );
  }

  // The new segment's contents, in the fixed order tail-segment.ts recognises.
  let size = 0;
  const place = (bytes: number, align: number): Place => {
    size = alignUp(size, align);
    const at = size;
    size += bytes;
    return { inPlace: false, at };
  };
  const inPlace: Place = { inPlace: true };
  const phtPlace = phtMoves ? place(table.length * L.phdr.size, word) : inPlace;
  const interpPlace = interpMoves ? place(interpBytes!.length, 1) : inPlace;
  const dynstrPlace = dynstrMoves ? place(strings!.plan.bytes.length, 1) : inPlace;
  const dynPlace = dynMoves ? place(dynSlots * L.dyn.size, word) : inPlace;
  const notesPlace = m.notes.length > 0 ? place(notesLen, 4) : inPlace;

  // Where the new segment goes, and the output buffer.
  let seg = { offset: 0, vaddr: 0n };
  let out: Buffer;
  // Zeros from here to the end: the padding and the new segment.
  let zeroFrom: number | undefined;
  if (needLoad) {
    if (tail !== undefined) {
      seg = { offset: tail.offset, vaddr: tail.vaddr };
    } else {
      const end = imageEnd(elf);
      if (elf.buf.length > end) {
        throw new ElfEditError(
          'EDIT_TRAILING_DATA',
          `the file has ${elf.buf.length - end} bytes of data appended after its ELF image (from offset 0x${end.toString(16)}); this edit must grow the file, which would separate that data from the end of the file`,
          {
            hint: 'make the edit fit in place (e.g. shorter names), or strip the appended data first and re-append it after editing',
          },
        );
      }
      const pageSize = segmentPageSize(elf, options.pageSize);
      seg = newSegmentPlace(elf, elf.buf.length, pageSize, phtMoves);
      checkPointersClear(elf, seg.vaddr, size);
      load!.align = pageSize;
    }
    out = outputBuffer(elf.buf, seg.offset + size, reuse);
    // Padding and the new segment start as zeros; the bytes before them are the input's.
    zeroFrom = Math.min(elf.buf.length, seg.offset);
    load!.offset = seg.offset;
    load!.vaddr = seg.vaddr;
    load!.paddr = seg.vaddr;
    load!.filesz = size;
    load!.memsz = size;
    load!.flags = PF_R | (dynMoves ? PF_W : 0);
  } else if (extension !== undefined) {
    out = outputBuffer(elf.buf, elf.buf.length + extension.shift, reuse);
  } else {
    out = reuse ? elf.buf : Buffer.from(elf.buf);
  }
  // The input's holes (a file read in part) are the output's too: what was not read is not there.
  const v = new ByteView(out, h.littleEndian, h.is64, log, elf.view.holes);
  if (zeroFrom !== undefined) v.fill(0, zeroFrom);
  checkInPlaceRoom(elf, needLoad ? seg.offset : elf.buf.length, {
    dynstr: strings?.rewrite === true && !dynstrLeaves,
    dynamic: !dynMoves,
    interp: interpChanged && !interpMoves,
    pht: !phtMoves,
  });
  const fileAt = (p: Place, old: number) => (p.inPlace ? old : seg.offset + p.at);
  const addrAt = (p: Place, old: bigint) => (p.inPlace ? old : seg.vaddr + BigInt(p.at));
  const dynstrAddr = extension !== undefined ? extension.vaddr : addrAt(dynstrPlace, 0n);
  const sections = tableSections(elf);
  // Sections that moved, by index, with how far: their symbols follow them.
  const moves = new Map<number, bigint>();
  const moveSection = (
    sec: SectionHeader | undefined,
    place: { offset: number; addr: bigint; size: number },
  ) => {
    if (sec === undefined) return;
    writeSectionPlacement(v, h.shoff, sec.index, place);
    if (place.addr !== sec.addr) moves.set(sec.index, place.addr - sec.addr);
  };

  // .dynstr (one that grows in place, or at the end of the last segment, is written last)
  if (extension !== undefined) {
    moveSection(sections.dynstr, {
      offset: extension.offset,
      addr: extension.vaddr,
      size: strings!.plan.bytes.length,
    });
  } else if (strings !== undefined && slide === undefined && (strings.rewrite || dynstrMoves)) {
    const bytes = strings.plan.bytes;
    if (dynstrMoves) {
      v.copyIn(bytes, seg.offset + (dynstrPlace as { at: number }).at);
    } else {
      const t = elf.dynstr!;
      v.fill(0, t.offset + strings.plan.keptLength, t.offset + t.size);
      v.copyIn(bytes, t.offset + strings.plan.keptLength, strings.plan.keptLength);
    }
    if (dynstrMoves) {
      moveSection(sections.dynstr, {
        offset: fileAt(dynstrPlace, 0),
        addr: addrAt(dynstrPlace, 0n),
        size: bytes.length,
      });
    }
  }
  const offsetOf = (s: string): number => {
    const off = strings?.offsetOf(s);
    if (off === undefined) throw new Error(`internal: string ${JSON.stringify(s)} was not placed`);
    return off;
  };

  // .interp
  if (interpBytes !== undefined && (interpChanged || interpMoves)) {
    const old = elf.interp!;
    if (interpMoves) {
      v.copyIn(interpBytes, fileAt(interpPlace, 0));
      const ph = table.find((p) => p.type === PT_INTERP)!;
      Object.assign(ph, {
        offset: fileAt(interpPlace, 0),
        vaddr: addrAt(interpPlace, 0n),
        paddr: addrAt(interpPlace, 0n),
      });
      ph.filesz = ph.memsz = interpBytes.length;
      moveSection(sections.interp, { offset: ph.offset, addr: ph.vaddr, size: interpBytes.length });
    } else {
      v.fill(0, old.offset, old.offset + old.size);
      v.copyIn(interpBytes, old.offset);
    }
  }

  // .gnu.version_r, before .dynamic: it decides DT_VERNEEDNUM.
  let verneedCount = elf.versionNeeds.length;
  if (elf.versionNeeds.length > 0) {
    verneedCount = rewriteVersionNeeds(elf, v, m.verneedFiles, offsetOf);
    if (sections.verneed !== undefined) writeSectionInfo(v, h.shoff, sections.verneed.index, verneedCount);
  }

  // .dynamic
  if (elf.dynamic !== undefined) {
    const d = elf.dynamic;
    const base = fileAt(dynPlace, d.offset);
    const vbase = addrAt(dynPlace, d.vaddr);
    const slots = dynMoves ? dynSlots : d.capacity;
    v.fill(0, base, base + slots * L.dyn.size);
    entries.forEach((e, i) => {
      let value = e.str !== undefined ? BigInt(offsetOf(e.str)) : e.value;
      if (e.tag === DT_STRTAB && dynstrLeaves) value = dynstrAddr;
      if (e.tag === DT_STRSZ && (dynstrLeaves || slide !== undefined))
        value = BigInt(strings!.plan.bytes.length);
      if (slide !== undefined) value = slidValue(slide, e.tag, value);
      if (e.tag === DT_VERNEEDNUM) value = BigInt(verneedCount);
      if (e.tag === DT_MIPS_RLD_MAP_REL && e.origin !== undefined) {
        // Relative to the entry's own address: keep the target when the entry moves.
        const target = d.vaddr + BigInt(e.origin * L.dyn.size) + e.value;
        value = target - (vbase + BigInt(i * L.dyn.size));
      }
      writeDyn(v, base + i * L.dyn.size, e.tag, value);
    });
    if (dynMoves) {
      const ph = table.find((p) => p.type === PT_DYNAMIC);
      if (ph !== undefined) {
        Object.assign(ph, {
          offset: base,
          vaddr: vbase,
          paddr: vbase,
          filesz: slots * L.dyn.size,
          memsz: slots * L.dyn.size,
        });
      }
      moveSection(sections.dynamic, { offset: base, addr: vbase, size: slots * L.dyn.size });
    }
  }

  if (slide !== undefined) {
    for (const s of slide.sections) {
      moveSection(s, { offset: s.offset + slide.delta, addr: s.addr + BigInt(slide.delta), size: s.size });
    }
    if (sections.dynstr !== undefined) {
      writeSectionPlacement(v, h.shoff, sections.dynstr.index, {
        offset: sections.dynstr.offset,
        addr: sections.dynstr.addr,
        size: strings!.plan.bytes.length,
      });
    }
    const grown = table.find((p) => p.origin === slide.phdrIndex)!;
    grown.filesz += slide.delta;
    grown.memsz += slide.delta;
  }
  moveSectionSymbols(elf, v, moves);
  writeClearedVersions(elf, v, m);
  writeSymbolNames(elf, v, m, offsetOf);
  // Last: every table after .dynstr was written where it was; now it slides up, and .dynstr grows.
  if (slide !== undefined) applyDynstrSlide(v, elf, slide, strings!.plan.bytes, strings!.plan.keptLength);
  if (extension !== undefined) {
    const grown = table.find((p) => p.origin === extension.phdrIndex)!;
    grown.filesz = grown.memsz = extension.size;
  }

  // Added notes.
  if (notePh !== undefined && !notesPlace.inPlace) {
    writeNotes(v, seg.offset + notesPlace.at, m.notes);
    const vaddr = seg.vaddr + BigInt(notesPlace.at);
    Object.assign(notePh, {
      offset: seg.offset + notesPlace.at,
      vaddr,
      paddr: vaddr,
      filesz: notesLen,
      memsz: notesLen,
    });
  }

  // Program headers and the file header.
  for (const p of table)
    if (p.type === PT_GNU_STACK && m.gnuStackFlags !== undefined) p.flags = m.gnuStackFlags;
  const phoff = fileAt(phtPlace, h.phoff);
  if (!phtMoves && phnumChanges) v.fill(0, h.phoff, h.phoff + h.phnum * L.phdr.size);
  if (phtMoves || phnumChanges) {
    const ph = table.find((p) => p.type === PT_PHDR);
    if (ph !== undefined) {
      const vaddr = addrAt(phtPlace, ph.vaddr);
      Object.assign(ph, {
        offset: phoff,
        vaddr,
        paddr: vaddr,
        filesz: table.length * L.phdr.size,
        memsz: table.length * L.phdr.size,
      });
    }
  }
  if (phtMoves || phnumChanges) writePhdrTablePlace(v, phoff, table.length);
  for (const [i, p] of table.entries()) writePhdr(v, phoff + i * L.phdr.size, p);
  v.setU8(EI_OSABI, m.osabi);
  // Last: what follows the grown segment moves, then .dynstr is written at the segment's end.
  if (extension !== undefined) applySegmentExtension(v, elf, extension, strings!.plan.bytes);
  return out;
}

/**
 * A buffer of `length` bytes that starts with the input's bytes: the input's own memory when the
 * caller gave it up and it has room, else a copy (not zero-filled: the caller fills past the input).
 */
function outputBuffer(input: Buffer, length: number, reuse: boolean): Buffer {
  if (reuse && input.byteOffset + length <= input.buffer.byteLength) {
    return Buffer.from(input.buffer, input.byteOffset, length);
  }
  const out = Buffer.allocUnsafe(length);
  input.copy(out, 0, 0, Math.min(input.length, length));
  return out;
}

/**
 * Tables rewritten in place must lie wholly before `limit` (the end of what is kept of the
 * input). A corrupt file whose tables overlap the end, or an appended segment, is refused.
 */
function checkInPlaceRoom(
  elf: ElfFile,
  limit: number,
  which: { dynstr: boolean; dynamic: boolean; interp: boolean; pht: boolean },
): void {
  const regions: Array<[string, number, number]> = [];
  if (which.dynstr && elf.dynstr !== undefined) regions.push(['.dynstr', elf.dynstr.offset, elf.dynstr.size]);
  const d = elf.dynamic;
  if (which.dynamic && d !== undefined)
    regions.push(['.dynamic', d.offset, d.capacity * layoutsFor(elf.is64).dyn.size]);
  if (which.interp && elf.interp !== undefined)
    regions.push(['PT_INTERP', elf.interp.offset, elf.interp.size]);
  if (which.pht)
    regions.push(['the program header table', elf.header.phoff, elf.header.phnum * elf.header.phentsize]);
  for (const v of elf.versionNeeds) regions.push(['.gnu.version_r', v.offset, 16 + v.entries.length * 16]);
  for (const [what, offset, size] of regions) {
    if (offset + size > limit) {
      throw new ElfEditError(
        'EDIT_BAD_LAYOUT',
        `${what} (offset 0x${offset.toString(16)}, ${size} bytes) runs into the end of the file's image`,
        {
          hint: 'the file is corrupt (its tables overlap the end of the file or a segment appended by an earlier edit)',
        },
      );
    }
  }
}

/** A program header table keeps its size when it has PT_NULL entries to give up. */
function fitTable(table: Phdr[], phnum: number): void {
  while (table.length > phnum) {
    const i = table.findIndex((p) => p.type === PT_NULL);
    if (i < 0) return;
    table.splice(i, 1);
  }
}

/** With every Elf_Verneed removed and no Elf_Verdef, the version tables must go too (ld.so would read them). */
function removeVersionTags(m: EditModel, elf: ElfFile): boolean {
  return (
    elf.versionNeeds.length > 0 &&
    m.verneedFiles.every((f) => f === null) &&
    elf.dynValue(DT_VERDEF) === undefined
  );
}

/**
 * The strings the edited file needs. When the current table already holds them all, it is left
 * untouched; otherwise a new one is planned (kept prefix plus new strings).
 */
function planStrings(
  elf: ElfFile,
  m: EditModel,
  forceNew: boolean,
): { rewrite: boolean; plan: DynstrPlan; offsetOf: (s: string) => number | undefined } | undefined {
  const t = elf.dynstr;
  if (t === undefined) return undefined;
  const table = elf.view.bytesAt(t.offset, t.size, '.dynstr');
  const existing = new Map<string, number>();
  let all = true;
  const want = wantedStrings(m);
  // Entries that did not change keep their offsets: a no-op edit must not move a byte.
  for (const e of m.entries) {
    if (
      e.str !== undefined &&
      e.origin !== undefined &&
      elf.dynString(elf.dynamicEntries[e.origin]!.value) === e.str
    ) {
      existing.set(e.str, Number(elf.dynamicEntries[e.origin]!.value));
    }
  }
  for (const s of want) {
    if (forceNew) {
      all = false;
      break;
    }
    if (existing.has(s)) continue;
    const found = table.indexOf(Buffer.from(`${s}\0`, 'latin1'));
    if (found < 0) {
      all = false;
      break;
    }
    existing.set(s, found);
  }
  if (all)
    return {
      rewrite: false,
      plan: { bytes: table, keptLength: t.size, offsetOf: existing },
      offsetOf: (s) => existing.get(s),
    };
  const plan = planDynstr(elf, m);
  return { rewrite: true, plan, offsetOf: (s) => plan.offsetOf.get(s) };
}

import { ElfFormatError } from '../../errors/index.js';
import type { ByteView } from '../../util/byte-view.js';
import {
  DT_NEEDED,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  DT_SYMTAB,
  DT_VERDEF,
  DT_VERDEFNUM,
  DT_VERNEED,
  DT_VERNEEDNUM,
  PT_DYNAMIC,
  PT_INTERP,
  PT_NOTE,
  SHT_GNU_VERDEF,
  SHT_GNU_VERNEED,
  SHT_NOBITS,
  SHT_NOTE,
} from '../format/constants.js';
import { AddressMap } from './address-map.js';
import { type DynamicEntry, type DynamicTable, readDynamic } from './dynamic.js';
import { type ElfHeader, readHeader } from './header.js';
import { MAX_NOTES, type Note, readNotes } from './notes.js';
import { type ProgramHeader, readProgramHeaders } from './program-headers.js';
import { readSections, type SectionHeader } from './sections.js';
import { StringTable, stringAt } from './string-table.js';
import { dynamicSymbolCount, dynamicSymbolNameOffsets } from './symbols.js';
import { readVersionDefs, readVersionNeeds, type VersionDef, type VersionNeed } from './versions.js';

/** A region of the file: where a table lives on disk and in memory. */
export interface Region {
  offset: number;
  vaddr: bigint;
  size: number;
}

export interface Interp extends Region {
  value: string;
}

/**
 * A parsed, read-only ELF file. Everything is read and bounds-checked up front, so a file that
 * parses can be inspected and edited without further surprises. Strings are byte strings
 * (one latin1 character per byte; see util/elf-string.ts).
 */
export class ElfFile {
  readonly header: ElfHeader;
  readonly programHeaders: readonly ProgramHeader[];
  readonly sections: readonly SectionHeader[];
  readonly addressMap: AddressMap;
  readonly dynamic: DynamicTable | undefined;
  /** .dynstr as DT_STRTAB/DT_STRSZ describe it. */
  readonly dynstr: Region | undefined;
  readonly interp: Interp | undefined;
  readonly versionNeeds: readonly VersionNeed[];
  readonly versionDefs: readonly VersionDef[];
  readonly notes: readonly Note[];
  /** Where .gnu.version_r lives, when the file has one. */
  readonly verneedRegion: Region | undefined;
  private dynstrTable: StringTable | undefined;

  private constructor(
    readonly buf: Buffer,
    readonly view: ByteView,
    header: ElfHeader,
  ) {
    this.header = header;
    this.programHeaders = readProgramHeaders(view, header);
    this.sections = readSections(view, header);
    this.addressMap = new AddressMap(this.programHeaders, this.sections, buf.length);
    this.interp = this.readInterp();
    this.dynamic = readDynamic(view, this.programHeaders, this.sections);
    this.dynstr = this.readDynstrRegion();
    this.verneedRegion = this.findVersionRegion(DT_VERNEED, SHT_GNU_VERNEED);
    this.versionNeeds =
      this.verneedRegion === undefined
        ? []
        : readVersionNeeds(
            view,
            this.verneedRegion.offset,
            this.versionCount(DT_VERNEEDNUM, SHT_GNU_VERNEED),
            (o, w) => this.dynString(o, w),
          );
    const verdef = this.findVersionRegion(DT_VERDEF, SHT_GNU_VERDEF);
    this.versionDefs =
      verdef === undefined
        ? []
        : readVersionDefs(view, verdef.offset, this.versionCount(DT_VERDEFNUM, SHT_GNU_VERDEF), (o, w) =>
            this.dynString(o, w),
          );
    this.notes = this.readAllNotes();
  }

  /**
   * `holes`: ranges of `buf` that hold no bytes of the file (a file read in part); any read of
   * one throws ElfFormatError ELF_NOT_READ (ByteView). The first 64 bytes must have been read.
   */
  static parse(buf: Buffer, holes?: ReadonlyArray<readonly [number, number]>): ElfFile {
    if (holes !== undefined && holes.length === 0) holes = undefined;
    const { view, header } = readHeader(buf, undefined, holes);
    return new ElfFile(buf, view, header);
  }

  get is64(): boolean {
    return this.header.is64;
  }

  /**
   * True for a separate debug-info file (objcopy --only-keep-debug): it names a dynamic section
   * (PT_DYNAMIC, or a .dynamic section header) whose bytes were left out (no file size, or NOBITS).
   */
  get dynamicStripped(): boolean {
    if (this.dynamic !== undefined) return false;
    const ph = this.programHeaders.find((p) => p.type === PT_DYNAMIC);
    if (ph !== undefined) return ph.filesz === 0;
    return this.sections.some((s) => s.type === SHT_NOBITS && s.name === '.dynamic');
  }

  get dynamicEntries(): readonly DynamicEntry[] {
    return this.dynamic?.entries ?? [];
  }

  /** The value of the first dynamic entry with this tag. */
  dynValue(tag: bigint): bigint | undefined {
    return this.dynamicEntries.find((e) => e.tag === tag)?.value;
  }

  /** A string from .dynstr, bounds-checked against DT_STRSZ. */
  dynString(offset: number | bigint, what = 'dynamic string'): string {
    const table = this.dynstr;
    if (table === undefined) {
      throw new ElfFormatError(
        'ELF_BAD_DYNAMIC',
        `${what} refers to a string table the file does not have (no DT_STRTAB)`,
        {
          hint: 'the file is corrupt',
        },
      );
    }
    this.dynstrTable ??= new StringTable(
      this.view.bytesAt(table.offset, table.size, '.dynstr'),
      0,
      table.size,
    );
    return stringAt(this.dynstrTable, table.size, table.offset, offset, what);
  }

  private stringsOf(tag: bigint): string[] {
    return this.dynamicEntries
      .filter((e) => e.tag === tag)
      .map((e) => this.dynString(e.value, `dynamic entry 0x${tag.toString(16)}`));
  }

  get needed(): string[] {
    return this.stringsOf(DT_NEEDED);
  }

  get soname(): string | undefined {
    return this.stringsOf(DT_SONAME)[0];
  }

  get rpath(): string | undefined {
    return this.stringsOf(DT_RPATH)[0];
  }

  get runpath(): string | undefined {
    return this.stringsOf(DT_RUNPATH)[0];
  }

  /** The file offset of the dynamic symbol table's `count` entries, when both are known. */
  dynamicSymbols(): { offset: number; count: number } | undefined {
    const addr = this.dynValue(DT_SYMTAB);
    if (addr === undefined) return undefined;
    const count = dynamicSymbolCount(this.view, this.addressMap, this.sections, this.dynamicEntries);
    if (count === undefined) return undefined;
    const offset = this.addressMap.offset(addr, 1, 'DT_SYMTAB');
    return { offset, count };
  }

  /** The .dynstr offsets used by dynamic symbols' names. */
  dynamicSymbolNameOffsets(): number[] {
    const syms = this.dynamicSymbols();
    return syms === undefined ? [] : dynamicSymbolNameOffsets(this.view, syms.offset, syms.count);
  }

  private readInterp(): Interp | undefined {
    const ph = this.programHeaders.find((p) => p.type === PT_INTERP);
    // Separate debug-info files keep PT_INTERP with no bytes behind it.
    if (ph === undefined || ph.filesz === 0) return undefined;
    this.view.check(ph.offset, ph.filesz, 'PT_INTERP');
    const value = this.view.cstring(ph.offset, ph.offset + ph.filesz, 'interpreter path (PT_INTERP)');
    return { offset: ph.offset, vaddr: ph.vaddr, size: ph.filesz, value };
  }

  private readDynstrRegion(): Region | undefined {
    const addr = this.dynValue(DT_STRTAB);
    const size = this.dynValue(DT_STRSZ);
    if (addr === undefined) return undefined;
    if (size === undefined) {
      throw new ElfFormatError('ELF_BAD_DYNAMIC', 'DT_STRTAB is present but DT_STRSZ is missing', {
        hint: 'the file is corrupt',
      });
    }
    const n = Number(size);
    return { offset: this.addressMap.offset(addr, n, '.dynstr (DT_STRTAB)'), vaddr: addr, size: n };
  }

  private findVersionRegion(addrTag: bigint, shType: number): Region | undefined {
    const addr = this.dynValue(addrTag);
    const sec = this.sections.find((s) => s.type === shType);
    if (addr !== undefined) {
      const offset = this.addressMap.offset(addr, 1, `version table 0x${addrTag.toString(16)}`);
      const size = sec !== undefined && sec.addr === addr ? sec.size : 0;
      return { offset, vaddr: addr, size };
    }
    if (sec !== undefined && sec.type !== SHT_NOBITS)
      return { offset: sec.offset, vaddr: sec.addr, size: sec.size };
    return undefined;
  }

  private versionCount(countTag: bigint, shType: number): number {
    const n = this.dynValue(countTag);
    if (n !== undefined) return Number(n);
    return this.sections.find((s) => s.type === shType)?.info ?? 0;
  }

  /** Each note region once (PT_NOTE, else SHT_NOTE), the total capped at MAX_NOTES. */
  private readAllNotes(): Note[] {
    const segs = this.programHeaders.filter((p) => p.type === PT_NOTE);
    const regions =
      segs.length > 0
        ? segs.map((p) => [p.offset, p.filesz, p.align] as const)
        : this.sections
            .filter((s) => s.type === SHT_NOTE)
            .map((s) => [s.offset, s.size, s.addralign] as const);
    const seen = new Set<string>();
    const out: Note[] = [];
    for (const [offset, size, align] of regions) {
      const key = `${offset}:${size}:${align === 8 ? 8 : 4}`;
      if (seen.has(key)) continue;
      seen.add(key);
      for (const n of readNotes(this.view, offset, size, align, MAX_NOTES - out.length)) out.push(n);
    }
    return out;
  }
}

import { DF_1_PIE, DT_FLAGS_1, DT_STRING_TAGS, ET_DYN, PT_INTERP } from '../elf/format/constants.js';
import {
  DF_1_BITS,
  DF_BITS,
  dynamicTagName,
  fileTypeName,
  machineName,
  noteTypeName,
  osAbiName,
  SECTION_FLAG_BITS,
  SEGMENT_FLAG_BITS,
  sectionTypeName,
  segmentTypeName,
} from '../elf/format/names.js';
import { describeNote, type GnuProperty } from '../elf/read/describe.js';
import { ElfFile } from '../elf/read/index.js';
import { ElfFormatError, UsageError } from '../errors/index.js';
import { NOTE_OWNER, NT_CALD_INTERP } from '../runtime/loader.js';
import { scriptRefs } from '../runtime/shebang.js';
import { toText } from '../util/elf-string.js';
import { readInputFile } from '../util/input-file.js';

export interface InspectOptions {
  /** The file to read. */
  path: string;
}

/** A number and, when cald knows one, its <elf.h> name and a short description. */
export interface Named {
  value: number;
  /** The <elf.h> constant (EM_X86_64, ET_DYN...), or null when cald has no name for the value. */
  name: string | null;
  description: string | null;
}

export interface SegmentReport {
  index: number;
  /** PT_LOAD...; or the value in hex when cald has no name for it. */
  type: string;
  typeValue: number;
  /** PF_R, PF_W, PF_X (and unknown bits in hex). */
  flags: string[];
  flagsValue: number;
  offset: number;
  /** Addresses in hex: they may use all 64 bits, more than a JSON number holds. */
  vaddr: string;
  paddr: string;
  filesz: number;
  memsz: number;
  align: number;
}

export interface SectionReport {
  index: number;
  name: string;
  /** SHT_PROGBITS...; or the value in hex. */
  type: string;
  typeValue: number;
  /** SHF_ALLOC... (unknown bits in hex). */
  flags: string[];
  /** sh_flags in hex. */
  flagsValue: string;
  /** In hex, as vaddr. */
  addr: string;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface DynamicEntryReport {
  /** DT_NEEDED...; or the tag in hex. */
  tag: string;
  /** The tag in hex (tags can be any 64-bit value). */
  tagValue: string;
  /** d_val / d_ptr in hex. */
  value: string;
  /** For tags whose value is a .dynstr offset (DT_NEEDED, DT_RPATH...): the string. */
  string?: string;
  /** For DT_FLAGS and DT_FLAGS_1: the bits set, by name. */
  flags?: string[];
}

export interface VersionNeedReport {
  /** vn_file: the DT_NEEDED name this record belongs to. */
  file: string;
  version: number;
  versions: Array<{ name: string; index: number; hash: number; flags: number; weak: boolean }>;
}

export interface VersionDefReport {
  index: number;
  flags: number;
  /** True for the file's own base version (VER_FLG_BASE): its soname. */
  base: boolean;
  weak: boolean;
  hash: number;
  name: string;
  /** vd_aux entries after the first: the versions this one inherits from. */
  parents: string[];
}

export interface NoteReport {
  /** The owner name ("GNU", "stapsdt"...). */
  owner: string;
  typeValue: number;
  /** NT_GNU_BUILD_ID...; or null when cald has no name for this owner and type. */
  type: string | null;
  offset: number;
  /** The descriptor in hex. */
  desc: string;
  buildId?: string;
  abiTag?: { os: string; version: string };
  properties?: GnuProperty[];
  /** Set when a property note's contents run past its descriptor. */
  malformed?: boolean;
  /** Text notes (gold version, Go build ID, FDO package metadata; cald's NT_CALD_INTERP: the loader's digest). */
  text?: string;
}

export interface InspectReport {
  path: string;
  /** The file's size in bytes. */
  size: number;
  class: 'ELF32' | 'ELF64';
  byteOrder: 'little-endian' | 'big-endian';
  osAbi: Named;
  abiVersion: number;
  machine: Named;
  type: Named;
  /**
   * A position-independent executable: ET_DYN with DF_1_PIE, or with an interpreter and no soname
   * (libc.so.6 has an interpreter too, but it is first of all a library).
   */
  pie: boolean;
  /** e_entry in hex. */
  entry: string;
  /** e_flags (machine-specific) in hex. */
  flags: string;
  interpreter: string | null;
  needed: string[];
  rpath: string | null;
  runpath: string | null;
  soname: string | null;
  buildId: string | null;
  /** How many entries .dynsym has, when the file says (null when it has no dynamic symbols). */
  dynamicSymbols: number | null;
  versionNeeds: VersionNeedReport[];
  versionDefs: VersionDefReport[];
  notes: NoteReport[];
  segments: SegmentReport[];
  sections: SectionReport[];
  /** The dynamic entries before DT_NULL, in file order; empty for a static file. */
  dynamic: DynamicEntryReport[];
}

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

function named(value: number, found: { constant: string; description: string } | undefined): Named {
  return { value, name: found?.constant ?? null, description: found?.description ?? null };
}

function bitNames<T extends number | bigint>(
  value: T,
  bits: ReadonlyArray<readonly [T, string, ...string[]]>,
): string[] {
  const out: string[] = [];
  let rest = BigInt(value);
  for (const [bit, name] of bits) {
    const b = BigInt(bit);
    if ((rest & b) !== 0n) {
      out.push(name);
      rest &= ~b;
    }
  }
  if (rest !== 0n) out.push(hex(rest));
  return out;
}

/**
 * Reads an ELF file and reports everything cald knows about it. Throws IoError when the file
 * cannot be read and ElfFormatError when it is not a well-formed ELF file.
 */
export async function inspect(options: InspectOptions): Promise<InspectReport> {
  const { path } = options;
  if (typeof path !== 'string' || path === '') {
    throw new UsageError('inspect: `path` must be a non-empty string');
  }
  return inspectBuffer(readInputFile(path), path);
}

/** The same report for bytes already in memory; `path` is only reported. */
export function inspectBuffer(buf: Buffer, path: string): InspectReport {
  const script = scriptRefs(buf)[0];
  if (script !== undefined) {
    // Said plainly rather than as a missing ELF magic (docs/scripts.md).
    throw new ElfFormatError('ELF_NOT_ELF', `${path} is a #!cas: script running ${script}, not an ELF file`, {
      hint: 'cald ldd SCRIPT shows its interpreter and libraries',
      data: { path, interpreter: script },
    });
  }
  const elf = ElfFile.parse(buf);
  return buildReport(elf, path);
}

function buildReport(elf: ElfFile, path: string): InspectReport {
  const h = elf.header;
  const machine = h.machine;
  const dynamic = elf.dynamicEntries.map((e): DynamicEntryReport => {
    const name = dynamicTagName(e.tag, machine);
    const entry: DynamicEntryReport = { tag: name ?? hex(e.tag), tagValue: hex(e.tag), value: hex(e.value) };
    if (DT_STRING_TAGS.has(e.tag)) entry.string = toText(elf.dynString(e.value, name ?? hex(e.tag)));
    if (name === 'DT_FLAGS') entry.flags = bitNames(e.value, DF_BITS);
    if (name === 'DT_FLAGS_1') entry.flags = bitNames(e.value, DF_1_BITS);
    return entry;
  });
  const notes = elf.notes.map((n): NoteReport => {
    const report: NoteReport = {
      owner: toText(n.name),
      typeValue: n.type,
      type: noteTypeName(n.name, n.type) ?? null,
      offset: n.offset,
      desc: n.desc.toString('hex'),
    };
    if (report.owner === NOTE_OWNER && n.type === NT_CALD_INTERP) {
      // cald's own note: the digest of the loader the program was imported with (docs/running.md).
      report.type = 'NT_CALD_INTERP';
      report.text = n.desc.toString('latin1').replace(/\0+$/, '');
      return report;
    }
    const c = describeNote(n, h.littleEndian, h.is64);
    if (c.kind === 'build-id') report.buildId = c.buildId;
    else if (c.kind === 'abi-tag') report.abiTag = { os: c.os, version: c.version };
    else if (c.kind === 'gnu-property') {
      report.properties = c.properties;
      if (c.malformed) report.malformed = true;
    } else if (c.kind === 'text') report.text = c.text;
    return report;
  });
  const hasInterp = elf.programHeaders.some((p) => p.type === PT_INTERP);
  const flags1 = elf.dynValue(DT_FLAGS_1) ?? 0n;
  const optional = (s: string | undefined): string | null => (s === undefined ? null : toText(s));
  return {
    path,
    size: elf.buf.length,
    class: h.is64 ? 'ELF64' : 'ELF32',
    byteOrder: h.littleEndian ? 'little-endian' : 'big-endian',
    osAbi: named(h.osabi, osAbiName(h.osabi)),
    abiVersion: h.abiversion,
    machine: named(machine, machineName(machine)),
    type: named(h.type, fileTypeName(h.type)),
    pie: h.type === ET_DYN && ((flags1 & DF_1_PIE) !== 0n || (hasInterp && elf.soname === undefined)),
    entry: hex(h.entry),
    flags: hex(h.flags),
    interpreter: optional(elf.interp?.value),
    needed: elf.needed.map(toText),
    rpath: optional(elf.rpath),
    runpath: optional(elf.runpath),
    soname: optional(elf.soname),
    buildId: notes.find((n) => n.buildId !== undefined)?.buildId ?? null,
    dynamicSymbols: elf.dynamicSymbols()?.count ?? null,
    versionNeeds: elf.versionNeeds.map((v) => ({
      file: toText(v.file),
      version: v.version,
      versions: v.entries.map((a) => ({
        name: toText(a.name),
        index: a.other & 0x7fff,
        hash: a.hash,
        flags: a.flags,
        weak: (a.flags & 2) !== 0,
      })),
    })),
    versionDefs: elf.versionDefs.map((d) => ({
      index: d.index,
      flags: d.flags,
      base: (d.flags & 1) !== 0,
      weak: (d.flags & 2) !== 0,
      hash: d.hash,
      name: d.names[0] === undefined ? '' : toText(d.names[0]),
      parents: d.names.slice(1).map(toText),
    })),
    notes,
    segments: elf.programHeaders.map((p) => ({
      index: p.index,
      type: segmentTypeName(p.type, machine) ?? hex(p.type),
      typeValue: p.type,
      flags: bitNames(p.flags, SEGMENT_FLAG_BITS),
      flagsValue: p.flags,
      offset: p.offset,
      vaddr: hex(p.vaddr),
      paddr: hex(p.paddr),
      filesz: p.filesz,
      memsz: p.memsz,
      align: p.align,
    })),
    sections: elf.sections.map((s) => ({
      index: s.index,
      name: toText(s.name),
      type: sectionTypeName(s.type, machine) ?? hex(s.type),
      typeValue: s.type,
      flags: bitNames(s.flags, SECTION_FLAG_BITS),
      flagsValue: hex(s.flags),
      addr: hex(s.addr),
      offset: s.offset,
      size: s.size,
      link: s.link,
      info: s.info,
      addralign: s.addralign,
      entsize: s.entsize,
    })),
    dynamic,
  };
}

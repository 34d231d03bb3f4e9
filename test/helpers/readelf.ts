// An oracle independent of cald's own ELF reader: GNU readelf and eu-elflint, parsed.
// Tests compare what cald reads or writes against what these tools report.
import { isElfFile } from './elf-files.js';
import { run, runOk } from './run.js';

export interface DynamicInfo {
  /** False when readelf says "There is no dynamic section in this file." (or printed nothing). */
  hasDynamic: boolean;
  needed: string[];
  soname: string | null;
  rpath: string | null;
  runpath: string | null;
  /** Every entry's tag name as readelf prints it (NEEDED, RELR, VERNEED, FLAGS_1...), in table order. */
  tags: string[];
  /** readelf's "Error:"/"Warning:" lines for this file (batch mode only; readelfDynamic throws instead). */
  errors: string[];
}

// The value is everything between the first "[" after the label and the last "]" on the line, so names
// holding spaces or brackets survive. readelf -W never wraps these lines.
const TAG_LINE = /^\s*0x[0-9a-fA-F]+ \(([^)]+)\)/;
const DYN_LINE =
  /^\s*0x[0-9a-fA-F]+ \((NEEDED|SONAME|RPATH|RUNPATH)\)\s+(?:Shared library|Library soname|Library rpath|Library runpath): \[(.*)\]$/;

/** Parses the output of `readelf -d -W` for one file. */
export function parseDynamic(text: string): DynamicInfo {
  const info: DynamicInfo = {
    hasDynamic: false,
    needed: [],
    soname: null,
    rpath: null,
    runpath: null,
    tags: [],
    errors: [],
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('Dynamic section at offset')) info.hasDynamic = true;
    if (/(?:Warning|Error):/.test(line)) info.errors.push(line.replace(/^readelf: /, ''));
    const tag = TAG_LINE.exec(line);
    if (tag) info.tags.push(tag[1] ?? '');
    const m = DYN_LINE.exec(line);
    if (!m) continue;
    const value = m[2] ?? '';
    switch (m[1]) {
      case 'NEEDED':
        info.needed.push(value);
        break;
      case 'SONAME':
        info.soname = value;
        break;
      case 'RPATH':
        info.rpath = value;
        break;
      case 'RUNPATH':
        info.runpath = value;
        break;
    }
  }
  return info;
}

export function readelfDynamic(file: string): DynamicInfo {
  return parseDynamic(runOk('readelf', ['-d', '-W', '--', file]).stdout);
}

// readelf flushes stdout before each message it writes to stderr, so with 2>&1 on one pipe its
// errors land inside the section of the file they are about.
function readelfMerged(args: readonly string[], files: readonly string[]): string {
  return run('sh', ['-c', 'exec readelf "$@" 2>&1', 'sh', ...args, '--', ...files]).stdout;
}

/** Splits the output of readelf run on several files at its "File: <name>" headers, in input order. */
export function splitByFile(text: string, files: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | null = null;
  let next = 0;
  let chunk: string[] = [];
  const flush = () => {
    if (current !== null) out.set(current, chunk.join('\n'));
    chunk = [];
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('File: ')) {
      const name = line.slice(6);
      // Only a header naming a file still to come counts: readelf may skip a file it cannot open.
      const at = files.indexOf(name, next);
      if (at >= 0) {
        flush();
        current = name;
        next = at + 1;
        continue;
      }
    }
    chunk.push(line);
  }
  flush();
  return out;
}

/**
 * readelf -d for many files with one readelf process per `chunkSize` files. Files that are not ELF are
 * left out of the readelf run (readelf reports those before any "File:" header, so the message would
 * land in the previous file's part) and get an error of their own.
 */
export function readelfDynamicMany(files: readonly string[], chunkSize = 500): Map<string, DynamicInfo> {
  const result = new Map<string, DynamicInfo>();
  const elf: string[] = [];
  for (const f of files) {
    if (isElfFile(f)) elf.push(f);
    else result.set(f, { ...parseDynamic(''), errors: ['not an ELF file, or cannot be opened'] });
  }
  for (let i = 0; i < elf.length; i += chunkSize) {
    const chunk = elf.slice(i, i + chunkSize);
    const text = readelfMerged(['-d', '-W'], chunk);
    // readelf prints no "File:" header when given a single file.
    const parts = chunk.length === 1 ? new Map([[chunk[0]!, text]]) : splitByFile(text, chunk);
    for (const f of chunk) {
      const part = parts.get(f);
      result.set(
        f,
        part === undefined
          ? { ...parseDynamic(''), errors: ['readelf printed nothing for this file'] }
          : parseDynamic(part),
      );
    }
  }
  // In the order given, whatever the order of the runs.
  return new Map(files.map((f) => [f, result.get(f)!]));
}

/** The PT_INTERP string, or null when there is none. */
export function readelfInterp(file: string): string | null {
  const m = /\[Requesting program interpreter: (.*)\]$/m.exec(
    runOk('readelf', ['-l', '-W', '--', file]).stdout,
  );
  return m ? (m[1] ?? '') : null;
}

export interface Segment {
  /** LOAD, DYNAMIC, INTERP, GNU_RELRO, TLS... as readelf prints it. */
  type: string;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  /** "R E", "RW ", "R  " trimmed: "R E", "RW", "R". */
  flags: string;
  align: number;
}

const PHDR_LINE =
  /^\s+(\S.*?)\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) ([RWE ]{3}) (0x[0-9a-f]+)$/;

/** Parses the program header table of `readelf -l -W`. */
export function parseSegments(text: string): Segment[] {
  const segs: Segment[] = [];
  for (const line of text.split('\n')) {
    const m = PHDR_LINE.exec(line);
    if (!m) continue;
    const n = (i: number) => Number.parseInt(m[i] ?? '', 16);
    segs.push({
      type: m[1] ?? '',
      offset: n(2),
      vaddr: n(3),
      filesz: n(5),
      memsz: n(6),
      flags: (m[7] ?? '').trim(),
      align: n(8),
    });
  }
  return segs;
}

export function readelfSegments(file: string): Segment[] {
  return parseSegments(runOk('readelf', ['-l', '-W', '--', file]).stdout);
}

export interface VersionNeed {
  /** vn_file: must equal a DT_NEEDED string (see docs on _dl_check_map_versions). */
  file: string;
  names: string[];
}

/** The .gnu.version_r entries `readelf -V -W` prints, in file order. */
export function parseVersionNeeds(text: string): VersionNeed[] {
  const needs: VersionNeed[] = [];
  let inside = false;
  for (const line of text.split('\n')) {
    if (/^Version \S+ section/.test(line)) inside = line.startsWith('Version needs section');
    if (!inside) continue;
    const file = /^\s*(?:0x)?[0-9a-f]+:\s+Version: \d+\s+File: (.*?)\s+Cnt: \d+$/.exec(line);
    if (file) {
      needs.push({ file: file[1] ?? '', names: [] });
      continue;
    }
    const name = /^\s*(?:0x)?[0-9a-f]+:\s+Name: (.*?)\s+Flags: /.exec(line);
    if (name) needs.at(-1)?.names.push(name[1] ?? '');
  }
  return needs;
}

export function readelfVersionNeeds(file: string): VersionNeed[] {
  return parseVersionNeeds(runOk('readelf', ['-V', '-W', '--', file]).stdout);
}

export interface HeaderInfo {
  class: string;
  data: 'little' | 'big' | 'none';
  machine: string;
  /** DYN, EXEC, REL, CORE... */
  type: string;
  typeText: string;
}

export function parseHeader(text: string): HeaderInfo {
  const field = (name: string) => new RegExp(`^\\s*${name}:\\s+(.*?)\\s*$`, 'm').exec(text)?.[1] ?? '';
  const dataText = field('Data');
  const typeText = field('Type');
  return {
    class: field('Class'),
    data: dataText.includes('little endian') ? 'little' : dataText.includes('big endian') ? 'big' : 'none',
    machine: field('Machine'),
    type: typeText.split(' ')[0] ?? '',
    typeText,
  };
}

export function readelfHeader(file: string): HeaderInfo {
  return parseHeader(runOk('readelf', ['-h', '-W', '--', file]).stdout);
}

/** Replaces the file's path in a message so messages about copies at different paths compare equal. */
function normalize(line: string, file: string): string {
  return line.split(file).join('<file>').trim();
}

/** The "Warning:"/"Error:" lines of `readelf -a -W` (stdout and stderr, in order), without "readelf: ". */
export function readelfWarnings(file: string): string[] {
  return readelfMerged(['-a', '-W'], [file])
    .split('\n')
    .filter((l) => l.includes('Warning:') || l.includes('Error:'))
    .map((l) => normalize(l.replace(/^readelf: /, ''), file));
}

/** The messages of `eu-elflint --gnu-ld` ("No errors" removed: an empty list means a clean file). */
export function elflint(file: string): string[] {
  const r = run('eu-elflint', ['--gnu-ld', '--', file]);
  if (r.error || r.status === null) throw new Error(`eu-elflint ${file}: ${r.error ?? r.signal}`);
  return `${r.stdout}\n${r.stderr}`
    .split('\n')
    .map((l) => normalize(l, file))
    .filter((l) => l !== '' && l !== 'No errors');
}

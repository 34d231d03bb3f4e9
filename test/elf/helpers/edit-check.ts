// Shared checks for the ELF edit tests: long content-addressed names, editing files on disk, and
// an independent view of the result (readelf, eu-elflint) compared against the unedited file.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import type { EditOptions, ElfEdit } from '../../../src/elf/edit/index.js';
import { editElf } from '../../../src/elf/edit/index.js';
import { ElfFile } from '../../../src/elf/read/index.js';
import {
  elflint,
  readelfDynamic,
  readelfInterp,
  readelfVersionNeeds,
  readelfWarnings,
  type Segment,
} from '../../helpers/readelf.js';
import { runOk } from '../../helpers/run.js';
import { assertWrittenCovers } from './written-ranges.js';

export const DT_NEEDED = 1n;
export const DT_SONAME = 14n;
export const DT_DEBUG = 21n;
export const DT_AUDIT = 0x6ffffefcn;
export const DT_DEPAUDIT = 0x6ffffefbn;

/** A content-addressed style name over 100 bytes, with no '/' or '$': `cas:sha256:<64 hex>?name=<orig>`. */
export function casName(orig: string, salt = ''): string {
  const hex = createHash('sha256').update(`${salt}\0${orig}`).digest('hex');
  return `cas:sha256:${hex}?name=${orig}`;
}

/** What a file says, read with cald's own reader (used only to decide which edits to make). */
export function dynamicStrings(buf: Buffer): {
  needed: string[];
  soname: string | undefined;
  interp: string | undefined;
} {
  const elf = ElfFile.parse(buf);
  const needed: string[] = [];
  let soname: string | undefined;
  for (const e of elf.dynamicEntries) {
    if (e.tag === DT_NEEDED) needed.push(elf.dynString(e.value));
    if (e.tag === DT_SONAME) soname = elf.dynString(e.value);
  }
  return { needed, soname, interp: elf.interp?.value };
}

/** Reads `file`, edits it, writes it back in place (mode kept). */
export function editFile(file: string, edits: readonly ElfEdit[], options: EditOptions = {}) {
  const mode = statSync(file).mode;
  const input = readFileSync(file);
  const r = editElf(input, edits, options);
  assertWrittenCovers(input, r);
  if (r.changed) {
    writeFileSync(file, r.buffer);
    chmodSync(file, mode);
  }
  return r;
}

/** Copies `from` to `to` (a file), writable. */
export function copyWritable(from: string, to: string): string {
  copyFileSync(from, to);
  chmodSync(to, statSync(to).mode | 0o200);
  return to;
}

/** Makes `dir` (created) hold a symlink named `name` to `target` for every pair. */
export function linkDir(dir: string, links: ReadonlyArray<readonly [name: string, target: string]>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, target] of links) symlinkSync(target, join(dir, name));
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Layout as readelf sees it: sections, segments and readelf's section-to-segment mapping.

export interface SectionRow {
  index: number;
  name: string;
  type: string;
  addr: number;
  offset: number;
  size: number;
  flags: string;
}

export interface Layout {
  sections: SectionRow[];
  segments: Segment[];
  /** For each segment, in table order, the section names readelf maps into it. */
  mapping: string[][];
  phoff: number;
  fileSize: number;
}

const SECTION_LINE =
  /^\s*\[\s*(\d+)\]\s+(\S*)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([A-Za-z]*)\s+\d+\s+\d+\s+\d+$/;
const PHDR_LINE =
  /^\s+(\S.*?)\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) ([RWE ]{3}) (0x[0-9a-f]+|\d+)$/;

export function readLayout(file: string): Layout {
  const text = runOk('readelf', ['-h', '-S', '-l', '-W', '--', file]).stdout;
  const sections: SectionRow[] = [];
  const segments: Segment[] = [];
  const mapping: string[][] = [];
  let inMapping = false;
  let phoff = 0;
  for (const line of text.split('\n')) {
    const ph = /Start of program headers:\s+(\d+)/.exec(line);
    if (ph) phoff = Number(ph[1]);
    if (line.includes('Section to Segment mapping')) {
      inMapping = true;
      continue;
    }
    if (inMapping) {
      const m = /^\s+(\d{2,})\s?(.*)$/.exec(line);
      if (m) mapping[Number(m[1])] = (m[2] ?? '').trim().split(/\s+/).filter(Boolean);
      continue;
    }
    const s = SECTION_LINE.exec(line);
    if (s) {
      sections.push({
        index: Number(s[1]),
        name: s[2] ?? '',
        type: s[3] ?? '',
        addr: Number.parseInt(s[4] ?? '', 16),
        offset: Number.parseInt(s[5] ?? '', 16),
        size: Number.parseInt(s[6] ?? '', 16),
        flags: s[7] ?? '',
      });
      continue;
    }
    const p = PHDR_LINE.exec(line);
    if (p) {
      const n = (i: number) => Number.parseInt(p[i] ?? '', 16);
      segments.push({
        type: p[1] ?? '',
        offset: n(2),
        vaddr: n(3),
        filesz: n(5),
        memsz: n(6),
        flags: (p[7] ?? '').trim(),
        align: n(8),
      });
    }
  }
  return { sections, segments, mapping, phoff, fileSize: statSync(file).size };
}

/** Segment keys "LOAD#2": the type and its rank among segments of that type (stable when a PT_LOAD is appended). */
function segmentKeys(l: Layout): string[] {
  const seen = new Map<string, number>();
  return l.segments.map((s) => {
    const k = seen.get(s.type) ?? 0;
    seen.set(s.type, k + 1);
    return `${s.type}#${k}`;
  });
}

function sectionHomes(l: Layout): Map<string, Set<string>> {
  const keys = segmentKeys(l);
  const homes = new Map<string, Set<string>>();
  l.mapping.forEach((names, i) => {
    for (const n of names) {
      const set = homes.get(n) ?? new Set<string>();
      set.add(keys[i] ?? `?${i}`);
      homes.set(n, set);
    }
  });
  return homes;
}

/** The tables an edit may move into the appended segment. */
const MOVABLE = new Set(['.dynstr', '.dynamic', '.interp']);
/**
 * The tables that may slide up inside their own segment, so that .dynstr before them grows in
 * place (elf/edit/dynstr-slide.ts): address and offset move alike, the segments stay the same.
 */
const SLIDING = new Set([
  '.gnu.version',
  '.gnu.version_d',
  '.gnu.version_r',
  '.rela.dyn',
  '.rela.plt',
  '.rel.dyn',
  '.rel.plt',
  '.relr.dyn',
]);

/**
 * Alloc sections that fell out of a segment they were in, or moved when they must not.
 * A section that kept its address must be in exactly the same segments; one that moved
 * (only .dynstr, .dynamic, .interp may) must be in a PT_LOAD and in the DYNAMIC/INTERP segment it was in;
 * a version or relocation table that slid up in its segment must stay in the same segments.
 */
export function sectionProblems(before: Layout, after: Layout): string[] {
  const problems: string[] = [];
  const h0 = sectionHomes(before);
  const h1 = sectionHomes(after);
  for (const s0 of before.sections) {
    if (!s0.flags.includes('A') || s0.size === 0) continue;
    const s1 = after.sections.find((s) => s.index === s0.index);
    if (s1 === undefined) {
      problems.push(`section ${s0.name} disappeared`);
      continue;
    }
    const a = h0.get(s0.name) ?? new Set<string>();
    const b = h1.get(s1.name) ?? new Set<string>();
    const moved = s1.addr !== s0.addr || s1.offset !== s0.offset;
    const slid = SLIDING.has(s0.name) && s1.addr - s0.addr === s1.offset - s0.offset;
    if (!moved || slid) {
      if ([...a].sort().join() !== [...b].sort().join())
        problems.push(`${s0.name} was in [${[...a].join(' ')}], now in [${[...b].join(' ')}]`);
      continue;
    }
    if (!MOVABLE.has(s0.name))
      problems.push(`${s0.name} moved (0x${s0.addr.toString(16)} -> 0x${s1.addr.toString(16)})`);
    if (![...b].some((k) => k.startsWith('LOAD#'))) problems.push(`${s0.name} moved out of every PT_LOAD`);
    for (const k of a)
      if ((k.startsWith('DYNAMIC#') || k.startsWith('INTERP#')) && !b.has(k))
        problems.push(`${s0.name} moved out of ${k}`);
  }
  return problems;
}

/**
 * Program header coherence: PT_PHDR at e_phoff and inside a PT_LOAD at the matching address,
 * PT_INTERP/PT_DYNAMIC inside a PT_LOAD, PT_LOAD congruent (offset = vaddr mod align), sorted by
 * address, not overlapping in memory or in 4 KiB pages, inside the file.
 */
export function headerProblems(l: Layout): string[] {
  const problems: string[] = [];
  const loads = l.segments.filter((s) => s.type === 'LOAD');
  const inLoad = (s: Segment) =>
    loads.some(
      (p) =>
        s.offset >= p.offset &&
        s.offset + s.filesz <= p.offset + p.filesz &&
        s.vaddr - p.vaddr === s.offset - p.offset,
    );
  for (const p of loads) {
    if (p.align > 1 && p.offset % p.align !== p.vaddr % p.align)
      problems.push(
        `PT_LOAD at 0x${p.offset.toString(16)}: offset and vaddr differ modulo align 0x${p.align.toString(16)}`,
      );
    if (p.filesz > p.memsz) problems.push(`PT_LOAD at 0x${p.offset.toString(16)}: filesz > memsz`);
    if (p.offset + p.filesz > l.fileSize)
      problems.push(`PT_LOAD at 0x${p.offset.toString(16)} ends past the file`);
  }
  for (let i = 1; i < loads.length; i++) {
    const a = loads[i - 1]!;
    const b = loads[i]!;
    if (b.vaddr < a.vaddr) problems.push('PT_LOADs not sorted by vaddr');
    if (a.vaddr + a.memsz > b.vaddr) problems.push(`PT_LOADs overlap in memory at 0x${b.vaddr.toString(16)}`);
    const page = 0x1000;
    if (Math.ceil((a.vaddr + a.memsz) / page) > Math.floor(b.vaddr / page))
      problems.push(`PT_LOADs share a page at 0x${b.vaddr.toString(16)}`);
  }
  const phdr = l.segments.find((s) => s.type === 'PHDR');
  if (phdr !== undefined) {
    if (phdr.offset !== l.phoff) problems.push('PT_PHDR offset is not e_phoff');
    if (!inLoad(phdr)) problems.push('PT_PHDR is not inside a PT_LOAD');
    const first = loads[0];
    const program = l.segments.some((s) => s.type === 'INTERP');
    // Only for programs: Linux before 5.18 computes AT_PHDR as first PT_LOAD's (vaddr - offset) + e_phoff.
    if (program && first !== undefined && first.vaddr - first.offset + l.phoff !== phdr.vaddr)
      problems.push('AT_PHDR as old kernels compute it does not match PT_PHDR');
  }
  for (const t of ['INTERP', 'DYNAMIC']) {
    const s = l.segments.find((x) => x.type === t);
    if (s !== undefined && !inLoad(s)) problems.push(`PT_${t} is not inside a PT_LOAD`);
  }
  return problems;
}

/** Items of `after` not in `before` (as multisets). */
export function newItems(before: readonly string[], after: readonly string[]): string[] {
  const left = [...before];
  const out: string[] = [];
  for (const x of after) {
    const i = left.indexOf(x);
    if (i >= 0) left.splice(i, 1);
    else out.push(x);
  }
  return out;
}

/** What the unedited file already does wrong, so an edited file is only blamed for what it added. */
export interface Baseline {
  lint: string[];
  warnings: string[];
  headers: string[];
  layout: Layout;
}

export function baseline(file: string, opts: { lint?: boolean } = {}): Baseline {
  const layout = readLayout(file);
  return {
    lint: opts.lint === false ? [] : elflint(file),
    warnings: readelfWarnings(file),
    headers: headerProblems(layout),
    layout,
  };
}

// eu-elflint names addresses and offsets; those of moved tables change with the edit, so a message
// is compared with its numbers masked.
function maskNumbers(s: string): string {
  return s.replace(/0x[0-9a-f]+/gi, '0x#').replace(/\b\d+\b/g, '#');
}

/**
 * eu-elflint messages that are wrong about the file: it takes DT_AUDIT (in the DT_ADDRRNG range, but a
 * string offset) for an address; GNU ld's own `-Wl,--audit=` output gets the same message.
 */
const LINT_FALSE_POSITIVES = [/AUDIT value must point into loaded segment/];

/**
 * Known engine issues (reported; see docs/elf-engine.md), each with the eu-elflint message it causes.
 * A test that finds only these is marked TODO instead of failing; anything else fails it.
 */
export const KNOWN_LINT_BUGS: ReadonlyArray<{ re: RegExp; why: string }> = [
  // Empty: every engine issue these tests found is fixed (docs/elf-engine.md). A new one is listed
  // here with its cause, so its test is reported as todo rather than hidden.
];

export interface Expect {
  needed?: string[];
  soname?: string | null;
  rpath?: string | null;
  runpath?: string | null;
  interp?: string | null;
}

/**
 * Asserts that the edited `file` reads back as `want` says (readelf), that readelf and eu-elflint
 * report nothing the unedited file did not, that every vn_file names a DT_NEEDED, that no section
 * fell out of its segment and the program headers stay coherent.
 */
export function checkEdited(
  file: string,
  base: Baseline,
  want: Expect,
  opts: { lint?: boolean } = {},
): string[] {
  const dyn = readelfDynamic(file);
  if (want.needed !== undefined) assert.deepEqual(dyn.needed, want.needed, `${file}: DT_NEEDED`);
  if (want.soname !== undefined) assert.equal(dyn.soname, want.soname, `${file}: DT_SONAME`);
  if (want.rpath !== undefined) assert.equal(dyn.rpath, want.rpath, `${file}: DT_RPATH`);
  if (want.runpath !== undefined) assert.equal(dyn.runpath, want.runpath, `${file}: DT_RUNPATH`);
  if (want.interp !== undefined) assert.equal(readelfInterp(file), want.interp, `${file}: PT_INTERP`);
  assert.deepEqual(newItems(base.warnings, readelfWarnings(file)), [], `${file}: new readelf warnings`);
  for (const v of readelfVersionNeeds(file))
    assert.ok(dyn.needed.includes(v.file), `${file}: vn_file ${v.file} names no DT_NEEDED`);
  const layout = readLayout(file);
  assert.deepEqual(sectionProblems(base.layout, layout), [], `${file}: sections vs segments`);
  assert.deepEqual(newItems(base.headers, headerProblems(layout)), [], `${file}: program headers`);
  if (opts.lint === false) return [];
  const added = newItems(base.lint.map(maskNumbers), elflint(file).map(maskNumbers)).filter(
    (m) => !LINT_FALSE_POSITIVES.some((re) => re.test(m)),
  );
  const known = added.filter((m) => KNOWN_LINT_BUGS.some((k) => k.re.test(m)));
  assert.deepEqual(
    added.filter((m) => !known.includes(m)),
    [],
    `${file}: new eu-elflint messages`,
  );
  return known.map((m) => `${basename(file)}: ${m}`);
}

/** Marks the test TODO (not failed) when the only problems found are known engine issues. */
export function todoIfKnown(t: { todo(msg: string): void }, known: readonly string[]): void {
  if (known.length === 0) return;
  const whys = [
    ...new Set(known.flatMap((m) => KNOWN_LINT_BUGS.filter((k) => k.re.test(m)).map((k) => k.why))),
  ];
  t.todo(`engine bug: ${whys.join('; ')} (${known.length} eu-elflint messages, e.g. ${known[0]})`);
}

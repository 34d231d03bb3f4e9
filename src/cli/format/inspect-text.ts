import type { InspectReport, NoteReport, SegmentReport } from '../../api/index.js';
import type { Colors } from '../io.js';
import { formatTree, splitName } from './name-tree.js';

/** PT_LOAD → LOAD: in a column already titled "type" the prefix is noise. */
const short = (name: string): string => name.replace(/^(?:PT|SHT|DT|ET|EM|NT|ELFOSABI)_/, '');
const hex = (n: number): string => `0x${n.toString(16)}`;

function kindOf(r: InspectReport): string {
  const t = r.type.name;
  if (t === 'ET_DYN') return r.pie ? 'position-independent executable' : 'shared object';
  if (t === 'ET_EXEC') return 'executable';
  return r.type.description ?? `file type ${hex(r.type.value)}`;
}

function headline(r: InspectReport): string {
  const machine = r.machine.description ?? `machine ${r.machine.value}`;
  const abi = r.osAbi.value === 0 ? '' : `, OS ABI ${r.osAbi.description ?? r.osAbi.value}`;
  return `${r.class} ${r.byteOrder} ${machine} ${kindOf(r)} (${r.type.name ?? hex(r.type.value)})${abi}`;
}

function propertyLine(n: NoteReport): string[] {
  return (n.properties ?? []).map((p) => {
    const name = p.name?.replace(/^GNU_PROPERTY_/, '') ?? hex(p.type);
    return `${name}: ${p.bits === undefined ? `0x${p.data}` : p.bits.join(', ') || 'none'}`;
  });
}

function otherNotes(notes: readonly NoteReport[]): string[] {
  const counts = new Map<string, number>();
  for (const n of notes) {
    if (n.buildId !== undefined || n.abiTag !== undefined || n.properties !== undefined) continue;
    if (n.type === 'NT_CALD_INTERP') continue;
    const key = `${n.owner} ${n.type === null ? `type ${n.typeValue}` : short(n.type)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, count]) => (count > 1 ? `${k} (x${count})` : k));
}

function segmentTable(segments: readonly SegmentReport[], c: Colors): string[] {
  const rows = segments.map((s) => [
    short(s.type),
    hex(s.offset),
    s.vaddr,
    hex(s.filesz),
    hex(s.memsz),
    ['R', 'W', 'X'].map((f) => (s.flags.includes(`PF_${f}`) ? f : ' ')).join(''),
    hex(s.align),
  ]);
  const head = ['type', 'offset', 'vaddr', 'filesz', 'memsz', 'flg', 'align'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    `    ${cells
      .map((cell, i) => (i === 0 || i === 5 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()}`;
  return [c.dim(line(head)), ...rows.map(line)];
}

/** A version requirement's file: a cas: name as its hint and short hash (the whole name is in --json). */
function versionFile(file: string, c: Colors): string {
  const { label, digest } = splitName(file);
  return digest === undefined ? file : `${c.bold(label)} ${c.cyan(digest.slice(0, 19))}`;
}

/** The report for a person: the facts that matter first, then the segments. */
export function formatReport(r: InspectReport, c: Colors): string {
  const lines: string[] = [`${c.bold(r.path)}: ${headline(r)}`];
  const field = (label: string, values: readonly string[]) => {
    values.forEach((v, i) => {
      lines.push(`  ${i === 0 ? c.cyan(label.padEnd(12)) : ' '.repeat(12)}  ${v}`);
    });
  };
  if (r.interpreter !== null) field('interpreter', [r.interpreter]);
  if (r.soname !== null) field('soname', [r.soname]);
  // Hint and whole hash side by side, drawn as the file's children (name-tree.ts).
  const needed = formatTree(
    r.needed.map((name, i) => ({ depth: 0, last: i === r.needed.length - 1, name, rest: [] })),
    c,
    { hashChars: 64, plain: '' },
  );
  field('needed', needed.length > 0 ? needed : [c.dim('(none)')]);
  if (r.rpath !== null) field('rpath', [r.rpath]);
  if (r.runpath !== null) field('runpath', [r.runpath]);
  field(
    'versions',
    r.versionNeeds.map(
      (v) =>
        `${versionFile(v.file, c)}: ${v.versions.map((x) => x.name + (x.weak ? ' (weak)' : '')).join(' ')}`,
    ),
  );
  const defs = r.versionDefs.filter((d) => !d.base).map((d) => d.name);
  if (defs.length > 0) field('defines', [defs.join(' ')]);
  if (r.buildId !== null) field('build-id', [r.buildId]);
  for (const n of r.notes)
    if (n.abiTag !== undefined) field('ABI tag', [`${n.abiTag.os} ${n.abiTag.version}`]);
  field('properties', r.notes.flatMap(propertyLine));
  field(
    'cald note',
    r.notes
      .filter((n) => n.type === 'NT_CALD_INTERP')
      .map((n) => `imported with the loader ${n.text ?? n.desc}`),
  );
  field('notes', otherNotes(r.notes));
  field('entry', [r.entry]);
  if (r.flags !== '0x0') field('flags', [r.flags]);
  if (r.dynamicSymbols !== null) field('dynsym', [`${r.dynamicSymbols} symbols`]);
  field('sections', [
    `${r.sections.length}${r.sections.length > 0 ? c.dim(" (listed by 'cald inspect --json')") : ''}`,
  ]);
  if (r.segments.length > 0) {
    lines.push(`  ${c.cyan('segments')}`);
    lines.push(...segmentTable(r.segments, c));
  } else {
    field('segments', [c.dim('(none)')]);
  }
  return `${lines.join('\n')}\n`;
}

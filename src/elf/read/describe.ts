/**
 * Decodes the contents of the notes whose layout is fixed by the GNU toolchain (build ID, ABI tag,
 * program properties). Never throws: a descriptor too short for its type is reported as such,
 * since a note's contents do not affect how the loader maps the file.
 */
import { GNU_ABI_TAG_OS, GNU_PROPERTY_BITS, gnuPropertyName } from '../format/names.js';
import type { Note } from './notes.js';

export interface GnuProperty {
  type: number;
  /** GNU_PROPERTY_X86_FEATURE_1_AND...; undefined for a type cald has no name for. */
  name: string | undefined;
  /** The property's data in hex. */
  data: string;
  /** For the bit-mask properties cald knows: the bits set, by name (unknown bits as hex). */
  bits: string[] | undefined;
}

export type NoteContents =
  | { kind: 'build-id'; buildId: string }
  | { kind: 'abi-tag'; os: string; version: string }
  | { kind: 'gnu-property'; properties: GnuProperty[]; malformed: boolean }
  | { kind: 'text'; text: string }
  | { kind: 'other' };

function u32(b: Buffer, at: number, le: boolean): number {
  return le ? b.readUInt32LE(at) : b.readUInt32BE(at);
}

function bitNames(value: number, bits: ReadonlyArray<readonly [number, string]>): string[] {
  const out: string[] = [];
  let rest = value >>> 0;
  for (const [bit, name] of bits) {
    if ((rest & bit) !== 0) {
      out.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest !== 0) out.push(`0x${rest.toString(16)}`);
  return out;
}

/** The array of properties inside an NT_GNU_PROPERTY_TYPE_0 descriptor. */
function gnuProperties(
  desc: Buffer,
  le: boolean,
  is64: boolean,
): { properties: GnuProperty[]; malformed: boolean } {
  const align = is64 ? 8 : 4;
  const properties: GnuProperty[] = [];
  let at = 0;
  while (at < desc.length) {
    if (at + 8 > desc.length) return { properties, malformed: true };
    const type = u32(desc, at, le);
    const size = u32(desc, at + 4, le);
    const dataAt = at + 8;
    if (dataAt + size > desc.length) return { properties, malformed: true };
    const data = desc.subarray(dataAt, dataAt + size);
    const known = GNU_PROPERTY_BITS.get(type);
    properties.push({
      type,
      name: gnuPropertyName(type),
      data: data.toString('hex'),
      bits: known !== undefined && size === 4 ? bitNames(u32(data, 0, le), known) : undefined,
    });
    at = dataAt + Math.ceil(size / align) * align;
  }
  return { properties, malformed: false };
}

/** What a note says, for the notes whose descriptor cald understands. */
export function describeNote(note: Note, littleEndian: boolean, is64: boolean): NoteContents {
  const { desc } = note;
  if (note.name === 'GNU') {
    if (note.type === 3) return { kind: 'build-id', buildId: desc.toString('hex') };
    if (note.type === 1 && desc.length >= 16) {
      const os = u32(desc, 0, littleEndian);
      const v = [4, 8, 12].map((o) => u32(desc, o, littleEndian)).join('.');
      return { kind: 'abi-tag', os: GNU_ABI_TAG_OS.get(os) ?? `OS ${os}`, version: v };
    }
    if (note.type === 5) return { kind: 'gnu-property', ...gnuProperties(desc, littleEndian, is64) };
    if (note.type === 4) return { kind: 'text', text: textOf(desc) };
  }
  if (note.name === 'Go' && note.type === 4) return { kind: 'text', text: textOf(desc) };
  // systemd's package notes: a JSON document naming the distribution package.
  if (note.name === 'FDO' && note.type === 0xcafe1a7e) return { kind: 'text', text: textOf(desc) };
  return { kind: 'other' };
}

/** A NUL-terminated (or NUL-padded) descriptor as text. */
function textOf(desc: Buffer): string {
  const nul = desc.indexOf(0);
  return desc.toString('utf8', 0, nul < 0 ? desc.length : nul);
}

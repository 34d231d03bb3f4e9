import type { ByteView } from '../../util/byte-view.js';

export interface Note {
  /** File offset of the note header. */
  offset: number;
  name: string;
  type: number;
  desc: Buffer;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * Reads the notes in [offset, offset+size). Notes in an 8-aligned segment (PT_GNU_PROPERTY's
 * .note.gnu.property) pad name and descriptor to 8 bytes; all others to 4.
 * A note that runs past its segment ends the list: the loader ignores the rest as well.
 */
export function readNotes(view: ByteView, offset: number, size: number, alignment: number): Note[] {
  const a = alignment === 8 ? 8 : 4;
  const out: Note[] = [];
  const end = offset + size;
  let at = offset;
  view.check(offset, size, 'note segment');
  while (at + 12 <= end) {
    const namesz = view.u32(at);
    const descsz = view.u32(at + 4);
    const type = view.u32(at + 8);
    const nameAt = at + 12;
    if (namesz > size || descsz > size) break;
    const descAt = at + align(12 + namesz, a);
    if (descAt + descsz > end) break;
    const nameEnd = namesz > 0 && view.buf[nameAt + namesz - 1] === 0 ? nameAt + namesz - 1 : nameAt + namesz;
    out.push({
      offset: at,
      name: view.buf.toString('latin1', nameAt, nameEnd),
      type,
      desc: view.buf.subarray(descAt, descAt + descsz),
    });
    at = at + align(descAt - at + descsz, a);
  }
  return out;
}

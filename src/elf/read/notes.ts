import { ElfFormatError } from '../../errors/index.js';
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
 * The most notes one file may hold. Real programs and libraries have a handful, a core dump a few
 * per thread; more means a crafted file (thousands of PT_NOTE over the same zeros), which would
 * otherwise cost memory without bound.
 */
export const MAX_NOTES = 65_536;

/**
 * Reads the notes in [offset, offset+size). Notes in an 8-aligned segment (PT_GNU_PROPERTY's
 * .note.gnu.property) pad name and descriptor to 8 bytes; all others to 4.
 * A note that runs past its segment ends the list: the loader ignores the rest as well.
 */
export function readNotes(
  view: ByteView,
  offset: number,
  size: number,
  alignment: number,
  max: number = MAX_NOTES,
): Note[] {
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
    if (out.length === max) {
      throw new ElfFormatError('ELF_TOO_MANY_NOTES', `the file holds more than ${MAX_NOTES} notes`, {
        hint: 'real ELF files hold a handful; the file is corrupt or crafted',
      });
    }
    const name = view.bytesAt(nameAt, namesz, 'note name');
    const nameEnd = namesz > 0 && name[namesz - 1] === 0 ? namesz - 1 : namesz;
    out.push({
      offset: at,
      name: name.toString('latin1', 0, nameEnd),
      type,
      desc: view.bytesAt(descAt, descsz, 'note descriptor'),
    });
    at = at + align(descAt - at + descsz, a);
  }
  return out;
}

import type { ByteView } from '../../util/byte-view.js';

const align4 = (n: number) => (n + 3) & ~3;

/** Size of notes encoded with 4-byte padding (the layout every loader and tool reads). */
export function notesSize(notes: ReadonlyArray<{ name: string; desc: Buffer }>): number {
  return notes.reduce((n, x) => n + 12 + align4(x.name.length + 1) + align4(x.desc.length), 0);
}

/** Writes notes at `at`: namesz (with NUL), descsz, type, name, desc, each padded to 4 bytes. */
export function writeNotes(
  view: ByteView,
  at: number,
  notes: ReadonlyArray<{ name: string; type: number; desc: Buffer }>,
): void {
  let o = at;
  for (const n of notes) {
    view.setU32(o, n.name.length + 1);
    view.setU32(o + 4, n.desc.length);
    view.setU32(o + 8, n.type);
    view.writeLatin1(n.name, o + 12);
    view.setU8(o + 12 + n.name.length, 0);
    o += 12 + align4(n.name.length + 1);
    view.copyIn(n.desc, o);
    o += align4(n.desc.length);
  }
}

import { ElfFile } from '../elf/read/index.js';
import { Digest, isCasName } from '../store/index.js';

/** Owner and type of the note in which an imported program records its interpreter's digest. */
export const CALD_NOTE_OWNER = 'cald';
export const NT_CALD_INTERP = 1;

/** The note's descriptor: the interpreter's digest as text (`sha256:<hex>`), no NUL. */
export function interpreterNoteDesc(digest: Digest): Buffer {
  return Buffer.from(digest.toString(), 'latin1');
}

/** The interpreter digest an imported program records, if any. */
export function interpreterDigest(elf: ElfFile): Digest | undefined {
  const note = elf.notes.find((n) => n.name === CALD_NOTE_OWNER && n.type === NT_CALD_INTERP);
  return note === undefined ? undefined : Digest.tryParse(note.desc.toString('latin1'));
}

/**
 * The objects an ELF object refers to, found in its own bytes: its `cas:` DT_NEEDED names and
 * the interpreter it records. This is what lets the index be rebuilt from the objects alone.
 * Non-ELF objects refer to nothing.
 */
export function objectRefs(bytes: Buffer): string[] {
  let elf: ElfFile;
  try {
    elf = ElfFile.parse(bytes);
  } catch {
    return [];
  }
  const refs = elf.needed.filter((n) => isCasName(n));
  const interp = interpreterDigest(elf);
  if (interp !== undefined) refs.push(`cas:${interp.toString()}`);
  return refs;
}

import { ElfFile } from '../elf/read/index.js';
import { interpreterNote, NOTE_OWNER, NT_CALD_INTERP, NT_CALD_PATHS } from '../runtime/index.js';
import { scriptRefs } from '../runtime/shebang.js';
import { auditSentinelTarget, type Digest, isCasName } from '../store/index.js';
import { treeRefs } from '../tree/index.js';

/** Owner and type of the note in which an imported program records its interpreter's digest (runtime reads it). */
export const CALD_NOTE_OWNER = NOTE_OWNER;
export { NT_CALD_INTERP, NT_CALD_PATHS };

/**
 * The tree note of a program imported in a tree (docs/trees.md): where the program and the other
 * ELF files of its tree are, as paths inside the tree. The resolver finds the tree's root from
 * /proc/self/exe and the program's own entries, then loads each listed object from its place in
 * the tree.
 */
export const NT_CALD_TREE = 3;
/** The hex field of the program's own entries: not hex, so never taken for an object. */
export const TREE_SELF = '-'.repeat(64);

/**
 * The tree note's descriptor: entries `<64 hex or 64 '-'><path inside the tree>\0`, the program's
 * own paths first (with '-'), then the others, each group sorted by path.
 */
export function treeNoteDesc(
  selfPaths: readonly string[],
  files: ReadonlyArray<readonly [string, Digest]>,
): Buffer {
  const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const self = [...selfPaths].filter((p) => !p.includes('\0')).sort(byPath);
  const others = [...files].filter(([p]) => !p.includes('\0')).sort(([a], [b]) => byPath(a, b));
  return Buffer.concat([
    ...self.map((p) => Buffer.from(`${TREE_SELF}${p}\0`, 'utf8')),
    ...others.map(([p, d]) => Buffer.from(`${d.hex}${p}\0`, 'utf8')),
  ]);
}

/** The note's descriptor: the interpreter's digest as text (`sha256:<hex>`), no NUL. */
export function interpreterNoteDesc(digest: Digest): Buffer {
  return Buffer.from(digest.toString(), 'latin1');
}

/**
 * The path note's descriptor: for each file imported with a program, its object's hex digits, its
 * original absolute path and a NUL, sorted by path. Paths holding a NUL cannot be written (none do).
 */
export function pathNoteDesc(files: ReadonlyArray<readonly [string, Digest]>): Buffer {
  const sorted = [...files]
    .filter(([p]) => !p.includes('\0'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.concat(sorted.map(([path, d]) => Buffer.from(`${d.hex}${path}\0`, 'utf8')));
}

/** The objects a path note names (`cas:sha256:<hex>` each), in order; a damaged entry names none. */
export function pathNoteRefs(desc: Buffer): string[] {
  const refs: string[] = [];
  for (let at = 0; at + 66 <= desc.length; ) {
    const end = desc.indexOf(0, at + 64);
    if (end < 0) break;
    const hex = desc.toString('latin1', at, at + 64);
    if (/^[0-9a-f]{64}$/.test(hex)) refs.push(`cas:sha256:${hex}`);
    at = end + 1;
  }
  return refs;
}

/**
 * The objects an ELF object refers to, found in its own bytes: its `cas:` DT_NEEDED names (and the
 * one inside an audit sentinel), the interpreter it records and the files its path note names
 * (kept as long as the program is). This is what lets the index be rebuilt from the objects alone.
 * A `#!cas:` script refers to its interpreter. Other objects (and malformed notes) refer to nothing
 * more.
 */
export function objectRefs(bytes: Buffer): string[] {
  const children = treeRefs(bytes);
  if (children !== undefined) return children;
  if (bytes[0] === 0x23) return scriptRefs(bytes);
  let elf: ElfFile;
  try {
    elf = ElfFile.parse(bytes);
  } catch {
    return [];
  }
  const refs = elf.needed.flatMap((n) => {
    const inner = auditSentinelTarget(n); // an --audit program's empty first object
    return inner !== undefined ? [inner] : isCasName(n) ? [n] : [];
  });
  try {
    const interp = interpreterNote(elf);
    if (interp !== undefined) refs.push(`cas:${interp.toString()}`);
  } catch {
    // A malformed note names nothing.
  }
  for (const n of elf.notes)
    if (n.name === NOTE_OWNER && (n.type === NT_CALD_PATHS || n.type === NT_CALD_TREE))
      refs.push(...pathNoteRefs(n.desc));
  return refs;
}

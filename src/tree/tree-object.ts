// The tree object: one directory of a tree, stored like any other object (docs/trees.md).
//
//   object = "cald-tree 1\n" *entry
//   entry  = kind " " value NUL name NUL
//   kind   = "file" / "exec" / "tree" / "link"
//   value  = "sha256:" 64hex " " size      ; file, exec: the file's object and its size in bytes
//          / "sha256:" 64hex               ; tree: the directory's tree object
//          / target                        ; link: 1-4095 bytes, no NUL
//   name   = 1-255 bytes, no NUL, no "/", not "." or ".."
//
// Entries are in strictly increasing bytewise order of name. There is one spelling per tree: a
// parse that re-encodes to different bytes is refused, so equal trees have equal digests.
import { CaldError } from '../errors/index.js';
import { Digest, digestOfBuffer } from '../store/index.js';

export const TREE_MAGIC = 'cald-tree 1\n';
const MAGIC = Buffer.from(TREE_MAGIC, 'latin1');
export const MAX_NAME_BYTES = 255;
export const MAX_TARGET_BYTES = 4095;

export type TreeEntry =
  | {
      readonly kind: 'file';
      readonly name: string;
      readonly digest: Digest;
      readonly size: number;
      readonly executable: boolean;
    }
  | { readonly kind: 'tree'; readonly name: string; readonly digest: Digest }
  | { readonly kind: 'link'; readonly name: string; readonly target: string };

/** A tree that cannot be stored or read: one line naming what is wrong. */
export class TreeError extends CaldError {}

function bad(code: string, message: string, hint?: string): TreeError {
  return new TreeError(code, message, hint === undefined ? {} : { hint });
}

/** Names are bytes: compared as UTF-8 (what the file system holds), never by JS string order. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Throws unless `name` can be one entry of a directory (no path can escape the tree through it). */
export function checkEntryName(name: string, where = ''): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (
    name === '' ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\0') ||
    bytes > MAX_NAME_BYTES
  ) {
    throw bad(
      'TREE_BAD_NAME',
      `${where}${JSON.stringify(name)} is not a file name a tree can hold: it would escape the tree or is not one name`,
      'a tree entry is 1-255 bytes without "/" or NUL, and not "." or ".."',
    );
  }
}

/** The tree object's bytes for these entries (sorted here; duplicate names are refused). */
export function encodeTree(entries: readonly TreeEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => compareNames(a.name, b.name));
  const parts: Buffer[] = [MAGIC];
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    checkEntryName(e.name);
    if (i > 0 && compareNames(sorted[i - 1]!.name, e.name) === 0)
      throw bad('TREE_DUPLICATE_NAME', `two entries are named ${JSON.stringify(e.name)}`);
    let head: string;
    if (e.kind === 'file') head = `${e.executable ? 'exec' : 'file'} ${e.digest.toString()} ${e.size}`;
    else if (e.kind === 'tree') head = `tree ${e.digest.toString()}`;
    else {
      const len = Buffer.byteLength(e.target, 'utf8');
      if (len === 0 || len > MAX_TARGET_BYTES || e.target.includes('\0'))
        throw bad(
          'TREE_BAD_LINK',
          `the symbolic link ${JSON.stringify(e.name)} has an empty, NUL-holding or over-long target`,
        );
      head = `link ${e.target}`;
    }
    parts.push(Buffer.from(`${head}\0${e.name}\0`, 'utf8'));
  }
  return Buffer.concat(parts);
}

/** Whether these bytes claim to be a tree object (they may still be a corrupt one). */
export function looksLikeTree(bytes: Uint8Array): boolean {
  return (
    bytes.length >= MAGIC.length && Buffer.from(bytes.buffer, bytes.byteOffset, MAGIC.length).equals(MAGIC)
  );
}

const FILE_VALUE = /^sha256:([0-9a-f]{64}) (0|[1-9][0-9]{0,15})$/;
const TREE_VALUE = /^sha256:([0-9a-f]{64})$/;

/** Parses a tree object strictly; `label` names it in the error (its digest, usually). */
export function decodeTree(bytes: Buffer, label = 'tree object'): TreeEntry[] {
  const corrupt = (why: string) =>
    bad(
      'TREE_CORRUPT',
      `${label} is not a valid tree: ${why}`,
      'the object is damaged or not a tree; cald verify checks the store, import the tree again to replace it',
    );
  if (!looksLikeTree(bytes)) throw corrupt('it does not start with "cald-tree 1"');
  const out: TreeEntry[] = [];
  let at = MAGIC.length;
  while (at < bytes.length) {
    const endHead = bytes.indexOf(0, at);
    const endName = endHead < 0 ? -1 : bytes.indexOf(0, endHead + 1);
    if (endName < 0) throw corrupt(`entry ${out.length + 1} is cut short`);
    const head = bytes.toString('utf8', at, endHead);
    const name = bytes.toString('utf8', endHead + 1, endName);
    at = endName + 1;
    const sp = head.indexOf(' ');
    const kind = head.slice(0, sp);
    const value = head.slice(sp + 1);
    try {
      checkEntryName(name);
    } catch {
      throw corrupt(`entry ${JSON.stringify(name)} is a name that would escape the tree or is not one name`);
    }
    if (kind === 'file' || kind === 'exec') {
      const m = FILE_VALUE.exec(value);
      if (!m) throw corrupt(`entry ${JSON.stringify(name)} has a malformed file value`);
      out.push({
        kind: 'file',
        name,
        digest: Digest.parse(`sha256:${m[1]}`),
        size: Number(m[2]),
        executable: kind === 'exec',
      });
    } else if (kind === 'tree') {
      const m = TREE_VALUE.exec(value);
      if (!m) throw corrupt(`entry ${JSON.stringify(name)} has a malformed tree value`);
      out.push({ kind: 'tree', name, digest: Digest.parse(`sha256:${m[1]}`) });
    } else if (kind === 'link') {
      out.push({ kind: 'link', name, target: value });
    } else {
      throw corrupt(`entry ${JSON.stringify(name)} has the unknown kind ${JSON.stringify(kind)}`);
    }
  }
  let again: Buffer;
  try {
    again = encodeTree(out);
  } catch (e) {
    throw corrupt(e instanceof Error ? e.message : String(e));
  }
  if (!again.equals(bytes))
    throw corrupt('its entries are not in the one canonical spelling (order, names or numbers)');
  return out;
}

/** The `cas:` names a tree object refers to (its children), for the index; none if it is not a valid tree. */
export function treeRefs(bytes: Buffer): string[] | undefined {
  if (!looksLikeTree(bytes)) return undefined;
  try {
    return decodeTree(bytes).flatMap((e) => (e.kind === 'link' ? [] : [`cas:${e.digest.toString()}`]));
  } catch {
    return [];
  }
}

/** The digest a tree's bytes get. */
export function treeDigest(entries: readonly TreeEntry[]): Digest {
  return digestOfBuffer(encodeTree(entries));
}

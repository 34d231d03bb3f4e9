// Reading a stored tree back: every entry with its path inside the tree.
import type { Digest } from '../store/index.js';
import { decodeTree, type TreeEntry, TreeError } from './tree-object.js';

/** A tree's bytes by digest (checked against it by the store). */
export type ReadObject = (digest: Digest) => Buffer | Promise<Buffer>;

export interface FlatEntry {
  /** Inside the tree, starting with "/". */
  readonly path: string;
  readonly entry: TreeEntry;
}

/** How deep trees may nest (a corrupt or hostile tree could otherwise recurse without end). */
const MAX_DEPTH = 256;

/** Every entry of the tree `root`, parents before children, each directory's entries in order. */
export async function flattenTree(read: ReadObject, root: Digest): Promise<FlatEntry[]> {
  const out: FlatEntry[] = [];
  const visit = async (digest: Digest, prefix: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH)
      throw new TreeError('TREE_TOO_DEEP', `${prefix} is nested more than ${MAX_DEPTH} directories deep`);
    const entries = decodeTree(
      await read(digest),
      `the tree ${digest}${prefix === '' ? '' : ` (at ${prefix})`}`,
    );
    for (const entry of entries) {
      const path = `${prefix}/${entry.name}`;
      out.push({ path, entry });
      if (entry.kind === 'tree') await visit(entry.digest, path, depth + 1);
    }
  };
  await visit(root, '', 0);
  return out;
}

// A tree being imported, in memory: directories, files (by where their bytes are) and symbolic
// links, checked as a whole before anything is stored (docs/trees.md).
import { readFileSync, statSync } from 'node:fs';
import type { Digest } from '../store/index.js';
import { checkEntryName, encodeTree, type TreeEntry, TreeError } from './tree-object.js';

export interface DirNode {
  readonly kind: 'dir';
  readonly entries: Map<string, TreeNode>;
}
export interface FileNode {
  readonly kind: 'file';
  /** Where the bytes are read from. */
  readonly source: string;
  readonly executable: boolean;
}
export interface LinkNode {
  readonly kind: 'link';
  readonly target: string;
}
export type TreeNode = DirNode | FileNode | LinkNode;

export function newDir(): DirNode {
  return { kind: 'dir', entries: new Map() };
}

/** Splits a path inside the tree ("/usr/bin/x" or "usr/bin/x") into checked names. */
export function namesOf(path: string): string[] {
  const names = path.split('/').filter((n) => n !== '' && n !== '.');
  for (const n of names) checkEntryName(n, `${path}: `);
  return names;
}

/** The directory at `names` below `root`, made on the way; a file or link in the way is an error. */
export function dirAt(root: DirNode, names: readonly string[], where: string): DirNode {
  let d = root;
  for (const n of names) {
    let next = d.entries.get(n);
    if (next === undefined) {
      next = newDir();
      d.entries.set(n, next);
    }
    if (next.kind !== 'dir')
      throw new TreeError(
        'TREE_NOT_A_DIRECTORY',
        `${where}: ${n} is a ${next.kind} in the tree, not a directory`,
      );
    d = next;
  }
  return d;
}

/** Adds a node at `path` (inside the tree); the same path twice must be the same thing. */
export function addNode(root: DirNode, path: string, node: TreeNode): void {
  const names = namesOf(path);
  const last = names.pop();
  if (last === undefined) {
    if (node.kind !== 'dir')
      throw new TreeError('TREE_BAD_ROOT', `the root of a tree must be a directory, not a ${node.kind}`);
    return;
  }
  const dir = dirAt(root, names, path);
  const had = dir.entries.get(last);
  if (had === undefined) dir.entries.set(last, node);
  else if (!sameNode(had, node))
    throw new TreeError(
      'TREE_CONFLICT',
      `${path} is given twice, as different things (${describe(had)} and ${describe(node)})`,
      { hint: 'two sources of one tree may share a path only with the same content' },
    );
}

function describe(n: TreeNode): string {
  return n.kind === 'file'
    ? `the file ${n.source}`
    : n.kind === 'link'
      ? `a link to ${n.target}`
      : 'a directory';
}

/** Whether two sources give one path the same thing (files: the same bytes and execute bit). */
function sameNode(a: TreeNode, b: TreeNode): boolean {
  if (a.kind === 'dir' || b.kind === 'dir') return a.kind === b.kind;
  if (a.kind === 'link' || b.kind === 'link')
    return a.kind === 'link' && b.kind === 'link' && a.target === b.target;
  if (a.source === b.source) return true;
  if (a.executable !== b.executable || statSync(a.source).size !== statSync(b.source).size) return false;
  return readFileSync(a.source).equals(readFileSync(b.source));
}

/** Every node with its path inside the tree ("/a/b"), directories before what they hold, names sorted. */
export function* walkModel(dir: DirNode, prefix = ''): Generator<[string, TreeNode]> {
  for (const name of [...dir.entries.keys()].sort()) {
    const node = dir.entries.get(name)!;
    const path = `${prefix}/${name}`;
    yield [path, node];
    if (node.kind === 'dir') yield* walkModel(node, path);
  }
}

const MAX_HOPS = 40;

/**
 * Follows every relative symbolic link inside the tree: one that climbs above the tree's root
 * escapes it, and links that lead back to themselves are a loop; both are refused. Absolute
 * targets name host paths on purpose (Debian's /etc conffile links) and are kept as written;
 * a link to nothing is allowed (as in any package).
 */
export function checkLinks(root: DirNode): void {
  const lookup = (parts: string[]): TreeNode | undefined => {
    let n: TreeNode = root;
    for (const p of parts) {
      if (n.kind !== 'dir') return undefined;
      const next = n.entries.get(p);
      if (next === undefined) return undefined;
      n = next;
    }
    return n;
  };
  for (const [path, node] of walkModel(root)) {
    if (node.kind !== 'link') continue;
    const seen: string[] = [path];
    // The directory holding the link, then the target's parts resolved against it.
    let dir = path.split('/').filter(Boolean).slice(0, -1);
    let target = node.target;
    for (let hop = 0; ; hop++) {
      if (target.startsWith('/')) break; // leaves the tree on purpose
      const parts = [...dir];
      const rest = target.split('/').filter((p) => p !== '' && p !== '.');
      let next: LinkNode | undefined;
      let nextAt = '';
      for (let i = 0; i < rest.length; i++) {
        const p = rest[i]!;
        if (p === '..') {
          if (parts.length === 0)
            throw new TreeError(
              'TREE_LINK_ESCAPES',
              `the symbolic link ${path} -> ${node.target} leads out of the tree (above its root)`,
              {
                hint: 'a relative link must stay inside the tree; an absolute target is kept as a host path',
              },
            );
          parts.pop();
          continue;
        }
        parts.push(p);
        const n = lookup(parts);
        if (n?.kind === 'link') {
          next = n;
          nextAt = `/${parts.join('/')}`;
          // The link's own directory, then the rest of the path after it.
          dir = parts.slice(0, -1);
          const tail = rest.slice(i + 1).join('/');
          target = tail === '' ? n.target : `${n.target}/${tail}`;
          break;
        }
        if (n === undefined) break;
      }
      if (next === undefined) break;
      if (seen.includes(nextAt) || hop >= MAX_HOPS)
        throw new TreeError(
          'TREE_LINK_LOOP',
          `the symbolic links ${[...seen, nextAt].join(' -> ')} form a loop`,
          {
            hint: 'a link must lead to a file, a directory or nothing, never back to itself',
          },
        );
      seen.push(nextAt);
    }
  }
}

/** Stores every directory bottom-up with `putTree`; `fileDigest` gives each file's object. */
export async function storeModel(
  dir: DirNode,
  fileDigest: (node: FileNode) => { digest: Digest; size: number },
  putTree: (bytes: Buffer) => Promise<Digest>,
): Promise<Digest> {
  const entries: TreeEntry[] = [];
  for (const [name, node] of dir.entries) {
    if (node.kind === 'dir')
      entries.push({ kind: 'tree', name, digest: await storeModel(node, fileDigest, putTree) });
    else if (node.kind === 'link') entries.push({ kind: 'link', name, target: node.target });
    else {
      const { digest, size } = fileDigest(node);
      entries.push({ kind: 'file', name, digest, size, executable: node.executable });
    }
  }
  return putTree(encodeTree(entries));
}

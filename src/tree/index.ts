// The tree layer's public surface: the tree object format and reading trees back (docs/trees.md).
export {
  addNode,
  checkLinks,
  type DirNode,
  dirAt,
  type FileNode,
  type LinkNode,
  namesOf,
  newDir,
  storeModel,
  type TreeNode,
  walkModel,
} from './tree-model.js';
export {
  checkEntryName,
  compareNames,
  decodeTree,
  encodeTree,
  looksLikeTree,
  MAX_NAME_BYTES,
  TREE_MAGIC,
  type TreeEntry,
  TreeError,
  treeDigest,
  treeRefs,
} from './tree-object.js';
export { type FlatEntry, flattenTree, type ReadObject } from './tree-walk.js';

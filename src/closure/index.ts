export { ClosureError, LdCacheError } from './closure-error.js';
export { type DynamicInfo, dynamicInfoOfBuffer, readDynamicInfo } from './dynamic-info.js';
export { type ClosureFs, type ClosureStat, type FileIdentity, nodeFs } from './fs.js';
export {
  type CacheTarget,
  cacheFlagsFor,
  cacheNameCompare,
  isHwcapExtension,
  type LdCache,
  type LdCacheEntry,
  lookupLdCache,
  parseLdCache,
} from './ld-so-cache.js';
export {
  fallbackLoaderFacts,
  isTrustedLoader,
  type LoaderFacts,
  legacyCombinations,
  parseLoaderHelp,
  probeLoaderFacts,
  searchSubdirs,
  systemLoaderPath,
} from './loader-facts.js';
export { type LoaderAbi, type Verdict, verifyCandidate } from './open-verify.js';
export {
  type Closure,
  type ClosureObject,
  type InterpreterInfo,
  type MissingLibrary,
  type NeededEdge,
  type ObjectKind,
  type ResolveClosureOptions,
  resolveClosure,
} from './resolve-closure.js';
export {
  type DstValues,
  expandDst,
  type FoundVia,
  LibrarySearch,
  type SearchedDirs,
  type SearchSource,
  type SkippedCandidate,
  splitSearchList,
} from './search-path.js';
export { SNAPSHOT_BUDGET, SnapshotFs, type WalkedFile } from './snapshot-fs.js';
export {
  fileKind,
  MAX_SOURCE_SIZE,
  type OwnMemory,
  openRegular,
  readAt,
  readSource,
  type SourceFile,
} from './source-file.js';

// The store layer's public surface (imported by closure, runtime, remote and api).
export {
  AUDIT_SENTINEL_PREFIX,
  auditSentinelTarget,
  CAS_PREFIX,
  type CasName,
  checkHint,
  formatAuditSentinel,
  formatCasName,
  HINT_PREFIX,
  hintFromName,
  isCasName,
  MAX_NAME_BYTES,
  parseCasName,
  tryParseCasName,
} from './cas-name.js';
export { storeContaining } from './containing-store.js';
export {
  createHasher,
  DEFAULT_ALGORITHM,
  Digest,
  type DigestAlgorithm,
  digestAndSizeOfFile,
  digestOfBuffer,
  digestOfFd,
  digestOfFile,
  type Hasher,
} from './digest.js';
export { type AdoptOptions, FileStore, type OpenFileStoreOptions } from './file-store.js';
export {
  collectGarbage,
  type GcDeleted,
  type GcOptions,
  type GcReport,
  parseSize,
} from './gc.js';
export {
  type ExtractRefs,
  IndexDb,
  type IndexSnapshot,
  type ObjectRow,
  type OpenIndexOptions,
  type RebuildProblem,
  type RebuildReport,
  type RebuildSource,
  type Ref,
} from './index-db.js';
export { type StoreStats, storeStats } from './info.js';
export { MARKER_FILE, MARKER_TEXT } from './layout.js';
export { LoaderView } from './local/loader-view.js';
export { storeNotDirectory } from './local/marker.js';
export {
  type IndexRecovery,
  type IndexRow,
  type LocalPutOptions,
  LocalStore,
  type OpenLocalStoreOptions,
} from './local-store.js';
export {
  resolveStoreLocation,
  type StoreLocation,
  type StoreLocationInput,
  type StoreLocationSource,
} from './location.js';
export {
  acquireLease,
  type HeldLock,
  type Lease,
  type LeaseInfo,
  type LockOptions,
  leaseIfWritable,
  liveLeases,
  lockExclusive,
  withExclusive,
  withLease,
} from './lock.js';
export { MemoryStore } from './memory-store.js';
export {
  MIN_PREFIX,
  type ObjectMatch,
  type ObjectRef,
  parseObjectRef,
  type ResolveRefOptions,
  resolveObjectRef,
} from './object-ref.js';
export {
  importedPathOf,
  listPrograms,
  type MovedName,
  nameProgram,
  namesAlongLinks,
  type ProgramEntry,
  type ProgramNote,
  type ProgramToName,
  programNameOf,
  programRootId,
  type RootBook,
} from './program-names.js';
export { type ResolvedRoot, resolveRoot, runtimeRoots } from './root-targets.js';
export { defaultRootId, type Root, type RootKind, type RootSpec } from './roots.js';
export {
  copyObject,
  isObjectStream,
  type ObjectInfo,
  type ObjectStat,
  type ObjectStream,
  type PutOptions,
  type PutSource,
  type ReadOptions,
  readAll,
  type Store,
  type StoreNames,
  type StoreRoots,
  unsupported,
} from './store.js';
export {
  adminOwners,
  checkSearchPathSafe,
  checkStoreTrust,
  SEARCH_PATH_SPECIALS,
  STORE_OWNERS_FILE,
  type TrustOptions,
} from './trust.js';
export { localPathOf, parseStoreUrl, type StoreUrl } from './url.js';
export {
  type RestoreFromOriginal,
  type VerifyMismatch,
  type VerifyOptions,
  type VerifyProblem,
  type VerifyReport,
  verifyStore,
} from './verify.js';

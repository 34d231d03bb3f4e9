// The api layer's public operations: one async function per file, each taking one options object.

export { type EnvOptions, type EnvResult, envScript } from './env.js';
export { type GcApiOptions, type GcResult, gc } from './gc.js';
export {
  DEFAULT_HOST_PROVIDED,
  type ImportedFile,
  type ImportOptions,
  type ImportReport,
  importFiles,
} from './import.js';
export { type IndexRebuildResult, rebuildIndex } from './index-rebuild.js';
export {
  type DynamicEntryReport,
  type InspectOptions,
  type InspectReport,
  inspect,
  inspectBuffer,
  type Named,
  type NoteReport,
  type SectionReport,
  type SegmentReport,
  type VersionDefReport,
  type VersionNeedReport,
} from './inspect.js';
export { type InstallOptions, type InstallResult, installLauncher } from './install.js';
export { type LddInterpreter, type LddOptions, type LddProblem, type LddReport, ldd } from './ldd.js';
export {
  type ElfEdit,
  type ElfSummary,
  type PatchFileOptions,
  type PatchFileResult,
  type PatchTarget,
  patchFile,
} from './patch-file.js';
export {
  listImported,
  type ObjectInfoOptions,
  type ObjectPathInfo,
  objectPath,
  type ProgramListing,
} from './programs.js';
export { type RootStatus, type RootsOptions, type RootsResult, roots } from './roots.js';
export {
  type ChildOutcome,
  exitLike,
  type PreparedRun,
  prepareRun,
  type RunOptions,
  run,
  startPrepared,
} from './run.js';
export { type ShrinkRpathOptions, type ShrinkRpathResult, shrinkRpath } from './shrink-rpath.js';
export { type StoreInfo, storeInfo } from './store-info.js';
export { type SystemOptions, type SystemResult, systemInstall, systemUninstall } from './system.js';
export { type VerifyApiOptions, type VerifyResult, verify } from './verify.js';
export {
  type ChainLink,
  type Referrer,
  type ReferrersResult,
  referrers,
  type WhyDependsOptions,
  whyDepends,
} from './why-depends.js';

// The runtime layer's public surface (imported by api): running store programs by content.
export {
  checkMode,
  checkShell,
  type Env,
  fishQuote,
  type ModeSettings,
  modeSettings,
  NAMES_MODE_TRUST,
  prependToList,
  RUN_MODES,
  type RunMode,
  runEnvironment,
  type Shell,
  shellCode,
  shQuote,
} from './environment.js';
export {
  fillLauncher,
  fillScriptHandler,
  LAUNCHER_SLOTS,
  type LauncherSlot,
  type LauncherValues,
  readLauncher,
  SLOT_HEADER_BYTES,
} from './launcher.js';
export { launcherValues } from './launcher-values.js';
export {
  commandFor,
  describePlan,
  interpreterNote,
  type LoaderPlan,
  NOTE_OWNER,
  NT_CALD_INTERP,
  NT_CALD_PATHS,
  planLoader,
  statSignature,
} from './loader.js';
export { AUDIT_LIBRARY, auditLibraryPath, LAUNCHER, nativeArtifact, nativeDir } from './native.js';
export { readProgram } from './program.js';
export { isCommandName, selfExecLauncher } from './self-exec.js';
export {
  CAS_SHEBANG,
  type CasShebang,
  casScriptHandler,
  formatCasShebang,
  type HostShebang,
  hasCasShebang,
  parseCasShebang,
  parseHostShebang,
  SHEBANG_LIMIT,
  scriptRefs,
} from './shebang.js';
export {
  type ChildOutcome,
  exitLike,
  FORWARDED,
  inTerminalForeground,
  type SpawnOptions,
  spawnForeground,
} from './spawn.js';
export { MIN_PREFIX, nameForDigest, programNameOf, type RunTarget, resolveTarget } from './target.js';
export {
  type HostListing,
  listWithLoader,
  type NeededNode,
  type NeededState,
  neededTree,
  nodesOf,
} from './tree.js';

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { ElfFile } from '../elf/read/index.js';
import { UsageError } from '../errors/index.js';
import {
  auditLibraryPath,
  type ChildOutcome,
  checkMode,
  commandFor,
  describePlan,
  type Env,
  exitLike,
  isCommandName,
  LAUNCHER,
  type LoaderPlan,
  launcherValues,
  modeSettings,
  nativeArtifact,
  planLoader,
  type RunMode,
  type RunTarget,
  readProgram,
  resolveTarget,
  runEnvironment,
  selfExecLauncher,
  spawnForeground,
} from '../runtime/index.js';
import { askPrefetch, fetchProgramIfAbsent } from './fetch-object.js';
import { locate, openFiles } from './store-open.js';

export interface RunOptions {
  /** PROGRAM|URI: an imported program's name, a cas: URI, a sha256: digest, a hex prefix or a path. */
  program: string;
  /** Arguments after argv[0]. */
  args?: readonly string[];
  /** audit (default) or names. */
  mode?: RunMode | string;
  /**
   * argv[0] for the program, exactly. By default a launcher of the same object named as the
   * program was invoked (docs/running.md, "Self-exec"), else that name.
   */
  argv0?: string;
  /** The --store option. */
  store?: string;
  /** The environment the program inherits (and where CALD_STORE etc. are read); process.env by default. */
  env?: Env;
  /** Where a relative store or path is taken from; process.cwd() by default. */
  cwd?: string;
}

/** Everything decided before the program starts: what `run` will exec, with which environment. */
export interface PreparedRun {
  readonly target: RunTarget;
  readonly mode: RunMode;
  readonly store: string;
  readonly plan: LoaderPlan;
  /** What is exec'd: the program, or the stored loader for `stored-loader` plans. */
  readonly file: string;
  readonly args: string[];
  readonly argv0: string;
  readonly env: Record<string, string>;
  /** One line for CALD_DEBUG saying how it starts. */
  readonly debugLine: string;
  /** For a path to an ELF file the engine could not read: why (said if exec refuses it). */
  readonly damage?: string;
}

/** Resolves the program and works out how to start it, without starting it. */
export async function prepareRun(options: RunOptions): Promise<PreparedRun> {
  if (typeof options.program !== 'string') throw new UsageError('run: `program` must be a string');
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const mode = checkMode(options.mode ?? 'audit');
  // The mode's settings first: a store path that would split a search path is refused before use.
  const location = locate({ store: options.store, env, cwd });
  const settings = modeSettings(mode, location.path, mode === 'audit' ? auditLibraryPath(env) : undefined);
  await fetchProgramIfAbsent(options.program, location.path, env);
  const { path: storePath, store } = openFiles(
    { store: options.store, env, cwd },
    options.program.includes('/'),
  );
  const target = resolveTarget(options.program, store);
  const { elf, script, damage } = readProgram(target);
  if (script !== undefined) {
    // A #!cas: script: its interpreter object runs it, as the kernel would run a #! line's
    // interpreter (docs/scripts.md). The script's bytes were verified above when stored.
    return prepareRun({
      ...options,
      program: script.uri,
      args: [...script.args, target.path, ...(options.args ?? [])],
    });
  }
  if (target.digest !== undefined && elf !== undefined) askPrefetch(location.path, target.digest, elf.needed);
  const plan: LoaderPlan =
    elf === undefined
      ? { kind: 'direct', interp: undefined, noted: undefined }
      : planLoader(elf, store?.view);
  const selfExec = options.argv0 === undefined ? selfExecArgv0(target, storePath, elf, plan, env) : undefined;
  const argv0 = options.argv0 ?? selfExec?.path ?? target.argv0;
  // A store object is started by the launcher template, which checks it (and the stored loader)
  // again through one descriptor and executes exactly that descriptor (docs/running.md).
  const cmd =
    target.digest !== undefined && elf !== undefined
      ? verifiedExec(storePath, target.digest.toString(), plan, argv0, options.args ?? [], env)
      : commandFor(plan, target.path, argv0, options.args ?? []);
  return {
    target,
    mode,
    store: storePath,
    plan,
    file: cmd.file,
    args: cmd.args,
    argv0: cmd.argv0,
    env: runEnvironment(env, settings),
    debugLine: `${describePlan(plan, target.path)}\ncald: argv[0] ${selfExec?.note ?? JSON.stringify(argv0)}`,
    ...(damage === undefined ? {} : { damage: damage.message }),
  };
}

/** `cald-launch --cald-exec STORE TARGET LOADER ARGV0 ARGS...` (native/cald-launch.c). */
function verifiedExec(
  store: string,
  target: string,
  plan: LoaderPlan,
  argv0: string,
  args: readonly string[],
  env: Env,
): { file: string; args: string[]; argv0: string } {
  const loader = plan.kind === 'stored-loader' ? plan.noted.toString() : '';
  return {
    file: nativeArtifact(LAUNCHER, env),
    args: ['--cald-exec', store, target, loader, argv0, ...args],
    argv0: LAUNCHER,
  };
}

/**
 * argv[0] for a store object: the path of a launcher of the same object whose basename is the
 * name it was invoked by (docs/running.md, "Self-exec"). Where none can be written (a store
 * that is not writable, native parts not built, a name that is not a file name) the bare name,
 * which still picks a multi-call program's command but leaves self-exec to PATH.
 */
function selfExecArgv0(
  target: RunTarget,
  store: string,
  elf: ElfFile | undefined,
  plan: LoaderPlan,
  env: Env,
): { path: string | undefined; note: string } | undefined {
  if (target.digest === undefined) return undefined;
  const name = basename(target.argv0);
  if (!isCommandName(name))
    return { path: undefined, note: `${JSON.stringify(name)} (not a file name: no launcher)` };
  try {
    const template = readFileSync(nativeArtifact(LAUNCHER, env));
    const path = selfExecLauncher(
      store,
      target.digest,
      name,
      template,
      launcherValues(target.digest, store, elf, env, plan.kind === 'direct'),
    );
    return {
      path,
      note: `${path} (a launcher of the same object, for programs that start themselves again)`,
    };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { path: undefined, note: `${JSON.stringify(name)} (no launcher for self-exec: ${why})` };
  }
}

/**
 * Runs a stored program as if it were the original: standard streams inherited, signals passed
 * on, and resolves with how it ended (an exit status or a signal). `exitLike` ends the calling
 * process the same way.
 */
export async function run(options: RunOptions): Promise<ChildOutcome> {
  return startPrepared(await prepareRun(options));
}

/** Starts what prepareRun decided. */
export function startPrepared(prepared: PreparedRun): Promise<ChildOutcome> {
  return spawnForeground({
    file: prepared.file,
    args: prepared.args,
    argv0: prepared.argv0,
    env: prepared.env,
    ...(prepared.damage === undefined ? {} : { damage: prepared.damage }),
  });
}

export { type ChildOutcome, exitLike };

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  AUDIT_LIBRARY,
  auditLibraryPath,
  checkMode,
  checkShell,
  type Env,
  type ModeSettings,
  modeSettings,
  NAMES_MODE_TRUST,
  nativeDir,
  type RunMode,
  type Shell,
  shellCode,
} from '../runtime/index.js';
import { checkStoreTrust, MARKER_FILE, storeNotDirectory } from '../store/index.js';
import { locate } from './store-open.js';

export interface EnvOptions {
  /** audit (default) or names. */
  mode?: RunMode | string;
  /** sh (default; also for bash and zsh) or fish. */
  shell?: Shell | string;
  /** Print code that undoes the settings instead. */
  unset?: boolean;
  /** The --store option. */
  store?: string;
  env?: Env;
  cwd?: string;
}

export interface EnvResult {
  readonly mode: RunMode;
  readonly shell: Shell;
  readonly store: string;
  /** The variables and values the code sets (or removes). */
  readonly settings: ModeSettings;
  /** What the mode trusts, when it does not verify (names mode); printed as a comment in script. */
  readonly trust: string | undefined;
  /** Shell code for `eval "$(cald env)"`. */
  readonly script: string;
  /** Whether a cald store is there (its marker file): programs cannot run from a store that is not. */
  readonly storeExists: boolean;
}

/**
 * Shell code that lets imported programs run with no cald process (docs/running.md):
 * audit mode sets LD_AUDIT and CALD_STORE, names mode puts <store>/names on LD_LIBRARY_PATH.
 * The store need not exist yet; the audit library must be there (except for `unset`): without it
 * ld.so would ignore LD_AUDIT and search the `cas:` names unverified, so that is refused.
 * An existing store must keep the store rule (docs/threat-model.md).
 */
export async function envScript(options: EnvOptions = {}): Promise<EnvResult> {
  const env = options.env ?? process.env;
  const mode = checkMode(options.mode ?? 'audit');
  const shell = checkShell(options.shell ?? 'sh');
  const unset = options.unset === true;
  const { path: store } = locate({
    store: options.store,
    env,
    cwd: options.cwd ?? process.cwd(),
  });
  if (!unset) checkStoreTrust(store);
  const audit =
    mode !== 'audit' ? undefined : unset ? join(nativeDir(env), AUDIT_LIBRARY) : auditLibraryPath(env);
  const settings = modeSettings(mode, store, audit);
  const storeExists = existsSync(join(store, MARKER_FILE));
  // A file where the store should be can never become one: refused as every command refuses it.
  if (!unset && !storeExists && statSync(store, { throwIfNoEntry: false })?.isDirectory() === false)
    throw storeNotDirectory(store);
  const trust = mode === 'names' ? NAMES_MODE_TRUST : undefined;
  const note = trust === undefined || unset ? '' : `# cald: ${trust}\n`;
  return {
    mode,
    shell,
    store,
    settings,
    trust,
    script: note + shellCode(settings, shell, unset),
    storeExists,
  };
}

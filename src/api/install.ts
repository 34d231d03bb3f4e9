import { lstatSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DT_AUDIT } from '../elf/format/constants.js';
import type { ElfFile } from '../elf/read/index.js';
import { CaldError, ioErrorFrom, UsageError } from '../errors/index.js';
import {
  AUDIT_LIBRARY,
  casScriptHandler,
  type Env,
  fillLauncher,
  interpreterNote,
  isCommandName,
  LAUNCHER,
  type LauncherValues,
  launcherValues,
  nativeArtifact,
  readLauncher,
  readProgram,
  resolveTarget,
} from '../runtime/index.js';
import { digestOfFile } from '../store/index.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { makeDirs } from '../util/make-dirs.js';
import { locate, openFiles, withRoots } from './store-open.js';

/** Whether a command name is one file name (for `--name`). */
export { isCommandName };

export interface InstallOptions {
  /** PROGRAM|URI (a store object: an imported program's name, cas: URI, digest or hex prefix). */
  program: string;
  /** Directory to write the command into; default ~/.local/bin. */
  bin?: string;
  /** The command's file name; by default the name the program was imported under. */
  name?: string;
  store?: string;
  env?: Env;
  cwd?: string;
  /** Record the command as an indirect GC root in the store (default true). */
  addRoot?: boolean;
  /**
   * Write a symbolic link to the store object instead of a launcher: no extra exec at start-up.
   * Only for programs imported with `--audit` (DT_AUDIT naming libcald-audit.so, installed
   * system-wide by `cald install-audit`); refused otherwise.
   */
  link?: boolean;
  /** Replace an existing file that is not a cald command (a launcher or a link into a store). */
  force?: boolean;
  /**
   * Let an inherited CALD_STORE choose the store the launcher uses (a store that moves). By default
   * the launcher uses only the store it was installed from (docs/threat-model.md).
   */
  storeFromEnv?: boolean;
}

export interface InstallResult {
  /** Absolute path of the written command. */
  readonly path: string;
  readonly name: string;
  readonly digest: string;
  /** `launcher`: a copy of cald-launch; `link`: a symbolic link to the object (`--link`). */
  readonly kind: 'launcher' | 'link';
  /** The slot values embedded in the launcher (undefined for a link). */
  readonly values: LauncherValues | undefined;
  /** The link's target (the object's absolute path), for a link. */
  readonly object: string | undefined;
  /** Things the user should know (a link to a store that is not the default location). */
  readonly warnings: readonly string[];
  /** The id of the indirect root, when one was added. */
  readonly root: string | undefined;
}

/**
 * Writes BIN/NAME: a copy of native/build/cald-launch with the program's digest, the store and
 * the audit library embedded (docs/running.md, "The launcher"), mode 0755, atomically. Running it
 * needs no Node.js: it execs the store object with LD_AUDIT and CALD_STORE set.
 * With `link`, BIN/NAME is instead a symbolic link to the object (docs/running.md, "Links").
 */
export async function installLauncher(options: InstallOptions): Promise<InstallResult> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const { path: storePath, store } = openFiles({ store: options.store, env, cwd });
  if (store === undefined) throw new Error('unreachable: store is required');
  const target = resolveTarget(options.program, store, { pathsInStore: true, cwd });
  const digest = target.digest;
  if (digest === undefined) throw new Error('unreachable: store targets have digests');
  const name = options.name ?? target.name;
  if (name === undefined || !isCommandName(name)) {
    throw new UsageError(
      name === undefined
        ? `${options.program} has no recorded program name to install it under`
        : `bad command name ${JSON.stringify(name)}`,
      { hint: 'give one with --name NAME' },
    );
  }
  const { elf, script } = readProgram(target);
  if (options.link === true) {
    // A #!cas: script runs from a link through the binfmt_misc handler (docs/scripts.md).
    if (script !== undefined) checkScriptLinkable(options.program);
    else checkLinkable(options.program, elf);
  }
  const dir = resolve(cwd, options.bin ?? defaultBinDir(env));
  const path = resolve(dir, name);
  if (options.force !== true) refuseForeignFile(path);
  try {
    makeDirs(dir);
  } catch (e) {
    throw ioErrorFrom(e, 'create the directory', dir);
  }
  const base = { path, name, digest: digest.toString() };
  const pathNote = onPathNote(dir, name, env);
  const addRoot = (note: object) =>
    options.addRoot === false ? undefined : addIndirectRoot(storePath, path, JSON.stringify(note));

  if (options.link === true) {
    const warnings: string[] = pathNote;
    let usual: string | undefined;
    try {
      usual = locate({ env: { ...env, CALD_STORE: undefined }, cwd }).path;
    } catch {
      // no default location (no HOME): the link then always needs CALD_STORE
    }
    if (usual !== storePath) {
      warnings.push(
        `${storePath} is not the default store location${usual === undefined ? '' : ` (${usual})`}: ` +
          `run ${name} with CALD_STORE=${storePath} in its environment, or install the launcher (without --link), which embeds the store`,
      );
    }
    await symlinkAtomic(target.path, path);
    const root = await addRoot({ link: digest.toString() });
    return { ...base, kind: 'link', values: undefined, object: target.path, warnings, root };
  }

  const values = launcherValues(digest, storePath, elf, env, undefined, options.storeFromEnv === true);
  const template = readFileSync(nativeArtifact(LAUNCHER, env));
  // writeFileAtomic writes through a symbolic link; a link here (an earlier --link) is replaced.
  if (isSymlink(path)) rmSync(path, { force: true });
  await writeFileAtomic(path, fillLauncher(template, values), { mode: 0o755 });
  const root = await addRoot({ launcher: digest.toString() });
  return { ...base, kind: 'launcher', values, object: undefined, warnings: pathNote, root };
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Where commands go by default: ~/.local/bin (XDG's place for a user's executables). */
function defaultBinDir(env: Env): string {
  const home = env.HOME;
  if (home === undefined || home === '') {
    throw new UsageError('no --bin given and HOME is not set', { hint: 'give the directory with --bin DIR' });
  }
  return join(home, '.local', 'bin');
}

/** A note when the directory is not on PATH: the command then does not run by its name alone. */
function onPathNote(dir: string, name: string, env: Env): string[] {
  const path = (env.PATH ?? '').split(':').filter((p) => p !== '');
  if (path.some((p) => resolve(p) === dir)) return [];
  return [`${dir} is not on PATH: add it (export PATH="${dir}:$PATH") to run ${name} by its name`];
}

/**
 * Refuses to replace a file cald did not write: only a launcher (it carries the launcher's slots)
 * or a symbolic link into a store's objects may be replaced without --force.
 */
function refuseForeignFile(path: string): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (st.isSymbolicLink() && /\/objects\/sha256\/[0-9a-f]{64}$/.test(readlinkSync(path))) return;
  if (st.isFile()) {
    try {
      readLauncher(readFileSync(path));
      return;
    } catch {
      // not a launcher
    }
  }
  throw new CaldError('RUN_INSTALL_EXISTS', `${path} exists and is not a command cald installed`, {
    hint: 'choose another name with --name NAME, or replace it with --force',
    data: { path },
  });
}

/** The DT_AUDIT list's elements naming libcald-audit.so (by file name or by a path ending in it). */
export function auditEntries(elf: ElfFile): string[] {
  const at = elf.dynValue(DT_AUDIT);
  if (at === undefined) return [];
  return elf
    .dynString(at, 'DT_AUDIT')
    .split(':')
    .filter((e) => e === AUDIT_LIBRARY || e.endsWith(`/${AUDIT_LIBRARY}`));
}

/**
 * A link runs the object directly, so only ld.so can bring in the resolver: through the program's
 * DT_AUDIT. And nothing can swap in the stored loader, so the host's must be the noted one.
 */
/** A link to a #!cas: script runs only where a binfmt_misc entry hands such files to a handler. */
function checkScriptLinkable(program: string): void {
  if (casScriptHandler() === undefined) {
    throw new CaldError(
      'RUN_INSTALL_NO_BINFMT',
      `${program} is a #!cas: script and no binfmt_misc entry runs such files here, so a link to it would not start`,
      { hint: 'run sudo cald system install first, or install the launcher (without --link)' },
    );
  }
}

function checkLinkable(program: string, elf: ElfFile | undefined): void {
  if (elf === undefined || auditEntries(elf).length === 0) {
    throw new CaldError(
      'RUN_INSTALL_NO_AUDIT',
      `${program} has no DT_AUDIT entry naming ${AUDIT_LIBRARY}, so a link would run it without the resolver`,
      {
        hint: `import it again with --audit (cald import --audit PATH) and install that, or install the launcher (without --link)`,
      },
    );
  }
  const interp = elf.interp?.value;
  const noted = interpreterNote(elf);
  if (interp === undefined || noted === undefined) return;
  let host: string | undefined;
  try {
    host = digestOfFile(interp).toString();
  } catch {
    host = undefined;
  }
  if (host !== noted.toString()) {
    throw new CaldError(
      'RUN_INSTALL_LOADER',
      `the host loader ${interp} is ${host === undefined ? 'missing' : `not ${noted}`} (the program's interpreter note); a link cannot run the stored loader`,
      { hint: 'install the launcher (without --link): it runs the stored loader explicitly' },
    );
  }
}

/** Makes path a symbolic link to target, replacing what was there in one rename. */
async function symlinkAtomic(target: string, path: string): Promise<void> {
  const tmp = resolve(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    symlinkSync(target, tmp);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw ioErrorFrom(e, 'write the link', path);
  }
}

/**
 * Keeps the program alive through GC while the command exists. Through the index when it can be
 * opened as it is; else into roots/ only (the files are the truth; an index rebuild picks it up).
 */
async function addIndirectRoot(storePath: string, path: string, note: string): Promise<string> {
  const spec = { kind: 'indirect' as const, target: path, note };
  try {
    return await withRoots(storePath, (roots) => roots.add(spec).id);
  } catch (e) {
    throw new CaldError(
      'RUN_INSTALL_ROOT',
      `wrote ${path} but could not record it as a root in ${storePath}`,
      {
        hint: 'the command works; a later cald gc may not know it needs the program',
        cause: e,
      },
    );
  }
}

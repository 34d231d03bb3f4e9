import { mkdirSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { CaldError, ioErrorFrom, UsageError } from '../errors/index.js';
import {
  auditLibraryPath,
  type Env,
  fillLauncher,
  interpreterNote,
  LAUNCHER,
  type LauncherValues,
  nativeArtifact,
  openStore,
  readProgram,
  resolveTarget,
  statSignature,
} from '../runtime/index.js';
import { digestOfFile, FileStore, LocalStore } from '../store/index.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export interface InstallOptions {
  /** PROGRAM|URI (a store object: an imported program's name, cas: URI, digest or hex prefix). */
  program: string;
  /** Directory to write the command into (e.g. ~/.local/bin). */
  bin: string;
  /** The command's file name; by default the name the program was imported under. */
  name?: string;
  store?: string;
  env?: Env;
  cwd?: string;
  /** Record the command as an indirect GC root in the store (default true). */
  addRoot?: boolean;
}

export interface InstallResult {
  /** Absolute path of the written command. */
  readonly path: string;
  readonly name: string;
  readonly digest: string;
  /** The slot values embedded in the launcher. */
  readonly values: LauncherValues;
  /** The id of the indirect root, when one was added. */
  readonly root: string | undefined;
}

const NAME = /^[^/\0]+$/;

/**
 * Writes BIN/NAME: a copy of native/build/cald-launch with the program's digest, the store and
 * the audit library embedded (docs/running.md, "The launcher"), mode 0755, atomically. Running it
 * needs no Node.js: it execs the store object with LD_AUDIT and CALD_STORE set.
 */
export async function installLauncher(options: InstallOptions): Promise<InstallResult> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  if (options.program.includes('/')) {
    throw new UsageError(`install runs store objects only; ${options.program} is a path`, {
      hint: 'import it first (cald import), then install it by name or cas: URI',
    });
  }
  const { path: storePath, store } = openStore(options.store, env, cwd);
  if (store === undefined) throw new Error('unreachable: store is required');
  const target = resolveTarget(options.program, store);
  const digest = target.digest;
  if (digest === undefined) throw new Error('unreachable: store targets have digests');
  const name =
    options.name ??
    (target.argv0 === options.program && target.via !== 'root' ? undefined : basename(target.argv0));
  if (name === undefined || !NAME.test(name) || name === '.' || name === '..') {
    throw new UsageError(
      name === undefined
        ? `${options.program} has no recorded program name to install it under`
        : `bad command name ${JSON.stringify(name)}`,
      { hint: 'give one with --name NAME' },
    );
  }
  const { elf } = readProgram(target);
  const interp = elf?.interp?.value ?? '';
  const noted = elf === undefined ? undefined : interpreterNote(elf);
  let sig = '';
  if (noted !== undefined && interp !== '') {
    try {
      if (digestOfFile(interp).equals(noted)) sig = statSignature(interp) ?? '';
    } catch {
      // host loader missing: the launcher will use the stored one
    }
  }
  const values: LauncherValues = {
    target: digest.toString(),
    store: storePath,
    audit: auditLibraryPath(env),
    interp,
    'interp-digest': noted?.toString() ?? '',
    'interp-sig': sig,
  };
  const template = readFileSync(nativeArtifact(LAUNCHER, env));
  const dir = resolve(cwd, options.bin);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw ioErrorFrom(e, 'create the directory', dir);
  }
  const path = resolve(dir, name);
  await writeFileAtomic(path, fillLauncher(template, values), { mode: 0o755 });
  let root: string | undefined;
  if (options.addRoot !== false) root = await addIndirectRoot(storePath, path, digest.toString());
  return { path, name, digest: digest.toString(), values, root };
}

/**
 * Keeps the program alive through GC while the command exists. Through the index when it can be
 * opened as it is; else into roots/ only (the files are the truth; an index rebuild picks it up).
 */
async function addIndirectRoot(storePath: string, path: string, digest: string): Promise<string> {
  const spec = { kind: 'indirect' as const, target: path, note: JSON.stringify({ launcher: digest }) };
  try {
    let local: LocalStore | undefined;
    try {
      local = await LocalStore.open({ path: storePath });
    } catch {
      return FileStore.open(storePath).addRoot(spec).id;
    }
    try {
      return local.addRoot(spec).id;
    } finally {
      local.close();
    }
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

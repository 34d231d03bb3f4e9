import { ElfFormatError, isCaldError, UsageError } from '../errors/index.js';
import {
  auditLibraryPath,
  type Env,
  type HostListing,
  interpreterNote,
  listWithLoader,
  modeSettings,
  type NeededNode,
  type NeededState,
  neededTree,
  nodesOf,
  planLoader,
  readProgram,
  resolveTarget,
  runEnvironment,
} from '../runtime/index.js';
import { digestOfFile } from '../store/index.js';
import { openFiles } from './store-open.js';

export interface LddOptions {
  /** PROGRAM|URI, as for run. */
  program: string;
  store?: string;
  env?: Env;
  cwd?: string;
  /** Ask the host loader (`ld.so --list`) where normal names resolve (default true). */
  hostLoader?: boolean;
}

export interface LddInterpreter {
  /** PT_INTERP: the host path the kernel loads. */
  readonly path: string;
  /** The digest in the program's cald note (the loader it was imported with). */
  readonly noted: string | null;
  /** The host file's digest; null when it is missing. */
  readonly host: string | null;
  /** How the program starts: with the host loader, or the stored copy run explicitly; missing: neither is there. */
  readonly use: 'host' | 'stored' | 'missing';
  /** The stored loader object, when `use` is stored. */
  readonly stored: string | null;
}

export interface LddProblem {
  readonly name: string;
  readonly state: NeededState;
  readonly path: string | null;
  readonly message?: string;
}

/** A `#!cas:` script given to ldd: the tree is then its interpreter's (docs/scripts.md). */
export interface LddScript {
  readonly spec: string;
  readonly path: string;
  /** The script object's digest; null for a file outside the store. */
  readonly digest: string | null;
  /** The interpreter's content name, from the #! line. */
  readonly interpreter: string;
  readonly args: readonly string[];
}

export interface LddReport {
  /** Present when a script was given: `program` is then its interpreter. */
  readonly script?: LddScript;
  readonly program: {
    readonly spec: string;
    readonly path: string;
    readonly digest: string | null;
    /** verified for a store object that hashes to its name; `not-in-store` for a path. */
    readonly state: 'verified' | 'not-in-store';
    readonly argv0: string;
  };
  readonly store: string;
  readonly interpreter: LddInterpreter | null;
  readonly needed: NeededNode[];
  /** Everything missing, tampered, malformed, unreadable or not found by the host loader. */
  readonly problems: LddProblem[];
  /** Why `ld.so --list` failed, when it did. */
  readonly hostLoaderError: string | null;
  readonly ok: boolean;
}

const BAD: ReadonlySet<NeededState> = new Set([
  'tampered',
  'missing',
  'malformed',
  'unreadable',
  'host-missing',
]);

/**
 * The resolved tree of a program: each `cas:` name with its hint, object path and whether the
 * object exists and hashes to its name (cald walks and hashes these itself), and each normal name
 * (the loader, excluded host libraries) where the host loader finds it (`ld.so --list` under the
 * audit environment). A tampered program object is an error, as for run.
 */
export async function ldd(options: LddOptions): Promise<LddReport> {
  if (typeof options.program !== 'string') throw new UsageError('ldd: `program` must be a string');
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const { path: storePath, store } = openFiles(
    { store: options.store, env, cwd },
    options.program.includes('/'),
  );
  const target = resolveTarget(options.program, store);
  const { elf, script, damage } = readProgram(target);
  if (script !== undefined) {
    const inner = await ldd({ ...options, program: script.uri });
    return {
      ...inner,
      script: {
        spec: options.program,
        path: target.path,
        digest: target.digest?.toString() ?? null,
        interpreter: script.uri,
        args: [...script.args],
      },
    };
  }
  if (damage !== undefined) {
    throw new ElfFormatError(damage.code as `ELF_${string}`, `${target.path}: ${damage.message}`, {
      hint: damage.hint ?? 'the file is truncated or corrupt',
      data: { ...damage.data, path: target.path },
    });
  }
  if (elf === undefined) {
    throw new ElfFormatError('ELF_NOT_ELF', `${target.path} is not an ELF file`, {
      hint: 'cald ldd shows the libraries of an ELF program; a script names its interpreter on its #! line',
      data: { path: target.path },
    });
  }
  let plan: ReturnType<typeof planLoader> | undefined;
  let loaderProblem: LddProblem | undefined;
  try {
    plan = planLoader(elf, store?.view);
  } catch (e) {
    if (!(isCaldError(e) && e.code === 'RUN_LOADER_MISSING')) throw e;
    const noted = interpreterNote(elf);
    loaderProblem = { name: `interpreter ${noted}`, state: 'missing', path: null, message: e.message };
  }
  const interpPath = elf.interp?.value;
  let interpreter: LddInterpreter | null = null;
  if (interpPath !== undefined) {
    let host: string | null = null;
    try {
      host = digestOfFile(interpPath).toString();
    } catch {
      host = null;
    }
    interpreter = {
      path: interpPath,
      noted: interpreterNote(elf)?.toString() ?? null,
      host,
      use: plan === undefined ? 'missing' : plan.kind === 'direct' ? 'host' : 'stored',
      stored: plan?.kind === 'stored-loader' ? plan.loader : null,
    };
  }
  let listing: HostListing | undefined;
  const loader = plan === undefined ? undefined : plan.kind === 'stored-loader' ? plan.loader : interpPath;
  if (options.hostLoader !== false && loader !== undefined) {
    const settings = modeSettings('audit', storePath, auditLibraryPath(env));
    listing = listWithLoader(loader, target.path, runEnvironment(env, settings));
  }
  const needed = neededTree({ store: store?.view, elf, host: listing });
  const problems: LddProblem[] = loaderProblem === undefined ? [] : [loaderProblem];
  const reported = new Set<string>();
  for (const n of nodesOf(needed)) {
    if (!BAD.has(n.state) || reported.has(n.name)) continue;
    reported.add(n.name);
    problems.push({
      name: n.name,
      state: n.state,
      path: n.path,
      ...(n.message === undefined ? {} : { message: n.message }),
    });
  }
  return {
    program: {
      spec: options.program,
      path: target.path,
      digest: target.digest?.toString() ?? null,
      state: target.digest === undefined ? 'not-in-store' : 'verified',
      argv0: target.argv0,
    },
    store: storePath,
    interpreter,
    needed,
    problems,
    hostLoaderError: listing?.error ?? null,
    ok: problems.length === 0,
  };
}

import { basename } from 'node:path';
import { type Closure, resolveClosure, type SnapshotFs, type WalkedFile } from '../closure/index.js';
import { CaldError } from '../errors/index.js';
import type { ImportInput, ImportNode } from '../importer/import-closure.js';

// The closure walk every import shares (files, directories of ELF files, trees): each root's
// closure found as ld.so would, merged into one graph of real paths for the importer, with the
// libraries that stay host-provided kept as plain names.

/**
 * Libraries that stay host-provided by default: GPU and graphics drivers must match the running
 * kernel and hardware, so the host's copy is the right one (prior-art.md).
 */
export const DEFAULT_HOST_PROVIDED = [
  'libGL.so*',
  'libGLX*.so*',
  'libEGL*.so*',
  'libGLES*.so*',
  'libGLdispatch.so*',
  'libOpenGL.so*',
  'libvulkan.so*',
  'libcuda.so*',
  'libnvidia-*.so*',
  'libOpenCL.so*',
] as const;

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Whether a name or path stays host-provided: the defaults (unless turned off) and --exclude. */
export function hostProvidedTest(options: {
  noDefaultExcludes?: boolean | undefined;
  exclude?: readonly string[] | undefined;
}): (path: string) => boolean {
  const patterns = [
    ...(options.noDefaultExcludes === true ? [] : DEFAULT_HOST_PROVIDED),
    ...(options.exclude ?? []),
  ].map(globToRegExp);
  return (path) => patterns.some((re) => re.test(basename(path)) || re.test(path));
}

function missingError(closure: Closure): CaldError {
  const m = closure.missing[0]!;
  if (m.formatError !== undefined) return m.formatError;
  const dirs = m.searched.flatMap((s) => s.dirs).slice(0, 6);
  return new CaldError(
    'IMPORT_MISSING_LIBRARY',
    `${m.neededByPath} needs ${m.name}: ${m.reason}${closure.missing.length > 1 ? ` (and ${closure.missing.length - 1} more missing)` : ''}`,
    {
      hint: `install the library${dirs.length > 0 ? ` (searched ${dirs.join(', ')})` : ''}, or keep it host-provided with --exclude '${m.name}'`,
      data: {
        missing: closure.missing.map((x) => ({ name: x.name, neededBy: x.neededByPath, reason: x.reason })),
      },
    },
  );
}

function interpreterError(root: string, closure: Closure): CaldError {
  const i = closure.interpreter!;
  return new CaldError(
    'IMPORT_BAD_INTERPRETER',
    `${root}: its interpreter ${i.requested} ${i.problem ?? ''}`,
    {
      hint: "PT_INTERP must name the ELF loader for the program's machine (e.g. /lib64/ld-linux-x86-64.so.2); cald reads it, never runs it",
      data: { path: root, interpreter: i.requested },
    },
  );
}

export interface WalkedClosures {
  readonly nodes: Map<string, ImportNode>;
  /** Real path -> the path the walk read it by. */
  readonly walkedAs: Map<string, string>;
  readonly interpreter: string | undefined;
  readonly warnings: string[];
  /** The bytes the walk read, for a real path (the rewrite works on those very bytes). */
  walked(path: string): WalkedFile;
}

/**
 * Walks each root's closure through `fs` and merges them. A library that is missing and not
 * host-provided, a bad interpreter, or two roots with different interpreters is one error.
 */
export function walkClosures(options: {
  roots: readonly string[];
  fs: SnapshotFs;
  ldLibraryPath: string | undefined;
  hostProvided: (path: string) => boolean;
}): WalkedClosures {
  const { fs, hostProvided } = options;
  const nodes = new Map<string, ImportNode>();
  const walkedAs = new Map<string, string>();
  const warnings: string[] = [];
  let interpreter: string | undefined;
  for (const root of options.roots) {
    const closure = resolveClosure({
      program: root,
      fs,
      ...(options.ldLibraryPath === undefined ? {} : { env: { LD_LIBRARY_PATH: options.ldLibraryPath } }),
    });
    if (closure.interpreter?.problem !== undefined) throw interpreterError(root, closure);
    const missing = closure.missing.filter((m) => !hostProvided(m.name));
    if (missing.length > 0) throw missingError({ ...closure, missing });
    warnings.push(...closure.warnings);
    for (const o of closure.objects) if (!walkedAs.has(o.realPath)) walkedAs.set(o.realPath, o.source);
    const interp = closure.interpreter?.realPath;
    if (interp !== undefined) {
      if (!walkedAs.has(interp)) walkedAs.set(interp, interp);
      if (interpreter !== undefined && interpreter !== interp) {
        throw new CaldError(
          'IMPORT_MIXED_INTERPRETERS',
          `${root} uses the interpreter ${interp}, others use ${interpreter}`,
          { hint: 'import programs for different loaders in separate calls' },
        );
      }
      interpreter = interp;
    }
    for (const o of closure.objects) {
      if (nodes.has(o.realPath)) continue;
      nodes.set(o.realPath, {
        path: o.realPath,
        needed: o.needed.map((e) => ({
          name: e.name,
          // A missing host-provided library stays a plain name: a target the importer keeps.
          target:
            e.object !== undefined
              ? closure.objects[e.object]!.realPath
              : hostProvided(e.name)
                ? `host:${e.name}`
                : undefined,
        })),
      });
    }
  }
  return {
    nodes,
    walkedAs,
    interpreter,
    warnings,
    walked(p) {
      const f = fs.walked(walkedAs.get(p) ?? p);
      if (f === undefined) throw new CaldError('IMPORT_NOT_READ', `${p} was not read by the closure walk`);
      return f;
    },
  };
}

/**
 * The part of importClosure's input that file and tree imports build alike from a walk: its nodes,
 * the roots, the interpreter, what stays on the host, and each file's bytes and executable bit as
 * the walk read them. Each import adds what is its own (privacy, read-ahead, tree paths).
 */
export function walkedInput(
  walk: WalkedClosures,
  roots: readonly string[],
  fs: SnapshotFs,
  hostProvided: (path: string) => boolean,
  audit: string | undefined,
): Pick<
  ImportInput,
  'nodes' | 'roots' | 'interpreter' | 'hostProvided' | 'readFile' | 'isExecutable' | 'audit'
> {
  return {
    nodes: walk.nodes,
    roots,
    interpreter: walk.interpreter,
    hostProvided: (p) => p.startsWith('host:') || hostProvided(p),
    readFile: (p) => fs.source(walk.walked(p).path)!.bytes,
    isExecutable: (p) => (walk.walked(p).mode & 0o111) !== 0,
    ...(audit === undefined ? {} : { audit }),
  };
}

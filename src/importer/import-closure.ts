import type { ElfEdit } from '../elf/edit/index.js';
import { editElf } from '../elf/edit/index.js';
import { DT_AUDIT } from '../elf/format/constants.js';
import { ElfFile } from '../elf/read/index.js';
import { CaldError } from '../errors/index.js';
import { type Digest, digestOfBuffer, formatCasName, hintFromName, type LocalStore } from '../store/index.js';
import {
  CALD_NOTE_OWNER,
  interpreterNoteDesc,
  NT_CALD_INTERP,
  NT_CALD_PATHS,
  pathNoteDesc,
  pathNoteRefs,
} from './cald-note.js';
import { type DagNode, orderBottomUp } from './dag.js';
import { checkOneGlibc } from './glibc-check.js';

/** One file of the closure, as the closure resolver found it. */
export interface ImportNode {
  /** Real path: the node's key. */
  path: string;
  /** Each DT_NEEDED name in order, with the path of the node it resolves to (undefined: not found). */
  needed: ReadonlyArray<{ name: string; target: string | undefined }>;
}

export interface ImportInput {
  nodes: ReadonlyMap<string, ImportNode>;
  /** The files imported on purpose (programs, libraries, --with files), in the order given. */
  roots: readonly string[];
  /** Real path of the programs' interpreter (ld.so): it keeps its name everywhere. */
  interpreter: string | undefined;
  /** Libraries that stay host-provided: referred to by their original name. */
  hostProvided: (path: string) => boolean;
  readFile: (path: string) => Buffer;
  /** Whether a file was executable (mode & 0o111): programs stay runnable in the store. */
  isExecutable: (path: string) => boolean;
  /**
   * A DT_AUDIT name to give the imported programs (roots with PT_INTERP), so they resolve their
   * content names with no environment once that audit library is installed where ld.so finds it.
   */
  audit?: string;
}

export interface ImportedObject {
  /** The original file. */
  path: string;
  digest: Digest;
  /** The object's content name, with the original file name as hint when it fits. */
  uri: string;
  executable: boolean;
}

export interface ImportOutcome {
  /** Every stored object, bottom-up (dependencies first). */
  objects: ImportedObject[];
  /** The objects of the roots, in the order given. */
  roots: ImportedObject[];
  /** The interpreter, stored as is (never referred to by a content name). */
  loader: ImportedObject | undefined;
  /** Edges dropped to break dependency cycles: [from path, needed name]. */
  droppedCycleEdges: Array<[string, string]>;
  /** Names kept as they were because they refer to the loader or a host-provided library. */
  keptNames: Array<[string, string]>;
}

export type ImportProgress = (done: number, total: number, path: string) => void;

function missingError(missing: Array<[string, string]>): CaldError {
  const [from, name] = missing[0]!;
  const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
  return new CaldError(
    'IMPORT_MISSING_LIBRARY',
    `${from} needs ${name}, which the loader would not find${more}`,
    {
      hint: 'install the library, pass --library-path, or exclude it with --exclude to keep it host-provided',
      data: { missing: missing.map(([f, n]) => ({ from: f, name: n })) },
    },
  );
}

/**
 * Imports a resolved closure bottom-up: each object's DT_NEEDED becomes the content name of its
 * dependency's rewritten bytes, so an object's digest pins everything below it (a Merkle DAG).
 * Pure with respect to the inputs: the same files give the same digests on any machine.
 */
export async function importClosure(
  store: LocalStore,
  input: ImportInput,
  progress?: ImportProgress,
): Promise<ImportOutcome> {
  const { nodes } = input;
  const keep = (target: string | undefined) =>
    target !== undefined && (target === input.interpreter || input.hostProvided(target));
  const missing: Array<[string, string]> = [];
  for (const n of nodes.values()) {
    for (const d of n.needed) if (d.target === undefined) missing.push([n.path, d.name]);
  }
  if (missing.length > 0) throw missingError(missing);

  const dag = new Map<string, DagNode>();
  for (const n of nodes.values()) {
    if (keep(n.path)) continue;
    dag.set(n.path, { id: n.path, deps: n.needed.filter((d) => !keep(d.target)).map((d) => d.target!) });
  }
  checkOneGlibc(input.interpreter, [...dag.keys()], input.readFile);

  let loader: ImportedObject | undefined;
  if (input.interpreter !== undefined) {
    const digest = await store.put(input.readFile(input.interpreter), { executable: true, refs: [] });
    loader = {
      path: input.interpreter,
      digest,
      uri: formatCasName(digest, hintFromName(input.interpreter)),
      executable: true,
    };
  }

  // One file in memory at a time: a closure can be hundreds of megabytes.
  const sorted = orderBottomUp(dag, (id) => digestOfBuffer(input.readFile(id)).hex);
  const { dropped } = sorted;
  // Programs among the roots come last, so their path note can name every other file imported
  // with them (python's extension modules, dlopened by path). Nothing depends on a program.
  const depended = new Set([...dag.values()].flatMap((n) => n.deps));
  const isProgram = (p: string) =>
    input.roots.includes(p) && !depended.has(p) && ElfFile.parse(input.readFile(p)).interp !== undefined;
  const programs = new Set(sorted.order.filter(isProgram));
  const order = [...sorted.order.filter((p) => !programs.has(p)), ...programs];
  const droppedSet = new Set(dropped.map(([a, b]) => `${a}\0${b}`));
  const done = new Map<string, ImportedObject>();
  const keptNames: Array<[string, string]> = [];
  const droppedCycleEdges: Array<[string, string]> = [];
  for (const path of order) {
    const node = nodes.get(path)!;
    const original = input.readFile(path);
    const elf = ElfFile.parse(original);
    const edits: ElfEdit[] = [];
    let hostDeps = false;
    for (const d of node.needed) {
      if (keep(d.target)) {
        keptNames.push([path, d.name]);
        if (d.target !== input.interpreter) hostDeps = true;
      } else if (droppedSet.has(`${path}\0${d.target}`)) {
        edits.push({ kind: 'removeNeeded', name: d.name });
        droppedCycleEdges.push([path, d.name]);
      } else {
        const dep = done.get(d.target!)!;
        edits.push({
          kind: 'replaceNeeded',
          from: d.name,
          to: formatCasName(dep.digest, hintFromName(d.name)),
        });
      }
    }
    // Search paths only matter for names that are still searched; dropping them keeps the host's
    // directories (and the store's own path) out of the object.
    if (!hostDeps) edits.push({ kind: 'removeSearchPath' });
    if (input.audit !== undefined && elf.interp !== undefined && input.roots.includes(path)) {
      edits.push({ kind: 'setDynamic', tag: DT_AUDIT, value: input.audit });
    }
    if (elf.interp !== undefined && loader !== undefined) {
      edits.push({
        kind: 'setNote',
        name: CALD_NOTE_OWNER,
        type: NT_CALD_INTERP,
        desc: interpreterNoteDesc(loader.digest),
      });
    }
    const withIt = programs.has(path) ? input.roots.filter((r) => !programs.has(r) && done.has(r)) : [];
    const pathNote = pathNoteDesc(withIt.map((r) => [r, done.get(r)!.digest] as const));
    if (withIt.length > 0)
      edits.push({ kind: 'setNote', name: CALD_NOTE_OWNER, type: NT_CALD_PATHS, desc: pathNote });
    const out = editElf(original, edits).buffer;
    const executable = input.isExecutable(path);
    const names = [...new Set(edits.flatMap((e) => (e.kind === 'replaceNeeded' ? [e.to] : [])))];
    const refs = [
      ...names,
      ...(loader !== undefined && elf.interp !== undefined ? [`cas:${loader.digest.toString()}`] : []),
      ...pathNoteRefs(pathNote),
    ];
    const digest = await store.put(out, { executable, refs });
    // The name directory: entries named exactly like the DT_NEEDED strings now in use.
    for (const name of names) store.addName(name);
    // So a dlopen of the original path (python's extension modules) reaches the object.
    store.addPath(path, digest);
    done.set(path, { path, digest, uri: formatCasName(digest, hintFromName(path)), executable });
    progress?.(done.size, order.length, path);
  }
  return {
    objects: order.map((p) => done.get(p)!),
    roots: input.roots
      .map((p) => done.get(p) ?? (p === loader?.path ? loader : undefined))
      .filter((o) => o !== undefined),
    loader,
    droppedCycleEdges,
    keptNames,
  };
}

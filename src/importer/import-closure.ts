import { dynamicInfoOfBuffer } from '../closure/index.js';
import type { ElfEdit } from '../elf/edit/index.js';
import { editElf } from '../elf/edit/index.js';
import { DF_1_PIE, DT_AUDIT, DT_FLAGS_1, ET_DYN, ET_EXEC } from '../elf/format/constants.js';
import { ElfFile } from '../elf/read/index.js';
import { CaldError, ElfEditError, ElfFormatError } from '../errors/index.js';
import {
  auditSentinelTarget,
  type Digest,
  digestOfBuffer,
  formatAuditSentinel,
  formatCasName,
  hintFromName,
  type LocalStore,
} from '../store/index.js';
import { emptySharedObject } from './audit-sentinel.js';
import {
  CALD_NOTE_OWNER,
  interpreterNoteDesc,
  NT_CALD_INTERP,
  NT_CALD_PATHS,
  NT_CALD_TREE,
  pathNoteDesc,
  pathNoteRefs,
  treeNoteDesc,
} from './cald-note.js';
import { type DagNode, orderBottomUp } from './dag.js';
import { dropCachedPages } from './drop-cache.js';
import { checkOneGlibc } from './glibc-check.js';
import { ObjectBatch } from './object-batch.js';

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
  /** The bytes of a node, exactly as the closure walk read them (read once, never again). */
  readFile: (path: string) => Buffer;
  /**
   * readFile's buffers are the importer's to rewrite in place once it has read them (each in
   * memory of its own, not Node's shared pool; nothing reads them afterwards): no copy per file.
   */
  rewriteInPlace?: boolean;
  /** readFile, taking bytes read ahead (readAhead) when there are some. */
  readFileAsync?: (path: string) => Promise<Buffer>;
  /** Starts reading, off the event loop, a file the import asks for next. */
  readAhead?: (path: string) => void;
  /**
   * Called with each buffer readFile or readFileAsync gave (and each the rewrite made of one) once
   * its object is written: the import reads those bytes no more, and asks for that file no more,
   * so their memory may be lent to the next file's read.
   */
  releaseBytes?: (bytes: Uint8Array) => void;
  /** Whether a file was executable (mode & 0o111): programs stay runnable in the store. */
  isExecutable: (path: string) => boolean;
  /** Whether others could not read the file: its object is then stored for the owner only. */
  isPrivate?: (path: string) => boolean;
  /** The mode of a directory of an imported file, which its mirror under paths/ keeps. */
  dirMode?: (dir: string) => number;
  /**
   * A DT_AUDIT name to give the imported programs (roots with PT_INTERP), so they resolve their
   * content names with no environment once that audit library is installed where ld.so finds it.
   */
  audit?: string;
  /**
   * A tree import (docs/trees.md): each program gets a tree note (NT_CALD_TREE: its own paths
   * inside the tree and every other ELF file's) instead of a path note, and nothing is recorded
   * under paths/ (the files' original paths may be a temporary extraction). `pathsOf` gives the
   * paths inside the tree (each starting with "/") at which a real file appears.
   */
  tree?: { pathsOf: (realPath: string) => readonly string[] };
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

/** Runs an ELF step on one file; its errors name the file, so the one line says which. */
function namingFile<T>(path: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (!(e instanceof ElfFormatError || e instanceof ElfEditError) || e.message.startsWith(`${path}:`))
      throw e;
    const options = {
      ...(e.hint === undefined ? {} : { hint: e.hint }),
      data: { ...e.data, path },
      cause: e,
    };
    throw e instanceof ElfFormatError
      ? new ElfFormatError(e.code as `ELF_${string}`, `${path}: ${e.message}`, options)
      : new ElfEditError(e.code as `EDIT_${string}`, `${path}: ${e.message}`, options);
  }
}

/**
 * What a root is: a program (it has an interpreter), a static program (an executable without
 * one: ET_EXEC, or ET_DYN marked DF_1_PIE, a static-pie such as ldconfig), or a library.
 */
function rootKind(path: string, bytes: Buffer): 'program' | 'static' | 'library' {
  const elf = namingFile(path, () => ElfFile.parse(bytes));
  if (elf.interp !== undefined) return 'program';
  const type = elf.header.type;
  const pie = type === ET_DYN && ((namingFile(path, () => elf.dynValue(DT_FLAGS_1)) ?? 0n) & DF_1_PIE) !== 0n;
  return type === ET_EXEC || pie ? 'static' : 'library';
}

/** The rewrite's parse must see the DT_NEEDED list the closure walk resolved, entry for entry. */
function checkSameNeeded(path: string, elf: ElfFile, node: ImportNode): void {
  const have = namingFile(path, () => elf.needed);
  if (have.length !== node.needed.length || have.some((n, i) => n !== node.needed[i]!.name)) {
    throw new CaldError(
      'IMPORT_NEEDED_MISMATCH',
      `${path}: its dynamic table lists ${have.length} DT_NEEDED entries where the closure walk read ${node.needed.length}`,
      {
        hint: "the file's section headers and program headers disagree about its dynamic table; it is corrupt",
        data: { path },
      },
    );
  }
}

/**
 * What is stored must say exactly what the import decided: every DT_NEEDED a content name this
 * import produced or a name it kept on purpose, in the file's order, and nothing else.
 */
function checkNeededAfterEdit(path: string, out: Buffer, want: ReadonlyArray<string | null>): void {
  // Read back by the closure walk's own reader (headers, dynamic table, strings only).
  const got = dynamicInfoOfBuffer(out, path).needed;
  const expected = want.filter((n) => n !== null);
  if (got.length !== expected.length || got.some((n, i) => n !== expected[i])) {
    throw new CaldError(
      'IMPORT_UNCHECKED_NEEDED',
      `${path}: after the rewrite its DT_NEEDED entries are not the ones the import resolved`,
      { hint: 'nothing was stored for it; please report this with the file', data: { path } },
    );
  }
}

/**
 * Imports a resolved closure bottom-up: each object's DT_NEEDED becomes the content name of its
 * dependency's rewritten bytes, so an object's digest pins everything below it (a Merkle DAG).
 * Pure with respect to the inputs: the same files give the same digests on any machine.
 * The objects are written as one batch (object-batch.ts); names and paths follow once they are
 * all durable in objects/.
 */
export async function importClosure(
  store: LocalStore,
  input: ImportInput,
  progress?: ImportProgress,
): Promise<ImportOutcome> {
  const batch = new ObjectBatch(store);
  try {
    const { names, ...outcome } = await importInto(batch, input, progress);
    await batch.commit();
    // Written and synced: their pages go, so the first run maps them as it maps any library (a
    // helper process, while the names and paths are made). Objects written with O_DIRECT have none.
    const written = [...outcome.objects, ...(outcome.loader === undefined ? [] : [outcome.loader])];
    const cached = written.filter((o) => !batch.wroteDirect(o.digest));
    const dropped = dropCachedPages([...new Set(cached.map((o) => store.files.pathOf(o.digest)))]);
    try {
      store.addNames([...names]);
      // So a dlopen of the original path (python's extension modules) reaches the object. Not for a
      // tree: its files' original paths may be a temporary extraction (docs/trees.md).
      const dirMode = input.dirMode === undefined ? {} : { dirMode: input.dirMode };
      if (input.tree === undefined)
        store.addPaths(
          outcome.objects.map((o) => [o.path, o.digest] as const),
          dirMode,
        );
    } finally {
      await dropped;
    }
    return outcome;
  } catch (e) {
    await batch.discard();
    throw e;
  }
}

async function importInto(
  batch: ObjectBatch,
  input: ImportInput,
  progress: ImportProgress | undefined,
): Promise<ImportOutcome & { names: Set<string> }> {
  const { nodes } = input;
  const kept = new Map<string, boolean>();
  const keep = (target: string | undefined): boolean => {
    if (target === undefined) return false;
    let k = kept.get(target);
    if (k === undefined) {
      k = target === input.interpreter || input.hostProvided(target);
      kept.set(target, k);
    }
    return k;
  };
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
  const ownerOnly = (path: string) => input.isPrivate?.(path) === true;
  const release = (...buffers: Uint8Array[]) =>
    input.releaseBytes === undefined ? undefined : () => buffers.forEach(input.releaseBytes!);
  if (input.interpreter !== undefined) {
    const bytes = input.readFile(input.interpreter);
    const digest = await batch.add(
      bytes,
      { executable: true, ownerOnly: ownerOnly(input.interpreter), refs: [] },
      release(bytes),
    );
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
  // A root that is a static program (no interpreter: ET_EXEC, or a static-pie) loads no library
  // and cannot be dlopened either: it is in no program's path note.
  const rootKinds = new Map<string, 'program' | 'static' | 'library'>();
  for (const p of sorted.order) {
    if (input.roots.includes(p) && !depended.has(p)) rootKinds.set(p, rootKind(p, input.readFile(p)));
  }
  const programs = new Set(sorted.order.filter((p) => rootKinds.get(p) === 'program'));
  const order = [...sorted.order.filter((p) => !programs.has(p)), ...programs];
  const droppedSet = new Set(dropped.map(([a, b]) => `${a}\0${b}`));
  const done = new Map<string, ImportedObject>();
  const keptNames: Array<[string, string]> = [];
  const droppedCycleEdges: Array<[string, string]> = [];
  // The name directory: entries named exactly like the DT_NEEDED strings now in use.
  const allNames = new Set<string>();
  for (const [i, path] of order.entries()) {
    const node = nodes.get(path)!;
    const original =
      input.readFileAsync === undefined ? input.readFile(path) : await input.readFileAsync(path);
    // Read while this one is rewritten, hashed and written.
    if (i + 1 < order.length) input.readAhead?.(order[i + 1]!);
    const elf = namingFile(path, () => ElfFile.parse(original));
    checkSameNeeded(path, elf, node);
    // Every DT_NEEDED entry by position, in one pass: the new name, the name kept, or null (dropped).
    const newNames: Array<string | null> = [];
    const produced = new Set<string>();
    let hostDeps = false;
    // Each distinct name decided once: a file may repeat one DT_NEEDED thousands of times.
    const decided = new Map<string, string | null>();
    for (const d of node.needed) {
      const again = decided.get(d.name);
      if (again !== undefined) {
        newNames.push(again);
        continue;
      }
      if (keep(d.target)) {
        keptNames.push([path, d.name]);
        newNames.push(d.name);
        if (d.target !== input.interpreter) hostDeps = true;
      } else if (droppedSet.has(`${path}\0${d.target}`)) {
        newNames.push(null);
        droppedCycleEdges.push([path, d.name]);
      } else {
        const dep = done.get(d.target!)!;
        const to = formatCasName(dep.digest, hintFromName(d.name));
        newNames.push(to);
        produced.add(to);
      }
      decided.set(d.name, newNames.at(-1)!);
    }
    const edits: ElfEdit[] = node.needed.length > 0 ? [{ kind: 'setNeeded', names: newNames }] : [];
    // Search paths only matter for names that are still searched; dropping them keeps the host's
    // directories (and the store's own path) out of the object.
    if (!hostDeps) edits.push({ kind: 'removeSearchPath' });
    // An --audit program's first DT_NEEDED is the audit sentinel: without the resolver ld.so stops
    // there, before it searches for any cas: name (docs/threat-model.md, finding 6).
    let sentinel: string | undefined;
    if (input.audit !== undefined && elf.interp !== undefined && input.roots.includes(path)) {
      if (/(^|\/)ld-musl-/.test(elf.interp.value)) {
        throw new CaldError(
          'IMPORT_AUDIT_NOT_GLIBC',
          `${path}: --audit needs glibc's loader, and ${elf.interp.value} (musl) has no audit interface: the program could never start`,
          {
            hint: 'import it without --audit and run it through the name directory (--mode names)',
            data: { path },
          },
        );
      }
      const stub = await batch.add(emptySharedObject(elf.header), {
        executable: false,
        ownerOnly: false,
        refs: [],
      });
      sentinel = formatAuditSentinel(stub);
      edits.push({ kind: 'setDynamic', tag: DT_AUDIT, value: input.audit });
      edits.push({ kind: 'addNeeded', name: sentinel });
    }
    if (elf.interp !== undefined && loader !== undefined) {
      edits.push({
        kind: 'setNote',
        name: CALD_NOTE_OWNER,
        type: NT_CALD_INTERP,
        desc: interpreterNoteDesc(loader.digest),
      });
    }
    const withIt = programs.has(path)
      ? input.roots.filter(
          (r) => rootKinds.get(r) !== 'program' && rootKinds.get(r) !== 'static' && done.has(r),
        )
      : [];
    let pathNote: Buffer = Buffer.alloc(0);
    if (input.tree !== undefined && programs.has(path)) {
      const { pathsOf } = input.tree;
      pathNote = treeNoteDesc(
        pathsOf(path),
        withIt.flatMap((r) => pathsOf(r).map((p) => [p, done.get(r)!.digest] as const)),
      );
      edits.push({ kind: 'setNote', name: CALD_NOTE_OWNER, type: NT_CALD_TREE, desc: pathNote });
    } else if (withIt.length > 0) {
      pathNote = pathNoteDesc(withIt.map((r) => [r, done.get(r)!.digest] as const));
      edits.push({ kind: 'setNote', name: CALD_NOTE_OWNER, type: NT_CALD_PATHS, desc: pathNote });
    }
    const inPlace = input.rewriteInPlace === true ? { reuseInput: true } : {};
    const out = namingFile(path, () => editElf(original, edits, inPlace).buffer);
    checkNeededAfterEdit(path, out, sentinel === undefined ? newNames : [sentinel, ...newNames]);
    const executable = input.isExecutable(path);
    const names = [...produced];
    const refs = [
      ...(sentinel === undefined ? [] : [auditSentinelTarget(sentinel)!]),
      ...names,
      ...(loader !== undefined && elf.interp !== undefined ? [`cas:${loader.digest.toString()}`] : []),
      ...pathNoteRefs(pathNote),
    ];
    // The rewrite's output and the bytes read (the same memory unless the edit had to copy).
    const digest = await batch.add(
      out,
      { executable, ownerOnly: ownerOnly(path), refs },
      release(out, original),
    );
    for (const name of names) allNames.add(name);
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
    names: allNames,
  };
}

import { closeSync, existsSync, openSync, readlinkSync, readSync, realpathSync, unlink } from 'node:fs';
import { dirname } from 'node:path';
import { type EditOptions, type ElfEdit, editParsed } from '../elf/edit/index.js';
import { DT_FLAGS_1, PT_GNU_STACK, SHT_NOBITS } from '../elf/format/constants.js';
import { ElfFile } from '../elf/read/index.js';
import { CaldError, ElfEditError, ioErrorFrom, UsageError } from '../errors/index.js';
import { storeContaining } from '../store/containing-store.js';
import { type PatchedSource, replaceFilePatched, writeFileAtomic } from '../util/atomic-write.js';
import { INPUT_OPEN_FLAGS, openInput } from '../util/input-file.js';
import { type Holes, readTables, readWhole } from './read-tables.js';

export type { ElfEdit } from '../elf/edit/index.js';

/**
 * What a file says before it is edited, for callers that choose their edits from it (patchelf's
 * --print-* flags, --shrink-rpath). Strings are ELF byte strings (util/elf-string.ts).
 */
export interface ElfSummary {
  is64: boolean;
  littleEndian: boolean;
  /** e_type: 2 ET_EXEC, 3 ET_DYN, 1 ET_REL... */
  type: number;
  machine: number;
  /** e_ident[EI_OSABI]. */
  osAbi: number;
  interpreter: string | undefined;
  /** False for a file without a dynamic section (statically linked, or an object file). */
  hasDynamic: boolean;
  /** A separate debug-info file: its dynamic section is named but its bytes were left out. */
  dynamicStripped: boolean;
  needed: string[];
  /** The vn_file of every Elf_Verneed record (the libraries whose symbol versions it needs). */
  verneedFiles: string[];
  rpath: string | undefined;
  runpath: string | undefined;
  soname: string | undefined;
  /** The tags of the dynamic entries, in file order. */
  dynamicTags: bigint[];
  /** DT_FLAGS_1, when the file has it. */
  flags1: bigint | undefined;
  /** PT_GNU_STACK's flags, when the file has that segment. */
  gnuStackFlags: number | undefined;
  /**
   * What is wrong with the section-name table e_shstrndx names (undefined when nothing is, or the
   * file has no section headers). The loader never reads it; patchelf refuses such files.
   */
  sectionNamesProblem: string | undefined;
}

/** The file handed to an `edits` callback. */
export interface PatchTarget {
  path: string;
  /**
   * The file, parsed; valid only until the callback's promise settles (the memory is reused). It
   * may have been read in part (its code and data left out): a read of what was not read throws
   * ELF_NOT_READ, and everything the summary says is there.
   */
  elf: ElfFile;
  summary: ElfSummary;
}

export interface PatchFileOptions {
  /** The ELF file to edit. */
  path: string;
  /**
   * Where to write the result instead of `path`. The result is then written even when nothing
   * changed (as patchelf --output does), with `path`'s permission bits for a new file.
   */
  output?: string;
  /**
   * The edits, applied in order in one pass; or a function that chooses them from the file as
   * it is (called once, after the file is read and parsed).
   */
  edits: readonly ElfEdit[] | ((target: PatchTarget) => readonly ElfEdit[] | Promise<readonly ElfEdit[]>);
  /** Page size for a new loadable segment; by default derived from the machine and the file. */
  pageSize?: number;
  /** fsync what is written (default true). The write is atomic either way. */
  durable?: boolean;
  /**
   * Shared by the calls of one batch (patchSession()): what the batch has learnt about directories
   * (whether they lie in a cald store) is not looked up again for every file.
   */
  session?: PatchSession;
}

/** What one batch of patchFile calls over many files remembers between them. */
export interface PatchSession {
  /** Real directory -> the store it lies in (null: none). */
  readonly storeOfDir: Map<string, string | null>;
  /**
   * Replaced files' old contents, being removed on the thread pool while the batch goes on
   * (replaceFilePatched's releaseOld); each settles to the hidden name it failed to remove, if any.
   */
  readonly releasing: Array<Promise<string | undefined>>;
}

/**
 * A session for a batch of patchFile calls made together (one command over many files). Not for
 * a long-lived process: a store made in a directory after the session looked at it goes unseen.
 * End it with finishPatchSession.
 */
export function patchSession(): PatchSession {
  return { storeOfDir: new Map(), releasing: [] };
}

/**
 * Waits until the old contents of every file the session replaced are removed; returns the
 * hidden names (`.NAME.cald-PID-TAG-N.old` beside a replaced file) that could not be.
 */
export async function finishPatchSession(session: PatchSession): Promise<string[]> {
  const left = await Promise.all(session.releasing.splice(0));
  return left.filter((p) => p !== undefined);
}

function releaseLater(session: PatchSession): (oldLink: string) => void {
  return (oldLink) => {
    session.releasing.push(
      new Promise((done) =>
        unlink(oldLink, (e) => done(e === null || e.code === 'ENOENT' ? undefined : oldLink)),
      ),
    );
  };
}

export interface PatchFileResult {
  /** True when the edits changed the file's contents. */
  changed: boolean;
  /** The file written (`output` or `path`), or null when nothing was written. */
  written: string | null;
  sizeBefore: number;
  sizeAfter: number;
}

/**
 * Reads an ELF file, applies `edits` in one editElf call, and writes the result atomically
 * (util/atomic-write.ts) when it changed — or always, to `output` when one is given. A no-op
 * edit leaves the file untouched (same bytes, same mtime). Throws IoError when the file cannot
 * be read or written, ElfFormatError when it is not a well-formed ELF file, ElfEditError when an
 * edit cannot be made; nothing is written in those cases.
 */
export async function patchFile(options: PatchFileOptions): Promise<PatchFileResult> {
  const { path, output } = options;
  if (typeof path !== 'string' || path === '') {
    throw new UsageError('patchFile: `path` must be a non-empty string');
  }
  if (output !== undefined && (typeof output !== 'string' || output === '')) {
    throw new UsageError('patchFile: `output` must be a non-empty string when given');
  }
  let file: ReadFile;
  const memory = takeMemory();
  try {
    // The result of an edit in place is a copy of the file plus what the edit writes: its code
    // and data need not be read. A result written elsewhere is written whole.
    file = readWithRoom(path, memory, output === undefined);
  } catch (e) {
    memory.release();
    throw ioErrorFrom(e, 'read', path);
  }
  try {
    return await patchBuffer(options, file);
  } finally {
    memory.release();
  }
}

async function patchBuffer(options: PatchFileOptions, file: ReadFile): Promise<PatchFileResult> {
  const { path, output, edits, pageSize } = options;
  const { buffer, owner } = file;
  const durable = options.durable !== false;
  // Parsed once: the edit works on this parse too.
  let elf: ElfFile;
  let summary: ElfSummary;
  try {
    elf = ElfFile.parse(buffer, file.holes);
    summary = summarize(elf);
  } catch (e) {
    if (!notRead(e)) throw e;
    elf = ElfFile.parse(readRest(file));
    summary = summarize(elf);
  }
  const list = typeof edits === 'function' ? await edits({ path, elf, summary }) : edits;
  // Printing from a stored object is fine; writing into a store never is.
  if (output !== undefined) refuseStoreFile(output);
  else if (list.length > 0) refuseStoreFile(path, realPathOf(file), options.session);
  // The buffer is ours alone: the edit writes into it (and its room) instead of copying the file.
  const editOptions: EditOptions = { reuseInput: true, ...(pageSize === undefined ? {} : { pageSize }) };
  let result: ReturnType<typeof editParsed>;
  try {
    result = editParsed(elf, list, editOptions);
  } catch (e) {
    if (!notRead(e)) throw e;
    // The edit needs bytes left out (rare: tables inside large data sections): all of them, again.
    result = editParsed(ElfFile.parse(readRest(file)), list, editOptions);
  }
  const sizeBefore = buffer.length;
  const sizeAfter = result.buffer.length;
  if (output !== undefined) {
    const exists = existsSync(output);
    await writeFileAtomic(output, result.buffer, { ...(exists ? {} : { mode: owner.mode }), durable });
    return { changed: result.changed, written: output, sizeBefore, sizeAfter };
  }
  if (!result.changed) return { changed: false, written: null, sizeBefore, sizeAfter };
  // The file read is the file replaced: its real path and owner are known, not looked up again.
  // Only the ranges the edit wrote go through this process; the kernel copies the rest.
  const release = options.session === undefined ? {} : { releaseOld: releaseLater(options.session) };
  replaceFilePatched(path, realPathOf(file), owner, result.buffer, result.written, { durable, ...release });
  return { changed: true, written: path, sizeBefore, sizeAfter };
}

/**
 * Stored objects are named by their content: an edit would make the name a lie (run and the
 * resolver then refuse it, a launcher may still run it). Nothing inside any store is edited.
 * `real` is the file's real path when known; a session remembers each directory's answer.
 */
function refuseStoreFile(path: string, real?: string, session?: PatchSession): void {
  const found = real === undefined ? storeContaining(path) : storeOfFile(real, session);
  if (found === undefined) return;
  const { store, real: leadsTo } = found;
  const via = leadsTo === path ? '' : ` (it leads to ${leadsTo})`;
  throw new ElfEditError(
    'EDIT_IN_STORE',
    `${path} is inside the cald store ${store}${via}; stored objects are never edited`,
    {
      hint: 'copy it out of the store and edit the copy (cp --no-preserve=mode OBJECT ./prog), then cald import that',
      data: { path, store },
    },
  );
}

function storeOfFile(
  real: string,
  session: PatchSession | undefined,
): { store: string; real: string } | undefined {
  const dir = dirname(real);
  const known = session?.storeOfDir.get(dir);
  if (known !== undefined) return known === null ? undefined : { store: known, real };
  // The directory is real already: the store above it is the store above the file.
  const store = storeContaining(dir)?.store ?? null;
  session?.storeOfDir.set(dir, store);
  return store === null ? undefined : { store, real };
}

interface Memory {
  get(size: number): Buffer;
  release(): void;
}

/**
 * One block of memory reused from file to file (a closure of hundreds of files would otherwise
 * allocate, and collect, its size over again); a call that overlaps another gets its own.
 */
let spare: ArrayBuffer | undefined;
let spareInUse = false;

function takeMemory(): Memory {
  const shared = !spareInUse;
  if (shared) spareInUse = true;
  return {
    get(size) {
      if (!shared) return Buffer.allocUnsafeSlow(size);
      if (spare === undefined || spare.byteLength < size) spare = new ArrayBuffer(size);
      return Buffer.from(spare, 0, size);
    },
    release() {
      if (shared) spareInUse = false;
    },
  };
}

function notRead(e: unknown): boolean {
  return e instanceof CaldError && e.code === 'ELF_NOT_READ';
}

/** Reads what readWithRoom left out (the whole file again, into the same memory); returns it. */
function readRest(file: ReadFile): Buffer {
  if (file.holes.length === 0) throw new Error('internal: a read was refused in a file read whole');
  let fd: number | undefined;
  try {
    fd = openSync(file.real ?? file.path, INPUT_OPEN_FLAGS);
    readWhole(fd, file.buffer, file.buffer.length);
  } catch (e) {
    throw ioErrorFrom(e, 'read', file.path);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  file.holes = [];
  return file.buffer;
}

interface ReadFile {
  path: string;
  buffer: Buffer;
  /** What was not read (readTables); empty once the whole file is. */
  holes: Holes;
  /** Owner, mode and identity of the file read (an edit replaces exactly this file). */
  owner: PatchedSource;
  /** The real path (symbolic links resolved) of the file opened, when /proc told it. */
  real: string | undefined;
}

/** The real path of the file read: from /proc while it was open, else resolved now. */
function realPathOf(file: ReadFile): string {
  if (file.real !== undefined) return file.real;
  try {
    return realpathSync(file.path);
  } catch (e) {
    throw ioErrorFrom(e, 'write', file.path);
  }
}

/**
 * Reads the file into memory of its own with room after it, so an edit that appends a segment
 * writes there instead of copying the whole file; `partial`: without its code and data (holes).
 * Synchronous: over a closure of hundreds of files, thread-pool round trips cost more than the reads.
 */
function readWithRoom(path: string, memory: Memory, partial: boolean): ReadFile {
  const { fd, st } = openInput(path);
  try {
    // One system call for what realpath would find with one per path component.
    let real: string | undefined;
    try {
      real = readlinkSync(`/proc/self/fd/${fd}`);
      if (!real.startsWith('/') || real.endsWith(' (deleted)')) real = undefined;
    } catch {}
    const room = memory.get(st.size + 64 * 1024 + Math.floor(st.size / 16));
    let size = st.size;
    let holes: Holes = [];
    if (partial) holes = readTables(fd, room, size);
    else {
      size = 0;
      for (;;) {
        const n = readSync(fd, room, size, room.length - size, null);
        if (n === 0) break;
        size += n;
        if (size === room.length) throw new Error('the file grew while it was read');
      }
    }
    const owner: PatchedSource = {
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: st.size,
      ino: st.ino,
      mtimeMs: st.mtimeMs,
      ctimeMs: st.ctimeMs,
    };
    return { path, buffer: room.subarray(0, size), holes, owner, real };
  } finally {
    closeSync(fd);
  }
}

function summarize(elf: ElfFile): ElfSummary {
  const h = elf.header;
  return {
    is64: h.is64,
    littleEndian: h.littleEndian,
    type: h.type,
    machine: h.machine,
    osAbi: h.osabi,
    interpreter: elf.interp?.value,
    hasDynamic: elf.dynamic !== undefined,
    dynamicStripped: elf.dynamicStripped,
    needed: elf.needed,
    verneedFiles: elf.versionNeeds.map((v) => v.file),
    rpath: elf.rpath,
    runpath: elf.runpath,
    soname: elf.soname,
    dynamicTags: elf.dynamicEntries.map((e) => e.tag),
    flags1: elf.dynValue(DT_FLAGS_1),
    gnuStackFlags: elf.programHeaders.find((p) => p.type === PT_GNU_STACK)?.flags,
    sectionNamesProblem: sectionNamesProblem(elf),
  };
}

function sectionNamesProblem(elf: ElfFile): string | undefined {
  const n = elf.sections.length;
  if (n === 0) return undefined;
  const index = elf.header.shstrndx;
  if (index >= n) return `its section-name table index e_shstrndx ${index} is out of range (${n} sections)`;
  const table = elf.sections[index]!;
  if (table.size === 0) return `its section-name table (section ${index}) is empty`;
  if (
    table.type === SHT_NOBITS ||
    elf.view.bytesAt(table.offset + table.size - 1, 1, 'section names')[0] !== 0
  )
    return `its section-name table (section ${index}) does not end with a NUL byte`;
  return undefined;
}

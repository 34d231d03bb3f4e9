// The two operations' own modules, not api/index.js: that one loads the store, the importer and
// SQLite, which `cald patchelf` (run once per file by build scripts) never needs.
import {
  type ElfEdit,
  type ElfSummary,
  type PatchSession,
  type PatchTarget,
  patchFile,
} from '../../api/patch-file.js';
import { CaldError } from '../../errors/index.js';
import type { PatchelfRequest } from './args.js';

/** Where the patchelf command writes: stdout takes bytes (ELF strings are printed byte for byte). */
export interface PatchelfIo {
  out(data: string | Uint8Array): void;
  err(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
}

const ET_DYN = 3;
const ET_EXEC = 2;
const DT_DEBUG = 21n;
const DF_1_NODEFLIB = 0x800n;
const PF_X = 1;

/** e_ident[EI_OSABI] names as patchelf prints them. */
const OS_ABI_NAMES: Readonly<Record<number, string>> = {
  0: 'System V',
  1: 'HP-UX',
  2: 'NetBSD',
  3: 'Linux',
  4: 'GNU Hurd',
  6: 'Solaris',
  7: 'AIX',
  8: 'IRIX',
  9: 'FreeBSD',
  10: 'Tru64',
  12: 'OpenBSD',
  13: 'OpenVMS',
};

export function osAbiName(abi: number): string {
  return OS_ABI_NAMES[abi] ?? `0x${abi.toString(16).toUpperCase().padStart(2, '0')}`;
}

class PatchelfError extends CaldError {}

function noDynamic(path: string, what: string): PatchelfError {
  return new PatchelfError(
    'EDIT_NO_DYNAMIC',
    `cannot ${what}: ${path} has no dynamic section (statically linked?)`,
    { hint: 'only dynamically linked programs and shared libraries have these entries', data: { path } },
  );
}

/** A line of ELF bytes for stdout. */
function line(bytes: string): Buffer {
  return Buffer.from(`${bytes}\n`, 'latin1');
}

/**
 * Patches (or prints from) one file as patchelf does for each file on its command line:
 * the prints, in patchelf's order, show the file as it was; then every edit is made in one pass.
 */
export async function patchOne(
  req: PatchelfRequest,
  path: string,
  io: PatchelfIo,
  debug: boolean,
  session?: PatchSession,
): Promise<void> {
  const say = (text: string): void => {
    if (debug) io.err(`${text}\n`);
  };
  const printOnly = req.printInterpreter || req.printRpath || req.printSoname || req.printNeeded;
  if (!printOnly) say(`patching ELF file '${path}'`);
  const output = req.output ?? (req.alwaysWrite ? path : undefined);
  const result = await patchFile({
    path,
    ...(session === undefined ? {} : { session }),
    ...(output === undefined ? {} : { output }),
    ...(req.pageSize === undefined ? {} : { pageSize: req.pageSize }),
    // Like patchelf, no fsync (build systems sync their outputs once); the replacement is still
    // atomic. CALD_FSYNC=1 makes every write durable.
    durable: io.env.CALD_FSYNC === '1',
    edits: async (target) => {
      checkType(target);
      printFacts(req, target, io);
      return await editsFor(req, target, say);
    },
  });
  if (result.written !== null)
    say(`writing ${result.written} (${result.sizeBefore} -> ${result.sizeAfter} bytes)`);
  else if (!printOnly) say(`${path}: not modified`);
}

function checkType(t: PatchTarget): void {
  if (t.summary.type !== ET_EXEC && t.summary.type !== ET_DYN) {
    throw new PatchelfError(
      'ELF_WRONG_TYPE',
      `${t.path} is not an executable or shared library (ELF type ${t.summary.type})`,
      {
        hint: 'patchelf edits programs and shared libraries, not object files or core dumps',
        data: { path: t.path },
      },
    );
  }
  const names = t.summary.sectionNamesProblem;
  if (names !== undefined) {
    throw new PatchelfError('ELF_BAD_SHSTRTAB', `${t.path}: ${names}`, {
      hint: 'the section headers are corrupt (patchelf refuses such files too)',
      data: { path: t.path },
    });
  }
}

function printFacts(req: PatchelfRequest, t: PatchTarget, io: PatchelfIo): void {
  const s: ElfSummary = t.summary;
  if (req.printInterpreter) {
    if (s.interpreter === undefined) {
      throw new PatchelfError(
        'EDIT_NO_INTERP',
        `${t.path} has no interpreter (PT_INTERP): statically linked or a library`,
        {
          data: { path: t.path },
        },
      );
    }
    io.out(line(s.interpreter));
  }
  if (req.printOsAbi) io.out(`${osAbiName(s.osAbi)}\n`);
  // A debug-info file has a dynamic section with nothing in it: nothing to print (patchelf 0.19).
  const entriesGone = s.dynamicStripped;
  if (req.printSoname && s.type === ET_DYN) {
    if (!s.hasDynamic && !entriesGone) throw noDynamic(t.path, 'print the soname');
    if (s.soname !== undefined && s.soname !== '') io.out(line(s.soname));
  }
  if (req.printRpath) {
    if (!s.hasDynamic && !entriesGone) throw noDynamic(t.path, 'print the search path');
    if (!entriesGone) io.out(line(s.runpath ?? s.rpath ?? ''));
  }
  if (req.printExecstack) {
    const f = s.gnuStackFlags;
    io.out(`execstack: ${f === undefined ? '?' : (f & PF_X) !== 0 ? 'X' : '-'}\n`);
  }
  if (req.printNeeded) {
    if (!s.hasDynamic && !entriesGone) throw noDynamic(t.path, 'print the needed libraries');
    for (const n of s.needed) io.out(line(n));
  }
}

/** The edits, in the order patchelf makes them, for one editElf call. */
async function editsFor(
  req: PatchelfRequest,
  t: PatchTarget,
  say: (text: string) => void,
): Promise<ElfEdit[]> {
  const s = t.summary;
  const edits: ElfEdit[] = [];
  if (req.setOsAbi !== undefined) edits.push({ kind: 'setOsAbi', value: req.setOsAbi });
  if (req.setSoname !== undefined) {
    // patchelf leaves the soname of anything but a shared object (ET_DYN) alone, silently.
    if (s.type === ET_DYN) edits.push({ kind: 'setSoname', name: req.setSoname });
    else say(`${t.path}: not a dynamic library, soname left alone`);
  }
  if (req.setInterpreter !== undefined) edits.push({ kind: 'setInterpreter', path: req.setInterpreter });
  if (!req.printExecstack && req.execstack !== undefined) {
    edits.push({ kind: 'setExecStack', executable: req.execstack === 'set' });
  }
  const force = req.forceRpath;
  const rpathOp =
    req.shrinkRpath || req.removeRpath || req.setRpath !== undefined || req.addRpath !== undefined;
  if (rpathOp && !s.hasDynamic) throw noDynamic(t.path, 'change the search path');
  if (req.shrinkRpath) {
    // Loaded only when asked for: start-up of every other patchelf call does not pay for it.
    const { shrinkRpath } = await import('../../api/shrink-rpath.js');
    const { after } = await shrinkRpath({
      path: t.path,
      elf: t.elf,
      allowedPrefixes: req.allowedRpathPrefixes,
    });
    if (after === null) say(`${t.path}: no RPATH to shrink`);
    else edits.push({ kind: 'setSearchPath', value: after, force });
  } else if (req.removeRpath) {
    edits.push({ kind: 'removeSearchPath' });
  } else if (req.setRpath !== undefined) {
    edits.push({ kind: 'setSearchPath', value: req.setRpath, force });
  } else if (req.addRpath !== undefined) {
    edits.push({ kind: 'addSearchPath', value: req.addRpath, force });
  }
  for (const name of req.removeNeeded) edits.push({ kind: 'removeNeeded', name });
  // Without a dynamic section every renaming is passed on, so the engine reports the missing section.
  edits.push(...replaceEdits(req.replaceNeeded, s.hasDynamic ? [...s.needed, ...s.verneedFiles] : undefined));
  // patchelf keeps the names to add in a sorted set: they end up first, in byte order.
  for (const name of [...req.addNeeded].sort()) edits.push({ kind: 'addNeeded', name });
  if (req.renameSymbols.size > 0) edits.push({ kind: 'renameDynamicSymbols', map: req.renameSymbols });
  for (const name of req.clearSymbolVersion) edits.push({ kind: 'clearSymbolVersion', name });
  if (req.noDefaultLib) edits.push({ kind: 'setFlags1', set: DF_1_NODEFLIB, clear: 0n });
  if (req.addDebugTag && !s.dynamicTags.includes(DT_DEBUG)) {
    edits.push({ kind: 'addDynamic', tag: DT_DEBUG, value: 0n });
  }
  return edits;
}

/** The renamings of one command, in order, and where each old name is among them; made once. */
const indexes = new WeakMap<
  ReadonlyMap<string, string>,
  { pairs: Array<readonly [string, string]>; at: Map<string, number> }
>();

function indexed(map: ReadonlyMap<string, string>): {
  pairs: Array<readonly [string, string]>;
  at: Map<string, number>;
} {
  let found = indexes.get(map);
  if (found === undefined) {
    const pairs = [...map];
    found = { pairs, at: new Map(pairs.map(([from], i) => [from, i])) };
    indexes.set(map, found);
  }
  return found;
}

/**
 * patchelf replaces every name at once (a -> b and b -> a swap them); the engine's edits apply
 * in order. With more than one renaming, each goes through a placeholder first so none is
 * renamed twice; the placeholders exist only in the edit model, never in the file.
 */
function replaceEdits(map: ReadonlyMap<string, string>, names: readonly string[] | undefined): ElfEdit[] {
  const { pairs: all, at } = indexed(map);
  // Only the names this file has: one call over a closure carries every file's renamings. They
  // are looked up, not searched for (hundreds of pairs, hundreds of files), and kept in the
  // command line's order.
  let pairs: ReadonlyArray<readonly [string, string]> = all;
  if (names !== undefined) {
    const found = new Set<number>();
    for (const n of names) {
      const i = at.get(n);
      if (i !== undefined) found.add(i);
    }
    pairs = [...found].sort((a, b) => a - b).map((i) => all[i]!);
  }
  pairs = pairs.filter(([from, to]) => from !== to);
  if (pairs.length <= 1) return pairs.map(([from, to]) => ({ kind: 'replaceNeeded', from, to }));
  const tmp = (i: number): string => `\u0001cald-replace-${i}\u0001`;
  return [
    ...pairs.map(([from], i): ElfEdit => ({ kind: 'replaceNeeded', from, to: tmp(i) })),
    ...pairs.map(([, to], i): ElfEdit => ({ kind: 'replaceNeeded', from: tmp(i), to })),
  ];
}

import { open } from 'node:fs/promises';
import { EI_CLASS, EI_DATA, ELFDATA2LSB, ELFMAG } from '../elf/format/constants.js';
import { ElfFile } from '../elf/read/index.js';
import { UsageError } from '../errors/index.js';
import { INPUT_OPEN_FLAGS, readInputFile } from '../util/input-file.js';

export interface ShrinkRpathOptions {
  /** The ELF file whose search path is shrunk; also the base of relative library lookups' errors. */
  path: string;
  /** The file's bytes, when the caller has already read them (then `path` is not read). */
  buffer?: Buffer;
  /** The file, when the caller has already parsed it (then neither `path` nor `buffer` is read). */
  elf?: ElfFile;
  /**
   * patchelf's --allowed-rpath-prefixes: when not empty, absolute directories that start with none
   * of these prefixes are dropped without being looked into. ELF byte strings.
   */
  allowedPrefixes?: readonly string[];
}

export interface ShrinkRpathResult {
  /** The search path the file has now (DT_RUNPATH, else DT_RPATH), or null when it has none. */
  before: string | null;
  /** The shrunk search path, or null when the file has none (nothing to shrink). */
  after: string | null;
}

/**
 * patchelf's --shrink-rpath rule, computed by looking at the file system. The directories of
 * the search path are taken in order:
 *  - a relative entry ($ORIGIN/../lib, lib) is kept as it is;
 *  - an empty entry is dropped;
 *  - an absolute directory not starting with one of `allowedPrefixes` (when given) is dropped;
 *  - an absolute directory is kept when it holds, for at least one DT_NEEDED name that no earlier
 *    kept directory provided, an ELF file of the same machine and class as this file.
 * The result is for a `setSearchPath` edit (which keeps or converts the entry's kind as patchelf
 * does). Strings are ELF byte strings (util/elf-string.ts).
 *
 * Differences from patchelf 0.18, on purpose: the ELF class must match too (patchelf compares
 * e_machine only); a candidate that is not an ELF file, is shorter than an ELF header, cannot be
 * read or is a directory counts as absent (patchelf aborts the whole run on most of these).
 */
export async function shrinkRpath(options: ShrinkRpathOptions): Promise<ShrinkRpathResult> {
  const { path } = options;
  if (typeof path !== 'string' || path === '') {
    throw new UsageError('shrinkRpath: `path` must be a non-empty string');
  }
  let elf = options.elf;
  if (elf === undefined) {
    let buf = options.buffer;
    if (buf === undefined) {
      buf = readInputFile(path);
    }
    elf = ElfFile.parse(buf);
  }
  const before = elf.runpath ?? elf.rpath ?? null;
  if (before === null) return { before, after: null };
  const want: ElfIdentity = { is64: elf.header.is64, machine: elf.header.machine };
  const prefixes = options.allowedPrefixes ?? [];
  const needed = elf.needed;
  const found = needed.map(() => false);
  const kept: string[] = [];
  for (const dir of splitSearchPath(before)) {
    if (dir === '') continue;
    if (!dir.startsWith('/')) {
      kept.push(dir);
      continue;
    }
    if (prefixes.length > 0 && !prefixes.some((p) => dir.startsWith(p))) continue;
    let provides = false;
    for (const [i, name] of needed.entries()) {
      if (found[i] === true) continue;
      const id = await elfIdentity(`${dir}/${name}`);
      if (id !== undefined && id.is64 === want.is64 && id.machine === want.machine) {
        found[i] = true;
        provides = true;
      }
    }
    if (provides) kept.push(dir);
  }
  return { before, after: kept.join(':') };
}

/** patchelf's colon split: every ':' separates, a trailing empty part is dropped. */
export function splitSearchPath(s: string): string[] {
  const parts = s.split(':');
  if (parts.at(-1) === '') parts.pop();
  return parts;
}

interface ElfIdentity {
  is64: boolean;
  machine: number;
}

/** Class and machine of the ELF file at `latin1Path` (an ELF byte string), or undefined. */
async function elfIdentity(latin1Path: string): Promise<ElfIdentity | undefined> {
  const header = Buffer.alloc(20);
  let n = 0;
  try {
    const fh = await open(Buffer.from(latin1Path, 'latin1'), INPUT_OPEN_FLAGS);
    try {
      n = (await fh.read(header, 0, header.length, 0)).bytesRead;
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
  if (n < header.length || !header.subarray(0, 4).equals(ELFMAG)) return undefined;
  const cls = header[EI_CLASS];
  if (cls !== 1 && cls !== 2) return undefined;
  const machine = header[EI_DATA] === ELFDATA2LSB ? header.readUInt16LE(18) : header.readUInt16BE(18);
  return { is64: cls === 2, machine };
}

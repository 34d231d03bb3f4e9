// The dynamic facts of one object as the closure walk needs them (DT_NEEDED, DT_SONAME, DT_RPATH,
// DT_RUNPATH, DT_FLAGS_1, PT_INTERP), read by the ELF engine's loader view (elf/read
// load-headers.ts) through a ClosureFs: a 200 MB library costs a few small reads, not a full read.
import { DF_1_NODEFLIB } from '../elf/format/constants.js';
import { readLoadHeaders } from '../elf/read/index.js';
import { ElfFormatError } from '../errors/index.js';
import type { ClosureFs } from './fs.js';
import type { LoaderAbi } from './open-verify.js';

/** The dynamic facts of one object. Strings are byte strings (one character per byte). */
export interface DynamicInfo {
  abi: LoaderAbi;
  osabi: number;
  type: number;
  interp: string | undefined;
  needed: string[];
  soname: string | undefined;
  /** DT_RPATH, already dropped when DT_RUNPATH is present (elf/get-dynamic-info.h). */
  rpath: string | undefined;
  runpath: string | undefined;
  nodeflib: boolean;
}

/**
 * Reads the header, program headers, dynamic table and the strings it names. `head` is the start
 * of the file when the caller already has it. Throws ElfFormatError, naming `path`, when the file
 * is malformed: every range read is checked against the file's size before anything is allocated.
 */
export function readDynamicInfo(fs: ClosureFs, path: string, head?: Buffer): DynamicInfo {
  try {
    const size = fs.stat(path)?.size ?? 0;
    const source = { size, read: (position: number, length: number) => fs.readRange(path, position, length) };
    const l = head === undefined ? readLoadHeaders(source) : readLoadHeaders(source, head);
    const h = l.header;
    return {
      abi: { is64: h.is64, littleEndian: h.littleEndian, machine: h.machine },
      osabi: h.osabi,
      type: h.type,
      interp: l.interp,
      needed: l.needed,
      soname: l.soname,
      rpath: l.runpath === undefined ? l.rpath : undefined,
      runpath: l.runpath,
      nodeflib: l.flags1 !== undefined && (l.flags1 & DF_1_NODEFLIB) !== 0n,
    };
  } catch (e) {
    if (!(e instanceof ElfFormatError) || e.message.startsWith(`${path}:`)) throw e;
    throw new ElfFormatError(e.code as `ELF_${string}`, `${path}: ${e.message}`, {
      ...(e.hint === undefined ? {} : { hint: e.hint }),
      data: { ...e.data, path },
      cause: e,
    });
  }
}

/** readDynamicInfo over bytes in memory (`path` names them in errors): a light, independent check of an edited file. */
export function dynamicInfoOfBuffer(buf: Buffer, path: string): DynamicInfo {
  const fs: ClosureFs = {
    readFile: () => buf,
    readRange: (_p, position, length) =>
      buf.subarray(Math.min(position, buf.length), Math.min(position + length, buf.length)),
    stat: () => ({ dev: 0n, ino: 0n, isFile: true, isDirectory: false, size: buf.length }),
    realpath: (p) => p,
  };
  return readDynamicInfo(fs, path, buf);
}

// Worker for edit-fuzz.test.ts: mutates small real ELF files deterministically from (seed, case)
// and runs editElf with a renaming and a growing edit on each mutant. Reports progress before every
// case so the test's watchdog can name a case that hangs, and sends a sample of the successes back
// for readelf to judge.
import { parentPort, workerData } from 'node:worker_threads';
import { type ElfEdit, editElf } from '../../../src/elf/edit/index.js';
import { CaldError } from '../../../src/errors/index.js';
import { rng } from '../../helpers/fuzz-pool.js';
import { assertWrittenCovers } from './written-ranges.js';

export interface FuzzInput {
  name: string;
  bytes: Uint8Array;
  is64: boolean;
  le: boolean;
  /** The first DT_NEEDED name, when there is one (what the renaming edit renames). */
  needed: string | undefined;
}

export interface FuzzJob {
  seed: number;
  inputs: FuzzInput[];
  first: number;
  end: number;
  /** Every how many successes one is sent back for readelf. */
  sampleEvery: number;
}

export type FuzzMessage =
  | { type: 'start'; index: number }
  | { type: 'failure'; index: number; input: string; mutations: string[]; error: string }
  | {
      type: 'sample';
      index: number;
      input: string;
      mutations: string[];
      mutant: Uint8Array;
      output: Uint8Array;
    }
  | { type: 'done'; outcomes: Record<string, number> };

const INTERESTING = [
  0, 1, 2, 7, 8, 0x40, 0x7f, 0x80, 0xff, 0x100, 0x1000, 0x7fff, 0xffff, 0x7fffffff, 0xffffffff,
];

/** Applies 1 to 3 mutations; returns the mutant and what was done (for replay and reports). */
export function mutate(
  input: FuzzInput,
  seed: number,
  index: number,
): { bytes: Buffer; mutations: string[] } {
  const r = rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const int = (n: number) => Math.floor(r() * n);
  let b = Buffer.from(input.bytes);
  const mutations: string[] = [];
  const word = input.is64 ? 8 : 4;
  const readWord = (off: number): number => {
    if (off + word > b.length) return 0;
    if (input.is64) return Number(input.le ? b.readBigUInt64LE(off) : b.readBigUInt64BE(off));
    return input.le ? b.readUInt32LE(off) : b.readUInt32BE(off);
  };
  const write = (off: number, size: number, value: number) => {
    if (off < 0 || off + size > b.length) return;
    if (size === 8) {
      const v = BigInt.asUintN(64, BigInt(value));
      input.le ? b.writeBigUInt64LE(v, off) : b.writeBigUInt64BE(v, off);
    } else if (size === 4) input.le ? b.writeUInt32LE(value >>> 0, off) : b.writeUInt32BE(value >>> 0, off);
    else if (size === 2)
      input.le ? b.writeUInt16LE(value & 0xffff, off) : b.writeUInt16BE(value & 0xffff, off);
    else b[off] = value & 0xff;
  };
  const value = () => {
    const k = int(4);
    if (k === 0) return INTERESTING[int(INTERESTING.length)]!;
    if (k === 1) return b.length + int(64) - 32;
    if (k === 2) return int(b.length);
    return Math.floor(r() * 2 ** 32);
  };
  const phoff = readWord(input.is64 ? 0x20 : 0x1c);
  const phentsize = input.is64 ? 56 : 32;
  const phnum =
    b.length > 0x3a
      ? input.le
        ? b.readUInt16LE(input.is64 ? 0x38 : 0x2c)
        : b.readUInt16BE(input.is64 ? 0x38 : 0x2c)
      : 0;
  const count = 1 + int(3);
  for (let m = 0; m < count; m++) {
    const kind = int(10);
    if (kind <= 2) {
      const flips = 1 + int(8);
      for (let i = 0; i < flips; i++) {
        const at = int(b.length);
        const bit = int(8);
        b[at] = b[at]! ^ (1 << bit);
        mutations.push(`flip byte 0x${at.toString(16)} bit ${bit}`);
      }
    } else if (kind <= 4) {
      // File header fields after e_ident.
      const fields64: Array<[string, number, number]> = [
        ['e_type', 0x10, 2],
        ['e_phoff', 0x20, 8],
        ['e_shoff', 0x28, 8],
        ['e_phentsize', 0x36, 2],
        ['e_phnum', 0x38, 2],
        ['e_shentsize', 0x3a, 2],
        ['e_shnum', 0x3c, 2],
        ['e_shstrndx', 0x3e, 2],
      ];
      const fields32: Array<[string, number, number]> = [
        ['e_type', 0x10, 2],
        ['e_phoff', 0x1c, 4],
        ['e_shoff', 0x20, 4],
        ['e_phentsize', 0x2a, 2],
        ['e_phnum', 0x2c, 2],
        ['e_shentsize', 0x2e, 2],
        ['e_shnum', 0x30, 2],
        ['e_shstrndx', 0x32, 2],
      ];
      const [name, off, size] = (input.is64 ? fields64 : fields32)[int(8)]!;
      const v = value();
      write(off, size, v);
      mutations.push(`${name} = 0x${v.toString(16)}`);
    } else if (kind <= 6 && phnum > 0) {
      const i = int(phnum);
      const base = phoff + i * phentsize;
      const fields64: Array<[string, number, number]> = [
        ['p_type', 0, 4],
        ['p_flags', 4, 4],
        ['p_offset', 8, 8],
        ['p_vaddr', 16, 8],
        ['p_filesz', 32, 8],
        ['p_memsz', 40, 8],
        ['p_align', 48, 8],
      ];
      const fields32: Array<[string, number, number]> = [
        ['p_type', 0, 4],
        ['p_offset', 4, 4],
        ['p_vaddr', 8, 4],
        ['p_filesz', 16, 4],
        ['p_memsz', 20, 4],
        ['p_flags', 24, 4],
        ['p_align', 28, 4],
      ];
      const [name, off, size] = (input.is64 ? fields64 : fields32)[int(7)]!;
      const types = [0, 1, 2, 3, 6, 0x6474e551, 0x6474e552];
      const v = name === 'p_type' && r() < 0.7 ? types[int(types.length)]! : value();
      write(base + off, size, v);
      mutations.push(`phdr[${i}].${name} = 0x${v.toString(16)}`);
    } else if (kind <= 8 && phnum > 0) {
      // A dynamic entry: find PT_DYNAMIC in the (possibly already mutated) table.
      let dynOff = -1;
      let dynSize = 0;
      for (let i = 0; i < phnum; i++) {
        const base = phoff + i * phentsize;
        if (base + phentsize > b.length) break;
        const type = input.le ? b.readUInt32LE(base) : b.readUInt32BE(base);
        if (type === 2) {
          dynOff = readWord(base + (input.is64 ? 8 : 4));
          dynSize = readWord(base + (input.is64 ? 32 : 16));
        }
      }
      const entries = Math.floor(dynSize / (2 * word));
      if (dynOff < 0 || entries === 0 || dynOff >= b.length) {
        mutations.push('no PT_DYNAMIC to mutate');
        continue;
      }
      const i = int(entries);
      const tagField = r() < 0.4;
      const tags = [0, 1, 5, 6, 10, 14, 15, 29, 0x6ffffffe, 0x6fffffff, 0x6ffffff0];
      const v = tagField ? tags[int(tags.length)]! : value();
      write(dynOff + i * 2 * word + (tagField ? 0 : word), word, v);
      mutations.push(`dynamic[${i}].${tagField ? 'd_tag' : 'd_val'} = 0x${v.toString(16)}`);
    } else {
      const len = int(b.length);
      b = Buffer.from(b.subarray(0, len));
      mutations.push(`truncate to ${len}`);
    }
  }
  return { bytes: b, mutations };
}

export function editsFor(input: FuzzInput): ElfEdit[] {
  const edits: ElfEdit[] = [];
  if (input.needed !== undefined)
    edits.push({
      kind: 'replaceNeeded',
      from: input.needed,
      to: `cas:sha256:${'c'.repeat(64)}?name=${input.needed}`,
    });
  edits.push({ kind: 'setSearchPath', value: `/fuzz/${'r'.repeat(200)}` });
  edits.push({ kind: 'addNeeded', name: `cas:sha256:${'d'.repeat(64)}?name=libadded.so.1` });
  return edits;
}

function main(job: FuzzJob): void {
  const port = parentPort!;
  const outcomes: Record<string, number> = {};
  let successes = 0;
  for (let index = job.first; index < job.end; index++) {
    port.postMessage({ type: 'start', index } satisfies FuzzMessage);
    const input = job.inputs[index % job.inputs.length]!;
    const { bytes, mutations } = mutate(input, job.seed, index);
    try {
      const out = editElf(bytes, editsFor(input));
      assertWrittenCovers(bytes, out);
      outcomes.edited = (outcomes.edited ?? 0) + 1;
      if (successes++ % job.sampleEvery === 0) {
        port.postMessage({
          type: 'sample',
          index,
          input: input.name,
          mutations,
          mutant: bytes,
          output: out.buffer,
        } satisfies FuzzMessage);
      }
    } catch (e) {
      if (e instanceof CaldError) {
        outcomes[e.code] = (outcomes[e.code] ?? 0) + 1;
      } else {
        const error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
        port.postMessage({
          type: 'failure',
          index,
          input: input.name,
          mutations,
          error,
        } satisfies FuzzMessage);
      }
    }
  }
  port.postMessage({ type: 'done', outcomes } satisfies FuzzMessage);
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object' && 'seed' in workerData) {
  main(workerData as FuzzJob);
}

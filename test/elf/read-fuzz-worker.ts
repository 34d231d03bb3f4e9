// Worker for read-fuzz.test.ts: mutates ELF files deterministically from (seed, case number) and
// runs the reader, inspect and the text report on each mutant. It reports progress after every case
// so the test's watchdog can name the case that hangs.
import { parentPort, workerData } from 'node:worker_threads';
import { inspectBuffer } from '../../src/api/index.js';
import { formatReport } from '../../src/cli/format/inspect-text.js';
import { DT_STRING_TAGS } from '../../src/elf/format/constants.js';
import { layoutsFor } from '../../src/elf/format/layouts.js';
import { describeNote } from '../../src/elf/read/describe.js';
import { ElfFile } from '../../src/elf/read/index.js';
import { CaldError } from '../../src/errors/index.js';
import { rng } from '../helpers/fuzz-pool.js';

export interface FuzzInput {
  name: string;
  bytes: Uint8Array;
}

export interface WorkerJob {
  seed: number;
  inputs: FuzzInput[];
  first: number;
  /** Exclusive. */
  end: number;
}

export type WorkerMessage =
  | { type: 'start'; index: number }
  | { type: 'failure'; index: number; input: string; mutations: string[]; error: string }
  | { type: 'done'; outcomes: Record<string, number> };

/** Where the interesting fields of the unmutated file are. */
interface Map_ {
  is64: boolean;
  le: boolean;
  phoff: number;
  phnum: number;
  shoff: number;
  shnum: number;
  dynOffset: number | undefined;
  dynCount: number;
  regions: Array<{ what: string; offset: number; size: number }>;
}

function mapOf(buf: Buffer): Map_ {
  const elf = ElfFile.parse(buf);
  const h = elf.header;
  const regions: Map_['regions'] = [];
  if (elf.dynstr) regions.push({ what: '.dynstr', offset: elf.dynstr.offset, size: elf.dynstr.size });
  if (elf.interp) regions.push({ what: 'PT_INTERP', offset: elf.interp.offset, size: elf.interp.size });
  if (elf.verneedRegion)
    regions.push({
      what: 'verneed',
      offset: elf.verneedRegion.offset,
      size: Math.max(64, elf.verneedRegion.size),
    });
  for (const s of elf.sections) {
    if (
      [
        '.gnu.version_d',
        '.note.gnu.build-id',
        '.note.ABI-tag',
        '.note.gnu.property',
        '.gnu.hash',
        '.shstrtab',
      ].includes(s.name)
    )
      regions.push({ what: s.name, offset: s.offset, size: s.size });
  }
  return {
    is64: h.is64,
    le: h.littleEndian,
    phoff: h.phoff,
    phnum: h.phnum,
    shoff: h.shoff,
    shnum: h.shnum,
    dynOffset: elf.dynamic?.offset,
    dynCount: (elf.dynamic?.entries.length ?? 0) + 1,
    regions: regions.filter((r) => r.size > 0),
  };
}

function write(b: Buffer, off: number, size: 1 | 2 | 4 | 8, v: bigint, le: boolean): void {
  if (off < 0 || off + size > b.length) return;
  const u = BigInt.asUintN(size * 8, v);
  if (size === 1) b[off] = Number(u);
  else if (size === 2) le ? b.writeUInt16LE(Number(u), off) : b.writeUInt16BE(Number(u), off);
  else if (size === 4) le ? b.writeUInt32LE(Number(u), off) : b.writeUInt32BE(Number(u), off);
  else le ? b.writeBigUInt64LE(u, off) : b.writeBigUInt64BE(u, off);
}

function read(b: Buffer, off: number, size: 1 | 2 | 4 | 8, le: boolean): bigint {
  if (off < 0 || off + size > b.length) return 0n;
  if (size === 1) return BigInt(b[off] ?? 0);
  if (size === 2) return BigInt(le ? b.readUInt16LE(off) : b.readUInt16BE(off));
  if (size === 4) return BigInt(le ? b.readUInt32LE(off) : b.readUInt32BE(off));
  return le ? b.readBigUInt64LE(off) : b.readBigUInt64BE(off);
}

const STRING_AND_TABLE_TAGS = [
  0n,
  1n,
  4n,
  5n,
  6n,
  10n,
  14n,
  15n,
  29n,
  0x6ffffef5n,
  0x6ffffffcn,
  0x6ffffffdn,
  0x6ffffffen,
  0x6fffffffn,
  0x7ffffffdn,
];

function mutate(orig: Buffer, m: Map_, rand: () => number): { buf: Buffer; log: string[] } {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  let b = Buffer.from(orig);
  const log: string[] = [];
  const interesting = (old: bigint, size: number): bigint =>
    pick([
      () => 0n,
      () => 1n,
      () => -1n,
      () => 0x7fffffffn,
      () => 0x80000000n,
      () => BigInt(b.length),
      () => BigInt(b.length - 1),
      () => BigInt(b.length + 1),
      () => BigInt(int(b.length)),
      () => BigInt(int(65)),
      () => old + BigInt(int(33) - 16),
      () => old * 2n,
      () => (size === 8 ? (1n << 53n) + BigInt(int(3)) : 0xffffn),
      () => (size === 8 ? 1n << 63n : 0x10000n),
    ])();
  const wsize = m.is64 ? 8 : 4;
  const setField = (what: string, off: number, size: 1 | 2 | 4 | 8) => {
    const old = read(b, off, size, m.le);
    const v = interesting(old, size);
    write(b, off, size, v, m.le);
    log.push(
      `${what}@0x${off.toString(16)}: 0x${old.toString(16)} -> 0x${BigInt.asUintN(size * 8, v).toString(16)}`,
    );
  };
  const n = 1 + int(3);
  for (let k = 0; k < n; k++) {
    const kind = int(10);
    if (kind === 0) {
      const at = int(b.length);
      const bit = int(8);
      b[at] = (b[at] ?? 0) ^ (1 << bit);
      log.push(`flip bit ${bit} of byte 0x${at.toString(16)}`);
    } else if (kind === 1) {
      const at = int(b.length);
      const v = pick([0, 0xff, int(256)]);
      b[at] = v;
      log.push(`byte 0x${at.toString(16)} = 0x${v.toString(16)}`);
    } else if (kind === 2) {
      const at = int(b.length);
      const len = 2 + int(15);
      for (let i = at; i < Math.min(b.length, at + len); i++) b[i] = int(256);
      log.push(`${len} random bytes at 0x${at.toString(16)}`);
    } else if (kind === 3) {
      const len = rand() < 0.3 ? int(Math.min(b.length, 1024)) : int(b.length);
      b = b.subarray(0, len);
      log.push(`truncate to ${len} bytes`);
    } else if (kind === 4) {
      const E = layoutsFor(m.is64).ehdr;
      const fields: Array<[string, number, 1 | 2 | 4 | 8]> = [
        ['e_phoff', E.e_phoff, wsize],
        ['e_shoff', E.e_shoff, wsize],
        ['e_phnum', E.e_phnum, 2],
        ['e_shnum', E.e_shnum, 2],
        ['e_shstrndx', E.e_shstrndx, 2],
        ['e_phentsize', E.e_phentsize, 2],
        ['e_shentsize', E.e_shentsize, 2],
        ['e_entry', E.e_entry, wsize],
        ['EI_CLASS', 4, 1],
        ['EI_DATA', 5, 1],
      ];
      const [what, off, size] = pick(fields);
      setField(what, off, size);
    } else if (kind === 5 && m.phnum > 0) {
      const P = layoutsFor(m.is64).phdr;
      const i = int(m.phnum);
      const [what, off, size] = pick<[string, number, 4 | 8]>([
        ['p_type', P.p_type, 4],
        ['p_offset', P.p_offset, wsize],
        ['p_vaddr', P.p_vaddr, wsize],
        ['p_filesz', P.p_filesz, wsize],
        ['p_memsz', P.p_memsz, wsize],
        ['p_align', P.p_align, wsize],
      ]);
      if (what === 'p_type' && rand() < 0.7) {
        const at = m.phoff + i * P.size + off;
        const v = pick([1n, 2n, 3n, 4n, 6n, 0x6474e553n]);
        write(b, at, 4, v, m.le);
        log.push(`phdr ${i} p_type = 0x${v.toString(16)}`);
      } else setField(`phdr ${i} ${what}`, m.phoff + i * P.size + off, size);
    } else if (kind === 6 && m.shnum > 0) {
      const S = layoutsFor(m.is64).shdr;
      const i = int(m.shnum);
      const [what, off, size] = pick<[string, number, 4 | 8]>([
        ['sh_type', S.sh_type, 4],
        ['sh_offset', S.sh_offset, wsize],
        ['sh_size', S.sh_size, wsize],
        ['sh_addr', S.sh_addr, wsize],
        ['sh_name', S.sh_name, 4],
        ['sh_link', S.sh_link, 4],
        ['sh_info', S.sh_info, 4],
        ['sh_entsize', S.sh_entsize, wsize],
      ]);
      setField(`section ${i} ${what}`, m.shoff + i * S.size + off, size);
    } else if (kind === 7 && m.dynOffset !== undefined) {
      const D = layoutsFor(m.is64).dyn;
      const i = int(m.dynCount);
      const at = m.dynOffset + i * D.size;
      if (rand() < 0.5) {
        const tag = rand() < 0.8 ? pick(STRING_AND_TABLE_TAGS) : BigInt(int(0x7fffffff));
        write(b, at + D.d_tag, wsize, tag, m.le);
        log.push(`dynamic ${i} d_tag = 0x${tag.toString(16)}`);
      } else setField(`dynamic ${i} d_val`, at + D.d_val, wsize);
    } else if (m.regions.length > 0) {
      const r = pick(m.regions);
      const at = r.offset + int(r.size);
      if (rand() < 0.5) {
        setField(`${r.what} word`, at & ~3, 4);
      } else {
        const v = pick([0, 0x41, 0xff, int(256)]);
        b[at] = v;
        log.push(`${r.what} byte 0x${at.toString(16)} = 0x${v.toString(16)}`);
      }
    }
  }
  return { buf: b, log };
}

const noColors = new Proxy({}, { get: () => (s: unknown) => String(s) }) as Parameters<
  typeof formatReport
>[1];

/** Everything a caller can ask of a parsed file, each part on its own so one failure does not hide another. */
function exercise(buf: Buffer, name: string): string {
  const elf = ElfFile.parse(buf);
  const parts: Array<() => unknown> = [
    () => [
      elf.header,
      elf.programHeaders,
      elf.sections,
      elf.dynamic,
      elf.dynstr,
      elf.interp,
      elf.verneedRegion,
    ],
    () => [elf.versionNeeds, elf.versionDefs, elf.addressMap],
    () => elf.notes.map((n) => describeNote(n, elf.header.littleEndian, elf.header.is64)),
    () => elf.needed,
    () => elf.soname,
    () => elf.rpath,
    () => elf.runpath,
    () => elf.dynamicSymbols(),
    () => elf.dynamicSymbolNameOffsets(),
    () => elf.dynamicEntries.filter((e) => DT_STRING_TAGS.has(e.tag)).map((e) => elf.dynString(e.value)),
    () => {
      const r = inspectBuffer(buf, name);
      return JSON.stringify(r).length + formatReport(r, noColors).length;
    },
  ];
  let firstCode = 'ok';
  for (const part of parts) {
    try {
      part();
    } catch (e) {
      if (!(e instanceof CaldError)) throw e;
      if (firstCode === 'ok') firstCode = e.code;
    }
  }
  return firstCode;
}

function runJob(job: WorkerJob): void {
  const port = parentPort!;
  const inputs = job.inputs.map((i) => {
    const buf = Buffer.from(i.bytes);
    return { name: i.name, buf, map: mapOf(buf) };
  });
  const outcomes: Record<string, number> = {};
  for (let index = job.first; index < job.end; index++) {
    port.postMessage({ type: 'start', index } satisfies WorkerMessage);
    const rand = rng((job.seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    const input = inputs[index % inputs.length]!;
    const { buf, log } = mutate(input.buf, input.map, rand);
    let outcome: string;
    try {
      outcome = exercise(buf, input.name);
    } catch (e) {
      // ElfFile.parse itself may throw a CaldError: that is the expected refusal.
      if (e instanceof CaldError) outcome = e.code;
      else {
        const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
        port.postMessage({
          type: 'failure',
          index,
          input: input.name,
          mutations: log,
          error,
        } satisfies WorkerMessage);
        outcome = 'NOT A CaldError';
      }
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  port.postMessage({ type: 'done', outcomes } satisfies WorkerMessage);
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object' && 'seed' in workerData) {
  runJob(workerData as WorkerJob);
}

// Seeded mutation fuzzing of the editor: small real ELF files (x86-64, 32-bit, big-endian) are mutated
// (bit flips, header, program header and dynamic entry fields, truncation) and edited with a renaming
// and a growing edit. editElf must throw a CaldError or return a file that readelf -a -W accepts
// without new errors (checked on every 20th success), and never hang.
// CALD_FUZZ_SEED replays a run; CALD_FUZZ_CASES sets its size (default 4000, a few seconds).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ElfFile } from '../../src/elf/read/index.js';
import {
  casesFromEnv,
  crossFuzzFiles,
  type FuzzFailure,
  runFuzzRange,
  seedFromEnv,
} from '../helpers/fuzz-pool.js';
import { readelfWarnings } from '../helpers/readelf.js';
import { makeTmp } from '../helpers/tmp.js';
import { DT_NEEDED, newItems } from './helpers/edit-check.js';
import type { FuzzInput, FuzzMessage } from './helpers/edit-fuzz-worker.js';

const HANG_MS = 5000;
const WORKERS = 2;
const SAMPLE_EVERY = 20;
const root = makeTmp({ after }, 'edit-fuzz');

function input(name: string, bytes: Buffer): FuzzInput {
  const elf = ElfFile.parse(bytes);
  const first = elf.dynamicEntries.find((e) => e.tag === DT_NEEDED);
  return {
    name,
    bytes,
    is64: elf.header.is64,
    le: elf.header.littleEndian,
    needed: first === undefined ? undefined : elf.dynString(first.value),
  };
}

function inputs(): FuzzInput[] {
  const out: FuzzInput[] = [];
  for (const f of [
    '/usr/bin/true',
    '/usr/lib/x86_64-linux-gnu/libdl.so.2',
    '/usr/lib/x86_64-linux-gnu/libattr.so.1',
  ])
    if (existsSync(f)) out.push(input(f, readFileSync(f)));
  for (const f of crossFuzzFiles(['mips', 'ppc64', 'arm', 'i686'], root)) out.push(input(f.name, f.bytes));
  return out;
}

test('mutated ELF files: editElf gives a readable file or a CaldError, never a crash or a hang', {
  timeout: 5 * 60_000,
}, async (t) => {
  const seed = seedFromEnv();
  const cases = casesFromEnv(4000);
  const files = inputs();
  assert.ok(files.length > 0);
  t.diagnostic(`seed ${seed} (replay: CALD_FUZZ_SEED=${seed} CALD_FUZZ_CASES=${cases})`);
  console.log(`edit-fuzz seed ${seed} (replay: CALD_FUZZ_SEED=${seed} CALD_FUZZ_CASES=${cases})`);
  t.diagnostic(`inputs: ${files.map((f) => f.name).join(', ')}`);
  const started = Date.now();
  const failures: FuzzFailure[] = [];
  const outcomes: Record<string, number> = {};
  const samples: Array<Extract<FuzzMessage, { type: 'sample' }>> = [];
  const per = Math.ceil(cases / WORKERS);
  await Promise.all(
    Array.from({ length: WORKERS }, (_, w) =>
      runFuzzRange<Extract<FuzzMessage, { type: 'sample' }>>(
        new URL('./helpers/edit-fuzz-worker.js', import.meta.url),
        {
          seed,
          inputs: files,
          first: w * per,
          end: Math.min(cases, (w + 1) * per),
          sampleEvery: SAMPLE_EVERY,
        },
        HANG_MS,
        failures,
        outcomes,
        (m) => samples.push(m),
      ),
    ),
  );
  const editMs = Date.now() - started;
  // readelf judges a sample of the successes: no Error line the mutant itself did not already cause.
  let newWarnings = 0;
  let rejectedInputs = 0;
  for (const s of samples) {
    const before = join(root, `case-${s.index}.in`);
    const afterFile = join(root, `case-${s.index}.out`);
    writeFileSync(before, s.mutant);
    writeFileSync(afterFile, s.output);
    const beforeLines = readelfWarnings(before);
    const added = newItems(beforeLines, readelfWarnings(afterFile));
    // A mutant readelf already rejects is garbage in: its output may fail readelf differently (readelf
    // walks the corrupt tables further once other errors are gone). A mutant readelf accepts must stay accepted.
    const inputRejected = beforeLines.some((l) => l.includes('Error:'));
    if (inputRejected) rejectedInputs++;
    const errors = inputRejected ? [] : added.filter((l) => l.includes('Error:'));
    newWarnings += added.length - errors.length;
    if (errors.length > 0)
      failures.push({
        index: s.index,
        input: s.input,
        mutations: s.mutations,
        error: `readelf: ${errors.slice(0, 3).join(' | ')}`,
      });
  }
  const summary = Object.entries(outcomes)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const line = `${cases} cases, edits ${editMs} ms, ${samples.length} successes checked with readelf (${rejectedInputs} of their inputs already rejected by readelf; ${newWarnings} new warnings) in ${Date.now() - started - editMs} ms: ${summary}`;
  t.diagnostic(line);
  console.log(`edit-fuzz: ${line}`);
  failures.sort((a, b) => a.index - b.index);
  const shown = failures
    .slice(0, 10)
    .map(
      (f) =>
        `case ${f.index} (${f.input}): ${f.mutations.join('; ')}\n  ${f.error.split('\n').slice(0, 4).join('\n  ')}`,
    )
    .join('\n');
  assert.equal(failures.length, 0, `seed ${seed}: ${failures.length} cases failed\n${shown}`);
});

// Seeded mutation fuzzing of real ELF files: the reader, inspect and the text report either succeed
// or throw a CaldError; never another error, never a hang. Set CALD_FUZZ_SEED to replay a run and
// CALD_FUZZ_CASES for its size (default 20000, a few seconds on 2 cores).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  casesFromEnv,
  crossFuzzFiles,
  type FuzzFailure,
  runFuzzRange,
  seedFromEnv,
} from '../helpers/fuzz-pool.js';
import { makeTmp } from '../helpers/tmp.js';
import type { FuzzInput } from './read-fuzz-worker.js';

const HANG_MS = 5000;
const WORKERS = 2;

// Small real files covering an executable with PT_INTERP and verneed, libraries with verdef and
// soname, and (when the cross binutils are installed) big-endian 32- and 64-bit files.
const MACHINE_FILES = [
  '/usr/bin/true',
  '/usr/lib/x86_64-linux-gnu/libdl.so.2',
  '/usr/lib/x86_64-linux-gnu/libattr.so.1',
  '/usr/lib/x86_64-linux-gnu/crt1.o',
];

function inputs(): FuzzInput[] {
  const out: FuzzInput[] = [];
  for (const f of MACHINE_FILES) if (existsSync(f)) out.push({ name: f, bytes: readFileSync(f) });
  const tmp = makeTmp({ after }, 'fuzz-cross');
  out.push(...crossFuzzFiles(['mips', 'ppc64'], tmp));
  return out;
}

test('mutated ELF files give a result or a CaldError, never a crash or a hang', {
  timeout: 10 * 60_000,
}, async (t) => {
  const seed = seedFromEnv();
  const cases = casesFromEnv(20000);
  const files = inputs();
  assert.ok(files.length > 0, 'no input files found');
  // Printed first, so a run that dies still says how to replay it.
  t.diagnostic(`seed ${seed} (replay: CALD_FUZZ_SEED=${seed} CALD_FUZZ_CASES=${cases})`);
  t.diagnostic(`inputs: ${files.map((f) => f.name).join(', ')}`);
  const started = Date.now();
  const failures: FuzzFailure[] = [];
  const outcomes: Record<string, number> = {};
  const per = Math.ceil(cases / WORKERS);
  await Promise.all(
    Array.from({ length: WORKERS }, (_, w) =>
      runFuzzRange(
        new URL('./read-fuzz-worker.js', import.meta.url),
        { seed, inputs: files, first: w * per, end: Math.min(cases, (w + 1) * per) },
        HANG_MS,
        failures,
        outcomes,
      ),
    ),
  );
  const summary = Object.entries(outcomes)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  t.diagnostic(`${cases} cases in ${Date.now() - started} ms: ${summary}`);
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

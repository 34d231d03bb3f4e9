// Runs seeded fuzz cases in worker threads with a hang watchdog: shared by the reader's and the
// editor's fuzz tests (test/elf/read-fuzz.test.ts, test/elf/edit-fuzz.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildCross, crossTargets } from './cross.js';

/** mulberry32: small, fast, and the same sequence on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzFailure {
  index: number;
  input: string;
  mutations: string[];
  error: string;
}

/** What every fuzz worker posts; a worker may post more kinds, handed to `onOther`. */
export type BaseFuzzMessage =
  | { type: 'start'; index: number }
  | ({ type: 'failure' } & FuzzFailure)
  | { type: 'done'; outcomes: Record<string, number> };

export interface FuzzRange {
  first: number;
  /** Exclusive. */
  end: number;
  inputs: ReadonlyArray<{ name: string }>;
}

/**
 * Runs cases [first, end) of `job` in a worker at `workerUrl`. A case that makes no progress for
 * `hangMs` is recorded as a failure, the worker is terminated, and a new one resumes after it.
 */
export async function runFuzzRange<M extends { type: string }>(
  workerUrl: URL,
  job: FuzzRange & Record<string, unknown>,
  hangMs: number,
  failures: FuzzFailure[],
  outcomes: Record<string, number>,
  onOther: (m: M) => void = () => undefined,
): Promise<void> {
  let first = job.first;
  while (first < job.end) {
    first = await new Promise<number>((resolve, reject) => {
      const worker = new Worker(workerUrl, { workerData: { ...job, first } });
      let current = first;
      let last = Date.now();
      let finished = false;
      const timer = setInterval(() => {
        if (Date.now() - last < hangMs) return;
        finished = true;
        clearInterval(timer);
        failures.push({
          index: current,
          input: job.inputs[current % job.inputs.length]?.name ?? '',
          mutations: [],
          error: `hang: no progress for ${hangMs} ms (replay the case to see its mutations)`,
        });
        void worker.terminate().then(() => resolve(current + 1));
      }, 250);
      worker.on('message', (m: BaseFuzzMessage | M) => {
        last = Date.now();
        if (m.type === 'start') current = (m as { index: number }).index;
        else if (m.type === 'failure') failures.push(m as FuzzFailure);
        else if (m.type === 'done') {
          for (const [k, v] of Object.entries((m as { outcomes: Record<string, number> }).outcomes)) {
            outcomes[k] = (outcomes[k] ?? 0) + v;
          }
          finished = true;
          clearInterval(timer);
          resolve(job.end);
        } else onOther(m as M);
      });
      worker.on('error', (e) => {
        clearInterval(timer);
        if (!finished) reject(e);
      });
    });
  }
}

/** CALD_FUZZ_SEED, or a random seed (printed by the test so a failure can be replayed). */
export function seedFromEnv(): number {
  const raw = process.env.CALD_FUZZ_SEED;
  if (raw === undefined || raw === '') return Math.floor(Math.random() * 2 ** 32);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32)
    throw new Error(`CALD_FUZZ_SEED must be an integer in [0, 2^32): ${raw}`);
  return n;
}

/** CALD_FUZZ_CASES, or the test's default. */
export function casesFromEnv(dflt: number): number {
  const n = Number(process.env.CALD_FUZZ_CASES ?? dflt);
  if (!Number.isInteger(n) || n <= 0) throw new Error('CALD_FUZZ_CASES must be a positive integer');
  return n;
}

/** An executable and a shared library for each named cross target, built under `dir`. */
export function crossFuzzFiles(
  names: readonly string[],
  dir: string,
): Array<{ name: string; bytes: Buffer }> {
  const out: Array<{ name: string; bytes: Buffer }> = [];
  for (const name of names) {
    const target = crossTargets().find((t) => t.name === name);
    if (target === undefined) continue;
    const built = buildCross(target, join(dir, name));
    if (!('exe' in built)) continue;
    out.push({ name: `${name} exe`, bytes: readFileSync(built.exe) });
    out.push({ name: `${name} dso`, bytes: readFileSync(built.dso) });
  }
  return out;
}

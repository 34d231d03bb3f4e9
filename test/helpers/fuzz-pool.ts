// Runs seeded fuzz cases in worker threads with a hang watchdog: shared by the reader's and the
// editor's fuzz tests (test/elf/read-fuzz.test.ts, test/elf/edit-fuzz.test.ts).
import { Worker } from 'node:worker_threads';

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

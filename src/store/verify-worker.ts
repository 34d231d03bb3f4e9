// A verify worker (worker_threads): hashes the object files it is sent and answers with each
// one's actual digest. One buffer per worker; files are read with readSync (see digestOfFd).

import { closeSync, openSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { digestOfFd, READ_CHUNK } from './digest.js';

// One read buffer for the worker's life: allocating 4 MiB per file would dominate small objects.
const buffer = Buffer.allocUnsafe(READ_CHUNK);

export interface HashJob {
  readonly dir: string;
  readonly hexes: readonly string[];
}

export interface HashResult {
  readonly hex: string;
  /** The content's sha256 hex, or undefined when the file could not be read. */
  readonly actual: string | undefined;
  readonly size: number;
  readonly error: string | undefined;
}

parentPort?.on('message', (job: HashJob) => {
  const out: HashResult[] = [];
  for (const hex of job.hexes) {
    try {
      const fd = openSync(`${job.dir}/${hex}`, 'r');
      let r: ReturnType<typeof digestOfFd>;
      try {
        r = digestOfFd(fd, 'sha256', buffer);
      } finally {
        closeSync(fd);
      }
      const { digest, size } = r;
      out.push({ hex, actual: digest.hex, size, error: undefined });
    } catch (e) {
      out.push({ hex, actual: undefined, size: 0, error: e instanceof Error ? e.message : String(e) });
    }
  }
  parentPort?.postMessage(out);
});

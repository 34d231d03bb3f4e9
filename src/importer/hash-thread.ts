// The sha256 of an import's objects, computed on a thread of its own (worker_threads) so the main
// thread rewrites the next file meanwhile (docs/benchmarks.md, "Importing ffmpeg's closure").
// Each object's bytes are moved to the thread and back (their ArrayBuffer transferred, never
// copied): while a hash is in flight the caller's views of those bytes are empty, and the view
// handed back replaces them. The thread runs only node:crypto; a failure of the thread fails every
// hash in flight.
import { Worker } from 'node:worker_threads';
import { DEFAULT_ALGORITHM, Digest } from '../store/index.js';

// CommonJS, evaluated as the thread's script: no file to find beside the (possibly bundled) caller.
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (m) => {
  const hex = createHash('sha256').update(new Uint8Array(m.buffer, m.offset, m.length)).digest('hex');
  parentPort.postMessage({ id: m.id, hex, buffer: m.buffer }, [m.buffer]);
});
`;

interface Waiting {
  resolve: (r: { digest: Digest; bytes: Buffer }) => void;
  reject: (e: Error) => void;
  offset: number;
  length: number;
}

export class HashThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private failure: Error | undefined;

  constructor() {
    if (DEFAULT_ALGORITHM !== 'sha256') throw new Error('HashThread hashes sha256 only');
    this.worker = new Worker(THREAD_SOURCE, { eval: true });
    // Never what keeps the process alive: close() ends it, and a crash must not hang an exit.
    this.worker.unref();
    this.worker.on('message', (m: { id: number; hex: string; buffer: ArrayBuffer }) => {
      const w = this.waiting.get(m.id);
      if (w === undefined) return;
      this.waiting.delete(m.id);
      w.resolve({ digest: Digest.from('sha256', m.hex), bytes: Buffer.from(m.buffer, w.offset, w.length) });
    });
    const fail = (e: Error) => {
      this.failure ??= e;
      for (const w of this.waiting.values()) w.reject(this.failure);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the hashing thread exited (status ${code})`)));
  }

  /**
   * Whether `bytes` can be moved to the thread: the whole of an ArrayBuffer's memory that nothing
   * else shares (not a slice of Node's pool of small buffers, which are never this large).
   */
  static canTake(bytes: Uint8Array): boolean {
    return bytes.buffer instanceof ArrayBuffer && bytes.length >= 256 * 1024;
  }

  /**
   * The digest of `bytes`, which the caller gives up: its views (and any other view of the same
   * ArrayBuffer) are empty until the returned `bytes`, the same memory, come back.
   */
  hash(bytes: Uint8Array): Promise<{ digest: Digest; bytes: Buffer }> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    const { buffer, byteOffset: offset, length } = bytes;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, offset, length });
      this.worker.postMessage({ id, buffer, offset, length }, [buffer as ArrayBuffer]);
    });
  }

  /** Ends the thread; a hash still in flight fails. */
  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
    for (const w of this.waiting.values()) w.reject(new Error('the hashing thread was closed'));
    this.waiting.clear();
  }
}

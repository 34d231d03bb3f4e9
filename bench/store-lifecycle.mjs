// Store lifecycle at scale: gc, verify and index rebuild over a synthetic store of N small objects.
//   node scripts/build-native.mjs && npm run build && node bench/store-lifecycle.mjs [--sizes 10000,100000] [--dir DIR]
// The store is made by the benchmark with FileStore.put (random bytes, 1-3 KiB each) in chains of
// CHAIN objects, each object holding the cas: name of the previous one in its chain, so gc has a
// graph to walk; every other chain has a root (the chain's last object), so half the objects are
// unreachable. Timed, in this order: index rebuild (LocalStore.rebuildIndex, reading every
// object), verify (every object re-hashed in worker threads) beside single-core node:crypto
// sha256 of the same bytes already in memory (the hashing limit, no I/O), and gc (mark through
// index and object bytes, sweep half). The default --dir is /dev/shm when it exists: putting
// 100k objects on a disk costs two fsyncs each (minutes), and tmpfs keeps the run to about a minute.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  collectGarbage,
  Digest,
  FileStore,
  formatCasName,
  LocalStore,
  verifyStore,
} from '../dist/src/store/index.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const sizes = arg('--sizes', '10000,100000').split(',').map(Number);
const base = arg('--dir', existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const CHAIN = 20;

const CAS = /cas:sha256:[0-9a-f]{64}/g;
const extractRefs = (bytes) => bytes.toString('latin1').match(CAS) ?? [];

// A small deterministic generator (xorshift32), so runs are comparable.
let seed = 0x9e3779b9;
function randomBytes(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    b[i] = seed & 0xff;
  }
  return b;
}

function ms(t0) {
  return performance.now() - t0;
}

async function one(n) {
  const dir = mkdtempSync(join(base, 'cald-bench-lifecycle-'));
  try {
    const files = FileStore.open(join(dir, 'store'), { create: true });
    let t0 = performance.now();
    let prev;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const head = prev === undefined || i % CHAIN === 0 ? '' : `${formatCasName(prev)}\n`;
      const body = Buffer.concat([Buffer.from(head, 'latin1'), randomBytes(1024 + ((i * 7919) % 2048))]);
      bytes += body.length;
      prev = files.objects.put(body);
      if (i % CHAIN === CHAIN - 1 && (i / CHAIN) % 2 < 1) {
        files.roots.add({ kind: 'object', target: prev.toString() });
      }
    }
    const makeMs = ms(t0);

    const local = await LocalStore.open({ path: files.root, extractRefs });
    t0 = performance.now();
    const rebuilt = await local.rebuildIndex(extractRefs);
    const rebuildMs = ms(t0);

    // The hashing limit: single-core sha256 of the same bytes, already in memory.
    const buffers = files.objects.list().map((d) => readFileSync(files.pathOf(d)));
    t0 = performance.now();
    for (const b of buffers) createHash('sha256').update(b).digest();
    const shaMs = ms(t0);
    buffers.length = 0;

    const verified = await verifyStore(files, local.index);
    if (!verified.clean) throw new Error('synthetic store does not verify clean');

    t0 = performance.now();
    const gc = await collectGarbage(files, local.index, { extractRefs, runtimeRoots: false });
    const gcMs = ms(t0);
    local.close();
    if (gc.deleted.length !== n / 2) throw new Error(`gc deleted ${gc.deleted.length}, expected ${n / 2}`);
    return {
      n,
      bytes,
      makeMs,
      rebuildMs,
      rebuilt,
      verifyMs: verified.hashMs,
      workers: verified.workers,
      shaMs,
      gcMs,
      deleted: gc.deleted.length,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`# node bench/store-lifecycle.mjs --sizes ${sizes.join(',')} --dir ${base}`);
console.log(`# ${availableParallelism()} cores, node ${process.version}, chains of ${CHAIN}, half rooted`);
console.log(
  '| objects | MB | make | index rebuild | verify | sha256 1 core (memory) | verify / sha256 | gc (delete half) |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const n of sizes) {
  const r = await one(n);
  const per = (t) => `${(t / 1000).toFixed(2)} s (${((t * 1000) / r.n).toFixed(1)} µs/obj)`;
  const mb = r.bytes / 1e6;
  const gbps = (t) => (r.bytes / 1e6 / t).toFixed(2);
  console.log(
    `| ${r.n} | ${mb.toFixed(0)} | ${(r.makeMs / 1000).toFixed(1)} s | ${per(r.rebuildMs)} | ` +
      `${per(r.verifyMs)}, ${gbps(r.verifyMs)} GB/s, ${r.workers} threads | ${per(r.shaMs)}, ${gbps(r.shaMs)} GB/s | ` +
      `${(r.shaMs / r.verifyMs).toFixed(2)} | ${per(r.gcMs)} |`,
  );
}
void Digest;

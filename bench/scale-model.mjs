// The start of a big program on many nodes, estimated from costs measured on this machine
// (docs/scale.md). Measured here, in this run: sha256 throughput, and the per-object cost of a
// pull from a loopback HTTP cache (`cald serve`) beside curl moving the same bytes. Taken as
// arguments (defaults: the figures docs/benchmarks.md records, with the commands that made them):
// the resolver's cost per object, lazy fetch's cost per object, and site parameters (node and
// server bandwidths, round trip, fan-out of a mirror tree).
//
//   npm run build && node bench/scale-model.mjs [--libraries 900] [--nodes 2048] [--no-measure]
//     [--resolve-us 6] [--lazy-ms 22] [--node-gbps 10] [--fs-gbps 800] [--mirror-gbps 200]
//     [--rtt-ms 0.2] [--fanout 32]
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const L = arg('--libraries', 900);
const N = arg('--nodes', 2048);
const resolveUs = arg('--resolve-us', 6);
const lazyMs = arg('--lazy-ms', 22);
const nodeBps = (arg('--node-gbps', 10) * 1e9) / 8;
const fsBps = (arg('--fs-gbps', 800) * 1e9) / 8;
const mirrorBps = (arg('--mirror-gbps', 200) * 1e9) / 8;
const rtt = arg('--rtt-ms', 0.2) / 1000;
const fanout = arg('--fanout', 32);
const measure = !process.argv.includes('--no-measure');
const repo = resolve(new URL('..', import.meta.url).pathname);
const cald = join(repo, 'bin/cald.js');

// sha256 throughput of node:crypto (what import, pull and verify use; the resolver's own C
// sha256 is slower without SHA-NI: docs/resolver.md).
const buf = Buffer.alloc(64 * 1024 * 1024, 7);
const t0 = process.hrtime.bigint();
for (let i = 0; i < 4; i++) createHash('sha256').update(buf).digest();
const hashBps = (4 * buf.length) / (Number(process.hrtime.bigint() - t0) / 1e9);

// Object sizes and per-object pull cost from ffmpeg's real closure.
let meanSize = 1.18e6;
let pullPerObjectMs = 9;
let objects = 210;
if (measure) {
  const work = mkdtempSync(join(tmpdir(), 'cald-scale-'));
  const env = (store) => ({ ...process.env, CALD_STORE: store, CALD_REQUIRE_SIGNATURES: 'false' });
  const ms = (f) => {
    const a = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - a) / 1e6;
  };
  try {
    const source = join(work, 'source');
    spawnSync(process.execPath, [cald, 'import', '/usr/bin/ffmpeg'], { env: env(source) });
    const dir = join(source, 'objects', 'sha256');
    const files = readdirSync(dir);
    objects = files.length;
    const bytes = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    meanSize = bytes / objects;
    const port = await new Promise((ok) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => ok(p));
      });
    });
    const url = `http://127.0.0.1:${port}`;
    const serve = spawn(
      process.execPath,
      [cald, 'serve', '--dir', join(work, 'cache'), '--writable', '--listen', `127.0.0.1:${port}`],
      { stdio: 'ignore' },
    );
    try {
      for (let i = 0; i < 50; i++) {
        try {
          await fetch(url);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      spawnSync(process.execPath, [cald, 'push', url, 'ffmpeg'], { env: env(source) });
      const pull = ms(() =>
        spawnSync(process.execPath, [cald, 'pull', url, 'ffmpeg'], { env: env(join(work, 'p')) }),
      );
      mkdirSync(join(work, 'c'));
      const args = ['-sS', '--fail', '--parallel', '--parallel-max', '4'];
      for (const f of files) args.push('-o', join(work, 'c', f), `${url}/objects/sha256/${f}`);
      const curl = ms(() => spawnSync('curl', args));
      // What cald adds over moving the bytes (hashing, syncing, storing), per object; the pull's
      // four downloads at once are counted as they run, so this is the cost of one object's turn.
      pullPerObjectMs = Math.max(0, (pull - curl) / objects);
      console.log(
        `measured: ffmpeg's closure ${objects} objects, mean ${(meanSize / 1e6).toFixed(2)} MB; pull from cald serve ${pull.toFixed(0)} ms, curl ${curl.toFixed(0)} ms => ${pullPerObjectMs.toFixed(2)} ms per object beyond the transfer`,
      );
    } finally {
      serve.kill();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
console.log(`measured: sha256 ${(hashBps / 1e9).toFixed(2)} GB/s on one core`);

const C = L * meanSize;
const s = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
console.log(
  `\nmodel: ${L} libraries (${(C / 1e9).toFixed(2)} GB at the mean size above), ${N} nodes; node link ${(nodeBps * 8) / 1e9} Gb/s, shared file system ${(fsBps * 8) / 1e9} Gb/s, mirror tier ${(mirrorBps * 8) / 1e9} Gb/s, RTT ${rtt * 1000} ms, fan-out ${fanout}; resolver ${resolveUs} us/object, lazy fetch ${lazyMs} ms/object`,
);
const rows = [];
// 1. A shared read-only store on the cluster file system, leases refused (NFS): every start
//    hashes every object it loads (nothing may be cached), so every node reads the whole closure.
rows.push([
  'shared store on NFS, no leases (hash every start)',
  Math.max((N * C) / fsBps, C / nodeBps) + C / hashBps + (L * resolveUs) / 1e6,
  N * C,
  `${L} exact opens per node, 0 failed lookups`,
]);
// 2. The same store where the verification cache works (a file system that grants leases, or a
//    node-local copy): after the first start, only the pages touched are read, as with stock.
rows.push([
  'shared store, verification cached (second start)',
  (L * resolveUs) / 1e6,
  0,
  'only touched pages read, as stock ld.so',
]);
// 3. Pull into node-local stores from one mirror tier before the job: the tier's bandwidth is
//    shared by all nodes; each node's own link and per-object cost (4 at a time) bound it below.
rows.push([
  'pull from a mirror tier, then start',
  Math.max((N * C) / mirrorBps, C / nodeBps + (L * pullPerObjectMs) / 4 / 1000) + C / hashBps,
  N * C,
  'every node fetches the whole closure once',
]);
// 4. The same through a tree of pull-through caches (a registry mirror per rack): each level
//    serves `fanout` children, so the root's load is the closure times the fan-out, not N.
const depth = Math.ceil(Math.log(N) / Math.log(fanout));
rows.push([
  `pull through a ${depth}-level mirror tree (fan-out ${fanout})`,
  depth * Math.max((fanout * C) / mirrorBps, C / nodeBps) + (L * pullPerObjectMs) / 4 / 1000 + C / hashBps,
  N * C,
  `root serves ${fanout} copies; ${depth} hops, pipelined per object`,
]);
// 5. Lazy fetch at load time: ld.so maps libraries one at a time, so the per-object cost and the
//    round trip add up per node; the bytes still come from the mirror tier.
rows.push([
  'lazy fetch on first use, from a mirror tier',
  Math.max((N * C) / mirrorBps, C / nodeBps + L * (lazyMs / 1000 + rtt)) + C / hashBps,
  N * C,
  `${L} sequential fetches per node`,
]);
console.log('\n| how the nodes get the libraries | seconds added to the job start | bytes moved | note |');
console.log('|---|---|---|---|');
for (const [what, secs, bytes, note] of rows) {
  console.log(`| ${what} | ${s(secs)} | ${(bytes / 1e12).toFixed(2)} TB | ${note} |`);
}
console.log(
  '| published: stock ld.so, NFS, 2,048 processes (Spindle paper) | 344.6 | | failed lookups dominate |',
);
console.log('| published: Spindle | 47.8 | | |');

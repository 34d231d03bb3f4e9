// The store index's operations, timed on this tree and (with --before) on another build of cald
// side by side in one run, each in its own process, alternating, best of --rounds.
//   npm run build && node bench/index-ops.mjs [--objects 20000] [--rounds 3] [--before /path/to/old/cald]
// An old tree must be built (npm ci there): its dist/src/store/index-db.js is loaded as is.
// Timed: loading the index module (the SQLite binding with it) and opening a new index file;
// recording N objects with 4 references each in one transaction (what an import and a rebuild
// do); N point lookups of an object row; N/10 referrer queries; a whole snapshot; reopening.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const N = Number(arg('--objects', '20000'));
const ROUNDS = Number(arg('--rounds', '3'));
const before = arg('--before', undefined);
const here = resolve(fileURLToPath(import.meta.url), '../..');

if (process.argv.includes('--child')) {
  await child(arg('--tree', here));
} else {
  await parent();
}

async function parent() {
  const trees = [['this tree', here]];
  if (before !== undefined) trees.push(['before', resolve(before)]);
  const best = new Map();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [label, tree] of trees) {
      const out = spawnSync(
        process.execPath,
        [fileURLToPath(import.meta.url), '--child', '--tree', tree, '--objects', String(N)],
        {
          encoding: 'utf8',
        },
      );
      if (out.status !== 0) throw new Error(`${label}: ${out.stderr}`);
      const times = JSON.parse(out.stdout);
      const prev = best.get(label) ?? {};
      for (const [k, v] of Object.entries(times)) prev[k] = Math.min(prev[k] ?? Infinity, v);
      best.set(label, prev);
    }
  }
  console.log(
    `node bench/index-ops.mjs --objects ${N} --rounds ${ROUNDS}${before ? ` --before ${before}` : ''}`,
  );
  const ops = Object.keys(best.get('this tree'));
  const header = ['operation', ...trees.map(([l]) => `${l} (ms)`), ...(before ? ['this / before'] : [])];
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const op of ops) {
    const cells = trees.map(([l]) => best.get(l)[op].toFixed(1));
    if (before) cells.push((best.get('this tree')[op] / best.get('before')[op]).toFixed(2));
    console.log(`| ${op} | ${cells.join(' | ')} |`);
  }
}

async function child(tree) {
  const t = {};
  const time = async (name, fn) => {
    const s = performance.now();
    const r = await fn();
    t[name] = performance.now() - s;
    return r;
  };
  const dir = mkdtempSync(join(tmpdir(), 'cald-bench-index-'));
  try {
    const { IndexDb } = await time('load module', () => import(join(tree, 'dist/src/store/index-db.js')));
    const { Digest } = await import(join(tree, 'dist/src/store/digest.js'));
    const { formatCasName } = await import(join(tree, 'dist/src/store/cas-name.js'));
    const { createHash } = await import('node:crypto');
    const digests = Array.from({ length: N }, (_, i) =>
      Digest.parse(`sha256:${createHash('sha256').update(String(i)).digest('hex')}`),
    );
    const path = join(dir, 'index.sqlite');
    const index = await time('open new file', () => IndexDb.open(path));
    await time(`record ${N} objects + ${4 * N} refs`, () =>
      index.transaction(() => {
        for (let i = 0; i < N; i++) {
          index.recordObject({ digest: digests[i], size: 1000 + i, executable: false, added: 1 });
          const refs = [1, 2, 3, 4].map((k) => formatCasName(digests[(i * 7 + k) % N], `lib${k}.so`));
          index.recordRefs(digests[i], refs);
        }
      }),
    );
    await time(`${N} object lookups`, () => {
      for (let i = 0; i < N; i++) index.objectRow(digests[i]);
    });
    await time(`${N / 10} referrer queries`, () => {
      for (let i = 0; i < N; i += 10) index.referrers(digests[i]);
    });
    await time('snapshot', () => index.snapshot());
    index.close();
    await time('reopen', () => IndexDb.open(path).close());
    process.stdout.write(JSON.stringify(t));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

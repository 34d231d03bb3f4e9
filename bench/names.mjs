// What naming costs at start-up: resolving a program by name (its program-<name> root read
// directly, one stat) against the full scan every lookup did before program roots (every root
// read and parsed; still what a bare digest costs, to find the name argv[0] gets), in one store
// holding N named programs (2 names each), for several N. In-process
// (dist/src/runtime/target.js, what `cald run`, `ldd` and `install` call), median of R runs each.
//
//   npm run build && node bench/names.mjs [--counts 1,100,1000] [--runs 200]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const COUNTS = opt('--counts', '1,100,1000').split(',').map(Number);
const RUNS = Number(opt('--runs', 200));
const dist = resolve(opt('--dist', 'dist'));
const load = (p) => import(pathToFileURL(join(dist, p)).href);
const { FileStore, nameProgram } = await load('src/store/index.js');
const { resolveTarget } = await load('src/runtime/target.js');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (fn) => {
  const ms = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(ms);
};

console.log(`node bench/names.mjs --counts ${COUNTS.join(',')} --runs ${RUNS}`);
console.log('programs | by name (ms) | full scan: by digest (ms) | scan / name');
for (const n of COUNTS) {
  const dir = mkdtempSync(join(tmpdir(), 'cald-names-'));
  try {
    const store = FileStore.open(join(dir, 'store'), { create: true });
    let last;
    for (let i = 0; i < n; i++) {
      last = store.objects.put(Buffer.from(`program ${i}`));
      nameProgram(store.roots, { digest: last, path: `/usr/bin/p${i}`, names: [`p${i}`, `p${i}.1`] });
    }
    const readOnly = FileStore.open(join(dir, 'store'), { readOnly: true });
    const byName = time(() => resolveTarget(`p${n - 1}`, readOnly));
    const byDigest = time(() => resolveTarget(last.toString(), readOnly));
    console.log(
      `${String(n).padStart(8)} | ${byName.toFixed(3).padStart(12)} | ${byDigest.toFixed(3).padStart(25)} | ${(byDigest / byName).toFixed(1)}x`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

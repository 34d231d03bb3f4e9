// Start-up cost of the ways to find a program's libraries, on a small C program linked against 20
// libraries (built here with cc):
//   stock           normal names (lib0.so...) found on LD_LIBRARY_PATH
//   stock+audit     the same program with LD_AUDIT set (what a leaked LD_AUDIT costs other programs)
//   name-dir        cas:sha256 names, the store's name directory on LD_LIBRARY_PATH
//   audit-warm      cas:sha256 names, LD_AUDIT=libcald-audit.so, verification cache filled
//   audit-cold      the same, cache emptied before every run (every object hashed)
// Median of N runs each (hyperfine -N when installed, else a spawnSync loop), ratios to stock,
// and (with strace) the number of failed file lookups per start-up.
//
//   node scripts/build-native.mjs && node bench/audit-startup.mjs [--runs N] [--libs N]
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('--runs', 1000); // per mode and round
const LIBS = arg('--libs', 20);
const ROUNDS = arg('--rounds', 3);
const audit = resolve('native/build/libcald-audit.so');
if (!existsSync(audit)) {
  console.error(`audit-startup: ${audit} missing; run node scripts/build-native.mjs first`);
  process.exit(1);
}
const have = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const cc = (...args) => execFileSync('cc', args, { stdio: ['ignore', 'ignore', 'inherit'] });
const sha256 = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');

// ---- fixtures
const dir = mkdtempSync(join(tmpdir(), 'cald-bench-'));
const libdir = join(dir, 'lib');
const stubdir = join(dir, 'stub');
const store = join(dir, 'store');
for (const d of [libdir, stubdir, join(store, 'objects', 'sha256'), join(store, 'names')])
  mkdirSync(d, { recursive: true });
const calls = [];
for (let i = 0; i < LIBS; i++) {
  const c = join(dir, `l${i}.c`);
  writeFileSync(c, `int f${i}(int x) { return x * ${i + 3} + ${i}; }\nint g${i}[256] = {${i}};\n`);
  const lib = join(libdir, `lib${i}.so`);
  cc('-shared', '-fPIC', '-O2', `-Wl,-soname,lib${i}.so`, '-o', lib, c);
  const hex = sha256(lib);
  const obj = join(store, 'objects', 'sha256', hex);
  copyFileSync(lib, obj);
  chmodSync(obj, 0o444);
  symlinkSync(`../objects/sha256/${hex}`, join(store, 'names', `cas:sha256:${hex}`));
  cc('-shared', '-fPIC', `-Wl,-soname,cas:sha256:${hex}`, '-o', join(stubdir, `lib${i}.so`), c);
  calls.push(`f${i}`);
}
const main = join(dir, 'main.c');
writeFileSync(
  main,
  `${calls.map((f) => `int ${f}(int);`).join('\n')}\nint main(void) { int s = 0;\n${calls.map((f) => `  s += ${f}(s);`).join('\n')}\n  return s == 12345 ? 1 : 0; }\n`,
);
const libArgs = (d) => [`-L${d}`, ...calls.map((_, i) => `-l${i}`)];
const progStock = join(dir, 'prog-stock');
const progCas = join(dir, 'prog-cas');
cc('-O2', '-o', progStock, main, ...libArgs(libdir));
cc('-O2', '-o', progCas, main, ...libArgs(stubdir));
// the cache vouches only for files whose ctime is >= 1 s old: wait rather than measure hashing twice
const settle = Date.now() + 1100;
while (Date.now() < settle) {}

const warmCache = join(dir, 'cache-warm');
const coldCache = join(dir, 'cache-cold');
const base = { PATH: process.env.PATH, LC_ALL: 'C', HOME: dir };
const modes = [
  { name: 'stock', prog: progStock, env: { LD_LIBRARY_PATH: libdir } },
  { name: 'stock+audit', prog: progStock, env: { LD_LIBRARY_PATH: libdir, LD_AUDIT: audit } },
  { name: 'name-dir', prog: progCas, env: { LD_LIBRARY_PATH: join(store, 'names') } },
  {
    name: 'audit-warm',
    prog: progCas,
    env: { LD_AUDIT: audit, CALD_STORE: store, XDG_CACHE_HOME: warmCache },
  },
  {
    name: 'audit-cold',
    prog: progCas,
    env: { LD_AUDIT: audit, CALD_STORE: store, XDG_CACHE_HOME: coldCache },
    prepare: `rm -rf ${coldCache}`,
  },
];
// sanity: every mode starts, and the warm cache is filled
for (const m of modes) {
  const r = spawnSync(m.prog, [], { env: { ...base, ...m.env, CALD_DEBUG: '1' }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${m.name}: exit ${r.status}\n${r.stderr}`);
}

// ---- measure
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function measure(m) {
  const env = { ...base, ...m.env };
  if (have('hyperfine')) {
    const json = join(dir, `${m.name}.json`);
    const args = ['-N', '--warmup', '50', '--runs', String(RUNS), '--export-json', json, '--style', 'none'];
    if (m.prepare) args.push('--prepare', m.prepare);
    args.push(m.prog);
    execFileSync('hyperfine', args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const r = JSON.parse(readFileSync(json, 'utf8')).results[0];
    return { cmd: `hyperfine ${args.join(' ')}`, med: r.median, n: r.times.length };
  }
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    if (m.prepare) rmSync(coldCache, { recursive: true, force: true });
    const t0 = process.hrtime.bigint();
    spawnSync(m.prog, [], { env });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { cmd: `spawnSync loop x${RUNS}: ${m.prog}`, med: median(times), n: RUNS };
}
function failedLookups(m) {
  if (!have('strace')) return '';
  const log = join(dir, `${m.name}.strace`);
  spawnSync('strace', ['-f', '-qq', '-e', 'trace=%file', '-o', log, m.prog], { env: { ...base, ...m.env } });
  return String(
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => / = -1 E/.test(l)).length,
  );
}

console.log(
  `audit-startup: ${LIBS} libraries, ${ROUNDS} rounds of ${RUNS} runs per mode (${have('hyperfine') ? 'hyperfine -N' : 'spawnSync'})`,
);
// Modes alternate in ROUNDS rounds (median of the rounds' medians), so drift from other load on
// the machine hits every mode alike instead of whichever happened to run at the time.
const rounds = [];
for (let i = 0; i < ROUNDS; i++) rounds.push(modes.map(measure));
const results = modes.map((m, j) => ({
  m,
  cmd: rounds[0][j].cmd,
  med: median(rounds.map((r) => r[j].med)),
  failed: failedLookups(m),
}));
const stock = results[0].med;
for (const r of results) {
  const env = Object.entries(r.m.env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`  $ ${env} ${r.cmd}`);
}
console.log('mode          median    ratio  failed lookups');
for (const r of results) {
  console.log(
    `${r.m.name.padEnd(12)} ${(r.med * 1e6).toFixed(0).padStart(6)} us  ${(r.med / stock).toFixed(3)}x  ${r.failed.padStart(5)}`,
  );
}
rmSync(dir, { recursive: true, force: true });

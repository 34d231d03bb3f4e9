// Failed file lookups made while loading `ffmpeg -version`, counted with strace:
//   stock      /usr/bin/ffmpeg as installed (normal names: ld.so.cache, hwcaps subdirectories...)
//   audit      the imported ffmpeg with LD_AUDIT=libcald-audit.so (warm verification cache)
//   names      the imported ffmpeg with <store>/names on LD_LIBRARY_PATH
// A failed lookup is an openat/open/stat/lstat/newfstatat/statx/access/faccessat call returning -1.
// Each mode is traced --runs times (default 3); the counts must agree between runs.
//
//   node scripts/build-native.mjs && npm run build && node bench/strace-lookups.mjs [--program /usr/bin/ffmpeg]
//   (a private build: --dist /tmp/e2e-dist, with CALD_NATIVE_DIR=$PWD/native/build)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const PROGRAM = opt('--program', '/usr/bin/ffmpeg');
const RUNS = Number(opt('--runs', 3));
const dist = resolve(opt('--dist', 'dist'));
const native = process.env.CALD_NATIVE_DIR || resolve('native/build');
const SYSCALLS = 'openat,open,stat,lstat,newfstatat,statx,access,faccessat,faccessat2';

if (spawnSync('sh', ['-c', 'command -v strace']).status !== 0) {
  console.error('strace-lookups: strace is not installed');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'cald-strace-'));
const store = join(dir, 'store');
const home = join(dir, 'home');
mkdirSync(home);
const baseEnv = { PATH: '/usr/bin:/bin', HOME: home, XDG_CACHE_HOME: join(home, '.cache'), LC_ALL: 'C' };
try {
  const entry = join(dir, 'cald.mjs');
  writeFileSync(
    entry,
    `import { main } from ${JSON.stringify(`${dist}/src/cli/main.js`)};\nprocess.exitCode = await main(process.argv.slice(2));\n`,
  );
  const imported = JSON.parse(
    execFileSync(process.execPath, [entry, 'import', '--json', '--store', store, PROGRAM], {
      env: { ...baseEnv, CALD_NATIVE_DIR: native },
      encoding: 'utf8',
    }),
  );
  const object = join(store, 'objects', ...imported.imported[0].digest.split(':'));
  const modes = [
    { mode: 'stock', file: PROGRAM, env: {} },
    { mode: 'audit', file: object, env: { LD_AUDIT: join(native, 'libcald-audit.so'), CALD_STORE: store } },
    { mode: 'names', file: object, env: { LD_LIBRARY_PATH: join(store, 'names') } },
  ];
  // Objects changed less than 1 s ago are verified but not cached (racy-clean rule): wait, then warm.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1100);
  spawnSync(object, ['-version'], { env: { ...baseEnv, ...modes[1].env } });

  const log = join(dir, 'trace');
  const rows = [];
  for (const m of modes) {
    const counts = [];
    let failed = [];
    for (let i = 0; i < RUNS; i++) {
      const args = [
        '-f',
        '-qq',
        '-e',
        `trace=${SYSCALLS}`,
        '-e',
        'signal=none',
        '-o',
        log,
        m.file,
        '-version',
      ];
      const r = spawnSync('strace', args, { env: { ...baseEnv, ...m.env }, encoding: 'utf8' });
      if (r.status !== 0)
        throw new Error(`${m.mode}: strace ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
      failed = readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => / = -1 E[A-Z]+ /.test(l));
      counts.push(failed.length);
    }
    const env = Object.entries(m.env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    rows.push({
      mode: m.mode,
      command: `${env ? `${env} ` : ''}strace -f -e trace=${SYSCALLS} ${m.file} -version`,
      counts,
      cas: failed.filter((l) => l.includes('cas:')).length,
      hwcaps: failed.filter((l) => l.includes('glibc-hwcaps')).length,
      store: failed.filter((l) => l.includes(store)).length,
      other: failed
        .filter((l) => !l.includes('glibc-hwcaps') && !l.includes('cas:'))
        .map((l) => /"([^"]*)"/.exec(l)?.[1]),
    });
  }

  console.log(`program: ${PROGRAM} (${imported.objects} objects imported into ${store})\n`);
  for (const r of rows) console.log(`${r.mode.padEnd(6)} ${r.command}`);
  console.log('');
  console.log('| mode | failed lookups | of them cas: names | glibc-hwcaps | in the store | the rest |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    const same = r.counts.every((c) => c === r.counts[0]);
    const n = same ? String(r.counts[0]) : r.counts.join('/');
    console.log(`| ${r.mode} | ${n} | ${r.cas} | ${r.hwcaps} | ${r.store} | ${r.other.length} |`);
  }
  console.log('');
  for (const r of rows) console.log(`${r.mode} rest: ${[...new Set(r.other)].join(' ')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

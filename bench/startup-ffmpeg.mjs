// Start-up of a big closure: `ffmpeg -version` (215 libraries) stock vs each way of running it by
// content, side by side in one run, with ratios to stock. The small-program comparison is
// bench/startup.mjs.
//
//   npm run build && node bench/startup-ffmpeg.mjs [--runs 100] [--rounds 3]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 100));
const ROUNDS = Number(opt('--rounds', 3));
const repo = resolve(new URL('..', import.meta.url).pathname);
const cald = join(repo, 'bin/cald.js');
const native = process.env.CALD_NATIVE_DIR || join(repo, 'native/build');
const program = '/usr/bin/ffmpeg';

if (spawnSync('sh', ['-c', 'command -v hyperfine']).status !== 0) {
  console.error('startup-ffmpeg: needs hyperfine (apt-get install hyperfine)');
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), 'cald-startup-ffmpeg-'));
try {
  const store = join(dir, 'store');
  const env = {
    ...process.env,
    CALD_STORE: store,
    CALD_NATIVE_DIR: native,
    XDG_CACHE_HOME: join(dir, 'cache'),
  };
  const report = JSON.parse(
    execFileSync(process.execPath, [cald, 'import', '--json', program], { env, encoding: 'utf8' }),
  );
  const object = join(store, 'objects', ...report.imported[0].digest.split(':'));
  execFileSync(process.execPath, [cald, 'install', report.imported[0].uri, '--bin', join(dir, 'bin')], {
    env,
  });
  // The verification cache vouches only for objects older than a second (docs/resolver.md).
  spawnSync('sleep', ['1.2']);
  // What glibc charges for auditing at all: an audit library with nothing but la_version.
  const trivial = join(dir, 'trivial-audit.so');
  execFileSync('sh', [
    '-c',
    `printf '#include <link.h>\\nunsigned int la_version(unsigned int v) { return v; }\\n' | cc -shared -fPIC -O2 -x c -o ${trivial} -`,
  ]);
  const audit = `LD_AUDIT=${join(native, 'libcald-audit.so')} CALD_STORE=${store} XDG_CACHE_HOME=${join(dir, 'cache')}`;
  const modes = [
    ['stock', `${program} -version`],
    ['audit (eval "$(cald env)")', `env ${audit} ${object} -version`],
    ['LD_AUDIT, la_version only', `env LD_AUDIT=${trivial} ${program} -version`],
    ['name directory', `env LD_LIBRARY_PATH=${join(store, 'names')} ${object} -version`],
    [
      'launcher (cald install)',
      `env CALD_STORE=${store} XDG_CACHE_HOME=${join(dir, 'cache')} ${join(dir, 'bin', 'ffmpeg')} -version`,
    ],
  ];
  // Warm the verification cache and check every way works.
  for (const [name, cmd] of modes) {
    const r = spawnSync('sh', ['-c', `${cmd} >/dev/null`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
  }
  // `env` is on every line but stock's: measure it alone so it can be subtracted fairly.
  modes.push(['(env true, subtracted from the env lines)', 'env true']);
  const medians = new Map(modes.map(([n]) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const out = join(dir, `round-${round}.json`);
    execFileSync(
      'hyperfine',
      ['-N', '--warmup', '10', '--runs', String(RUNS), '--export-json', out, ...modes.map(([, c]) => c)],
      {
        stdio: 'ignore',
      },
    );
    const results = JSON.parse(execFileSync('cat', [out], { encoding: 'utf8' })).results;
    for (const [i, r] of results.entries()) medians.get(modes[i][0]).push(r.median * 1e6);
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const envCost = med(medians.get('(env true, subtracted from the env lines)'));
  const stock = med(medians.get('stock'));
  console.log(
    `ffmpeg -version: ${report.objects} objects; hyperfine -N, ${RUNS} runs x ${ROUNDS} rounds, median of round medians`,
  );
  for (const [name, cmd] of modes.slice(0, -1)) {
    const raw = med(medians.get(name));
    const net = cmd.startsWith('env ') ? raw - envCost : raw;
    console.log(
      `${name.padEnd(28)} ${net.toFixed(0).padStart(7)} us  ${(net / stock).toFixed(3)}x   ${cmd.slice(0, 90)}`,
    );
  }
  console.log(`(env itself: ${envCost.toFixed(0)} us, subtracted from the lines run through env)`);
  printPeakRss(modes.slice(0, -1), [...ldLibs(program), program, ...objectFiles(store)]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Peak RSS (median of 5 runs of /usr/bin/time -f %M) of each way: "warm" with the page cache as it is
// (the store's objects fully cached, just written), "cold" after every object's and stock file's clean
// pages are dropped (dd iflag=nocache: POSIX_FADV_DONTNEED), so both are read back the same way.
function printPeakRss(modes, files) {
  const rss = (cmd) => {
    const r = spawnSync('/usr/bin/time', ['-f', '%M', 'sh', '-c', `exec ${cmd} >/dev/null`], {
      encoding: 'utf8',
    });
    return Number(r.stderr.trim().split('\n').pop());
  };
  const drop = () => {
    for (const f of files) spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
  };
  const median5 = (cold, cmd) => {
    const xs = [];
    for (let i = 0; i < 5; i++) {
      if (cold) drop();
      xs.push(rss(cmd));
    }
    return xs.sort((a, b) => a - b)[2];
  };
  const rows = modes.map(([name, cmd]) => [name, median5(false, cmd), median5(true, cmd)]);
  const [, warm0, cold0] = rows[0];
  console.log('peak RSS (median of 5):        warm            cold (page cache dropped)');
  for (const [name, warm, cold] of rows) {
    const col = (v, base) => `${(v / 1024).toFixed(1).padStart(6)} MiB ${(v / base).toFixed(3)}x`;
    console.log(`${name.padEnd(28)} ${col(warm, warm0)}  ${col(cold, cold0)}`);
  }
}

function ldLibs(prog) {
  const out = execFileSync('ldd', [prog], { encoding: 'utf8' });
  return [...out.matchAll(/=> (\/\S+)/g)].map((m) => m[1]);
}

function objectFiles(store) {
  const dir = join(store, 'objects', 'sha256');
  return readdirSync(dir).map((f) => join(dir, f));
}

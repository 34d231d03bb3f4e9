// Start-up of a big closure: `ffmpeg -version` (215 libraries) stock vs each way of running it by
// content, side by side in one run (runs interleaved), with ratios to stock. The small-program
// comparison is bench/startup.mjs.
//
//   npm run build && node bench/startup-ffmpeg.mjs [--runs 100] [--rounds 3] [--warmup 5] [--compare LIB]
//
// Ways: stock; the audit resolver through LD_AUDIT, for the program imported plainly and imported
// with --audit (its audit sentinel first); LD_AUDIT of a library with only la_version; the name
// directory; the launcher.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 100));
const ROUNDS = Number(opt('--rounds', 3));
const WARMUP = Number(opt('--warmup', 5));
// Another build of libcald-audit.so to run beside this one (e.g. the previous commit's).
const COMPARE = opt('--compare', undefined);
const repo = resolve(new URL('..', import.meta.url).pathname);
const cald = join(repo, 'bin/cald.js');
const native = process.env.CALD_NATIVE_DIR || join(repo, 'native/build');
const program = '/usr/bin/ffmpeg';

const HARNESS = `#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* harness WARMUP RUNS -- VAR=V... FILE ARGS... -- ...: prints "mode wall_us cpu_us" per measured run */
int main(int argc, char **argv) {
  int warm = atoi(argv[1]), runs = atoi(argv[2]), n = 0;
  char **start[64];
  for (int i = 3; i < argc && n < 64; i++)
    if (strcmp(argv[i], "--") == 0) argv[i] = NULL, start[n++] = argv + i + 1;
  unsigned long long seed = 0x9e3779b97f4a7c15ULL;
  int order[64];
  for (int r = 0; r < warm + runs; r++) {
    /* A new random order every round: in a fixed rotation each way always ran right after the same
       other one (stock after /bin/true), so whatever a run leaves behind fell on one way only. */
    for (int k = 0; k < n; k++) order[k] = k;
    for (int k = n - 1; k > 0; k--) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      int j = (int)((seed >> 33) % (unsigned long long)(k + 1)), t = order[k];
      order[k] = order[j], order[j] = t;
    }
    for (int k = 0; k < n; k++) {
      int m = order[k];
      char **env = start[m], **file = env;
      while (*file && strchr(*file, '=')) file++;
      char *saved = *file;
      *file = NULL; /* env ends where the program starts */
      struct timespec a, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      pid_t pid = fork();
      if (pid == 0) {
        int null = open("/dev/null", 1);
        dup2(null, 1), dup2(null, 2);
        *file = saved;
        char *e[64];
        int ne = 0;
        for (char **p = env; p < file && ne < 63; p++) e[ne++] = *p;
        e[ne] = NULL;
        execve(saved, file, e);
        _exit(127);
      }
      int st;
      struct rusage ru;
      wait4(pid, &st, 0, &ru);
      clock_gettime(CLOCK_MONOTONIC, &b);
      *file = saved;
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "mode %d failed\\n", m); return 1; }
      double wall = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
      double cpu = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
      if (r >= warm) printf("%d %.0f %.0f\\n", m, wall, cpu);
    }
  }
  return 0;
}`;

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
  // The same program imported with --audit: its first DT_NEEDED is the audit sentinel (one more,
  // empty object) and DT_AUDIT names /usr/local/lib/libcald-audit.so. Run here through LD_AUDIT;
  // when that path is not installed ld.so also tries it once and prints a warning (to /dev/null).
  const audited = JSON.parse(
    execFileSync(process.execPath, [cald, 'import', '--json', '--audit', program], { env, encoding: 'utf8' }),
  );
  const auditedObject = join(store, 'objects', ...audited.imported[0].digest.split(':'));
  // The same bytes without the sentinel (cald patchelf on a copy): the sentinel's own cost.
  const noSentinel = join(dir, 'ffmpeg-no-sentinel');
  const sentinel = execFileSync('readelf', ['-dW', auditedObject], { encoding: 'utf8' }).match(
    /\(NEEDED\)\s+Shared library: \[(\/proc\/[^\]]+)\]/,
  )[1];
  execFileSync('cp', [auditedObject, noSentinel]);
  execFileSync('chmod', ['u+w', noSentinel]);
  execFileSync(process.execPath, [cald, 'patchelf', '--remove-needed', sentinel, noSentinel], { env });
  // The verification cache vouches only for objects older than a second (docs/resolver.md).
  spawnSync('sleep', ['1.2']);
  // What glibc charges for auditing at all: an audit library with nothing but la_version.
  const trivial = join(dir, 'trivial-audit.so');
  execFileSync('sh', [
    '-c',
    `printf '#include <link.h>\\nunsigned int la_version(unsigned int v) { return v; }\\n' | cc -shared -fPIC -O2 -x c -o ${trivial} -`,
  ]);
  const cache = join(dir, 'cache');
  const auditEnv = { LD_AUDIT: join(native, 'libcald-audit.so'), CALD_STORE: store, XDG_CACHE_HOME: cache };
  const modes = [
    ['stock', program, {}],
    // The same command again: how far two identical ways differ here (the bench's resolution).
    ['stock again (A/A control)', program, {}],
    ['audit (eval "$(cald env)")', object, auditEnv],
    ['audit, imported --audit', auditedObject, auditEnv],
    ['  the same, sentinel removed', noSentinel, auditEnv],
    ...(COMPARE === undefined
      ? []
      : [['audit, --compare library', object, { ...auditEnv, LD_AUDIT: resolve(COMPARE) }]]),
    ['LD_AUDIT, la_version only', program, { LD_AUDIT: trivial }],
    ['name directory', object, { LD_LIBRARY_PATH: join(store, 'names') }],
    ['launcher (cald install)', join(dir, 'bin', 'ffmpeg'), { XDG_CACHE_HOME: cache }],
    // What starting any process costs from here: subtracted from every line.
    ['(/bin/true, subtracted)', '/bin/true', {}],
  ];
  const base = [`PATH=${process.env.PATH}`, `HOME=${process.env.HOME ?? dir}`, 'LC_ALL=C'];
  // A small C harness forks and execs the modes in turn (a new random order each round, so load from other
  // work on the machine falls on every mode alike) and reports each run's wall time and the
  // child's CPU time (user + system, from wait4), which other load disturbs far less.
  const harness = join(dir, 'harness');
  execFileSync('sh', ['-c', `cc -O2 -x c -o ${harness} - <<'EOF'\n${HARNESS}\nEOF`]);
  const args = [String(WARMUP), String(RUNS * ROUNDS)];
  for (const [, file, extra] of modes) {
    const vars = [...base, ...Object.entries(extra).map(([k, v]) => `${k}=${v}`)];
    args.push('--', ...vars, file, ...(file === '/bin/true' ? [] : ['-version']));
  }
  const lines = execFileSync(harness, args, { encoding: 'utf8', maxBuffer: 64 << 20 })
    .trim()
    .split('\n');
  const wall = modes.map(() => []);
  const cpu = modes.map(() => []);
  for (const l of lines) {
    const [j, w, c] = l.split(' ').map(Number);
    wall[j].push(w);
    cpu[j].push(c);
  }
  const med = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  // The first quartile too: CPU times here spread over ~20 % (other guests of the host), and a
  // low quantile is steadier than the median between runs.
  const q25 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 4)];
  const last = modes.length - 1;
  const netWall = wall.map((t) => med(t) - med(wall[last]));
  const netCpu = cpu.map((t) => med(t) - med(cpu[last]));
  const netCpu25 = cpu.map((t) => q25(t) - q25(cpu[last]));
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `ffmpeg -version: ${report.objects} objects; ${RUNS * ROUNDS} interleaved runs per way, medians; load average ${load} (${cpus().length} CPUs)`,
  );
  console.log(
    `${'way'.padEnd(28)} ${'wall'.padStart(9)} ${'ratio'.padStart(7)} ${'CPU'.padStart(9)} ${'ratio'.padStart(7)} ${'CPU p25'.padStart(9)} ${'ratio'.padStart(7)}   command`,
  );
  for (const [j, [name, file, extra]] of modes.slice(0, -1).entries()) {
    const vars = Object.entries(extra)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    console.log(
      `${name.padEnd(28)} ${netWall[j].toFixed(0).padStart(6)} us ${(netWall[j] / netWall[0]).toFixed(3).padStart(6)}x ${netCpu[j].toFixed(0).padStart(6)} us ${(netCpu[j] / netCpu[0]).toFixed(3).padStart(6)}x ${netCpu25[j].toFixed(0).padStart(6)} us ${(netCpu25[j] / netCpu25[0]).toFixed(3).padStart(6)}x   ${`${vars} ${file} -version`.trim().slice(0, 100)}`,
    );
  }
  console.log(
    `(/bin/true: ${med(wall[last]).toFixed(0)} us wall, ${med(cpu[last]).toFixed(0)} us CPU, subtracted from every line)`,
  );
  // Peak RSS of each way (the same commands, through env for their variables).
  const commands = modes.slice(0, -1).map(([name, file, extra]) => [
    name,
    `env ${Object.entries(extra)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')} ${file} -version`,
  ]);
  printPeakRss(commands, [...ldLibs(program), program, ...objectFiles(store)]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Peak RSS (median of 5 runs of /usr/bin/time -f %M) of each way: "as left" with the page cache as the
// import and the timed runs above left it; then with the same page-cache state for stock and store:
// "warm" after every object's and stock file's clean pages were dropped once (dd
// iflag=nocache: POSIX_FADV_DONTNEED) and each way was run once, so both sides' files were read back from
// disk the same way and stay cached; "cold" with the pages dropped again before every run.
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
  const asLeft = modes.map(([, cmd]) => median5(false, cmd));
  drop();
  for (const [, cmd] of modes) rss(cmd);
  const warm = modes.map(([, cmd]) => median5(false, cmd));
  const rows = modes.map(([name, cmd], i) => [name, asLeft[i], warm[i], median5(true, cmd)]);
  const [, left0, warm0, cold0] = rows[0];
  console.log(
    'peak RSS (median of 5):        as left             warm (same cache)   cold (page cache dropped)',
  );
  for (const [name, left, warm, cold] of rows) {
    const col = (v, base) => `${(v / 1024).toFixed(1).padStart(6)} MiB ${(v / base).toFixed(3)}x`;
    console.log(`${name.padEnd(28)} ${col(left, left0)}  ${col(warm, warm0)}  ${col(cold, cold0)}`);
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

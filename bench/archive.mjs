// Archives of a program's closure, side by side in one run: `cald export` beside GNU tar with
// zstd packing the same object files (same level), and `cald import-archive` into a fresh store
// beside `tar --zstd -x` of the same archive into a fresh directory followed by sha256sum of
// every file (what an independent, verifying extraction costs: the floor cald must do as well).
//
//   npm run build && node bench/archive.mjs [--program /usr/bin/ffmpeg] [--reps 3]
// Needs tar and zstd (Debian). Prints times, sizes and the ratios cald/tar.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const program = arg('--program', '/usr/bin/ffmpeg');
const reps = Number(arg('--reps', '3'));
const repo = resolve(new URL('..', import.meta.url).pathname);
const cald = join(repo, 'bin/cald.js');
const work = mkdtempSync(join(tmpdir(), 'cald-bench-archive-'));
const name = program.split('/').pop();

// Wall time, and CPU time (user + system, children included) through bash's `time`: on a shared
// machine the CPU time is the steadier of the two.
const cpu = [];
const time = (cmd, args, opts = {}) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', 'TIMEFORMAT="CPU %U %S"; time "$@" 2>/dev/null', '_', cmd, ...args], {
    encoding: 'utf8',
    ...opts,
    env: { ...process.env, CALD_REQUIRE_SIGNATURES: 'false', ...opts.env },
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  const m = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr);
  cpu.push(m ? (Number(m[1]) + Number(m[2])) * 1000 : Number.NaN);
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const lastCpu = () => cpu[cpu.length - 1];

try {
  const source = join(work, 'source');
  time(process.execPath, [cald, 'import', program], { env: { CALD_STORE: source } });
  const objectsDir = join(source, 'objects', 'sha256');
  const objects = readdirSync(objectsDir);
  const bytes = objects.reduce((n, o) => n + statSync(join(objectsDir, o)).size, 0);
  console.log(`program: ${program}: ${objects.length} objects, ${(bytes / 1e6).toFixed(1)} MB`);
  console.log(`export: node ${cald} export ${name} -o A   vs   tar -I 'zstd -3 -T1' -cf B -C <objects> .`);
  console.log(
    `import: node ${cald} import-archive A (fresh store)   vs   tar --zstd -xf A -C <fresh dir> && sha256sum *`,
  );
  const rows = [];
  for (let rep = 1; rep <= reps; rep++) {
    const a = join(work, `a-${rep}.tar.zst`);
    const b = join(work, `b-${rep}.tar.zst`);
    const exportMs = time(process.execPath, [cald, 'export', name, '-o', a], { env: { CALD_STORE: source } });
    const exportCpu = lastCpu();
    const tarMs = time('tar', ['-I', 'zstd -3 -T1', '-cf', b, '-C', objectsDir, '.']);
    const tarCpu = lastCpu();
    const importMs = time(process.execPath, [cald, 'import-archive', a], {
      env: { CALD_STORE: join(work, `store-${rep}`) },
    });
    const importCpu = lastCpu();
    const dir = join(work, `x-${rep}`);
    mkdirSync(dir);
    const untarMs = time('sh', [
      '-c',
      `tar --zstd -xf ${a} -C ${dir} && cd ${dir}/objects/sha256 && sha256sum * >/dev/null`,
    ]);
    const untarCpu = lastCpu();
    const row = {
      exportMs,
      tarMs,
      importMs,
      untarMs,
      exportCpu,
      tarCpu,
      importCpu,
      untarCpu,
      aSize: statSync(a).size,
      bSize: statSync(b).size,
    };
    rows.push(row);
    console.log(
      `rep ${rep}: export ${exportMs.toFixed(0)} ms vs tar+zstd ${tarMs.toFixed(0)} ms (${(exportMs / tarMs).toFixed(2)}x); import-archive ${importMs.toFixed(0)} ms vs untar+sha256sum ${untarMs.toFixed(0)} ms (${(importMs / untarMs).toFixed(2)}x); sizes ${(row.aSize / 1e6).toFixed(1)} MB vs ${(row.bSize / 1e6).toFixed(1)} MB`,
    );
    console.log(
      `       CPU: export ${exportCpu.toFixed(0)} ms vs ${tarCpu.toFixed(0)} ms (${(exportCpu / tarCpu).toFixed(2)}x); import-archive ${importCpu.toFixed(0)} ms vs ${untarCpu.toFixed(0)} ms (${(importCpu / untarCpu).toFixed(2)}x)`,
    );
    rmSync(join(work, `store-${rep}`), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (k) => rows.map((r) => r[k]).sort((x, y) => x - y)[Math.floor(rows.length / 2)];
  console.log(
    `median: export ${med('exportMs').toFixed(0)} ms, tar+zstd ${med('tarMs').toFixed(0)} ms, ratio ${(med('exportMs') / med('tarMs')).toFixed(2)}; import-archive ${med('importMs').toFixed(0)} ms, untar+sha256sum ${med('untarMs').toFixed(0)} ms, ratio ${(med('importMs') / med('untarMs')).toFixed(2)}`,
  );
  console.log(
    `median CPU: export ${med('exportCpu').toFixed(0)} ms vs ${med('tarCpu').toFixed(0)} ms (${(med('exportCpu') / med('tarCpu')).toFixed(2)}x); import-archive ${med('importCpu').toFixed(0)} ms vs ${med('untarCpu').toFixed(0)} ms (${(med('importCpu') / med('untarCpu')).toFixed(2)}x)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}

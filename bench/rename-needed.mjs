// Rename every DT_NEEDED across ffmpeg's closure (~215 files) to long content-addressed names
// (`cas:sha256:<64 hex>?name=<orig>`, over 100 bytes), side by side on fresh copies:
//   cald      one process for all files: `node bin/cald.js patchelf --replace-needed ... FILES` when the
//             patchelf command exists, else `node bench/rename-needed-cald.mjs PAIRS FILES` (same engine)
//   patchelf  one /usr/bin/patchelf process per file, with all of that file's --replace-needed flags
//   patchelf1 ONE /usr/bin/patchelf process for all files with all the --replace-needed flags (the
//             same command line as cald's): the reference the target (cald within 1.2x) is set against
// Reports wall times per repetition, the median ratio, cald's peak memory (maxRSS via /usr/bin/time),
// and checks that both produce the same DT_NEEDED lists and that the edited ffmpeg runs.
//
//   npm run build && node bench/rename-needed.mjs [--reps 3] [--program /usr/bin/ffmpeg]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { ElfFile } from '../dist/src/elf/read/index.js';
import { copyClosure } from '../dist/test/helpers/elf-files.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const reps = Number(arg('--reps', '3'));
const program = arg('--program', '/usr/bin/ffmpeg');
const repo = resolve(new URL('..', import.meta.url).pathname);
const casName = (n) => `cas:sha256:${createHash('sha256').update(n).digest('hex')}?name=${n}`;

const work = mkdtempSync(join(tmpdir(), 'cald-bench-rename-'));
try {
  const pristine = join(work, 'pristine');
  const closure = copyClosure(program, pristine);
  const interp = basename(closure.libs.find((l) => /ld-linux|ld-musl/.test(basename(l))) ?? '');
  const rel = (p) => p.slice(pristine.length + 1);
  const files = [closure.program, ...closure.libs.filter((l) => basename(l) !== interp)].map(rel);
  const libNames = new Set(closure.libs.map((l) => basename(l)).filter((n) => n !== interp));
  const perFile = new Map();
  let total = 0;
  for (const f of files) {
    const elf = ElfFile.parse(readFileSync(join(pristine, f)));
    const needed = elf.dynamicEntries.filter((e) => e.tag === 1n).map((e) => elf.dynString(e.value));
    const pairs = needed.filter((n) => libNames.has(n)).map((n) => [n, casName(n)]);
    perFile.set(f, pairs);
    total += pairs.length;
  }
  const allPairs = [...new Map([...perFile.values()].flat()).entries()];
  const pairsFile = join(work, 'pairs.json');
  writeFileSync(pairsFile, JSON.stringify(allPairs));
  const withPairs = files.filter((f) => perFile.get(f).length > 0);
  console.log(
    `${program}: ${files.length} files (interpreter left alone), ${total} DT_NEEDED to rename, ${allPairs.length} distinct names`,
  );

  const cliWorks = spawnSync(process.execPath, [join(repo, 'bin/cald.js'), 'patchelf', '--version'], {
    encoding: 'utf8',
  });
  const useCli = cliWorks.status === 0 && /patchelf/.test(cliWorks.stdout);
  const caldCmd = (dir) =>
    useCli
      ? [
          process.execPath,
          join(repo, 'bin/cald.js'),
          'patchelf',
          ...allPairs.flatMap(([a, b]) => ['--replace-needed', a, b]),
          ...withPairs.map((f) => join(dir, f)),
        ]
      : [
          process.execPath,
          join(repo, 'bench/rename-needed-cald.mjs'),
          pairsFile,
          ...withPairs.map((f) => join(dir, f)),
        ];
  const patchelfCmds = (dir) =>
    withPairs.map((f) => [
      '/usr/bin/patchelf',
      ...perFile.get(f).flatMap(([a, b]) => ['--replace-needed', a, b]),
      join(dir, f),
    ]);

  const show = (argv) =>
    argv
      .map((a) => (a.length > 60 ? `${a.slice(0, 24)}…` : a))
      .slice(0, 8)
      .join(' ') + (argv.length > 8 ? ` … (${argv.length} args)` : '');
  console.log(`cald:     ${show(caldCmd('<copy>'))}`);
  console.log(`          (under /usr/bin/time -f %M for peak memory)`);
  console.log(`patchelf: ${withPairs.length} processes like: ${show(patchelfCmds('<copy>')[0])}`);

  // Each side starts from a fresh copy with nothing left to write back: the copy's dirty pages are
  // synced first, so neither side pays for the other's (or its own copy's) writeback.
  const fresh = (label) => {
    const dir = join(work, label);
    rmSync(dir, { recursive: true, force: true });
    cpSync(pristine, dir, { recursive: true });
    spawnSync('sync');
    return dir;
  };
  // Wall time and the child's CPU time (user + system), from /usr/bin/time when it is there.
  const timed = (argv) => {
    const hasTime = existsSync('/usr/bin/time');
    const t0 = process.hrtime.bigint();
    const r = hasTime
      ? spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M CPU %U %S', ...argv], {
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        })
      : spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 26 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const m = /MAXRSS (\d+) CPU ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
    return {
      r,
      ms,
      rss: m ? Number(m[1]) : undefined,
      cpuMs: m ? (Number(m[2]) + Number(m[3])) * 1000 : undefined,
    };
  };
  const neededOf = (dir) =>
    withPairs.map((f) => {
      const elf = ElfFile.parse(readFileSync(join(dir, f)));
      return elf.dynamicEntries
        .filter((e) => e.tag === 1n)
        .map((e) => elf.dynString(e.value))
        .join(',');
    });
  const rows = [];
  for (let rep = 1; rep <= reps; rep++) {
    // cald and patchelf (one process) alternate which goes first.
    const runCald = () => {
      const a = fresh(`cald-${rep}`);
      const c = timed(caldCmd(a));
      if (c.r.status !== 0) throw new Error(`cald failed: ${c.r.stderr}`);
      return { a, ...c };
    };
    const runOne = () => {
      const one = fresh(`patchelf1-${rep}`);
      const o = timed(['/usr/bin/patchelf', ...caldCmd(one).slice(useCli ? 3 : 0)]);
      if (o.r.status !== 0) throw new Error(`patchelf (one process) failed: ${o.r.stderr}`);
      rmSync(one, { recursive: true, force: true });
      return o;
    };
    let c;
    let o;
    if (rep % 2 === 1) {
      c = runCald();
      o = runOne();
    } else {
      o = runOne();
      c = runCald();
    }
    const { a, ms: caldMs } = c;
    const oneMs = o.ms;
    const rss = c.rss ?? JSON.parse(c.r.stdout.trim().split('\n').pop()).maxRssKiB;

    const b = fresh(`patchelf-${rep}`);
    const t1 = process.hrtime.bigint();
    for (const c of patchelfCmds(b)) {
      const p = spawnSync(c[0], c.slice(1), { encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`patchelf failed on ${c.at(-1)}: ${p.stderr}`);
    }
    const patchelfMs = Number(process.hrtime.bigint() - t1) / 1e6;

    const same = JSON.stringify(neededOf(a)) === JSON.stringify(neededOf(b));

    // The floor: a node process that only reads, copies and atomically replaces the same files.
    const f = fresh(`floor-${rep}`);
    const t2 = process.hrtime.bigint();
    const fl = spawnSync(
      process.execPath,
      [join(repo, 'bench/io-floor.mjs'), ...withPairs.map((x) => join(f, x))],
      {
        encoding: 'utf8',
      },
    );
    const floorMs = Number(process.hrtime.bigint() - t2) / 1e6;
    if (fl.status !== 0) throw new Error(`io-floor failed: ${fl.stderr}`);
    rmSync(f, { recursive: true, force: true });

    const cpu = c.cpuMs !== undefined && o.cpuMs !== undefined ? { cald: c.cpuMs, one: o.cpuMs } : undefined;
    rows.push({ rep, caldMs, patchelfMs, oneMs, floorMs, ratio: patchelfMs / caldMs, rss, same, cpu });
    console.log(
      `rep ${rep}: cald/patchelf-one-process ${(caldMs / oneMs).toFixed(2)}x (patchelf one process ${oneMs.toFixed(0)} ms${cpu ? `; CPU cald ${cpu.cald.toFixed(0)} ms, patchelf one ${cpu.one.toFixed(0)} ms` : ''}); cald ${caldMs.toFixed(0)} ms (peak ${(rss / 1024).toFixed(1)} MiB), patchelf ${patchelfMs.toFixed(0)} ms, ratio ${(patchelfMs / caldMs).toFixed(2)}x, I/O floor ${floorMs.toFixed(0)} ms (best possible ratio ${(patchelfMs / floorMs).toFixed(2)}x), same DT_NEEDED: ${same}`,
    );
    if (rep === 1) {
      // The cald result runs: ffmpeg -version through a directory of links named like the new DT_NEEDED strings.
      const links = join(a, 'links');
      mkdirSync(links);
      for (const [from, to] of allPairs) symlinkSync(join(a, 'lib', from), join(links, to));
      const run = spawnSync(join(a, basename(program)), ['-version'], {
        env: { ...process.env, LD_LIBRARY_PATH: links, LD_BIND_NOW: '1' },
        encoding: 'utf8',
      });
      console.log(`edited ${basename(program)} -version: exit ${run.status}, ${run.stdout.split('\n')[0]}`);
    }
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
  const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const c = med(rows.map((r) => r.caldMs));
  const p = med(rows.map((r) => r.patchelfMs));
  const fl = med(rows.map((r) => r.floorMs));
  const o = med(rows.map((r) => r.oneMs));
  const cpus = rows.filter((r) => r.cpu !== undefined);
  if (cpus.length > 0) {
    const cc = med(cpus.map((r) => r.cpu.cald));
    const co = med(cpus.map((r) => r.cpu.one));
    console.log(
      `median CPU (user + system): cald ${cc.toFixed(0)} ms, patchelf one process ${co.toFixed(0)} ms, ${(cc / co).toFixed(2)}x`,
    );
  }
  console.log(
    `median: cald ${c.toFixed(0)} ms, patchelf one process ${o.toFixed(0)} ms, cald/patchelf-one-process ${(c / o).toFixed(2)}x (target <= 1.2x), patchelf ${p.toFixed(0)} ms, patchelf/cald ${(p / c).toFixed(2)}x (target >= 3x); I/O floor ${fl.toFixed(0)} ms (patchelf/floor ${(p / fl).toFixed(2)}x); cald peak ${(Math.max(...rows.map((r) => r.rss)) / 1024).toFixed(1)} MiB; mode ${useCli ? 'cald patchelf CLI' : 'engine script (patchelf CLI not available)'}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}

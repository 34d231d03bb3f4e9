// Start-up of a small program, stock versus each way of running it from the store:
//   stock        the program as cc built it (normal names, the host's libraries)
//   cald-run     `cald run hello` (Node.js start-up, store lookup, then spawn)
//   launcher     the command written by `cald install` (native, execs the object with LD_AUDIT)
//   launcher-before  the same slots in an older launcher template, given by --launcher-before
//                FILE (e.g. a copy of native/build/cald-launch kept from before a change)
//   link         the command written by `cald install --link` for the program imported with
//                --audit: a symbolic link to the object, DT_AUDIT loads the resolver (needs
//                `cald install-audit`, which the bench does as root and undoes; skipped otherwise)
//   env-audit    the store object run directly with LD_AUDIT and CALD_STORE set, as after
//                `eval "$(cald env)"` (no cald process)
//   name-dir     the store object run directly with <store>/names on LD_LIBRARY_PATH, as after
//                `eval "$(cald env --mode names)"`
// The program is imported with the real importer (`cald import`), so it is what users run:
// libc and one library of its own, content-named, with the interpreter note.
// Median of N runs per mode and round (hyperfine -N when installed, else a spawnSync loop),
// modes alternated over rounds, median of the round medians, ratio to stock.
//
//   node scripts/build-native.mjs && npm run build && node bench/startup.mjs [--runs N] [--rounds N]
//     [--launcher-before FILE]
//   (a private build: --dist /tmp/rt-dist, with CALD_NATIVE_DIR=$PWD/native/build)
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 500));
const NODE_RUNS = Number(opt('--node-runs', 40));
const ROUNDS = Number(opt('--rounds', 3));
const dist = resolve(opt('--dist', 'dist'));
const launcherBefore = opt('--launcher-before', undefined);
const SYSTEM_AUDIT = '/usr/local/lib/libcald-audit.so';
const native = process.env.CALD_NATIVE_DIR || resolve('native/build');
const have = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const cc = (...args) => execFileSync('cc', args, { stdio: ['ignore', 'ignore', 'inherit'] });

const dir = mkdtempSync(join(tmpdir(), 'cald-startup-'));
let auditInstalledHere = false;
const store = join(dir, 'store');
const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME ?? dir, CALD_NATIVE_DIR: native };
try {
  // ---- fixture: hello linked against libword.so (its own) and libc
  writeFileSync(join(dir, 'word.c'), 'const char *word(void) { return "hello"; }\n');
  writeFileSync(
    join(dir, 'hello.c'),
    '#include <stdio.h>\nconst char *word(void);\nint main(void) { printf("%s\\n", word()); return 0; }\n',
  );
  cc('-shared', '-fPIC', '-O2', '-Wl,-soname,libword.so', '-o', join(dir, 'libword.so'), join(dir, 'word.c'));
  cc('-O2', '-o', join(dir, 'hello'), join(dir, 'hello.c'), join(dir, 'libword.so'), `-Wl,-rpath,${dir}`);

  const caldEntry = join(dir, 'cald.mjs');
  writeFileSync(
    caldEntry,
    `import { main } from ${JSON.stringify(`${dist}/src/cli/main.js`)};\nprocess.exitCode = await main(process.argv.slice(2));\n`,
  );
  const cald = (...args) =>
    execFileSync(process.execPath, [caldEntry, ...args], {
      env: { ...baseEnv, CALD_STORE: store },
      encoding: 'utf8',
    });
  const imported = JSON.parse(cald('import', '--json', join(dir, 'hello')));
  const digest = imported.imported[0].digest;
  const object = join(store, 'objects', ...digest.split(':'));
  cald('install', 'hello', '--bin', join(dir, 'bin'));
  const audit = join(native, 'libcald-audit.so');

  // The old launcher, filled with the same values.
  let before;
  if (launcherBefore !== undefined) {
    const { fillLauncher, readLauncher } = await import(`${dist}/src/runtime/index.js`);
    const values = readLauncher(readFileSync(join(dir, 'bin', 'hello')));
    mkdirSync(join(dir, 'bin-before'));
    before = join(dir, 'bin-before', 'hello');
    writeFileSync(before, fillLauncher(readFileSync(launcherBefore), values), { mode: 0o755 });
  }

  // Link mode: the same program imported with --audit (under another name: one name, one program).
  let link;
  if (process.getuid?.() === 0) {
    copyFileSync(join(dir, 'hello'), join(dir, 'hello-audit'));
    cald('import', '--audit', join(dir, 'hello-audit'));
    if (!existsSync(SYSTEM_AUDIT)) {
      cald('install-audit');
      auditInstalledHere = true;
    }
    cald('install', '--link', 'hello-audit', '--bin', join(dir, 'bin'));
    link = join(dir, 'bin', 'hello-audit');
  } else {
    console.error('startup: link mode skipped: cald install-audit needs root');
  }

  const modes = [
    { name: 'stock', cmd: [join(dir, 'hello')], env: baseEnv, runs: RUNS },
    {
      name: 'cald-run',
      cmd: [process.execPath, caldEntry, 'run', 'hello'],
      env: { ...baseEnv, CALD_STORE: store },
      runs: NODE_RUNS,
    },
    ...(before === undefined ? [] : [{ name: 'launcher-before', cmd: [before], env: baseEnv, runs: RUNS }]),
    { name: 'launcher', cmd: [join(dir, 'bin', 'hello')], env: baseEnv, runs: RUNS },
    // The store is a temporary directory, not the default location: the link needs CALD_STORE.
    ...(link === undefined
      ? []
      : [{ name: 'link', cmd: [link], env: { ...baseEnv, CALD_STORE: store }, runs: RUNS }]),
    { name: 'env-audit', cmd: [object], env: { ...baseEnv, LD_AUDIT: audit, CALD_STORE: store }, runs: RUNS },
    {
      name: 'name-dir',
      cmd: [object],
      env: { ...baseEnv, LD_LIBRARY_PATH: join(store, 'names') },
      runs: RUNS,
    },
  ];
  for (const m of modes) {
    const r = spawnSync(m.cmd[0], m.cmd.slice(1), { env: m.env, encoding: 'utf8' });
    if (r.stdout !== 'hello\n')
      throw new Error(`${m.name}: ${m.cmd.join(' ')} printed ${JSON.stringify(r.stdout + r.stderr)}`);
  }

  const hyperfine = have('hyperfine');
  const measure = (m) => {
    if (hyperfine) {
      const json = join(dir, 'h.json');
      execFileSync(
        'hyperfine',
        [
          '-N',
          '--style',
          'none',
          '--warmup',
          '20',
          '--runs',
          String(m.runs),
          '--export-json',
          json,
          m.cmd.join(' '),
        ],
        { env: m.env, stdio: ['ignore', 'ignore', 'inherit'] },
      );
      return JSON.parse(readFileSync(json, 'utf8')).results[0].median * 1e6;
    }
    const t = [];
    for (let i = 0; i < m.runs; i++) {
      const t0 = process.hrtime.bigint();
      spawnSync(m.cmd[0], m.cmd.slice(1), { env: m.env, stdio: 'ignore' });
      t.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    t.sort((a, b) => a - b);
    return t[t.length >> 1];
  };
  const results = new Map(modes.map((m) => [m.name, []]));
  for (let round = 0; round < ROUNDS; round++) for (const m of modes) results.get(m.name).push(measure(m));
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const stock = median(results.get('stock'));
  console.log(
    `startup: ${hyperfine ? 'hyperfine -N' : 'spawnSync loop'}, ${ROUNDS} rounds, median of round medians`,
  );
  console.log('| mode | command | median | ratio to stock |');
  console.log('|---|---|---|---|');
  for (const m of modes) {
    const us = median(results.get(m.name));
    const shown = m.cmd.map((a) => a.replace(dir, '$T')).join(' ');
    const envShown = Object.keys(m.env)
      .filter((k) => ['LD_AUDIT', 'LD_LIBRARY_PATH', 'CALD_STORE'].includes(k))
      .map((k) => `${k}=…`)
      .join(' ');
    console.log(
      `| ${m.name} | \`${envShown ? `${envShown} ` : ''}${shown}\` (${m.runs} runs) | ${us.toFixed(0)} us | ${(us / stock).toFixed(3)} |`,
    );
  }
} finally {
  if (auditInstalledHere) {
    execFileSync(process.execPath, [join(dir, 'cald.mjs'), 'install-audit', '--uninstall'], {
      env: { ...baseEnv },
      stdio: 'ignore',
    });
  }
  if (process.env.CALD_KEEP_TMP !== '1') rmSync(dir, { recursive: true, force: true });
}

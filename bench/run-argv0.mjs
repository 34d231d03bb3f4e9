// What giving the program a launcher as argv[0] costs `cald run` (docs/running.md, "Self-exec"):
// prepareRun (resolve the program, read and hash it, plan the loader, build the environment) timed
// in one process with --argv0 (no launcher) and without (the launcher of the same object checked
// byte for byte, written the first time), alternating, median of N each. The Node.js start-up
// that dominates a real `cald run` (~80 ms) is the same for both and left out.
//
//   npm run build && node bench/run-argv0.mjs [--runs N] [--program /usr/bin/sqlite3]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 300));
const PROGRAM = opt('--program', '/usr/bin/sqlite3');
const dist = resolve(opt('--dist', 'dist'));
const { prepareRun } = await import(`${dist}/src/api/run.js`);

const dir = mkdtempSync(join(tmpdir(), 'cald-bench-argv0-'));
const store = join(dir, 'store');
execFileSync(process.execPath, ['bin/cald.js', 'import', PROGRAM, '--store', store], { stdio: 'ignore' });
const name = PROGRAM.slice(PROGRAM.lastIndexOf('/') + 1);

const modes = {
  'argv0 given (no launcher)': { program: name, store, argv0: name },
  'launcher as argv0': { program: name, store },
};
const times = Object.fromEntries(Object.keys(modes).map((k) => [k, []]));
for (let i = 0; i < RUNS + 10; i++) {
  for (const [k, options] of Object.entries(modes)) {
    const t0 = process.hrtime.bigint();
    await prepareRun(options);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    if (i >= 10) times[k].push(us); // the first runs warm up (and write the launcher once)
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(times['argv0 given (no launcher)']);
console.log(`node bench/run-argv0.mjs --runs ${RUNS} --program ${PROGRAM}`);
for (const [k, xs] of Object.entries(times)) {
  const m = median(xs);
  console.log(`${k.padEnd(28)} prepareRun median ${m.toFixed(0)} us  ratio ${(m / base).toFixed(3)}`);
}
rmSync(dir, { recursive: true, force: true });

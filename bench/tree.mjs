// Import and checkout of the python3.11 tree (the installed Debian packages python3.11-minimal,
// libpython3.11-minimal, libpython3.11-stdlib), beside `cp -a` of the same tree, in one run:
// times, and bytes stored against bytes on disk after two checkouts (du counts a hard-linked
// inode once per invocation). Prints the load (uptime) first: only ratios within a run mean anything.
//
//   npm run build && node bench/tree.mjs [--rounds 3]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const ROUNDS = Number(opt('--rounds', 3));
const PACKAGES = ['python3.11-minimal', 'libpython3.11-minimal', 'libpython3.11-stdlib'];
const cald = resolve('bin/cald.js');
const sh = (cmd, args, env = {}) =>
  execFileSync(cmd, args, {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
/** Wall time of one command, and its CPU time (user + system, through GNU time when present). */
const timed = (cmd, args) => {
  const t0 = process.hrtime.bigint();
  let cpu = Number.NaN;
  if (TIME === undefined) sh(cmd, args);
  else {
    const r = spawnSync(TIME, ['-f', 'cpu %U %S', cmd, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
    if (m) cpu = (Number(m[1]) + Number(m[2])) * 1000;
  }
  return { wall: Number(process.hrtime.bigint() - t0) / 1e6, cpu };
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const du = (...paths) =>
  Number(
    sh('du', ['-s', '-B1', '-c', ...paths])
      .trim()
      .split('\n')
      .at(-1)
      .split('\t')[0],
  );
const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;

console.log(`node bench/tree.mjs --rounds ${ROUNDS}`);
console.log(`load: ${sh('uptime', []).trim()}`);
const rows = { importCold: [], importWarm: [], checkout: [], cp: [] };
let sizes;
for (let r = 0; r < ROUNDS; r++) {
  const dir = mkdtempSync(join(tmpdir(), 'cald-bench-tree-'));
  try {
    const store = join(dir, 'store');
    const imp = ['import', '--tree', '--store', store, '--name', 'py', ...PACKAGES];
    rows.importCold.push(timed(process.execPath, [cald, ...imp]));
    rows.importWarm.push(timed(process.execPath, [cald, ...imp]));
    for (const co of ['co1', 'co2'])
      rows.checkout.push(timed(process.execPath, [cald, 'checkout', '--store', store, 'py', join(dir, co)]));
    for (const cp of ['cp1', 'cp2']) rows.cp.push(timed('cp', ['-a', join(dir, 'co1'), join(dir, cp)]));
    const objects = join(store, 'objects');
    sizes = {
      tree: Number(sh('du', ['-s', '-B1', '--apparent-size', join(dir, 'co1')]).split('\t')[0]),
      store: du(objects),
      storeAndCheckouts: du(objects, join(dir, 'co1'), join(dir, 'co2')),
      twoCopies: du(join(dir, 'cp1'), join(dir, 'cp2')),
    };
  } finally {
    sh('chmod', ['-R', 'u+w', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}
const ms = (xs) => {
  const wall = median(xs.map((x) => x.wall));
  const cpu = median(xs.map((x) => x.cpu));
  return `${wall.toFixed(0).padStart(6)} ms wall ${Number.isNaN(cpu) ? '' : `${cpu.toFixed(0).padStart(6)} ms CPU`}`;
};
const ratio = (a, b, key) => (median(a.map((x) => x[key])) / median(b.map((x) => x[key]))).toFixed(2);
console.log(`median of ${ROUNDS} rounds`);
console.log(`cald import --tree (empty store)        ${ms(rows.importCold)}`);
console.log(`cald import --tree (again, same store)  ${ms(rows.importWarm)}`);
console.log(
  `cald checkout                           ${ms(rows.checkout)}   (${ratio(rows.checkout, rows.cp, 'wall')}x cp -a wall, ${ratio(rows.checkout, rows.cp, 'cpu')}x CPU)`,
);
console.log(`cp -a of the checkout                   ${ms(rows.cp)}`);
console.log(`tree (apparent size of one checkout)   ${mb(sizes.tree)}`);
console.log(`store objects (du)                     ${mb(sizes.store)}`);
console.log(
  `store + two checkouts (du)             ${mb(sizes.storeAndCheckouts)}   (${(sizes.storeAndCheckouts / sizes.store).toFixed(3)}x the store)`,
);
console.log(`two cp -a copies (du)                  ${mb(sizes.twoCopies)}`);
console.log(`load after: ${sh('uptime', []).trim()}`);

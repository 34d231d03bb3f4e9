// CPU time of `cald import` itself, without the store's fsyncs: importFiles in a fresh node process
// per build, into stores on /dev/shm, rounds alternating between this build and --before (a copy of
// a previous build's tree: its dist/ is imported). Prints user+system CPU per import and the ratio
// of the medians of the warm imports (the first import of each process is cold).
//
//   npm run build && node bench/import-cpu.mjs --before /tmp/old-cald [--program /usr/bin/ffmpeg] [--rounds 3] [--imports 4]
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const before = arg('--before', undefined);
if (before === undefined) throw new Error('give --before DIR (a previous build: DIR/dist/src/api/index.js)');
const program = arg('--program', '/usr/bin/ffmpeg');
const rounds = Number(arg('--rounds', '3'));
const imports = Number(arg('--imports', '4'));
const now = resolve(new URL('..', import.meta.url).pathname);

const child = (root) => `
const { importFiles } = await import(${JSON.stringify(`${root}/dist/src/api/index.js`)});
const { rmSync } = await import('node:fs');
const store = '/dev/shm/cald-bench-import-cpu-' + process.pid;
const out = [];
for (let i = 0; i < ${imports}; i++) {
  rmSync(store, { recursive: true, force: true });
  const c0 = process.cpuUsage();
  await importFiles({ paths: [${JSON.stringify(program)}], store, env: {} });
  const c = process.cpuUsage(c0);
  out.push((c.user + c.system) / 1e6);
}
rmSync(store, { recursive: true, force: true });
console.log(JSON.stringify(out));`;

const run = (root) => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child(root)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${root}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
};
console.log(
  `importFiles(${program}) x ${imports} per process, ${rounds} rounds; before: ${before}; now: ${now}`,
);
const warm = { before: [], now: [] };
for (let round = 1; round <= rounds; round++) {
  for (const [label, root] of [
    ['before', before],
    ['now', now],
  ]) {
    const cpu = run(root);
    warm[label].push(...cpu.slice(1));
    console.log(`round ${round} ${label.padEnd(6)} CPU s: ${cpu.map((x) => x.toFixed(2)).join(' ')}`);
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `median of warm imports: before ${med(warm.before).toFixed(2)} s, now ${med(warm.now).toFixed(2)} s; now/before ${(med(warm.now) / med(warm.before)).toFixed(2)}x`,
);

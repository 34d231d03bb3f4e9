// Why the closure walk reads files through readLoadHeaders (the loader's view read by ranges)
// rather than ElfFile.parse of whole files: both over the same files of a program's closure held
// in memory (parse cost alone), and the cost of reading those files whole (what parsing whole
// files would add for every file past the import's memory budget).
//
//   npm run build && node bench/walk-reader.mjs [--program /usr/bin/ffmpeg] [--reps 9]
import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { ElfFile, readLoadHeaders } from '../dist/src/elf/read/index.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const program = arg('--program', '/usr/bin/ffmpeg');
const reps = Number(arg('--reps', '9'));
const ldd = spawnSync('ldd', [program], { encoding: 'utf8' }).stdout;
const files = [
  ...new Set([realpathSync(program), ...[...ldd.matchAll(/=> (\/\S+) \(/g)].map((m) => realpathSync(m[1]))]),
];
const bufs = files.map((f) => readFileSync(f));
const source = (b) => ({ size: b.length, read: (p, n) => b.subarray(p, p + n) });
const median = (fn) => {
  const t = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (const b of bufs) fn(b);
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[Math.floor(reps / 2)];
};
const whole = median((b) => {
  const e = ElfFile.parse(b);
  e.needed;
  e.soname;
  e.rpath;
  e.runpath;
});
const ranges = median((b) => readLoadHeaders(source(b)));
const t0 = performance.now();
for (const f of files) readFileSync(f);
const read = performance.now() - t0;
const mb = bufs.reduce((n, b) => n + b.length, 0) / 1e6;
console.log(`node bench/walk-reader.mjs --program ${program} --reps ${reps}`);
console.log(
  `${files.length} files (${mb.toFixed(0)} MB), medians of ${reps}: ElfFile.parse + needed/soname/rpath/runpath ${whole.toFixed(1)} ms, readLoadHeaders ${ranges.toFixed(1)} ms (${(whole / ranges).toFixed(1)}x); reading the files whole once ${read.toFixed(0)} ms`,
);

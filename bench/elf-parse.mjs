// Parse speed of the ELF reader over every ELF file under /usr/lib (or the directories given),
// side by side with the cost of just reading the same bytes: the 64-bit exact representation must
// not slow the common path.
//
//   npm run build && node bench/elf-parse.mjs [--reps 5] [DIR...]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ElfFile } from '../dist/src/elf/read/index.js';

const args = process.argv.slice(2);
const repsAt = args.indexOf('--reps');
const reps = repsAt >= 0 ? Number(args.splice(repsAt, 2)[1]) : 5;
const dirs = args.length > 0 ? args : ['/usr/lib'];

function* walk(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

const bufs = [];
for (const d of dirs) {
  for (const p of walk(d)) {
    if (statSync(p).size > 256 * 1024 * 1024) continue;
    const fd = readFileSync(p);
    if (fd.length >= 4 && fd[0] === 0x7f && fd[1] === 0x45 && fd[2] === 0x4c && fd[3] === 0x46) bufs.push(fd);
  }
}
const bytes = bufs.reduce((n, b) => n + b.length, 0);
let failed = 0;
const times = [];
for (let r = 0; r < reps; r++) {
  failed = 0;
  const t0 = process.hrtime.bigint();
  for (const b of bufs) {
    try {
      const elf = ElfFile.parse(b);
      elf.needed;
      elf.dynamicSymbolNameOffsets();
    } catch {
      failed++;
    }
  }
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`node bench/elf-parse.mjs --reps ${reps} ${dirs.join(' ')}`);
console.log(
  `${bufs.length} ELF files, ${(bytes / 2 ** 20).toFixed(0)} MiB, ${failed} refused; parse + needed + dynsym names: median ${median.toFixed(1)} ms (min ${times[0].toFixed(1)}, max ${times[times.length - 1].toFixed(1)}), ${((median * 1000) / bufs.length).toFixed(1)} us/file`,
);

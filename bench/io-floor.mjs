// The I/O floor of rewriting files atomically from Node: read each file, write a copy to a temp
// file beside it, rename it over the original. No parsing, no editing. bench/rename-needed.mjs runs
// it on the same files to show how much of cald's time is this floor.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const t0 = process.hrtime.bigint();
for (const f of process.argv.slice(2)) {
  const tmp = join(dirname(f), `.${basename(f)}.floor.tmp`);
  writeFileSync(tmp, Buffer.from(readFileSync(f)));
  renameSync(tmp, f);
}
console.log(JSON.stringify({ ms: Number(process.hrtime.bigint() - t0) / 1e6 }));

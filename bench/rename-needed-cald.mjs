// Helper of bench/rename-needed.mjs: one process renames DT_NEEDED entries in many files with cald's
// engine (dist/), each file read, edited in memory and written atomically (temp file + rename, mode kept).
//   node bench/rename-needed-cald.mjs PAIRS.json FILE...
// PAIRS.json: [[from, to], ...]; every pair whose `from` a file needs is applied to that file.
import { chmodSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { editElf } from '../dist/src/elf/edit/index.js';
import { ElfFile } from '../dist/src/elf/read/index.js';

const [pairsFile, ...files] = process.argv.slice(2);
const pairs = new Map(JSON.parse(readFileSync(pairsFile, 'utf8')));
let changed = 0;
let renamed = 0;
for (const file of files) {
  const buf = readFileSync(file);
  const elf = ElfFile.parse(buf);
  const edits = [];
  for (const e of elf.dynamicEntries) {
    if (e.tag !== 1n) continue;
    const name = elf.dynString(e.value);
    const to = pairs.get(name);
    if (to !== undefined) edits.push({ kind: 'replaceNeeded', from: name, to });
  }
  if (edits.length === 0) continue;
  const r = editElf(buf, edits);
  if (!r.changed) continue;
  const tmp = `${file}.cald-tmp`;
  writeFileSync(tmp, r.buffer);
  chmodSync(tmp, statSync(file).mode);
  renameSync(tmp, file);
  changed++;
  renamed += edits.length;
}
process.stdout.write(
  `${JSON.stringify({ files: files.length, changed, renamed, maxRssKiB: process.resourceUsage().maxRSS })}\n`,
);

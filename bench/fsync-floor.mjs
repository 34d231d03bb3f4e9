// The disk's floor for storing objects durably: every file of a directory (a store's objects, say)
// written to a temp file, fsynced and renamed, 4 at a time as `cald pull` does, with the bytes
// already in memory (no network, no hashing, no index); then the same with no fsync (what a client
// that does not sync, skopeo, pays). bench/oci-pull.mjs's numbers read against these.
//
//   node bench/fsync-floor.mjs DIR [--reps 3]
import {
  closeSync,
  fsync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const fsyncP = promisify(fsync);
const dir = process.argv[2];
const i = process.argv.indexOf('--reps');
const reps = i >= 0 ? Number(process.argv[i + 1]) : 3;
if (dir === undefined) {
  console.error('usage: node bench/fsync-floor.mjs DIR [--reps 3]');
  process.exit(2);
}
const bufs = readdirSync(dir).map((f) => readFileSync(join(dir, f)));
const mb = bufs.reduce((n, b) => n + b.length, 0) / 1e6;
const store = async (sync) => {
  const out = mkdtempSync(join(tmpdir(), 'cald-fsync-floor-'));
  const t0 = performance.now();
  let next = 0;
  const one = async () => {
    while (next < bufs.length) {
      const k = next++;
      const fd = openSync(join(out, `t${k}`), 'wx', 0o600);
      let off = 0;
      while (off < bufs[k].length) off += writeSync(fd, bufs[k], off);
      if (sync) await fsyncP(fd);
      closeSync(fd);
      renameSync(join(out, `t${k}`), join(out, `o${k}`));
    }
  };
  await Promise.all([one(), one(), one(), one()]);
  const ms = performance.now() - t0;
  rmSync(out, { recursive: true, force: true });
  return ms;
};
console.log(`${bufs.length} files, ${mb.toFixed(0)} MB, from ${dir}`);
for (let rep = 1; rep <= reps; rep++) {
  const synced = await store(true);
  const unsynced = await store(false);
  console.log(
    `rep ${rep}: write+fsync+rename ${synced.toFixed(0)} ms, write+rename ${unsynced.toFixed(0)} ms`,
  );
}

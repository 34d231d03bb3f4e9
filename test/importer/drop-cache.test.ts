// Import leaves the objects it wrote out of the page cache (native/cald-drop-cache, posix_fadvise
// DONTNEED): written whole, they would sit in large folios a program maps whole on its first fault
// (docs/benchmarks.md, "Peak RSS of ffmpeg -version"). Residency is read with util-linux's fincore.
import assert from 'node:assert/strict';
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { dropCachedPages } from '../../src/importer/drop-cache.js';
import { nativeDir } from '../../src/runtime/index.js';
import { cald } from '../cli/cald.js';
import { hasTool, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';

const root = makeTmp({ after }, 'drop-cache');

/** Resident pages of `file` in the page cache. */
function residentPages(file: string): number {
  const out = runOk('fincore', ['--bytes', '--noheadings', '--output', 'PAGES', file]).stdout.trim();
  return Number(out);
}

function skipWhy(): string | undefined {
  if (!hasTool('fincore')) return 'missing tool: fincore (util-linux)';
  if (!existsSync(join(nativeDir(), 'cald-drop-cache'))) return 'native/build/cald-drop-cache not built';
  return undefined;
}

test('dropCachedPages drops the cached pages of written, synced files; a missing file is no error', async (t) => {
  const why = skipWhy();
  if (why !== undefined) return t.skip(why);
  const file = join(root, 'data.bin');
  const fd = openSync(file, 'w');
  writeSync(fd, Buffer.alloc(4 << 20, 7));
  fsyncSync(fd);
  closeSync(fd);
  // tmpfs keeps every page (nothing to drop there): this test needs a disk-backed directory.
  if (residentPages(file) === 0) return t.skip('the file was never cached here');
  await dropCachedPages([file, join(root, 'missing')]);
  assert.equal(residentPages(file), 0);
});

test('cald import leaves none of the objects it wrote in the page cache', (t) => {
  const why = skipWhy();
  if (why !== undefined) return t.skip(why);
  const probe = join(root, 'probe.bin');
  writeFileSync(probe, Buffer.alloc(1 << 20, 1));
  if (residentPages(probe) === 0) return t.skip('files written here are not cached (tmpfs?)');
  const store = join(root, 'store');
  const r = cald(['import', '--store', store, '/bin/ls'], { env: { XDG_CACHE_HOME: join(root, 'cache') } });
  assert.equal(r.status, 0, r.stderr);
  const dir = join(store, 'objects', 'sha256');
  const objects = readdirSync(dir).map((f) => join(dir, f));
  assert.ok(objects.length >= 2, `objects: ${objects.join(' ')}`);
  for (const o of objects) assert.equal(residentPages(o), 0, `${o} is still cached`);
});

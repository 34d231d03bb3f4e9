// The loader's view of a local store (src/store/local/loader-view.ts): what ld.so and the
// resolver open, read through a store opened read-only, exactly as the files say.
import assert from 'node:assert/strict';
import { realpathSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Digest, FileStore, formatCasName } from '../../src/store/index.js';
import { tempDir } from './tmp.js';

test('the view answers from objects/, names/ and paths/, read-only, and only for links cald made', () => {
  const root = join(tempDir('loader-view'), 'store');
  const w = FileStore.open(root, { create: true });
  const d = w.objects.put(Buffer.from('a library'));
  w.names.add(d, 'liba.so.1');
  w.paths.add('/usr/lib/liba.so.1', d);
  const { view } = FileStore.open(root, { readOnly: true });
  assert.equal(view.root, root);
  assert.equal(view.has(d), true);
  assert.equal(realpathSync(join(root, 'names', formatCasName(d, 'liba.so.1'))), view.pathOf(d));
  assert.ok(view.resolveName(formatCasName(d, 'liba.so.1'))?.equals(d));
  assert.ok(view.resolvePath('/usr/lib/liba.so.1')?.equals(d));
  const other = Digest.parse(`sha256:${'cd'.repeat(32)}`);
  assert.equal(view.has(other), false);
  assert.equal(view.resolvePath('/usr/lib/none.so'), undefined);
  // A name entry that points anywhere but its own object is not an answer.
  const planted = join(root, 'names', formatCasName(other));
  symlinkSync(`../objects/sha256/${d.hex}`, planted);
  assert.equal(view.resolveName(formatCasName(other)), undefined);
  unlinkSync(planted);
});

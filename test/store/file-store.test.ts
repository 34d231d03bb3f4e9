import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Digest, digestOfBuffer, digestOfFile, FileStore } from '../../src/store/index.js';
import { tempDir } from './tmp.js';

const base = tempDir('file');
let n = 0;
const fresh = () => FileStore.open(join(base, `s${n++}`), { create: true });

/** Every entry under objects/ is a complete object: a regular file whose bytes hash to its name. */
function assertOnlyCompleteObjects(store: FileStore): number {
  const dir = join(store.root, 'objects', 'sha256');
  const entries = readdirSync(dir);
  for (const hex of entries) {
    const p = join(dir, hex);
    assert.ok(statSync(p).isFile(), `${hex} is a file`);
    assert.equal(digestOfFile(p).hex, hex, `${hex} is complete`);
  }
  assert.deepEqual(readdirSync(join(store.root, 'objects')), ['sha256']);
  return entries.length;
}

test('a new store has the documented layout and modes', () => {
  const s = fresh();
  assert.deepEqual(readdirSync(s.root).sort(), ['cald-store', 'names', 'objects', 'roots', 'tmp']);
  assert.equal(readFileSync(join(s.root, 'cald-store'), 'utf8'), 'cald store, layout 1\n');
  for (const d of ['', 'objects', 'objects/sha256', 'names', 'roots', 'tmp']) {
    assert.equal(statSync(join(s.root, d)).mode & 0o7777, 0o755, `mode of ${d || 'root'}`);
  }
});

test('directory modes do not depend on the umask', () => {
  const old = process.umask(0o002);
  try {
    const s = fresh();
    assert.equal(statSync(join(s.root, 'names')).mode & 0o777, 0o755);
    const d = s.objects.put(Buffer.from('umask'));
    assert.equal(statSync(s.pathOf(d)).mode & 0o777, 0o444);
  } finally {
    process.umask(old);
  }
});

test('objects are read-only files named by their sha256; executables 0555', () => {
  const s = fresh();
  const lib = s.objects.put(Buffer.from('a library'));
  const prog = s.objects.put(Buffer.from('a program'), { executable: true });
  assert.equal(s.pathOf(lib), join(s.root, 'objects', 'sha256', lib.hex));
  assert.equal(statSync(s.pathOf(lib)).mode & 0o7777, 0o444);
  assert.equal(statSync(s.pathOf(prog)).mode & 0o7777, 0o555);
  const sum = spawnSync('sha256sum', [s.pathOf(lib)], { encoding: 'utf8' }).stdout.split(' ')[0];
  assert.equal(sum, lib.hex);
  assert.equal(readdirSync(join(s.root, 'tmp')).length, 0, 'no temp file left');
});

test('dedupe: one file however often stored, from buffers or paths; the existing file is kept', () => {
  const s = fresh();
  const src = join(base, 'dedupe-src');
  writeFileSync(src, 'same bytes');
  const d1 = s.objects.put(Buffer.from('same bytes'));
  const ino = statSync(s.pathOf(d1)).ino;
  for (let i = 0; i < 5; i++) assert.ok(s.objects.put({ path: src }).equals(d1));
  assert.ok(s.objects.put(Buffer.from('same bytes')).equals(d1));
  assert.equal(statSync(s.pathOf(d1)).ino, ino, 'same inode: not rewritten');
  assert.equal(assertOnlyCompleteObjects(s), 1);
});

test('a damaged existing object is replaced by a good put (nothing lost)', () => {
  const s = fresh();
  const d = s.objects.put(Buffer.from('precious'));
  chmodSync(s.pathOf(d), 0o644);
  writeFileSync(s.pathOf(d), 'precioux');
  chmodSync(s.pathOf(d), 0o444);
  assert.throws(() => s.objects.readBytes(d), { code: 'INTEGRITY_CORRUPT_OBJECT' });
  assert.ok(s.objects.put(Buffer.from('precious')).equals(d));
  assert.equal(s.objects.readBytes(d).toString(), 'precious');
  assert.equal(statSync(s.pathOf(d)).mode & 0o777, 0o444);
});

test('atomicity: many puts of big and small objects leave only complete objects, no temp files', () => {
  const s = fresh();
  const expected = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const bytes = Buffer.alloc(i % 5 === 0 ? 5 * 1024 * 1024 + i : 100 + i, i);
    expected.add(s.objects.put(bytes).hex);
    expected.add(s.objects.put(bytes).hex);
  }
  assert.equal(assertOnlyCompleteObjects(s), expected.size);
  assert.equal(readdirSync(join(s.root, 'tmp')).length, 0);
});

test('a failed put leaves nothing: expect mismatch, unreadable source', () => {
  const s = fresh();
  assert.throws(() => s.objects.put(Buffer.from('x'), { expect: Digest.parse(`sha256:${'0'.repeat(64)}`) }), {
    code: 'INTEGRITY_MISMATCH',
  });
  assert.throws(() => s.objects.put({ path: join(base, 'does-not-exist') }), { code: 'IO_ENOENT' });
  assert.throws(() => s.objects.put({ path: base }), { code: 'IO_EISDIR' });
  assert.equal(assertOnlyCompleteObjects(s), 0);
  assert.equal(readdirSync(join(s.root, 'tmp')).length, 0);
});

test('garbage under objects/ is ignored by list and reported on read', () => {
  const s = fresh();
  const good = s.objects.put(Buffer.from('good'));
  const dir = join(s.root, 'objects', 'sha256');
  writeFileSync(join(dir, 'not-a-digest'), 'x');
  writeFileSync(join(dir, `${'A'.repeat(64)}`), 'x');
  mkdirSync(join(dir, 'c'.repeat(64)));
  const fake = Digest.parse(`sha256:${'d'.repeat(64)}`);
  symlinkSync('/etc/passwd', join(dir, fake.hex));
  const listed = s.objects.list().map(String).sort();
  assert.ok(listed.includes(good.toString()));
  assert.throws(() => s.objects.stat(fake), { code: 'INTEGRITY_NOT_A_FILE' });
  assert.throws(() => s.objects.stat(Digest.parse(`sha256:${'c'.repeat(64)}`)), {
    code: 'INTEGRITY_NOT_A_FILE',
  });
});

test('roots are files that survive reopening; bad ids are refused', () => {
  const s = fresh();
  const d = s.objects.put(Buffer.from('program'));
  const r = s.roots.add({ kind: 'object', target: d.toString(), note: 'imported' }, 1000);
  assert.match(r.id, /^object-[0-9a-f]{16}$/);
  assert.equal(s.roots.add({ kind: 'object', target: d.toString() }).id, r.id, 'same root, same id');
  s.roots.add({ kind: 'indirect', target: '/usr/local/bin/prog', id: 'launcher.prog' });
  const again = FileStore.open(s.root);
  assert.deepEqual(
    again.roots.list().map((x) => x.id),
    ['launcher.prog', r.id],
  );
  assert.throws(() => s.roots.add({ kind: 'indirect', target: 'relative' }), { code: 'NAME_BAD_ROOT' });
  assert.throws(() => s.roots.add({ kind: 'object', target: 'sha256:zz' }), { code: 'NAME_BAD_DIGEST' });
  for (const id of ['../x', '.hidden', 'a/b', '', 'a..b', 'x'.repeat(129)]) {
    assert.throws(
      () => s.roots.add({ kind: 'object', target: d.toString(), id }),
      { code: 'NAME_BAD_ROOT_ID' },
      id,
    );
    assert.throws(() => s.roots.remove(id), { code: 'NAME_BAD_ROOT_ID' }, id);
  }
  assert.equal(s.roots.remove('launcher.prog'), true);
  assert.equal(s.roots.remove('launcher.prog'), false);
});

test('cleanTemp removes only old temp files', () => {
  const s = fresh();
  writeFileSync(join(s.root, 'tmp', 'object-1-old'), 'half');
  const now = Date.now();
  assert.equal(s.tmp.clean(60_000, now), 0);
  assert.equal(s.tmp.clean(60_000, now + 120_000), 1);
  assert.equal(readdirSync(join(s.root, 'tmp')).length, 0);
});

test('read verifies; the digest of a read equals its name', () => {
  const s = fresh();
  const bytes = Buffer.from('verify me');
  const d = s.objects.put(bytes);
  assert.ok(digestOfBuffer(s.objects.readBytes(d)).equals(d));
});

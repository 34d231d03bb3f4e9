import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileStore } from '../../src/store/index.js';
import { tempDir } from './tmp.js';

const base = tempDir('errors');
chmodSync(base, 0o755);

function oneLine(code: string) {
  return (e: Error & { code?: string }) => {
    assert.equal(e.code, code, e.message);
    assert.ok(!e.message.includes('\n'), e.message);
    return true;
  };
}

test('a store path that is a file, or below a file', () => {
  const file = join(base, 'a-file');
  writeFileSync(file, 'x');
  assert.throws(() => FileStore.open(file), oneLine('STORE_NOT_DIRECTORY'));
  assert.throws(() => FileStore.open(file, { create: true }), oneLine('STORE_NOT_DIRECTORY'));
  assert.throws(() => FileStore.open(join(file, 'store'), { create: true }), oneLine('STORE_NOT_DIRECTORY'));
});

test('a missing store is created only when asked; an empty directory likewise', () => {
  assert.throws(() => FileStore.open(join(base, 'nothing')), oneLine('STORE_NOT_FOUND'));
  mkdirSync(join(base, 'empty'));
  assert.throws(() => FileStore.open(join(base, 'empty')), oneLine('STORE_NOT_FOUND'));
  FileStore.open(join(base, 'empty'), { create: true });
  FileStore.open(join(base, 'empty'));
});

test('a non-empty directory that is not a store is refused, even with create', () => {
  const home = join(base, 'home');
  mkdirSync(home);
  writeFileSync(join(home, 'notes.txt'), 'mine');
  assert.throws(() => FileStore.open(home, { create: true }), oneLine('STORE_NOT_A_STORE'));
  assert.deepEqual(readdirSync(home), ['notes.txt'], 'nothing was added');
});

test('a directory an interrupted creation left is completed; one with anything else in it is not', () => {
  // What a kill between the directories and the marker leaves (test/store/create-kill.test.ts kills for real).
  const half = join(base, 'half');
  mkdirSync(join(half, 'objects', 'sha256'), { recursive: true });
  mkdirSync(join(half, 'tmp'));
  writeFileSync(join(half, 'tmp', 'write-123-0123456789abcdef'), 'cald store, lay');
  assert.throws(
    () => FileStore.open(half),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'STORE_NOT_FOUND');
      assert.match(e.message, /creation was interrupted/);
      return true;
    },
  );
  assert.deepEqual(readdirSync(half).sort(), ['objects', 'tmp'], 'a read-only look writes nothing');
  FileStore.open(half, { create: true });
  FileStore.open(half);
  for (const [label, make] of [
    ['an object', (d: string) => writeFileSync(join(d, 'objects', 'sha256', 'ab'), 'x')],
    ['a file of its own in tmp/', (d: string) => writeFileSync(join(d, 'tmp', 'notes.txt'), 'mine')],
    ['an unknown directory', (d: string) => mkdirSync(join(d, 'src'))],
  ] as const) {
    const d = join(base, `not-half-${label.replace(/\W+/g, '-')}`);
    mkdirSync(join(d, 'objects', 'sha256'), { recursive: true });
    mkdirSync(join(d, 'tmp'));
    make(d);
    const before = readdirSync(d).sort();
    assert.throws(() => FileStore.open(d, { create: true }), oneLine('STORE_NOT_A_STORE'), label);
    assert.deepEqual(readdirSync(d).sort(), before, `${label}: nothing was added`);
  }
});

test('a bad marker or a newer layout is refused', () => {
  const s = FileStore.open(join(base, 'marker'), { create: true });
  chmodSync(join(s.root, 'cald-store'), 0o644);
  writeFileSync(join(s.root, 'cald-store'), 'cald store, layout 9\n');
  assert.throws(() => FileStore.open(s.root), oneLine('STORE_LAYOUT_VERSION'));
  writeFileSync(join(s.root, 'cald-store'), 'hello');
  assert.throws(() => FileStore.open(s.root), oneLine('STORE_BAD_MARKER'));
});

test('a read-only open writes nothing', () => {
  const s = FileStore.open(join(base, 'ro-open'), { create: true });
  const ro = FileStore.open(s.root, { readOnly: true });
  assert.throws(() => ro.objects.put(Buffer.from('x')), oneLine('STORE_READ_ONLY'));
  assert.throws(() => ro.roots.add({ kind: 'indirect', target: '/x' }), oneLine('STORE_READ_ONLY'));
});

test('a file where a store directory belongs is refused', () => {
  const s = FileStore.open(join(base, 'layout'), { create: true });
  chmodSync(join(s.root, 'roots'), 0o755);
  spawnSync('rm', ['-rf', join(s.root, 'roots')]);
  writeFileSync(join(s.root, 'roots'), 'x');
  assert.throws(() => FileStore.open(s.root), oneLine('STORE_BAD_LAYOUT'));
});

/**
 * Runs a snippet as an unprivileged user (tests run as root, which ignores permissions).
 * The snippet prints the error code it got.
 */
function asNobody(snippet: string): { skip: string | false; out: string } {
  if (process.getuid?.() !== 0) return { skip: 'needs root to switch to an unprivileged user', out: '' };
  const url = new URL('../../src/store/index.js', import.meta.url).href;
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import * as S from ${JSON.stringify(url)};\ntry { ${snippet}; console.log('OK'); } catch (e) { console.log(e.code + ' ' + e.message); }`,
    ],
    { uid: 65534, gid: 65534, encoding: 'utf8', cwd: '/' },
  );
  if (r.error !== undefined) return { skip: `cannot run as nobody: ${r.error.message}`, out: '' };
  return { skip: false, out: r.stdout.trim() + r.stderr.trim() };
}

test('an unreadable store directory (as an unprivileged user)', (t) => {
  const s = FileStore.open(join(base, 'unreadable'), { create: true });
  chmodSync(s.root, 0o711);
  const r = asNobody(`S.FileStore.open(${JSON.stringify(s.root)})`);
  if (r.skip) return t.skip(r.skip);
  assert.match(r.out, /^STORE_UNREADABLE cannot read store directory .*: permission denied$/);
});

test('EACCES during put leaves nothing (as an unprivileged user)', (t) => {
  const s = FileStore.open(join(base, 'eacces'), { create: true });
  const r = asNobody(`S.FileStore.open(${JSON.stringify(s.root)}).objects.put(Buffer.from('x'))`);
  if (r.skip) return t.skip(r.skip);
  assert.match(r.out, /^IO_EACCES cannot store an object in .*: permission denied$/);
  assert.deepEqual(readdirSync(join(s.root, 'objects', 'sha256')), []);
  assert.deepEqual(readdirSync(join(s.root, 'tmp')), []);
});

/** Mounts a small tmpfs (root only); undefined with a reason when not permitted here. */
function mountTmpfs(dir: string, sizeBytes: number): string | undefined {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], {
    encoding: 'utf8',
  });
  if (r.error !== undefined || r.status !== 0)
    return `cannot mount a tmpfs here: ${r.stderr.trim() || r.error?.message}`;
  return undefined;
}
const umount = (dir: string) => spawnSync('umount', [dir]);

test('ENOSPC during put leaves nothing half-written (1 MiB tmpfs)', (t) => {
  const mnt = join(base, 'full');
  const why = mountTmpfs(mnt, 1024 * 1024);
  if (why !== undefined) return t.skip(why);
  try {
    const s = FileStore.open(join(mnt, 'store'), { create: true });
    const small = s.objects.put(Buffer.from('fits'));
    assert.throws(() => s.objects.put(Buffer.alloc(2 * 1024 * 1024, 1)), oneLine('IO_ENOSPC'));
    assert.deepEqual(readdirSync(join(s.root, 'objects', 'sha256')), [small.hex]);
    assert.deepEqual(readdirSync(join(s.root, 'tmp')), [], 'the partial temp file was removed');
    assert.equal(s.objects.readBytes(small).toString(), 'fits');
  } finally {
    umount(mnt);
  }
});

test('EROFS: a store on a read-only file system opens for reading and refuses puts clearly', (t) => {
  const mnt = join(base, 'rofs');
  const why = mountTmpfs(mnt, 1024 * 1024);
  if (why !== undefined) return t.skip(why);
  try {
    const s = FileStore.open(join(mnt, 'store'), { create: true });
    const d = s.objects.put(Buffer.from('kept'));
    const r = spawnSync('mount', ['-o', 'remount,ro', mnt], { encoding: 'utf8' });
    if (r.status !== 0) return t.skip(`cannot remount read-only: ${r.stderr.trim()}`);
    const again = FileStore.open(s.root);
    assert.equal(again.objects.readBytes(d).toString(), 'kept');
    assert.throws(() => again.objects.put(Buffer.from('new')), oneLine('IO_EROFS'));
    assert.throws(() => again.names.add(d, 'kept.so'), oneLine('IO_EROFS'));
    assert.throws(() => FileStore.open(join(mnt, 'other'), { create: true }), oneLine('IO_EROFS'));
  } finally {
    umount(mnt);
  }
});

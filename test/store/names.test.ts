import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Digest, FileStore, formatCasName } from '../../src/store/index.js';
import { tempDir } from './tmp.js';

const base = tempDir('names');

test('names are relative symlinks named exactly like the DT_NEEDED string', () => {
  const s = FileStore.open(join(base, 'a'), { create: true });
  const d = s.objects.put(Buffer.from('libz bytes'));
  const bare = s.names.add(formatCasName(d));
  const hinted = s.names.add(d, 'libz.so.1');
  assert.equal(hinted, `cas:sha256:${d.hex}?name=libz.so.1`);
  for (const name of [bare, hinted]) {
    const entry = join(s.root, 'names', name);
    assert.ok(lstatSync(entry).isSymbolicLink());
    assert.equal(readlinkSync(entry), `../objects/sha256/${d.hex}`);
    assert.equal(readFileSync(entry, 'utf8'), 'libz bytes');
    assert.ok(s.names.resolve(name)?.equals(d));
  }
  assert.deepEqual(s.names.list(), [bare, hinted]);
  assert.equal(s.names.add(bare), bare, 'idempotent');
  assert.equal(readdirSync(join(s.root, 'tmp')).length, 0);
});

test('names are refused for missing objects and malformed names', () => {
  const s = FileStore.open(join(base, 'b'), { create: true });
  assert.throws(() => s.names.add(`cas:sha256:${'1'.repeat(64)}`), { code: 'STORE_OBJECT_MISSING' });
  for (const bad of ['../x', 'libc.so.6', `cas:sha256:${'1'.repeat(64)}/..`, '', `cas:sha256:$ORIGIN`]) {
    assert.throws(
      () => s.names.add(bad),
      (e: { code: string }) => e.code.startsWith('NAME_'),
      bad,
    );
    assert.throws(
      () => s.names.remove(bad),
      (e: { code: string }) => e.code.startsWith('NAME_'),
      bad,
    );
  }
});

test('a wrong entry under a valid name is not trusted, and addName replaces it', () => {
  const s = FileStore.open(join(base, 'c'), { create: true });
  const d = s.objects.put(Buffer.from('real'));
  const name = formatCasName(d);
  symlinkSync('/etc/hostname', join(s.root, 'names', name));
  writeFileSync(join(s.root, 'names', 'garbage'), 'x');
  assert.equal(s.names.resolve(name), undefined);
  assert.deepEqual(s.names.list(), []);
  s.names.add(name);
  assert.equal(readlinkSync(join(s.root, 'names', name)), `../objects/sha256/${d.hex}`);
});

test('removeName and delete: deleting an object removes its names first', async () => {
  const s = FileStore.open(join(base, 'd'), { create: true });
  const d = s.objects.put(Buffer.from('doomed'));
  const keep = s.objects.put(Buffer.from('kept'));
  s.names.add(d, 'a.so');
  s.names.add(d);
  s.names.add(keep, 'b.so');
  assert.equal(s.names.remove(formatCasName(d, 'a.so')), true);
  assert.equal(s.names.remove(formatCasName(d, 'a.so')), false);
  s.names.add(d, 'a.so');
  assert.equal(await s.delete(d), true);
  assert.deepEqual(s.names.list(), [formatCasName(keep, 'b.so')]);
});

test('moving or copying the whole store keeps every name valid', () => {
  const s = FileStore.open(join(base, 'move-src'), { create: true });
  const d = s.objects.put(Buffer.from('travelling library'));
  const name = s.names.add(d, 'libtravel.so.1');
  for (const [how, to] of [
    ['rename', join(base, 'moved', 'deeper')],
    ['copy', join(base, 'copied')],
  ] as const) {
    const from = how === 'rename' ? s.root : join(base, 'moved', 'deeper');
    if (how === 'rename') {
      execFileSync('mkdir', ['-p', join(base, 'moved')]);
      renameSync(from, to);
    } else {
      cpSync(from, to, { recursive: true, verbatimSymlinks: true });
    }
    const entry = join(to, 'names', name);
    const real = execFileSync('readlink', ['-f', entry], { encoding: 'utf8' }).trim();
    assert.equal(real, join(to, 'objects', 'sha256', d.hex), how);
    assert.equal(readFileSync(entry, 'utf8'), 'travelling library', how);
    const sum = execFileSync('sha256sum', [entry], { encoding: 'utf8' }).split(' ')[0];
    assert.equal(sum, d.hex, how);
    assert.ok(FileStore.open(to).names.resolve(name)?.equals(d), how);
  }
});

/** Compiles C with gcc (or musl-gcc); undefined when the compiler is missing. */
function cc(compiler: string, args: string[]): boolean {
  const r = spawnSync(compiler, args, { encoding: 'utf8' });
  if (r.error !== undefined) return false;
  assert.equal(r.status, 0, r.stderr);
  return true;
}

for (const compiler of ['gcc', 'musl-gcc']) {
  const have = spawnSync(compiler, ['--version']).error === undefined;
  test(`${compiler}: a program whose DT_NEEDED is a cas: name runs with <store>/names on LD_LIBRARY_PATH`, {
    skip: have ? false : `${compiler} is not installed`,
  }, () => {
    const w = tempDir(`ld-${compiler}`);
    const s = FileStore.open(join(w, 'store'), { create: true });
    // The real library, stored by content.
    writeFileSync(join(w, 'real.c'), 'int answer(void) { return 42; }\n');
    assert.ok(cc(compiler, ['-shared', '-fPIC', '-o', join(w, 'libreal.so'), join(w, 'real.c')]));
    const d = s.objects.put({ path: join(w, 'libreal.so') });
    const name = s.names.add(d, 'libreal.so');
    // A link-time stub whose SONAME is the cas: name, so the linker writes it into DT_NEEDED.
    assert.ok(
      cc(compiler, [
        '-shared',
        '-fPIC',
        `-Wl,-soname,${name}`,
        '-o',
        join(w, 'libstub.so'),
        join(w, 'real.c'),
      ]),
    );
    writeFileSync(
      join(w, 'main.c'),
      '#include <stdio.h>\nint answer(void);\nint main(void) { printf("%d\\n", answer()); return 0; }\n',
    );
    assert.ok(cc(compiler, ['-o', join(w, 'main'), join(w, 'main.c'), join(w, 'libstub.so')]));
    const dyn = execFileSync('readelf', ['-d', join(w, 'main')], { encoding: 'utf8' });
    assert.ok(dyn.includes(`Shared library: [${name}]`), dyn);
    const moved = join(w, 'elsewhere');
    renameSync(s.root, moved);
    const r = spawnSync(join(w, 'main'), [], {
      encoding: 'utf8',
      cwd: w,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LD_LIBRARY_PATH: join(moved, 'names') },
    });
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '42\n');
    assert.ok(Digest.parse(`sha256:${d.hex}`).equals(d));
  });
}

// The naming pieces on their own: names along a chain of links, root ids for any name, which root a
// name goes to, the object-reference parser's forms, and did-you-mean.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  Digest,
  FileStore,
  listPrograms,
  nameProgram,
  namesAlongLinks,
  parseObjectRef,
  programRootId,
} from '../../src/store/index.js';
import { didYouMean } from '../../src/util/did-you-mean.js';
import { parseDuration } from '../../src/util/duration.js';
import { withTmp } from '../helpers/tmp.js';

test('names along a chain of links: each link, then the real file', async () => {
  await withTmp((dir) => {
    mkdirSync(join(dir, 'alt'));
    writeFileSync(join(dir, 'vim.basic'), 'x');
    symlinkSync(join(dir, 'vim.basic'), join(dir, 'alt', 'vi'));
    symlinkSync(join(dir, 'alt', 'vi'), join(dir, 'vi'));
    symlinkSync('vi', join(dir, 'view'));
    assert.deepEqual(namesAlongLinks(join(dir, 'view')), ['view', 'vi', 'vim.basic']);
    assert.deepEqual(namesAlongLinks(join(dir, 'vim.basic')), ['vim.basic']);
    symlinkSync('nowhere', join(dir, 'dangling'));
    assert.deepEqual(namesAlongLinks(join(dir, 'dangling')), ['dangling', 'nowhere']);
  });
});

test('program root ids: the name when it fits, a hash otherwise, never colliding with defaults', () => {
  assert.equal(programRootId('python3.11'), 'program-python3.11');
  assert.equal(programRootId('g++'), `program-${programRootId('g++').slice(8)}`);
  assert.match(programRootId('g++'), /^program-[0-9a-f]{16}$/);
  assert.notEqual(programRootId('a..b'), 'program-a..b');
  assert.notEqual(programRootId('x'.repeat(200)), programRootId('x'.repeat(201)));
});

test('a name moves: the newest import holds it, legacy roots naming it are removed', async () => {
  await withTmp((dir) => {
    const store = FileStore.open(join(dir, 's'), { create: true });
    const a = store.objects.put(Buffer.from('a'));
    const b = store.objects.put(Buffer.from('b'));
    // A store written before program roots: the original path as the note.
    store.roots.add({ kind: 'object', target: a.toString(), note: '/usr/bin/app' }, 1000);
    assert.deepEqual(
      listPrograms(store.roots.list()).map((p) => [p.name, p.digest.toString()]),
      [['app', a.toString()]],
    );
    const moved = nameProgram(store.roots, { digest: b, path: '/opt/app', names: ['app'] });
    assert.deepEqual(moved, [{ name: 'app', from: a.toString(), to: b.toString() }]);
    assert.deepEqual(
      store.roots.list().map((r) => [r.id, r.target]),
      [['program-app', b.toString()]],
    );
    // Naming the same object again moves nothing.
    assert.deepEqual(nameProgram(store.roots, { digest: b, path: '/opt/app', names: ['app'] }), []);
  });
});

test('parseObjectRef: each printed form, and malformed ones refused', () => {
  const hex = 'ab'.repeat(32);
  const d = Digest.parse(`sha256:${hex}`);
  const form = (t: string) => parseObjectRef(t).form;
  assert.equal(form(`cas:sha256:${hex}?name=git`), 'uri');
  assert.equal(form(`cas:sha256:${hex}?name=git  /usr/bin/git`), 'uri');
  assert.ok((parseObjectRef(`cas:sha256:${hex}`) as { digest: Digest }).digest.equals(d));
  assert.equal(form(`sha256:${hex}`), 'digest');
  assert.equal(form(hex), 'digest');
  assert.equal(form('/usr/bin/git'), 'path');
  assert.equal(form('./git'), 'path');
  assert.equal(form('git'), 'word');
  assert.equal(form('abcdef12'), 'word');
  assert.equal(form('program-git'), 'word');
  for (const bad of ['', '  ', 'cas:sha256:1234', 'sha256:xyz', 'md5:00', 'cas:sha256:../x']) {
    assert.throws(() => parseObjectRef(bad), { code: /^NAME_/ }, JSON.stringify(bad));
  }
});

test('did you mean: close names first, nothing far', () => {
  assert.deepEqual(didYouMean('sqlit3', ['sqlite3', 'python3', 'git']), ['sqlite3']);
  assert.deepEqual(didYouMean('pyhton3', ['python3', 'python3.11']), ['python3']);
  assert.deepEqual(didYouMean('pyth', ['python3', 'python3.11']), ['python3', 'python3.11']);
  assert.deepEqual(didYouMean('gti', ['git', 'gitk']), ['git']);
  assert.deepEqual(didYouMean('zzz', ['git']), []);
});

test('durations: 30d, 12h, sums, seconds; anything else refused', () => {
  assert.equal(parseDuration('30d'), 30 * 86_400_000);
  assert.equal(parseDuration('1d12h'), 36 * 3_600_000);
  assert.equal(parseDuration('90'), 90_000);
  assert.equal(parseDuration('2w'), 14 * 86_400_000);
  for (const bad of ['', '30x', '1d12', '-1d', 'd']) assert.equal(parseDuration(bad), undefined, bad);
});

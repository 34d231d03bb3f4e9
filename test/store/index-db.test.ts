import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DatabaseSync } from '@photostructure/sqlite';
import {
  Digest,
  type ExtractRefs,
  formatCasName,
  IndexDb,
  LocalStore,
  MemoryStore,
} from '../../src/store/index.js';
import { SCHEMA_SQL, SCHEMA_VERSION } from '../../src/store/schema.js';
import { repoPath } from '../helpers/paths.js';
import { tempDir } from './tmp.js';

const base = tempDir('index');

/** A stand-in for the ELF reader: the object's lines that start with "cas:" are its references. */
const extractRefs: ExtractRefs = (bytes) =>
  bytes
    .toString('utf8')
    .split('\n')
    .filter((l) => l.startsWith('cas:'));

const objectText = (label: string, refs: string[] = []) => Buffer.from([label, ...refs].join('\n'));

test('schema.ts embeds schema.sql byte for byte', () => {
  assert.equal(SCHEMA_SQL, readFileSync(repoPath('src/store/schema.sql'), 'utf8'));
  assert.equal(SCHEMA_VERSION, 1);
});

/** Builds a small DAG through LocalStore (incremental indexing). */
async function populate(store: LocalStore): Promise<Record<string, Digest>> {
  const libc = await store.put(objectText('libc'));
  const libcName = store.addName(formatCasName(libc, 'libc.so.6'));
  const libz = await store.put(objectText('libz', [libcName]));
  const libzName = store.addName(formatCasName(libz, 'libz.so.1'));
  const bare = store.addName(formatCasName(libc));
  const prog = await store.put(objectText('prog', [libcName, libzName, bare]), { executable: true });
  store.addRoot({ kind: 'object', target: prog.toString(), note: 'imported' });
  store.addRoot({ kind: 'indirect', target: '/usr/local/bin/prog', id: 'launcher' });
  // Given refs explicitly instead of extracted:
  const data = await store.put(Buffer.from('plain data'), { refs: [] });
  return { libc, libz, prog, data };
}

test('incremental indexing equals a rebuild from the files alone', async () => {
  const store = await LocalStore.open({ path: join(base, 'inc'), create: true, extractRefs });
  const { libc, libz, prog } = await populate(store);
  const incremental = store.index.snapshot();
  assert.equal(incremental.objects.length, 4);
  assert.equal(incremental.refs.length, 4);
  assert.equal(incremental.names.length, 3);
  assert.equal(incremental.roots.length, 2);
  assert.equal(incremental.objects.find((o) => o.digest === prog!.toString())?.kind, 'executable');

  assert.deepEqual(
    store.index.refsOf(prog!).map((r) => [r.name.slice(0, 20), r.digest.toString()]),
    [
      [formatCasName(libc!).slice(0, 20), libc!.toString()],
      [formatCasName(libc!).slice(0, 20), libc!.toString()],
      [formatCasName(libz!).slice(0, 20), libz!.toString()],
    ],
  );
  assert.deepEqual(store.index.referrers(libc!).map(String), [libz!.toString(), prog!.toString()].sort());
  assert.deepEqual(store.index.referrers(prog!), []);
  assert.deepEqual(store.index.namesOf(libc!).length, 2);

  const report = await store.rebuildIndex(extractRefs);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(store.index.snapshot(), incremental);

  // A fresh index on the same files, rebuilt, is the same too.
  const other = IndexDb.open(join(base, 'other.sqlite'));
  await other.rebuild(store.files, extractRefs);
  assert.deepEqual(other.snapshot(), incremental);
  other.close();
  store.close();
});

test('rebuild from a MemoryStore; problems are reported, not fatal', async () => {
  const mem = new MemoryStore(() => 5);
  const leaf = await mem.put(objectText('leaf'));
  const good = await mem.put(objectText('good', [formatCasName(leaf)]));
  const badRef = await mem.put(objectText('bad', ['cas:sha256:nothex']));
  const broken = await mem.put(objectText('broken'));
  mem.corruptForTest(broken, Buffer.from('flipped'));
  const index = IndexDb.memory();
  const report = await index.rebuild(mem, (bytes, d) => {
    if (bytes.toString().startsWith('leaf')) throw new Error(`cannot parse ${d}`);
    return extractRefs(bytes, d);
  });
  assert.equal(report.objects, 3);
  assert.equal(report.refs, 1);
  assert.deepEqual(report.problems.map((p) => p.what).sort(), [leaf, badRef, broken].map(String).sort());
  assert.match(report.problems.find((p) => p.what === broken.toString())!.message, /corrupt/);
  assert.deepEqual(index.referrers(leaf).map(String), [good.toString()]);
  index.close();
});

test('recordRefs replaces, rejects non-cas names; roots round-trip', () => {
  const index = IndexDb.memory();
  const a = `cas:sha256:${'a'.repeat(64)}`;
  const b = `cas:sha256:${'b'.repeat(64)}?name=b.so`;
  const d = Digest.parse(`sha256:${'f'.repeat(64)}`);
  index.recordRefs(d, [a, b]);
  index.recordRefs(d, [b]);
  assert.deepEqual(
    index.snapshot().refs.map((r) => r.name),
    [b],
  );
  assert.throws(() => index.recordRefs(d, ['libc.so.6']), { code: 'NAME_NOT_CAS' });
  assert.deepEqual(
    index.snapshot().refs.map((r) => r.name),
    [b],
    'a refused call changes nothing',
  );
  index.addRoot({ id: 'r1', kind: 'name', target: a, added: 7, note: undefined });
  assert.deepEqual(index.listRoots(), [{ id: 'r1', kind: 'name', target: a, added: 7, note: undefined }]);
  assert.equal(index.removeRoot('r1'), true);
  assert.equal(index.removeRoot('r1'), false);
  index.close();
});

test('recordObjects records many objects with their references, all or nothing', () => {
  const index = IndexDb.memory();
  const da = Digest.parse(`sha256:${'a'.repeat(64)}`);
  const db = Digest.parse(`sha256:${'b'.repeat(64)}`);
  const toA = `cas:sha256:${'a'.repeat(64)}?name=a.so`;
  const info = (digest: Digest) => ({ digest, size: 3, executable: false, added: 5 });
  index.recordRefs(db, [`cas:sha256:${'c'.repeat(64)}`]);
  index.recordObjects([
    { info: info(da), refs: [] },
    { info: info(db), refs: [toA] },
  ]);
  assert.deepEqual(
    index.snapshot().objects.map((o) => o.digest.toString()),
    [da.toString(), db.toString()],
  );
  assert.deepEqual(
    index.snapshot().refs.map((r) => r.name),
    [toA],
    "an object's references are replaced",
  );
  const dc = Digest.parse(`sha256:${'c'.repeat(64)}`);
  assert.throws(
    () =>
      index.recordObjects([
        { info: info(dc), refs: [] },
        { info: info(da), refs: ['libc.so.6'] },
      ]),
    { code: 'NAME_NOT_CAS' },
  );
  assert.equal(index.snapshot().objects.length, 2, 'a refused call records nothing');
  index.close();
});

test('the index is in WAL mode and two handles can write in turn', () => {
  const path = join(base, 'wal.sqlite');
  const one = IndexDb.open(path);
  const two = IndexDb.open(path);
  one.addRoot({ id: 'a', kind: 'indirect', target: '/a', added: 1, note: undefined });
  two.addRoot({ id: 'b', kind: 'indirect', target: '/b', added: 2, note: undefined });
  assert.deepEqual(
    one.listRoots().map((r) => r.id),
    ['a', 'b'],
  );
  one.close();
  two.close();
  const raw = new DatabaseSync(path, { readOnly: true });
  assert.equal(raw.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
  raw.close();
});

test('a damaged index is detected with a code', () => {
  const garbage = join(base, 'garbage.sqlite');
  writeFileSync(
    garbage,
    'this is not a database, it is a file of text long enough to look like one'.repeat(20),
  );
  assert.throws(
    () => IndexDb.open(garbage),
    (e: Error & { code: string }) => {
      assert.equal(e.code, 'INTEGRITY_INDEX_CORRUPT');
      assert.ok(!e.message.includes('\n'));
      return true;
    },
  );
  const foreign = join(base, 'foreign.sqlite');
  const db = new DatabaseSync(foreign);
  db.exec('CREATE TABLE t (x)');
  db.close();
  assert.throws(() => IndexDb.open(foreign), { code: 'INTEGRITY_INDEX_CORRUPT' });
  const future = join(base, 'future.sqlite');
  IndexDb.open(future).close();
  const f = new DatabaseSync(future);
  f.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
  f.close();
  assert.throws(() => IndexDb.open(future), { code: 'STORE_INDEX_VERSION' });
  assert.throws(() => IndexDb.open(join(base, 'absent.sqlite'), { create: false }), {
    code: 'STORE_INDEX_MISSING',
  });
});

test('LocalStore.open rebuilds a damaged or missing index and keeps the damaged file', async () => {
  const path = join(base, 'recover');
  const first = await LocalStore.open({ path, create: true, extractRefs });
  await populate(first);
  const before = first.index.snapshot();
  first.close();
  const indexFile = join(path, 'index.sqlite');
  for (const suffix of ['-wal', '-shm']) rmSync(indexFile + suffix, { force: true });

  chmodSync(indexFile, 0o644);
  writeFileSync(indexFile, Buffer.alloc(8192, 0x5a));
  await assert.rejects(LocalStore.open({ path }), { code: 'STORE_INDEX_NEEDS_REBUILD' });
  const again = await LocalStore.open({ path, extractRefs });
  assert.equal(again.recovery?.reason, 'corrupt');
  assert.ok(again.recovery?.movedTo !== undefined && existsSync(again.recovery.movedTo));
  assert.deepEqual(again.index.snapshot(), before);
  again.close();

  for (const suffix of ['', '-wal', '-shm']) rmSync(indexFile + suffix, { force: true });
  const third = await LocalStore.open({ path, extractRefs });
  assert.equal(third.recovery?.reason, 'missing');
  assert.deepEqual(third.index.snapshot(), before);
  third.close();

  const fourth = await LocalStore.open({ path, extractRefs });
  assert.equal(fourth.recovery, undefined, 'a healthy index is not rebuilt');
  fourth.close();
});

test('rebuild of 5,000 chained objects records every object and reference (timing is bench/index-ops.mjs)', async (t) => {
  const mem = new MemoryStore(() => 1);
  let prev: string | undefined;
  for (let i = 0; i < 5000; i++) {
    const d = await mem.put(objectText(`o${i}`, prev === undefined ? [] : [prev]));
    prev = formatCasName(d);
  }
  const index = IndexDb.open(join(base, 'many.sqlite'));
  const t0 = performance.now();
  const report = await index.rebuild(mem, extractRefs);
  const ms = performance.now() - t0;
  t.diagnostic(`rebuild of 5000 objects: ${ms.toFixed(0)} ms`);
  assert.equal(report.objects, 5000);
  assert.equal(report.refs, 4999);
  assert.equal(index.snapshot().refs.length, 4999);
  index.close();
});

test('an index left incomplete by a crash (state new, objects present) is rebuilt on open', async () => {
  const path = join(base, 'crashed');
  const s = await LocalStore.open({ path, create: true, extractRefs });
  const d = await s.put(objectText('x'));
  s.close();
  const raw = new DatabaseSync(join(path, 'index.sqlite'));
  raw.exec("DELETE FROM objects; UPDATE meta SET value = 'new' WHERE key = 'state'");
  raw.close();
  const again = await LocalStore.open({ path, extractRefs });
  assert.equal(again.recovery?.reason, 'missing');
  assert.equal(again.index.objectRow(d)?.size, 1);
  again.close();
});

// The import's batch writer (src/importer/object-batch.ts): nothing appears under objects/ before
// commit(), commit stores whole objects (hashed here by node:crypto) with their modes and index
// rows, the same bytes twice make one object, an intact stored object is kept (same inode), and
// discard() leaves no temp file. The syscalls of a real import show the batching: one data sync
// per object, each written with O_DIRECT, and objects/ synced once.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ObjectBatch } from '../../src/importer/object-batch.js';
import { Digest, LocalStore } from '../../src/store/index.js';
import { ENTRY_ARGS } from '../cli/cald.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

type AddOptions = Parameters<ObjectBatch['add']>[1];

/** batch.add, settled once the bytes are written to their temp file (the done callback). */
async function addWritten(batch: ObjectBatch, bytes: Uint8Array, options: AddOptions) {
  let written!: () => void;
  const done = new Promise<void>((resolve) => {
    written = resolve;
  });
  const digest = await batch.add(bytes, options, written);
  await done;
  return digest;
}

async function openStore(t: { after(fn: () => void): void }, label: string) {
  const store = await LocalStore.open({ path: join(makeTmp(t, label), 'store'), create: true });
  t.after(() => store.close());
  return store;
}

test('objects appear only at commit, whole, with their modes, index rows and references', async (t) => {
  const store = await openStore(t, 'batch');
  const batch = new ObjectBatch(store);
  const a = Buffer.from('library bytes\n');
  const b = Buffer.from('program bytes\n');
  const da = await addWritten(batch, a, { executable: false, ownerOnly: false, refs: [] });
  const ref = `cas:${da.toString()}?name=liba.so`;
  const db = await addWritten(batch, b, { executable: true, ownerOnly: true, refs: [ref] });
  assert.equal(da.hex, sha(a), 'the digest is the sha256 of the bytes');
  const objects = join(store.root, 'objects', 'sha256');
  assert.deepEqual(readdirSync(objects), [], 'nothing under objects/ before commit');
  assert.equal(readdirSync(join(store.root, 'tmp')).length, 2, 'two temp files');
  await batch.commit();
  assert.deepEqual(readdirSync(objects).sort(), [da.hex, db.hex].sort());
  assert.deepEqual(readdirSync(join(store.root, 'tmp')), [], 'no temp file left');
  assert.equal(sha(readFileSync(join(objects, da.hex))), da.hex);
  assert.equal(statSync(join(objects, da.hex)).mode & 0o777, 0o444);
  assert.equal(statSync(join(objects, db.hex)).mode & 0o777, 0o500, 'executable, owner only');
  assert.equal(store.index.objectRow(db)?.kind, 'executable');
  assert.deepEqual(
    store.index.refsOf(db).map((r) => r.name),
    [ref],
  );
});

test('the same bytes twice are one object; a stored intact object is kept as it is', async (t) => {
  const store = await openStore(t, 'batch-same');
  const bytes = Buffer.from('shared bytes\n');
  const first = new ObjectBatch(store);
  const d = await addWritten(first, bytes, { executable: false, ownerOnly: true, refs: [] });
  assert.ok((await addWritten(first, bytes, { executable: true, ownerOnly: false, refs: [] })).equals(d));
  assert.equal(readdirSync(join(store.root, 'tmp')).length, 1, 'one temp file for both');
  await first.commit();
  const path = join(store.root, 'objects', 'sha256', d.hex);
  assert.equal(statSync(path).mode & 0o777, 0o555, 'executable if either is, owner-only only if both are');
  const inode = statSync(path).ino;
  const again = new ObjectBatch(store);
  await addWritten(again, bytes, { executable: false, ownerOnly: false, refs: [] });
  assert.deepEqual(readdirSync(join(store.root, 'tmp')), [], 'nothing written for an intact object');
  await again.commit();
  assert.equal(statSync(path).ino, inode, 'the stored object was kept, not replaced');
  assert.equal(statSync(path).mode & 0o777, 0o555);
  // A damaged object is replaced by the new bytes.
  chmodSync(path, 0o644);
  writeFileSync(path, 'damaged');
  const repair = new ObjectBatch(store);
  await repair.add(bytes, { executable: false, ownerOnly: false, refs: [] });
  await repair.commit();
  assert.equal(sha(readFileSync(path)), d.hex, 'repaired');
  assert.equal(statSync(path).mode & 0o777, 0o444);
  assert.deepEqual(readdirSync(join(store.root, 'tmp')), []);
});

test('done is called once the bytes are written, or at once when there is nothing to write', async (t) => {
  const store = await openStore(t, 'batch-done');
  const batch = new ObjectBatch(store);
  const bytes = Buffer.alloc(3 << 20, 5);
  const seen: string[] = [];
  const whenDone = new Promise<void>((resolve) => {
    void batch.add(bytes, { executable: false, ownerOnly: false, refs: [] }, () => {
      // The temp file holds every byte hashed, so the memory may now be lent to another file.
      const [tmp] = readdirSync(join(store.root, 'tmp'));
      seen.push(sha(readFileSync(join(store.root, 'tmp', tmp!))));
      resolve();
    });
  });
  await whenDone;
  assert.deepEqual(seen, [sha(bytes)]);
  let again = 0;
  await batch.add(Buffer.from(bytes), { executable: false, ownerOnly: false, refs: [] }, () => again++);
  assert.equal(again, 1, 'the same bytes again: nothing to write, done at once');
  await batch.commit();
  let intact = 0;
  await new ObjectBatch(store).add(bytes, { executable: false, ownerOnly: false, refs: [] }, () => intact++);
  assert.equal(intact, 1, 'stored and intact: nothing to write, done at once');
});

test('discard() leaves neither objects nor temp files', async (t) => {
  const store = await openStore(t, 'batch-discard');
  const batch = new ObjectBatch(store);
  const d = await batch.add(Buffer.alloc(3 << 20, 7), { executable: false, ownerOnly: false, refs: [] });
  await batch.discard();
  assert.deepEqual(readdirSync(join(store.root, 'tmp')), []);
  assert.equal(existsSync(join(store.root, 'objects', 'sha256', d.hex)), false);
  assert.equal(store.files.objects.stat(Digest.parse(d.toString())), undefined);
});

test('a real import writes each object with O_DIRECT, syncs it once and objects/ once, then names/ once', (t) => {
  if (!hasTool('strace')) return t.skip('needs strace (Debian package strace)');
  const dir = makeTmp(t, 'batch-strace');
  const store = join(dir, 'store');
  const log = join(dir, 'trace');
  const r = run('strace', [
    '-f',
    '-qq',
    '-o',
    log,
    '-e',
    'trace=fsync,fdatasync,openat',
    '-y',
    process.execPath,
    ...ENTRY_ARGS,
    'import',
    '/usr/bin/sqlite3',
    '--store',
    store,
  ]);
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(log, 'utf8').split('\n');
  const synced = lines
    .map((l) => /^\d+\s+f(?:data)?sync\(\d+<([^>]+)>/.exec(l)?.[1])
    .filter((p) => p !== undefined);
  const objects = readdirSync(join(store, 'objects', 'sha256')).length;
  assert.ok(objects >= 5, `sqlite3's closure: ${objects} objects`);
  const objectDir = join(store, 'objects', 'sha256');
  const count = (p: string) => synced.filter((s) => s === p).length;
  assert.equal(count(objectDir), 1, `objects/ synced once:\n${synced.join('\n')}`);
  assert.equal(count(join(store, 'names')), 1, 'names/ synced once');
  const temps = synced.filter((s) => s.startsWith(join(store, 'tmp', 'import-')));
  assert.equal(temps.length, objects, 'each object written and synced once, as a temp file');
  // Read into page-aligned memory, each object goes to the disk with O_DIRECT (direct-write.test.ts).
  const made = lines.filter((l) => l.includes(`"${join(store, 'tmp', 'import-')}`) && l.includes('O_CREAT'));
  assert.equal(made.length, objects, `one temp file per object:\n${made.join('\n')}`);
  assert.ok(
    made.every((l) => l.includes('O_DIRECT')),
    `every temp file opened with O_DIRECT:\n${made.join('\n')}`,
  );
});

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Digest, digestOfBuffer, type ObjectStore } from '../../src/store/index.js';
import { tempDir } from './tmp.js';

/**
 * The behaviour every ObjectStore keeps, local or remote. Each store's test file calls this with
 * a factory returning a fresh, empty store.
 */
export function objectStoreContract(label: string, fresh: () => Promise<ObjectStore> | ObjectStore): void {
  const missing = Digest.parse(`sha256:${'ab'.repeat(32)}`);

  test(`${label}: put returns the sha256 of the bytes; read gives them back`, async () => {
    const s = await fresh();
    const bytes = Buffer.from('hello, store\n');
    const d = await s.put(bytes);
    assert.equal(d.toString(), digestOfBuffer(bytes).toString());
    assert.deepEqual(await s.read(d), bytes);
    assert.equal(await s.has(d), true);
    const info = await s.stat(d);
    assert.equal(info?.size, bytes.length);
    assert.equal(info?.executable, false);
    assert.ok(info !== undefined && info.added > 0);
  });

  test(`${label}: the caller's buffer is not kept`, async () => {
    const s = await fresh();
    const bytes = Buffer.from('mutable');
    const d = await s.put(bytes);
    bytes.fill(0);
    assert.deepEqual(await s.read(d), Buffer.from('mutable'));
  });

  test(`${label}: put from a file path`, async () => {
    const s = await fresh();
    const file = join(tempDir('contract'), 'f');
    writeFileSync(file, 'from a file');
    const d = await s.put({ path: file });
    assert.equal(d.toString(), digestOfBuffer(Buffer.from('from a file')).toString());
    assert.equal((await s.read(d)).toString(), 'from a file');
  });

  test(`${label}: the empty object is an object`, async () => {
    const s = await fresh();
    const d = await s.put(Buffer.alloc(0));
    assert.equal(d.hex, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal((await s.read(d)).length, 0);
  });

  test(`${label}: storing twice keeps one object and its first added time`, async () => {
    const s = await fresh();
    const d1 = await s.put(Buffer.from('twice'));
    const first = await s.stat(d1);
    const d2 = await s.put(Buffer.from('twice'));
    assert.ok(d1.equals(d2));
    const all = [];
    for await (const d of s.list()) all.push(d.toString());
    assert.deepEqual(all, [d1.toString()]);
    assert.equal((await s.stat(d1))?.added, first?.added);
  });

  test(`${label}: executable is kept, and widening to executable sticks`, async () => {
    const s = await fresh();
    const d = await s.put(Buffer.from('#!/bin/sh\n'), { executable: true });
    assert.equal((await s.stat(d))?.executable, true);
    await s.put(Buffer.from('#!/bin/sh\n'));
    assert.equal((await s.stat(d))?.executable, true, 'a later non-executable put does not narrow it');
    const lib = await s.put(Buffer.from('lib'));
    await s.put(Buffer.from('lib'), { executable: true });
    assert.equal((await s.stat(lib))?.executable, true);
  });

  test(`${label}: expect mismatch stores nothing`, async () => {
    const s = await fresh();
    await assert.rejects(s.put(Buffer.from('x'), { expect: missing }), { code: 'INTEGRITY_MISMATCH' });
    const all = [];
    for await (const d of s.list()) all.push(d);
    assert.equal(all.length, 0);
    const ok = digestOfBuffer(Buffer.from('x'));
    assert.ok((await s.put(Buffer.from('x'), { expect: ok })).equals(ok));
  });

  test(`${label}: missing objects`, async () => {
    const s = await fresh();
    assert.equal(await s.has(missing), false);
    assert.equal(await s.stat(missing), undefined);
    await assert.rejects(s.read(missing), { code: 'STORE_OBJECT_MISSING' });
    assert.equal(await s.delete(missing), false);
  });

  test(`${label}: list and delete`, async () => {
    const s = await fresh();
    const ds = [];
    for (let i = 0; i < 20; i++) ds.push((await s.put(Buffer.from(`object ${i}`))).toString());
    const listed = [];
    for await (const d of s.list()) listed.push(d.toString());
    assert.deepEqual(listed.sort(), ds.sort());
    const victim = Digest.parse(ds[3]!);
    assert.equal(await s.delete(victim), true);
    assert.equal(await s.has(victim), false);
    assert.equal(await s.delete(victim), false);
  });
}

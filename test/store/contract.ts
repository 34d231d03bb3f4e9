import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Digest, digestOfBuffer, readAll, type Store } from '../../src/store/index.js';
import { tempDir } from './tmp.js';

/** What a backend cannot do, so the contract skips it: a remote cannot list, delete or keep modes. */
export interface ContractLimits {
  readonly list?: boolean;
  readonly modes?: boolean;
  /** The code a missing object's read fails with (a remote says REMOTE_NOT_FOUND). */
  readonly missingCode?: string;
}

async function* chunksOf(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

/**
 * The behaviour every Store keeps, local or remote. Each store's test file calls this with
 * a factory returning a fresh, empty store.
 */
export function objectStoreContract(
  label: string,
  fresh: () => Promise<Store> | Store,
  limits: ContractLimits = {},
): void {
  const missing = Digest.parse(`sha256:${'ab'.repeat(32)}`);
  const canList = limits.list ?? true;
  const modes = limits.modes ?? true;
  const listAll = async (s: Store): Promise<string[]> => {
    const all: string[] = [];
    for await (const d of s.list()) all.push(d.toString());
    return all;
  };

  test(`${label}: put from a stream with its digest; read streams it back, verified`, async () => {
    const s = await fresh();
    const expect = digestOfBuffer(Buffer.from('streamed in three parts'));
    const d = await s.put(chunksOf('streamed ', 'in three ', 'parts'), { expect });
    assert.ok(d.equals(expect));
    assert.equal((await readAll(s, d)).toString(), 'streamed in three parts');
    assert.equal((await s.stat(d))?.size, 23);
  });

  test(`${label}: a stream that does not hash to its digest, or breaks off, stores nothing`, async () => {
    const s = await fresh();
    const expect = digestOfBuffer(Buffer.from('the right bytes'));
    await assert.rejects(s.put(chunksOf('the wrong bytes'), { expect }), { code: 'INTEGRITY_MISMATCH' });
    assert.equal(await s.has(expect), false);
    async function* broken(): AsyncIterable<Uint8Array> {
      yield Buffer.from('the right');
      throw Object.assign(new Error('connection lost'), { code: 'TEST_BROKEN' });
    }
    await assert.rejects(s.put(broken(), { expect }), { code: 'TEST_BROKEN' });
    assert.equal(await s.has(expect), false);
    if (canList) assert.deepEqual(await listAll(s), []);
  });

  test(`${label}: a stream without its digest is refused`, async () => {
    const s = await fresh();
    await assert.rejects(s.put(chunksOf('x'), {} as { expect: Digest }), { code: 'STORE_PUT_NO_DIGEST' });
  });

  test(`${label}: put returns the sha256 of the bytes; read gives them back`, async () => {
    const s = await fresh();
    const bytes = Buffer.from('hello, store\n');
    const d = await s.put(bytes);
    assert.equal(d.toString(), digestOfBuffer(bytes).toString());
    assert.deepEqual(await readAll(s, d), bytes);
    assert.equal(await s.has(d), true);
    const info = await s.stat(d);
    assert.equal(info?.size, bytes.length);
    if (modes) {
      assert.equal(info?.executable, false);
      assert.ok(info?.added !== undefined && info.added > 0);
    }
  });

  test(`${label}: the caller's buffer is not kept`, async () => {
    const s = await fresh();
    const bytes = Buffer.from('mutable');
    const d = await s.put(bytes);
    bytes.fill(0);
    assert.deepEqual(await readAll(s, d), Buffer.from('mutable'));
  });

  test(`${label}: put from a file path`, async () => {
    const s = await fresh();
    const file = join(tempDir('contract'), 'f');
    writeFileSync(file, 'from a file');
    const d = await s.put({ path: file });
    assert.equal(d.toString(), digestOfBuffer(Buffer.from('from a file')).toString());
    assert.equal((await readAll(s, d)).toString(), 'from a file');
  });

  test(`${label}: the empty object is an object`, async () => {
    const s = await fresh();
    const d = await s.put(Buffer.alloc(0));
    assert.equal(d.hex, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal((await readAll(s, d)).length, 0);
  });

  test(`${label}: storing twice keeps one object and its first added time`, async () => {
    const s = await fresh();
    const d1 = await s.put(Buffer.from('twice'));
    const first = await s.stat(d1);
    const d2 = await s.put(Buffer.from('twice'));
    assert.ok(d1.equals(d2));
    if (canList) assert.deepEqual(await listAll(s), [d1.toString()]);
    assert.equal((await s.stat(d1))?.added, first?.added);
    // An object already stored intact: a stream put of it is not even read.
    let read = false;
    async function* untouched(): AsyncIterable<Uint8Array> {
      read = true;
      yield Buffer.from('twice');
    }
    if (modes) {
      assert.ok((await s.put(untouched(), { expect: d1 })).equals(d1));
      assert.equal(read, false);
    }
  });

  test(`${label}: executable is kept, and widening to executable sticks`, { skip: !modes }, async () => {
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
    assert.equal(await s.has(missing), false);
    if (canList) assert.equal((await listAll(s)).length, 0);
    const ok = digestOfBuffer(Buffer.from('x'));
    assert.ok((await s.put(Buffer.from('x'), { expect: ok })).equals(ok));
  });

  test(`${label}: missing objects`, async () => {
    const s = await fresh();
    assert.equal(await s.has(missing), false);
    assert.equal(await s.stat(missing), undefined);
    await assert.rejects(readAll(s, missing), { code: limits.missingCode ?? 'STORE_OBJECT_MISSING' });
    if (canList) assert.equal(await s.delete(missing), false);
  });

  test(`${label}: list and delete`, { skip: !canList }, async () => {
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

/** The optional parts of a Store: names and roots, for the backends that have them. */
export function namesAndRootsContract(label: string, fresh: () => Promise<Store> | Store): void {
  test(`${label}: names of stored objects only; resolved, listed sorted, removed`, async () => {
    const s = await fresh();
    assert.ok(s.names !== undefined);
    const a = await s.put(Buffer.from('lib a'));
    const b = await s.put(Buffer.from('lib b'));
    const missing = Digest.parse(`sha256:${'ef'.repeat(32)}`);
    assert.throws(() => s.names?.add(`cas:${missing}?name=libm.so`), { code: 'STORE_OBJECT_MISSING' });
    assert.throws(() => s.names?.add('cas:sha256:nothex'), { code: /^NAME_/ });
    const nb = s.names.add(`cas:${b}?name=libb.so.1`);
    const na = s.names.add(`cas:${a}?name=liba.so.1`);
    assert.equal(s.names.add(na), na, 'idempotent');
    assert.ok(s.names.resolve(na)?.equals(a));
    assert.deepEqual(s.names.list(), [na, nb].sort());
    assert.equal(s.names.remove(na), true);
    assert.equal(s.names.remove(na), false);
    assert.equal(s.names.resolve(na), undefined);
    // Deleting an object takes its names with it: none dangles.
    if (await s.delete(b)) assert.deepEqual(s.names.list(), []);
  });

  test(`${label}: roots added (one per kind and target), listed by id, removed`, async () => {
    const s = await fresh();
    assert.ok(s.roots !== undefined);
    const d = await s.put(Buffer.from('a program'));
    const r1 = s.roots.add({ kind: 'object', target: d.toString() }, 1000);
    const again = s.roots.add({ kind: 'object', target: d.toString() }, 2000);
    assert.equal(again.id, r1.id);
    const named = s.roots.add({
      kind: 'object',
      target: d.toString(),
      id: 'program-x',
      note: '{"name":"x"}',
    });
    assert.deepEqual(
      s.roots.list().map((r) => r.id),
      [r1.id, named.id].sort(),
    );
    assert.equal(s.roots.remove('program-x'), true);
    assert.equal(s.roots.remove('program-x'), false);
    assert.throws(() => s.roots?.remove('../escape'), { code: 'NAME_BAD_ROOT_ID' });
    assert.deepEqual(
      s.roots.list().map((r) => r.id),
      [r1.id],
    );
  });
}

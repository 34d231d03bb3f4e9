import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FileStore, LocalStore, MemoryStore } from '../../src/store/index.js';
import { namesAndRootsContract, objectStoreContract } from './contract.js';
import { tempDir } from './tmp.js';

objectStoreContract('MemoryStore', () => new MemoryStore());

const base = tempDir('contract-file');
let n = 0;
objectStoreContract('FileStore', () => FileStore.open(`${base}/s${n++}`, { create: true }));
objectStoreContract('LocalStore', () =>
  LocalStore.open({ path: `${base}/l${n++}`, create: true, extractRefs: () => [] }),
);
namesAndRootsContract('FileStore', () => FileStore.open(`${base}/s${n++}`, { create: true }));
namesAndRootsContract('LocalStore', () =>
  LocalStore.open({ path: `${base}/l${n++}`, create: true, extractRefs: () => [] }),
);

test('LocalStore: names and roots through its Store face keep the index in step', async () => {
  const s = await LocalStore.open({ path: `${base}/idx${n++}`, create: true, extractRefs: () => [] });
  const d = await s.put(Buffer.from('indexed'));
  const name = s.names.add(`cas:${d}?name=libi.so`);
  const root = s.roots.add({ kind: 'name', target: name });
  assert.deepEqual(
    s.index.snapshot().names.map((r) => r.name),
    [name],
  );
  assert.deepEqual(
    s.index.listRoots().map((r) => r.id),
    [root.id],
  );
  s.names.remove(name);
  s.roots.remove(root.id);
  assert.deepEqual(s.index.snapshot().names, []);
  assert.deepEqual(s.index.listRoots(), []);
  s.close();
});

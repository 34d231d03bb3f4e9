import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rebuildIndex, roots, storeInfo, verify } from '../../src/api/index.js';
import { objectRefs } from '../../src/importer/cald-note.js';
import { LocalStore } from '../../src/store/index.js';
import { makeTmp } from '../helpers/tmp.js';
import {
  CURL,
  HAVE_PROGRAMS,
  importInto,
  nameEntries,
  objectDir,
  oracleClosure,
  pathLinks,
  readelfRefs,
  SQLITE3,
  storedObjects,
} from './lifecycle-fixture.js';

const skip = HAVE_PROGRAMS ? false : 'needs /usr/bin/sqlite3 and /usr/bin/curl';

function flipByte(file: string, at = 100): void {
  chmodSync(file, 0o644);
  const bytes = readFileSync(file);
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(file, bytes);
  chmodSync(file, 0o444);
}

describe('cald store info and index rebuild', { skip }, () => {
  const store = join(makeTmp({ after }, 'info'), 'store');
  let sqlite = '';
  let curl = '';
  let loader: string | undefined;
  before(async () => {
    const a = await importInto(store, SQLITE3);
    sqlite = a.imported[0]!.digest;
    loader = a.loader?.digest;
    curl = (await importInto(store, CURL)).imported[0]!.digest;
  });

  test('counts and sizes match the files; dedup = sum of closures minus their union', async () => {
    const info = await storeInfo({ store });
    const objects = [...storedObjects(store)];
    const size = (d: string) => statSync(join(objectDir(store), d.slice(7))).size;
    assert.equal(info.path, store);
    assert.equal(info.source, 'option');
    assert.equal(info.objects, objects.length);
    assert.equal(
      info.bytes,
      objects.reduce((s, d) => s + size(d), 0),
    );
    assert.equal(info.names, nameEntries(store).length);
    assert.equal(info.paths, pathLinks(store).length);
    assert.equal(info.roots, 2);
    const refs = readelfRefs(store);
    const a = oracleClosure(refs, [sqlite], loader);
    const b = oracleClosure(refs, [curl], loader);
    const union = new Set([...a, ...b]);
    const sum = (s: Iterable<string>) => [...s].reduce((t, d) => t + size(d), 0);
    assert.equal(info.reachable, union.size);
    assert.equal(info.dedupSavedBytes, sum(a) + sum(b) - sum(union));
    assert.equal(info.sharedObjects, [...a].filter((d) => b.has(d)).length);
    assert.ok(info.dedupSavedBytes > 0);
  });

  test('a rebuilt index equals the incremental one', async () => {
    const local = await LocalStore.open({ path: store, extractRefs: objectRefs });
    const incremental = local.index.snapshot();
    local.close();
    const r = await rebuildIndex({ store });
    assert.equal(r.objects, storedObjects(store).size);
    assert.deepEqual(r.problems, []);
    const again = await LocalStore.open({ path: store, extractRefs: objectRefs });
    assert.deepEqual(again.index.snapshot(), incremental);
    again.close();
  });
});

describe('cald verify', { skip }, () => {
  const store = join(makeTmp({ after }, 'verify'), 'store');
  before(async () => {
    await importInto(store, SQLITE3);
  });

  test('a clean store verifies clean, with its throughput', async () => {
    const r = await verify({ store });
    assert.equal(r.clean, true);
    assert.equal(r.objects, storedObjects(store).size);
    assert.ok(r.bytes > 0 && r.bytesPerSecond > 0);
    console.log(
      `verify: ${r.objects} objects, ${r.bytes} bytes, ${(r.bytesPerSecond / 1e9).toFixed(2)} GB/s, ${r.workers} threads`,
    );
  });

  test('a flipped byte is a mismatch; --repair restores it when re-importing the original reproduces it', async () => {
    const lib = pathLinks(store).find((p) => p.entry.includes('libsqlite3'));
    assert.ok(lib !== undefined);
    const file = join(objectDir(store), lib.digest.slice(7));
    flipByte(file);
    const found = await verify({ store });
    assert.equal(found.clean, false);
    assert.deepEqual(
      found.mismatches.map((m) => m.digest),
      [lib.digest],
    );
    const repaired = await verify({ store, repair: true });
    const action = repaired.mismatches[0]?.repair;
    assert.equal(action?.action, 'restored', JSON.stringify(action));
    assert.equal((await verify({ store })).clean, true);
  });

  test('without an original it is quarantined with a note', async () => {
    const lib = pathLinks(store).find((p) => p.entry.includes('libreadline') || p.entry.includes('libz.so'));
    assert.ok(lib !== undefined);
    unlinkSync(lib.entry); // no original recorded any more, nor a program that would rebuild it
    for (const r of (await roots({ action: 'list', store })).roots)
      await roots({ action: 'remove', root: r.id, store });
    flipByte(join(objectDir(store), lib.digest.slice(7)));
    const r = await verify({ store, repair: true });
    const action = r.mismatches[0]?.repair;
    assert.equal(action?.action, 'quarantined');
    assert.ok(action?.action === 'quarantined' && existsSync(action.to) && existsSync(`${action.to}.json`));
    assert.ok(!storedObjects(store).has(lib.digest));
    assert.deepEqual(
      nameEntries(store).filter((n) => n.digest === lib.digest),
      [],
    );
    // What refers to it now has a missing reference; a second verify says so.
    const after = await verify({ store });
    assert.ok(after.missingRefs.length > 0);
    assert.ok(readdirSync(join(store, 'quarantine')).length >= 2);
  });

  test('a missing object and a dangling name are reported, and removed by --repair', async () => {
    const victim = [...storedObjects(store)].find((d) => nameEntries(store).some((n) => n.digest === d))!;
    unlinkSync(join(objectDir(store), victim.slice(7)));
    const r = await verify({ store });
    assert.ok(r.missing.some((p) => p.what === victim));
    assert.ok(r.danglingNames.some((p) => p.what.includes(victim.slice(7))));
    await verify({ store, repair: true });
    const again = await verify({ store });
    assert.deepEqual(again.missing, []);
    assert.deepEqual(again.danglingNames, []);
    assert.deepEqual(again.danglingPaths, []);
  });
});

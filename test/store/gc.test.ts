import assert from 'node:assert/strict';
import { rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gc, roots } from '../../src/api/index.js';
import { objectRefs } from '../../src/importer/cald-note.js';
import { collectGarbage, FileStore, LocalStore } from '../../src/store/index.js';
import { run } from '../helpers/run.js';
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

describe('cald gc', { skip }, () => {
  const dir = makeTmp({ after }, 'gc');
  const store = join(dir, 'store');
  const outside = join(dir, 'outside');
  let sqlite = '';
  let curl = '';
  let loader: string | undefined;

  before(async () => {
    const a = await importInto(store, SQLITE3);
    const b = await importInto(store, CURL);
    sqlite = a.imported[0]!.digest;
    curl = b.imported[0]!.digest;
    loader = a.loader?.digest;
  });

  test('deletes exactly what only the removed program reached (readelf oracle); dry run agrees', async () => {
    const refs = readelfRefs(store);
    const keep = oracleClosure(refs, [curl], loader);
    const sqliteOnly = oracleClosure(refs, [sqlite], loader);
    const expected = [...storedObjects(store)].filter((d) => !keep.has(d)).sort();
    assert.ok(expected.length > 0, 'sqlite3 has objects of its own');
    assert.ok(
      [...sqliteOnly].some((d) => keep.has(d)),
      'the closures overlap (libc, the loader)',
    );
    assert.deepEqual(expected, [...sqliteOnly].filter((d) => !keep.has(d)).sort());

    await roots({ action: 'remove', root: sqlite, store });
    const before = storedObjects(store);
    const dry = await gc({ store, dryRun: true });
    assert.deepEqual(dry.deleted.map((d) => d.digest).sort(), expected);
    assert.deepEqual(storedObjects(store), before, 'dry run deletes nothing');

    const victimsNames = nameEntries(store).filter((n) => expected.includes(n.digest));
    const victimsPaths = pathLinks(store).filter((p) => expected.includes(p.digest));
    assert.ok(victimsNames.length > 0 && victimsPaths.length > 0);

    const real = await gc({ store });
    assert.deepEqual(real.deleted.map((d) => d.digest).sort(), expected);
    assert.equal(real.freedBytes, dry.freedBytes);
    assert.deepEqual([...storedObjects(store)].sort(), [...keep].sort());
    assert.deepEqual(
      nameEntries(store).filter((n) => expected.includes(n.digest)),
      [],
    );
    assert.deepEqual(
      pathLinks(store).filter((p) => expected.includes(p.digest)),
      [],
    );
    assert.equal(real.namesRemoved, victimsNames.length);
    assert.equal(real.pathsRemoved, victimsPaths.length);

    const r = run(join(objectDir(store), curl.slice(7)), ['--version'], {
      env: { LD_LIBRARY_PATH: join(store, 'names') },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^curl /);
    assert.equal((await gc({ store })).deleted.length, 0, 'a second gc finds nothing');
  });

  test('--max-freed stops once enough is freed', async () => {
    await importInto(store, SQLITE3);
    await roots({ action: 'remove', root: sqlite, store });
    const all = await gc({ store, dryRun: true });
    assert.ok(all.deleted.length > 1);
    const one = await gc({ store, maxFreed: '1' });
    assert.equal(one.deleted.length, 1);
    assert.deepEqual(one.deleted[0], all.deleted[0]);
    assert.equal(one.keptUnreachable, all.deleted.length - 1);
    const rest = await gc({ store, maxFreed: '1G' });
    assert.equal(rest.deleted.length, all.deleted.length - 1);
  });

  test('an indirect root keeps its program until its file is deleted', async () => {
    await importInto(store, SQLITE3);
    await roots({ action: 'remove', root: sqlite, store });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(outside, { recursive: true });
    const link = join(outside, 'sqlite3');
    symlinkSync(join(objectDir(store), sqlite.slice(7)), link);
    const added = await roots({ action: 'add', target: link, store });
    assert.equal(added.roots[0]!.kind, 'indirect');
    assert.deepEqual(added.roots[0]!.objects, [sqlite]);
    const kept = await gc({ store });
    assert.equal(kept.deleted.length, 0);
    assert.ok(storedObjects(store).has(sqlite));

    unlinkSync(link);
    const released = await gc({ store });
    assert.deepEqual(released.releasedRoots, [added.roots[0]!.id]);
    assert.ok(released.deleted.some((d) => d.digest === sqlite));
    assert.ok(!storedObjects(store).has(sqlite));
    assert.equal((await roots({ action: 'list', store })).roots.length, 1, 'the released root is gone');
  });

  test('a stale, lying or missing index never makes gc delete a reachable object', async () => {
    await importInto(store, SQLITE3);
    const everything = storedObjects(store);
    // An index that claims no object refers to anything: the bytes are checked too.
    const local = await LocalStore.open({ path: store, extractRefs: objectRefs });
    await local.index.rebuild(local.files, () => []);
    const lying = await collectGarbage(local.files, local.index, { extractRefs: objectRefs, dryRun: true });
    local.close();
    assert.equal(lying.deleted.length, 0);
    assert.ok(lying.refsMissingFromIndex > 0);
    // No index at all.
    for (const s of ['', '-wal', '-shm']) rmSync(join(store, `index.sqlite${s}`), { force: true });
    const none = await collectGarbage(FileStore.open(store), undefined, { extractRefs: objectRefs });
    assert.equal(none.deleted.length, 0);
    assert.deepEqual(storedObjects(store), everything);
    const viaApi = await gc({ store });
    assert.equal(viaApi.deleted.length, 0);
  });
});

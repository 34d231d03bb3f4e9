// Issue 4, "security": modes of everything cald creates, malformed names refused where they
// enter, planted entries that escape the store refused.
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DatabaseSync } from '@photostructure/sqlite';
import { cald } from '../cli/cald.js';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine, importedDigest } from './helpers/robust.js';

const SQLITE3 = '/usr/bin/sqlite3';

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? [p, ...walk(p)] : [p];
  });
}

describe('security', () => {
  const dir = makeTmp({ after }, 'security');
  const store = join(dir, 'store');
  let program = '';
  before(() => {
    const r = cald(['import', SQLITE3, '--store', store], { env: { UMASK: '0' } });
    assert.equal(r.status, 0, r.stderr);
    program = importedDigest(r.stdout)!;
  });

  test('nothing cald creates is writable by other users; objects are read-only', () => {
    for (const p of [store, ...walk(store)]) {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) continue; // a link's own mode means nothing
      assert.equal(
        st.mode & 0o022,
        0,
        `${p} is writable by group or others: ${(st.mode & 0o777).toString(8)}`,
      );
      if (p.includes('/objects/sha256/')) assert.equal(st.mode & 0o222, 0, `${p} is writable`);
    }
  });

  test('malformed names are refused where they enter', () => {
    const long = `cas:sha256:${'a'.repeat(300)}`;
    for (const name of ['cas:sha256:../../x', 'cas:x$y', long, 'cas:sha256:aaaa/bbb']) {
      assertOneLine(cald(['run', '--store', store, name]), `run ${name}`);
      assertOneLine(cald(['roots', 'add', name, '--store', store]), `roots add ${name}`);
      assertOneLine(cald(['ldd', name, '--store', store]), `ldd ${name}`);
    }
  });

  test('`cald roots add ""` is refused', () => {
    assertOneLine(cald(['roots', 'add', '', '--store', store]), 'roots add ""');
  });

  test('planted entries that escape the store: verify reports them, run refuses them', () => {
    const outside = join(dir, 'outside');
    writeFileSync(outside, 'not an object\n');
    const planted = join(store, 'objects', 'sha256', 'f'.repeat(64));
    symlinkSync(outside, planted);
    const v = cald(['verify', '--store', store]);
    assert.equal(v.status, 1, v.stdout + v.stderr);
    assert.match(v.stdout, new RegExp('f'.repeat(64)), v.stdout);
    assertOneLine(cald(['run', '--store', store, `sha256:${'f'.repeat(64)}`]), 'run through a planted link');
    // A names/ entry planted by hand pointing outside, and a paths/ entry pointing outside.
    symlinkSync(outside, join(store, 'names', `cas:sha256:${'e'.repeat(64)}?name=libx.so`));
    symlinkSync(outside, join(store, 'paths', 'evil'));
    const v2 = cald(['verify', '--store', store]);
    assert.equal(v2.status, 1);
    assert.match(v2.stdout, /e{64}/);
    assert.match(v2.stdout, /evil/);
    // The real program still runs.
    const r = cald(['run', '--store', store, program, ':memory:', 'select 1;']);
    assert.equal(r.status, 0, r.stderr);
  });

  test('malformed names planted in the index: no command crashes, none trusts them', () => {
    const db = new DatabaseSync(join(store, 'index.sqlite'));
    const bad = [
      'cas:sha256:../../etc/passwd',
      'cas:x$y',
      `cas:sha256:${'a'.repeat(64)}/x`,
      'cas:sha256:\u0000',
    ];
    for (const name of bad) {
      db.prepare('INSERT OR REPLACE INTO names (name, digest) VALUES (?, ?)').run(name, '../../etc');
      db.prepare('INSERT OR REPLACE INTO refs (from_digest, name, to_digest) VALUES (?, ?, ?)').run(
        `sha256:${program}`,
        name,
        'sha256:../x',
      );
    }
    db.close();
    for (const args of [
      ['verify'],
      ['store', 'info'],
      ['gc', '--dry-run'],
      ['roots', 'list'],
      ['index', 'rebuild'],
    ]) {
      const r = cald([...args, '--store', store]);
      assert.doesNotMatch(r.stderr, /^\s+at /m, `${args.join(' ')}: a stack trace`);
      assert.ok(
        r.status === 0 ||
          r.stderr
            .trim()
            .split('\n')
            .filter((l) => !l.startsWith('hint:')).length === 1,
        `${args.join(' ')}: ${r.stderr}`,
      );
    }
    // After a rebuild the planted rows are gone: the index holds only what the files say.
    const after = new DatabaseSync(join(store, 'index.sqlite'), { readOnly: true });
    const left = after
      .prepare("SELECT count(*) AS n FROM names WHERE name LIKE 'cas:sha256:..%' OR name LIKE '%$%'")
      .get() as { n: number };
    after.close();
    assert.equal(left.n, 0);
    const r = cald(['run', '--store', store, program, ':memory:', 'select 1;']);
    assert.equal(r.status, 0, r.stderr);
  });
});

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTmp } from '../helpers/tmp.js';
import { HAVE_PROGRAMS, importInto, SQLITE3 } from '../store/lifecycle-fixture.js';
import { cald, hasStackTrace } from './cald.js';

const skip = HAVE_PROGRAMS ? false : 'needs /usr/bin/sqlite3';

function json(args: string[]): { status: number | null; body: Record<string, unknown> } {
  const r = cald(args);
  assert.equal(r.stderr, '', r.stderr);
  return { status: r.status, body: JSON.parse(r.stdout) as Record<string, unknown> };
}

/** A failure: the given status, one `cald:` line (plus an optional hint), no stack trace. */
function oneLine(args: string[], status: number, pattern: RegExp): void {
  const r = cald(args);
  assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
  assert.ok(!hasStackTrace(r.stderr), r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0]!, /^cald: /);
  assert.match(lines[0]!, pattern);
  assert.ok(lines.length <= 2 && (lines[1] === undefined || lines[1].startsWith('hint:')), r.stderr);
}

describe('lifecycle commands', { skip }, () => {
  const dir = makeTmp({ after }, 'cli-lifecycle');
  const store = join(dir, 'store');
  let program = '';
  before(async () => {
    program = (await importInto(store, SQLITE3)).imported[0]!.digest;
  });

  test('--json shapes', () => {
    const list = json(['roots', 'list', '--store', store, '--json']);
    assert.equal(list.status, 0);
    const roots = list.body.roots as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(roots[0]!).sort(), [
      'added',
      'alive',
      'id',
      'kind',
      'name',
      'note',
      'objects',
      'path',
      'target',
    ]);
    assert.equal(roots[0]!.target, program);

    const gc = json(['gc', '--dry-run', '--store', store, '--json']);
    assert.equal(gc.status, 0);
    for (const k of [
      'dryRun',
      'deleted',
      'freedBytes',
      'reachable',
      'roots',
      'releasedRoots',
      'missingObjects',
    ]) {
      assert.ok(k in gc.body, k);
    }
    assert.deepEqual(gc.body.deleted, []);

    const verify = json(['verify', '--store', store, '--json']);
    assert.equal(verify.status, 0);
    for (const k of [
      'objects',
      'bytes',
      'bytesPerSecond',
      'mismatches',
      'missing',
      'danglingNames',
      'clean',
    ]) {
      assert.ok(k in verify.body, k);
    }
    const info = json(['store', 'info', '--store', store, '--json']);
    assert.equal(info.status, 0);
    assert.equal(info.body.path, store);
    assert.equal(info.body.source, 'option');
    const rebuild = json(['index', 'rebuild', '--store', store, '--json']);
    assert.equal(rebuild.status, 0);
    assert.equal(rebuild.body.objects, verify.body.objects);
  });

  test('text output and the root lifecycle', () => {
    const add = cald(['roots', 'add', `cas:${program}`, '--store', store]);
    assert.equal(add.status, 0, add.stderr);
    assert.match(add.stdout, /^added name-[0-9a-f]{16} {2}name {2}cas:sha256:/);
    const id = add.stdout.split(' ')[1]!;
    const rm = cald(['roots', 'remove', id, '--store', store]);
    assert.equal(rm.status, 0, rm.stderr);
    const gc = cald(['gc', '--dry-run', '--store', store]);
    assert.match(
      gc.stdout,
      /^would delete 0 object\(s\), 0 B \(0 bytes\); kept \d+ reachable from 1 root\(s\)/,
    );
    const info = cald(['store', 'info', '--store', store]);
    assert.match(info.stdout, /^store +.* \(from --store\)$/m);
    assert.match(info.stdout, /^saved by dedup/m);
  });

  test('bad input: one clear line and a non-zero status each', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    oneLine(['gc', '--store', file], 6, /not a directory/);
    oneLine(['store', 'info', '--store', join(dir, 'nowhere')], 6, /no store/);
    // Exit statuses of docs/cli.md: nothing by that name 8, a malformed name or target 2.
    oneLine(['roots', 'add', 'not-a-root', '--store', store], 8, /not-a-root is not an imported program/);
    oneLine(['roots', 'add', 'cas:sha256:XYZ', '--store', store], 2, /XYZ/);
    oneLine(['roots', 'add', join(dir, 'missing-file'), '--store', store], 2, /does not exist/);
    oneLine(['roots', 'remove', 'no-such-root', '--store', store], 8, /no root "no-such-root"/);
    oneLine(['gc', '--max-freed', '10X', '--store', store], 2, /is not a size/);
    oneLine(['verify', '--workers', '0', '--store', store], 2, /not a positive integer/);
  });
});

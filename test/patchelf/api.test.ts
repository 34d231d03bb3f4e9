// writeFileAtomic, patchFile and shrinkRpath, called directly.
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { patchFile, shrinkRpath } from '../../src/api/index.js';
import { IoError } from '../../src/errors/index.js';
import { writeFileAtomic } from '../../src/util/atomic-write.js';
import { makeTmp } from '../helpers/tmp.js';
import { facts } from './differential.js';

const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';
const LS = '/usr/bin/ls';

describe('writeFileAtomic', () => {
  const dir = makeTmp({ after }, 'atomic-write');

  test('replaces the file, keeps its mode, leaves no temporary file', async () => {
    const f = join(dir, 'a');
    writeFileSync(f, 'old');
    chmodSync(f, 0o604);
    await writeFileAtomic(f, Buffer.from('new contents'));
    assert.equal(readFileSync(f, 'utf8'), 'new contents');
    assert.equal(statSync(f).mode & 0o7777, 0o604);
    assert.deepEqual(readdirSync(dir), ['a']);
  });

  test('a new file gets the mode asked for', async () => {
    const f = join(dir, 'b');
    await writeFileAtomic(f, Buffer.from('x'), { mode: 0o750 });
    assert.equal(statSync(f).mode & 0o7777, 0o750);
  });

  test('a failure throws an IoError, removes the temporary file and keeps the target', async () => {
    const sub = join(dir, 'fail');
    mkdirSync(join(sub, 'target'), { recursive: true });
    writeFileSync(join(sub, 'target', 'keep'), 'kept');
    // Renaming a file over a non-empty directory fails after the data is written.
    await assert.rejects(writeFileAtomic(join(sub, 'target'), Buffer.from('data')), (e: unknown) => {
      assert.ok(e instanceof IoError);
      assert.match(e.message, /cannot write .*target/);
      return true;
    });
    assert.deepEqual(readdirSync(sub), ['target']);
    assert.equal(readFileSync(join(sub, 'target', 'keep'), 'utf8'), 'kept');
    await assert.rejects(writeFileAtomic(join(dir, 'no', 'dir', 'f'), Buffer.from('x')), IoError);
  });
});

describe('patchFile', () => {
  const dir = makeTmp({ after }, 'patch-file');

  test('edits in one pass; a no-op writes nothing', async () => {
    const f = join(dir, 'libz.so');
    copyFileSync(LIBZ, f);
    const r = await patchFile({
      path: f,
      edits: [
        { kind: 'setSoname', name: 'libzz.so' },
        { kind: 'setSearchPath', value: '/p' },
      ],
    });
    assert.equal(r.changed, true);
    assert.equal(r.written, f);
    assert.equal(facts(f).soname, 'libzz.so');
    assert.equal(facts(f).runpath, '/p');
    const again = await patchFile({ path: f, edits: [{ kind: 'setSoname', name: 'libzz.so' }] });
    assert.deepEqual(again, {
      changed: false,
      written: null,
      sizeBefore: r.sizeAfter,
      sizeAfter: r.sizeAfter,
    });
  });

  test('the edits callback sees the file as it is', async () => {
    const f = join(dir, 'ls');
    copyFileSync(LS, f);
    const r = await patchFile({
      path: f,
      edits: ({ summary }) => summary.needed.map((n) => ({ kind: 'replaceNeeded', from: n, to: `${n}.x` })),
    });
    assert.equal(r.changed, true);
    assert.deepEqual(facts(f).needed, ['libselinux.so.1.x', 'libc.so.6.x']);
  });

  test('a missing file is an IoError naming it', async () => {
    await assert.rejects(patchFile({ path: join(dir, 'nope'), edits: [] }), /cannot read .*nope/);
  });
});

describe('shrinkRpath', () => {
  const dir = makeTmp({ after }, 'shrink-rpath');

  test("keeps relative entries and directories that provide a needed library of the file's class", async () => {
    const libs64 = join(dir, 'lib64');
    const fake = join(dir, 'fake');
    const empty = join(dir, 'empty');
    for (const d of [libs64, fake, empty]) mkdirSync(d, { recursive: true });
    copyFileSync('/usr/lib/x86_64-linux-gnu/libselinux.so.1', join(libs64, 'libselinux.so.1'));
    writeFileSync(join(fake, 'libc.so.6'), 'not an ELF file');
    const f = join(dir, 'ls');
    copyFileSync(LS, f);
    await patchFile({
      path: f,
      edits: [
        {
          kind: 'setSearchPath',
          value: `${empty}:$ORIGIN/x:${fake}:${libs64}::/usr/lib/x86_64-linux-gnu:${libs64}`,
        },
      ],
    });
    const r = await shrinkRpath({ path: f });
    assert.equal(r.after, `$ORIGIN/x:${libs64}:/usr/lib/x86_64-linux-gnu`);
    const only = await shrinkRpath({ path: f, allowedPrefixes: ['/usr/'] });
    assert.equal(only.after, '$ORIGIN/x:/usr/lib/x86_64-linux-gnu');
    const none = join(dir, 'libz');
    copyFileSync(LIBZ, none);
    assert.deepEqual(await shrinkRpath({ path: none }), { before: null, after: null });
  });
});

// The inspect api: one options object, clear errors, and a report that does not depend on section
// headers for what the loader uses.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspect, inspectBuffer } from '../../src/api/index.js';
import { layoutsFor } from '../../src/elf/format/layouts.js';
import { IoError, UsageError } from '../../src/errors/index.js';
import { makeTmp } from '../helpers/tmp.js';

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';

test('inspect refuses a bad path with a UsageError and an unreadable file with an IoError naming it', async (t) => {
  await assert.rejects(inspect({ path: '' }), UsageError);
  await assert.rejects(inspect({ path: '/nonexistent/file' }), (e: unknown) => {
    assert.ok(e instanceof IoError);
    assert.equal(e.code, 'IO_ENOENT');
    assert.equal(e.data.path, '/nonexistent/file');
    assert.match(e.message, /^cannot read \/nonexistent\/file: no such file or directory$/);
    return true;
  });
  const dir = makeTmp(t, 'api-inspect');
  await assert.rejects(inspect({ path: dir }), { code: 'IO_EISDIR' });
});

test('a shared library: soname, version definitions, not a PIE', async () => {
  const r = await inspect({ path: LIBC });
  assert.equal(r.soname, 'libc.so.6');
  assert.equal(r.pie, false);
  assert.equal(r.type.name, 'ET_DYN');
  const base = r.versionDefs.find((d) => d.base);
  assert.equal(base?.name, 'libc.so.6');
  assert.ok(r.versionDefs.some((d) => d.name === 'GLIBC_2.2.5'));
  assert.ok(r.dynamic.some((d) => d.tag === 'DT_SONAME' && d.string === 'libc.so.6'));
  assert.ok(r.notes.some((n) => n.type === 'NT_GNU_BUILD_ID' && n.buildId === r.buildId));
});

test('a file stripped of its section headers reports the same loader facts', (t) => {
  const orig = readFileSync('/usr/bin/true');
  const copy = Buffer.from(orig);
  const E = layoutsFor(true).ehdr;
  copy.writeBigUInt64LE(0n, E.e_shoff);
  copy.writeUInt16LE(0, E.e_shnum);
  copy.writeUInt16LE(0, E.e_shstrndx);
  const path = join(makeTmp(t, 'api-noshdr'), 'true');
  writeFileSync(path, copy);
  const a = inspectBuffer(orig, '/usr/bin/true');
  const b = inspectBuffer(copy, path);
  assert.deepEqual(b.sections, []);
  for (const key of [
    'interpreter',
    'needed',
    'rpath',
    'runpath',
    'soname',
    'buildId',
    'versionNeeds',
    'dynamic',
    'segments',
  ] as const) {
    assert.deepEqual(b[key], a[key], key);
  }
  assert.equal(b.dynamicSymbols, a.dynamicSymbols, 'symbol count from DT_GNU_HASH matches .dynsym');
});

test('the JSON report round-trips (no bigint, no Buffer)', async () => {
  const r = await inspect({ path: '/usr/bin/ls' });
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
});

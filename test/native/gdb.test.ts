// gdb on a content-addressed program: `info sharedlibrary` names each library (the resolver hands
// ld.so the name directory's entry <store>/names/cas:sha256:<hex>?name=libz.so.1 after verifying
// the object it links to), gdb reads the library's symbols through that path (a breakpoint in
// zlibVersion is hit), and an entry that is not exactly the link to the verified object is never
// used (the object's own path is handed over instead). A C program linked with -lz, built here,
// imported into a private store, run under gdb in batch mode. Probes: gdb, cc with zlib, ptrace.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { cald } from '../cli/cald.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { auditLib, requireBuilt } from './fixture.js';

function whyNot(dir: string): string | null {
  if (!hasTool('gdb')) return 'gdb is not installed (Debian: gdb)';
  const src = join(dir, 'main.c');
  writeFileSync(
    src,
    '#include <zlib.h>\n#include <stdio.h>\nint main(void){puts(zlibVersion());return 0;}\n',
  );
  const cc = run('cc', ['-o', join(dir, 'zver'), src, '-lz']);
  if (cc.status !== 0)
    return `cc cannot link with -lz (Debian: zlib1g-dev): ${cc.stderr.trim().split('\n')[0]}`;
  const g = run('gdb', ['-batch', '-nx', '-ex', 'run', join(dir, 'zver')]);
  if (!/exited normally/.test(g.stdout))
    return `gdb cannot run programs here (ptrace?): ${g.stderr.trim().split('\n')[0]}`;
  return null;
}

describe('gdb info sharedlibrary', () => {
  let dir = '';
  let skip: string | null = null;
  let env: Record<string, string> = {};
  let program = '';

  before(() => {
    requireBuilt();
    dir = makeTmp({ after: (fn) => process.on('exit', fn) }, 'gdb');
    skip = whyNot(dir);
    if (skip !== null) return;
    env = {
      CALD_STORE: join(dir, 'store'),
      HOME: dir,
      XDG_CACHE_HOME: join(dir, 'cache'),
      PATH: '/usr/bin:/bin',
    };
    const r = cald(['import', join(dir, 'zver')], { env });
    assert.equal(r.status, 0, r.stderr);
    program = cald(['path', 'zver'], { env }).stdout.trim();
  });

  const gdb = () =>
    run(
      'gdb',
      [
        '-batch',
        '-nx',
        '-ex',
        'set startup-with-shell off',
        '-ex',
        `set environment LD_AUDIT=${auditLib}`,
        '-ex',
        `set environment CALD_STORE=${env.CALD_STORE}`,
        '-ex',
        'set breakpoint pending on',
        '-ex',
        'break zlibVersion',
        '-ex',
        'run',
        '-ex',
        'info sharedlibrary',
        '-ex',
        'continue',
        program,
      ],
      { env },
    );
  const libz = () => readdirSync(join(env.CALD_STORE!, 'names')).find((n) => n.endsWith('?name=libz.so.1'))!;

  test('lists each library by its name entry, and reads its symbols through it', (t) => {
    if (skip !== null) return t.skip(skip);
    const g = gdb();
    const entry = libz();
    assert.ok(entry, 'the import made a name entry for libz');
    const hex = /^cas:sha256:([0-9a-f]{64})/.exec(entry)![1]!;
    assert.equal(readlinkSync(join(env.CALD_STORE!, 'names', entry)), `../objects/sha256/${hex}`);
    const libs = g.stdout.split('\n').filter((l) => /^0x[0-9a-f]+ +0x[0-9a-f]+ /.test(l));
    assert.ok(
      libs.some((l) => l.endsWith(`${env.CALD_STORE}/names/${entry}`)),
      `libz by name:\n${g.stdout}`,
    );
    assert.ok(
      libs.some((l) => /\/names\/cas:sha256:[0-9a-f]{64}\?name=libc\.so\.6$/.test(l)),
      g.stdout,
    );
    assert.deepEqual(
      libs.filter((l) => /objects\/sha256\/[0-9a-f]{64}$/.test(l)),
      [],
      'no library is listed by a bare object path',
    );
    assert.match(g.stdout, /Breakpoint 1, [^\n]*zlibVersion/, "gdb found libz's symbols");
    assert.match(g.stdout, /exited normally/);
  });

  test('a name entry that is not the link to the verified object is not handed to ld.so', (t) => {
    if (skip !== null) return t.skip(skip);
    const entry = libz();
    const path = join(env.CALD_STORE!, 'names', entry);
    const hex = /^cas:sha256:([0-9a-f]{64})/.exec(entry)![1]!;
    const other = readdirSync(join(env.CALD_STORE!, 'objects', 'sha256')).find((h) => h !== hex)!;
    rmSync(path);
    symlinkSync(`../objects/sha256/${other}`, path);
    try {
      const g = gdb();
      assert.ok(
        g.stdout.split('\n').some((l) => l.endsWith(`${env.CALD_STORE}/objects/sha256/${hex}`)),
        `the verified object's own path:\n${g.stdout}`,
      );
      assert.match(g.stdout, /exited normally/);
    } finally {
      rmSync(path);
      symlinkSync(`../objects/sha256/${hex}`, path);
    }
  });
});

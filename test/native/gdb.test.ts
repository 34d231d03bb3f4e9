// gdb on a content-addressed program: `info sharedlibrary` names each library by the name
// directory's entry <store>/names/cas:sha256:<hex>?name=libz.so.1 (ld.so opens the verified object
// and the resolver writes the entry's path over the name ld.so keeps for it), gdb reads the
// library's symbols through that path (a breakpoint in zlibVersion is hit), and a wrong entry
// changes only what is shown: the verified object is what is mapped. A C program linked with -lz,
// built here, imported into a private store, run under gdb in batch mode. Probes: gdb, cc with
// zlib, ptrace.
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

  /** gdb in batch mode on the program under the resolver: a breakpoint, then `info what` when it is hit. */
  const gdb = (breakAt = 'zlibVersion', info = 'sharedlibrary') =>
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
        `break ${breakAt}`,
        '-ex',
        'run',
        '-ex',
        `info ${info}`,
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

  test('a wrong name entry changes only what is shown: ld.so maps the verified object, and cald verify names the entry', (t) => {
    if (skip !== null) return t.skip(skip);
    const entry = libz();
    const path = join(env.CALD_STORE!, 'names', entry);
    const hex = /^cas:sha256:([0-9a-f]{64})/.exec(entry)![1]!;
    const other = readdirSync(join(env.CALD_STORE!, 'objects', 'sha256')).find((h) => h !== hex)!;
    rmSync(path);
    symlinkSync(`../objects/sha256/${other}`, path);
    try {
      const g = gdb('exit', 'proc mappings');
      const mapped = g.stdout.split('\n').filter((l) => /\/objects\/sha256\/[0-9a-f]{64}$/.test(l));
      assert.ok(
        mapped.some((l) => l.endsWith(`/objects/sha256/${hex}`)),
        `libz's verified object is what is mapped:\n${g.stdout}`,
      );
      assert.match(g.stdout, /exited normally/);
      const v = cald(['verify', '--json'], { env });
      assert.notEqual(v.status, 0, 'verify reports the wrong entry');
      assert.ok(v.stdout.includes(entry), v.stdout);
    } finally {
      rmSync(path);
      symlinkSync(`../objects/sha256/${hex}`, path);
    }
  });
});

// A static program imported together with others (a static-pie like ldconfig, or a plain static
// ET_EXEC built here with `cc -static`) is a program of its own: it is in no other program's path
// note, so the others keep the digests they have when imported alone. A library given beside a
// program still is in its note (it may be dlopened by path), which changes that program's digest.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ENTRY_ARGS } from '../cli/cald.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';

const SQLITE = '/usr/bin/sqlite3';

function digests(store: string, paths: string[]): Map<string, string> {
  const r = run(process.execPath, [...ENTRY_ARGS, 'import', ...paths, '--store', store, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { imported: Array<{ path: string; digest: string }> };
  return new Map(report.imported.map((i) => [i.path, i.digest]));
}

test('a static program beside others is in no path note; a library is', async (t) => {
  if (!existsSync(SQLITE)) return t.skip(`needs ${SQLITE} (Debian package sqlite3)`);
  const dir = makeTmp(t, 'static-roots');
  const alone = digests(join(dir, 'alone'), [SQLITE]).get(SQLITE);
  assert.ok(alone !== undefined);

  const ldconfig = '/sbin/ldconfig';
  const file = run('file', ['-L', ldconfig]);
  if (existsSync(ldconfig) && /static-pie/.test(file.stdout)) {
    const withPie = digests(join(dir, 'static-pie'), [SQLITE, ldconfig]);
    assert.equal(withPie.get(SQLITE), alone, 'sqlite3 beside ldconfig (static-pie): its digest alone');
  }

  if (hasTool('cc')) {
    const src = join(dir, 'hello.c');
    const exe = join(dir, 'hello-static');
    writeFileSync(src, '#include <stdio.h>\nint main(void) { puts("static hello"); return 0; }\n');
    const built = run('cc', ['-static', '-no-pie', '-o', exe, src]);
    if (built.status === 0) {
      const store = join(dir, 'static-exec');
      const withExec = digests(store, [SQLITE, exe]);
      assert.equal(withExec.get(SQLITE), alone, 'sqlite3 beside a static ET_EXEC: its digest alone');
      const ran = run(process.execPath, [...ENTRY_ARGS, 'run', '--store', store, 'hello-static']);
      assert.equal(ran.status, 0, ran.stderr);
      assert.equal(ran.stdout, 'static hello\n');
    }
  }

  const libz = run('sh', [
    '-c',
    'ldconfig -p | grep -m1 "libz.so.1 (libc6,x86-64)" | sed "s/.*=> //"',
  ]).stdout.trim();
  if (libz !== '') {
    const withLib = digests(join(dir, 'library'), [SQLITE, libz]);
    assert.notEqual(withLib.get(SQLITE), alone, 'a library beside it is in its path note');
  }
});

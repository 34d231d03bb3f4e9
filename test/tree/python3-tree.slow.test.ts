// A python3 tree from this machine's installed Debian packages (python3.11-minimal,
// libpython3.11-minimal, libpython3.11-stdlib), checked out into two directories: the same script
// (ssl, sqlite3, ctypes, lzma, decimal) prints the same from both, sys.prefix is inside the
// checkout, and strace shows no file of the host's /usr/lib/python3.11 opened.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AUDIT_LIB, baseEnv, caldCli } from '../e2e/e2e.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';

const PACKAGES = ['python3.11-minimal', 'libpython3.11-minimal', 'libpython3.11-stdlib'];

function notInstalled(): string | false {
  for (const p of PACKAGES) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const r = run('dpkg-query', ['-W', '-f', '${Status}', p]);
    if (r.status !== 0 || !r.stdout.includes('install ok installed'))
      return `the Debian package ${p} is not installed`;
  }
  return false;
}

const SCRIPT = `
import os, sys, ssl, sqlite3, ctypes, ctypes.util, lzma, decimal
print("prefix", os.path.relpath(sys.prefix, os.environ["CHECKOUT"]))
print("ssl", ssl.OPENSSL_VERSION, ssl.create_default_context().protocol)
db = sqlite3.connect(":memory:")
db.execute("create table t (x integer)")
db.executemany("insert into t values (?)", [(i,) for i in range(100)])
print("sqlite", sqlite3.sqlite_version, db.execute("select sum(x), count(*) from t").fetchone())
buf = ctypes.create_string_buffer(b"tree", 16)
print("ctypes", ctypes.sizeof(ctypes.c_long), buf.value, ctypes.c_int(-5).value)
data = b"content addressed " * 1000
packed = lzma.compress(data, preset=6)
print("lzma", len(packed), lzma.decompress(packed) == data)
decimal.getcontext().prec = 40
print("decimal", decimal.Decimal(1) / decimal.Decimal(7), decimal.Decimal("2").sqrt())
print("modules", sorted(os.path.relpath(m.__file__, os.environ["CHECKOUT"]) for m in
      (sys.modules["_ssl"], sys.modules["_sqlite3"], sys.modules["_ctypes"], sys.modules["_lzma"], sys.modules["_decimal"])))
`;

const skip = notInstalled();

test('a python3.11 tree from Debian packages, checked out twice', { skip }, async (t) => {
  const dir = makeTmp(t, 'tree-python3');
  const env = baseEnv(join(dir, 'home'));
  const store = join(dir, 'store');
  const imp = caldCli(['import', '--json', '--store', store, '--name', 'py', ...PACKAGES], env);
  assert.equal(imp.status, 0, imp.stderr);
  const tree = (JSON.parse(imp.stdout) as { tree: { digest: string; elfFiles: number } }).tree;
  assert.ok(tree.elfFiles > 30, `lib-dynload and python3.11 are ELF files: ${tree.elfFiles}`);
  const script = join(dir, 'script.py');
  writeFileSync(script, SCRIPT);
  const cos = [join(dir, 'one'), join(dir, 'two', 'deeper')];
  const runEnv = (co: string) => ({ ...env, LD_AUDIT: AUDIT_LIB, CALD_STORE: store, CHECKOUT: co });
  const outputs: string[] = [];
  for (const co of cos) {
    const r = caldCli(['checkout', '--store', store, 'py', co], env);
    assert.equal(r.status, 0, r.stderr);
    const py = run(join(co, 'usr', 'bin', 'python3.11'), [script], {
      env: runEnv(co),
      replaceEnv: true,
      timeoutMs: 60_000,
    });
    assert.equal(py.status, 0, `${co}: ${py.stderr}`);
    assert.equal(py.stderr, '');
    outputs.push(py.stdout);
    const prefix = run(
      join(co, 'usr', 'bin', 'python3.11'),
      ['-c', 'import sys; print(sys.prefix); print(sys.exec_prefix)'],
      {
        env: runEnv(co),
        replaceEnv: true,
      },
    );
    assert.equal(prefix.stdout, `${co}/usr\n${co}/usr\n`);
  }
  assert.equal(outputs[0], outputs[1]);
  assert.match(outputs[0]!, /^prefix usr\nssl OpenSSL /);
  assert.match(outputs[0]!, /modules \['usr\/lib\/python3\.11\/lib-dynload\/_ctypes/);

  await t.test(
    'strace: no file of the host python3.11 is opened',
    { skip: !hasTool('strace') && 'strace is not installed' },
    () => {
      const co = cos[1]!;
      const log = join(dir, 'python.strace');
      const r = run(
        'strace',
        [
          '-f',
          '-qq',
          '-e',
          'trace=open,openat,openat2,stat,lstat,newfstatat,statx,access,faccessat,faccessat2,readlink,execve',
          '-o',
          log,
          join(co, 'usr', 'bin', 'python3.11'),
          script,
        ],
        { env: runEnv(co), replaceEnv: true, timeoutMs: 60_000 },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, outputs[0]);
      const lines = readFileSync(log, 'utf8').split('\n');
      const host = lines.filter(
        (l) => /"\/usr\/lib\/python3\.11[/"]/.test(l) || /"\/usr\/bin\/python3/.test(l),
      );
      assert.deepEqual(host, [], 'host python files looked up');
      // What it did open comes from the checkout.
      assert.ok(
        lines.some((l) =>
          l.includes(`"${co}/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so"`),
        ),
      );
    },
  );
});

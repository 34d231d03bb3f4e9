// Archives for machines with no network: `cald export` and `cald import-archive`, checked with
// the independent tools (GNU tar, zstd, sha256sum) and against archives those tools made, good
// and hostile.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cald, ENTRY_ARGS } from '../cli/cald.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine } from '../store/helpers/robust.js';

const SQLITE3 = '/usr/bin/sqlite3';
const QUERY = [':memory:', "select 'by content', sqlite_version()"];
const objectsOf = (store: string): string[] =>
  existsSync(join(store, 'objects', 'sha256')) ? readdirSync(join(store, 'objects', 'sha256')).sort() : [];
const needTools = (t: { skip: (why: string) => void }): boolean => {
  for (const tool of ['tar', 'zstd']) {
    if (!hasTool(tool)) {
      t.skip(`${tool} is not installed (Debian package ${tool})`);
      return false;
    }
  }
  return true;
};

describe('archives: cald export and cald import-archive', () => {
  const dir = makeTmp({ after }, 'archive');
  const source = join(dir, 'source');
  const secret = join(dir, 'secret.key');
  const otherSecret = join(dir, 'other.key');
  let publicKey = '';
  const env = (store: string, extra: Record<string, string> = {}) => ({
    XDG_CONFIG_HOME: join(dir, 'config'),
    CALD_STORE: store,
    CALD_TRUSTED_PUBLIC_KEYS: publicKey,
    ...extra,
  });
  const signed = join(dir, 'signed.tar.zst');
  const unsigned = join(dir, 'unsigned.tar.zst');
  let expected = '';

  before(() => {
    for (const program of [SQLITE3, '/usr/bin/git']) {
      const r = cald(['import', program], { env: env(source) });
      assert.equal(r.status, 0, r.stderr);
    }
    publicKey = cald(['key', 'generate', 'site-1', '--secret-file', secret]).stdout.trim();
    cald(['key', 'generate', 'stranger-1', '--secret-file', otherSecret]);
    expected = cald(['run', 'sqlite3', ...QUERY], { env: env(source) }).stdout;
    assert.match(expected, /by content/);
    let r = cald(['export', 'sqlite3', 'git', '-o', signed, '--sign-key', secret], { env: env(source) });
    assert.equal(r.status, 0, r.stderr);
    r = cald(['export', 'sqlite3', 'git', '-o', unsigned], { env: env(source) });
    assert.equal(r.status, 0, r.stderr);
  });

  test('tar and zstd read it: manifests first, then exactly the closures objects, each hashing to its name', (t) => {
    if (!needTools(t)) return;
    assert.equal(run('zstd', ['-q', '-t', signed]).status, 0, 'zstd -t');
    const list = run('tar', ['--zstd', '-tf', signed]);
    assert.equal(list.status, 0, list.stderr);
    const names = list.stdout.trim().split('\n');
    const firstObject = names.findIndex((n) => n.startsWith('objects/'));
    assert.ok(firstObject >= 2, 'the manifests and their signatures come first');
    assert.ok(
      names.slice(0, firstObject).every((n) => /^closures\/sha256-[0-9a-f]{64}(\.sig)?\.json$/.test(n)),
    );
    const objects = names.slice(firstObject).map((n) => n.replace('objects/sha256/', ''));
    assert.deepEqual([...objects].sort(), objectsOf(source), 'every object of both closures, once');
    const out = join(dir, 'extracted');
    mkdirSync(out);
    assert.equal(run('tar', ['--zstd', '-xf', signed, '-C', out]).status, 0);
    const sums = run('sh', ['-c', 'sha256sum *'], { cwd: join(out, 'objects', 'sha256') });
    for (const line of sums.stdout.trim().split('\n')) {
      const [hash, name] = line.split(/\s+/);
      assert.equal(hash, name, `sha256sum of ${name}`);
    }
  });

  test('the same closures give the same archive bytes', () => {
    const again = join(dir, 'again.tar.zst');
    const r = cald(['export', 'sqlite3', 'git', '-o', again, '--sign-key', secret], { env: env(source) });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(readFileSync(again).equals(readFileSync(signed)));
  });

  test('into an empty store: the programs run the same, and verify finds the store whole', () => {
    const store = join(dir, 'target');
    const r = cald(['import-archive', signed, '--json'], { env: env(store) });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.programs.length, 2);
    assert.deepEqual(report.signedBy, ['site-1', 'site-1']);
    assert.equal(report.stored, objectsOf(source).length);
    assert.deepEqual(objectsOf(store), objectsOf(source));
    assert.equal(cald(['run', 'sqlite3', ...QUERY], { env: env(store) }).stdout, expected);
    assert.equal(cald(['run', 'git', '--version'], { env: env(store) }).status, 0);
    assert.equal(cald(['verify'], { env: env(store) }).status, 0);
    // A second time stores nothing new.
    const again = JSON.parse(cald(['import-archive', signed, '--json'], { env: env(store) }).stdout);
    assert.equal(again.stored, 0);
  });

  test('through a pipe: export -o - | import-archive -', () => {
    const store = join(dir, 'piped');
    // Raw bytes: the test helpers read output as text.
    const out = spawnSync(
      process.execPath,
      [...ENTRY_ARGS, 'export', 'sqlite3', '-o', '-', '--sign-key', secret],
      {
        env: { ...process.env, ...env(source) },
        maxBuffer: 1024 ** 3,
      },
    );
    assert.equal(out.status, 0, String(out.stderr));
    assert.ok(out.stdout.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd on stdout');
    const r = cald(['import-archive', '-'], { env: env(store), input: out.stdout });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(cald(['run', 'sqlite3', ...QUERY], { env: env(store) }).stdout, expected);
  });

  test('unsigned, or signed by a key not trusted here: refused before any object is stored', () => {
    for (const [archive, why] of [
      [unsigned, /not signed/],
      [join(dir, 'stranger.tar.zst'), /stranger-1, none of them trusted/],
    ] as const) {
      if (!existsSync(archive)) {
        const e = cald(['export', 'sqlite3', '-o', archive, '--sign-key', otherSecret], { env: env(source) });
        assert.equal(e.status, 0, e.stderr);
      }
      const store = join(dir, `refused-${objectsOf(dir).length}-${why.source.length}`);
      const r = cald(['import-archive', archive], { env: env(store) });
      assertOneLine(r, 'untrusted archive', why);
      assert.equal(r.status, 7);
      assert.deepEqual(objectsOf(store), []);
    }
    const store = join(dir, 'allowed');
    const r = cald(['import-archive', unsigned, '--allow-unsigned'], { env: env(store) });
    assert.equal(r.status, 0, r.stderr);
  });

  test('an archive another tool made from the same files (one zstd frame) is read too', (t) => {
    if (!needTools(t)) return;
    const out = join(dir, 'extracted');
    if (!existsSync(out)) return t.skip('needs the extraction of the first test');
    const remade = join(dir, 'remade.tar.zst');
    assert.equal(run('tar', ['--zstd', '-cf', remade, '-C', out, 'closures', 'objects']).status, 0);
    const store = join(dir, 'remade-store');
    const r = cald(['import-archive', remade], { env: env(store) });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(cald(['run', 'sqlite3', ...QUERY], { env: env(store) }).stdout, expected);
  });

  describe('hostile or damaged archives: one line, exit status, no names, nothing unverified stored', () => {
    const work = join(dir, 'hostile');
    let clean = '';
    let victim = '';
    before(() => {
      clean = join(work, 'clean');
      mkdirSync(clean, { recursive: true });
      run('tar', ['--zstd', '-xf', unsigned, '-C', clean]);
      victim = readdirSync(join(clean, 'objects', 'sha256'))[0] ?? '';
    });
    /** A copy of the clean tree, changed by `edit`, archived by GNU tar with the entries in `order`. */
    const remake = (label: string, edit: (tree: string) => void, order = ['closures', 'objects']) => {
      const tree = join(work, label);
      run('cp', ['-a', clean, tree]);
      run('chmod', ['-R', 'u+w', tree]);
      edit(tree);
      const file = join(work, `${label}.tar.zst`);
      const r = run('tar', ['--zstd', '-cf', file, '-C', tree, ...order]);
      assert.equal(r.status, 0, r.stderr);
      return file;
    };
    const refuse = (file: string, label: string, why: RegExp, status = 7) => {
      const store = join(work, `store-${label}`);
      const r = cald(['import-archive', file, '--allow-unsigned'], { env: env(store) });
      assertOneLine(r, label, why);
      assert.equal(r.status, status, `${label}: ${r.stderr}`);
      const stored = objectsOf(store);
      for (const hex of stored) {
        const sum = run('sha256sum', [join(store, 'objects', 'sha256', hex)]).stdout.split(' ')[0];
        assert.equal(sum, hex, `${label}: a stored object that does not hash to its name`);
      }
      const list = cald(['list', '--json'], { env: env(store) });
      if (list.status === 0)
        assert.deepEqual(JSON.parse(list.stdout).programs, [], `${label}: names were made`);
      return stored;
    };

    test('bytes changed in an object', (t) => {
      if (!needTools(t)) return;
      const file = remake('altered', (tree) => {
        const p = join(tree, 'objects', 'sha256', victim);
        chmodSync(p, 0o644);
        const b = readFileSync(p);
        b[b.length >> 1]! ^= 0xff;
        writeFileSync(p, b);
      });
      const stored = refuse(file, 'altered', /hashes to sha256:/);
      assert.ok(!stored.includes(victim), 'the altered object was stored');
    });

    test('truncated halfway', () => {
      const whole = readFileSync(unsigned);
      const file = join(work, 'half.tar.zst');
      writeFileSync(file, whole.subarray(0, whole.length >> 1));
      refuse(file, 'half', /ends in the middle|unexpected EOF/);
      // The whole archive then completes what the half one stored.
      const store = join(work, 'store-half');
      assert.equal(cald(['import-archive', unsigned, '--allow-unsigned'], { env: env(store) }).status, 0);
      assert.equal(cald(['run', 'sqlite3', ...QUERY], { env: env(store) }).stdout, expected);
    });

    test('an object no closure lists, a path trick, a symlink, objects before manifests', (t) => {
      if (!needTools(t)) return;
      refuse(
        remake('extra', (tree) => {
          const p = join(tree, 'objects', 'sha256', 'a'.repeat(64));
          writeFileSync(p, 'x');
        }),
        'extra',
        /is in no closure/,
      );
      refuse(
        remake('trick', (tree) => writeFileSync(join(tree, 'evil'), 'x'), ['closures', 'evil', 'objects']),
        'trick',
        /an entry named "evil"/,
      );
      refuse(
        remake('link', (tree) => {
          const p = join(tree, 'objects', 'sha256', victim);
          rmSync(p);
          symlinkSync('/etc/passwd', p);
        }),
        'link',
        /not a regular file/,
      );
      refuse(
        remake('order', () => {}, ['objects', 'closures']),
        'order',
        /no closure manifest before its objects/,
      );
    });

    test('a manifest that does not hash to its name, and a file that is not an archive', (t) => {
      if (!needTools(t)) return;
      refuse(
        remake('manifest', (tree) => {
          const m = readdirSync(join(tree, 'closures')).find((n) => !n.includes('.sig'))!;
          const p = join(tree, 'closures', m);
          chmodSync(p, 0o644);
          writeFileSync(p, readFileSync(p, 'utf8').replace('"size":', '"size": '));
        }),
        'manifest',
        /does not hash to its name/,
      );
      refuse('/etc/passwd', 'passwd', /not a valid zstd stream/);
      refuse(join(work, 'missing.tar.zst'), 'missing', /cannot read/, 5);
    });
  });

  test('a store object damaged on disk stops the export: no archive is written', () => {
    const store = join(dir, 'damaged');
    run('cp', ['-a', source, store]);
    const hex = objectsOf(store).find((h) => h !== objectsOf(store)[0])!;
    const p = join(store, 'objects', 'sha256', hex);
    chmodSync(p, 0o644);
    const b = readFileSync(p);
    b[100]! ^= 1;
    writeFileSync(p, b);
    chmodSync(p, 0o444);
    const out = join(dir, 'damaged.tar.zst');
    const r = cald(['export', 'sqlite3', 'git', '-o', out], { env: env(store) });
    assertOneLine(r, 'damaged store', /not what its name says/);
    assert.ok(!existsSync(out), 'an archive was left behind');
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('.cald-')),
      [],
      'a temporary file was left behind',
    );
  });
});

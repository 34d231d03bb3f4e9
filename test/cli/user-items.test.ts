// Issue 13, what a new user trips over: exit statuses as docs/cli.md lists them, hints that lead
// somewhere, install never overwriting a file cald did not write, patchelf never writing into a
// store, and what users of Nix, docker and patchelf look for (inspect by name, cald's note by
// name, ldd --depth/--flat, gc --print-dead and durations, install's default directory, env's
// warning, import's note of what stays a host file). Each checks output, status, and that
// nothing else changed.
import assert from 'node:assert/strict';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { sha256File } from '../store/helpers/robust.js';
import { cald } from './cald.js';
import { type AppBuilds, assertFails, assertUnchanged, buildApps, storeSnapshot } from './naming-fixture.js';

const PYTHON3 = '/usr/bin/python3';
const SQLITE3 = '/usr/bin/sqlite3';

describe('what users trip over and look for', () => {
  const dir = makeTmp({ after }, 'cli-items');
  const store = join(dir, 'store');
  let apps: AppBuilds;
  let digest = '';
  let object = '';
  const text = () => {
    const p = join(dir, 'text.txt');
    writeFileSync(p, 'just text\n', { mode: 0o644 });
    return p;
  };
  before(() => {
    apps = buildApps(dir);
    const r = cald(['import', apps.v1Link, '--store', store]);
    assert.equal(r.status, 0, r.stderr);
    digest = `sha256:${/cas:sha256:([0-9a-f]{64})/.exec(r.stdout)![1]}`;
    object = join(store, 'objects', 'sha256', digest.slice(7));
  });

  test('exit statuses match docs/cli.md (bug 5)', () => {
    const before = storeSnapshot(store);
    const t = text();
    // A non-ELF file: 3 from inspect, import and ldd alike.
    assertFails(cald(['inspect', t]), 3, /not an ELF file/, 'inspect text');
    assertFails(cald(['import', t, '--store', store]), 3, /not .*ELF file/, 'import text');
    assertFails(cald(['ldd', '--store', store, t]), 3, /is not an ELF file/, 'ldd text');
    // run: 127 for a missing path (as the docs say), 126 for a file it cannot run, no raw spawn text.
    assertFails(
      cald(['run', '--store', store, './missing'], { cwd: dir }),
      127,
      /cannot read \.\/missing: no such file/,
      'run ./missing',
    );
    const r = cald(['run', '--store', store, t]);
    assertFails(r, 126, /^cald: cannot run .*text\.txt: permission denied$/, 'run text.txt');
    assert.doesNotMatch(r.stderr, /spawn|EACCES/);
    assert.match(r.stderr, /^hint: the file is not executable: chmod \+x it/m);
    // An unknown name: 127 for run, 8 for the others.
    assertFails(
      cald(['run', '--store', store, 'nosuch']),
      127,
      /nosuch is not an imported program/,
      'run nosuch',
    );
    for (const cmd of ['ldd', 'install', 'path', 'referrers']) {
      assertFails(
        cald([cmd, 'nosuch', '--store', store]),
        8,
        /nosuch is not an imported program/,
        `${cmd} nosuch`,
      );
    }
    assertFails(
      cald(['roots', 'remove', 'nosuch', '--store', store]),
      8,
      /no root "nosuch"/,
      'roots remove nosuch',
    );
    assertFails(
      cald(['run', '--store', store, 'cas:sha256:1234']),
      2,
      /bad sha256 digest/,
      'run cas:sha256:1234',
    );
    // A missing store stays 6; run says 127.
    const none = join(dir, 'no-store');
    assertFails(cald(['ldd', 'app', '--store', none]), 6, /no store at/, 'ldd without a store');
    assertFails(cald(['run', '--store', none, 'app']), 127, /no store/, 'run without a store');
    assert.ok(!existsSync(none));
    assertUnchanged(before, store, 'failing commands');
  });

  test('a changed object: run refuses it and the hint names cald verify --repair (hint 6)', () => {
    const copy = join(dir, 'store-changed');
    cpSync(store, copy, { recursive: true, verbatimSymlinks: true });
    const o = join(copy, 'objects', 'sha256', digest.slice(7));
    chmodSync(o, 0o755);
    const bytes = readFileSync(o);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
    writeFileSync(o, bytes);
    const r = cald(['run', '--store', copy, 'app']);
    assertFails(
      r,
      126,
      /^cald: refusing cas:.* not the hash in its name \(changed or corrupted\)$/,
      'run changed',
    );
    assert.match(r.stderr, /^hint: cald verify --repair restores it/m);
    assert.doesNotMatch(r.stderr, /delete the object/);
  });

  test('install refuses to replace a file it did not write (bug 4); --force does; a launcher is replaced', () => {
    const bin = join(dir, 'bin-install');
    mkdirSync(bin);
    const mine = join(bin, 'x');
    writeFileSync(mine, '#!/bin/sh\necho my own script\n', { mode: 0o755 });
    const refused = cald(['install', 'app', '--bin', bin, '--name', 'x', '--store', store]);
    assertFails(
      refused,
      1,
      new RegExp(`^cald: ${mine} exists and is not a command cald installed$`),
      'install over a script',
    );
    assert.match(refused.stderr, /--force/);
    assert.equal(readFileSync(mine, 'utf8'), '#!/bin/sh\necho my own script\n');
    assert.deepEqual(readdirSync(bin), ['x']);
    // A launcher cald wrote is replaced without --force; so is a link into a store.
    const a = cald(['install', 'app', '--bin', bin, '--name', 'y', '--store', store]);
    assert.equal(a.status, 0, a.stderr);
    const again = cald(['install', 'app-1.0', '--bin', bin, '--name', 'y', '--store', store]);
    assert.equal(again.status, 0, again.stderr);
    // A link into the store is replaced by the launcher: the object it points at stays as it was.
    const hash = sha256File(object);
    symlinkSync(object, join(bin, 'z'));
    assert.equal(cald(['install', 'app', '--bin', bin, '--name', 'z', '--store', store]).status, 0);
    assert.equal(sha256File(object), hash);
    assert.match(run(join(bin, 'z'), []).stdout, /^app 1 /);
    const forced = cald(['install', 'app', '--bin', bin, '--name', 'x', '--force', '--store', store]);
    assert.equal(forced.status, 0, forced.stderr);
    const ran = run(mine, []);
    assert.match(ran.stdout, /^app 1 /);
  });

  test('install into a directory that cannot be made ends with one line (a recursive mkdir under /proc spun for good)', () => {
    const bin = '/proc/cald-no-such-dir/bin';
    const r = cald(['install', 'app', '--bin', bin, '--name', 'x', '--store', store], { timeoutMs: 20_000 });
    assert.equal(r.signal ?? null, null, 'cald install ended by itself');
    assertFails(
      r,
      5,
      /^cald: cannot create the directory \/proc\/cald-no-such-dir\/bin: /,
      'install under /proc',
    );
  });

  test('install defaults to ~/.local/bin and says when it is not on PATH', () => {
    const home = join(dir, 'home');
    mkdirSync(home);
    const local = join(home, '.local', 'bin');
    const off = cald(['install', 'app', '--store', store], { env: { HOME: home, PATH: '/usr/bin:/bin' } });
    assert.equal(off.status, 0, off.stderr);
    assert.equal(off.stdout, `installed ${local}/app -> ${digest}\n`);
    assert.equal(
      off.stderr,
      `cald install: note: ${local} is not on PATH: add it (export PATH="${local}:$PATH") to run app by its name\n`,
    );
    const on = cald(['install', 'app-1.0', '--store', store], {
      env: { HOME: home, PATH: `${local}:/usr/bin:/bin` },
    });
    assert.equal(on.status, 0, on.stderr);
    assert.equal(on.stderr, '');
    assert.deepEqual(readdirSync(local).sort(), ['app', 'app-1.0']);
  });

  test('patchelf never edits a file inside a store, by path or through a link (bug 1)', () => {
    // A store in a non-default place, found by its marker.
    const hash = sha256File(object);
    const before = storeSnapshot(store);
    const link = join(dir, 'link-to-object');
    symlinkSync(object, link);
    for (const [what, args] of [
      ['the object', ['--set-rpath', '/x', object]],
      ['a link to it', ['--set-rpath', '/x', link]],
      ['--output into the store', ['--set-rpath', '/x', apps.v1, '--output', join(store, 'objects', 'new')]],
      ['--add-needed', ['--add-needed', 'libm.so.6', object]],
    ] as const) {
      const r = cald(['patchelf', ...args]);
      assert.equal(r.status, 1, `${what}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /^patchelf: .* is inside the cald store .*; stored objects are never edited$/m,
        what,
      );
    }
    assert.equal(sha256File(object), hash);
    assertUnchanged(before, store, 'refused patchelf');
    // Reading is fine, and a copy outside the store can be edited.
    const printed = cald(['patchelf', '--print-interpreter', object]);
    assert.equal(printed.status, 0, printed.stderr);
    assert.match(printed.stdout, /^\/lib.*ld-linux.*\n$/);
    const copy = join(dir, 'copy');
    writeFileSync(copy, readFileSync(object), { mode: 0o755 });
    assert.equal(cald(['patchelf', '--set-rpath', '/x', copy]).status, 0);
    assert.equal(cald(['run', '--store', store, 'app']).status, 0);
  });

  test("inspect takes a program name or a cas: URI and shows cald's note by name", () => {
    for (const form of ['app', `cas:${digest}`, digest]) {
      const r = cald(['inspect', form, '--store', store]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^${object}: ELF64 `));
      assert.match(r.stdout, /^ {2}cald note +imported with the loader sha256:[0-9a-f]{64}$/m);
      assert.doesNotMatch(r.stdout, /cald type 1/);
    }
    const json = JSON.parse(cald(['inspect', '--json', 'app', '--store', store]).stdout) as {
      notes: Array<{ owner: string; type: string | null; text?: string }>;
    };
    const note = json.notes.find((n) => n.owner === 'cald');
    assert.equal(note?.type, 'NT_CALD_INTERP');
    assert.match(note?.text ?? '', /^sha256:[0-9a-f]{64}$/);
    // A file of that name in the current directory is the file, as before.
    const local = join(dir, 'app');
    writeFileSync(local, 'not elf\n');
    assertFails(
      cald(['inspect', 'app', '--store', store], { cwd: dir }),
      3,
      /not an ELF file/,
      'inspect ./app file',
    );
  });

  test('ldd --depth 1 and --flat', () => {
    const full = cald(['ldd', '--store', store, 'app']);
    assert.equal(full.status, 0, full.stderr);
    const depth1 = cald(['ldd', '--store', store, '--depth', '1', 'app']);
    assert.equal(depth1.status, 0, depth1.stderr);
    // The tree's rows (├─ or └─), each at the first level only.
    const needs = depth1.stdout.split('\n').filter((l) => /[├└]─ /.test(l));
    assert.ok(
      needs.every((l) => /^[├└]─ \S/.test(l)),
      depth1.stdout,
    );
    assert.ok(needs.length >= 1);
    assert.ok(
      full.stdout.split('\n').some((l) => /^[│ ] {2}[├└]─ /.test(l)),
      `deeper levels in the full tree:\n${full.stdout}`,
    );
    const flat = cald(['ldd', '--store', store, '--flat', 'app']);
    const rows = flat.stdout.split('\n').filter((l) => / => /.test(l));
    const names = rows.map((l) => l.trim().split(' ')[0]!);
    assert.deepEqual(names, [...new Set(names)], 'each object once');
    assert.ok(names.includes('libc.so.6'), flat.stdout);
    assert.ok(
      rows.every((l) => !l.includes('cas:sha256:')),
      'flat rows name objects by their hint',
    );
    assertFails(
      cald(['ldd', '--store', store, '--depth', '0', 'app']),
      2,
      /--depth "0" is not a positive integer/,
      'depth 0',
    );
  });

  test('gc --dry-run --print-dead and --keep-younger-than 30d', () => {
    const s = join(dir, 'store-gc');
    cpSync(store, s, { recursive: true, verbatimSymlinks: true });
    const ids = (
      JSON.parse(cald(['roots', 'list', '--json', '--store', s]).stdout) as { roots: Array<{ id: string }> }
    ).roots.map((r) => r.id);
    const rm = cald(['roots', 'remove', ...ids, '--store', s]);
    assert.equal(rm.status, 0, rm.stderr);
    const before = storeSnapshot(s);
    const keep = cald(['gc', '--keep-younger-than', '30d', '--store', s]);
    assert.equal(keep.status, 0, keep.stderr);
    assert.match(keep.stdout, /^deleted 0 object\(s\).*unreachable kept/);
    assertUnchanged(before, s, 'gc --keep-younger-than 30d');
    const dry = cald(['gc', '--dry-run', '--print-dead', '--store', s]);
    assert.equal(dry.status, 0, dry.stderr);
    const dead = dry.stdout.split('\n').filter((l) => l.startsWith(`${s}/objects/sha256/`));
    assert.ok(
      dead.some((l) => l.startsWith(`${s}/objects/sha256/${digest.slice(7)}  `)),
      dry.stdout,
    );
    assert.match(dry.stdout, new RegExp(`^would delete ${dead.length} object\\(s\\)`));
    assertUnchanged(before, s, 'gc --dry-run');
    assertFails(cald(['gc', '--keep-younger-than', '30x', '--store', s]), 2, /is not a duration/, 'gc 30x');
  });

  test('cald env warns when the store does not exist, and creates nothing', () => {
    const none = join(dir, 'env-none');
    const r = cald(['env', '--store', none]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^cald env: warning: there is no cald store at ${none} yet`));
    assert.match(r.stdout, /CALD_STORE=/);
    assert.ok(!existsSync(none));
    const there = cald(['env', '--store', store]);
    assert.equal(there.stderr, '');
  });

  test('install sqlit3 suggests sqlite3, not a path (hint 6)', {
    skip: existsSync(SQLITE3) ? false : `needs ${SQLITE3}`,
  }, () => {
    const s = join(dir, 'store-sqlite3');
    assert.equal(cald(['import', SQLITE3, '--store', s]).status, 0);
    const before = storeSnapshot(s);
    const bin = join(dir, 'bin-sqlit3');
    const r = cald(['install', 'sqlit3', '--bin', bin, '--store', s]);
    assertFails(r, 8, /^cald: sqlit3 is not an imported program/, 'install sqlit3');
    assert.match(r.stderr, /^hint: did you mean sqlite3\?$/m);
    assert.doesNotMatch(r.stderr, /path/);
    assert.ok(!existsSync(bin));
    assertUnchanged(before, s, 'install sqlit3');
    const good = cald(['install', 'sqlite3', '--bin', bin, '--store', s]);
    assert.equal(good.status, 0, good.stderr);
    assert.match(run(join(bin, 'sqlite3'), [':memory:', 'select 6*7']).stdout, /^42$/m);
  });

  test('python3 through its symlink: run by its own name, a note of what stays a host file', {
    skip: existsSync(PYTHON3) ? false : `needs ${PYTHON3}`,
  }, () => {
    const s = join(dir, 'store-python');
    const imp = cald(['import', PYTHON3, '--store', s]);
    assert.equal(imp.status, 0, imp.stderr);
    assert.match(imp.stdout, /^cas:sha256:[0-9a-f]{64}\?name=python3 {2}\/usr\/bin\/python3\n$/);
    assert.match(imp.stderr, /^cald: note: \/usr\/bin\/python3 runs as python3, python3\.\d+$/m);
    assert.match(
      imp.stderr,
      /^cald: note: \/usr\/lib\/python3\.\d+ stays on the host: .* --with \/usr\/lib\/python3\.\d+ imports the ELF files in it$/m,
    );
    const r = cald([
      'run',
      '--store',
      s,
      'python3',
      '-c',
      'import sys; print(sys.argv[0], sys.version_info[0])',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '-c 3\n');
  });
});

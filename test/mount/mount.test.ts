// `cald mount DIR` (docs/mount.md): the store as a read-only FUSE file system, checked against
// independent tools: sha256sum of every file equals its name, `diff -r` against `cald checkout`
// of the same tree, stat's inode numbers across mounts, programs run from the mount against the
// originals, lazy fetch through `cald serve` (honest and hostile), and a server killed under a
// mount. Needs root and /dev/fuse; skipped by name where either is missing.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ENTRY_ARGS, hasStackTrace } from '../cli/cald.js';
import { AUDIT_LIB, baseEnv, caldCli, NATIVE_DIR } from '../e2e/e2e.js';
import { freePort } from '../helpers/registry.js';
import { hasTool, run, runOk } from '../helpers/run.js';
import { assertOneLine } from '../store/helpers/robust.js';

/** Why this host cannot mount (null: it can). */
function cannotMount(): string | null {
  if (process.getuid?.() !== 0) return 'mounting needs root';
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/fuse is missing or not usable';
  }
  if (!readFileSync('/proc/filesystems', 'utf8').includes('\tfuse\n')) return 'the kernel has no FUSE';
  if (!existsSync(join(NATIVE_DIR, 'cald-mount'))) return 'native/build/cald-mount is not built';
  return null;
}
const SKIP = cannotMount();

const SQLITE3 = '/usr/bin/sqlite3';
const objectsOf = (store: string): string[] => readdirSync(join(store, 'objects', 'sha256')).sort();
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A file's errno as the shell reports it (stat through the mount). */
function statError(path: string): string {
  const r = run('stat', ['-c', '%i', path]);
  return r.status === 0 ? 'ok' : r.stderr.trim();
}

describe('cald mount: a read-only, content-addressed view of the store', { skip: SKIP ?? false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cald-mount-'));
  const env = baseEnv(join(dir, 'home'));
  const store = join(dir, 'store');
  const mounts: string[] = [];
  let program = ''; // sqlite3's object
  let tree = ''; // the app tree
  const mountAt = (name: string, extra: string[] = [], storeDir = store) => {
    const point = join(dir, name);
    mkdirSync(point, { recursive: true });
    const r = caldCli(['mount', point, '--store', storeDir, '--json', ...extra], env);
    assert.equal(r.status, 0, r.stderr);
    mounts.push(point);
    return { point, ...(JSON.parse(r.stdout) as { reads: string; pid: number; store: string }) };
  };
  const unmount = (point: string) => {
    const r = caldCli(['unmount', point], env);
    assert.equal(r.status, 0, r.stderr);
    mounts.splice(mounts.indexOf(point), 1);
  };

  before(() => {
    assert.equal(caldCli(['import', SQLITE3, '--store', store], env).status, 0);
    program =
      /([0-9a-f]{64})\s*$/.exec(caldCli(['path', 'sqlite3', '--store', store], env).stdout)?.[1] ?? '';
    assert.match(program, /^[0-9a-f]{64}$/);
    // A tree with every kind of entry, an executable, two files with the same bytes, an empty
    // directory and links inside and outside.
    const src = join(dir, 'src');
    for (const d of ['bin', 'share/doc', 'empty', 'other/empty'])
      mkdirSync(join(src, d), { recursive: true });
    writeFileSync(join(src, 'bin', 'tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
    writeFileSync(join(src, 'share', 'doc', 'README'), 'read me\n');
    writeFileSync(join(src, 'share', 'same'), 'read me\n');
    symlinkSync('../share/doc/README', join(src, 'bin', 'readme'));
    symlinkSync('/etc/hostname', join(src, 'share', 'host-file'));
    const r = caldCli(['import', '--tree', '--json', '--store', store, src, '--name', 'small'], env);
    assert.equal(r.status, 0, r.stderr);
    tree = /sha256:([0-9a-f]{64})/.exec(
      (JSON.parse(r.stdout) as { tree: { digest: string } }).tree.digest,
    )![1]!;
  });
  after(() => {
    for (const m of [...mounts].reverse()) caldCli(['unmount', '--lazy', m], env);
    run('chmod', ['-R', 'u+w', dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('every object through the mount: sha256sum gives its name, mode r-x where the store says', () => {
    const { point, reads } = mountAt('m1');
    assert.match(reads, /^(passthrough|read)$/);
    const hexes = objectsOf(store);
    assert.ok(hexes.length >= 5, hexes.join(' '));
    const sums = runOk(
      'sha256sum',
      hexes.map((h) => join(point, 'objects', 'sha256', h)),
    ).stdout;
    for (const line of sums.trim().split('\n')) {
      const [sum, path] = line.split(/\s+/);
      assert.equal(sum, path!.split('/').pop(), line);
    }
    for (const h of hexes) {
      const inStore = statSync(join(store, 'objects', 'sha256', h));
      const seen = statSync(join(point, 'objects', 'sha256', h));
      assert.equal(seen.mode, inStore.mode & ~0o222, h);
      assert.equal(seen.size, inStore.size, h);
    }
    // The mount point itself: read-only, 0555, the mounting user's.
    const top = statSync(point);
    assert.equal(top.mode & 0o7777, 0o555);
    assert.equal(top.uid, 0);
    assert.match(
      readFileSync('/proc/self/mountinfo', 'utf8'),
      new RegExp(` ${point} ro,nosuid,nodev.* - fuse\\.cald `),
    );
  });

  test('writes of every kind are refused: read-only file system', () => {
    const point = mounts[0]!;
    const file = join(point, 'objects', 'sha256', program);
    const tries: Array<[string, string[]]> = [
      ['sh', ['-c', `echo x >> "${file}"`]],
      ['touch', [join(point, 'new')]],
      ['mkdir', [join(point, 'trees', 'sha256', tree, 'new')]],
      ['rm', ['-f', file]],
      ['chmod', ['u+w', file]],
    ];
    for (const [cmd, args] of tries) {
      const r = run(cmd, args);
      assert.notEqual(r.status, 0, `${cmd} ${args.join(' ')}`);
      assert.match(r.stderr, /Read-only file system|Permission denied/, `${cmd}: ${r.stderr}`);
    }
    assert.equal(sha256(file), program);
  });

  test('what is not there: ENOENT, at once', () => {
    const point = mounts[0]!;
    for (const p of [
      join(point, 'objects', 'sha256', '0'.repeat(64)), // a well-formed hash of nothing stored
      join(point, 'objects', 'sha256', 'not-a-hash'),
      join(point, 'objects', 'sha512'),
      join(point, 'trees', 'sha256', program), // an object that is not a tree
      join(point, 'trees', 'sha256', tree, 'nope'),
    ])
      assert.match(statError(p), /No such file or directory/, p);
    // A name inside a file is not a directory.
    assert.match(statError(join(point, 'objects', 'sha256', program, 'x')), /Not a directory/);
  });

  test('a tree seen as directories is what cald checkout lays out (diff -r, find)', () => {
    const point = mounts[0]!;
    const co = join(dir, 'co');
    const r = caldCli(['checkout', '--store', store, tree, co], env);
    assert.equal(r.status, 0, r.stderr);
    const view = join(point, 'trees', 'sha256', tree);
    const diff = run('diff', ['-r', '--no-dereference', co, view]);
    assert.equal(diff.status, 0, diff.stdout + diff.stderr);
    // The same names, kinds and links (find's %y %l); files with the same modes, directories 0555.
    const listing = (root: string, args: string[]) =>
      runOk('find', ['.', '-mindepth', '1', ...args], { cwd: root })
        .stdout.split('\n')
        .filter((l) => l !== '')
        .sort();
    const all = ['-printf', '%p %y %l\n'];
    assert.deepEqual(listing(view, all), listing(co, all));
    const files = ['-type', 'f', '-printf', '%p %m\n'];
    assert.deepEqual(listing(view, files), listing(co, files));
    assert.deepEqual(
      listing(view, ['-type', 'd', '-printf', '%m\n']),
      listing(co, ['-type', 'd', '-printf', '555\n']),
    );
    assert.equal(readFileSync(join(view, 'bin', 'readme'), 'utf8'), 'read me\n');
  });

  test('inode numbers: the same in a second mount, a remount and another store with the same content', () => {
    const paths = (root: string) => [
      join(root, 'objects', 'sha256', program),
      join(root, 'trees', 'sha256', tree),
      join(root, 'trees', 'sha256', tree, 'bin', 'tool'),
      join(root, 'trees', 'sha256', tree, 'bin', 'readme'),
      join(root, 'trees', 'sha256', tree, 'share', 'doc'),
      join(root, 'trees', 'sha256', tree, 'empty'),
      join(root, 'trees', 'sha256', tree, 'other', 'empty'),
    ];
    const inodes = (root: string) =>
      runOk('stat', ['-c', '%i', ...paths(root)])
        .stdout.trim()
        .split('\n');
    const first = inodes(mounts[0]!);
    assert.equal(new Set(first).size, first.length, first.join(' ')); // one path, one number
    const second = mountAt('m2');
    assert.deepEqual(inodes(second.point), first);
    unmount(second.point);
    const again = mountAt('m2');
    assert.deepEqual(inodes(again.point), first);
    unmount(again.point);
    // The same bytes share a number wherever they appear (one library for glibc).
    const same = runOk('stat', [
      '-c',
      '%i',
      ...['doc/README', 'same'].map((p) => join(mounts[0]!, 'trees', 'sha256', tree, 'share', p)),
    ]);
    const [a, b] = same.stdout.trim().split('\n');
    assert.equal(a, b);
    // Another store, filled independently with the same tree: the same numbers.
    const other = join(dir, 'store-b');
    const src = join(dir, 'src');
    assert.equal(caldCli(['import', SQLITE3, '--store', other], env).status, 0);
    assert.equal(caldCli(['import', '--tree', '--store', other, src], env).status, 0);
    const elsewhere = mountAt('m3', [], other);
    assert.deepEqual(inodes(elsewhere.point), first);
    unmount(elsewhere.point);
  });

  test('programs run from the mount: sqlite3 by its object, a C program and its library from a tree', {
    skip: !hasTool('cc') && 'cc is not installed',
  }, () => {
    const point = mounts[0]!;
    const runEnv = { ...env, LD_AUDIT: AUDIT_LIB, CALD_STORE: store };
    const query = [':memory:', "select 'through the mount', 6*7"];
    const original = runOk(SQLITE3, query).stdout;
    const viaMount = run(join(point, 'objects', 'sha256', program), query, { env: runEnv, replaceEnv: true });
    assert.equal(viaMount.status, 0, viaMount.stderr);
    assert.equal(viaMount.stdout, original);

    // A program and its library, imported as a tree: run from the tree path, the library is
    // loaded from the tree path too (the audit resolver, docs/trees.md).
    const app = join(dir, 'app');
    const c = join(dir, 'c');
    mkdirSync(join(app, 'bin'), { recursive: true });
    mkdirSync(join(app, 'lib'), { recursive: true });
    mkdirSync(c, { recursive: true });
    writeFileSync(join(c, 'lib.c'), 'int answer(void) { return 42; }\n');
    writeFileSync(
      join(c, 'prog.c'),
      '#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <stdio.h>\nint answer(void);\n' +
        'int main(void) { Dl_info i; dladdr((void *)answer, &i); printf("%d from %s\\n", answer(), i.dli_fname); return 0; }\n',
    );
    runOk('cc', ['-shared', '-fPIC', '-o', join(app, 'lib', 'libanswer.so'), join(c, 'lib.c')]);
    runOk('cc', [
      '-o',
      join(app, 'bin', 'prog'),
      join(c, 'prog.c'),
      `-L${join(app, 'lib')}`,
      '-lanswer',
      '-Wl,-rpath,$ORIGIN/../lib',
    ]);
    const before = runOk(join(app, 'bin', 'prog'), []).stdout;
    assert.equal(before, `42 from ${join(app, 'bin')}/../lib/libanswer.so\n`);
    const r = caldCli(['import', '--tree', '--json', '--store', store, app], env);
    assert.equal(r.status, 0, r.stderr);
    const appTree = /sha256:([0-9a-f]{64})/.exec(
      (JSON.parse(r.stdout) as { tree: { digest: string } }).tree.digest,
    )![1]!;
    const at = join(point, 'trees', 'sha256', appTree);
    const ran = run(join(at, 'bin', 'prog'), [], { env: runEnv, replaceEnv: true });
    assert.equal(ran.status, 0, ran.stderr);
    // The same answer, from the library at the tree's path in the mount (named as the resolver
    // found it there, without the original's ../).
    assert.equal(ran.stdout, `42 from ${join(at, 'lib', 'libanswer.so')}\n`);
  });

  test('without passthrough (every read through the server): the same bytes, programs run', () => {
    const { point, reads } = mountAt('m-read', ['--no-passthrough']);
    assert.equal(reads, 'read');
    const hexes = objectsOf(store);
    const sums = runOk(
      'sha256sum',
      hexes.map((h) => join(point, 'objects', 'sha256', h)),
    ).stdout;
    assert.deepEqual(
      sums
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[0]),
      hexes,
    );
    // Reads at odd offsets and sizes (dd), against the store file.
    const file = join(point, 'objects', 'sha256', program);
    const piece = (f: string) =>
      runOk('sh', ['-c', `dd if="${f}" bs=4097 skip=7 count=13 2>/dev/null | sha256sum`]).stdout;
    assert.equal(piece(file), piece(join(store, 'objects', 'sha256', program)));
    const query = [':memory:', "select 'read', 6*7"];
    const ran = run(file, query, {
      env: { ...env, LD_AUDIT: AUDIT_LIB, CALD_STORE: store },
      replaceEnv: true,
    });
    assert.equal(ran.stdout, runOk(SQLITE3, query).stdout, ran.stderr);
    unmount(point);
  });

  test('--foreground: ready line, then SIGTERM unmounts and ends it', async () => {
    const point = join(dir, 'm-fg');
    mkdirSync(point);
    const fg = startBackground(['mount', point, '--store', store, '--foreground'], env);
    await fg.ready(/mounted read-only/);
    assert.ok(caldMountsHave(point));
    assert.equal(sha256(join(point, 'objects', 'sha256', program)), program);
    await fg.stop();
    assert.ok(!caldMountsHave(point));
  });

  test('a busy mount: unmount says so in one line; --lazy detaches it', async () => {
    const { point } = mountAt('m-busy');
    const holder = spawn('sleep', ['30'], { cwd: join(point, 'trees', 'sha256', tree), stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const busy = caldCli(['unmount', point], env);
      assertOneLine(busy, /is busy/);
      assert.ok(caldMountsHave(point));
      const lazy = caldCli(['unmount', '--lazy', point], env);
      assert.equal(lazy.status, 0, lazy.stderr);
      mounts.splice(mounts.indexOf(point), 1);
      assert.ok(!caldMountsHave(point));
    } finally {
      holder.kill();
    }
  });

  test('a store object whose bytes are not its name, a malformed tree: EIO, never served', () => {
    const bad = join(dir, 'store-bad');
    assert.equal(caldCli(['import', '/usr/bin/true', '--store', bad], env).status, 0);
    const objects = join(bad, 'objects', 'sha256');
    const changed = createHash('sha256').update('what the name says').digest('hex');
    writeFileSync(join(objects, changed), 'other bytes\n', { mode: 0o444 });
    const malformed = Buffer.from('cald-tree 1\nfile sha256:00 1\0x\0');
    const malformedHex = createHash('sha256').update(malformed).digest('hex');
    writeFileSync(join(objects, malformedHex), malformed, { mode: 0o444 });
    const log = join(dir, 'm-bad.log');
    const { point } = mountAt('m-bad', ['--log', log], bad);
    const r = run('cat', [join(point, 'objects', 'sha256', changed)]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Input\/output error/);
    assert.equal(r.stdout, '');
    assert.match(statError(join(point, 'trees', 'sha256', malformedHex)), /Input\/output error/);
    // The malformed tree is still an object like any other: as a file it is its bytes.
    assert.equal(sha256(join(point, 'objects', 'sha256', malformedHex)), malformedHex);
    unmount(point);
    // Each refusal is one line of the server's log (--log).
    const lines = readFileSync(log, 'utf8');
    assert.match(
      lines,
      new RegExp(`^cald-mount: objects/sha256/${changed} does not hash to its name .*: not served$`, 'm'),
    );
    assert.match(
      lines,
      new RegExp(`^cald-mount: sha256:${malformedHex} is not a well-formed tree object: not served$`, 'm'),
    );
  });

  test('a fetch that hangs holds only its own request: the rest of the mount answers meanwhile', async () => {
    const slow = join(dir, 'store-slow');
    assert.equal(caldCli(['import', '/usr/bin/true', '--store', slow], env).status, 0);
    const present = objectsOf(slow)[0]!;
    // A fetch daemon (this process) that takes requests and answers only when told to.
    mkdirSync(join(slow, 'run'), { mode: 0o700 });
    const socket = join(slow, 'run', 'fetch.sock');
    let answer: ((line: string) => void) | undefined;
    const asked = new Promise<string>((resolveAsked) => {
      const server = createServer((conn) => {
        conn.once('data', (d) => {
          answer = (line) => conn.end(`${line}\n`);
          resolveAsked(String(d));
        });
      });
      server.listen(socket, () => chmodSync(socket, 0o600));
      after(() => server.close());
    });
    const { point } = mountAt('m-slow', [], slow);
    const absent = 'a'.repeat(64);
    const waiting = spawn('cat', [join(point, 'objects', 'sha256', absent)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let waitingErr = '';
    waiting.stderr.on('data', (d) => {
      waitingErr += String(d);
    });
    const ended = new Promise<number | null>((r) => waiting.once('exit', (code) => r(code)));
    assert.equal(await asked, `fetch sha256:${absent}\n`);
    // While that fetch is held: another object, a tree listing, the root.
    assert.equal(sha256(join(point, 'objects', 'sha256', present)), present);
    assert.deepEqual(readdirSync(point).sort(), ['objects', 'trees']);
    // Still waiting (not a zombie: this process has not turned its event loop since), so those
    // answers did not wait for the fetch to be given up.
    const state = readFileSync(`/proc/${waiting.pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    assert.notEqual(
      state,
      'Z',
      'the other requests were answered only once the held fetch had been given up',
    );
    answer!(`error cannot fetch sha256:${absent}: http://127.0.0.1:1: not there`);
    assert.notEqual(await ended, 0);
    assert.match(waitingErr, /No such file or directory/);
    unmount(point);
  });

  test('CLI errors: one line each, exit 1', () => {
    const missing = caldCli(['mount', join(dir, 'absent'), '--store', store], env);
    assertOneLine(missing, /absent does not exist/);
    assert.equal(missing.status, 1);
    const full = join(dir, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'x'), '');
    assertOneLine(caldCli(['mount', full, '--store', store], env), /full is not empty/);
    assertOneLine(
      caldCli(['mount', mounts[0]!, '--store', store], env),
      /is already a mount point \(of cald\)/,
    );
    assertOneLine(caldCli(['unmount', full], env), /is not a cald mount/);
    assertOneLine(caldCli(['unmount', '/'], env), /is a mount point, but not of cald: left alone/);
  });

  test('not root: one line, nothing mounted', {
    skip: !hasTool('setpriv') && 'setpriv is not installed',
  }, () => {
    const empty = join(dir, 'empty-for-nobody');
    mkdirSync(empty);
    // bin/cald.js of this checkout, run by nobody (the tree must be readable by others)
    const asNobody = run(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        join(process.cwd(), 'bin', 'cald.js'),
        'mount',
        empty,
      ],
      { env: { ...env, CALD_STORE: store }, replaceEnv: true },
    );
    assertOneLine(asNobody, /mounting needs root/);
    assert.equal(asNobody.status, 1);
    assert.ok(!caldMountsHave(empty));
  });

  describe('lazy fetch from a remote (cald serve)', () => {
    const cache = join(dir, 'cache');
    const lazy = join(dir, 'lazy');
    let serving: ReturnType<typeof startBackground> | undefined;
    let daemon: ReturnType<typeof startBackground> | undefined;
    let lazyEnv: Record<string, string> = {};
    let lazyPid = 0;
    const good = Buffer.from('an object only the remote has\n'.repeat(1000));
    const goodHex = createHash('sha256').update(good).digest('hex');
    const lie = Buffer.from('the bytes the remote says are another object\n');
    const lieHex = createHash('sha256').update('what was asked for').digest('hex');

    before(async () => {
      // The cache holds its objects as files: one honest, one under a name its bytes do not have.
      mkdirSync(join(cache, 'objects', 'sha256'), { recursive: true });
      writeFileSync(join(cache, 'objects', 'sha256', goodHex), good);
      writeFileSync(join(cache, 'objects', 'sha256', lieHex), lie);
      const port = await freePort();
      serving = startBackground(['serve', '--dir', cache, '--listen', `127.0.0.1:${port}`], env);
      const url = (await serving.ready(/ at (http:\/\/\S+) /))[1]!;
      lazyEnv = { ...env, CALD_SUBSTITUTERS: url, XDG_CONFIG_HOME: join(dir, 'config') };
      assert.equal(caldCli(['import', '/usr/bin/true', '--store', lazy], lazyEnv).status, 0);
      daemon = startBackground(['fetch-daemon', '--store', lazy], lazyEnv);
      await daemon.ready(/^fetching for /m);
    });
    after(async () => {
      await daemon?.stop();
      await serving?.stop();
    });

    test('an object absent locally is fetched, verified and stored on first read', () => {
      assert.ok(!objectsOf(lazy).includes(goodHex));
      const { point, pid } = mountAt('lazy-m', [], lazy);
      lazyPid = pid;
      assert.equal(serverPid(point), pid);
      const sum = runOk('sha256sum', [join(point, 'objects', 'sha256', goodHex)]).stdout.split(' ')[0];
      assert.equal(sum, goodHex);
      assert.ok(objectsOf(lazy).includes(goodHex));
      assert.ok(readFileSync(join(lazy, 'objects', 'sha256', goodHex)).equals(good));
    });

    test('a remote that sends other bytes: EIO, nothing stored; one no remote has: ENOENT', () => {
      const point = join(dir, 'lazy-m');
      const r = run('cat', [join(point, 'objects', 'sha256', lieHex)]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /Input\/output error/);
      assert.ok(!objectsOf(lazy).includes(lieHex));
      assert.deepEqual(readdirSync(join(lazy, 'tmp')), []);
      assert.match(statError(join(point, 'objects', 'sha256', 'f'.repeat(64))), /No such file or directory/);
    });

    test('the server killed: the mount answers ENOTCONN, cald unmount cleans it up', () => {
      const point = mounts.find((m) => m.endsWith('lazy-m'))!;
      assert.ok(lazyPid > 0);
      process.kill(lazyPid, 'SIGKILL');
      waitGone(lazyPid);
      // Every name not seen before, and the file system itself, now answer ENOTCONN.
      assert.match(
        statError(join(point, 'objects', 'sha256', 'e'.repeat(64))),
        /Transport endpoint is not connected/,
      );
      assert.match(run('stat', ['-f', point]).stderr, /Transport endpoint is not connected/);
      unmount(point);
      assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${point} `));
      assert.deepEqual(readdirSync(point), []);
    });
  });
});

/** Is point a fuse.cald mount now? */
function caldMountsHave(point: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${point} `);
}

/** The pid of the cald-mount server serving point (its command line names it). */
function serverPid(point: string): number {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('cald-mount') && argv.includes(point)) return Number(p);
    } catch {
      // gone meanwhile
    }
  }
  return 0;
}

function waitGone(pid: number): void {
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    run('sleep', ['0.02']);
  }
}

/** A cald command left running in the background (cald serve, cald fetch-daemon). */
function startBackground(args: string[], env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [...ENTRY_ARGS, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  const waiters: Array<() => void> = [];
  const take = (d: Buffer) => {
    out += String(d);
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return {
    ready: (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (m !== null) return resolve(m);
          if (child.exitCode !== null) return reject(new Error(`cald ${args[0]} exited: ${out}`));
          waiters.push(check);
        };
        child.once('exit', () => check());
        check();
      }),
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

// Issue 4, "full disks": a store on a small tmpfs made here (ENOSPC), the same tmpfs remounted
// read-only (EROFS), a store its user cannot write (run as nobody), and a store on another file
// system than the OS temp directory. Each refusal is one clear line; nothing is half-written.
// Skipped with the reason where mounting or switching user is not permitted.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { cald, ENTRY_ARGS } from '../cli/cald.js';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine, assertVerifies, checkStoreFiles, importedDigest } from './helpers/robust.js';

const CURL = '/usr/bin/curl';

/** Commands that only read a store (with a store holding /bin/true). */
const READERS = [
  ['store', 'info'],
  ['verify'],
  ['list'],
  ['roots', 'list'],
  ['path', 'true'],
  ['referrers', 'true'],
  ['ldd', 'true'],
  ['export', 'true', '-o', '/dev/null'],
];

function mountTmpfs(dir: string, size: string): string | undefined {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], {
    encoding: 'utf8',
  });
  if (r.status !== 0) return `cannot mount a tmpfs here: ${(r.stderr ?? '').trim() || r.error?.message}`;
  return undefined;
}
const umount = (dir: string) => spawnSync('umount', ['-l', dir]);

/** Every names/ and paths/ link points at an object that is there. */
function linksWhole(store: string, context: string): void {
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        assert.ok(lstatSync(p).isSymbolicLink(), `${context}: ${p} is not a link`);
        const target = resolve(dirname(p), readlinkSync(p));
        assert.ok(existsSync(target), `${context}: ${p} -> ${target} dangles`);
      }
    }
  };
  walk(join(store, 'names'));
  walk(join(store, 'paths'));
}

describe('full, read-only and foreign file systems', () => {
  const dir = makeTmp({ after }, 'disk');

  test('a full tmpfs: IO_ENOSPC in one line, nothing half-written, still verifies; then read-only', (t) => {
    const mnt = join(dir, 'small');
    const why = mountTmpfs(mnt, '3m');
    if (why !== undefined) return t.skip(why);
    t.after(() => umount(mnt));
    const store = join(mnt, 'store');
    // curl's closure is ~20 MiB: it cannot fit in 3 MiB.
    const r = cald(['import', CURL, '--store', store]);
    assertOneLine(r, 'import onto a full disk', /no space left on device/);
    checkStoreFiles(store, 'after ENOSPC');
    linksWhole(store, 'after ENOSPC');
    assert.deepEqual(readdirSync(join(store, 'tmp')), [], 'temp files removed');
    assertVerifies(store, 'after ENOSPC');
    const json = cald(['import', CURL, '--store', store, '--json']);
    assert.notEqual(json.status, 0);
    assert.match(json.stdout + json.stderr, /IO_ENOSPC/, 'the code is IO_ENOSPC');
    // The same store remounted read-only: one line per command, nothing changed.
    const small = cald(['import', '/bin/true', '--store', store]);
    assert.equal(small.status, 0, `/bin/true fits: ${small.stderr}`);
    const before = readdirSync(join(store, 'objects', 'sha256')).sort();
    const ro = spawnSync('mount', ['-o', 'remount,ro', mnt], { encoding: 'utf8' });
    if (ro.status !== 0) return t.skip(`cannot remount read-only: ${ro.stderr.trim()}`);
    for (const args of [
      ['import', '/bin/true'],
      ['gc'],
      ['verify', '--repair'],
      ['index', 'rebuild'],
      ['roots', 'add', '/etc/hostname'],
      ['roots', 'remove', 'nothing'],
    ]) {
      assertOneLine(cald([...args, '--store', store]), `${args.join(' ')} on a read-only store`, /read-only/);
    }
    // Reading needs no writes: every command that only reads works on read-only media.
    const readAll = (context: string) => {
      for (const args of READERS) {
        const r = cald([...args, '--store', store]);
        assert.equal(r.status, 0, `${args.join(' ')} on a read-only store ${context}: ${r.stderr}`);
      }
    };
    readAll('');
    // Without its index (which cannot be rebuilt there): the readers rebuild it in memory.
    assert.equal(spawnSync('mount', ['-o', 'remount,rw', mnt]).status, 0);
    for (const f of readdirSync(store)) if (f.startsWith('index.sqlite')) rmSync(join(store, f));
    assert.equal(spawnSync('mount', ['-o', 'remount,ro', mnt]).status, 0);
    readAll('without its index');
    const listed = cald(['list', '--store', store, '--json']);
    assert.match(listed.stdout, /"true"/, 'the program is listed from the files alone');
    assert.deepEqual(readdirSync(join(store, 'objects', 'sha256')).sort(), before);
    checkStoreFiles(store, 'read-only');
  });

  test('a store on another file system than the OS temp directory works', (t) => {
    const mnt = join(dir, 'big');
    const why = mountTmpfs(mnt, '64m');
    if (why !== undefined) return t.skip(why);
    t.after(() => umount(mnt));
    const store = join(mnt, 'store');
    const r = cald(['import', CURL, '--store', store]);
    assert.equal(r.status, 0, r.stderr);
    const digest = importedDigest(r.stdout)!;
    const run = cald(['run', '--store', store, digest, '--version']);
    assert.equal(run.status, 0, run.stderr);
    checkStoreFiles(store, 'tmpfs store');
    assertVerifies(store, 'tmpfs store');
    const gc = cald(['gc', '--store', store]);
    assert.equal(gc.status, 0, gc.stderr);
  });

  test('a store its user cannot write: one line per command (as nobody)', (t) => {
    if (spawnSync('setpriv', ['--version']).status !== 0) return t.skip('setpriv is not available');
    if (process.getuid?.() !== 0) return t.skip('needs root to switch to nobody');
    // The store and everything cald runs from must be reachable by nobody.
    const base = join(mnt0(), 'perm');
    const why = mountTmpfs(base, '64m');
    if (why !== undefined) return t.skip(why);
    t.after(() => {
      umount(base);
      rmSync(dirname(base), { recursive: true, force: true });
    });
    const store = join(base, 'store');
    const made = cald(['import', '/bin/true', '--store', store]);
    assert.equal(made.status, 0, made.stderr);
    chmodSync(base, 0o755);
    const asNobody = (args: string[]) =>
      spawnSync(
        'setpriv',
        ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, ...ENTRY_ARGS, ...args],
        { encoding: 'utf8', env: { ...process.env, HOME: '/nonexistent', CALD_STORE: store } },
      );
    const probe = asNobody(['--version']);
    if (probe.status !== 0)
      return t.skip(`nobody cannot run cald from this tree: ${probe.stderr.trim().split('\n')[0]}`);
    for (const args of [
      ['import', '/bin/true'],
      ['gc'],
      ['roots', 'add', '/etc/hostname'],
      ['index', 'rebuild'],
    ]) {
      const r = asNobody(args);
      assertOneLine(
        { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr },
        `${args.join(' ')} as nobody`,
        /permission denied|not permitted/,
      );
    }
    assertVerifies(store, 'after nobody tried');

    // Reading another user's store needs no writes (a site-wide store read by its users).
    assert.equal(lstatSync(join(store, 'paths')).mode & 0o777, 0o755, 'paths/ is open as / is');
    for (const args of READERS) {
      const r = asNobody(args);
      assert.equal(r.status, 0, `${args.join(' ')} as nobody: ${r.stderr}`);
    }

    // Unreadable directories: the store's own parts closed to other users (0700).
    const closed = [join(store, 'objects', 'sha256'), join(store, 'names'), join(store, 'roots')];
    for (const d of closed) chmodSync(d, 0o700);
    try {
      for (const args of [
        ['verify'],
        ['store', 'info'],
        ['gc', '--dry-run'],
        ['roots', 'list'],
        ['run', 'true'],
      ]) {
        const r = asNobody(args);
        assertOneLine(
          { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr },
          `${args.join(' ')} as nobody with unreadable directories`,
          /permission denied|not permitted|cannot/,
        );
      }
    } finally {
      for (const d of closed) chmodSync(d, 0o755);
    }
    assertVerifies(store, 'after nobody met unreadable directories');
  });
});

/** A directory outside any private temp dir, so nobody can traverse to it (/tmp is 1777). */
function mnt0(): string {
  const d = join('/tmp', `cald-disk-perm-${process.pid}`);
  mkdirSync(d, { recursive: true, mode: 0o755 });
  chmodSync(d, 0o755);
  return d;
}

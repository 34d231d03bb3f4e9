// The launcher's and `cald run`'s side of docs/threat-model.md, findings 3 and 6 of issue 8 written
// as the attack: a changed program object, an inherited CALD_STORE naming another store, a changed
// stored loader, the object swapped between cald run's check and its exec, a missing audit
// library, store paths that would split a search path. Each is refused with one line; the
// legitimate run beside it still works.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { prepareRun } from '../../src/api/run.js';
import { fillLauncher, type LauncherValues, readLauncher } from '../../src/runtime/index.js';
import { cald } from '../cli/cald.js';
import { buildRuntimeFixture, NATIVE_DIR, testEnv } from './fixture.js';

const f = buildRuntimeFixture({ after: (fn) => process.on('exit', fn) });
const env = testEnv(f.store);
const bin = join(f.dir, 'bin-threat');
const template = join(NATIVE_DIR, 'cald-launch');
let n = 0;

for (const name of [f.name, f.otherLoader.name]) {
  const r = cald(['install', name, '--bin', bin], { env });
  assert.equal(r.status, 0, r.stderr);
}
const installed = readLauncher(readFileSync(join(bin, f.name)));

function launcherWith(values: Partial<LauncherValues>, from = installed): string {
  const path = join(bin, `variant-${n++}`);
  writeFileSync(path, fillLauncher(readFileSync(template), { ...from, ...values }), { mode: 0o755 });
  return path;
}
function launch(path: string, args: readonly string[], extra: Record<string, string> = {}) {
  const r = spawnSync(path, [...args], { env: extra, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** A copy of the store whose file at `object` (a path in f.store) has one byte flipped. */
function changedCopy(object: string): { store: string; object: string } {
  const store = join(f.dir, `changed-${n++}`);
  cpSync(f.store, store, { recursive: true, verbatimSymlinks: true });
  const copy = object.replace(f.store, store);
  const b = readFileSync(copy);
  b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 1; // the last byte: the file still loads and runs
  chmodSync(copy, 0o755);
  writeFileSync(copy, b);
  chmodSync(copy, 0o555);
  return { store, object: copy };
}

test('finding 3: the launcher refuses a changed program object, naming it', () => {
  const ok = launch(join(bin, f.name), ['x']);
  assert.equal(ok.status, 0, ok.stderr);
  const bad = changedCopy(f.object);
  const r = launch(launcherWith({ store: bad.store }), ['x']);
  assert.equal(r.status, 126);
  assert.equal(
    r.stderr,
    `cald-launch: refusing to run the program ${bad.object}: it has another sha256 than its name (changed or corrupted); delete it and import the program again\n`,
  );
  assert.equal(r.stdout, '');
});

test("finding 3: the launcher verifies through the resolver's cache: an entry once hashed, used while unchanged", async () => {
  const cache = join(f.dir, `cache-${n++}`);
  const st = statSync(f.object);
  await new Promise((r) => setTimeout(r, Math.max(0, st.ctimeMs + 1100 - Date.now())));
  const first = launch(join(bin, f.name), ['x'], { XDG_CACHE_HOME: cache });
  assert.equal(first.status, 0, first.stderr);
  const entries = readdirSync(join(cache, 'cald', 'verified'));
  const sig = `${f.digest.hex}-${st.dev}-${st.ino}-${st.size}-`;
  assert.ok(
    entries.some((e) => e.startsWith(sig)),
    `no entry ${sig}… in ${entries.join(' ')}`,
  );
  // The entry vouches for the object only while its signature holds: a changed copy is hashed.
  const bad = changedCopy(f.object);
  const r = launch(launcherWith({ store: bad.store }), ['x'], { XDG_CACHE_HOME: cache });
  assert.equal(r.status, 126);
  assert.match(r.stderr, /it has another sha256 than its name/);
});

test('finding 3: an inherited CALD_STORE does not choose the store of an installed launcher', () => {
  const bad = changedCopy(f.object);
  const r = launch(join(bin, f.name), ['x'], { CALD_STORE: bad.store, CALD_DEBUG: '1' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`^cald-launch: exec: ${f.object}$`, 'm'));
  assert.match(r.stdout, /^word-from-libword argc=2$/m);
});

test('finding 3: the stored loader is verified before it runs', () => {
  const other = readLauncher(readFileSync(join(bin, f.otherLoader.name)));
  const ok = launch(join(bin, f.otherLoader.name), ['x']);
  assert.equal(ok.status, 0, ok.stderr);
  const bad = changedCopy(f.otherLoader.loader);
  const r = launch(launcherWith({ store: bad.store }, other), ['x']);
  assert.equal(r.status, 126);
  assert.equal(
    r.stderr,
    `cald-launch: refusing to run the stored loader ${bad.object}: it has another sha256 than its name (changed or corrupted); delete it and import the program again\n`,
  );
});

test('finding 3: cald run executes what it verified: an object swapped after the check is refused', async () => {
  const store = join(f.dir, `swap-${n++}`);
  cpSync(f.store, store, { recursive: true, verbatimSymlinks: true });
  const prepared = await prepareRun({
    program: f.name,
    args: ['--exe'],
    store,
    env: { ...env, CALD_STORE: undefined },
  });
  const start = () =>
    spawnSync(prepared.file, prepared.args, { argv0: prepared.argv0, env: prepared.env, encoding: 'utf8' });
  const ok = start();
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^word-from-libword argc=2$/m);
  assert.match(
    ok.stdout,
    new RegExp(`^exe=${prepared.target.path}$`, 'm'),
    '/proc/self/exe: the store object',
  );
  // Between cald run's check and its exec the owner's file is replaced (rename, as an import would).
  const object = prepared.target.path;
  const b = readFileSync(object);
  b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 1;
  writeFileSync(`${object}.new`, b, { mode: 0o555 });
  renameSync(`${object}.new`, object);
  const r = start();
  assert.equal(r.status, 126);
  assert.equal(
    r.stderr,
    `cald-launch: refusing to run the program ${object}: it has another sha256 than its name (changed or corrupted); delete it and import the program again\n`,
  );
});

test('finding 6: a launcher whose audit library is missing refuses to start the program', () => {
  const gone = join(f.dir, 'gone', 'libcald-audit.so');
  const r = launch(launcherWith({ audit: gone }), ['x']);
  assert.equal(r.status, 127);
  assert.equal(
    r.stderr,
    `cald-launch: refusing to start the program unverified: cannot use the audit library ${gone}: No such file or directory; reinstall cald, then cald install the command again\n`,
  );
  assert.equal(r.stdout, '');
});

test('finding 6: cald env refuses without the audit library; names mode says whom it trusts', () => {
  const empty = join(f.dir, `no-native-${n++}`);
  mkdirSync(empty);
  const r = cald(['env'], { env: { ...env, CALD_NATIVE_DIR: empty } });
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr.split('\n')[0]!, new RegExp(`^cald: ${empty}/libcald-audit.so is missing`));
  const names = cald(['env', '--mode', 'names'], { env });
  assert.equal(names.status, 0, names.stderr);
  assert.equal(
    names.stdout.split('\n')[0],
    "# cald: names mode trusts the store's owner: libraries are found by name in <store>/names and not verified (docs/threat-model.md)",
  );
});

test('finding 6: a store path with : ; $ or a newline is refused where it would reach a search path', () => {
  for (const bad of ['/tmp/a:b', '/tmp/a;b', '/tmp/a$b', '/tmp/a\nb']) {
    for (const args of [
      ['env', '--mode', 'names', '--store', bad],
      ['run', '--mode', 'names', '--store', bad, f.name],
    ]) {
      const r = cald(args, { env });
      assert.notEqual(r.status, 0, JSON.stringify(args));
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr.split('\n')[0]!,
        /^cald: the name directory ".*" contains ':', ';', '\$' or a newline, which would split or expand the search path it goes into$/,
      );
    }
  }
});

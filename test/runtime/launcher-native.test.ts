// The native launcher itself (native/cald-launch.c, no libc on x86-64/AArch64): its image, and the
// paths launcher.test.ts does not take: the hash fallback when the host loader's stat signature
// changed, no interpreter note, an inherited LD_AUDIT, CALD_DEBUG, exec failures, signals sent to
// the command's pid, a large environment. Launchers are filled directly with fillLauncher.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fillLauncher, type LauncherValues, readLauncher } from '../../src/runtime/index.js';
import { cald } from '../cli/cald.js';
import { buildRuntimeFixture, NATIVE_DIR, testEnv } from './fixture.js';

const f = buildRuntimeFixture({ after: (fn) => process.on('exit', fn) });
const env = testEnv(f.store);
const bin = join(f.dir, 'bin-native');
const template = join(NATIVE_DIR, 'cald-launch');
const audit = join(NATIVE_DIR, 'libcald-audit.so');

const r0 = cald(['install', f.name, '--bin', bin], { env });
assert.equal(r0.status, 0, r0.stderr);
const installed = readLauncher(readFileSync(join(bin, f.name)));

/** Writes a launcher with the installed values changed by `values`. */
function launcherWith(name: string, values: Partial<LauncherValues>): string {
  const path = join(bin, name);
  writeFileSync(path, fillLauncher(readFileSync(template), { ...installed, ...values }), { mode: 0o755 });
  return path;
}

function launch(path: string, args: readonly string[], extra: Record<string, string> = {}) {
  const r = spawnSync(path, [...args], { env: extra, encoding: 'utf8' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const native = ['x64', 'arm64'].includes(process.arch);

test('the launcher is a small static program with no loader of its own', (t) => {
  const bytes = readFileSync(template);
  assert.equal(bytes.subarray(0, 4).toString('latin1'), '\x7fELF');
  if (!native) {
    t.skip(`libc build on ${process.arch}`);
    return;
  }
  assert.ok(bytes.length < 64 * 1024, `${bytes.length} bytes`);
  // No PT_INTERP (3) and no PT_DYNAMIC (2): the kernel starts it directly, nothing to relocate.
  const phoff = Number(bytes.readBigUInt64LE(32));
  const phnum = bytes.readUInt16LE(56);
  const types = Array.from({ length: phnum }, (_, i) => bytes.readUInt32LE(phoff + i * 56));
  assert.ok(!types.includes(3) && !types.includes(2), `program headers ${types.join(',')}`);
  assert.equal(bytes.readUInt16LE(16), 2, 'ET_EXEC');
});

test('the template as built says it has no program and exits 127', () => {
  const r = launch(template, []);
  assert.equal(r.status, 127);
  assert.equal(
    r.stderr,
    'cald-launch: this launcher has no program in it; make one with: cald install PROGRAM --bin DIR\n',
  );
});

test('a changed stat signature of the host loader falls back to hashing it, then execs directly', () => {
  const cmd = launcherWith('stale-sig', { 'interp-sig': '1-2-3-4.000000000-5.000000000' });
  const r = launch(cmd, ['--exe'], { CALD_DEBUG: '1' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^cald-launch: host loader changed on disk but has the same content; .*ld-linux/m);
  assert.match(r.stdout, new RegExp(`^exe=${f.object}$`, 'm'));
  const quiet = launch(cmd, ['--exe']);
  assert.doesNotMatch(quiet.stderr, /cald-launch/, 'says nothing without CALD_DEBUG');
});

test('CALD_DEBUG=1 names the object it execs; other values are quiet', () => {
  const cmd = join(bin, f.name);
  assert.match(
    launch(cmd, [], { CALD_DEBUG: '1' }).stderr,
    new RegExp(`^cald-launch: exec: ${f.object}$`, 'm'),
  );
  assert.doesNotMatch(launch(cmd, [], { CALD_DEBUG: '0' }).stderr, /cald-launch/);
});

test('no interpreter note: exec directly with no check', () => {
  const cmd = launcherWith('no-note', {
    interp: '/nonexistent/ld.so',
    'interp-digest': '',
    'interp-sig': '',
  });
  const r = launch(cmd, ['--exe']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^exe=${f.object}$`, 'm'));
});

test('an inherited LD_AUDIT not naming the resolver is kept after it; CALD_STORE replaced, once', () => {
  const cmd = join(bin, f.name);
  const r = launch(cmd, ['--env', 'LD_AUDIT', '--env', 'CALD_STORE', '--env', 'OTHER'], {
    LD_AUDIT: '/nonexistent/other-audit.so',
    CALD_STORE: '',
    OTHER: 'kept=as:is',
  });
  assert.match(r.stdout, new RegExp(`^LD_AUDIT=${audit}:/nonexistent/other-audit\\.so$`, 'm'));
  assert.match(r.stdout, new RegExp(`^CALD_STORE=${f.store}$`, 'm'), 'an empty CALD_STORE means the slot');
  assert.match(r.stdout, /^OTHER=kept=as:is$/m);
  const e = spawnSync('/bin/sh', ['-c', `exec ${cmd} --env X`], { env: { X: 'x' }, encoding: 'utf8' });
  assert.match(e.stdout, /^X=x$/m);
});

test('a large environment and many arguments pass through', () => {
  const cmd = join(bin, f.name);
  const big: Record<string, string> = {};
  for (let i = 0; i < 500; i++) big[`V${i}`] = 'x'.repeat(100);
  big.LD_AUDIT = `/nonexistent/${'a'.repeat(3000)}.so`;
  const args = Array.from({ length: 300 }, (_, i) => `arg${i}`);
  const r = launch(cmd, [...args, '--env', 'V499', '--env', 'LD_AUDIT'], big);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /argc=305$/m);
  assert.match(r.stdout, /^argv\[301\]=\[--env\]$/m);
  assert.match(r.stdout, /^V499=x{100}$/m);
  assert.match(r.stdout, new RegExp(`^LD_AUDIT=${audit}:/nonexistent/a{3000}\\.so$`, 'm'));
});

test('an object that cannot be executed: 126 and the reason', () => {
  const store = join(f.dir, 'bad-store');
  const hex = f.digest.hex;
  mkdirSync(join(store, 'objects', 'sha256'), { recursive: true });
  const obj = join(store, 'objects', 'sha256', hex);
  copyFileSync(f.object, obj);
  chmodSync(obj, 0o644);
  const r = launch(launcherWith('no-exec', { store }), []);
  assert.equal(r.status, 126);
  assert.equal(r.stderr, `cald-launch: cannot run ${obj}: Permission denied\n`);
});

test('a missing stored loader: 127 naming it', () => {
  const cmd = launcherWith('lost-loader', {
    'interp-digest': `sha256:${'0'.repeat(64)}`,
    'interp-sig': '',
  });
  const r = launch(cmd, []);
  assert.equal(r.status, 127);
  assert.match(
    r.stderr,
    new RegExp(`^cald-launch: cannot run ${f.store}/objects/sha256/${'0'.repeat(64)}: No such file`),
  );
});

test('the command’s pid is the program’s: a signal sent to it reaches the program', async () => {
  const child = spawn(join(bin, f.name), ['--wait'], { env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((ok) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) ok();
    });
  });
  child.kill('SIGTERM');
  const status = await new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  assert.equal(status, 40 + 15);
  assert.match(out, /got SIGTERM/);
});

test('the installed file keeps the template’s size', () => {
  assert.equal(statSync(join(bin, f.name)).size, statSync(template).size);
});

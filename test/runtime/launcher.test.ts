// `cald install` and the native launcher: output, arguments, stdin, status, signals and argv[0]
// as the original, under `env -i`; a moved store through CALD_STORE; the stored loader when the
// host's is not the one in the note; start-up measured (reported, not asserted).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readLauncher } from '../../src/runtime/index.js';
import { cald } from '../cli/cald.js';
import { buildRuntimeFixture, NATIVE_DIR, runOriginal, testEnv } from './fixture.js';

const f = buildRuntimeFixture({ after: (fn) => process.on('exit', fn) });
const env = testEnv(f.store);
const bin = join(f.dir, 'bin');

function install(args: string[]) {
  const r = cald(['install', ...args, '--bin', bin], { env });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

/** Runs a launcher with an empty environment plus `extra` (env -i). */
function launch(path: string, args: readonly string[], extra: Record<string, string> = {}, input?: string) {
  const r = spawnSync(path, [...args], {
    env: extra,
    encoding: 'utf8',
    ...(input === undefined ? {} : { input }),
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const cmd = join(bin, 'argv-prog');
install([f.name]);

test('install writes an executable copy of the launcher with the slots filled', () => {
  const st = statSync(cmd);
  assert.equal(st.mode & 0o777, 0o755);
  assert.equal(st.size, statSync(join(NATIVE_DIR, 'cald-launch')).size);
  const v = readLauncher(readFileSync(cmd));
  assert.equal(v.target, f.digest.toString());
  assert.equal(v.store, f.store);
  assert.equal(v.audit, join(NATIVE_DIR, 'libcald-audit.so'));
  assert.equal(v.interp, '/lib64/ld-linux-x86-64.so.2');
  assert.match(v['interp-digest'], /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(v['interp-sig'], '', 'the host loader matched at install');
  const json = cald(['install', f.uri, '--bin', bin, '--name', 'by-uri', '--json'], { env });
  assert.equal(json.status, 0, json.stderr);
  assert.equal((JSON.parse(json.stdout) as { name: string }).name, 'by-uri');
});

test('--name repeated writes one launcher per name, each running under its own name; a bad name writes none', () => {
  const r = cald(['install', f.name, '--bin', bin, '--name', 'one', '--name', 'two', '--json'], { env });
  assert.equal(r.status, 0, r.stderr);
  const results = JSON.parse(r.stdout) as Array<{ name: string; path: string; digest: string }>;
  assert.deepEqual(
    results.map((x) => [x.name, x.digest]),
    [
      ['one', f.digest.toString()],
      ['two', f.digest.toString()],
    ],
  );
  for (const { name, path } of results) {
    assert.match(launch(path, []).stdout, new RegExp(`^argv\\[0\\]=\\[${path}\\]$`, 'm'), name);
    const bare = spawnSync(name, [], { env: { PATH: bin }, encoding: 'utf8' });
    assert.match(bare.stdout, new RegExp(`^argv\\[0\\]=\\[${name}\\]$`, 'm'), `${name} found on PATH`);
  }
  const bad = cald(['install', f.name, '--bin', bin, '--name', 'three', '--name', 'a/b'], { env });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /^cald: bad command name "a\/b"/);
  assert.throws(() => statSync(join(bin, 'three')), /ENOENT/, 'nothing written when one name is bad');
});

test('the launcher under env -i behaves as the original: output, args, stdin, status, argv[0]', () => {
  const args = ['one', 'with space', 'new\nline', '', '--help'];
  const want = runOriginal(f, args);
  const got = launch(cmd, args);
  assert.equal(got.stdout.replace(`argv[0]=[${cmd}]`, 'argv[0]=[argv-prog]'), want.stdout);
  assert.equal(got.stderr, want.stderr);
  assert.equal(got.status, 0);
  assert.match(got.stdout, new RegExp(`^argv\\[0\\]=\\[${cmd}\\]$`, 'm'), 'argv[0] is kept as given');
  assert.equal(launch(cmd, ['--cat'], {}, 'in\nput').stdout.endsWith('in\nput'), true);
  assert.equal(launch(cmd, ['--exit', '3']).status, 3);
  assert.equal(launch(cmd, ['--kill', '15']).signal, 'SIGTERM', 'exec: the signal is the program’s own');
  const e = launch(cmd, ['--env', 'LD_AUDIT', '--env', 'CALD_STORE', '--env', 'PATH', '--exe']);
  assert.match(e.stdout, /^LD_AUDIT=\/.*libcald-audit\.so$/m);
  assert.match(e.stdout, new RegExp(`^CALD_STORE=${f.store}$`, 'm'));
  assert.match(e.stdout, /^PATH=\(unset\)$/m, 'nothing else is added');
  assert.match(e.stdout, new RegExp(`^exe=${f.object}$`, 'm'));
});

test('an existing LD_AUDIT is kept after the resolver, once', () => {
  const audit = join(NATIVE_DIR, 'libcald-audit.so');
  const r = launch(cmd, ['--env', 'LD_AUDIT'], { LD_AUDIT: audit });
  assert.match(r.stdout, new RegExp(`^LD_AUDIT=${audit}$`, 'm'));
});

test('a moved store works with CALD_STORE only for a launcher installed --store-from-env', () => {
  install([f.name, '--name', 'argv-prog-env', '--store-from-env']);
  const follows = join(bin, 'argv-prog-env');
  const moved = join(f.dir, 'moved-store');
  renameSync(f.store, moved);
  try {
    const ok = launch(follows, ['x'], { CALD_STORE: moved });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^word-from-libword argc=2$/m);
    const ignored = launch(cmd, ['x'], { CALD_STORE: moved });
    assert.equal(ignored.status, 127, 'an inherited CALD_STORE is ignored by default');
    assert.equal(
      ignored.stderr,
      `cald-launch: cannot run the program: ${f.store} does not exist (is the store ${f.store} the one the program was installed from?)\n`,
    );
  } finally {
    renameSync(moved, f.store);
  }
});

test('the launcher runs the stored loader when the host ld.so is not the noted one', () => {
  install([f.otherLoader.name]);
  const r = launch(join(bin, f.otherLoader.name), ['a', '--exe'], { CALD_DEBUG: '1' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /running the stored loader .* explicitly/);
  assert.match(r.stdout, /^word-from-libword argc=3$/m);
  assert.match(r.stdout, new RegExp(`^argv\\[0\\]=\\[${join(bin, f.otherLoader.name)}\\]$`, 'm'));
  assert.match(r.stdout, new RegExp(`^exe=${f.otherLoader.loader}$`, 'm'));
});

test('launcher start-up, measured', (t) => {
  const n = 200;
  const time = (file: string, env2: Record<string, string>) => {
    const runs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      spawnSync(file, [], { env: env2, stdio: 'ignore' });
      runs.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    runs.sort((a, b) => a - b);
    return runs[n >> 1] ?? 0;
  };
  const stock = time(f.original, { LD_LIBRARY_PATH: f.hostLibDir });
  const launcher = time(cmd, {});
  t.diagnostic(
    `median of ${n} spawns from node: stock ${stock.toFixed(0)} us, launcher ${launcher.toFixed(0)} us, ratio ${(launcher / stock).toFixed(3)}`,
  );
});

// `cald run` end to end on a cas-named fixture program in a real store: output, arguments,
// stdin, exit status, signals both ways, argv[0], the ways of naming the program, names mode,
// and the stored loader run explicitly when the host's ld.so is not the one in the note.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cald, entrySource, NODE_FLAGS } from '../cli/cald.js';
import { buildRuntimeFixture, runOriginal, testEnv } from './fixture.js';

const f = buildRuntimeFixture({ after: (fn) => process.on('exit', fn) });
const env = testEnv(f.store);
const runCald = (args: readonly string[], input?: string) =>
  cald(['run', ...args], { env, ...(input === undefined ? {} : { input }) });
/** The launcher `cald run` gives as argv[0] (docs/running.md, "Self-exec"). */
const launcherOf = (digest: { hex: string }, name: string, store = f.store) =>
  join(store, 'launchers', digest.hex, name);
/** Output with argv[0] given back as the bare name the original was run with. */
const bareArgv0 = (out: string, digest = f.digest, name = f.name) =>
  out.replace(`argv[0]=[${launcherOf(digest, name)}]`, `argv[0]=[${name}]`);

test('cald run gives the same stdout, stderr and status as the original, argv[0] a launcher named as invoked', () => {
  const args = ['one', 'with space', 'new\nline', '', '--flag', '-x'];
  const want = runOriginal(f, args);
  const got = runCald([f.name, ...args]);
  assert.equal(bareArgv0(got.stdout), want.stdout);
  assert.equal(got.stderr, want.stderr);
  assert.equal(got.status, 0);
  assert.ok(got.stdout.includes(`argv[0]=[${launcherOf(f.digest, 'argv-prog')}]\n`), got.stdout);
  assert.match(got.stdout, /^argv\[3\]=\[new\nline\]$/m);
  assert.match(got.stdout, /^argv\[4\]=\[\]$/m);
  assert.match(got.stdout, /^word-from-libword argc=7$/m);
});

test('stdin is passed through', () => {
  const input = 'line 1\nline 2 \u00e9\n\u0000binary';
  const got = runCald([f.name, '--cat'], input);
  assert.equal(got.status, 0, got.stderr);
  assert.equal(bareArgv0(got.stdout), runOriginal(f, ['--cat'], input).stdout);
  assert.ok(got.stdout.includes(input));
});

test('the exit status is mirrored', () => {
  const got = runCald([f.name, '--exit', '3']);
  assert.equal(got.status, 3);
  assert.equal(got.signal, null);
});

test('a program that kills itself with SIGTERM makes cald die with SIGTERM', () => {
  const got = runCald([f.name, '--kill', '15']);
  assert.equal(got.signal, 'SIGTERM');
  assert.equal(got.status, null);
  const segv = runCald([f.name, '--kill', '10']); // SIGUSR1: default action terminates
  assert.equal(segv.signal, 'SIGUSR1');
});

async function signalled(sig: NodeJS.Signals): Promise<{ status: number | null; stdout: string }> {
  const entry = entrySource('process.argv.slice(1)');
  // detached: a session of its own, so cald has no terminal and passes every signal on.
  const child = spawn(
    process.execPath,
    [...NODE_FLAGS, '--input-type=module', '-e', entry, '--', 'run', f.name, '--wait'],
    {
      env: { ...process.env, ...env, CALD_DEBUG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr += s;
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    stdout += s;
    if (stdout.includes('ready\n') && !child.killed) child.kill(sig);
  });
  const [status, signal] = (await once(child, 'close')) as [number | null, string | null];
  return {
    status,
    stdout: `${stdout}\n(status ${status} signal ${signal} stderr ${JSON.stringify(stderr)})`,
  };
}

test('SIGINT and SIGTERM sent to cald reach the program', async () => {
  const int = await signalled('SIGINT');
  assert.match(int.stdout, /got SIGINT/);
  assert.equal(int.status, 40 + 2);
  const term = await signalled('SIGTERM');
  assert.match(term.stdout, /got SIGTERM/);
  assert.equal(term.status, 40 + 15);
});

test('the program can be named by cas: URI, digest, hex prefix or path; --argv0 and -- work', () => {
  const line0 = (out: string) => out.split('\n').find((l) => l.startsWith('argv[0]='));
  const asImported = `argv[0]=[${launcherOf(f.digest, 'argv-prog')}]`;
  assert.equal(line0(runCald([f.uri]).stdout), asImported, 'URI: its hint');
  assert.equal(line0(runCald([f.digest.toString()]).stdout), asImported, 'digest: the root name');
  assert.equal(line0(runCald([f.digest.hex.slice(0, 10)]).stdout), asImported, 'prefix: the root name');
  assert.equal(
    line0(runCald([`cas:${f.digest}?name=other-name`]).stdout),
    `argv[0]=[${launcherOf(f.digest, 'other-name')}]`,
    "URI: the hint is the name it was invoked by, whatever the root's name",
  );
  assert.equal(line0(runCald(['--argv0', 'renamed', f.name]).stdout), 'argv[0]=[renamed]', '--argv0 exactly');
  assert.equal(line0(runCald(['--', f.name, '--help']).stdout), asImported);
  assert.match(runCald([f.name, '--', '--mode']).stdout, /argv\[1\]=\[--\]\nargv\[2\]=\[--mode\]/);
  const byPath = runCald([f.noNote, 'x']);
  assert.equal(byPath.status, 0, byPath.stderr);
  assert.equal(line0(byPath.stdout), `argv[0]=[${f.noNote}]`);
});

test('argv[0] leads back to the same object with no cald: a program can start itself again', () => {
  // Run the argv[0] cald gave, as a program would (CPython's sys.executable), with nothing of
  // cald's in the environment: the launcher runs the same object, with the audit resolver.
  const path = launcherOf(f.digest, f.name);
  for (const mode of ['audit', 'names']) {
    const first = runCald(['--mode', mode, f.name, '--exe']);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`^exe=${f.object}$`, 'm'), mode);
    assert.ok(first.stdout.includes(`argv[0]=[${path}]`), `${mode}: ${first.stdout}`);
    const again = spawnSync(path, ['again', '--exe', '--env', 'LD_AUDIT'], {
      env: { PATH: '/usr/bin:/bin' },
      encoding: 'utf8',
    });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /^word-from-libword argc=5$/m, 'its cas: library resolved');
    assert.match(again.stdout, new RegExp(`^exe=${f.object}$`, 'm'), 'the same object');
    assert.match(again.stdout, /^LD_AUDIT=\/.*\/libcald-audit\.so$/m, 'through the resolver');
  }
  // The stored-loader case: the launcher runs the stored loader the same way cald run does.
  const other = runCald([f.otherLoader.name, '--exe']);
  const otherPath = launcherOf(f.otherLoader.digest, f.otherLoader.name);
  assert.ok(other.stdout.includes(`argv[0]=[${otherPath}]`), other.stdout);
  const otherAgain = spawnSync(otherPath, ['--exe'], { env: {}, encoding: 'utf8' });
  assert.equal(otherAgain.status, 0, otherAgain.stderr);
  assert.match(otherAgain.stdout, new RegExp(`^exe=${f.otherLoader.loader}$`, 'm'));
  assert.ok(otherAgain.stdout.includes(`argv[0]=[${otherPath}]`), otherAgain.stdout);
});

test('where no launcher can be written argv[0] is the bare name, and CALD_DEBUG says why', () => {
  // A file where launchers/ belongs makes the write fail as a read-only store would (also as root).
  const copy = join(f.dir, 'store-no-launchers');
  cpSync(f.store, copy, { recursive: true, verbatimSymlinks: true });
  rmSync(join(copy, 'launchers'), { recursive: true, force: true });
  writeFileSync(join(copy, 'launchers'), 'not a directory');
  const r = cald(['run', f.name], { env: { ...env, CALD_STORE: copy, CALD_DEBUG: '1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^argv\[0\]=\[argv-prog\]$/m);
  assert.match(r.stderr, /^cald: argv\[0\] "argv-prog" \(no launcher for self-exec: /m);
});

test('unknown programs exit 127 with one line; a malformed name is a usage error', () => {
  const r = runCald(['no-such-program']);
  assert.equal(r.status, 127);
  assert.match(r.stderr, /^cald: no-such-program is not an imported program/);
  const bad = runCald(['cas:sha256:1234']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^cald: bad sha256 digest "1234"/);
  // A usage error is pointed at run's help, as commander's own are (docs/cli.md, "Errors").
  assert.match(bad.stderr, /\nhint: see 'cald run --help'\n$/);
  const mode = runCald(['--mode', 'bogus', f.name]);
  assert.equal(mode.status, 2);
  assert.equal(
    mode.stderr,
    `cald: unknown mode "bogus": expected audit or names\nhint: see 'cald run --help'\n`,
  );
});

test('--mode names runs through <store>/names on LD_LIBRARY_PATH', () => {
  const r = runCald(['--mode', 'names', f.name, '--env', 'LD_LIBRARY_PATH', '--env', 'LD_AUDIT']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^LD_LIBRARY_PATH=${f.store}/names$`, 'm'));
  assert.match(r.stdout, /^LD_AUDIT=\(unset\)$/m);
  const audit = runCald([f.name, '--env', 'LD_AUDIT', '--env', 'CALD_STORE']);
  assert.match(audit.stdout, /^LD_AUDIT=\/.*\/libcald-audit\.so$/m);
  assert.match(audit.stdout, new RegExp(`^CALD_STORE=${f.store}$`, 'm'));
});

test('a changed program object is refused before it runs', () => {
  const copy = join(f.dir, 'store-tampered');
  cpSync(f.store, copy, { recursive: true, verbatimSymlinks: true });
  const object = join(copy, 'objects', 'sha256', f.digest.hex);
  chmodSync(object, 0o755);
  const bytes = readFileSync(object);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
  writeFileSync(object, bytes);
  const r = cald(['run', f.name], { env: { ...env, CALD_STORE: copy } });
  assert.equal(r.status, 126);
  assert.match(
    r.stderr,
    /^cald: refusing cas:sha256:[0-9a-f]{64}\?name=\S+: .* has sha256:[0-9a-f]{64}, not the hash in its name/,
  );
  assert.doesNotMatch(r.stdout, /argv/);
});

test('when the host ld.so is not the one in the note, the stored loader runs explicitly', () => {
  const r = cald(['run', f.otherLoader.name, 'a b', '--exe'], { env: { ...env, CALD_DEBUG: '1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /running the stored loader explicitly/);
  assert.ok(r.stdout.includes(`argv[0]=[${launcherOf(f.otherLoader.digest, 'other-prog')}]\n`), r.stdout);
  assert.match(r.stdout, /^argv\[1\]=\[a b\]$/m);
  assert.match(r.stdout, /^word-from-libword argc=3$/m);
  // What differs: /proc/self/exe is the loader, not the program.
  assert.match(r.stdout, new RegExp(`^exe=${f.otherLoader.loader}$`, 'm'));
  const direct = cald(['run', f.name, '--exe'], { env: { ...env, CALD_DEBUG: '1' } });
  assert.match(direct.stdout, new RegExp(`^exe=${f.object}$`, 'm'));
  assert.match(direct.stderr, /^cald: exec .* \(host loader/m);
});

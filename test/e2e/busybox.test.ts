// Issue 9: a multi-call program (Debian's busybox) chooses what it does by the basename of argv[0].
// Imported once, it is run as three different commands (wc, basename, echo) through three
// launchers of one object (`cald install --name` repeated), through `cald run` by URI hint and by
// --argv0, and compared with busybox itself run under the same names. A launcher exec'd with an
// empty argv[0] runs under its own name; the argv[0] `cald run` gives leads back to the object.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { cald } from '../cli/cald.js';
import { makeTmp } from '../helpers/tmp.js';
import { baseEnv, caldCli, importInto } from './e2e.js';

const BUSYBOX = ['/usr/bin/busybox', '/bin/busybox'].find((p) => existsSync(p));
const skip = BUSYBOX === undefined ? 'busybox is not installed (Debian package busybox)' : false;

/** The commands, each with arguments and stdin, and what busybox prints for them. */
const COMMANDS = [
  { name: 'wc', args: ['-l'], input: 'one\ntwo\nthree\n' },
  { name: 'basename', args: ['/usr/lib/libz.so.1', '.so.1'], input: '' },
  { name: 'echo', args: ['by', 'content'], input: '' },
] as const;

interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runAs(
  file: string,
  argv0: string,
  args: readonly string[],
  input: string,
  env: Record<string, string>,
): Out {
  const r = spawnSync(file, [...args], { argv0, input, env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.error ? String(r.error) : r.stderr };
}

test('busybox answers as three commands through launchers and cald run', { skip }, () => {
  const dir = makeTmp({ after: (fn) => process.on('exit', fn) }, 'e2e-busybox');
  const env = baseEnv(join(dir, 'home'));
  const store = join(dir, 'store');
  const bin = join(dir, 'bin');
  const imp = importInto(store, [BUSYBOX!], env);
  const original = (c: (typeof COMMANDS)[number]) => runAs(BUSYBOX!, c.name, c.args, c.input, env);
  for (const c of COMMANDS) {
    const want = original(c);
    assert.equal(want.status, 0, `busybox ${c.name} itself: ${want.stderr}`);
    assert.notEqual(want.stdout, '', `busybox ${c.name} prints something (the comparison can fail)`);
  }

  const names = COMMANDS.flatMap((c) => ['--name', c.name]);
  const inst = caldCli(['install', imp.program.digest, '--bin', bin, '--store', store, ...names], env);
  assert.equal(inst.status, 0, inst.stderr);
  assert.equal(inst.stdout.trim().split('\n').length, COMMANDS.length, inst.stdout);

  for (const c of COMMANDS) {
    const want = original(c);
    const launcher = join(bin, c.name);
    // By path, and found on PATH by its bare name, as a shell runs it.
    assert.deepEqual(runAs(launcher, launcher, c.args, c.input, env), want, `${c.name}: launcher by path`);
    assert.deepEqual(
      runAs(c.name, c.name, c.args, c.input, { ...env, PATH: `${bin}:${env.PATH}` }),
      want,
      `${c.name}: launcher on PATH`,
    );
    // No argv[0] from the caller: the launcher's own name stands in.
    assert.deepEqual(
      runAs(launcher, '', c.args, c.input, env),
      want,
      `${c.name}: launcher with an empty argv[0]`,
    );

    // cald run by the URI's hint (the name it is invoked by), and by --argv0.
    const uri = `cas:sha256:${imp.program.hex}?name=${c.name}`;
    const byUri = caldRun(['run', '--store', store, uri, ...c.args], c.input, env);
    assert.deepEqual(byUri, want, `${c.name}: cald run ${uri}`);
    const byArgv0 = caldRun(
      ['run', '--store', store, '--argv0', c.name, imp.program.digest, ...c.args],
      c.input,
      env,
    );
    assert.deepEqual(byArgv0, want, `${c.name}: cald run --argv0 ${c.name}`);
  }

  // The argv[0] cald run gives is a launcher of the same object under the invoked name: run by
  // itself (as a program starting itself again would), it is that command again.
  const sh = caldRun(
    [
      'run',
      '--store',
      store,
      `cas:sha256:${imp.program.hex}?name=sh`,
      '-c',
      'echo "$0"; exec "$0" -c "echo \\$(readlink /proc/\\$\\$/exe)"',
    ],
    '',
    env,
  );
  assert.equal(sh.status, 0, sh.stderr);
  const [zero, exe] = sh.stdout.trim().split('\n');
  assert.equal(zero, join(store, 'launchers', imp.program.hex, 'sh'), 'argv[0] is the launcher');
  assert.equal(basename(zero!), 'sh');
  assert.equal(exe, imp.program.object, 'the shell started again by its argv[0] is the same object');
});

function caldRun(args: string[], input: string, env: Record<string, string>): Out {
  const r = cald(args, {
    env: { ...env, LD_AUDIT: undefined, CALD_STORE: undefined },
    replaceEnv: true,
    input,
    timeoutMs: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

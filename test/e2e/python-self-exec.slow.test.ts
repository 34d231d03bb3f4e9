// Issue 9, self-exec: CPython's own test runner with -j2 starts its workers with sys.executable,
// which CPython takes from argv[0] (searching PATH when it has no slash). Run by `cald run` with
// a PATH whose first python3 is a script that leaves a marker and fails, the workers must be the
// same content-addressed object: /proc/PID/exe of every worker seen is the store object, the
// marker is never written, and both test modules pass. Then sys.executable with an empty
// environment and /proc/self/exe, each started from python under cald run: the same object.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ENTRY_ARGS } from '../cli/cald.js';
import { run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { baseEnv, caldCli, importInto, programSpec } from './e2e.js';

const PYTHON = '/usr/bin/python3';
const version = existsSync(PYTHON)
  ? run(PYTHON, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']).stdout.trim()
  : '';
const TESTS = `/usr/lib/python${version}/test`;
const skip = !existsSync(PYTHON)
  ? `${PYTHON} is not installed`
  : !existsSync(join(TESTS, 'test_subprocess.py')) || !existsSync(join(TESTS, 'test_json'))
    ? `python's test suite is not installed (Debian package libpython${version}-testsuite)`
    : false;

/** Every process whose environment names this store and whose command line is a regrtest worker. */
function workers(store: string): Array<{ pid: string; exe: string; argv0: string }> {
  const out: Array<{ pid: string; exe: string; argv0: string }> = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
      if (!cmdline.includes('--worker-args')) continue;
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`CALD_STORE=${store}`))
        continue;
      out.push({ pid, exe: readlinkSync(`/proc/${pid}/exe`), argv0: cmdline[0]! });
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

test('python -m test -j2 under cald run: the workers are the same object, not the first python3 on PATH', {
  skip,
}, async (t) => {
  const dir = makeTmp(t, 'e2e-python-self-exec');
  const env = baseEnv(join(dir, 'home'));
  const store = join(dir, 'store');
  const imp = importInto(store, programSpec('python3').importArgs, env);
  // The name the import printed (python3.11 today: the symlink's target; python3 once names follow the link).
  const name = /\?name=([^\s]+)/.exec(imp.program.uri)?.[1] ?? imp.program.name;

  const fake = join(dir, 'fake-bin');
  const marker = join(dir, 'marker');
  mkdirSync(fake);
  for (const n of new Set(['python3', `python${version}`, name])) {
    writeFileSync(join(fake, n), `#!/bin/sh\necho "$0 $*" >> ${marker}\nexit 3\n`);
    chmodSync(join(fake, n), 0o755);
  }
  const work = join(dir, 'work');
  mkdirSync(work);
  const child = spawn(
    process.execPath,
    [...ENTRY_ARGS, 'run', '--store', store, name, '-m', 'test', '-j2', 'test_subprocess', 'test_json'],
    { cwd: work, env: { ...env, PATH: `${fake}:${env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  const seen = new Map<string, { exe: string; argv0: string }>();
  const poll = setInterval(() => {
    for (const w of workers(store)) seen.set(w.pid, w);
  }, 50);
  const status = await new Promise<number | null>((resolve) => child.on('close', (s) => resolve(s)));
  clearInterval(poll);

  t.diagnostic(
    `${seen.size} worker(s) seen: ${[...seen.values()].map((w) => `${w.exe} (argv[0] ${w.argv0})`).join(', ')}`,
  );
  assert.equal(
    existsSync(marker),
    false,
    `the PATH's python3 was started: ${existsSync(marker) ? readFileSync(marker, 'utf8') : ''}`,
  );
  assert.equal(status, 0, output.slice(-3000));
  assert.match(output, /Tests result: SUCCESS/, output.slice(-3000));
  assert.ok(seen.size > 0, 'a worker was seen (the check can fail)');
  for (const [pid, w] of seen) {
    assert.equal(w.exe, imp.program.object, `worker ${pid}: /proc/${pid}/exe`);
    assert.equal(w.argv0, join(store, 'launchers', imp.program.hex, name), `worker ${pid}: argv[0]`);
  }

  // The other ways to start itself: sys.executable with an empty environment (the launcher brings
  // the resolver back), and /proc/self/exe (the object, with the inherited LD_AUDIT and CALD_STORE).
  const probe = "import os, sys; print(os.readlink('/proc/self/exe'), sys.executable)";
  const code = [
    'import subprocess, sys',
    `probe = ${JSON.stringify(probe)}`,
    'for argv, env in (([sys.executable], {}), (["/proc/self/exe"], None)):',
    '    r = subprocess.run(argv + ["-c", probe], env=env, capture_output=True, text=True)',
    '    print(r.returncode, r.stdout.strip(), r.stderr.strip()[-300:])',
  ].join('\n');
  const ways = caldCli(['run', '--store', store, name, '-c', code], { ...env, PATH: `${fake}:${env.PATH}` });
  assert.equal(ways.status, 0, ways.stderr);
  const launcher = join(store, 'launchers', imp.program.hex, name);
  assert.deepEqual(ways.stdout.split('\n').slice(0, 2), [
    `0 ${imp.program.object} ${launcher} `,
    `0 ${imp.program.object} /proc/self/exe `,
  ]);
  assert.equal(existsSync(marker), false, "the PATH's python3 was never started");
});

// Issue 9/13: every command that takes an object accepts each form any command prints, through
// one parser, and they all land on the same object; malformed forms are usage errors (2), unknown
// ones "not found" (8; run: 127), with "did you mean" for a close program name.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTmp } from '../helpers/tmp.js';
import { cald } from './cald.js';
import { type AppBuilds, assertFails, assertUnchanged, buildApps, storeSnapshot } from './naming-fixture.js';

describe('one way to name an object, for every command', () => {
  const dir = makeTmp({ after }, 'cli-forms');
  const store = join(dir, 'store');
  let apps: AppBuilds;
  let digest = '';
  let line = '';
  /** `cald CMD --store STORE ARGS...`: run takes its options before the program. */
  const withStore = (args: readonly string[]) =>
    args[0] === 'run' ? ['run', '--store', store, ...args.slice(1)] : [...args, '--store', store];
  const ok = (args: string[]) => {
    const r = cald(withStore(args));
    assert.equal(r.status, 0, `cald ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r;
  };
  before(() => {
    apps = buildApps(dir);
    const r = cald(['import', apps.v1Link, '--store', store]);
    assert.equal(r.status, 0, r.stderr);
    line = r.stdout.split('\n')[0]!;
    digest = `sha256:${/cas:sha256:([0-9a-f]{64})/.exec(line)![1]}`;
  });

  const forms = (): Array<[string, string]> => {
    const hex = digest.slice(7);
    return [
      ['program name', 'app'],
      ["the target's name", 'app-1.0'],
      ['URI with ?name=', line.split('  ')[0]!],
      ['URI without ?name=', `cas:${digest}`],
      ['the exact import line', line],
      ['sha256: digest', digest],
      ['64 hex digits', hex],
      ['hex prefix', hex.slice(0, 12)],
      ['root id', 'program-app'],
      ['original path', apps.v1Link],
      ['object path', join(store, 'objects', 'sha256', hex)],
    ];
  };

  test('path, referrers, inspect, install, roots add and ldd/run resolve each form to the same object', () => {
    const before = storeSnapshot(store);
    for (const [what, form] of forms()) {
      const p = JSON.parse(ok(['path', '--json', form]).stdout) as { digest: string; name: string | null };
      assert.equal(p.digest, digest, what);
      assert.equal(p.name === null ? null : ['app', 'app-1.0'].includes(p.name), true, `${what}: ${p.name}`);
      const refs = JSON.parse(ok(['referrers', '--json', form]).stdout) as { digest: string };
      assert.equal(refs.digest, digest, what);
      if (!form.includes('/')) {
        // A path is a file to run or list as it is for run and ldd (and inspect reads any file).
        const l = JSON.parse(ok(['ldd', '--json', form]).stdout) as { program: { digest: string } };
        assert.equal(l.program.digest, digest, `ldd ${what}`);
        assert.match(ok(['run', form, 'x']).stdout, /^app 1 argv0=\S+ argc=2\n$/, `run ${what}`);
        const i = JSON.parse(ok(['inspect', '--json', form]).stdout) as { path: string };
        assert.equal(i.path, join(store, 'objects', 'sha256', digest.slice(7)), `inspect ${what}`);
      }
    }
    assertUnchanged(before, store, 'reading commands');
    for (const [i, [what, form]] of forms().entries()) {
      const bin = join(dir, `bin${i}`);
      const r = ok(['install', form, '--bin', bin, '--name', 'x']);
      assert.match(r.stdout, new RegExp(`^installed ${bin}/x -> ${digest}$`, 'm'), what);
    }
  });

  test('malformed names are usage errors (2) with one line; unknown ones 8 (run: 127) with did-you-mean', () => {
    const before = storeSnapshot(store);
    for (const bad of ['cas:sha256:1234', 'sha256:xyz', `cas:sha256:${'a'.repeat(64)}?name=a$b`, ' ']) {
      for (const cmd of [['run'], ['ldd'], ['path'], ['install'], ['referrers'], ['roots', 'remove']]) {
        assertFails(cald(withStore([...cmd, bad])), 2, /^cald: /, `${cmd.join(' ')} ${JSON.stringify(bad)}`);
      }
    }
    // The exact case: run cas:sha256:1234 is a usage error, not "not found".
    assertFails(
      cald(['run', '--store', store, 'cas:sha256:1234']),
      2,
      /bad sha256 digest "1234"/,
      'run short URI',
    );
    for (const cmd of [['ldd'], ['path'], ['install'], ['referrers'], ['inspect']]) {
      const r = cald([...cmd, 'ap', '--store', store]);
      assertFails(r, 8, /^cald: ap is not an imported program/, `${cmd.join(' ')} ap`);
      assert.match(r.stderr, /^hint: did you mean app\?$/m);
      assert.doesNotMatch(r.stderr, /give a path|containing '\/'/);
    }
    const run = cald(['run', '--store', store, 'ap']);
    assertFails(run, 127, /^cald: ap is not an imported program/, 'run ap');
    assert.match(run.stderr, /did you mean app\?/);
    assertFails(
      cald(['run', '--store', store, `sha256:${'0'.repeat(64)}`]),
      127,
      /is not in the store/,
      'run absent',
    );
    assertFails(
      cald(['path', `sha256:${'0'.repeat(64)}`, '--store', store]),
      8,
      /is not in the store/,
      'path absent',
    );
    assertUnchanged(before, store, 'failed commands');
  });

  test('why-depends and referrers: the chain from a program to libc, and what refers to libc', () => {
    const chain = ok(['why-depends', 'app', 'libc.so.6']).stdout.trimEnd().split('\n');
    assert.equal(chain.length, 2, chain.join('\n'));
    assert.match(chain[0]!, new RegExp(`^app  ${digest}$`));
    const libc = /^ {2}└─ libc\.so\.6 {2}(sha256:[0-9a-f]{64})$/.exec(chain[1]!);
    assert.ok(libc !== null, chain[1]);
    const byDigest = ok(['why-depends', 'app', libc[1]!]).stdout;
    assert.equal(byDigest.trimEnd().split('\n').length, 2);
    const refs = ok(['referrers', libc[1]!]).stdout;
    assert.match(refs, new RegExp(`^${digest} \\(app\\)  needs it as libc\\.so\\.6$`, 'm'));
    const progRefs = ok(['referrers', 'app']).stdout;
    assert.match(progRefs, /^root program-app keeps it$/m);
    assertFails(
      cald(['why-depends', libc[1]!, 'app', '--store', store]),
      8,
      /does not depend on app/,
      'reverse',
    );
  });
});

// Edits made by `cald patchelf` and by the real patchelf 0.14.3 on copies of the same files:
// readelf must then report the same needed, rpath, runpath, soname and interpreter, and the
// edited programs must still run (LD_BIND_NOW=1).
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildVariant, type CFixture, isSkipped } from '../helpers/compile.js';
import { runnableHere } from '../helpers/host.js';
import { run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { facts, runCald, runPatchelf, twoCopies } from './differential.js';

const LS = '/usr/bin/ls';
const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';
const LIBSTDCXX = '/usr/lib/x86_64-linux-gnu/libstdc++.so.6';
const LDSO_LONG = '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2';

interface Case {
  name: string;
  file: string;
  args: string[];
  /**
   * How the real patchelf is run: in one call with the same arguments (default), or one call per
   * group — for combinations that patchelf 0.14.3 gets wrong in one call (several new strings in
   * one run reuse one .dynstr offset: `--set-soname X --set-rpath Y` writes Y as the soname).
   */
  patchelfSteps?: string[][];
  /** Run the edited program (a copy of ls) and expect exit 0. */
  runLs?: boolean;
  env?: Record<string, string>;
}

const cases: Case[] = [
  { name: 'ls --set-rpath', file: LS, args: ['--set-rpath', '/opt/x:/opt/y'], runLs: true },
  {
    name: 'ls --add-rpath --force-rpath',
    file: LS,
    args: ['--add-rpath', '/a', '--force-rpath'],
    runLs: true,
  },
  { name: 'ls --set-rpath empty', file: LS, args: ['--set-rpath', ''], runLs: true },
  { name: 'ls --set-interpreter (longer)', file: LS, args: ['--set-interpreter', LDSO_LONG], runLs: true },
  {
    name: 'ls --add-needed x2 (sorted, first)',
    file: LS,
    args: ['--add-needed', 'libz.so.1', '--add-needed', 'libm.so.6'],
    runLs: true,
  },
  { name: 'ls --remove-needed', file: LS, args: ['--remove-needed', 'libselinux.so.1'] },
  {
    name: 'ls --replace-needed',
    file: LS,
    args: ['--replace-needed', 'libselinux.so.1', 'libsel-renamed.so'],
  },
  {
    name: 'ls --replace-needed same name (no-op)',
    file: LS,
    args: ['--replace-needed', 'libc.so.6', 'libc.so.6'],
  },
  { name: 'ls --remove-rpath (none)', file: LS, args: ['--remove-rpath'], runLs: true },
  { name: 'ls --set-soname on a program (PIE: ET_DYN)', file: LS, args: ['--set-soname', 'lsname'] },
  { name: 'libz --set-soname', file: LIBZ, args: ['--set-soname', 'libzz.so.9'] },
  { name: 'libz --set-rpath $ORIGIN', file: LIBZ, args: ['--set-rpath', '$ORIGIN/../lib'] },
  { name: 'libz --add-needed', file: LIBZ, args: ['--add-needed', 'libm.so.6'] },
  {
    name: 'libstdc++ --replace-needed (versioned: VERNEED follows)',
    file: LIBSTDCXX,
    args: ['--replace-needed', 'libm.so.6', 'libm-renamed.so.6'],
  },
  {
    name: 'libstdc++ --set-rpath --force-rpath',
    file: LIBSTDCXX,
    args: ['--force-rpath', '--set-rpath', '/x/y/z'],
  },
  {
    name: 'libz --set-soname X --set-rpath Y in one call',
    file: LIBZ,
    args: ['--set-soname', 'libNEW.so', '--set-rpath', '/my/rpath'],
    patchelfSteps: [
      ['--set-soname', 'libNEW.so'],
      ['--set-rpath', '/my/rpath'],
    ],
  },
  {
    name: 'ls --add-needed + --set-rpath + --set-interpreter in one call',
    file: LS,
    args: ['--add-needed', 'libz.so.1', '--set-rpath', '/opt/lib', '--set-interpreter', LDSO_LONG],
    patchelfSteps: [
      ['--set-rpath', '/opt/lib'],
      ['--add-needed', 'libz.so.1'],
      ['--set-interpreter', LDSO_LONG],
    ],
    runLs: true,
  },
];

describe('cald patchelf edits agree with patchelf 0.14.3 (readelf)', () => {
  const dir = makeTmp({ after }, 'patchelf-edit');
  for (const [i, c] of cases.entries()) {
    test(c.name, () => {
      const { theirs, ours } = twoCopies(join(dir, String(i)), c.file, 'f');
      for (const step of c.patchelfSteps ?? [c.args]) {
        const p = runPatchelf([...step, theirs]);
        assert.equal(p.status, 0, `patchelf ${step.join(' ')}: ${p.stderr}`);
      }
      const r = runCald([...c.args, ours]);
      assert.equal(r.status, 0, `cald patchelf ${c.args.join(' ')}: ${r.stderr}`);
      assert.deepEqual(facts(ours), facts(theirs));
      // The --print-* view of the result agrees too.
      const printArgs = c.file === LS ? ['--print-interpreter'] : [];
      const q = [...printArgs, '--print-needed', '--print-rpath', '--print-soname'];
      assert.deepEqual(runCald([...q, ours]).stdout, runPatchelf([...q, theirs]).stdout);
      if (c.runLs) {
        const out = run(ours, ['/'], { env: { LD_BIND_NOW: '1' } });
        assert.equal(out.status, 0, out.stderr);
        assert.equal(out.stdout, run(LS, ['/']).stdout);
      }
    });
  }

  test('a renamed needed library is found under its new name (program runs)', () => {
    const { theirs, ours } = twoCopies(join(dir, 'rename'), LS, 'ls');
    const libs = join(dir, 'rename', 'libs');
    run('mkdir', ['-p', libs]);
    symlinkSync('/usr/lib/x86_64-linux-gnu/libselinux.so.1', join(libs, 'libsel-renamed.so'));
    const args = ['--replace-needed', 'libselinux.so.1', 'libsel-renamed.so', '--set-rpath', libs];
    for (const [cmd, file] of [
      [runPatchelf, theirs],
      [runCald, ours],
    ] as const) {
      assert.equal(cmd(['--replace-needed', 'libselinux.so.1', 'libsel-renamed.so', file]).status, 0);
      assert.equal(cmd(['--set-rpath', libs, file]).status, 0);
    }
    const one = twoCopies(join(dir, 'rename1'), LS, 'ls').ours;
    assert.equal(runCald([...args, one]).status, 0);
    assert.deepEqual(facts(ours), facts(theirs));
    assert.deepEqual(facts(one), facts(theirs));
    for (const f of [ours, one]) {
      const out = run(f, ['/'], { env: { LD_BIND_NOW: '1' } });
      assert.equal(out.status, 0, out.stderr);
    }
  });
});

describe('cald patchelf on compiled fixtures (edited, then run)', () => {
  const dir = makeTmp({ after }, 'patchelf-fixtures');
  const built = new Map<string, CFixture>();
  const variants = ['bfd-pie-runpath', 'bfd-pie-rpath', 'bfd-nopie', 'versioned', 'm32-pie'];
  before(() => {
    for (const v of variants) {
      const r = buildVariant(v, join(dir, v));
      if (!isSkipped(r)) built.set(v, r);
    }
  });

  for (const v of variants) {
    test(`${v}: set, shrink, add, remove rpath (program and libraries), then run`, (t) => {
      const f = built.get(v);
      if (f === undefined) return t.skip(`${v} could not be built here`);
      const runOk = (prog: string, env: Record<string, string> = {}): void => {
        if (!runnableHere(t, prog)) return;
        const out = run(prog, [], { env: { LD_BIND_NOW: '1', ...env }, timeoutMs: 10_000 });
        assert.equal(out.status, 0, `${prog}: ${out.stderr}`);
        assert.equal(out.stdout, f.expectedStdout);
      };
      const progName = 'prog';
      const steps: string[][] = [
        ['--set-rpath', `/nonexistent:${f.libDir}:/usr/lib`],
        ['--shrink-rpath'],
        ['--print-rpath'],
        ['--add-rpath', '$ORIGIN/lib'],
        ['--shrink-rpath', '--allowed-rpath-prefixes', '/nothing-here'],
        ['--print-rpath'],
        ['--set-rpath', f.libDir, '--force-rpath'],
      ];
      const { theirs, ours } = twoCopies(join(dir, `${v}-edit`), f.program, progName);
      for (const s of steps) {
        const a = runPatchelf([...s, theirs]);
        const b = runCald([...s, ours]);
        assert.equal(b.status, a.status, `${s.join(' ')}: ${a.stderr} / ${b.stderr}`);
        assert.deepEqual(b.stdout.toString('latin1'), a.stdout.toString('latin1'), s.join(' '));
        assert.deepEqual(facts(ours), facts(theirs), s.join(' '));
      }
      runOk(ours);
      runOk(theirs);
      // Libraries too: set then remove the search path, rename a needed library.
      for (const lib of f.libs) {
        const pair = twoCopies(join(dir, `${v}-lib`), lib, 'l.so');
        for (const s of [['--set-rpath', '/a:/b'], ['--remove-rpath'], ['--set-soname', 'libother.so.7']]) {
          assert.equal(runPatchelf([...s, pair.theirs]).status, 0);
          assert.equal(runCald([...s, pair.ours]).status, 0);
          assert.deepEqual(facts(pair.ours), facts(pair.theirs), s.join(' '));
        }
      }
      // Removing the search path of a program that needs it: it then runs with LD_LIBRARY_PATH.
      const rm = twoCopies(join(dir, `${v}-rm`), f.program, progName);
      assert.equal(runPatchelf(['--remove-rpath', rm.theirs]).status, 0);
      assert.equal(runCald(['--remove-rpath', rm.ours]).status, 0);
      assert.deepEqual(facts(rm.ours), facts(rm.theirs));
      runOk(rm.ours, { LD_LIBRARY_PATH: f.libDir });
    });
  }
});

// `cald patchelf`'s command line: argument forms, files written (or not), and what is printed.
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { facts, runCald, runPatchelf, twoCopies } from './differential.js';

const LS = '/usr/bin/ls';
const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';

describe('cald patchelf command line', () => {
  const dir = makeTmp({ after }, 'patchelf-cli');
  let n = 0;
  const sub = (): string => {
    const d = join(dir, String(n++));
    mkdirSync(d, { recursive: true });
    return d;
  };

  test('--version passes auditwheel/cx_Freeze check and says it is cald', () => {
    const r = runCald(['--version']);
    assert.equal(r.status, 0);
    const text = r.stdout.toString();
    // auditwheel: re.match(r"patchelf\s+(\d+(.\d+)?)", version) and >= (0, 14)
    const m = /^patchelf\s+(\d+(.\d+)?)/.exec(text);
    assert.ok(m?.[1] !== undefined, text);
    const [major, minor] = m[1].split('.').map(Number) as [number, number];
    assert.ok(major > 0 || minor >= 14);
    assert.match(text.split('\n')[1] ?? '', /cald .*patchelf-compatible/);
  });

  test('--help names patchelf compatibility and exits 0; no arguments exits 1', () => {
    const r = runCald(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout.toString(), /patchelf-compatible/);
    assert.equal(runCald([]).status, 1);
  });

  test('options after file names, several files in one call', () => {
    const d = sub();
    const a = twoCopies(d, LS, 'a');
    const b = twoCopies(d, LIBZ, 'b');
    assert.equal(runPatchelf(['--set-rpath', '/r1', a.theirs, b.theirs]).status, 0);
    const ok = runCald([a.ours, b.ours, '--set-rpath', '/r1']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(facts(a.ours), facts(a.theirs));
    assert.deepEqual(facts(b.ours), facts(b.theirs));
  });

  test('@file arguments are read verbatim (newline included) for the options that take them', () => {
    const d = sub();
    const argFile = join(d, 'rpath.txt');
    writeFileSync(argFile, '/from/file:/second\n');
    const nameFile = join(d, 'needed.txt');
    writeFileSync(nameFile, 'libm.so.6');
    const { theirs, ours } = twoCopies(d, LS, 'ls');
    const args = ['--set-rpath', `@${argFile}`, '--add-needed', `@${nameFile}`];
    for (const step of [args.slice(0, 2), args.slice(2)])
      assert.equal(runPatchelf([...step, theirs]).status, 0);
    assert.equal(runCald([...args, ours]).status, 0);
    assert.deepEqual(facts(ours), facts(theirs));
    assert.equal(runCald(['--print-rpath', ours]).stdout.toString(), '/from/file:/second\n\n');
    // --replace-needed takes its names as written: "@x" is a name, not a file.
    const r = runCald(['--replace-needed', 'libc.so.6', `@${nameFile}`, ours]);
    assert.equal(r.status, 0);
    assert.ok(facts(ours).needed.includes(`@${nameFile}`));
  });

  test('--output writes the result elsewhere, always, and leaves the input alone', () => {
    const d = sub();
    const input = join(d, 'in');
    copyFileSync(LIBZ, input);
    chmodSync(input, 0o640);
    const before = readFileSync(input);
    const out1 = join(d, 'out1');
    assert.equal(runCald(['--set-soname', 'libq.so', '--output', out1, input]).status, 0);
    assert.ok(readFileSync(input).equals(before));
    assert.equal(facts(out1).soname, 'libq.so');
    assert.equal(statSync(out1).mode & 0o777, 0o640);
    // Nothing to change: still written (patchelf's --output always writes).
    const out2 = join(d, 'out2');
    assert.equal(runCald(['--print-soname', '--output', out2, input]).status, 0);
    assert.ok(readFileSync(out2).equals(before));
  });

  test('a no-op edit leaves the file byte-identical and its mtime untouched', () => {
    const d = sub();
    const f = join(d, 'ls');
    copyFileSync(LS, f);
    utimesSync(f, 1_000_000, 1_000_000);
    const before = readFileSync(f);
    for (const args of [
      ['--set-interpreter', '/lib64/ld-linux-x86-64.so.2'],
      ['--remove-rpath'],
      ['--replace-needed', 'libc.so.6', 'libc.so.6'],
      ['--add-needed', 'libc.so.6'],
      ['--print-needed', '--print-rpath'],
    ]) {
      const r = runCald([...args, f]);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(readFileSync(f).equals(before), args.join(' '));
      assert.equal(statSync(f).mtimeMs, 1_000_000_000, args.join(' '));
    }
  });

  test('permissions are kept; a symlink is written through (the link stays a link)', () => {
    const d = sub();
    const f = join(d, 'lib.so');
    copyFileSync(LIBZ, f);
    chmodSync(f, 0o751);
    const link = join(d, 'link.so');
    symlinkSync('lib.so', link);
    assert.equal(runCald(['--set-rpath', '/some/where', link]).status, 0);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), 'lib.so');
    assert.equal(statSync(f).mode & 0o7777, 0o751);
    assert.equal(facts(f).runpath, '/some/where');
    assert.deepEqual(readdirSync(d).sort(), ['lib.so', 'link.so'], 'no temporary file left behind');
  });

  test('a failed edit or write leaves the original intact', () => {
    const d = sub();
    const f = join(d, 'libz.so');
    copyFileSync(LIBZ, f);
    const before = readFileSync(f);
    // The engine refuses (a library has no interpreter): nothing written.
    assert.equal(runCald(['--set-rpath', '/x', '--set-interpreter', '/y', f]).status, 1);
    // The output cannot be written (its directory does not exist).
    const r = runCald(['--set-rpath', '/x', '--output', join(d, 'no', 'such', 'dir', 'out'), f]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^patchelf: cannot write .*out: no such file or directory/);
    // Two files, the second missing: the first is done, then the run stops with exit 1 (as patchelf).
    const g = join(d, 'ls');
    copyFileSync(LS, g);
    assert.equal(runCald(['--set-rpath', '/z', g, join(d, 'missing'), f]).status, 1);
    assert.equal(facts(g).runpath, '/z');
    assert.ok(readFileSync(f).equals(before));
    assert.deepEqual(readdirSync(d).sort(), ['libz.so', 'ls']);
  });

  test('--set-soname X --set-rpath Y in one call sets both (patchelf 0.14 writes Y as the soname)', () => {
    const d = sub();
    const f = join(d, 'l.so');
    copyFileSync(LIBZ, f);
    assert.equal(runCald(['--set-soname', 'libNEW.so', '--set-rpath', '/my/rpath', f]).status, 0);
    assert.equal(facts(f).soname, 'libNEW.so');
    assert.equal(facts(f).runpath, '/my/rpath');
  });

  test('--replace-needed renames all at once (a swap stays a swap)', () => {
    const d = sub();
    const { theirs, ours } = twoCopies(d, LS, 'ls');
    const args = [
      '--replace-needed',
      'libc.so.6',
      'libselinux.so.1',
      '--replace-needed',
      'libselinux.so.1',
      'libc.so.6',
    ];
    assert.equal(runPatchelf([...args, theirs]).status, 0);
    assert.equal(runCald([...args, ours]).status, 0);
    assert.deepEqual(facts(ours).needed, ['libc.so.6', 'libselinux.so.1']);
    assert.deepEqual(facts(ours), facts(theirs));
  });

  test('patchelf 0.18 flags: os abi, execstack, DF_1_NODEFLIB, DT_DEBUG', () => {
    const d = sub();
    const f = join(d, 'ls');
    copyFileSync(LS, f);
    const out = (args: string[]): string => {
      const r = runCald([...args, f]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.toString();
    };
    assert.equal(out(['--print-os-abi']), 'System V\n');
    assert.equal(out(['--print-execstack']), 'execstack: -\n');
    out(['--set-os-abi', 'FreeBSD', '--set-execstack', '--no-default-lib', '--add-debug-tag']);
    assert.equal(out(['--print-os-abi', '--print-execstack']), 'FreeBSD\nexecstack: X\n');
    out(['--set-os-abi', ' linux ', '--clear-execstack']);
    assert.equal(out(['--print-os-abi', '--print-execstack']), 'Linux\nexecstack: -\n');
    const tags = readelfTags(f);
    assert.ok(tags.includes('DEBUG'));
    assert.match(runReadelfDynamic(f), /Flags: .*NODEFLIB/);
    assert.equal(runCald(['--set-os-abi', 'plan9', f]).status, 1);
  });

  test('--debug talks on stderr only', () => {
    const d = sub();
    const f = join(d, 'ls');
    copyFileSync(LS, f);
    const r = runCald(['--debug', '--print-needed', '--set-rpath', '/q', f]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout.toString(), 'libselinux.so.1\nlibc.so.6\n');
    assert.match(r.stderr, /writing /);
  });
});

function runReadelfDynamic(f: string): string {
  return run('readelf', ['-d', '-W', f]).stdout;
}

function readelfTags(f: string): string[] {
  return [...runReadelfDynamic(f).matchAll(/\(([A-Z_0-9]+)\)/g)].map((m) => m[1] ?? '');
}

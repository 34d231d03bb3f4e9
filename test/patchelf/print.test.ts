// --print-* output of `cald patchelf` is byte-identical to patchelf 0.14.3's, over this machine's
// programs and libraries; errors exit 1 like patchelf's.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isElfFile } from '../helpers/elf-files.js';
import { run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { runCald, runPatchelf, twoCopies } from './differential.js';

function elfFilesIn(dir: string, limit: number): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(dir, e.name))
    .filter(isElfFile)
    .sort()
    .slice(0, limit);
}

const corpus = [...elfFilesIn('/usr/bin', 400), ...elfFilesIn('/usr/lib/x86_64-linux-gnu', 300)];

/** The files on which patchelf itself succeeds with these flags (a batch stops at the first error). */
function acceptedBy(flags: readonly string[], files: readonly string[]): string[] {
  return files.filter((f) => runPatchelf([...flags, f]).status === 0);
}

describe('--print-* output is byte-identical to patchelf', () => {
  for (const flags of [
    ['--print-needed'],
    ['--print-rpath'],
    ['--print-soname'],
    ['--print-interpreter'],
    ['--print-interpreter', '--print-rpath', '--print-needed', '--print-soname'],
  ]) {
    test(`${flags.join(' ')} over ${corpus.length} files`, () => {
      const files = acceptedBy(flags, corpus);
      assert.ok(files.length > 50, `only ${files.length} files accepted`);
      const theirs = runPatchelf([...flags, ...files]);
      // Options after the file names, as patchelf allows.
      const ours = runCald([...files, ...flags]);
      assert.equal(ours.status, 0, ours.stderr);
      assert.equal(theirs.status, 0);
      assert.ok(ours.stdout.equals(theirs.stdout), 'outputs differ');
      assert.equal(ours.stderr, '');
    });
  }
});

describe('errors exit 1, as patchelf', () => {
  const dir = makeTmp({ after }, 'patchelf-errors');
  const staticProg = join(dir, 'static');
  const notElf = join(dir, 'text');
  const tiny = join(dir, 'tiny');
  const cases: Array<[string, (d: string) => string[]]> = [
    ['missing file', () => ['--print-rpath', join(dir, 'nope')]],
    ['not an ELF file', () => ['--print-needed', notElf]],
    ['shorter than an ELF header', () => ['--print-needed', tiny]],
    ['static program --print-interpreter', () => ['--print-interpreter', staticProg]],
    ['static program --print-rpath', () => ['--print-rpath', staticProg]],
    ['static program --print-needed', () => ['--print-needed', staticProg]],
    ['static program --set-rpath', () => ['--set-rpath', '/x', staticProg]],
    ['library --print-interpreter', () => ['--print-interpreter', '/usr/lib/x86_64-linux-gnu/libz.so.1']],
    [
      'library --set-interpreter',
      (d) => ['--set-interpreter', '/x', twoCopies(d, '/usr/lib/x86_64-linux-gnu/libz.so.1', 'l').ours],
    ],
    ['missing argument', () => ['--set-rpath']],
    ['missing arguments to --replace-needed', () => ['--replace-needed', 'a']],
    ['no file name', () => ['--print-rpath']],
    ['--set-rpath with --add-rpath', () => ['--set-rpath', '/a', '--add-rpath', '/b', '/usr/bin/ls']],
    ['--output with two files', () => ['--output', join(dir, 'o'), '/usr/bin/ls', '/usr/bin/cat']],
    ['--page-size 0', () => ['--page-size', '0', '/usr/bin/ls']],
    ['@file that does not exist', () => ['--set-rpath', `@${join(dir, 'nope')}`, '/usr/bin/ls']],
  ];
  test('setup', () => {
    writeFileSync(notElf, 'this is not an ELF file, but it is long enough to hold a header........\n');
    writeFileSync(tiny, '\x7fELF');
    // Either command alone: help on stderr, exit 1.
    assert.equal(runPatchelf([]).status, 1);
    assert.equal(runCald([]).status, 1);
  });
  for (const [name, args] of cases) {
    test(name, (t) => {
      if (name.startsWith('static') && !buildStatic(staticProg)) return t.skip('no static libc here');
      const d = join(dir, name.replace(/\W+/g, '_'));
      const a = args(d);
      const theirs = runPatchelf(a);
      const ours = runCald(a);
      assert.equal(theirs.status, 1, `patchelf ${a.join(' ')}`);
      assert.equal(ours.status, 1, `cald patchelf ${a.join(' ')}`);
      assert.ok(ours.stdout.equals(theirs.stdout));
      assert.match(ours.stderr, /^patchelf: /);
    });
  }
});

let staticBuilt: boolean | undefined;
function buildStatic(out: string): boolean {
  if (staticBuilt === undefined) {
    const src = `${out}.c`;
    writeFileSync(src, 'int main(void) { return 0; }\n');
    staticBuilt = run('cc', ['-static', '-o', out, src]).status === 0;
  }
  return staticBuilt;
}

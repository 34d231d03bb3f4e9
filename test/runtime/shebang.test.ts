// The #! line as cald reads it, checked against the kernel: a C program that prints its argv is
// the interpreter of scripts with every spacing the kernel treats specially (blanks before the
// interpreter, between, inside and after the argument, tabs, no argument), and what the kernel
// passes is compared with parseHostShebang. Then the #!cas: line: parsed, written and refused.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  formatCasShebang,
  parseCasShebang,
  parseHostShebang,
  scriptRefs,
} from '../../src/runtime/shebang.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';

const HEX = 'ab'.repeat(32);

test('parseHostShebang reads a #! line as the kernel does (interpreter, one trimmed argument)', (t) => {
  if (!hasTool('cc')) return t.skip('cc is missing');
  const dir = makeTmp(t, 'shebang');
  const argv = join(dir, 'argv');
  writeFileSync(
    join(dir, 'argv.c'),
    '#include <stdio.h>\nint main(int c,char**v){for(int i=1;i<c;i++)printf("[%s]",v[i]);return 0;}\n',
  );
  assert.equal(run('cc', ['-o', argv, join(dir, 'argv.c')]).status, 0);
  const lines = [
    `#!${argv}`,
    `#! ${argv}`,
    `#!\t${argv} -x`,
    `#!${argv}  -a  -b  `,
    `#!${argv} \t-a\tb \t`,
    `#!${argv} one`,
  ];
  for (const [i, line] of lines.entries()) {
    const script = join(dir, `s${i}`);
    writeFileSync(script, `${line}\nbody\n`);
    chmodSync(script, 0o755);
    const kernel = run(script, []).stdout;
    const mine = parseHostShebang(Buffer.from(`${line}\nbody\n`))!;
    assert.equal(mine.interpreter, argv, JSON.stringify(line));
    const expected = `${mine.arg === undefined ? '' : `[${mine.arg}]`}[${script}]`;
    assert.equal(kernel, expected, `${JSON.stringify(line)}: the kernel passed ${kernel}`);
    assert.equal(mine.bodyStart, Buffer.byteLength(line) + 1);
  }
});

test('parseCasShebang splits arguments on blanks; formatCasShebang writes what it reads', () => {
  const uri = `cas:sha256:${HEX}?name=python3`;
  const line = formatCasShebang(uri, ['-I', '-u']);
  assert.equal(line, `#!${uri} -I -u\n`);
  const parsed = parseCasShebang(Buffer.from(`#!${uri}\t -I  -u \nprint(1)\n`))!;
  assert.equal(parsed.uri, uri);
  assert.equal(parsed.name.hint, 'python3');
  assert.deepEqual(parsed.args, ['-I', '-u']);
  assert.deepEqual(scriptRefs(Buffer.from(line)), [uri]);
  assert.equal(parseCasShebang(Buffer.from('#!/bin/sh\n')), undefined);
  assert.deepEqual(scriptRefs(Buffer.from('#!/bin/sh\n')), []);
  assert.throws(() => formatCasShebang(uri, ['a b']), { code: 'SCRIPT_BAD_ARGUMENT' });
  assert.throws(() => parseCasShebang(Buffer.from(`#!cas:sha256:${HEX.toUpperCase()}\n`)), {
    code: 'SCRIPT_BAD_SHEBANG',
  });
  assert.throws(() => parseCasShebang(Buffer.from(`#!cas:sha256:${HEX}\r\n`)), {
    code: 'SCRIPT_BAD_SHEBANG',
  });
  assert.throws(() => parseCasShebang(Buffer.from(`#!cas:sha256:${HEX}`)), { code: 'SCRIPT_LINE_TOO_LONG' });
});

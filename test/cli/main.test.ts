// main() in-process with a test double for its streams: the single error boundary.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import picocolors from 'picocolors';
import { combineExitCodes, EXIT, exitCodeFor } from '../../src/cli/exit-codes.js';
import type { CliIo } from '../../src/cli/io.js';
import { colorsEnabled } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { reportError } from '../../src/cli/report-error.js';
import { CaldError } from '../../src/errors/index.js';

function fakeIo(env: Record<string, string> = {}, outImpl?: (s: string) => void) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: outImpl ?? ((s) => out.push(s)),
    err: (s) => err.push(s),
    env,
    outColors: picocolors.createColors(false),
    errColors: picocolors.createColors(false),
  };
  return { io, out, err };
}

test('exit codes follow the error code families', () => {
  assert.equal(exitCodeFor('USAGE'), EXIT.USAGE);
  assert.equal(exitCodeFor('ELF_TRUNCATED'), 3);
  assert.equal(exitCodeFor('EDIT_NO_ROOM'), 4);
  assert.equal(exitCodeFor('IO_ENOENT'), 5);
  assert.equal(exitCodeFor('STORE_CORRUPT'), 6);
  assert.equal(exitCodeFor('REMOTE_HTTP'), 7);
  assert.equal(exitCodeFor('SOMETHING_ELSE'), 1);
  assert.equal(combineExitCodes([]), 0);
  assert.equal(combineExitCodes([0, 3, 3]), 3);
  assert.equal(combineExitCodes([3, 5]), 1);
});

test('a CaldError is one line and a hint; anything else is an internal error, exit 70, no stack', () => {
  const a = fakeIo();
  assert.equal(
    reportError(a.io, new CaldError('IO_EACCES', 'cannot read x: permission denied', { hint: 'check it' }), {
      json: false,
    }),
    5,
  );
  assert.deepEqual(a.err, ['cald: cannot read x: permission denied\n', 'hint: check it\n']);

  const b = fakeIo();
  assert.equal(
    reportError(b.io, new TypeError('x is undefined\n  at foo (bar.js:1:2)'), { json: false }),
    70,
  );
  assert.equal(b.err[0], 'cald: internal error: x is undefined\n');
  assert.ok(!b.err.join('').includes('bar.js'));

  const c = fakeIo({ CALD_DEBUG: '1' });
  reportError(c.io, new TypeError('boom'), { json: false });
  assert.match(c.err.join(''), /TypeError: boom\n\s+at /);

  const d = fakeIo();
  assert.equal(reportError(d.io, new RangeError('bad'), { json: true, path: 'f' }), 70);
  assert.deepEqual(JSON.parse(d.out.join('')), {
    error: 'InternalError',
    code: 'INTERNAL',
    message: 'bad',
    path: 'f',
  });
});

test('a system error that escaped (ENOTDIR from a mkdir) is an I/O error, exit 5, not a bug', () => {
  const sys = Object.assign(new Error("ENOTDIR: not a directory, mkdir '/dev/null/lib'"), {
    code: 'ENOTDIR',
    errno: -20,
    syscall: 'mkdir',
    path: '/dev/null/lib',
  });
  const a = fakeIo();
  assert.equal(reportError(a.io, sys, { json: false }), 5);
  assert.equal(
    a.err[0],
    'cald: cannot create the directory /dev/null/lib: a component of the path is not a directory\n',
  );
  assert.ok(!a.err.join('').includes('internal error'), a.err.join(''));
  const j = fakeIo();
  assert.equal(reportError(j.io, sys, { json: true }), 5);
  assert.equal(JSON.parse(j.out.join('')).code, 'IO_ENOTDIR');
  // A thrown spawn error names no path: still one I/O line.
  const spawn = Object.assign(new Error('spawn ELOOP'), { code: 'ELOOP', errno: -40, syscall: 'spawn' });
  const b = fakeIo();
  assert.equal(reportError(b.io, spawn, { json: false }), 5);
  assert.match(b.err[0]!, /^cald: cannot run .*too many levels/);
});

test('control characters in a message stay escaped on its one line', () => {
  const a = fakeIo();
  reportError(a.io, new CaldError('NOT_FOUND_PROGRAM', 'a\nb\x1b[31m is not imported', { hint: 'x\ny' }), {
    json: false,
  });
  assert.deepEqual(a.err, ['cald: a\\nb\\x1b[31m is not imported\n', 'hint: x\\ny\n']);
  const b = fakeIo();
  reportError(b.io, new CaldError('IO_ENOENT', 'cannot read it'), { json: false, path: 'f\rg' });
  assert.deepEqual(b.err, ['cald: f\\rg: cannot read it\n']);
});

test('a bug inside a command ends as exit 70 with one line naming the file', async () => {
  const { io, err } = fakeIo({}, () => {
    throw new TypeError('write failed unexpectedly');
  });
  const status = await main(['inspect', '/usr/bin/ls'], io);
  assert.equal(status, 70);
  assert.equal(err[0], 'cald: internal error: /usr/bin/ls: write failed unexpectedly\n');
});

test('colorsEnabled: terminal only, NO_COLOR wins, FORCE_COLOR forces', () => {
  assert.equal(colorsEnabled(true, {}), true);
  assert.equal(colorsEnabled(false, {}), false);
  assert.equal(colorsEnabled(true, { NO_COLOR: '1' }), false);
  assert.equal(colorsEnabled(true, { NO_COLOR: '' }), true);
  assert.equal(colorsEnabled(false, { FORCE_COLOR: '1' }), true);
  assert.equal(colorsEnabled(false, { FORCE_COLOR: '1', NO_COLOR: '1' }), false);
  assert.equal(colorsEnabled(true, { TERM: 'dumb' }), false);
});

// `eval "$(cald env)"` in bash: imported programs then run with no cald process (audit and names
// modes), applying twice adds nothing twice, --unset undoes exactly what was added; fish syntax.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prependToList, shQuote } from '../../src/runtime/index.js';
import { cald } from '../cli/cald.js';
import { hasTool, run } from '../helpers/run.js';
import { buildRuntimeFixture, testEnv } from './fixture.js';

const f = buildRuntimeFixture({ after: (fn) => process.on('exit', fn) });
const env = testEnv(f.store);

function script(args: string[]): string {
  const r = cald(['env', ...args], { env });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** bash -c with the given code, a clean environment and the store object on hand as $P. */
function bash(code: string, extra: Record<string, string> = {}) {
  return run('bash', ['-c', code], {
    replaceEnv: true,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', P: f.object, ...extra },
  });
}

test('eval "$(cald env)" runs the program with no cald process (audit)', () => {
  const s = script([]);
  assert.match(s, /LD_AUDIT/);
  assert.match(s, /CALD_STORE=/);
  const r = bash(
    `eval ${shQuote(s)}; eval ${shQuote(s)}; "$P" a --env LD_AUDIT --env CALD_STORE; echo "shell=$(ps -o comm= -p $$)"`,
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^word-from-libword argc=6$/m);
  assert.match(r.stdout, /^LD_AUDIT=\/[^:]*libcald-audit\.so$/m, 'added once, though applied twice');
  assert.match(r.stdout, new RegExp(`^CALD_STORE=${f.store}$`, 'm'));
  assert.match(r.stdout, /^shell=bash$/m, 'the program ran from bash itself, no cald in between');
});

test('eval "$(cald env --mode names)" runs it through the name directory', () => {
  const s = script(['--mode', 'names']);
  const r = bash(`eval ${shQuote(s)}; eval ${shQuote(s)}; "$P" --env LD_LIBRARY_PATH --env LD_AUDIT`, {
    LD_LIBRARY_PATH: '/opt/other',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^word-from-libword argc=5$/m);
  assert.match(r.stdout, new RegExp(`^LD_LIBRARY_PATH=${f.store}/names:/opt/other$`, 'm'));
  assert.match(r.stdout, /^LD_AUDIT=\(unset\)$/m);
});

test('--unset undoes only what cald added', () => {
  for (const mode of ['audit', 'names']) {
    const on = script(['--mode', mode]);
    const off = script(['--mode', mode, '--unset']);
    const r = bash(
      `eval ${shQuote(on)}; eval ${shQuote(off)}; echo "A=\${LD_AUDIT-unset} L=\${LD_LIBRARY_PATH-unset} S=\${CALD_STORE-unset}"`,
      { LD_LIBRARY_PATH: '/opt/a:/opt/b' },
    );
    assert.equal(r.stdout, 'A=unset L=/opt/a:/opt/b S=unset\n', `${mode}: ${r.stderr}`);
  }
  const none = bash(
    `eval ${shQuote(script(['--mode', 'names']))}; eval ${shQuote(script(['--mode', 'names', '--unset']))}; echo "L=\${LD_LIBRARY_PATH-unset}"`,
  );
  assert.equal(none.stdout, 'L=unset\n');
});

test('fish code', { skip: !hasTool('fish') && 'fish is not installed' }, () => {
  const s = script(['--shell', 'fish']);
  const r = run('fish', ['-c', `${s}\n"${f.object}" --env LD_AUDIT`], { env: { LD_AUDIT: undefined } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^LD_AUDIT=\/.*libcald-audit\.so$/m);
});

test('fish code is well-formed text even without fish', () => {
  const s = script(['--shell', 'fish', '--mode', 'names']);
  assert.match(
    s,
    /^if not contains -- '.*\/names' \(string split : -- "\$LD_LIBRARY_PATH"\); set -gx LD_LIBRARY_PATH/m,
  );
  assert.equal(prependToList('a:b', 'b'), 'a:b');
  assert.equal(prependToList('', 'x'), 'x');
  assert.equal(prependToList('a', 'x'), 'x:a');
  assert.equal(shQuote("it's"), `'it'\\''s'`);
});

test('cald env --json lists the variables', () => {
  const r = cald(['env', '--json'], { env });
  const v = JSON.parse(r.stdout) as { set: Record<string, string>; prepend: Record<string, string> };
  assert.equal(v.set.CALD_STORE, f.store);
  assert.match(v.prepend.LD_AUDIT ?? '', /libcald-audit\.so$/);
});

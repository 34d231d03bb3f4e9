// The progress bar: drawn on a terminal only, and never with an escape sequence (NO_COLOR, TERM=dumb).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import picocolors from 'picocolors';
import type { CliIo } from '../../src/cli/io.js';
import { progressBar } from '../../src/cli/progress.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { MAIN_URL } from './cald.js';

function fakeIo(errIsTty: boolean, env: Record<string, string> = {}): { io: CliIo; err: string[] } {
  const err: string[] = [];
  const io: CliIo = {
    out: () => {},
    err: (s) => err.push(s),
    env,
    outColors: picocolors.createColors(false),
    errColors: picocolors.createColors(false),
    errIsTty,
  };
  return { io, err };
}

test('on a terminal: one line redrawn with \\r and blanked with spaces, no escape sequence', () => {
  const { io, err } = fakeIo(true, { NO_COLOR: '1' });
  const bar = progressBar(io, 'importing');
  bar.update(1, 2, '/usr/lib/x86_64-linux-gnu/libc.so.6');
  bar.update(2, 2, 'a');
  bar.done();
  const text = err.join('');
  assert.doesNotMatch(text, /\x1b/);
  assert.equal(err[0], `\rimporting [############            ] 1/2 /usr/lib/x86_64-linux-gnu/libc.so.6`);
  const first = err[0]!.length - 1;
  assert.equal(err[1]!.length - 1, first, 'the shorter line blanks the rest of the longer one');
  assert.match(err[1]!, /^\rimporting \[#{24}\] 2\/2 a +$/);
  assert.equal(err[2], `\r${' '.repeat(first)}\r`);
});

test('not a terminal, or CI: nothing', () => {
  for (const { io, err } of [fakeIo(false), fakeIo(true, { CI: 'true' })]) {
    const bar = progressBar(io, 'importing');
    bar.update(1, 2, 'x');
    bar.done();
    assert.deepEqual(err, []);
  }
});

test('cald import on a pty with NO_COLOR: the bar is drawn with no escape; piped: no bar', (t) => {
  if (!hasTool('script')) {
    t.skip('script (util-linux) is not installed');
    return;
  }
  const dir = makeTmp(t, 'progress');
  const entry = `import { main } from '${MAIN_URL}'; process.exitCode = await main(['import', '/usr/bin/ls']);`;
  const cmd = `${process.execPath} --input-type=module -e "${entry}" 2>&1 >/dev/null`;
  const env = { FORCE_COLOR: undefined, NO_COLOR: '1', CI: undefined, CALD_STORE: join(dir, 'tty') };
  const tty = run('script', ['-qec', cmd, '/dev/null'], { env });
  assert.equal(tty.status, 0, tty.stderr);
  assert.match(tty.stdout, /\rimporting \[/);
  assert.doesNotMatch(tty.stdout, /\x1b/);
  const piped = run('sh', ['-c', cmd], { env: { ...env, CALD_STORE: join(dir, 'piped') } });
  assert.equal(piped.status, 0, piped.stderr);
  assert.doesNotMatch(piped.stdout, /importing \[/);
});

// How the cald process ends: with its command's exit status, once all of its output has been
// written, even to a reader that is slow to read.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.js';
import { cald, ENTRY_ARGS } from './cald.js';

// Enough libraries for an answer several times a pipe's 64 KiB buffer.
const LIB = '/usr/lib/x86_64-linux-gnu';
const libs = readdirSync(LIB)
  .filter((n) => /^lib(av|sw|z|ssl|crypto|sqlite).*\.so\.\d+$/.test(n))
  .slice(0, 24)
  .map((n) => `${LIB}/${n}`);

/** cald's stdout through a socketpair that nobody reads for `pauseMs`, and its exit status. */
function slowRead(
  args: readonly string[],
  pauseMs: number,
): Promise<{ status: number | null; bytes: Buffer }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...ENTRY_ARGS, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.pause();
    setTimeout(() => {
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stdout.resume();
    }, pauseMs);
    child.on('close', (status) => resolve({ status, bytes: Buffer.concat(chunks) }));
  });
}

test('a large answer reaches a slow reader whole before cald exits', async (t) => {
  if (libs.length < 8) {
    t.skip(`too few libraries in ${LIB} for an answer larger than a pipe's buffer`);
    return;
  }
  const args = ['inspect', '--json', ...libs];
  const whole = cald(args, { timeoutMs: 120_000 });
  assert.equal(whole.status, 0, whole.stderr);
  assert.ok(
    whole.stdout.length > 4 * 65536,
    `answer of ${whole.stdout.length} bytes is too small to fill a pipe`,
  );
  const slow = await slowRead(args, 800);
  assert.equal(slow.status, 0);
  assert.equal(slow.bytes.length, Buffer.byteLength(whole.stdout));
  assert.deepEqual(JSON.parse(slow.bytes.toString('utf8')), JSON.parse(whole.stdout));
});

test("the exit status is the command's, on success, failure and usage errors", () => {
  assert.equal(cald(['inspect', '/usr/bin/ls']).status, EXIT.OK);
  assert.equal(cald(['inspect', '/nonexistent/cald-exit-test']).status, EXIT.IO);
  assert.equal(cald(['inspect', '/etc/hostname']).status, EXIT.FORMAT);
  assert.equal(cald(['inspect', '--no-such-option']).status, EXIT.USAGE);
});

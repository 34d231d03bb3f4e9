// --json on every command that prints results (walked from the command tree, so a new command is
// held to it too), and what the ones added for it print.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import picocolors from 'picocolors';
import { buildProgram } from '../../src/cli/program.js';
import { makeTmp } from '../helpers/tmp.js';
import { cald, ENTRY_ARGS } from './cald.js';

/**
 * Commands that print no result of their own: `run` hands the terminal to the program, and
 * `patchelf` keeps patchelf's command line.
 */
const NO_RESULT = new Set(['run', 'patchelf']);

function leaves(c: Command, above: string[]): string[][] {
  return c.commands.flatMap((sub) => {
    const path = [...above, sub.name()];
    return sub.commands.length === 0 ? [path] : leaves(sub, path);
  });
}

test('every command that prints results takes --json', () => {
  const colors = picocolors.createColors(false);
  const io = { out: () => {}, err: () => {}, env: {}, outColors: colors, errColors: colors };
  const program = buildProgram({ io, setStatus: () => {} });
  const missing = leaves(program, [])
    .filter((path) => !NO_RESULT.has(path.join(' ')))
    .filter((path) => {
      let c: Command = program;
      for (const word of path) c = c.commands.find((s) => s.name() === word)!;
      return !c.options.some((o) => o.long === '--json');
    })
    .map((path) => path.join(' '));
  assert.deepEqual(missing, []);
});

test('cald key generate --json and key public --json: one object, the key the text form prints', (t) => {
  const dir = makeTmp(t, 'key-json');
  const secretFile = join(dir, 'secret.key');
  const g = cald(['key', 'generate', 'cache.example.org-1', '--secret-file', secretFile, '--json']);
  assert.equal(g.status, 0, g.stderr);
  const key = JSON.parse(g.stdout) as { name: string; publicKey: string; secretFile: string };
  assert.deepEqual(Object.keys(key), ['name', 'publicKey', 'secretFile']);
  assert.equal(key.name, 'cache.example.org-1');
  assert.equal(key.secretFile, secretFile);
  const text = cald(['key', 'public', '--secret-file', secretFile]);
  assert.equal(text.stdout, `${key.publicKey}\n`);
  const p = cald(['key', 'public', '--secret-file', secretFile, '--json']);
  assert.deepEqual(JSON.parse(p.stdout), key);
  const again = cald(['key', 'generate', 'x', '--secret-file', secretFile, '--json']);
  assert.notEqual(again.status, 0);
  assert.equal(again.stderr, '');
  assert.equal((JSON.parse(again.stdout) as { code: string }).code, 'USAGE', 'the error as JSON too');
});

test('cald serve --json: the address it listens on, as one object', async (t) => {
  const dir = makeTmp(t, 'serve-json');
  const child: ChildProcess = spawn(
    process.execPath,
    [...ENTRY_ARGS, 'serve', '--dir', join(dir, 'cache'), '--listen', '127.0.0.1:0', '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = await new Promise<unknown>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += String(d);
      try {
        resolve(JSON.parse(out));
      } catch {
        // not whole yet
      }
    });
    child.once('exit', (code) => reject(new Error(`cald serve exited ${code}: ${out}`)));
  });
  child.kill('SIGTERM');
  await exited;
  const r = ready as { dir: string; url: string; writable: boolean };
  assert.equal(r.dir, join(dir, 'cache'));
  assert.match(r.url, /^http:\/\/127\.0\.0\.1:\d+/);
  assert.equal(r.writable, false);
});

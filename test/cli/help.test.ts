// Help: a word that names no command is a usage error, not the help of the command above it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import picocolors from 'picocolors';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

function fakeIo(): { io: CliIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    env: {},
    outColors: picocolors.createColors(false),
    errColors: picocolors.createColors(false),
  };
  return { io, out, err };
}

async function inProcess(argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const { io, out, err } = fakeIo();
  const status = await main(argv, io);
  return { status, stdout: out.join(''), stderr: err.join('') };
}

test('a word that names no command is a usage error, with --help or cald help too', async () => {
  const cases: Array<[string[], string, string]> = [
    [['nosuch', '--help'], "unknown command 'nosuch'", 'cald --help'],
    [['help', 'nosuch'], "unknown command 'nosuch'", 'cald --help'],
    [['roots', 'nosuch', '-h'], "unknown command 'nosuch'", 'cald roots --help'],
    [['help', 'roots', 'lst'], "unknown command 'lst' (Did you mean list?)", 'cald roots --help'],
    [['instal', '--help'], "unknown command 'instal' (Did you mean install?)", 'cald --help'],
  ];
  for (const [argv, message, hint] of cases) {
    const r = await inProcess(argv);
    assert.equal(r.status, 2, argv.join(' '));
    assert.equal(r.stdout, '', argv.join(' '));
    assert.equal(r.stderr, `cald: ${message}\nhint: see '${hint}'\n`, argv.join(' '));
  }
});

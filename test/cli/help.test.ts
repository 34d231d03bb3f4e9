// Help for every command and subcommand, walked from the command tree itself (so a new command is
// held to it too): examples in each, `cald help A B` the same as `cald A B --help`, and a word
// that names no command is a usage error, not the help of the command above it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from 'commander';
import picocolors from 'picocolors';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { buildProgram } from '../../src/cli/program.js';
import { cald } from './cald.js';

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

/** Every command below the top, as its words (`['roots', 'list']`); patchelf has its own parser. */
function commandPaths(): string[][] {
  const program = buildProgram({ io: fakeIo().io, setStatus: () => {} });
  const walk = (c: Command, above: string[]): string[][] =>
    c.commands.flatMap((sub) => [[...above, sub.name()], ...walk(sub, [...above, sub.name()])]);
  return walk(program, []).filter((p) => p[0] !== 'patchelf');
}

test('every command and subcommand has --help with examples of itself, the same as cald help', async () => {
  const paths = commandPaths();
  assert.ok(
    paths.some((p) => p.join(' ') === 'roots list'),
    'the walk reaches subcommands',
  );
  for (const path of paths) {
    const name = path.join(' ');
    const h = await inProcess([...path, '--help']);
    assert.equal(h.status, 0, name);
    assert.equal(h.stderr, '', name);
    assert.match(h.stdout, new RegExp(`^Usage: cald ${name} `), name);
    assert.match(
      h.stdout,
      new RegExp(`^Examples:\\n(.*\\n)*?\\s+\\$ (sudo |\\S+=\\S+ )*cald ${name}\\b`, 'm'),
      name,
    );
    const viaHelp = await inProcess(['help', ...path]);
    assert.equal(viaHelp.status, 0, `cald help ${name}`);
    assert.equal(viaHelp.stdout, h.stdout, `cald help ${name} is cald ${name} --help`);
  }
});

test('cald help and cald help help are cald --help, exit 0', async () => {
  const top = await inProcess(['--help']);
  assert.equal(top.status, 0);
  for (const argv of [['help'], ['help', 'help']]) {
    const r = await inProcess(argv);
    assert.equal(r.status, 0, argv.join(' '));
    assert.equal(r.stdout, top.stdout, argv.join(' '));
    assert.equal(r.stderr, '', argv.join(' '));
  }
});

test("cald help patchelf is patchelf's own help, with examples", () => {
  const own = cald(['patchelf', '--help']);
  assert.equal(own.status, 0);
  assert.match(own.stdout, /^Examples:\n\s+\$ cald patchelf /m);
  const viaHelp = cald(['help', 'patchelf']);
  assert.equal(viaHelp.status, 0);
  assert.equal(viaHelp.stdout, own.stdout);
});

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

test('push and pull name the same kinds of remote (both take an HTTP cache, docs/distribution.md)', async () => {
  for (const command of ['push', 'pull']) {
    const h = await inProcess([command, '--help']);
    assert.match(h.stdout, /oci:\/\/HOST\[:PORT\]\/REPOSITORY or http\(s\):\/\/HOST\/PATH/, command);
  }
  const top = await inProcess(['--help']);
  assert.match(top.stdout, /^\s+push .*closure to an OCI registry or an HTTP cache$/m);
});

test('--store is the same option in every command that takes it: same name, same help', () => {
  const program = buildProgram({ io: fakeIo().io, setStatus: () => {} });
  const all = (c: Command): Command[] => c.commands.flatMap((s) => [s, ...all(s)]);
  const stores = all(program).flatMap((c) =>
    c.options
      .filter((o) => o.long === '--store')
      .map((o) => ({ command: c.name(), flags: o.flags, help: o.description })),
  );
  assert.ok(stores.length >= 20, `${stores.length} commands take --store`);
  const first = stores[0]!;
  for (const s of stores) {
    assert.equal(s.flags, '--store <dir>', s.command);
    assert.equal(s.help, first.help, s.command);
  }
  assert.match(first.help, /CALD_STORE/);
});

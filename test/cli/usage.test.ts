// The cald command line itself: help, version, usage errors, colors, the patchelf hand-off.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { hasTool, run } from '../helpers/run.js';
import { ANSI, cald, ENTRY, hasStackTrace, MAIN_URL } from './cald.js';

test('--version prints the version from package.json', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = cald([flag]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `cald ${pkg.version}\n`);
  }
});

test('--help lists the commands with examples; each command has its own help with examples', () => {
  const r = cald(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^Usage: cald /);
  assert.match(r.stdout, /^\s+inspect /m);
  assert.match(r.stdout, /^\s+patchelf /m);
  assert.match(r.stdout, /^Examples:\n\s+\$ cald inspect /m);
  assert.match(r.stdout, /Exit status: 0 success/);
  for (const args of [
    ['inspect', '--help'],
    ['help', 'inspect'],
  ]) {
    const h = cald(args);
    assert.equal(h.status, 0, args.join(' '));
    assert.match(h.stdout, /^Usage: cald inspect \[options\] <file\.\.\.>/);
    assert.match(h.stdout, /--json/);
    assert.match(h.stdout, /^Examples:\n\s+\$ cald inspect \/usr\/bin\/ls$/m);
  }
});

test('usage errors: one line and a hint on stderr, exit 2, no stack', () => {
  const cases: Array<[string[], RegExp]> = [
    [
      ['inspect', '--bogus', '/usr/bin/ls'],
      /^cald: unknown option '--bogus'\nhint: see 'cald inspect --help'\n$/,
    ],
    [['inspect'], /^cald: missing required argument 'file'\nhint: see 'cald inspect --help'\n$/],
    [['frobnicate'], /^cald: unknown command 'frobnicate'\nhint: see 'cald --help'\n$/],
    [['--bogus'], /^cald: unknown option '--bogus'\nhint: see 'cald --help'\n$/],
  ];
  for (const [args, stderr] of cases) {
    const r = cald(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, stderr);
    assert.equal(r.stdout, '');
  }
  const bare = cald([]);
  assert.equal(bare.status, 2, 'no command: usage on stderr');
  assert.match(bare.stderr, /^Usage: cald /);
  const j = cald(['inspect', '--json', '--bogus', '/usr/bin/ls']);
  assert.equal(j.status, 2);
  assert.deepEqual(JSON.parse(j.stdout), {
    error: 'UsageError',
    code: 'USAGE',
    message: "unknown option '--bogus'",
    hint: "see 'cald inspect --help'",
  });
});

test("usage errors name the subcommand's help, and bad option values get the same hint", () => {
  const store = { env: { CALD_STORE: '/nonexistent/cald-usage-store' } };
  const cases: Array<[string[], string]> = [
    [['roots', 'list', '--bogus'], "cald: unknown option '--bogus'\nhint: see 'cald roots list --help'\n"],
    [['roots', 'add'], "cald: missing required argument 'target'\nhint: see 'cald roots add --help'\n"],
    [['roots', 'lst'], "cald: unknown command 'lst' (Did you mean list?)\nhint: see 'cald roots --help'\n"],
    [
      ['store', 'info', '--jsn'],
      "cald: unknown option '--jsn' (Did you mean --json?)\nhint: see 'cald store info --help'\n",
    ],
    [
      ['ldd', 'x', '--depth', 'x'],
      'cald: --depth "x" is not a positive integer\nhint: see \'cald ldd --help\'\n',
    ],
  ];
  for (const [args, stderr] of cases) {
    const r = cald(args, store);
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stderr, stderr, args.join(' '));
    assert.equal(r.stdout, '');
  }
  const j = cald(['graph', 'x', '--format', 'bogus', '--json'], store);
  assert.equal(j.status, 2);
  assert.deepEqual(JSON.parse(j.stdout), {
    error: 'UsageError',
    code: 'USAGE',
    message: '--format bogus: not one of text, dot, svg, html',
    hint: "see 'cald graph --help'",
  });
  const top = cald(['--json', 'frobnicate']);
  assert.equal(
    JSON.parse(top.stdout).hint,
    "see 'cald --help'",
    'no hint naming a command that does not exist',
  );
});

test('colors: only when forced or on a terminal, never with NO_COLOR', () => {
  const plain = cald(['inspect', '/usr/bin/ls']);
  assert.doesNotMatch(plain.stdout, ANSI);
  const forced = cald(['inspect', '/usr/bin/ls', '/nonexistent'], { env: { FORCE_COLOR: '1' } });
  assert.match(forced.stdout, ANSI);
  assert.match(forced.stderr, ANSI);
  const off = cald(['inspect', '/usr/bin/ls', '/nonexistent'], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
  assert.doesNotMatch(off.stdout, ANSI);
  assert.doesNotMatch(off.stderr, ANSI);
  assert.equal(off.stdout, plain.stdout);
});

test('colors on a real terminal, none with NO_COLOR (script(1) gives a pty)', (t) => {
  if (!hasTool('script')) {
    t.skip('script (util-linux) is not installed');
    return;
  }
  const entry = `import { main } from '${MAIN_URL}'; process.exitCode = await main(['inspect', '/usr/bin/ls']);`;
  const cmd = `${process.execPath} --input-type=module -e "${entry}"`;
  const tty = run('script', ['-qec', cmd, '/dev/null'], {
    env: { FORCE_COLOR: undefined, NO_COLOR: undefined },
  });
  assert.equal(tty.status, 0, tty.stderr);
  assert.match(tty.stdout, ANSI);
  const noColor = run('script', ['-qec', cmd, '/dev/null'], {
    env: { FORCE_COLOR: undefined, NO_COLOR: '1' },
  });
  assert.equal(noColor.status, 0);
  assert.doesNotMatch(noColor.stdout, ANSI);
  assert.match(noColor.stdout, /ELF64 little-endian/);
});

test('a closed pipe ends output quietly', () => {
  const r = run('sh', [
    '-c',
    `"${process.execPath}" --input-type=module -e "$1" -- cald inspect --json /usr/bin/ls /usr/bin/ls /usr/bin/ls | head -c 11`,
    'sh',
    ENTRY,
  ]);
  assert.equal(r.stdout, '[\n  {\n    "');
  assert.equal(r.stderr, '');
});

test('patchelf receives every argument untouched, not parsed as cald options', () => {
  const r = cald(['patchelf', '--version', '--json']);
  assert.doesNotMatch(r.stdout, /^Usage: cald/m);
  assert.notEqual(r.stdout, cald(['--version']).stdout, "cald's own --version did not run");
  assert.doesNotMatch(r.stdout, /^\[|^\{/, "cald's --json did not run");
  assert.ok(!hasStackTrace(r.stderr + r.stdout));
});

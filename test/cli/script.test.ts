// Scripts that name their interpreter by content (#!cas:sha256:<hex>?name=N ARGS): cald import
// rewrites the #! line (a plain path, #!/usr/bin/env, env -S, interpreter arguments), stores the
// script as an object that refers to its interpreter (gc and verify keep it), and cald run and an
// installed launcher run it by name, URI and path. Interpreters are this machine's dash and
// python3; each is checked against running the original script directly.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { SHEBANG_LIMIT } from '../../src/runtime/shebang.js';
import { run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { cald, hasStackTrace } from './cald.js';

const PYTHON = '/usr/bin/python3';
const SH = '/bin/sh';
const PATH = '/usr/local/bin:/usr/bin:/bin';
const LINE = /^#!cas:sha256:([0-9a-f]{64})\?name=([^ \n]+)(.*)\n/;

function script(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, 0o755);
  return p;
}

function firstLine(file: string): string {
  return readFileSync(file, 'latin1').split('\n')[0]!;
}

describe('scripts', { skip: !existsSync(SH) ? `${SH} is missing` : false }, () => {
  let dir = '';
  let env: Record<string, string> = {};
  const c = (args: string[], extra: Record<string, string> = {}) => cald(args, { env: { ...env, ...extra } });
  const objectOf = (name: string) => {
    const r = c(['path', name]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };

  before(() => {
    dir = makeTmp({ after: (fn) => process.on('exit', fn) }, 'script');
    env = { CALD_STORE: join(dir, 'store'), PATH, HOME: dir, XDG_CACHE_HOME: join(dir, 'cache') };
  });

  test('a #!/bin/sh -e script: the line names dash by content with its argument; cald run runs it by name, URI and path', () => {
    const s = script(dir, 'greet.sh', '#!/bin/sh -e\necho "args: $*"\nfalse\necho not reached\n');
    const direct = run(s, ['a b', 'c']);
    const imp = c(['import', s, '--json']);
    assert.equal(imp.status, 0, imp.stderr);
    const report = JSON.parse(imp.stdout) as { imported: { path: string; uri: string; digest: string }[] };
    const mine = report.imported.find((i) => i.path === s)!;
    assert.match(mine.uri, /^cas:sha256:[0-9a-f]{64}\?name=greet\.sh$/);
    const object = objectOf('greet.sh');
    const m = LINE.exec(readFileSync(object, 'latin1'));
    assert.ok(m, firstLine(object));
    assert.equal(m[2], 'sh', 'the hint is the name the script used');
    assert.equal(m[3], ' -e');
    // The interpreter object is the stored /bin/sh (dash), byte for byte what sha256sum says.
    const shHex = run('sha256sum', [join(env.CALD_STORE!, 'objects', 'sha256', m[1]!)]).stdout.slice(0, 64);
    assert.equal(shHex, m[1]);
    // The body is unchanged.
    assert.equal(
      readFileSync(object, 'latin1').split('\n').slice(1).join('\n'),
      readFileSync(s, 'latin1').split('\n').slice(1).join('\n'),
    );
    for (const spec of ['greet.sh', mine.uri, object]) {
      const r = c(['run', spec, 'a b', 'c']);
      assert.equal(r.stdout, direct.stdout, `${spec}: ${r.stderr}`);
      assert.equal(r.status, direct.status, `${spec}: -e stops at false, as when run directly`);
      assert.equal(r.status, 1);
    }
  });

  test('#!/usr/bin/env python3 and #!/usr/bin/env -S python3 -I -u: the command found on PATH, its arguments split as env -S does', (t) => {
    if (!existsSync(PYTHON)) return t.skip(`${PYTHON} is missing`);
    const code = 'import sys\nprint(sys.argv[1:], sys.flags.isolated, sys.flags.no_user_site)\n';
    const plain = script(dir, 'plain.py', `#!/usr/bin/env python3\n${code}`);
    const split = script(dir, 'split.py', `#!/usr/bin/env -S python3 -I -u\n${code}`);
    const imp = c(['import', plain, split]);
    assert.equal(imp.status, 0, imp.stderr);
    const p = LINE.exec(readFileSync(objectOf('plain.py'), 'latin1'))!;
    const s = LINE.exec(readFileSync(objectOf('split.py'), 'latin1'))!;
    assert.equal(p[1], s[1], 'one python object for both');
    assert.equal(p[2], 'python3');
    assert.equal(p[3], '');
    assert.equal(s[3], ' -I -u');
    for (const [name, file] of [
      ['plain.py', plain],
      ['split.py', split],
    ] as const) {
      const want = run(file, ['x'], { env: { PATH } });
      const got = c(['run', name, 'x']);
      assert.equal(got.status, 0, got.stderr);
      assert.equal(got.stdout, want.stdout, name);
    }
    assert.match(c(['run', 'split.py']).stdout, /\[\] 1 1/, '-I reached python');
  });

  test('the script object refers to its interpreter: gc keeps it while the script is a root, verify checks it', () => {
    const object = objectOf('greet.sh');
    const hex = LINE.exec(readFileSync(object, 'latin1'))![1]!;
    const why = c(['why-depends', 'greet.sh', `sha256:${hex}`]);
    assert.equal(why.status, 0, why.stderr);
    assert.match(why.stdout, new RegExp(hex.slice(0, 12)));
    // Only the script keeps dash: drop the program names the interpreter import gave it.
    for (const n of ['sh', 'dash']) assert.equal(c(['roots', 'remove', `program-${n}`]).status, 0);
    const gc = c(['gc']);
    assert.equal(gc.status, 0, gc.stderr);
    assert.ok(
      existsSync(join(env.CALD_STORE!, 'objects', 'sha256', hex)),
      'dash survives gc through the script',
    );
    assert.equal(c(['run', 'greet.sh']).status, 1);
    const idx = c(['index', 'rebuild']);
    assert.equal(idx.status, 0, idx.stderr);
    const why2 = c(['why-depends', 'greet.sh', `sha256:${hex}`]);
    assert.equal(why2.status, 0, `the ref is in the script's own bytes: ${why2.stderr}`);
    const v = c(['verify']);
    assert.equal(v.status, 0, v.stderr);
  });

  test('cald ldd of a script: the script, its #! line (hint, hash, arguments), then the interpreter tree', () => {
    const r = c(['ldd', 'greet.sh']);
    assert.equal(r.status, 0, r.stderr);
    const hex = LINE.exec(readFileSync(objectOf('greet.sh'), 'latin1'))![1]!;
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /^greet\.sh {2}sha256:[0-9a-f]{12} {2}verified {2}\//);
    assert.equal(lines[1], `  #! sh  sha256:${hex.slice(0, 12)}  -e`);
    assert.match(lines[2]!, new RegExp(`^sh  sha256:${hex.slice(0, 12)}  verified  `));
    assert.match(r.stdout, /^└─ libc\.so\.6 +sha256:/m);
    const json = JSON.parse(c(['ldd', '--json', 'greet.sh']).stdout) as {
      script: { interpreter: string; args: string[] };
    };
    assert.match(json.script.interpreter, new RegExp(`^cas:sha256:${hex}\\?name=sh$`));
    assert.deepEqual(json.script.args, ['-e']);
    const inspect = c(['inspect', 'greet.sh']);
    assert.equal(inspect.status, 3);
    assert.match(
      inspect.stderr,
      new RegExp(`is a #!cas: script running cas:sha256:${hex}\\?name=sh, not an ELF file`),
    );
    assert.match(inspect.stderr, /^hint: cald ldd SCRIPT/m);
  });

  test('cald install makes a launcher that runs the script with no cald process', () => {
    const bin = join(dir, 'bin');
    const r = c(['install', 'greet.sh', '--bin', bin]);
    assert.equal(r.status, 0, r.stderr);
    const out = run(join(bin, 'greet.sh'), ['q'], { env: { ...env, CALD_STORE: undefined } });
    assert.equal(out.stdout, 'args: q\n');
    assert.equal(out.status, 1);
  });

  test('a changed script object is refused by cald run and by its launcher, in one line', () => {
    const object = objectOf('greet.sh');
    const before = readFileSync(object);
    const mode = statSync(object).mode & 0o777;
    chmodSync(object, 0o755);
    writeFileSync(object, Buffer.concat([before, Buffer.from('echo injected\n')]));
    chmodSync(object, mode);
    try {
      const r = c(['run', 'greet.sh']);
      assert.equal(r.status, 126, r.stderr);
      assert.match(r.stderr, /not the hash in its name/);
      assert.doesNotMatch(r.stdout, /injected/);
      const l = run(join(dir, 'bin', 'greet.sh'), [], { env: { ...env, CALD_STORE: undefined } });
      assert.equal(l.status, 126);
      assert.match(l.stderr, /^cald-launch: refusing to run the program .*has another sha256/);
      assert.equal(l.stdout, '');
    } finally {
      chmodSync(object, 0o755);
      writeFileSync(object, before);
      chmodSync(object, mode);
    }
  });

  test('a checked-out #!cas: script runs from its path; a changed interpreter object is refused with one line', () => {
    const object = objectOf('greet.sh');
    const copy = join(dir, 'copy.sh');
    writeFileSync(copy, readFileSync(object));
    chmodSync(copy, 0o755);
    const ok = c(['run', copy, 'z']);
    assert.equal(ok.stdout, 'args: z\n', ok.stderr);
    const bad = script(dir, 'bad.sh', `#!cas:sha256:${'0'.repeat(64)}?name=sh\necho hi\n`);
    const r = c(['run', bad]);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length <= 2, true, r.stderr);
    assert.ok(!hasStackTrace(r.stderr));
  });

  test('what a #!cas: line cannot say is refused with one line: relative interpreter, env -S quoting, env options, a kernel argument with blanks, a line over 256 bytes, an interpreter that is a script', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['rel.sh', '#!bin/sh\necho\n', /relative path/],
      ['quote.sh', "#!/usr/bin/env -S sh -c 'echo hi'\n", /quotes, escapes or variables/],
      ['opt.sh', '#!/usr/bin/env -i\n', /env options or variables/],
      ['space.sh', '#!/usr/bin/env -i sh\n', /look for a program called/],
      ['assign.sh', '#!/usr/bin/env -S A=1 sh\n', /env options or variables/],
      ['blank.sh', '#!/bin/sh -e -u\necho\n', /as one argument/],
      ['long.sh', `#!/bin/sh ${'x'.repeat(300)}\n`, /longer than 255 bytes/],
      ['missing.sh', '#!/usr/bin/env no-such-interpreter-here\n', /not on PATH/],
      ['nested.sh', `#!${join(dir, 'greet.sh')}\n`, /is itself a script/],
    ];
    for (const [name, text, want] of cases) {
      const r = c(['import', script(dir, name, text)]);
      assert.notEqual(r.status, 0, name);
      assert.match(r.stderr, want, name);
      assert.ok(!hasStackTrace(r.stderr), name);
      assert.equal(
        r.stderr.split('\n').filter((l) => l.startsWith('cald:')).length,
        1,
        `${name}: ${r.stderr}`,
      );
    }
  });

  test("the kernel keeps a #! line of 255 bytes and cuts a longer one: cald's limit (256 with the newline) is the kernel's", () => {
    // BINPRM_BUF_SIZE is 256 since Linux 5.1: measured here with /bin/echo as the interpreter.
    const echoLine = (len: number) => {
      const arg = 'x'.repeat(len - '#!/bin/echo '.length);
      const p = script(dir, `len${len}`, `#!/bin/echo ${arg}\n`);
      return { arg, out: run(p, []).stdout.trim().split(' ')[0]! };
    };
    const fits = echoLine(SHEBANG_LIMIT - 1);
    assert.equal(fits.out, fits.arg, 'a 255-byte line reaches the interpreter whole');
    const over = echoLine(SHEBANG_LIMIT);
    assert.equal(over.out, over.arg.slice(0, -1), 'a 256-byte line loses its last byte');
    // cald writes #!cas: lines up to that limit and refuses longer ones.
    const uri = `#!cas:sha256:${'a'.repeat(64)}?name=sh`;
    const pad = (n: number) => `${uri} ${'y'.repeat(n - uri.length - 1)}\n`;
    assert.equal(Buffer.byteLength(pad(SHEBANG_LIMIT - 1)), SHEBANG_LIMIT);
    const ok = script(dir, 'max.sh', pad(SHEBANG_LIMIT - 1));
    assert.doesNotMatch(c(['run', ok]).stderr, /longer than/);
    const long = script(dir, 'over.sh', pad(SHEBANG_LIMIT));
    assert.match(c(['run', long]).stderr, /longer than 255 bytes/);
  });
});

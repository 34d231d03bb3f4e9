// Issue 4, "bad input across the CLI": every case gets a non-zero exit with one `cald:` line (and
// an optional hint), never a stack trace, and loses no data (the objects are still there after).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine, checkStoreFiles, importedDigest } from '../store/helpers/robust.js';
import { cald, hasStackTrace } from './cald.js';

const SQLITE3 = '/usr/bin/sqlite3';

/** /usr/bin/true (ELF64 little-endian) with `edit` applied to its PT_INTERP program header at `at`. */
function withInterpHeader(edit: (bytes: Buffer, at: number) => void): Buffer {
  const bytes = Buffer.from(readFileSync('/usr/bin/true'));
  const phoff = Number(bytes.readBigUInt64LE(0x20));
  const [entsize, count] = [bytes.readUInt16LE(0x36), bytes.readUInt16LE(0x38)];
  for (let i = 0; i < count; i++) {
    const at = phoff + i * entsize;
    if (bytes.readUInt32LE(at) === 3) edit(bytes, at); // PT_INTERP
  }
  return bytes;
}

describe('hostile input across the CLI', () => {
  const dir = makeTmp({ after }, 'hostile');
  const base = join(dir, 'base');
  let program = '';
  let n = 0;
  const fresh = (): string => {
    const s = join(dir, `s${n++}`);
    cpSync(base, s, { recursive: true, verbatimSymlinks: true });
    return s;
  };
  before(() => {
    const r = cald(['import', SQLITE3, '--store', base]);
    assert.equal(r.status, 0, r.stderr);
    program = importedDigest(r.stdout)!;
  });

  test('malformed names and URIs of every shape', () => {
    const shapes = [
      'cas:',
      'cas:sha256:',
      'cas:sha256:xyz',
      `cas:sha256:${'A'.repeat(64)}`,
      `cas:sha512:${'a'.repeat(64)}`,
      `cas:sha256:${'a'.repeat(64)}?name=`,
      `cas:sha256:${'a'.repeat(64)}?name=../x`,
      `cas:sha256:${'a'.repeat(64)}?name=a/b`,
      'cas:$ORIGIN',
      'sha256:',
      `sha256:${'a'.repeat(63)}`,
      `${'a'.repeat(300)}`,
    ];
    for (const s of shapes) {
      for (const cmd of [
        ['run', '--store', base, s],
        ['ldd', s, '--store', base],
        ['roots', 'add', s, '--store', base],
        ['roots', 'remove', s, '--store', base],
      ]) {
        assertOneLine(cald(cmd), cmd.join(' '));
      }
    }
  });

  test('a store path that is a file, or missing, or not a store', () => {
    const file = join(dir, 'afile');
    writeFileSync(file, 'x');
    for (const cmd of [
      ['gc'],
      ['verify'],
      ['roots', 'list'],
      ['store', 'info'],
      ['index', 'rebuild'],
      ['import', SQLITE3],
      ['ldd', program],
    ]) {
      assertOneLine(cald([...cmd, '--store', file]), `${cmd.join(' ')} on a file`, /not a directory/);
      assertOneLine(cald([...cmd, '--store', join(file, 'sub')]), `${cmd.join(' ')} below a file`);
      if (cmd[0] !== 'import')
        assertOneLine(cald([...cmd, '--store', join(dir, 'none')]), `${cmd.join(' ')} on nothing`);
    }
    // env printed code that set CALD_STORE to the file, with a warning that it was no store "yet".
    assertOneLine(cald(['env', '--store', file]), 'env on a file', /not a directory/);
  });

  test('truncated and corrupt objects, garbage in objects/ and names/: verify reports, nothing else lost', () => {
    const s = fresh();
    const objs = readdirSync(join(s, 'objects', 'sha256')).filter((h) => `sha256:${h}` !== program);
    const [a, b] = objs;
    chmodSync(join(s, 'objects', 'sha256', a!), 0o644);
    writeFileSync(join(s, 'objects', 'sha256', a!), 'truncated');
    chmodSync(join(s, 'objects', 'sha256', b!), 0o644);
    writeFileSync(join(s, 'objects', 'sha256', 'garbage.tmp'), 'x');
    writeFileSync(join(s, 'names', 'garbage'), 'x');
    writeFileSync(join(s, 'tmp', 'object-1-deadbeef'), 'half-written');
    const v = cald(['verify', '--store', s]);
    assert.equal(v.status, 1, v.stdout + v.stderr);
    assert.ok(!v.stderr.includes('    at '), v.stderr);
    assert.match(v.stdout, new RegExp(a!));
    for (const cmd of [
      ['gc', '--dry-run'],
      ['store', 'info'],
      ['roots', 'list'],
      ['index', 'rebuild'],
    ]) {
      const r = cald([...cmd, '--store', s]);
      assert.ok(!r.stderr.includes('    at '), `${cmd.join(' ')}: ${r.stderr}`);
      assert.ok(r.status === 0 || r.stderr.trim().split('\n').length <= 2, `${cmd.join(' ')}: ${r.stderr}`);
    }
    // Nothing else was deleted by any of it.
    for (const h of objs.slice(1)) assert.ok(readdirSync(join(s, 'objects', 'sha256')).includes(h), h);
  });

  test('a corrupt or missing index.sqlite is rebuilt, the data kept', () => {
    for (const damage of ['corrupt', 'missing', 'empty', 'other-columns', 'fifo', 'directory']) {
      const s = fresh();
      const index = join(s, 'index.sqlite');
      // The right schema version with a table of other columns: "no such column" was a bug (70).
      if (damage === 'other-columns')
        execFileSync(SQLITE3, [index, 'DROP TABLE objects; CREATE TABLE objects (x);']);
      // A read-only open(2) of a FIFO waited for ever (cald store info).
      if (damage === 'fifo' || damage === 'directory') rmSync(index);
      if (damage === 'fifo') execFileSync('mkfifo', [index]);
      if (damage === 'directory') mkdirSync(index);
      const info = cald(['store', 'info', '--store', s], { timeoutMs: 30_000 });
      assert.equal(info.status, 0, `${damage}: store info: ${info.signal ?? ''} ${info.stderr}`);
      if (damage === 'corrupt')
        writeFileSync(index, 'SQLite format 3\u0000 garbage garbage garbage'.repeat(50));
      if (damage === 'empty') writeFileSync(index, '');
      if (damage === 'missing') rmSync(index, { force: true });
      const r = cald(['verify', '--store', s]);
      assert.equal(r.status, 0, `${damage}: ${r.stderr}${r.stdout}`);
      const run = cald(['run', '--store', s, program, ':memory:', 'select 1;']);
      assert.equal(run.status, 0, `${damage}: ${run.stderr}`);
      checkStoreFiles(s, damage);
    }
  });

  test('a FIFO, a device or a directory where an ELF file is read: one line, never a hang', () => {
    const fifo = join(dir, 'a-fifo');
    execFileSync('mkfifo', [fifo]);
    const adir = join(dir, 'a-dir');
    mkdirSync(adir);
    // Killed after 30 s: a blocked open(2) of the FIFO or an endless read of /dev/zero shows as
    // a null status, not as a slow test.
    const opts = { timeoutMs: 30_000 };
    for (const [file, kind] of [
      [fifo, /a FIFO, not a regular file/],
      ['/dev/zero', /a character device, not a regular file/],
      [adir, /is a directory/],
    ] as const) {
      assertOneLine(cald(['inspect', file], opts), `inspect ${file}`, kind);
      const json = cald(['inspect', '--json', file], opts);
      assert.equal(json.status, 5, `inspect --json ${file}: ${json.stdout}${json.stderr}`);
      assert.equal(JSON.parse(json.stdout).code, file === adir ? 'IO_EISDIR' : 'IO_NOT_REGULAR', json.stdout);
      for (const edit of [['--print-needed'], ['--shrink-rpath'], ['--set-rpath', '/x']]) {
        const r = cald(['patchelf', ...edit, file], opts);
        assert.equal(r.status, 1, `patchelf ${edit.join(' ')} ${file}: ${r.signal ?? ''} ${r.stderr}`);
        assert.match(r.stderr.split('\n')[0]!, kind, r.stderr);
        assert.ok(!hasStackTrace(r.stderr), r.stderr);
      }
    }
  });

  test('output to a FIFO or a device goes into it, never renamed over it', async () => {
    const fifo = join(dir, 'out-fifo');
    const copy = join(dir, 'out-copy');
    for (const cmd of [
      ['export', program, '-o', fifo, '--store', base],
      ['patchelf', '--set-rpath', '/x', '--output', fifo, SQLITE3],
    ]) {
      rmSync(fifo, { force: true });
      execFileSync('mkfifo', [fifo]);
      // A reader into a file (cald below blocks this process: a pipe to it would fill).
      const reader = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', fifo, copy], { stdio: 'ignore' });
      const ended = new Promise((ok) => reader.on('close', ok));
      const r = cald(cmd, { timeoutMs: 30_000 });
      if (!lstatSync(fifo).isFIFO()) reader.kill(); // renamed over: the reader waits for a writer
      await ended;
      assert.equal(r.status, 0, `${cmd.join(' ')}: ${r.stderr}`);
      assert.ok(lstatSync(fifo).isFIFO(), `${cmd.join(' ')}: the FIFO was replaced by a file`);
      assert.ok(statSync(copy).size > 1000, `${cmd.join(' ')}: the reader got ${statSync(copy).size} bytes`);
    }
  });

  test('a program for another machine, or no program at all: cannot run, one line, never fed to /bin/sh', () => {
    const foreign = join(dir, 'foreign-machine');
    const bytes = readFileSync('/usr/bin/true');
    bytes.writeUInt16LE(bytes.readUInt16LE(18) === 183 ? 62 : 183, 18); // aarch64, or x86-64 on aarch64
    writeFileSync(foreign, bytes, { mode: 0o755 });
    // e_type damaged (neither ET_EXEC nor ET_DYN): the kernel refuses it with ENOEXEC too.
    const badType = join(dir, 'bad-e-type');
    const typed = readFileSync('/usr/bin/true');
    typed.writeUInt16LE(0xfc, 16);
    writeFileSync(badType, typed, { mode: 0o755 });
    const fifo = join(dir, 'run-fifo');
    execFileSync('mkfifo', [fifo]);
    for (const file of [foreign, badType, fifo]) {
      const r = cald(['run', '--store', base, file], { timeoutMs: 30_000 });
      assertOneLine(
        r,
        `run ${file}`,
        /cannot (run|read) .*(not for this one|a FIFO, not a regular file|type 0xfc, not a program)/,
      );
      assert.equal(r.status, 126, r.stderr);
    }
  });

  test('a script whose #! line names itself: cannot run, one line, 126', () => {
    const script = join(dir, 'self-script');
    writeFileSync(script, `#!${script}\n`, { mode: 0o755 });
    const r = cald(['run', '--store', base, script]);
    assertOneLine(r, 'run a #! loop', /cannot run .*too many levels/);
    assert.equal(r.status, 126, r.stderr);
  });

  test('a program whose PT_INTERP is an empty string: ldd and graph say so, no internal error', () => {
    const bytes = withInterpHeader((b, at) => {
      const off = Number(b.readBigUInt64LE(at + 8));
      b.fill(0, off, off + Number(b.readBigUInt64LE(at + 32)));
    });
    const file = join(dir, 'empty-interp');
    writeFileSync(file, bytes, { mode: 0o755 });
    for (const cmd of ['ldd', 'graph']) {
      const r = cald([cmd, '--store', base, file], { timeoutMs: 30_000 });
      assert.ok(
        !hasStackTrace(r.stderr) && !/internal error/.test(r.stderr + r.stdout),
        `${cmd}: ${r.stderr}`,
      );
      assert.notEqual(r.status, 70, r.stderr);
    }
    assert.match(cald(['ldd', '--store', base, file]).stdout, /interpreter \(PT_INTERP\) is an empty string/);
  });

  test('a program whose PT_INTERP lies past its end: run, ldd and graph name that, not a vague EIO', () => {
    const bytes = withInterpHeader((b, at) => b.writeBigUInt64LE(BigInt(b.length + 1000), at + 8));
    const file = join(dir, 'interp-past-end');
    writeFileSync(file, bytes, { mode: 0o755 });
    const ran = cald(['run', '--store', base, file]);
    assertOneLine(ran, 'run', /cannot run .*PT_INTERP at offset .* lies outside the file/);
    assert.equal(ran.status, 126, ran.stderr);
    assert.match(ran.stderr, /hint: the file is truncated or corrupt/);
    for (const cmd of ['ldd', 'graph']) {
      const r = cald([cmd, '--store', base, file]);
      assertOneLine(r, cmd, /PT_INTERP at offset .* lies outside the file/);
    }
  });

  test('a FIFO in place of a library object: run, ldd, graph and gc end with one error, never a hang', () => {
    const store = fresh();
    const names = readdirSync(join(store, 'names')).filter((e) => e.includes('name=libsqlite3'));
    assert.ok(names.length > 0, 'the library has a name entry');
    const object = realpathSync(join(store, 'names', names[0]!));
    rmSync(object, { force: true });
    execFileSync('mkfifo', [object]);
    for (const cmd of [['run', 'sqlite3', '--version'], ['ldd', 'sqlite3'], ['graph', 'sqlite3'], ['gc']]) {
      const r = cald([...cmd, '--store', store], { timeoutMs: 30_000 });
      assert.equal(r.signal ?? null, null, `${cmd.join(' ')} ended by itself`);
      assert.notEqual(r.status, 0, `${cmd.join(' ')}: ${r.stderr}`);
      assert.ok(
        !hasStackTrace(r.stderr) && !/internal error/.test(r.stderr),
        `${cmd.join(' ')}: ${r.stderr}`,
      );
    }
  });

  test('patchelf on a program with no program headers: refused as corrupt, nothing written, no internal error', () => {
    const file = join(dir, 'no-phdrs');
    const bytes = Buffer.from(readFileSync('/usr/bin/true'));
    bytes.writeUInt16LE(0, 0x38); // e_phnum
    writeFileSync(file, bytes, { mode: 0o755 });
    const r = cald(['patchelf', '--set-rpath', '/x', file]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^patchelf: .*no loadable segment/);
    assert.doesNotMatch(r.stderr, /internal error/);
    assert.ok(readFileSync(file).equals(bytes), 'the file is unchanged');
  });

  test('a signing key that never ends (/dev/zero) is refused, not read for good', () => {
    const r = cald(
      ['export', 'sqlite3', '-o', join(dir, 'k.tar.zst'), '--sign-key', '/dev/zero', '--store', base],
      {
        timeoutMs: 30_000,
      },
    );
    assert.equal(r.signal ?? null, null, 'export ended by itself');
    assertOneLine(r, 'export --sign-key /dev/zero', /signing key \/dev\/zero: it is longer than/);
    assert.equal(r.status, 5, r.stderr);
  });

  test('a program whose path holds a newline is imported with one line for it, the newline escaped', () => {
    const sub = join(dir, 'nl');
    mkdirSync(sub);
    const file = join(sub, 'a\nb');
    writeFileSync(file, readFileSync('/usr/bin/true'), { mode: 0o755 });
    const r = cald(['import', file, '--store', fresh()]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n').length, 1, r.stdout);
    assert.match(r.stdout.trimEnd(), /^cas:sha256:[0-9a-f]{64}\S* {2}.*\/a\\nb$/);
    assert.match(r.stderr, /a\\nb has no name to run it by/);
  });

  test('a newline in a name or a path stays on the one line', () => {
    for (const cmd of [
      ['path', 'a\nb'],
      ['why-depends', program, 'a\nb'],
      ['import', join(dir, 'no\nsuch')],
      ['pull', 'a\nb', 'x'],
    ]) {
      assertOneLine(cald([...cmd, '--store', base]), JSON.stringify(cmd), /a\\nb|no\\nsuch/);
    }
  });

  test('bad options of the lifecycle commands', () => {
    assertOneLine(cald(['gc', '--max-freed', 'lots', '--store', base]), 'gc --max-freed lots');
    assertOneLine(cald(['gc', '--keep-younger-than', '-5', '--store', base]), 'gc --keep-younger-than -5');
    assertOneLine(cald(['verify', '--workers', '0', '--store', base]), 'verify --workers 0');
    assertOneLine(cald(['import', join(dir, 'no-such-file'), '--store', base]), 'import missing');
    assertOneLine(cald(['import', join(dir, 'afile'), '--store', base]), 'import a non-ELF file');
    checkStoreFiles(base, 'base after all');
  });
});

// The helpers themselves: process runner, temp dirs, readelf/eu-elflint parsers, the machine's ELF corpus
// and a real program's closure. Later tests trust these as their oracle.
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, existsSync, lstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildVariant, isSkipped, runFixture } from './helpers/compile.js';
import { copyClosure, machineElfFiles, programClosure } from './helpers/elf-files.js';
import { cannotRun, i386Execution, isI386 } from './helpers/host.js';
import {
  elflint,
  parseDynamic,
  parseSegments,
  parseVersionNeeds,
  readelfDynamic,
  readelfDynamicMany,
  readelfHeader,
  readelfInterp,
  readelfWarnings,
  splitByFile,
} from './helpers/readelf.js';
import { hasTool, run } from './helpers/run.js';
import { makeTmp, withTmp } from './helpers/tmp.js';

const LS = '/usr/bin/ls';
const LS_INTERP = '/lib64/ld-linux-x86-64.so.2';

describe('run', () => {
  test('reports exit status, output and input without throwing', () => {
    const r = run('sh', ['-c', 'cat; echo err >&2; exit 3'], { input: 'in\n' });
    assert.deepEqual([r.status, r.signal, r.stdout, r.stderr], [3, null, 'in\n', 'err\n']);
  });

  test('passes env and cwd', () => {
    const r = run('sh', ['-c', 'echo "$CALD_X $(pwd)"'], { env: { CALD_X: 'y' }, cwd: '/usr' });
    assert.equal(r.stdout, 'y /usr\n');
  });

  test('a missing command and a timeout are results, not exceptions', () => {
    const missing = run('cald-no-such-tool', []);
    assert.equal(missing.status, null);
    assert.match(missing.error ?? '', /ENOENT/);
    const slow = run('sleep', ['5'], { timeoutMs: 100 });
    assert.equal(slow.signal, 'SIGTERM');
  });

  test('hasTool looks on PATH', () => {
    assert.equal(hasTool('sh'), true);
    assert.equal(hasTool('cald-no-such-tool'), false);
  });
});

describe('tmp', () => {
  test('makeTmp removes its directory when the test ends', async (t) => {
    let dir = '';
    await t.test('inner', (inner) => {
      dir = makeTmp(inner);
      writeFileSync(join(dir, 'f'), 'x');
    });
    assert.ok(dir !== '' && !existsSync(dir));
  });

  test('withTmp removes its directory even when the callback throws', async () => {
    let dir = '';
    await assert.rejects(
      withTmp((d) => {
        dir = d;
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(dir !== '' && !existsSync(dir));
  });
});

describe('readelf parsers', () => {
  test('dynamic entries: names with spaces and brackets, all four kinds', () => {
    const text = [
      'Dynamic section at offset 0x2de0 contains 5 entries:',
      '  Tag        Type                         Name/Value',
      ' 0x0000000000000001 (NEEDED)             Shared library: [lib a b.so]',
      ' 0x0000000000000001 (NEEDED)             Shared library: [lib[x]].so]',
      ' 0x000000000000000e (SONAME)             Library soname: [cas:sha256:ab]',
      ' 0x000000000000000f (RPATH)              Library rpath: [/a:/b c]',
      ' 0x000000000000001d (RUNPATH)            Library runpath: [$ORIGIN/../lib]',
      ' 0x000000006ffffffb (FLAGS_1)            Flags: NOW PIE',
    ].join('\n');
    assert.deepEqual(parseDynamic(text), {
      hasDynamic: true,
      needed: ['lib a b.so', 'lib[x]].so'],
      soname: 'cas:sha256:ab',
      rpath: '/a:/b c',
      runpath: '$ORIGIN/../lib',
      tags: ['NEEDED', 'NEEDED', 'SONAME', 'RPATH', 'RUNPATH', 'FLAGS_1'],
      errors: [],
    });
    assert.equal(parseDynamic('\nThere is no dynamic section in this file.\n').hasDynamic, false);
  });

  test('multi-file output splits at File: headers of the files given, in order', () => {
    const text = ['', 'File: a', 'A', '', 'File: File: b', 'B', 'File: z', 'B2', '', 'File: c', 'C'].join(
      '\n',
    );
    const parts = splitByFile(text, ['a', 'File: b', 'c']);
    assert.deepEqual([...parts.keys()], ['a', 'File: b', 'c']);
    assert.match(parts.get('File: b') ?? '', /B\nFile: z\nB2/);
  });

  test('program headers (with the R E flag that holds a space) and version needs', () => {
    const segs = parseSegments(
      [
        '  LOAD           0x000000 0x00400000 0x00400000 0x003a0 0x003a0 R E 0x10000',
        '  NULL           0x000000 0x00000000 0x00000000 0x00000 0x00000     0x4',
      ].join('\n'),
    );
    assert.deepEqual(
      segs.map((s) => [s.type, s.flags, s.align, s.filesz]),
      [
        ['LOAD', 'R E', 0x10000, 0x3a0],
        ['NULL', '', 4, 0],
      ],
    );
    const needs = parseVersionNeeds(
      [
        "Version needs section '.gnu.version_r' contains 2 entries:",
        '  000000: Version: 1  File: lib x.so  Cnt: 1',
        '  0x0010:   Name: X_1  Flags: none  Version: 3',
        '  0x0020: Version: 1  File: libc.so.6  Cnt: 1',
        '  0x0030:   Name: GLIBC_2.34  Flags: none  Version: 2',
      ].join('\n'),
    );
    assert.deepEqual(needs, [
      { file: 'lib x.so', names: ['X_1'] },
      { file: 'libc.so.6', names: ['GLIBC_2.34'] },
    ]);
  });

  test(`${LS}: header, interpreter, needed, no warnings, elflint clean`, () => {
    assert.deepEqual(readelfHeader(LS), {
      class: 'ELF64',
      data: 'little',
      machine: 'Advanced Micro Devices X86-64',
      type: 'DYN',
      typeText: 'DYN (Position-Independent Executable file)',
    });
    assert.equal(readelfInterp(LS), LS_INTERP);
    const dyn = readelfDynamic(LS);
    assert.ok(dyn.needed.includes('libc.so.6'));
    assert.deepEqual([dyn.soname, dyn.rpath, dyn.runpath], [null, null, null]);
    assert.deepEqual(readelfWarnings(LS), []);
    assert.deepEqual(elflint(LS), []);
  });

  test('a fixture with DT_RPATH, then odd names written by patchelf', (t) => {
    const dir = makeTmp(t, 'rpath');
    const f = buildVariant('bfd-pie-rpath', dir);
    if (isSkipped(f)) return t.skip(f.skipped);
    const dyn = readelfDynamic(f.program);
    assert.deepEqual([dyn.rpath, dyn.runpath], ['$ORIGIN/lib', null]);
    assert.deepEqual(dyn.needed, ['libcalda.so.1', 'libcaldb.so.1', 'libc.so.6']);
    if (!hasTool('patchelf')) return t.skip('missing tool: patchelf');
    const lib = f.libs[0]!;
    const odd = 'lib b [1] ].so';
    const copy = join(dir, 'odd.so');
    copyFileSync(lib, copy);
    // Two patchelf runs: patchelf 0.14.3 given both options in one run writes the rpath as the soname too.
    assert.equal(run('patchelf', ['--set-soname', odd, copy]).status, 0);
    assert.equal(run('patchelf', ['--set-rpath', '/x y:/[z]', copy]).status, 0);
    const d = readelfDynamic(copy);
    assert.deepEqual([d.soname, d.runpath ?? d.rpath], [odd, '/x y:/[z]']);
    // the edit was on a copy: the fixture itself still runs
    assert.equal(runFixture(f).stdout, f.expectedStdout);
  });
});

describe('machine ELF files', () => {
  const files = machineElfFiles();

  test('thousands of distinct regular ELF files, no symlinks, no archives', (t) => {
    t.diagnostic(`machineElfFiles(): ${files.length} files`);
    assert.ok(files.length > 1000, `only ${files.length}`);
    assert.equal(new Set(files).size, files.length);
    const ids = new Set<string>();
    for (const f of files.filter((_, i) => i % 10 === 0)) {
      const st = lstatSync(f);
      assert.ok(st.isFile(), f);
      ids.add(`${st.dev}:${st.ino}`);
      const fd = openSync(f, 'r');
      const b = Buffer.alloc(4);
      readSync(fd, b, 0, 4, 0);
      closeSync(fd);
      assert.equal(b.toString('latin1'), '\x7fELF', f);
    }
    assert.equal(ids.size, Math.ceil(files.length / 10));
    // Names ending in .a are not all ar archives: glibc's libmcheck.a is an ELF object, so it is listed.
  });

  test('readelfDynamicMany over all of them agrees with one-file readelf on a sample', (t) => {
    const started = Date.now();
    const many = readelfDynamicMany(files);
    t.diagnostic(`readelfDynamicMany: ${files.length} files in ${Date.now() - started} ms`);
    assert.equal(many.size, files.length);
    assert.ok([...many.values()].filter((d) => d.hasDynamic).length > files.length / 2);
    for (const f of files.filter((_, i) => i % 50 === 0)) {
      assert.deepEqual({ ...many.get(f), errors: [] }, { ...readelfDynamic(f), errors: [] }, f);
    }
  });

  test('readelfDynamicMany keeps going past a file readelf cannot read', () => {
    const many = readelfDynamicMany([LS, '/etc/hostname', '/nonexistent/cald', '/usr/bin/true']);
    assert.ok(many.get(LS)?.needed.includes('libc.so.6'));
    assert.ok(many.get('/usr/bin/true')?.needed.includes('libc.so.6'));
    assert.deepEqual([...many.keys()], [LS, '/etc/hostname', '/nonexistent/cald', '/usr/bin/true']);
    assert.deepEqual(many.get(LS)?.errors, []);
    assert.match(many.get('/etc/hostname')?.errors.join() ?? '', /not an ELF file/);
    assert.equal(many.get('/nonexistent/cald')?.hasDynamic, false);
  });

  test(`programClosure(${LS}) and a copy that runs through the copied loader`, (t) => {
    const closure = programClosure(LS);
    assert.ok(closure.some((p) => p.endsWith('/libc.so.6')));
    assert.equal(closure.at(-1), LS_INTERP);
    const dir = makeTmp(t, 'closure');
    const c = copyClosure(LS, dir);
    assert.equal(c.libs.length, closure.length);
    const loader = join(c.libDir, 'ld-linux-x86-64.so.2');
    const r = run(loader, ['--library-path', c.libDir, c.program, '--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ls \(GNU coreutils\)/);
  });
});

describe('host capabilities', () => {
  test('an i386 program: run here where the probe says so, refused by name where it does not', (t) => {
    const dir = makeTmp(t, 'host-i386');
    const prog = join(dir, 'p32');
    const built = run('cc', ['-m32', '-x', 'c', '-', '-o', prog], { input: 'int main(void){return 7;}\n' });
    if (built.status !== 0) return t.skip(`cc -m32 cannot link: ${built.stderr.split('\n')[0]}`);
    assert.ok(isI386(prog));
    assert.ok(!isI386(LS));
    assert.equal(cannotRun(LS), null);
    // The probe agrees with the kernel (or with the simulation, which run() applies too).
    const why = i386Execution();
    const r = run(prog, []);
    if (why === null) assert.equal(r.status, 7, r.error ?? r.stderr);
    else {
      assert.notEqual(r.status, 7);
      assert.match(cannotRun(prog) ?? '', /^run step skipped: /);
    }
  });

  test('CALD_TEST_NO_I386=1 makes this machine refuse i386 programs, for the skip paths', () => {
    const script = `
      import { cannotRun, i386Execution, SIMULATE_NO_I386 } from './host.js';
      import { run } from './run.js';
      const out = { simulated: SIMULATE_NO_I386, why: i386Execution(), ls: cannotRun('/usr/bin/ls'),
        ran: run(process.argv[1], []).error ?? null };
      console.log(JSON.stringify(out));`;
    const here = join(import.meta.dirname, 'helpers');
    const r = run(process.execPath, ['--input-type=module', '-e', script, '/usr/lib/ld-linux.so.2'], {
      cwd: here,
      env: { CALD_TEST_NO_I386: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.simulated, true);
    assert.match(out.why, /CALD_TEST_NO_I386=1/);
    assert.equal(out.ls, null);
    if (existsSync('/usr/lib/ld-linux.so.2')) assert.match(out.ran ?? '', /ENOEXEC/);
  });
});

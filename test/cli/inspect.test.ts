// `cald inspect` end to end, checked against GNU readelf.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { InspectReport } from '../../src/api/index.js';
import {
  buildCross,
  CROSS_DSO_SONAME,
  CROSS_INTERP,
  CROSS_LIB_SONAME,
  CROSS_RPATH,
  CROSS_VERSIONS,
  crossTargets,
} from '../helpers/cross.js';
import { readelfDynamic, readelfHeader, readelfInterp, readelfSegments } from '../helpers/readelf.js';
import { makeTmp } from '../helpers/tmp.js';
import { ANSI, cald, hasStackTrace } from './cald.js';

const LS = '/usr/bin/ls';

test('inspect prints a summary of /usr/bin/ls that agrees with readelf', () => {
  const r = cald(['inspect', LS]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.doesNotMatch(r.stdout, ANSI, 'no colors when stdout is not a terminal');
  const first = r.stdout.split('\n')[0] ?? '';
  assert.match(
    first,
    /^\/usr\/bin\/ls: ELF64 little-endian x86-64 position-independent executable \(ET_DYN\)/,
  );
  const interp = readelfInterp(LS);
  assert.ok(interp !== null);
  assert.match(
    r.stdout,
    new RegExp(`^  interpreter +${interp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
  );
  for (const lib of readelfDynamic(LS).needed)
    assert.ok(r.stdout.includes(` ${lib}\n`), `needed ${lib} shown`);
  assert.match(r.stdout, /^ {2}segments$/m);
  assert.match(r.stdout, /^ +LOAD +0x0 +0x0 /m);
});

test('inspect --json on /usr/bin/ls is complete and agrees with readelf', () => {
  const r = cald(['inspect', '--json', LS]);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as InspectReport;
  const dyn = readelfDynamic(LS);
  const header = readelfHeader(LS);
  assert.equal(report.path, LS);
  assert.equal(report.class, header.class);
  assert.equal(report.machine.name, 'EM_X86_64');
  assert.equal(report.interpreter, readelfInterp(LS));
  assert.deepEqual(report.needed, dyn.needed);
  assert.equal(report.soname, dyn.soname);
  assert.equal(report.rpath, dyn.rpath);
  assert.equal(report.runpath, dyn.runpath);
  assert.deepEqual(
    report.segments.map((s) => s.type.replace(/^PT_/, '')),
    readelfSegments(LS).map((s) => s.type),
  );
  assert.deepEqual(
    report.dynamic.map((d) => d.tag.replace(/^DT_/, '')),
    dyn.tags.filter((tag) => tag !== 'NULL'),
    'every dynamic entry before DT_NULL, named as readelf names it',
  );
  assert.ok(report.sections.some((s) => s.name === '.dynstr' && s.type === 'SHT_STRTAB'));
  assert.match(report.buildId ?? '', /^[0-9a-f]{40}$/);
  assert.ok(
    report.versionNeeds.some(
      (v) => v.file === 'libc.so.6' && v.versions.some((x) => x.name === 'GLIBC_2.2.5'),
    ),
  );
});

test('inspect of several files: every good file shown, each bad one named on one line', (t) => {
  const dir = makeTmp(t, 'cli-many');
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'hello\n');
  const r = cald(['inspect', LS, text, '/bin/true']);
  assert.equal(r.status, 3, 'exit status of the only failure kind (not an ELF file)');
  assert.match(r.stdout, /^\/usr\/bin\/ls: ELF64/m);
  assert.match(r.stdout, /^\/bin\/true: ELF64/m);
  assert.equal(
    r.stderr,
    `cald: ${text}: not an ELF file (no \\x7fELF magic at the start)\nhint: give an ELF program, shared library or object file\n`,
  );

  const j = cald(['inspect', '--json', LS, text, '/nonexistent/x']);
  assert.equal(j.status, 1, 'different failure kinds combine to 1');
  const arr = JSON.parse(j.stdout) as Array<Record<string, unknown>>;
  assert.equal(arr.length, 3);
  assert.equal(arr[0]?.class, 'ELF64');
  assert.equal(arr[1]?.code, 'ELF_NOT_ELF');
  assert.equal(arr[1]?.path, text);
  assert.equal(arr[2]?.code, 'IO_ENOENT');
  assert.equal(j.stderr, '');
});

const crossTmp = makeTmp({ after }, 'cli-cross');
for (const target of crossTargets()) {
  test(`inspect reads ${target.name} (${target.class}, ${target.data}-endian) like readelf`, (t) => {
    const built = buildCross(target, join(crossTmp, target.name));
    if (!('exe' in built)) {
      t.skip(built.skipped);
      return;
    }
    const r = cald(['inspect', '--json', built.exe, built.dso, built.lib]);
    assert.equal(r.status, 0, r.stderr);
    const [exe, dso, lib] = JSON.parse(r.stdout) as InspectReport[];
    assert.ok(exe && dso && lib);
    for (const rep of [exe, dso, lib]) {
      assert.equal(rep.class, target.class);
      assert.equal(rep.byteOrder, `${target.data}-endian`);
      const header = readelfHeader(rep.path);
      assert.equal(rep.class, header.class);
      assert.equal(`${rep.byteOrder}`, `${header.data}-endian`);
      assert.equal(rep.type.name, `ET_${header.type}`);
      const dyn = readelfDynamic(rep.path);
      assert.deepEqual(rep.needed, dyn.needed);
      assert.equal(rep.soname, dyn.soname);
      assert.equal(rep.rpath, dyn.rpath);
      assert.equal(rep.runpath, dyn.runpath);
      assert.equal(rep.interpreter, readelfInterp(rep.path));
    }
    assert.equal(exe.interpreter, CROSS_INTERP);
    assert.deepEqual(exe.needed, [CROSS_LIB_SONAME]);
    assert.equal(exe.runpath, CROSS_RPATH);
    assert.equal(dso.rpath, CROSS_RPATH);
    assert.equal(dso.soname, CROSS_DSO_SONAME);
    assert.deepEqual(
      exe.versionNeeds.map((v) => [v.file, v.versions.map((x) => x.name).sort()]),
      [[CROSS_LIB_SONAME, [...CROSS_VERSIONS]]],
    );
    assert.deepEqual(
      lib.versionDefs.map((d) => d.name),
      [CROSS_LIB_SONAME, ...CROSS_VERSIONS],
    );
    const text = cald(['inspect', built.exe]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`: ${target.class} ${target.data}-endian `));
  });
}

test('exit statuses: missing file 5, directory 5, not ELF 3, truncated ELF 3; one line each, no stack', (t) => {
  const dir = makeTmp(t, 'cli-exit');
  const truncated = join(dir, 'ls-truncated');
  writeFileSync(truncated, readFileSync(LS).subarray(0, 200));
  const empty = join(dir, 'empty');
  writeFileSync(empty, '');
  const cases: Array<[string, number, RegExp]> = [
    [
      join(dir, 'missing'),
      5,
      /^cald: cannot read .*missing: no such file or directory\nhint: check the path\n$/,
    ],
    [dir, 5, /^cald: cannot read .*: is a directory\nhint: /],
    ['/etc/hostname', 3, /^cald: \/etc\/hostname: not an ELF file/],
    [empty, 3, /^cald: .*empty: not an ELF file/],
    [
      truncated,
      3,
      /^cald: .*ls-truncated: program header table at offset 0x40 .* lies outside the file \(200 bytes\)\nhint: the file is truncated or corrupt\n$/,
    ],
  ];
  for (const [file, status, stderr] of cases) {
    const r = cald(['inspect', file]);
    assert.equal(r.status, status, `${file}: ${r.stderr}`);
    assert.match(r.stderr, stderr);
    assert.equal(r.stderr.trimEnd().split('\n').length, 2, 'one message line and one hint');
    assert.equal(r.stdout, '');
    assert.ok(!hasStackTrace(r.stderr));
    const j = cald(['inspect', '--json', file]);
    assert.equal(j.status, status);
    const obj = JSON.parse(j.stdout) as { code: string; path: string; message: string };
    assert.equal(obj.path, file);
    assert.match(obj.code, status === 5 ? /^IO_/ : /^ELF_/);
  }
  // The stack appears only when asked for.
  const debug = cald(['inspect', truncated], { env: { CALD_DEBUG: '1' } });
  assert.equal(debug.status, 3);
  assert.ok(hasStackTrace(debug.stderr), 'CALD_DEBUG=1 shows the stack');
});

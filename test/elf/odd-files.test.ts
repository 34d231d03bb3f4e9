// A corpus of odd but real-world-shaped files, built here: a program loaded at 0x4000000000000000
// (as on ia64), libraries and programs linked for 64 KiB and 2 MiB pages, a separate debug-info file,
// and files with quirks the loader and patchelf accept (PT_DYNAMIC file size past its memory size,
// an empty PT_LOAD whose address and offset disagree, a table pointer outside every segment as in
// never-relocated objects). For each: `cald patchelf` prints what patchelf 0.14 prints, edits what
// patchelf edits (same readelf facts), and the edited file still runs here (or, where it cannot,
// readelf and eu-elflint find nothing new).
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PT_DYNAMIC, PT_LOAD, PT_NOTE } from '../../src/elf/format/constants.js';
import { layoutsFor } from '../../src/elf/format/layouts.js';
import { ElfFile } from '../../src/elf/read/index.js';
import { ByteView } from '../../src/util/byte-view.js';
import { elflint, readelfInterp, readelfSegments, readelfWarnings } from '../helpers/readelf.js';
import { hasTool, run, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { facts, runCald, runPatchelf, twoCopies } from '../patchelf/differential.js';

const root = makeTmp({ after }, 'odd-files');
const HELLO = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n';
const LONG_RPATH = `/cald/odd/${'r'.repeat(300)}`;
const PRINTS = ['--print-interpreter', '--print-rpath', '--print-needed', '--print-soname'];

function cc(name: string, flags: string[]): string {
  const src = join(root, `${name}.c`);
  writeFileSync(src, HELLO);
  const out = join(root, name);
  runOk('cc', ['-o', out, src, ...flags]);
  return out;
}

/** Rewrites fields of program header `index` in place (a hand-made quirk). */
function patchPhdr(
  file: string,
  index: number,
  fields: { type?: number; vaddr?: bigint; offset?: number; filesz?: number; memsz?: number },
): void {
  const buf = readFileSync(file);
  const elf = ElfFile.parse(buf);
  const v = new ByteView(buf, elf.header.littleEndian, elf.is64);
  const L = layoutsFor(elf.is64).phdr;
  const at = elf.header.phoff + index * L.size;
  if (fields.type !== undefined) v.setU32(at + L.p_type, fields.type);
  if (fields.offset !== undefined) v.setWord(at + L.p_offset, fields.offset);
  if (fields.vaddr !== undefined) {
    v.setWord(at + L.p_vaddr, fields.vaddr);
    v.setWord(at + L.p_paddr, fields.vaddr);
  }
  if (fields.filesz !== undefined) v.setWord(at + L.p_filesz, fields.filesz);
  if (fields.memsz !== undefined) v.setWord(at + L.p_memsz, fields.memsz);
  writeFileSync(file, buf);
}

/** Prints agree byte for byte with patchelf's, and both succeed. */
function samePrints(file: string): void {
  for (const flag of PRINTS) {
    const theirs = runPatchelf([flag, file]);
    const ours = runCald([flag, file]);
    assert.equal(ours.status, theirs.status, `${flag}: ${ours.stderr}`);
    assert.equal(ours.stdout.toString('latin1'), theirs.stdout.toString('latin1'), flag);
  }
}

/**
 * The same edits by both tools (patchelf 0.14 one call per edit, since it mixes up combined edits;
 * cald in one call): the same readelf facts; ours runs and prints hello when `runs`.
 */
function sameEdit(file: string, name: string, edits: string[][], runs: boolean): string {
  const { theirs, ours } = twoCopies(join(root, `edit-${name}`), file, name);
  const before = readelfWarnings(file);
  for (const e of edits) assert.equal(runPatchelf([...e, theirs]).status, 0, `patchelf accepts ${e[0]}`);
  const r = runCald([...edits.flat(), ours]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(facts(ours), facts(theirs));
  assert.deepEqual(readelfWarnings(ours), before, 'no new readelf warnings');
  if (runs) {
    const out = run(ours, []);
    assert.equal(out.stdout, 'hello\n', `${ours}: ${out.stderr}${out.error ?? ''}`);
  }
  return ours;
}

describe('odd files: print and edit like patchelf, and the result still loads', () => {
  test('a program loaded at 0x4000000000000000 (ia64-style, all 64 address bits)', (t) => {
    if (!hasTool('as') || !hasTool('ld')) return t.skip('missing tool: as or ld');
    writeFileSync(
      join(root, 'hl.s'),
      '\t.data\n\t.globl x_data\n\t.type x_data, %object\n\t.size x_data, 4\nx_data:\n\t.long 42\n',
    );
    writeFileSync(
      join(root, 'ha.s'),
      '\t.text\n\t.globl _start\n_start:\n\t.long 0\n\t.data\nrefs:\n\t.quad x_data\n',
    );
    const p = (f: string) => join(root, f);
    runOk('as', ['-o', p('hl.o'), p('hl.s')]);
    runOk('as', ['-o', p('ha.o'), p('ha.s')]);
    runOk('ld', ['-shared', '-soname', 'libx.so.1', '-o', p('libx.so.1'), p('hl.o')]);
    const exe = p('high');
    runOk('ld', [
      ...['-Ttext-segment=0x4000000000000000', '-e', '_start', '-o', exe, p('ha.o'), p('libx.so.1')],
      ...['-rpath', '/opt/r', '--dynamic-linker', '/lib/ld-test.so.1'],
    ]);
    samePrints(exe);
    const json = JSON.parse(
      runOk(process.execPath, [join(import.meta.dirname, '../../../bin/cald.js'), 'inspect', '--json', exe])
        .stdout,
    );
    const loads = json.segments.filter((s: { type: string }) => s.type === 'PT_LOAD');
    assert.equal(loads[0].vaddr, '0x4000000000000000');
    const edited = sameEdit(
      exe,
      'high',
      [
        ['--set-interpreter', `/lib/${'i'.repeat(200)}`],
        ['--set-rpath', LONG_RPATH],
        ['--replace-needed', 'libx.so.1', `libx-${'x'.repeat(100)}.so.1`],
      ],
      false,
    );
    const segs = readelfSegments(edited).filter((s) => s.type === 'LOAD');
    // readelf's numbers lose bits past 2^53: compare the exact hex through cald's reader instead.
    const exact = ElfFile.parse(readFileSync(edited)).programHeaders.filter((ph) => ph.type === PT_LOAD);
    assert.equal(segs.length, exact.length);
    assert.ok(
      exact.every((ph) => ph.vaddr >= 0x4000000000000000n),
      'every segment stays in the high half',
    );
    if (hasTool('eu-elflint')) assert.deepEqual(elflint(edited), elflint(exe));
  });

  for (const page of [0x10000, 0x200000]) {
    test(`a program linked for ${page / 1024} KiB pages: the new segment keeps that alignment, and runs`, () => {
      const exe = cc(`page${page}`, [`-Wl,-z,max-page-size=${page}`, '-Wl,-z,separate-code']);
      samePrints(exe);
      // A longer interpreter path (a link to the real one) cannot stay in place: a new segment. (A
      // longer .dynstr alone now grows in place, into the padding of its big page.)
      const interp = join(root, `ld-${page}-${'i'.repeat(120)}`);
      symlinkSync(readelfInterp(exe)!, interp);
      const edited = sameEdit(
        exe,
        `page${page}`,
        [
          ['--set-rpath', LONG_RPATH],
          ['--add-needed', 'libm.so.6'],
          ['--set-interpreter', interp],
        ],
        true,
      );
      const loads = readelfSegments(edited).filter((s) => s.type === 'LOAD');
      assert.ok(
        loads.length > readelfSegments(exe).filter((s) => s.type === 'LOAD').length,
        'a segment was added',
      );
      assert.ok(
        loads.every((s) => s.align === page),
        `every PT_LOAD aligned ${page}`,
      );
    });
  }

  test('a separate debug-info file: prints nothing and succeeds; section-name table errors as patchelf', () => {
    const exe = cc('dbg', ['-g', '-Wl,-rpath,/opt/dbg']);
    const debug = join(root, 'dbg.debug');
    runOk('objcopy', ['--only-keep-debug', exe, debug]);
    for (const flag of ['--print-rpath', '--print-needed', '--print-soname']) {
      const r = runCald([flag, debug]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.length, 0, flag);
    }
    // A static-like file with no dynamic section at all still fails, as patchelf.
    const bad = join(root, 'bad-shstrndx');
    const buf = readFileSync(exe);
    const shnum = buf.readUInt16LE(60);
    for (const [name, index] of [
      ['out-of-range', shnum + 3],
      ['zero', 0],
    ] as const) {
      buf.writeUInt16LE(index, 62);
      writeFileSync(`${bad}-${name}`, buf);
      assert.equal(runPatchelf(['--print-needed', `${bad}-${name}`]).status, 1);
      const r = runCald(['--print-needed', `${bad}-${name}`]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^patchelf: .*section-name table/);
      assert.equal(r.stderr.split('\n').filter((l) => l && !l.startsWith('patchelf: hint')).length, 1);
    }
  });

  test('PT_DYNAMIC with more file bytes than memory bytes: printed and edited, still runs', () => {
    const exe = cc('dynsz', []);
    chmodSync(exe, 0o755);
    const elf = ElfFile.parse(readFileSync(exe));
    const dyn = elf.programHeaders.find((p) => p.type === PT_DYNAMIC)!;
    patchPhdr(exe, dyn.index, { memsz: dyn.memsz - 16 });
    assert.equal(run(exe, []).stdout, 'hello\n', 'the loader accepts it');
    samePrints(exe);
    sameEdit(exe, 'dynsz', [['--set-rpath', LONG_RPATH]], true);
  });

  test('an empty PT_LOAD whose address and offset differ by a fraction of a page: still runs after an edit', () => {
    const exe = cc('emptyload', []);
    const elf = ElfFile.parse(readFileSync(exe));
    const note = elf.programHeaders.find((p) => p.type === PT_NOTE)!;
    const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
    const last = loads[loads.length - 1]!;
    // After the last segment in memory, like a linker's segment for an empty .note section.
    const vaddr = ((last.vaddr + BigInt(last.memsz) + 0xfffn) & ~0xfffn) + 0x10n;
    patchPhdr(exe, note.index, { type: PT_LOAD, vaddr, offset: note.offset, filesz: 0, memsz: 0 });
    assert.equal(run(exe, []).stdout, 'hello\n', 'the loader accepts it');
    samePrints(exe);
    sameEdit(
      exe,
      'emptyload',
      [
        ['--set-rpath', LONG_RPATH],
        ['--add-needed', 'libm.so.6'],
      ],
      true,
    );
  });

  test('a table pointer outside every segment (DT_PLTGOT of a never-relocated object): printed and edited', () => {
    const exe = cc('pltgot', ['-no-pie', '-Wl,-z,now']);
    const buf = readFileSync(exe);
    const elf = ElfFile.parse(buf);
    const i = elf.dynamicEntries.findIndex((e) => e.tag === 3n);
    assert.ok(i >= 0, 'the program has DT_PLTGOT');
    const L = layoutsFor(true).dyn;
    buf.writeBigUInt64LE(0x100n, elf.dynamic!.offset + i * L.size + L.d_val);
    writeFileSync(exe, buf);
    assert.equal(run(exe, []).stdout, 'hello\n', 'the loader accepts it (no lazy binding: DT_PLTGOT unused)');
    samePrints(exe);
    sameEdit(exe, 'pltgot', [['--set-rpath', LONG_RPATH]], true);
  });

  test('a refusal says the loader would refuse the file only when it does', () => {
    // A library whose data segment's address and offset differ by 16 bytes: ld.so refuses it.
    const d = join(root, 'refusals');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'lib.c'), 'int lib_value = 42;\nint get(void) { return lib_value; }\n');
    writeFileSync(
      join(d, 'main.c'),
      '#include <stdio.h>\nint get(void);\nint main(void) { printf("%d\\n", get()); return 0; }\n',
    );
    runOk('cc', ['-shared', '-fPIC', '-o', join(d, 'libq.so'), join(d, 'lib.c')]);
    runOk('cc', ['-o', join(d, 'main'), join(d, 'main.c'), `-L${d}`, '-lq', '-Wl,-rpath,$ORIGIN']);
    assert.equal(run(join(d, 'main'), []).stdout, '42\n');
    const lib = ElfFile.parse(readFileSync(join(d, 'libq.so')));
    const data = lib.programHeaders.filter((p) => p.type === PT_LOAD).at(-1)!;
    patchPhdr(join(d, 'libq.so'), data.index, { vaddr: data.vaddr + 0x10n });
    const loaded = run(join(d, 'main'), []);
    assert.equal(loaded.status, 127, 'ld.so refuses the library');
    assert.match(loaded.stderr, /address\/offset not page-aligned/);
    const r = runCald(['--set-rpath', LONG_RPATH, join(d, 'libq.so')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /differ by a fraction of a page/);
    assert.match(r.stderr, /would not load it either/);

    // Two DT_STRSZ entries with the same value: ld.so takes the last and runs the program; cald refuses
    // (an edit could honour only one) without claiming the loader would.
    const exe = cc('duptag', []);
    const buf = readFileSync(exe);
    const elf = ElfFile.parse(buf);
    const L = layoutsFor(true).dyn;
    const debugAt = elf.dynamicEntries.findIndex((e) => e.tag === 21n);
    assert.ok(debugAt >= 0, 'the program has DT_DEBUG');
    const strsz = elf.dynValue(10n)!;
    buf.writeBigInt64LE(10n, elf.dynamic!.offset + debugAt * L.size + L.d_tag);
    buf.writeBigUInt64LE(strsz, elf.dynamic!.offset + debugAt * L.size + L.d_val);
    writeFileSync(exe, buf);
    assert.equal(run(exe, []).stdout, 'hello\n', 'the loader runs it');
    const dup = runCald(['--set-rpath', LONG_RPATH, exe]);
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /more than one entry with tag 0xa/);
    assert.doesNotMatch(dup.stderr, /would not load/);
  });

  test('--clear-symbol-version agrees with patchelf and the program runs', () => {
    const exe = cc('clearver', []);
    const { theirs, ours } = twoCopies(join(root, 'edit-clearver'), exe, 'clearver');
    assert.equal(runPatchelf(['--clear-symbol-version', 'puts', theirs]).status, 0);
    const r = runCald(['--clear-symbol-version', 'puts', '--no-sort', ours]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(ours).compare(readFileSync(theirs)), 0, 'byte-identical to patchelf');
    assert.notEqual(readFileSync(ours).compare(readFileSync(exe)), 0, 'something changed');
    assert.equal(run(ours, []).stdout, 'hello\n');
    const again = readFileSync(ours);
    copyFileSync(ours, `${ours}.2`);
    assert.equal(runCald(['--clear-symbol-version', 'puts', `${ours}.2`]).status, 0);
    assert.ok(readFileSync(`${ours}.2`).equals(again), 'a second clear is a no-op');
  });
});

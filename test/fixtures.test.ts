// The fixture toolkit builds what it promises: every C variant links and runs, every cross target
// has the class, byte order, machine and dynamic entries the engine tests will rely on.
import assert from 'node:assert/strict';
import { basename, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { programs } from './helpers/c-programs.js';
import { allVariants, buildVariant, isSkipped, runFixture, type VariantSpec } from './helpers/compile.js';
import {
  buildCross,
  CROSS_DSO_SONAME,
  CROSS_INTERP,
  CROSS_LIB_SONAME,
  CROSS_RPATH,
  CROSS_VERSIONS,
  crossTargets,
} from './helpers/cross.js';
import { runnableHere } from './helpers/host.js';
import {
  readelfDynamic,
  readelfHeader,
  readelfInterp,
  readelfSegments,
  readelfVersionNeeds,
} from './helpers/readelf.js';
import { run } from './helpers/run.js';
import { makeTmp } from './helpers/tmp.js';

const root = makeTmp({ after }, 'fixtures');

function interpFor(spec: VariantSpec): string {
  if (spec.cc === 'musl-gcc') return '/lib/ld-musl-x86_64.so.1';
  return spec.flags.includes('-m32') ? '/lib/ld-linux.so.2' : '/lib64/ld-linux-x86-64.so.2';
}

// Proof that -fuse-ld= picked the linker asked for, from what each linker leaves in the file.
function linkerMark(file: string): string {
  const comment = run('readelf', ['-p', '.comment', file]).stdout;
  if (comment.includes('Linker: Debian LLD') || comment.includes('Linker: LLD')) return 'lld';
  if (comment.includes('mold ')) return 'mold';
  if (run('readelf', ['-S', '-W', file]).stdout.includes('.note.gnu.gold-version')) return 'gold';
  return 'bfd';
}

describe('C fixture variants', () => {
  for (const spec of allVariants()) {
    test(spec.name, (t) => {
      const f = buildVariant(spec.name, join(root, spec.name));
      if (isSkipped(f)) {
        t.skip(f.skipped);
        return;
      }
      if (runnableHere(t, f.program)) {
        const out = runFixture(f);
        assert.equal(out.stderr, '');
        assert.equal(out.status, 0);
        assert.equal(out.stdout, f.expectedStdout);
      }

      const prog = programs[spec.program];
      const dyn = readelfDynamic(f.program);
      assert.deepEqual(dyn.needed.slice(0, prog.mainNeeds.length), prog.mainNeeds);
      assert.equal(dyn.rpath, spec.rpath === 'rpath' ? '$ORIGIN/lib' : null);
      assert.equal(dyn.runpath, spec.rpath === 'runpath' ? '$ORIGIN/lib' : null);
      for (const lib of f.libs) assert.equal(readelfDynamic(lib).soname, basename(lib));

      const head = readelfHeader(f.program);
      assert.deepEqual(
        [head.class, head.machine, head.type],
        spec.flags.includes('-m32')
          ? ['ELF32', 'Intel 80386', spec.pie ? 'DYN' : 'EXEC']
          : ['ELF64', 'Advanced Micro Devices X86-64', spec.pie ? 'DYN' : 'EXEC'],
      );
      assert.equal(readelfInterp(f.program), interpFor(spec));
      assert.equal(linkerMark(f.program), spec.linker);
    });
  }

  test('each variant shows the feature it is named for', (t) => {
    const dir = makeTmp(t, 'features');
    const built = (name: string) => {
      const f = buildVariant(name, join(dir, name));
      return isSkipped(f) ? null : f;
    };
    const loads = (file: string) => readelfSegments(file).filter((s) => s.type === 'LOAD');

    const sep = built('bfd-separate-code');
    if (sep) assert.equal(loads(sep.program).length, 4);
    const nosep = built('bfd-noseparate-code');
    if (nosep) assert.equal(loads(nosep.program).length, 2);
    for (const [name, align] of [
      ['maxpage-4k', 0x1000],
      ['maxpage-64k', 0x10000],
    ] as const) {
      const f = built(name);
      if (f) assert.ok(loads(f.program).every((s) => s.align === align));
    }
    for (const name of ['bfd-relr', 'lld-relr']) {
      const f = built(name);
      if (!f) continue;
      assert.ok(readelfDynamic(f.program).tags.includes('RELR'));
      for (const lib of f.libs) assert.ok(readelfDynamic(lib).tags.includes('RELR'), lib);
      const libc = readelfVersionNeeds(f.program).find((n) => n.file === 'libc.so.6');
      assert.ok(libc?.names.includes('GLIBC_ABI_DT_RELR'));
    }
    const ver = built('versioned');
    if (ver) {
      assert.deepEqual(readelfVersionNeeds(ver.program)[0], {
        file: 'libcaldver.so.2',
        names: ['CALDV_1.0', 'CALDV_2.0'],
      });
      assert.ok(readelfDynamic(ver.libs[0]!).tags.includes('VERDEF'));
    }
    const tls = built('tls');
    if (tls) assert.ok(tls.libs.every((lib) => readelfSegments(lib).some((s) => s.type === 'TLS')));
    const big = built('big-dynstr');
    if (big) {
      const syms = run('readelf', ['--dyn-syms', '-W', big.libs[0]!]).stdout;
      assert.equal(syms.match(/ cald_big_exported_symbol_with_a_long_name_\d{5}$/gm)?.length, 5000);
    }
  });
});

describe('cross-architecture fixtures', () => {
  for (const target of crossTargets()) {
    test(target.name, (t) => {
      const f = buildCross(target, join(root, `cross-${target.name}`));
      if ('skipped' in f) {
        t.skip(f.skipped);
        return;
      }
      for (const [file, type] of [
        [f.lib, 'DYN'],
        [f.exe, 'EXEC'],
        [f.dso, 'DYN'],
      ] as const) {
        const h = readelfHeader(file);
        assert.deepEqual(
          [h.class, h.data, h.machine, h.type],
          [target.class, target.data, target.machine, type],
        );
      }
      assert.equal(readelfInterp(f.exe), CROSS_INTERP);
      assert.equal(readelfInterp(f.lib), null);

      const lib = readelfDynamic(f.lib);
      assert.equal(lib.soname, CROSS_LIB_SONAME);
      assert.ok(lib.tags.includes('VERDEF'));
      const exe = readelfDynamic(f.exe);
      assert.deepEqual([exe.needed, exe.runpath, exe.rpath], [[CROSS_LIB_SONAME], CROSS_RPATH, null]);
      const dso = readelfDynamic(f.dso);
      assert.deepEqual(
        [dso.soname, dso.needed, dso.rpath, dso.runpath],
        [CROSS_DSO_SONAME, [CROSS_LIB_SONAME], CROSS_RPATH, null],
      );
      for (const file of [f.exe, f.dso]) {
        assert.deepEqual(readelfVersionNeeds(file), [{ file: CROSS_LIB_SONAME, names: [...CROSS_VERSIONS] }]);
      }
    });
  }
});

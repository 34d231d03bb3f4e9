// The engine on programs compiled from C at test time (every linker, PIE and not, RELR, TLS,
// versioned symbols, a big .dynstr, i386, musl): edited, checked with readelf and eu-elflint against
// the unedited file, and run with LD_BIND_NOW=1 to print what they printed before.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ElfEdit } from '../../src/elf/edit/index.js';
import { ElfFile } from '../../src/elf/read/index.js';
import {
  allVariants,
  type BuildResult,
  buildVariant,
  type CFixture,
  copyFixture,
  isSkipped,
  runFixture,
  type VariantSpec,
} from '../helpers/compile.js';
import { runnableHere, type Skippable } from '../helpers/host.js';
import { readelfDynamic, readelfInterp, readelfSegments } from '../helpers/readelf.js';
import { run, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import {
  type Baseline,
  baseline,
  casName,
  checkEdited,
  copyWritable,
  DT_AUDIT,
  dynamicStrings,
  editFile,
  linkDir,
  todoIfKnown,
} from './helpers/edit-check.js';

const root = makeTmp({ after }, 'edit-fixtures');

/** DT_PLTPADSZ, DT_MOVEENT, DT_MOVESZ, DT_FEATURE_1, DT_POSFLAG_1, DT_SYMINSZ, DT_SYMINENT, DT_DEBUG. */
const FILLER_TAGS = [
  0x6ffffdf9n,
  0x6ffffdfan,
  0x6ffffdfbn,
  0x6ffffdfcn,
  0x6ffffdfdn,
  0x6ffffdfen,
  0x6ffffdffn,
];

const TIMEOUT = 180_000;

/**
 * Where each DT_NEEDED name of the fixture's files is found: fixture libraries by their soname, system
 * libraries from ldd of the unedited program. The interpreter (and musl's libc.so, which is the
 * interpreter) is left out: it cannot be loaded under another name (loader-facts.md).
 */
function resolveNames(f: CFixture): Map<string, string> {
  const where = new Map<string, string>();
  for (const l of f.libs) where.set(basename(l), l);
  const interp = readelfInterp(f.program);
  const interpReal = interp === null ? '' : realpathSync(interp);
  const r = run('ldd', [f.program], { env: f.env });
  if (r.status === 0) {
    for (const line of r.stdout.split('\n')) {
      const m = /^\s*(\S+) => (\/\S+)/.exec(line);
      if (!m || where.has(m[1]!)) continue;
      if (realpathSync(m[2]!) === interpReal) continue;
      where.set(m[1]!, m[2]!);
    }
  }
  return where;
}

interface Built {
  f: CFixture;
  names: Map<string, string>;
  base: Map<string, Baseline>;
}

function useVariant(spec: VariantSpec) {
  let built: BuildResult | undefined;
  let data: Built | undefined;
  let n = 0;
  before(() => {
    built = buildVariant(spec.name, join(root, spec.name, 'orig'));
    if (isSkipped(built)) return;
    const base = new Map<string, Baseline>();
    for (const file of [built.program, ...built.libs]) base.set(basename(file), baseline(file));
    data = { f: built, names: resolveNames(built), base };
  });
  return (t: { skip(msg: string): void }): (Built & { copy: CFixture }) | undefined => {
    if (built === undefined || isSkipped(built) || data === undefined) {
      t.skip(built !== undefined && isSkipped(built) ? built.skipped : 'not built');
      return undefined;
    }
    n++;
    return { ...data, copy: copyFixture(data.f, join(root, spec.name, `s${n}`)) };
  };
}

/** Runs the edited program where this host can (else skips the run step of `t` by name). */
function assertRuns(
  t: Skippable,
  f: CFixture,
  env: Record<string, string> = {},
  stderr: string | RegExp = '',
): void {
  if (!runnableHere(t, f.program)) return;
  const out = runFixture(f, env);
  assert.equal(out.error, undefined, out.error);
  assert.equal(out.status, 0, `${f.program} exited ${out.status} ${out.signal ?? ''}: ${out.stderr}`);
  assert.equal(out.stdout, f.expectedStdout);
  if (typeof stderr === 'string') assert.equal(out.stderr, stderr);
  else assert.match(out.stderr, stderr);
}

/** Renames every DT_NEEDED (and the libraries' DT_SONAME) to cas names; returns the link dir. */
function renameAll(
  b: Built & { copy: CFixture },
  keepSearchPath: boolean,
): { links: string; known: string[] } {
  const known: string[] = [];
  const f = b.copy;
  const links: Array<[string, string]> = [];
  for (const [name, target] of b.names)
    links.push([casName(name), target.startsWith(b.f.dir) ? join(f.libDir, basename(target)) : target]);
  const dir = linkDir(join(f.dir, 'links'), links);
  for (const file of [f.program, ...f.libs]) {
    const before = readelfDynamic(file);
    const now = dynamicStrings(readFileSync(file));
    const edits: ElfEdit[] = [];
    for (const n of now.needed)
      if (b.names.has(n)) edits.push({ kind: 'replaceNeeded', from: n, to: casName(n) });
    const isLib = file !== f.program;
    if (isLib) edits.push({ kind: 'setSoname', name: casName(basename(file)) });
    if (!keepSearchPath) edits.push({ kind: 'removeSearchPath' });
    const r = editFile(file, edits);
    assert.equal(r.changed, true);
    known.push(
      ...checkEdited(file, b.base.get(basename(file))!, {
        needed: before.needed.map((n) => (b.names.has(n) ? casName(n) : n)),
        soname: isLib ? casName(basename(file)) : before.soname,
        rpath: keepSearchPath ? before.rpath : null,
        runpath: keepSearchPath ? before.runpath : null,
      }),
    );
  }
  return { links: dir, known };
}

/** A tiny rtld-audit library that says it was loaded (glibc honours DT_AUDIT in the main program). */
function buildAuditLib(spec: VariantSpec, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'audit.so');
  runOk(spec.cc, [...spec.flags, '-shared', '-fPIC', '-o', out, '-x', 'c', '-'], {
    input:
      '#include <unistd.h>\nunsigned int la_version(unsigned int v) { (void)!write(2, "cald-audit-ok\\n", 14); return v; }\n',
  });
  return out;
}

describe('edit C fixtures and run them', { concurrency: false }, () => {
  for (const spec of allVariants()) {
    describe(spec.name, () => {
      const get = useVariant(spec);

      test('rename every DT_NEEDED and DT_SONAME to long names, search path removed', {
        timeout: TIMEOUT,
      }, (t) => {
        const b = get(t);
        if (!b) return;
        const { links, known } = renameAll(b, false);
        assertRuns(t, b.copy, { LD_LIBRARY_PATH: links });
        todoIfKnown(t, known);
      });

      test('rename every DT_NEEDED and DT_SONAME to long names, search path kept', {
        timeout: TIMEOUT,
      }, (t) => {
        const b = get(t);
        if (!b) return;
        const { links, known } = renameAll(b, true);
        assertRuns(t, b.copy, { LD_LIBRARY_PATH: links });
        todoIfKnown(t, known);
      });

      test('long interpreter path, DT_AUDIT and more entries: .dynamic grows', { timeout: TIMEOUT }, (t) => {
        const b = get(t);
        if (!b) return;
        const f = b.copy;
        const interp = readelfInterp(f.program);
        assert.ok(interp);
        const longDir = join(f.dir, `interp-${'i'.repeat(120)}`);
        mkdirSync(longDir);
        const newInterp = copyWritable(interp, join(longDir, basename(interp)));
        const audit = buildAuditLib(spec, join(f.dir, `audit-${'a'.repeat(100)}`));
        const elf = ElfFile.parse(readFileSync(f.program));
        const free = elf.dynamic!.capacity - elf.dynamicEntries.length;
        const edits: ElfEdit[] = [
          { kind: 'setInterpreter', path: newInterp },
          { kind: 'addDynamic', tag: DT_AUDIT, value: audit },
        ];
        // Tags the loader ignores and eu-elflint accepts alone, enough of them that .dynamic must grow.
        const fillers = FILLER_TAGS.slice(0, Math.max(0, free));
        assert.equal(fillers.length, Math.max(0, free), `.dynamic has ${free} free slots: too many to fill`);
        for (const tag of fillers) edits.push({ kind: 'addDynamic', tag, value: 0n });
        const dynBefore = readelfSegments(f.program).find((s) => s.type === 'DYNAMIC')!;
        const before = readelfDynamic(f.program);
        editFile(f.program, edits);
        const known = checkEdited(f.program, b.base.get('prog')!, {
          interp: newInterp,
          needed: before.needed,
          rpath: before.rpath,
          runpath: before.runpath,
        });
        const dynAfter = readelfSegments(f.program).find((s) => s.type === 'DYNAMIC')!;
        assert.notEqual(dynAfter.offset, dynBefore.offset, '.dynamic should have moved');
        assert.ok(dynAfter.filesz > dynBefore.filesz);
        const tags = readelfDynamic(f.program).tags;
        assert.ok(tags.includes('AUDIT'), tags.join(' '));
        // musl has no rtld-audit: it ignores DT_AUDIT.
        assertRuns(t, f, {}, spec.cc === 'musl-gcc' ? '' : 'cald-audit-ok\n');
        todoIfKnown(t, known);
      });

      test('set a long RUNPATH, shrink it, force RPATH, add to it', { timeout: TIMEOUT }, (t) => {
        const b = get(t);
        if (!b) return;
        const f = b.copy;
        const files = [f.program, ...f.libs];
        const own = (file: string) => (file === f.program ? '$ORIGIN/lib' : '$ORIGIN');
        const known: string[] = [];
        const check = (want: (file: string) => { rpath: string | null; runpath: string | null }) => {
          for (const file of files) {
            const d = readelfDynamic(file);
            known.push(
              ...checkEdited(file, b.base.get(basename(file))!, {
                ...want(file),
                needed: d.needed,
                soname: d.soname,
              }),
            );
          }
          assertRuns(t, f);
        };
        const longValue = (file: string) => `/nonexistent/${'d'.repeat(150)}:${own(file)}:/also/not/here`;
        for (const file of files) editFile(file, [{ kind: 'setSearchPath', value: longValue(file) }]);
        check((file) => ({ rpath: null, runpath: longValue(file) }));
        const grown = files.map((file) => statSync(file).size);

        for (const file of files) editFile(file, [{ kind: 'setSearchPath', value: own(file) }]);
        check((file) => ({ rpath: null, runpath: own(file) }));
        for (const [i, file] of files.entries())
          assert.ok(statSync(file).size <= grown[i]!, `${file} grew on a shrink`);

        for (const file of files) editFile(file, [{ kind: 'setSearchPath', value: own(file), force: true }]);
        check((file) => ({ rpath: own(file), runpath: null }));

        for (const file of files)
          editFile(file, [{ kind: 'addSearchPath', value: '/opt/more', force: true }]);
        check((file) => ({ rpath: `${own(file)}:/opt/more`, runpath: null }));
        todoIfKnown(t, known);
      });
    });
  }
});

// A library that is linked (--no-as-needed) but whose symbols the program only references weakly:
// its DT_NEEDED carries a DT_VERNEED record, and removing it must remove the record and leave
// no .gnu.version entry pointing at a version that no longer exists.
const UNUSED_LIB = 'int unused_fn(void) { return 5; }\nint unused_var = 3;\n';
const UNUSED_MAP = 'UNUSED_1.0 { global: unused_fn; unused_var; local: *; };\n';
const UNUSED_MAIN = `#include <stdio.h>
extern int unused_fn(void) __attribute__((weak));
int main(void) { void *volatile p = (void *)&unused_fn; (void)p; puts("still here"); return 0; }
`;

describe('remove a DT_NEEDED that has version needs', { concurrency: false }, () => {
  const configs = [
    { name: 'bfd', cc: 'cc', flags: [] as string[], ld: 'bfd' },
    { name: 'gold', cc: 'cc', flags: [], ld: 'gold' },
    { name: 'lld', cc: 'cc', flags: [], ld: 'lld' },
    // mold is left out: it binds a weak reference to a symbol its DSO defines as GLOBAL, so the program does use the library.
    { name: 'm32', cc: 'cc', flags: ['-m32'], ld: 'bfd' },
  ];
  for (const c of configs) {
    test(c.name, { timeout: TIMEOUT }, (t) => {
      const dir = join(root, `unused-${c.name}`);
      mkdirSync(dir, { recursive: true });
      const lib = join(dir, 'libunused.so.1');
      const map = join(dir, 'unused.map');
      writeFileSync(map, UNUSED_MAP);
      const build = run(
        c.cc,
        [
          ...c.flags,
          `-fuse-ld=${c.ld}`,
          '-shared',
          '-fPIC',
          '-o',
          lib,
          '-x',
          'c',
          '-',
          '-Wl,-soname,libunused.so.1',
          `-Wl,--version-script=${map}`,
        ],
        { input: UNUSED_LIB },
      );
      if (build.status !== 0) {
        t.skip(`cannot build with ${c.name}: ${build.stderr.split('\n')[0]}`);
        return;
      }
      const prog = join(dir, 'prog');
      runOk(
        c.cc,
        [...c.flags, `-fuse-ld=${c.ld}`, '-o', prog, '-x', 'c', '-', '-x', 'none', '-Wl,--no-as-needed', lib],
        { input: UNUSED_MAIN },
      );
      const env = { LD_BIND_NOW: '1', LD_LIBRARY_PATH: dir };
      const runs = runnableHere(t, prog);
      if (runs) assert.equal(runOk(prog, [], { env }).stdout, 'still here\n');
      const base = baseline(prog);
      const before = readelfDynamic(prog);
      assert.ok(before.needed.includes('libunused.so.1'));
      const files0 = runOk('readelf', ['-V', '-W', prog]).stdout;
      assert.match(files0, /File: libunused\.so\.1/, 'the fixture must have a version need on the library');

      editFile(prog, [{ kind: 'removeNeeded', name: 'libunused.so.1' }]);
      const known = checkEdited(prog, base, { needed: before.needed.filter((n) => n !== 'libunused.so.1') });
      const v = runOk('readelf', ['-V', '-W', prog]).stdout;
      assert.doesNotMatch(v, /libunused|UNUSED_1\.0/);
      assert.match(v, /File: libc\.so\.6/);
      // Runs without the library anywhere on the search path.
      if (runs) {
        const out = run(prog, [], { env: { LD_BIND_NOW: '1' }, timeoutMs: 10_000 });
        assert.equal(out.stderr, '');
        assert.equal(out.status, 0);
        assert.equal(out.stdout, 'still here\n');
      }
      todoIfKnown(t, known);
    });
  }
});

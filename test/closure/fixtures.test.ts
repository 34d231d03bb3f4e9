// Small C programs and libraries built at test time, each exercising one loader rule; every closure
// is compared with ldd (and the search order with LD_DEBUG=libs) of the real program.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type Closure, probeLoaderFacts, resolveClosure } from '../../src/closure/index.js';
import { hasTool, run, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { closureSearches, closureView, ldDebugSearches, ldd, sortedEntries } from './oracle.js';

const skip = hasTool('cc') && hasTool('ldd') ? false : 'needs cc and ldd';
const can32 =
  !skip &&
  run('cc', ['-m32', '-x', 'c', '-', '-o', '/dev/null'], { input: 'int main(void){return 0;}' }).status === 0;

/** A shared library `lib<name>.so` (soname the same) defining <name>() and calling its needs. */
function lib(dir: string, name: string, needs: string[] = [], flags: string[] = []): string {
  mkdirSync(dir, { recursive: true });
  const src = join(dir, `${name}.c`);
  const calls = needs.map((n) => `${n}();`).join(' ');
  const decls = needs.map((n) => `int ${n}(void);`).join(' ');
  writeFileSync(src, `${decls}\nint ${name}(void){ ${calls} return 0; }\n`);
  const out = join(dir, `lib${name}.so`);
  runOk('cc', ['-shared', '-fPIC', src, '-o', out, `-Wl,-soname,lib${name}.so`, ...flags]);
  return out;
}

/** A program calling `needs`, linked against libraries found in `libDirs`. */
function prog(dir: string, needs: string[], libDirs: string[], flags: string[] = []): string {
  mkdirSync(dir, { recursive: true });
  const src = join(dir, 'main.c');
  writeFileSync(
    src,
    `${needs.map((n) => `int ${n}(void);`).join(' ')}\nint main(void){ ${needs.map((n) => `${n}();`).join(' ')} return 0; }\n`,
  );
  const out = join(dir, 'prog');
  runOk('cc', [
    src,
    '-o',
    out,
    ...libDirs.map((d) => `-L${d}`),
    '-Wl,--no-as-needed',
    ...needs.map((n) => `-l${n}`),
    ...flags,
  ]);
  return out;
}

function agree(program: string, env: Record<string, string> = {}, cwd?: string): Closure {
  const c = resolveClosure({ program, env, ...(cwd === undefined ? {} : { cwd }) });
  const theirs = ldd(program, env, cwd);
  assert.equal(closureView(c).error, theirs.error, 'the same fatal error');
  // When ld.so stops at a file it refuses, ldd prints nothing else; cald goes on to show the rest.
  if (theirs.error === undefined) {
    assert.deepEqual(sortedEntries(closureView(c)), sortedEntries(theirs), 'closure equals ldd');
    const traced = ldDebugSearches(program, env, cwd);
    const ours = closureSearches(c);
    assert.deepEqual(
      ours.map((s) => s.name),
      traced.map((s) => s.name),
      'the same searches, in order',
    );
    ours.forEach((s, i) => {
      if (s.path !== undefined) assert.equal(s.path, traced[i]?.lastTried, `where ${s.name} was found`);
    });
  }
  return c;
}

const rpath = (dirs: string) => [`-Wl,--disable-new-dtags,-rpath,${dirs}`];
const runpath = (dirs: string) => [`-Wl,--enable-new-dtags,-rpath,${dirs}`];

describe('loader rules on compiled fixtures, compared with ldd and LD_DEBUG=libs', { skip }, () => {
  test("DT_RPATH of the program applies to its libraries' needs", (t) => {
    const d = makeTmp(t, 'cl-rpath');
    lib(join(d, 'y'), 'y');
    lib(join(d, 'x'), 'x', ['y'], [`-L${join(d, 'y')}`, '-ly']);
    const p = prog(
      join(d, 'bin'),
      ['x'],
      [join(d, 'x'), join(d, 'y')],
      rpath(`${join(d, 'x')}:${join(d, 'y')}`),
    );
    const c = agree(p);
    const y = c.objects.find((o) => o.names[0] === 'liby.so');
    assert.equal(y?.path, join(d, 'y', 'liby.so'));
    assert.equal(y?.foundVia, 'RPATH');
    assert.equal(y?.foundThrough, p);
  });

  test('DT_RUNPATH of the program does not apply to its libraries (liby.so missing)', (t) => {
    const d = makeTmp(t, 'cl-runpath');
    lib(join(d, 'y'), 'y');
    lib(join(d, 'x'), 'x', ['y'], [`-L${join(d, 'y')}`, '-ly']);
    const p = prog(
      join(d, 'bin'),
      ['x'],
      [join(d, 'x'), join(d, 'y')],
      runpath(`${join(d, 'x')}:${join(d, 'y')}`),
    );
    const c = agree(p);
    assert.deepEqual(
      c.missing.map((m) => m.name),
      ['liby.so'],
    );
    const m = c.missing[0];
    assert.equal(m?.neededByPath, join(d, 'x', 'libx.so'));
    assert.ok(m?.searched.some((s) => s.source === 'system'));
  });

  test('a library with DT_RUNPATH ignores the RPATH of the program', (t) => {
    const d = makeTmp(t, 'cl-mixed');
    lib(join(d, 'y'), 'y');
    lib(join(d, 'x'), 'x', ['y'], [`-L${join(d, 'y')}`, '-ly', ...runpath('/nonexistent-cald')]);
    const p = prog(
      join(d, 'bin'),
      ['x'],
      [join(d, 'x'), join(d, 'y')],
      rpath(`${join(d, 'x')}:${join(d, 'y')}`),
    );
    const c = agree(p);
    assert.deepEqual(
      c.missing.map((m) => m.name),
      ['liby.so'],
    );
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: the loader's ${ORIGIN} token, not a template
  test('$ORIGIN, ${ORIGIN} and $LIB in DT_RUNPATH', (t) => {
    const d = makeTmp(t, 'cl-origin');
    const facts = probeLoaderFacts('/lib64/ld-linux-x86-64.so.2');
    lib(join(d, 'app', 'lib'), 'o');
    lib(join(d, 'app', facts?.lib ?? 'lib'), 'l');
    const p = prog(
      join(d, 'app'),
      ['o', 'l'],
      [join(d, 'app', 'lib'), join(d, 'app', facts?.lib ?? 'lib')],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the loader's ${ORIGIN} token, not a template
      runpath('${ORIGIN}/lib:$ORIGIN/$LIB'),
    );
    const c = agree(p);
    assert.equal(
      c.objects.find((o) => o.names[0] === 'libl.so')?.path,
      join(d, 'app', facts?.lib ?? 'lib', 'libl.so'),
    );
  });

  test('$ORIGIN of a library is the directory it was found in, not its real one', (t) => {
    const d = makeTmp(t, 'cl-origin-link');
    lib(join(d, 'real', 'dep'), 'h');
    lib(join(d, 'link', 'dep'), 'h');
    lib(join(d, 'real'), 'g', ['h'], [`-L${join(d, 'real', 'dep')}`, '-lh', ...runpath('$ORIGIN/dep')]);
    symlinkSync(join(d, 'real', 'libg.so'), join(d, 'link', 'libg.so'));
    const p = prog(join(d, 'bin'), ['g'], [join(d, 'real')], runpath(join(d, 'link')));
    const c = agree(p);
    const h = c.objects.find((o) => o.names[0] === 'libh.so');
    assert.equal(h?.path, join(d, 'link', 'dep', 'libh.so'));
    assert.equal(c.objects.find((o) => o.names[0] === 'libg.so')?.realPath, join(d, 'real', 'libg.so'));
  });

  test('a 32-bit library of the same name earlier in the path is skipped', {
    skip: can32 ? false : 'cc -m32 cannot link',
  }, (t) => {
    const d = makeTmp(t, 'cl-class');
    lib(join(d, 'w32'), 'w', [], ['-m32']);
    lib(join(d, 'w64'), 'w');
    const p = prog(join(d, 'bin'), ['w'], [join(d, 'w64')], runpath(`${join(d, 'w32')}:${join(d, 'w64')}`));
    const c = agree(p);
    assert.equal(c.objects.find((o) => o.names[0] === 'libw.so')?.path, join(d, 'w64', 'libw.so'));
    const only32 = prog(join(d, 'bin2'), ['w'], [join(d, 'w64')], runpath(join(d, 'w32')));
    const c2 = agree(only32);
    assert.deepEqual(c2.missing[0]?.skipped, [
      { path: join(d, 'w32', 'libw.so'), reason: 'wrong ELF class: ELFCLASS32' },
    ]);
  });

  test('a non-ELF file with the right name stops ld.so ("invalid ELF header"), and cald says so', (t) => {
    const d = makeTmp(t, 'cl-notelf');
    lib(join(d, 'good'), 'n');
    mkdirSync(join(d, 'bad'));
    writeFileSync(join(d, 'bad', 'libn.so'), `${'this is a text file, not a shared library. '.repeat(4)}\n`);
    const p = prog(join(d, 'bin'), ['n'], [join(d, 'good')], runpath(`${join(d, 'bad')}:${join(d, 'good')}`));
    const c = agree(p);
    assert.equal(c.missing[0]?.reason, 'invalid ELF header');
    writeFileSync(join(d, 'bad', 'libn.so'), 'short');
    const c2 = agree(p);
    assert.equal(c2.missing[0]?.reason, 'file too short');
  });

  test('a missing library is reported with its loader and the directories searched', (t) => {
    const d = makeTmp(t, 'cl-missing');
    lib(join(d, 'gone'), 'gone');
    const p = prog(join(d, 'bin'), ['gone'], [join(d, 'gone')], runpath(join(d, 'nowhere')));
    const c = agree(p);
    const m = c.missing[0];
    assert.equal(m?.name, 'libgone.so');
    assert.equal(m?.neededBy, 0);
    assert.deepEqual(
      m?.searched.map((s) => s.source),
      ['RUNPATH', 'system'],
    );
    assert.deepEqual(m?.searched[0]?.dirs, [join(d, 'nowhere')]);
    assert.equal(m?.usedCache, true);
  });

  test('DF_1_NODEFLIB: no system directories and no cache answers inside them', (t) => {
    const d = makeTmp(t, 'cl-nodeflib');
    lib(join(d, 'lib'), 'k');
    const p = prog(
      join(d, 'bin'),
      ['k'],
      [join(d, 'lib')],
      [...runpath(join(d, 'lib')), '-Wl,-z,nodefaultlib'],
    );
    const c = agree(p);
    assert.ok(c.objects[0]?.nodeflib);
    assert.ok(c.missing.some((m) => m.name === 'libc.so.6'));
    // Nothing loaded libc.so.6, so nothing named the interpreter: ld.so leaves it out of the list.
    assert.equal(c.interpreter?.index, undefined);
  });

  test("glibc-hwcaps and legacy hwcap subdirectories, in this CPU's priority order", (t) => {
    const facts = probeLoaderFacts('/lib64/ld-linux-x86-64.so.2');
    const best = facts?.glibcHwcaps[0];
    if (best === undefined) {
      t.skip('this CPU or loader has no glibc-hwcaps subdirectories');
      return;
    }
    const d = makeTmp(t, 'cl-hwcaps');
    lib(join(d, 'lib'), 'hw');
    for (const h of facts?.glibcHwcaps ?? []) lib(join(d, 'lib', 'glibc-hwcaps', h), 'hw');
    const p = prog(join(d, 'bin'), ['hw'], [join(d, 'lib')], runpath(join(d, 'lib')));
    const c = agree(p);
    assert.equal(
      c.objects.find((o) => o.names[0] === 'libhw.so')?.path,
      join(d, 'lib', 'glibc-hwcaps', best, 'libhw.so'),
    );
    const legacy = facts?.legacySubdirs.find((s) => s !== '');
    if (legacy !== undefined) {
      lib(join(d, 'lib2', legacy), 'hw');
      lib(join(d, 'lib2'), 'hw');
      const p2 = prog(join(d, 'bin2'), ['hw'], [join(d, 'lib2')], runpath(join(d, 'lib2')));
      const c2 = agree(p2);
      assert.equal(
        c2.objects.find((o) => o.names[0] === 'libhw.so')?.path,
        join(d, 'lib2', legacy, 'libhw.so'),
      );
    }
  });

  test('a DT_NEEDED name with a slash is opened as a path, relative ones from the current directory', (t) => {
    const d = makeTmp(t, 'cl-slash');
    const so = join(d, 'lib', 'libs.so');
    mkdirSync(join(d, 'lib'));
    writeFileSync(join(d, 'lib', 's.c'), 'int s(void){return 0;}\n');
    runOk('cc', ['-shared', '-fPIC', join(d, 'lib', 's.c'), '-o', so]); // no soname: DT_NEEDED is the path
    mkdirSync(join(d, 'bin'));
    writeFileSync(join(d, 'bin', 'main.c'), 'int s(void); int main(void){return s();}\n');
    runOk('cc', [join(d, 'bin', 'main.c'), so, '-o', join(d, 'bin', 'prog')]);
    const c = agree(join(d, 'bin', 'prog'));
    assert.ok(c.objects.some((o) => o.path === so && o.foundVia === 'path'));
    runOk('cc', [join(d, 'bin', 'main.c'), 'lib/libs.so', '-o', join(d, 'bin', 'rel')], { cwd: d });
    const c2 = agree(join(d, 'bin', 'rel'), {}, d);
    assert.ok(c2.objects.some((o) => o.path === 'lib/libs.so'));
    const c3 = agree(join(d, 'bin', 'rel'), {}, join(d, 'bin'));
    assert.deepEqual(
      c3.missing.map((m) => m.name),
      ['lib/libs.so'],
    );
  });

  test('LD_LIBRARY_PATH: after DT_RPATH, before DT_RUNPATH; empty elements mean the current directory', (t) => {
    const d = makeTmp(t, 'cl-llp');
    lib(join(d, 'a'), 'q');
    lib(join(d, 'b'), 'q');
    const withRpath = prog(join(d, 'r'), ['q'], [join(d, 'a')], rpath(join(d, 'a')));
    const withRunpath = prog(join(d, 'u'), ['q'], [join(d, 'a')], runpath(join(d, 'a')));
    const env = { LD_LIBRARY_PATH: `/nonexistent-cald::${join(d, 'b')}` };
    assert.equal(agree(withRpath, env).objects[1]?.path, join(d, 'a', 'libq.so'));
    assert.equal(agree(withRunpath, env).objects[1]?.path, join(d, 'b', 'libq.so'));
    assert.equal(agree(withRunpath, env, join(d, 'a')).objects[1]?.path, 'libq.so');
  });

  test('the interpreter is matched by name, never searched, and libc.so.6 needs it', () => {
    const c = resolveClosure({ program: '/bin/sh' });
    assert.ok(c.interpreter);
    const libc = c.objects.find((o) => o.soname === 'libc.so.6');
    assert.ok(libc);
    assert.ok(c.interpreter.neededBy.includes(libc.index));
    assert.equal(libc.needed.find((e) => e.object === c.interpreter?.index)?.how, 'loaded');
  });
});

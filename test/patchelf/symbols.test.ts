// --rename-dynamic-symbols: the new names are what the loader looks up (a program renamed alike still
// runs, one left alone no longer finds the symbol), the hash tables stay valid (eu-elflint), and
// bad map files are one clear error. patchelf 0.14 has no such option, so the loader is the referee.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { elflint } from '../helpers/readelf.js';
import { hasTool, run, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { runCald } from './differential.js';

const root = makeTmp({ after }, 'patchelf-symbols');
const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';

function dynamicSymbolNames(file: string): string[] {
  const out = runOk('readelf', ['--dyn-syms', '-W', file]).stdout;
  return [...out.matchAll(/^\s+\d+: .* (\S+)$/gm)].map((m) => (m[1] ?? '').replace(/@.*/, ''));
}

describe('cald patchelf --rename-dynamic-symbols', () => {
  test('a library and its program renamed alike still run; the program alone does not', () => {
    const d = join(root, 'own');
    mkdirSync(d);
    writeFileSync(
      join(d, 'lib.c'),
      'int foo_value(void) { return 41; }\nint bar_value(void) { return 1; }\n',
    );
    writeFileSync(
      join(d, 'main.c'),
      '#include <stdio.h>\nint foo_value(void); int bar_value(void);\nint main(void) { printf("%d\\n", foo_value() + bar_value()); return 0; }\n',
    );
    runOk('cc', ['-shared', '-fPIC', '-Wl,--hash-style=both', '-o', join(d, 'libfoo.so'), join(d, 'lib.c')]);
    runOk('cc', ['-o', join(d, 'main'), join(d, 'main.c'), `-L${d}`, '-lfoo', '-Wl,-rpath,$ORIGIN']);
    copyFileSync(join(d, 'main'), join(d, 'old'));
    const newName = `foo_value_renamed_${'x'.repeat(60)}`;
    writeFileSync(join(d, 'map'), `foo_value ${newName}\n\n`);
    const r = runCald(['--rename-dynamic-symbols', join(d, 'map'), join(d, 'libfoo.so'), join(d, 'main')]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(dynamicSymbolNames(join(d, 'libfoo.so')).includes(newName));
    assert.ok(!dynamicSymbolNames(join(d, 'libfoo.so')).includes('foo_value'));
    assert.equal(run(join(d, 'main'), []).stdout, '42\n');
    if (hasTool('eu-elflint')) assert.deepEqual(elflint(join(d, 'libfoo.so')), []);
    // The program left alone against the renamed library: the loader must miss foo_value.
    const old = run(join(d, 'old'), []);
    assert.equal(old.status, 127);
    assert.match(old.stderr, /undefined symbol: foo_value/);
  });

  test('libz renamed (hash buckets out of order for the new names): symbols reordered, lookups work', (t) => {
    const d = join(root, 'z');
    mkdirSync(d);
    writeFileSync(
      join(d, 'z.c'),
      '#include <stdio.h>\n#include <zlib.h>\nint main(void) { printf("%s %lu\\n", zlibVersion(), crc32(0, (const unsigned char *)"abc", 3)); return 0; }\n',
    );
    const built = run('cc', ['-o', join(d, 'z'), join(d, 'z.c'), '-lz']);
    if (built.status !== 0) return t.skip('zlib headers (zlib1g-dev) not installed');
    const want = run(join(d, 'z'), []).stdout;
    copyFileSync(LIBZ, join(d, 'libz.so.1'));
    writeFileSync(join(d, 'map'), 'zlibVersion zlibVersion_cald\ncrc32 crc32_renamed_by_cald\n');
    const r = runCald(['--rename-dynamic-symbols', join(d, 'map'), join(d, 'libz.so.1'), join(d, 'z')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(run(join(d, 'z'), [], { env: { LD_LIBRARY_PATH: d } }).stdout, want);
    if (hasTool('eu-elflint')) assert.deepEqual(elflint(join(d, 'libz.so.1')), elflint(LIBZ));
    // The GNU hash table keeps its bucket count; every relocation and symbol version still belongs to
    // the same symbol (the names aside).
    const buckets = (f: string) => /total of (\d+) buckets?\)/.exec(runOk('readelf', ['-I', f]).stdout)?.[1];
    assert.equal(buckets(join(d, 'libz.so.1')), buckets(LIBZ));
    const renamed = (s: string) =>
      s.replace(/\bcrc32_renamed_by_cald\b/g, 'crc32').replace(/\bzlibVersion_cald\b/g, 'zlibVersion');
    // Where the tables are may change (they slide up when .dynstr grows in place); not what they say.
    const relocs = (f: string) =>
      runOk('readelf', ['-r', '-W', f])
        .stdout.replace(/ at offset 0x[0-9a-f]+ contains/g, ' contains')
        .replace(/ offset 0x[0-9a-f]+ contains/g, ' contains')
        .split('\n')
        .map((l) =>
          l
            .trim()
            .split(/\s+/)
            .filter((_, i) => i !== 1 && i !== 3)
            .join(' '),
        );
    assert.deepEqual(relocs(join(d, 'libz.so.1')).map(renamed), relocs(LIBZ));
    const versioned = (f: string) =>
      runOk('readelf', ['--dyn-syms', '-W', f])
        .stdout.split('\n')
        .slice(3)
        .map((l) => l.trim().split(/\s+/).slice(1).join(' '))
        .sort();
    assert.deepEqual(versioned(join(d, 'libz.so.1')).map(renamed).sort(), versioned(LIBZ));
  });

  test('a map naming no symbol of the file changes nothing; bad maps are one clear error', () => {
    const d = join(root, 'bad');
    mkdirSync(d);
    const f = join(d, 'libz.so.1');
    copyFileSync(LIBZ, f);
    const before = { bytes: readFileSync(f), mtime: statSync(f).mtimeMs };
    writeFileSync(join(d, 'none'), 'no_such_symbol other_name\n');
    assert.equal(runCald(['--rename-dynamic-symbols', join(d, 'none'), f]).status, 0);
    writeFileSync(join(d, 'three'), 'a b c\n');
    const three = runCald(['--rename-dynamic-symbols', join(d, 'three'), f]);
    assert.equal(three.status, 1);
    assert.match(three.stderr, /^patchelf: .*three:1: expected two symbol names/);
    const missing = runCald(['--rename-dynamic-symbols', join(d, 'missing'), f]);
    assert.equal(missing.status, 1);
    assert.match(
      missing.stderr,
      /^patchelf: cannot read the symbol map file .*missing: no such file or directory/,
    );
    assert.ok(readFileSync(f).equals(before.bytes));
    assert.equal(statSync(f).mtimeMs, before.mtime);
  });
});

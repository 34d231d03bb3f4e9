// The audit resolver answers a start-up load of a cas: name at ld.so's first search candidate, not
// at LA_SER_ORIG (native/cald-audit.c, docs/resolver.md "The name ld.so keeps"). What must hold:
// every library is still named by its name entry (dladdr, dl_iterate_phdr) whether the store's path
// is shorter or longer than the candidate ld.so tried; a file planted under a cas: name in a search
// directory is never what loads; a dlopen after start-up and a loader linked -z nodefaultlib (no
// default directories, so no candidate would come) still load and show the entry.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  auditLib,
  caldLines,
  exec,
  type Fixture,
  minimalEnv,
  mustRun,
  setUpFixture,
  sha256File,
} from './fixture.js';

let fx: Fixture;
setUpFixture((f) => {
  fx = f;
});

const SHOW = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
void greet(const char *who);
static int each(struct dl_phdr_info *i, size_t n, void *d) {
  (void)n, (void)d;
  if (strstr(i->dlpi_name, "cas:") || strstr(i->dlpi_name, "/objects/")) printf("phdr %s\\n", i->dlpi_name);
  return 0;
}
int main(int argc, char **argv) {
  greet("shown");
  Dl_info di;
  if (dladdr((void *)greet, &di)) printf("dladdr %s\\n", di.dli_fname);
  if (argc > 1) {
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) { printf("dlopen failed: %s\\n", dlerror()); return 3; }
    void *f = dlsym(h, "second");
    if (f && dladdr(f, &di)) printf("dlopened %s\\n", di.dli_fname);
  }
  dl_iterate_phdr(each, NULL);
  return 0;
}
`;

let n = 0;
/** A program built from SHOW whose DT_NEEDED is the fixture's stub for `stub` ('hint' or 'cas'). */
function showProgram(stub: 'hint' | 'cas', extra: string[] = []): string {
  const src = join(fx.dir, 'show.c');
  writeFileSync(src, SHOW);
  const out = join(fx.dir, `show-${n++}`);
  mustRun('cc', ['-o', out, src, join(fx.dir, `stub-${stub}.so`), '-ldl', ...extra]);
  return out;
}
const audited = (store: string, extra: Record<string, string> = {}) =>
  minimalEnv(fx, { LD_AUDIT: auditLib, CALD_STORE: store, ...extra });
const lines = (out: string, tag: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith(`${tag} `))
    .map((l) => l.slice(tag.length + 1));

describe('the name ld.so keeps for a library answered at its first search candidate', () => {
  test('a hinted library is named by its entry, with a short store path and with one longer than the candidate', () => {
    const prog = showProgram('hint');
    const long = join(fx.dir, 'x'.repeat(120), 'store'); // longer than any system directory ld.so tries
    mkdirSync(join(long, '..'), { recursive: true });
    cpSync(fx.store, long, { recursive: true, verbatimSymlinks: true });
    for (const store of [fx.store, long]) {
      const r = exec(prog, [], audited(store));
      assert.equal(r.status, 0, r.stderr);
      const entry = join(store, 'names', fx.hinted);
      assert.deepEqual(lines(r.stdout, 'dladdr'), [entry], r.stdout);
      assert.deepEqual(lines(r.stdout, 'phdr'), [entry], r.stdout);
    }
  });

  test('a library named without a hint is named by its object path', () => {
    const r = exec(showProgram('cas'), [], audited(fx.store));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(lines(r.stdout, 'dladdr'), [fx.object], r.stdout);
  });

  test('a dlopen after start-up is answered at once and named by its entry', () => {
    const src = join(fx.dir, 'second.c');
    writeFileSync(src, 'const char *second(void) { return "second"; }\n');
    const lib = join(fx.dir, 'libsecond.so');
    mustRun('cc', ['-shared', '-fPIC', '-o', lib, src]);
    const hex = sha256File(lib);
    const store = join(fx.dir, 'store-second');
    cpSync(fx.store, store, { recursive: true, verbatimSymlinks: true });
    cpSync(lib, join(store, 'objects', 'sha256', hex));
    const name = `cas:sha256:${hex}?name=libsecond.so`;
    mustRun('ln', ['-s', `../objects/sha256/${hex}`, join(store, 'names', name)]);
    const r = exec(showProgram('hint'), [name], audited(store));
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.deepEqual(lines(r.stdout, 'dlopened'), [join(store, 'names', name)], r.stdout);
  });

  test('a file planted under the cas: name in a searched directory is never loaded', () => {
    const prog = showProgram('hint');
    const planted = join(fx.dir, 'planted');
    mkdirSync(planted, { recursive: true });
    cpSync(join(fx.dir, 'stub-hint.so'), join(planted, fx.hinted)); // greets nobody
    const search = { LD_LIBRARY_PATH: planted };
    const ok = exec(prog, [], audited(fx.store, search));
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^hello from libgreet, shown$/m, 'the store object loaded, not the planted file');
    const empty = join(fx.dir, 'store-empty');
    rmSync(empty, { recursive: true, force: true });
    mkdirSync(join(empty, 'objects', 'sha256'), { recursive: true });
    const refused = exec(prog, [], audited(empty, search));
    assert.equal(refused.status, 127, refused.stdout);
    assert.equal(caldLines(refused).length, 1, refused.stderr);
    assert.match(caldLines(refused)[0]!, /does not exist/);
  });

  test('a loader linked -z nodefaultlib, which gives ld.so no directory to try, still loads its cas: need', () => {
    // The loader is a library with no libc, no RUNPATH and DF_1_NODEFLIB; the program names it by path.
    const src = join(fx.dir, 'mid.c');
    writeFileSync(src, 'const char *greet_word(void);\nconst char *mid(void) { return greet_word(); }\n');
    const mid = join(fx.dir, 'libmid.so');
    mustRun('cc', [
      '-shared',
      '-fPIC',
      '-nostdlib',
      '-Wl,-z,nodefaultlib',
      '-o',
      mid,
      src,
      join(fx.dir, 'stub-hint.so'),
    ]);
    const main = join(fx.dir, 'midmain.c');
    writeFileSync(
      main,
      '#include <stdio.h>\nconst char *mid(void);\nint main(void) { puts(mid()); return 0; }\n',
    );
    const prog = join(fx.dir, 'midprog');
    mustRun('cc', ['-o', prog, main, mid, '-Wl,--allow-shlib-undefined']); // greet_word is libgreet's
    const r = exec(prog, [], audited(fx.store));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'hello from libgreet\n');
  });
});

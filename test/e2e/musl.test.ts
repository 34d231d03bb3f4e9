// A musl program with a library of its own, compiled at test time with musl-gcc, imported and run
// by content through the name directory (LD_LIBRARY_PATH=<store>/names): musl's loader has no
// audit interface, so that is the only way it finds cas: names.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { hasTool, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { baseEnv, caldCli, direct, importInto, neededOf, objectPath, sha256sumAll } from './e2e.js';

const MUSL_LOADER = '/lib/ld-musl-x86_64.so.1';
const LIB = `int musl_word(int x) { return x * 6 + 1; }
`;
const MAIN = `#include <stdio.h>
#include <string.h>
int musl_word(int);
int main(int argc, char **argv) {
  printf("musl says %d, argc=%d\\n", musl_word(7), argc);
  for (int i = 1; i < argc; i++) printf("arg %s\\n", argv[i]);
  if (argc > 1 && strcmp(argv[1], "maps") == 0) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f)) if (strstr(line, "musl_word") || strstr(line, "/objects/") || strstr(line, "libmword")) fputs(strchr(line, '/'), stdout);
  }
  fprintf(stderr, "to stderr\\n");
  return 3;
}
`;

const skip = hasTool('musl-gcc') ? false : 'musl-gcc is not installed (Debian musl-tools)';

function build(dir: string): string {
  writeFileSync(join(dir, 'lib.c'), LIB);
  writeFileSync(join(dir, 'main.c'), MAIN);
  runOk('musl-gcc', [
    '-O2',
    '-shared',
    '-fPIC',
    '-Wl,-soname,libmword.so',
    '-o',
    join(dir, 'libmword.so'),
    join(dir, 'lib.c'),
  ]);
  const prog = join(dir, 'mprog');
  runOk('musl-gcc', ['-O2', '-o', prog, join(dir, 'main.c'), join(dir, 'libmword.so'), '-Wl,-rpath,$ORIGIN']);
  return prog;
}

test('a musl program and its own library run by content through the name directory', { skip }, (t) => {
  const dir = makeTmp(t, 'e2e-musl');
  const env = baseEnv(join(dir, 'home'));
  const prog = build(dir);
  const store = join(dir, 'store');
  // musl's libc.so is its loader: the import keeps it by name, like glibc's ld-linux.
  const imp = importInto(store, [prog], env);
  const object = imp.program.object;

  assert.ok(
    runOk('readelf', ['-lW', object]).stdout.includes(`Requesting program interpreter: ${MUSL_LOADER}]`),
  );
  const needed = neededOf(object);
  const lib = needed.find((n) => n.startsWith('cas:'));
  assert.ok(lib, `a cas: name for libmword.so in ${needed.join(' ')}`);
  assert.match(lib, /\?name=libmword\.so$/);
  assert.deepEqual(
    needed.filter((n) => !n.startsWith('cas:')),
    ['libc.so'],
  );
  const libHex = /sha256:([0-9a-f]{64})/.exec(lib)![1]!;
  assert.equal(sha256sumAll([objectPath(store, libHex)]).get(objectPath(store, libHex)), libHex);

  const want = direct(prog)(['one', 'two words'], env, dir);
  assert.equal(want.status, 3);
  const ways = {
    'LD_LIBRARY_PATH=<store>/names, object run directly': direct(object, {
      LD_LIBRARY_PATH: join(store, 'names'),
    }),
    'cald run --mode names': (args: readonly string[]) =>
      caldCli(['run', '--mode', 'names', '--store', store, imp.program.name, ...args], env, dir),
  };
  for (const [way, runner] of Object.entries(ways)) {
    const got = runner(['one', 'two words'], env, dir);
    assert.equal(got.stdout, want.stdout, way);
    assert.equal(got.stderr, want.stderr, way);
    assert.equal(got.status, 3, way);
  }
  // The library was mapped from the store object, by the musl loader.
  const maps = direct(object, { LD_LIBRARY_PATH: join(store, 'names') })(['maps'], env, dir).stdout;
  assert.ok(maps.includes(objectPath(store, libHex)), maps);
  // Without the name directory musl cannot find the cas: name.
  const none = direct(object)([], env, dir);
  assert.notEqual(none.status, 3);
  assert.match(none.stderr, /Error loading shared library cas:sha256:/);
});

test('cald import of a musl program keeps musl libc.so (its loader) by name without --exclude', {
  skip,
}, (t) => {
  const dir = makeTmp(t, 'e2e-musl-plain');
  const env = baseEnv(join(dir, 'home'));
  const prog = build(dir);
  const r = caldCli(['import', '--json', '--store', join(dir, 'store'), prog], env);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

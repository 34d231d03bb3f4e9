// Fixtures for the native resolver tests, built with cc at test time in a temp directory:
// libgreet.so (hash H) in a temp store, and programs whose DT_NEEDED is `cas:sha256:H`
// (linked against a stub library whose soname is that name; no ELF editing).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { repoPath } from '../helpers/paths.js';

export const auditLib = repoPath('native', 'build', 'libcald-audit.so');
export const shaTool = repoPath('native', 'build', 'cald-sha256sum');

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs cmd with exactly env (nothing inherited, so no stray LD_AUDIT or CALD_*). */
export function exec(
  cmd: string,
  args: readonly string[],
  env: Record<string, string> = {},
  cwd?: string,
): Result {
  const r = spawnSync(cmd, args, { env, cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function mustRun(cmd: string, args: readonly string[], cwd?: string): string {
  const r = exec(cmd, args, { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' }, cwd);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

let caches = 0;

/** A minimal environment for running fixture programs: a private home, a fresh (or given) cache. */
export function minimalEnv(
  fixture: Fixture,
  extra: Record<string, string> = {},
  cache = join(fixture.dir, `cache-${caches++}`),
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LC_ALL: 'C',
    HOME: join(fixture.dir, 'home'),
    XDG_CACHE_HOME: cache,
    ...extra,
  };
}

/** The lines cald printed on stderr. */
export function caldLines(r: Result): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith('cald:'));
}

/**
 * Builds the fixture before a test file's tests (handing it to `use`) and removes it after them.
 */
export function setUpFixture(use: (f: Fixture) => void): void {
  let built: Fixture | undefined;
  before(() => {
    requireBuilt();
    built = buildFixture();
    use(built);
  });
  after(() => {
    if (built) rmSync(built.dir, { recursive: true, force: true });
  });
}

export function requireBuilt(): void {
  assert.ok(existsSync(auditLib), `${auditLib} is missing: run node scripts/build-native.mjs first`);
}

const GREET = `#include <stdio.h>
const char *greet_word(void) { return "hello from libgreet"; }
void greet(const char *who) { printf("%s, %s\\n", greet_word(), who); }
`;
const STUB = `const char *greet_word(void) { return 0; }
void greet(const char *who) { (void)who; }
`;
const MAIN = `void greet(const char *who);
int main(int argc, char **argv) { greet(argc > 1 ? argv[1] : "world"); return 0; }
`;
const DLMAIN = `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen failed: %s\\n", dlerror()); return 3; }
  void (*greet)(const char *) = (void (*)(const char *))dlsym(h, "greet");
  greet(argc > 2 ? argv[2] : "dlopen");
  return 0;
}
`;
const ENVMAIN = `#include <stdio.h>
#include <stdlib.h>
void greet(const char *who);
int main(void) {
  greet("env");
  const char *a = getenv("LD_AUDIT");
  printf("LD_AUDIT=%s\\n", a ? a : "(unset)");
  fflush(stdout);
  return system("exec /usr/bin/env") == 0 ? 0 : 1;
}
`;

export interface Fixture {
  dir: string;
  store: string;
  hex: string;
  /** `cas:sha256:H` and `cas:sha256:H?name=libgreet.so` */
  uri: string;
  hinted: string;
  object: string;
  names: string;
  /** a directory holding the original libgreet.so under its own name (a "host" library) */
  hostLib: string;
  prog: string; // DT_NEEDED cas:sha256:H
  progHint: string; // DT_NEEDED cas:sha256:H?name=libgreet.so
  progPlain: string; // DT_NEEDED libgreet.so (not content-addressed)
  progAudit: string; // DT_NEEDED cas:sha256:H and DT_AUDIT = absolute path of libcald-audit.so
  progEnv: string; // prints LD_AUDIT and runs env(1) as a child
  dlprog: string; // dlopen(argv[1]) then greet(argv[2])
  /** Builds a program whose only extra DT_NEEDED is `soname` (for malformed names). */
  progNeeding(soname: string, tag: string): string;
}

/** Builds everything in a fresh temp directory. */
export function buildFixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'cald-native-'));
  const src = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const greetC = src('greet.c', GREET);
  const stubC = src('stub.c', STUB);
  const mainC = src('main.c', MAIN);
  const hostLib = join(dir, 'host');
  mkdirSync(hostLib);
  const lib = join(hostLib, 'libgreet.so');
  mustRun('cc', ['-shared', '-fPIC', '-O2', '-Wl,-soname,libgreet.so', '-o', lib, greetC]);

  const hex = sha256File(lib);
  assert.equal(mustRun('sha256sum', [lib]).slice(0, 64), hex, 'node:crypto and sha256sum disagree');
  const uri = `cas:sha256:${hex}`;
  const hinted = `${uri}?name=libgreet.so`;

  const store = join(dir, 'store');
  const object = join(store, 'objects', 'sha256', hex);
  const names = join(store, 'names');
  mkdirSync(join(store, 'objects', 'sha256'), { recursive: true });
  mkdirSync(names);
  copyFileSync(lib, object);
  chmodSync(object, 0o444);
  symlinkSync(`../objects/sha256/${hex}`, join(names, uri));
  symlinkSync(`../objects/sha256/${hex}`, join(names, hinted));

  const stubFor = (soname: string, tag: string) => {
    const out = join(dir, `stub-${tag}.so`);
    mustRun('cc', ['-shared', '-fPIC', `-Wl,-soname,${soname}`, '-o', out, stubC]);
    return out;
  };
  const link = (name: string, source: string, stub: string, extra: string[] = []) => {
    const out = join(dir, name);
    // no RUNPATH: the stub's directory must not be searched at run time
    mustRun('cc', ['-o', out, source, stub, ...extra]);
    return out;
  };
  const stub = stubFor(uri, 'cas');
  const fixture: Fixture = {
    dir,
    store,
    hex,
    uri,
    hinted,
    object,
    names,
    hostLib,
    prog: link('prog', mainC, stub),
    progHint: link('prog-hint', mainC, stubFor(hinted, 'hint')),
    progPlain: link('prog-plain', mainC, lib),
    progAudit: link('prog-audit', mainC, stub, [`-Wl,--audit=${auditLib}`]),
    progEnv: link('prog-env', src('envmain.c', ENVMAIN), stub),
    dlprog: (() => {
      const out = join(dir, 'dlprog');
      mustRun('cc', ['-o', out, src('dlmain.c', DLMAIN), '-ldl']);
      return out;
    })(),
    progNeeding: (soname, tag) => link(`prog-${tag}`, mainC, stubFor(soname, tag)),
  };
  return fixture;
}

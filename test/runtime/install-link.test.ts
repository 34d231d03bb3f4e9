// `cald install --link`: a symbolic link to the store object for programs imported with --audit
// (DT_AUDIT names libcald-audit.so), which run with no cald process and no environment once the
// audit library is installed system-wide (`cald install-audit`, as root: the suite installs it and
// removes it afterwards, unless it was there before). Refused for programs without DT_AUDIT.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cald } from '../cli/cald.js';
import { acquireSystemLock } from '../helpers/system-lock.js';
import { makeTmp } from '../helpers/tmp.js';
import { NATIVE_DIR, testEnv } from './fixture.js';

const SYSTEM_LIB = '/usr/local/lib/libcald-audit.so';
const root = process.getuid?.() === 0;
const dir = makeTmp({ after }, 'install-link');
const store = join(dir, 'store');
const env = testEnv(store);
const bin = join(dir, 'bin');

// A program with a library of its own, imported by the real importer twice: with and without --audit.
const src = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const cc = (...args: string[]) => execFileSync('cc', ['-O2', '-w', ...args], { stdio: 'ignore' });
cc(
  '-shared',
  '-fPIC',
  '-Wl,-soname,libgreet.so',
  '-o',
  join(dir, 'libgreet.so'),
  src('greet.c', 'const char *greet(void) { return "greetings"; }\n'),
);
const prog = `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
const char *greet(void);
int main(int argc, char **argv) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n < 0 ? 0 : n] = 0;
  const char *a = getenv("LD_AUDIT");
  printf("%s argc=%d argv0=%s exe=%s LD_AUDIT=%s\\n", greet(), argc, argv[0], exe, a ? a : "(unset)");
  return argc > 1 ? atoi(argv[1]) : 0;
}
`;
for (const name of ['greet-audit', 'greet-plain']) {
  cc('-o', join(dir, name), src(`${name}.c`, prog), join(dir, 'libgreet.so'), `-Wl,-rpath,${dir}`);
}
function importJson(args: string[]): { imported: { digest: string }[] } {
  const r = cald(['import', '--json', ...args], { env });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { imported: { digest: string }[] };
}
const auditDigest = importJson(['--audit', join(dir, 'greet-audit')]).imported[0]?.digest ?? '';
importJson([join(dir, 'greet-plain')]);
const auditObject = join(store, 'objects', ...auditDigest.split(':'));

let installedHere = false;
// Other suites install and remove the same system file: hold the machine-wide test lock throughout.
let release: (() => void) | undefined;
before(async () => {
  if (!root) return;
  release = await acquireSystemLock('system-audit');
  if (existsSync(SYSTEM_LIB)) return;
  const r = cald(['install-audit'], { env });
  assert.equal(r.status, 0, r.stderr);
  installedHere = true;
});
after(() => {
  if (installedHere) cald(['install-audit', '--uninstall'], { env });
  release?.();
});

test('install --link writes a symbolic link to the object and records an indirect root', () => {
  const r = cald(['install', '--link', 'greet-audit', '--bin', bin, '--json'], { env });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    kind: string;
    path: string;
    object: string;
    root: string;
    warnings: string[];
  };
  assert.equal(out.kind, 'link');
  assert.equal(out.path, join(bin, 'greet-audit'));
  assert.ok(lstatSync(out.path).isSymbolicLink());
  assert.equal(readlinkSync(out.path), auditObject);
  assert.equal(out.object, auditObject);
  assert.match(out.root, /\S/);
  assert.match(
    out.warnings.join('\n'),
    /not the default store location.*CALD_STORE=/,
    'a temporary store needs CALD_STORE',
  );
  const again = cald(['install', '--link', 'greet-audit', '--bin', bin], { env });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`^installed ${join(bin, 'greet-audit')} -> ${auditObject}$`, 'm'));
  assert.match(again.stderr, /^cald install: note: .* is not the default store location/m);
});

test('install --link refuses a program without DT_AUDIT, saying to re-import with --audit', () => {
  const r = cald(['install', '--link', 'greet-plain', '--bin', bin], { env });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /greet-plain has no DT_AUDIT entry naming libcald-audit\.so/);
  assert.match(r.stderr, /--audit/);
  assert.equal(existsSync(join(bin, 'greet-plain')), false, 'nothing is written');
});

test('the link runs under env -i with only CALD_STORE once the audit library is installed', (t) => {
  if (!root) {
    t.skip('needs root: cald install-audit writes /usr/local/lib and runs ldconfig');
    return;
  }
  const link = join(bin, 'greet-audit');
  assert.ok(existsSync(link), 'made by the first test');
  const r = spawnSync(link, ['3'], { env: { CALD_STORE: store }, encoding: 'utf8' });
  assert.equal(r.stderr, '');
  assert.equal(r.status, 3, 'the exit status is the program’s');
  assert.equal(r.stdout, `greetings argc=2 argv0=${link} exe=${auditObject} LD_AUDIT=(unset)\n`);
  // With no environment at all the store is the default one (home from /etc/passwd), where these
  // objects are not (unless someone imported them there): DT_AUDIT still loads the resolver.
  const bare = spawnSync(link, [], { env: {}, encoding: 'utf8' });
  assert.doesNotMatch(bare.stderr, /cannot be loaded as audit interface/);
  if (bare.status !== 0)
    assert.match(bare.stderr, /cas:sha256:[0-9a-f]{64}/, 'the resolver names what is missing');
});

test('the launcher and the link run the same program the same way', (t) => {
  if (!root) {
    t.skip('needs root: cald install-audit writes /usr/local/lib and runs ldconfig');
    return;
  }
  const r = cald(['install', 'greet-audit', '--bin', join(dir, 'launchers')], { env });
  assert.equal(r.status, 0, r.stderr);
  const viaLauncher = spawnSync(join(dir, 'launchers', 'greet-audit'), [], { env: {}, encoding: 'utf8' });
  assert.equal(viaLauncher.status, 0, viaLauncher.stderr);
  assert.match(
    viaLauncher.stdout,
    new RegExp(`^greetings argc=1 .* exe=${auditObject} LD_AUDIT=${NATIVE_DIR}/libcald-audit.so\n$`),
  );
});

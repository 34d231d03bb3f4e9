// `cald ldd`: cas names with hints, object paths and verified state; host names as the host
// loader resolves them; a flipped byte or a missing object in a copy of the store is reported
// and makes the exit status non-zero.
import assert from 'node:assert/strict';
import { chmodSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LddReport } from '../../src/api/index.js';
import { ANSI, cald } from '../cli/cald.js';
import { buildRuntimeFixture, testEnv } from './fixture.js';

const f = buildRuntimeFixture({ after: (fn) => process.on('exit', fn) });
const env = testEnv(f.store);
const libObject = (store: string) => join(store, 'objects', 'sha256', f.libDigest.hex);

function copyStore(label: string): string {
  const copy = join(f.dir, `store-${label}`);
  cpSync(f.store, copy, { recursive: true, verbatimSymlinks: true });
  return copy;
}

test('ldd shows cas names, object paths, verified state and host names', () => {
  const r = cald(['ldd', f.name], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(`^argv-prog  sha256:${f.digest.hex.slice(0, 12)}  verified  ${f.object}$`, 'm'),
  );
  // A tree: the hint (or "(no hint)") and the hash side by side, the state, the object.
  assert.match(
    r.stdout,
    new RegExp(
      `^[├└]─ \\(no hint\\) +sha256:${f.libDigest.hex.slice(0, 12)} +verified +${libObject(f.store)}$`,
      'm',
    ),
  );
  assert.match(r.stdout, /^[├└]─ libc\.so\.6 +host +host +\/\S+libc\.so\.6$/m);
  assert.doesNotMatch(r.stdout, ANSI, 'plain when piped');
  const colored = cald(['ldd', f.name], { env: { ...env, FORCE_COLOR: '1' } });
  assert.match(colored.stdout, ANSI, 'coloured when asked (a terminal)');
  assert.equal(colored.stdout.replace(new RegExp(ANSI.source, 'g'), ''), r.stdout, 'the same text, coloured');
  const none = cald(['ldd', f.name], { env: { ...env, FORCE_COLOR: '1', NO_COLOR: '1' } });
  assert.doesNotMatch(none.stdout, ANSI, 'NO_COLOR wins');
  assert.match(r.stdout, /^ {2}interpreter \/lib64\/ld-linux-x86-64\.so\.2: host, matches sha256:/m);
  const json = JSON.parse(cald(['ldd', '--json', f.uri], { env }).stdout) as LddReport;
  assert.equal(json.ok, true);
  assert.equal(json.program.digest, f.digest.toString());
  const lib = json.needed.find((n) => n.name.startsWith('cas:'));
  assert.equal(lib?.state, 'verified');
  assert.equal(lib?.path, libObject(f.store));
  assert.equal(json.needed.find((n) => n.name === 'libc.so.6')?.state, 'host');
  assert.deepEqual(json.problems, []);
});

test('a flipped byte in an object is reported as tampered, exit 1', () => {
  const copy = copyStore('flipped');
  const obj = libObject(copy);
  chmodSync(obj, 0o644);
  const bytes = readFileSync(obj);
  bytes[100] = (bytes[100] ?? 0) ^ 0xff;
  writeFileSync(obj, bytes);
  const r = cald(['ldd', f.name], { env: { ...env, CALD_STORE: copy } });
  assert.equal(r.status, 1);
  assert.match(
    r.stdout,
    new RegExp(`sha256:${f.libDigest.hex.slice(0, 12)} +TAMPERED: hashes to sha256:\\S+ +${obj}$`, 'm'),
  );
  assert.match(r.stderr, new RegExp(`^cald: tampered cas:sha256:${f.libDigest.hex} \\(${obj}\\)$`, 'm'));
  assert.match(r.stderr, /^hint: cald verify --repair restores/m);
  const json = JSON.parse(
    cald(['ldd', '--json', f.name], { env: { ...env, CALD_STORE: copy } }).stdout,
  ) as LddReport;
  assert.equal(json.ok, false);
  assert.deepEqual(
    json.problems.map((p) => p.state),
    ['tampered'],
  );
  assert.notEqual(json.hostLoaderError, null, 'the resolver refused it under ld.so --list too');
});

test('a missing object is reported, exit 1', () => {
  const copy = copyStore('missing');
  rmSync(libObject(copy), { force: true });
  const r = cald(['ldd', f.name], { env: { ...env, CALD_STORE: copy } });
  assert.equal(r.status, 1);
  assert.match(
    r.stdout,
    new RegExp(`sha256:${f.libDigest.hex.slice(0, 12)} +MISSING +${libObject(copy)}$`, 'm'),
  );
  assert.match(r.stderr, /^cald: missing cas:sha256:/m);
});

test('ldd of a program imported with another loader shows the stored loader', () => {
  const r = cald(['ldd', f.otherLoader.name], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(`interpreter /lib64/ld-linux-x86-64.so.2: stored loader ${f.otherLoader.loader}`),
  );
});

test('inspect shows each needed name as a tree: the hint and the whole hash side by side, coloured only on request', () => {
  const r = cald(['inspect', f.object], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^ {2}needed {8}├─ \\(no hint\\) +sha256:${f.libDigest.hex}$`, 'm'));
  assert.match(r.stdout, /^ {16}└─ libc\.so\.6$/m);
  assert.doesNotMatch(r.stdout, ANSI);
  const colored = cald(['inspect', f.object], { env: { ...env, FORCE_COLOR: '1' } });
  assert.match(colored.stdout, ANSI);
  assert.equal(colored.stdout.replace(new RegExp(ANSI.source, 'g'), ''), r.stdout);
});

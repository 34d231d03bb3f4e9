// A store named by URL (docs/store-layout.md, "Naming a store"): file:/// and a plain directory
// name the same local store through --store (CALD_STORE stays a path: native code reads it too),
// and the trust rule holds however it is named; a remote where a local store belongs is one line.
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine } from '../store/helpers/robust.js';
import { cald } from './cald.js';

const dir = makeTmp({ after }, 'store-url');

test('file:/// by --store and a plain path by CALD_STORE name the same store', () => {
  const store = join(dir, 'a store');
  const url = pathToFileURL(store).href; // the space is %20
  const imported = cald(['import', '/bin/true', '--store', url]);
  assert.equal(imported.status, 0, imported.stderr);
  const info = cald(['store', 'info', '--json', '--store', url]);
  assert.equal(info.status, 0, info.stderr);
  assert.equal(JSON.parse(info.stdout).path, store);
  const ran = cald(['run', '--store', url, 'true']);
  assert.equal(ran.status, 0, ran.stderr);
  const plain = cald(['store', 'info', '--json'], { env: { CALD_STORE: store } });
  assert.equal(JSON.parse(plain.stdout).objects, JSON.parse(info.stdout).objects);
  // CALD_STORE is read by the audit library and the launchers too, as a path: a URL there is refused.
  assertOneLine(
    cald(['run', 'true'], { env: { CALD_STORE: url } }),
    'file:/// CALD_STORE',
    /is a path, not a URL/,
  );
});

test('the trust rule holds however the store is named', () => {
  const store = join(dir, 'shared');
  assert.equal(cald(['import', '/bin/true', '--store', store]).status, 0);
  chmodSync(store, 0o777);
  try {
    for (const [what, args, env] of [
      ['file:/// by --store', ['store', 'info', '--store', pathToFileURL(store).href], {}],
      ['file:/// by --store, run', ['run', '--store', pathToFileURL(store).href, 'true'], {}],
      ['a path by CALD_STORE', ['run', 'true'], { CALD_STORE: store }],
    ] as const) {
      const r = cald([...args], { env: { ...env } });
      assertOneLine(r, what, /refusing the store .*writable by group or others/);
    }
  } finally {
    chmodSync(store, 0o755);
  }
});

test('a remote or a bad URL where the local store belongs: one line each', () => {
  assertOneLine(
    cald(['run', '--store', 'http://127.0.0.1:1/cache', 'true']),
    'http --store',
    /names a remote/,
  );
  assertOneLine(
    cald(['run', 'true'], { env: { CALD_STORE: 'oci://127.0.0.1:1/x' } }),
    'oci CALD_STORE',
    /names a remote/,
  );
  assertOneLine(cald(['store', 'info', '--store', 'ftp://h/x']), 'ftp', /unknown scheme ftp/);
  assertOneLine(
    cald(['run', 'true'], { env: { CALD_STORE: 'rel/store' } }),
    'relative CALD_STORE',
    /is a relative path/,
  );
});

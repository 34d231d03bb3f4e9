import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStoreUrl, resolveStoreLocation } from '../../src/store/index.js';

const cwd = '/work/here';

test('--store wins over everything, relative to cwd', () => {
  const env = { CALD_STORE: '/env', XDG_DATA_HOME: '/xdg', HOME: '/home/u' };
  assert.deepEqual(resolveStoreLocation({ option: '/opt/s', env, cwd }), {
    path: '/opt/s',
    source: 'option',
  });
  assert.deepEqual(resolveStoreLocation({ option: 'rel/s', env, cwd }), {
    path: '/work/here/rel/s',
    source: 'option',
  });
});

test('then CALD_STORE, then XDG_DATA_HOME, then HOME', () => {
  assert.deepEqual(resolveStoreLocation({ env: { CALD_STORE: '/st/s/', HOME: '/h' }, cwd }), {
    path: '/st/s',
    source: 'CALD_STORE',
  });
  // Inherited by children in other directories, a relative CALD_STORE would name another store in each.
  assert.throws(() => resolveStoreLocation({ env: { CALD_STORE: 's', HOME: '/h' }, cwd }), {
    code: 'STORE_RELATIVE',
    message: 'CALD_STORE=s is a relative path',
  });
  assert.deepEqual(resolveStoreLocation({ env: { XDG_DATA_HOME: '/x/data/', HOME: '/h' }, cwd }), {
    path: '/x/data/cald/store',
    source: 'XDG_DATA_HOME',
  });
  assert.deepEqual(resolveStoreLocation({ env: { HOME: '/home/u' }, cwd }), {
    path: '/home/u/.local/share/cald/store',
    source: 'HOME',
  });
});

test('empty values count as unset; a relative XDG_DATA_HOME is ignored (XDG spec)', () => {
  const env = { CALD_STORE: '', XDG_DATA_HOME: 'relative', HOME: '/h' };
  assert.equal(resolveStoreLocation({ option: '', env, cwd }).source, 'HOME');
  assert.equal(
    resolveStoreLocation({ option: undefined, env: { XDG_DATA_HOME: '', HOME: '/h' }, cwd }).source,
    'HOME',
  );
});

test('no setting at all is one clear error', () => {
  assert.throws(() => resolveStoreLocation({ env: {}, cwd }), { code: 'STORE_NO_LOCATION' });
  assert.throws(() => resolveStoreLocation({ env: { HOME: 'relative' }, cwd }), {
    code: 'STORE_NO_LOCATION',
  });
});

test('pure: same input, same output; the environment object is not read beyond its keys', () => {
  const env = Object.freeze({ HOME: '/h' });
  assert.deepEqual(resolveStoreLocation({ env, cwd }), resolveStoreLocation({ env, cwd }));
});

test('a store by URL: file:/// and plain paths are local, http(s):// and oci:// remote, parsed in one place', () => {
  assert.deepEqual(parseStoreUrl('file:///srv/cald%20store/', cwd), {
    kind: 'local',
    path: '/srv/cald store',
  });
  assert.deepEqual(parseStoreUrl('rel/s', cwd), { kind: 'local', path: '/work/here/rel/s' });
  assert.deepEqual(parseStoreUrl('https://cache.example.org/cald/', cwd), {
    kind: 'http',
    url: 'https://cache.example.org/cald',
  });
  assert.deepEqual(parseStoreUrl('oci://127.0.0.1:5000/tools', cwd), {
    kind: 'oci',
    url: 'oci://127.0.0.1:5000/tools',
  });
  assert.throws(() => parseStoreUrl('rel/s', undefined, 'CALD_STORE=rel/s'), { code: 'STORE_RELATIVE' });
  assert.throws(() => parseStoreUrl('file://otherhost/x', cwd), { code: 'STORE_BAD_URL' });
  assert.throws(() => parseStoreUrl('ftp://h/x', cwd), {
    code: 'STORE_BAD_URL',
    message: /unknown scheme ftp/,
  });
  assert.throws(() => parseStoreUrl('oci://host-without-repository', cwd), { code: 'STORE_BAD_URL' });
});

test('--store takes a file:/// URL; CALD_STORE stays a path (native code reads it); a remote in either is refused', () => {
  assert.deepEqual(resolveStoreLocation({ option: 'file:///opt/s', env: {}, cwd }), {
    path: '/opt/s',
    source: 'option',
  });
  assert.throws(() => resolveStoreLocation({ env: { CALD_STORE: 'file:///st/s' }, cwd }), {
    code: 'STORE_BAD_URL',
    message: 'CALD_STORE=file:///st/s: CALD_STORE is a path, not a URL',
  });
  assert.throws(() => resolveStoreLocation({ option: 'http://127.0.0.1:8377', env: {}, cwd }), {
    code: 'STORE_NOT_LOCAL',
    message: /^--store http:\/\/127\.0\.0\.1:8377 names a remote/,
  });
  assert.throws(() => resolveStoreLocation({ env: { CALD_STORE: 'oci://r/x' }, cwd }), {
    code: 'STORE_NOT_LOCAL',
  });
});

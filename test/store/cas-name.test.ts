import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Digest,
  formatCasName,
  hintFromName,
  isCasName,
  MAX_NAME_BYTES,
  parseCasName,
} from '../../src/store/index.js';

const hex = '5f'.repeat(32);
const d = Digest.parse(`sha256:${hex}`);
const bare = `cas:sha256:${hex}`;

test('format and parse round-trip, with and without a hint', () => {
  assert.equal(formatCasName(d), bare);
  assert.equal(formatCasName(d, 'libz.so.1'), `${bare}?name=libz.so.1`);
  for (const hint of [
    'libstdc++.so.6',
    'ld-linux-x86-64.so.2',
    'libQt5Core.so.5',
    'libfoo_bar-1.2~rc1@x,y:z.so',
  ]) {
    const name = formatCasName(d, hint);
    const parsed = parseCasName(name);
    assert.ok(parsed.digest.equals(d));
    assert.equal(parsed.hint, hint);
    assert.ok(isCasName(name));
  }
  assert.equal(parseCasName(bare).hint, undefined);
});

test('the 255-byte cap is exact', () => {
  const room = MAX_NAME_BYTES - `${bare}?name=`.length;
  assert.equal(room, 174);
  const longest = formatCasName(d, 'x'.repeat(room));
  assert.equal(Buffer.byteLength(longest), 255);
  assert.ok(isCasName(longest));
  assert.throws(() => formatCasName(d, 'x'.repeat(room + 1)), { code: 'NAME_TOO_LONG' });
  assert.throws(() => parseCasName(`${longest}x`), { code: 'NAME_TOO_LONG' });
});

test('every malformed shape is rejected with a code', () => {
  const cases: [string, string][] = [
    ['', 'NAME_NOT_CAS'],
    ['libc.so.6', 'NAME_NOT_CAS'],
    [`CAS:sha256:${hex}`, 'NAME_NOT_CAS'],
    [` ${bare}`, 'NAME_NOT_CAS'],
    [`sha256:${hex}`, 'NAME_NOT_CAS'],
    [`cas:/sha256:${hex}`, 'NAME_BAD_CHAR'],
    [`cas:sha256:${hex}/x`, 'NAME_BAD_CHAR'],
    [`${bare}?name=../../etc/passwd`, 'NAME_BAD_CHAR'],
    [`${bare}?name=lib$PLATFORM.so`, 'NAME_BAD_CHAR'],
    [`cas:sha256:$ORIGIN`, 'NAME_BAD_CHAR'],
    [`${bare}\0`, 'NAME_BAD_CHAR'],
    [`${bare}?name=a\0b`, 'NAME_BAD_CHAR'],
    ['cas:', 'NAME_BAD_DIGEST'],
    ['cas:sha256:', 'NAME_BAD_DIGEST'],
    [`cas:sha256:${hex.toUpperCase()}`, 'NAME_BAD_DIGEST'],
    [`cas:sha256:${hex.slice(2)}`, 'NAME_BAD_DIGEST'],
    [`cas:sha256:${hex}00`, 'NAME_BAD_DIGEST'],
    [`cas:sha256:${hex} `, 'NAME_BAD_DIGEST'],
    [`cas:sha256:${hex}.so`, 'NAME_BAD_DIGEST'],
    [`cas:sha256:${hex}:x`, 'NAME_BAD_DIGEST'],
    [`cas:${hex}`, 'NAME_BAD_DIGEST'],
    [`cas:md5:${hex}`, 'NAME_UNKNOWN_ALGORITHM'],
    [`cas:blake3:${hex}`, 'NAME_UNKNOWN_ALGORITHM'],
    [`${bare}?`, 'NAME_BAD_PARAMETER'],
    [`${bare}?name`, 'NAME_BAD_PARAMETER'],
    [`${bare}?Name=x`, 'NAME_BAD_PARAMETER'],
    [`${bare}?size=3`, 'NAME_BAD_PARAMETER'],
    [`${bare}&name=x`, 'NAME_BAD_DIGEST'],
    [`${bare}?name=`, 'NAME_BAD_HINT'],
    [`${bare}?name=a?b`, 'NAME_BAD_HINT'],
    [`${bare}?name=a&x=1`, 'NAME_BAD_HINT'],
    [`${bare}?name=a=b`, 'NAME_BAD_HINT'],
    [`${bare}?name=a b`, 'NAME_BAD_HINT'],
    [`${bare}?name=a%2F`, 'NAME_BAD_HINT'],
    [`${bare}?name=a#b`, 'NAME_BAD_HINT'],
    [`${bare}?name=a\\b`, 'NAME_BAD_HINT'],
    [`${bare}?name=a"b`, 'NAME_BAD_HINT'],
    [`${bare}?name=a\nb`, 'NAME_BAD_HINT'],
    [`${bare}?name=a\tb`, 'NAME_BAD_HINT'],
    [`${bare}?name=libé.so`, 'NAME_BAD_HINT'],
    [`${bare}?name=..`, 'NAME_BAD_HINT'],
    [`${bare}?name=lib..so`, 'NAME_BAD_HINT'],
    ['..', 'NAME_NOT_CAS'],
    [`x${'y'.repeat(300)}`, 'NAME_TOO_LONG'],
  ];
  for (const [name, code] of cases) {
    assert.throws(() => parseCasName(name), { code }, JSON.stringify(name));
    assert.equal(isCasName(name), false, JSON.stringify(name));
  }
});

test('formatCasName refuses bad hints', () => {
  for (const hint of ['', 'a/b', 'a$b', 'a?b', '..', 'a\0b', 'a b']) {
    assert.throws(() => formatCasName(d, hint), { code: 'NAME_BAD_HINT' }, JSON.stringify(hint));
  }
});

test('error messages are one line and quote the input safely', () => {
  try {
    parseCasName(`${bare}?name=a\nb`);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(!(e as Error).message.includes('\n'), (e as Error).message);
  }
});

test('hintFromName keeps a valid last component or gives none', () => {
  assert.equal(hintFromName('libz.so.1'), 'libz.so.1');
  assert.equal(hintFromName('/usr/lib/x86_64-linux-gnu/libz.so.1'), 'libz.so.1');
  assert.equal(hintFromName('$ORIGIN/libfoo.so'), 'libfoo.so');
  assert.equal(hintFromName('lib$PLATFORM.so'), undefined);
  assert.equal(hintFromName('dir/'), undefined);
  assert.equal(hintFromName('x'.repeat(175)), undefined);
  assert.equal(hintFromName('x'.repeat(174)), 'x'.repeat(174));
});

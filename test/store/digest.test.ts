import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Digest, digestAndSizeOfFile, digestOfBuffer, digestOfFile } from '../../src/store/index.js';
import { tempDir } from './tmp.js';

const dir = tempDir('digest');

function sha256sum(path: string): string {
  return execFileSync('sha256sum', ['--', path], { encoding: 'utf8' }).split(' ')[0]!;
}

test('digestOfFile agrees with sha256sum across chunk boundaries', () => {
  const sizes = [
    0,
    1,
    55,
    64,
    4 * 1024 * 1024 - 1,
    4 * 1024 * 1024,
    4 * 1024 * 1024 + 1,
    9 * 1024 * 1024 + 3,
  ];
  for (const size of sizes) {
    const path = join(dir, `f${size}`);
    writeFileSync(path, randomBytes(size));
    const d = digestOfFile(path);
    assert.equal(d.hex, sha256sum(path), `size ${size}`);
    assert.equal(d.algorithm, 'sha256');
    assert.equal(digestAndSizeOfFile(path).size, size);
  }
});

test('digestOfBuffer agrees with sha256sum', () => {
  const bytes = randomBytes(100_003);
  const path = join(dir, 'buf');
  writeFileSync(path, bytes);
  assert.equal(digestOfBuffer(bytes).hex, sha256sum(path));
  assert.equal(
    digestOfBuffer(Buffer.from('abc')).hex,
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  );
});

test('Digest parses, prints and compares', () => {
  const text = `sha256:${'0123456789abcdef'.repeat(4)}`;
  const d = Digest.parse(text);
  assert.equal(d.toString(), text);
  assert.equal(`${d}`, text);
  assert.equal(JSON.stringify({ d }), `{"d":"${text}"}`);
  assert.equal(d.hex, '0123456789abcdef'.repeat(4));
  assert.ok(d.equals(Digest.parse(text)));
  assert.ok(!d.equals(Digest.parse(`sha256:${'f'.repeat(64)}`)));
});

test('malformed digests are refused with a code', () => {
  const hex = 'a'.repeat(64);
  const bad: [string, string][] = [
    ['', 'NAME_BAD_DIGEST'],
    [hex, 'NAME_BAD_DIGEST'],
    [`sha256:${hex.toUpperCase()}`, 'NAME_BAD_DIGEST'],
    [`sha256:${hex.slice(1)}`, 'NAME_BAD_DIGEST'],
    [`sha256:${hex}0`, 'NAME_BAD_DIGEST'],
    [`sha256:${hex.slice(1)}g`, 'NAME_BAD_DIGEST'],
    [`sha256: ${hex.slice(1)}`, 'NAME_BAD_DIGEST'],
    [`sha256:${hex}\n`, 'NAME_BAD_DIGEST'],
    [`SHA256:${hex}`, 'NAME_UNKNOWN_ALGORITHM'],
    [`blake3:${hex}`, 'NAME_UNKNOWN_ALGORITHM'],
    [`sha-256:${hex}`, 'NAME_UNKNOWN_ALGORITHM'],
    [`toString:${hex}`, 'NAME_UNKNOWN_ALGORITHM'],
    [`__proto__:${hex}`, 'NAME_UNKNOWN_ALGORITHM'],
    [`:${hex}`, 'NAME_UNKNOWN_ALGORITHM'],
  ];
  for (const [text, code] of bad) {
    assert.throws(() => Digest.parse(text), { code }, JSON.stringify(text));
    assert.equal(Digest.tryParse(text), undefined);
  }
  assert.throws(
    () => Digest.parse(`blake3:${hex}`),
    /unsupported digest algorithm "blake3" \(this cald knows sha256\)/,
  );
});

test('digestOfFile on a missing file is one IoError line', () => {
  assert.throws(
    () => digestOfFile(join(dir, 'nope')),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'IO_ENOENT');
      assert.ok(!e.message.includes('\n'));
      return true;
    },
  );
});

test('digestOfFile reads a file larger than the buffer without holding it (sparse 64 MiB)', () => {
  const path = join(dir, 'sparse');
  const fd = openSync(path, 'w');
  writeSync(fd, Buffer.from('end'), 0, 3, 64 * 1024 * 1024);
  closeSync(fd);
  assert.equal(digestOfFile(path).hex, sha256sum(path));
});

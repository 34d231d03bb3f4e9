// Memory lent for whole files and reused (src/util/buffer-pool.ts): a buffer is its taker's alone,
// room after its bytes included, until given back; given-back memory is lent again, the smallest
// that fits first; a second give-back or a buffer the pool never lent changes nothing, so memory is
// never lent to two takers at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, sizeClass } from '../../src/util/buffer-pool.js';

const MiB = 1024 * 1024;

test('a taken buffer has its size, at the start of memory of at least the capacity asked', () => {
  const pool = new BufferPool(64 * MiB);
  const b = pool.take(1000, 70_000);
  assert.equal(b.length, 1000);
  assert.equal(b.byteOffset, 0);
  assert.ok(b.buffer.byteLength >= 70_000);
  assert.equal(pool.take(5).length, 5);
});

test('memory given back is lent again, the smallest that fits', () => {
  const pool = new BufferPool(64 * MiB);
  const small = pool.take(100_000);
  const large = pool.take(3 * MiB);
  pool.release(large);
  pool.release(small.subarray(10, 20)); // any view of the memory gives it back
  assert.equal(pool.take(90_000).buffer, small.buffer);
  assert.equal(pool.take(2 * MiB, 2.5 * MiB).buffer, large.buffer);
  assert.notEqual(pool.take(2 * MiB).buffer, large.buffer, 'lent once at a time');
});

test('a second give-back, or memory the pool never lent, is ignored', () => {
  const pool = new BufferPool(64 * MiB);
  const a = pool.take(1000);
  pool.release(a);
  pool.release(a);
  pool.release(Buffer.allocUnsafeSlow(1000));
  const first = pool.take(1000);
  const second = pool.take(1000);
  assert.equal(first.buffer, a.buffer);
  assert.notEqual(second.buffer, a.buffer, 'released twice, lent once');
});

test('memory given back past the limit is dropped', () => {
  const pool = new BufferPool(1 * MiB);
  const a = pool.take(600 * 1024);
  const b = pool.take(600 * 1024);
  pool.release(a);
  pool.release(b);
  assert.equal(pool.take(600 * 1024).buffer, a.buffer);
  assert.notEqual(pool.take(600 * 1024).buffer, b.buffer);
});

test('new memory is rounded up to a size class at most a quarter larger', () => {
  assert.equal(sizeClass(1), 64 * 1024);
  for (const n of [64 * 1024 + 1, 100_000, 3 * MiB + 7, 31_262_256]) {
    const c = sizeClass(n);
    assert.ok(c >= n && c <= n * 1.25, `${n} -> ${c}`);
  }
  assert.equal(sizeClass(4 * MiB), 4 * MiB);
});

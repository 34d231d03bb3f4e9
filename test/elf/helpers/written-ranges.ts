// The engine reports where its result may differ from the input (EditResult.written); writers
// store only those ranges over a kernel copy of the input (api/patch-file.ts). Every edit the
// tests make checks here that no changed byte lies outside them.
import assert from 'node:assert/strict';
import type { EditResult } from '../../../src/elf/edit/index.js';

/** Throws when a byte of `result.buffer` differs from `input` (or lies past it) outside `written`. */
export function assertWrittenCovers(input: Uint8Array, result: EditResult): void {
  const out = result.buffer;
  if (!result.changed) {
    assert.equal(result.written.length, 0, 'an unchanged result reports no written ranges');
    return;
  }
  let prevEnd = -1;
  for (const [s, e] of result.written) {
    assert.ok(s > prevEnd && e > s && e <= out.length, `written ranges sorted, disjoint, inside: ${s}-${e}`);
    prevEnd = e;
  }
  const ranges = result.written;
  let r = 0;
  const first = firstDifference(input, out, 0, Math.min(input.length, out.length));
  for (let i = first; i < out.length; ) {
    while (r < ranges.length && ranges[r]![1] <= i) r++;
    const inside = r < ranges.length && ranges[r]![0] <= i;
    if (inside) {
      i = ranges[r]![1];
      continue;
    }
    if (i >= input.length || input[i] !== out[i]) {
      assert.fail(`byte 0x${i.toString(16)} changed (or was added) outside the reported written ranges`);
    }
    // Skip ahead to the next difference before the next range.
    const stop = Math.min(r < ranges.length ? ranges[r]![0] : out.length, input.length, out.length);
    i = i + 1 < stop ? firstDifference(input, out, i + 1, stop) : i + 1;
  }
}

/** The first offset in [from, to) where the two differ, or `to`. */
function firstDifference(a: Uint8Array, b: Uint8Array, from: number, to: number): number {
  const step = 4096;
  for (let i = from; i < to; i += step) {
    const end = Math.min(i + step, to);
    if (Buffer.compare(a.subarray(i, end), b.subarray(i, end)) !== 0) {
      for (let j = i; j < end; j++) if (a[j] !== b[j]) return j;
    }
  }
  return to;
}

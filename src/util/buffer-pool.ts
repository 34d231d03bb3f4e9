import { pageAlignedMemory } from './page-memory.js';

/**
 * Memory for whole files, reused from one file to the next. A reader that takes a fresh buffer per
 * file makes the collector run (each new ArrayBuffer's size counts towards V8's external memory,
 * which forces full collections) and the kernel fault in and zero every page anew; one that reads
 * into memory given back by earlier files does neither (docs/benchmarks.md, "Importing ffmpeg's
 * closure", session 6).
 *
 * A lent buffer is its taker's alone, the whole ArrayBuffer behind it included (an edit in place
 * grows into the room after the bytes: EditOptions.reuseInput), until it is released. Releasing is
 * a promise never to touch those bytes again; a buffer released twice, or one the pool never lent,
 * is ignored, so memory is never lent to two takers at once.
 */
export class BufferPool {
  /** Given back and not lent again, smallest first. */
  private readonly free: ArrayBuffer[] = [];
  private freeBytes = 0;
  /** Lent and not given back (weakly: memory a taker drops without giving it back is collected). */
  private readonly lent = new WeakSet<ArrayBuffer>();

  /** @param maxFreeBytes memory kept for reuse, at most (what is given back past it is dropped). */
  constructor(private readonly maxFreeBytes: number) {}

  /**
   * `size` bytes (not zeroed) at the start of memory of their own of at least `capacity` bytes:
   * the smallest given back that fits, else new memory of a size rounded up to a class.
   */
  take(size: number, capacity: number = size): Buffer {
    const want = Math.max(size, capacity);
    const i = this.free.findIndex((ab) => ab.byteLength >= want);
    let ab: ArrayBuffer;
    if (i >= 0) {
      ab = this.free.splice(i, 1)[0]!;
      this.freeBytes -= ab.byteLength;
    } else {
      // Page-aligned, so the file's object can be written from it straight to the disk
      // (importer/object-batch.ts); ordinary memory when that cannot be had.
      ab =
        pageAlignedMemory(sizeClass(want)) ?? (Buffer.allocUnsafeSlow(sizeClass(want)).buffer as ArrayBuffer);
    }
    this.lent.add(ab);
    return Buffer.from(ab, 0, size);
  }

  /** Gives back the memory behind `bytes` (a buffer take() lent, or any view of its memory). */
  release(bytes: Uint8Array): void {
    const ab = bytes.buffer as ArrayBuffer;
    if (!this.lent.delete(ab)) return;
    if (this.freeBytes + ab.byteLength > this.maxFreeBytes) return;
    let i = this.free.findIndex((f) => f.byteLength >= ab.byteLength);
    if (i < 0) i = this.free.length;
    this.free.splice(i, 0, ab);
    this.freeBytes += ab.byteLength;
  }
}

/** Sizes of new memory: 64 KiB, then steps of a quarter of a power of two (at most 25 % unused). */
export function sizeClass(n: number): number {
  if (n <= 64 * 1024) return 64 * 1024;
  const step = 2 ** (Math.floor(Math.log2(n)) - 2);
  return Math.ceil(n / step) * step;
}

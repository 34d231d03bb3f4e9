/**
 * Memory that starts on a page boundary, so a file can be written from it with O_DIRECT (the disk
 * reads it in place, with no copy into the page cache). Node gives no aligned allocation and no
 * address of a buffer's memory; a WebAssembly.Memory's is mapped by V8 on its own and starts on a
 * page, so that is where it comes from. A set records which memory is aligned.
 */

/** The alignment O_DIRECT asks for here: a page, a multiple of every logical block size in use. */
export const PAGE_SIZE = 4096;
const WASM_PAGE = 65536;
const MAX_WASM_PAGES = 65536;

const aligned = new WeakSet<ArrayBuffer>();
/** Set once V8 could not map such memory (each Memory reserves gigabytes of address space). */
let unavailable = false;

/** The part of WebAssembly used here (the project's type libraries do not declare it). */
const wasm = (
  globalThis as unknown as {
    WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { buffer: ArrayBuffer } };
  }
).WebAssembly;

/**
 * At least `size` bytes (rounded up to 64 KiB) of page-aligned memory, zeroed; undefined when it
 * cannot be had (a `ulimit -v` too low for V8's reservation, say): the caller then takes ordinary
 * memory, and writes of it go through the page cache.
 */
export function pageAlignedMemory(size: number): ArrayBuffer | undefined {
  const pages = Math.max(1, Math.ceil(size / WASM_PAGE));
  // A Memory holds at most 4 GiB: a larger file takes ordinary memory, the next ones aligned again.
  if (unavailable || pages > MAX_WASM_PAGES) return undefined;
  let ab: ArrayBuffer;
  try {
    ab = new wasm.Memory({ initial: pages, maximum: pages }).buffer;
  } catch {
    // Not asked again: V8 runs full collections before each failure (an import of ffmpeg under
    // `ulimit -v 6000000` took 2.3 s instead of 1.1 s asking every time).
    unavailable = true;
    return undefined;
  }
  aligned.add(ab);
  return ab;
}

/**
 * The page-aligned range that holds `bytes` padded to whole pages, when `bytes` start on a page of
 * memory from pageAlignedMemory and that memory has room for the padding; else undefined.
 */
export function pagePadded(bytes: Uint8Array): Uint8Array | undefined {
  const ab = bytes.buffer as ArrayBuffer;
  if (!aligned.has(ab) || bytes.byteOffset % PAGE_SIZE !== 0) return undefined;
  const padded = Math.ceil(bytes.length / PAGE_SIZE) * PAGE_SIZE;
  if (padded === 0 || bytes.byteOffset + padded > ab.byteLength) return undefined;
  return new Uint8Array(ab, bytes.byteOffset, padded);
}

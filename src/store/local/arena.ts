/**
 * Reused blocks of memory that a streamed put gathers an object's bytes in (ObjectFiles.putStream):
 * the object is then written with one call instead of one per chunk, and its references are read
 * from the block instead of from chunks kept alive until the put ends. Kept chunks outlived the
 * young generation, so V8 promoted them (and counted their memory against the old generation):
 * a lazy fetch of ffmpeg's closure ran a full mark-compact every ~13 objects (docs/benchmarks.md,
 * "Session 6"). A chunk copied here dies young.
 */

/** The most bytes an arena grows to; past it a put writes as it goes and keeps nothing whole. */
export const ARENA_LIMIT = 16 * 1024 * 1024;
/** An arena's first size (most libraries are smaller; ffmpeg's closure averages 1.2 MB). */
const FIRST = 4 * 1024 * 1024;
/** Arenas kept for the next put: a pull's 4 downloads at once, the fetch daemon's 4 prefetches and its own. */
const KEPT = 5;

const free: Buffer[] = [];

/** An arena of at least `size` bytes, from the kept ones when one is large enough. */
export function takeArena(size = FIRST): Buffer {
  const i = free.findIndex((b) => b.length >= size);
  if (i >= 0) return free.splice(i, 1)[0]!;
  // Outside Node's shared pool (one long-lived block), never zeroed: every byte read is written first.
  return Buffer.allocUnsafeSlow(Math.max(size, FIRST));
}

/** `arena` with its first `used` bytes in a larger one (at most ARENA_LIMIT); the old one is given back. */
export function growArena(arena: Buffer, used: number, need: number): Buffer {
  const larger = takeArena(Math.min(ARENA_LIMIT, Math.max(need, 2 * arena.length)));
  arena.copy(larger, 0, 0, used);
  giveArena(arena);
  return larger;
}

/** Gives an arena back for the next put. Only arenas of the first size are kept: a larger one was for a rare large object. */
export function giveArena(arena: Buffer): void {
  if (arena.length === FIRST && free.length < KEPT) free.push(arena);
}

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
const FIRST = 2 * 1024 * 1024;
/** Kept arenas are let go once no put has given one back for this long (a fetch daemon left running). */
const IDLE_MS = 2_000;
/**
 * The most bytes of arenas kept for the next put (a pull's 4 downloads at once, the fetch daemon's
 * 4 prefetches and its own): an arena grown for a large object is kept too, so the next large
 * one is neither copied as its arena grows nor faulted into fresh memory.
 */
const KEPT_BYTES = 32 * 1024 * 1024;

const free: Buffer[] = [];
let keptBytes = 0;
let idle: NodeJS.Timeout | undefined;

/** An arena of at least `size` bytes: the smallest kept one that is large enough, or a new one. */
export function takeArena(size = FIRST): Buffer {
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    if (free[i]!.length >= size && (best < 0 || free[i]!.length < free[best]!.length)) best = i;
  }
  if (best >= 0) {
    const arena = free.splice(best, 1)[0]!;
    keptBytes -= arena.length;
    return arena;
  }
  // Outside Node's shared pool (one long-lived block), never zeroed: every byte read is written first.
  return Buffer.allocUnsafeSlow(Math.max(size, FIRST));
}

/**
 * `arena` with its first `used` bytes in one of ARENA_LIMIT bytes; the old one is given back. Grown
 * at once to the limit (not doubled), so a large object's bytes are copied once at most.
 */
export function growArena(arena: Buffer, used: number): Buffer {
  const larger = takeArena(ARENA_LIMIT);
  arena.copy(larger, 0, 0, used);
  giveArena(arena);
  return larger;
}

/** Gives an arena back for the next put; past KEPT_BYTES the smallest kept ones are let go. */
export function giveArena(arena: Buffer): void {
  free.push(arena);
  keptBytes += arena.length;
  if (idle === undefined) {
    idle = setTimeout(() => {
      free.length = 0;
      keptBytes = 0;
      idle = undefined;
    }, IDLE_MS);
    idle.unref();
  } else idle.refresh();
  while (keptBytes > KEPT_BYTES) {
    let smallest = 0;
    for (let i = 1; i < free.length; i++) if (free[i]!.length < free[smallest]!.length) smallest = i;
    keptBytes -= free.splice(smallest, 1)[0]!.length;
  }
}

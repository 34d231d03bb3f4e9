import { lstatSync } from 'node:fs';
import { tryParseCasName } from './cas-name.js';
import { Digest } from './digest.js';
import type { FileStore } from './file-store.js';
import { pathEntries } from './gc.js';
import type { ExtractRefs, IndexDb } from './index-db.js';
import { resolveRoot } from './root-targets.js';

export interface StoreStats {
  readonly objects: number;
  /** Sum of the object files' sizes. */
  readonly bytes: number;
  readonly executables: number;
  readonly names: number;
  readonly paths: number;
  readonly roots: number;
  /** Objects reachable from at least one root. */
  readonly reachable: number;
  /**
   * Bytes saved by storing shared objects once: Σ over live roots r of bytes(closure(r)) minus
   * bytes(⋃ closures). It is what copying every root's closure separately (a bundle per
   * program) would cost beyond the store. An object in k closures saves (k-1) × its size.
   */
  readonly dedupSavedBytes: number;
  /** Objects in the closures of two or more roots. */
  readonly sharedObjects: number;
}

/**
 * Counts the store. Closures follow the index's refs where the index has the object, else the
 * refs in the object's bytes (`extractRefs`), so a stale index gives the right numbers.
 */
export function storeStats(
  files: FileStore,
  index: IndexDb | undefined,
  extractRefs: ExtractRefs,
): StoreStats {
  const sizes = new Map<string, number>();
  let bytes = 0;
  let executables = 0;
  for (const d of files.objects.list()) {
    try {
      const st = lstatSync(files.pathOf(d));
      sizes.set(d.toString(), st.size);
      bytes += st.size;
      if ((st.mode & 0o111) !== 0) executables++;
    } catch {
      // vanished
    }
  }
  const indexed = new Set((index?.objectRows() ?? []).map((r) => r.digest));
  const refCache = new Map<string, string[]>();
  const refsOf = (d: string): string[] => {
    let refs = refCache.get(d);
    if (refs === undefined) {
      const digest = Digest.parse(d);
      if (index !== undefined && indexed.has(d)) refs = index.refsOf(digest).map((r) => r.digest.toString());
      else {
        try {
          refs = extractRefs(files.objects.readBytes(digest), digest)
            .map((n): string | undefined => tryParseCasName(n)?.digest.toString())
            .filter((x): x is string => x !== undefined);
        } catch {
          refs = [];
        }
      }
      refCache.set(d, refs);
    }
    return refs;
  };
  const roots = files.roots.list();
  const count = new Map<string, number>();
  let sumOfClosures = 0;
  for (const r of roots) {
    const resolved = resolveRoot(files, r);
    if (!resolved.alive) continue;
    const seen = new Set<string>();
    const queue: string[] = resolved.digests.map((d) => d.toString());
    while (queue.length > 0) {
      const d = queue.pop()!;
      if (seen.has(d) || !sizes.has(d)) continue;
      seen.add(d);
      queue.push(...refsOf(d));
    }
    for (const d of seen) {
      count.set(d, (count.get(d) ?? 0) + 1);
      sumOfClosures += sizes.get(d)!;
    }
  }
  let union = 0;
  let shared = 0;
  for (const [d, k] of count) {
    union += sizes.get(d)!;
    if (k > 1) shared++;
  }
  return {
    objects: sizes.size,
    bytes,
    executables,
    names: files.names.list().length,
    paths: pathEntries(files.layout.paths).length,
    roots: roots.length,
    reachable: count.size,
    dedupSavedBytes: sumOfClosures - union,
    sharedObjects: shared,
  };
}

// The objects of one import, written the way a batch is cheapest and still crash-safe
// (docs/store-layout.md, "Writes"): each object's bytes are hashed once, then written to a temp
// file in the store's tmp/ and synced on the thread pool while the next object is rewritten;
// at the end every file is renamed into objects/ (dependencies first), objects/ is synced once,
// and only then the index is written. Names, paths and roots are the caller's, after commit().
// A SIGKILL at any moment leaves temp files in tmp/ (removed by a later cleanTemp) and whole
// objects under their hash; nothing names an object before its rename is durable.
import { randomBytes } from 'node:crypto';
import { close, constants, fsync, ftruncate, open, rmSync, write } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ioErrorFrom } from '../errors/index.js';
import { type Digest, digestOfBuffer, type LocalStore } from '../store/index.js';
import { pagePadded } from '../util/page-memory.js';

const fsyncAsync = promisify(fsync);
const openAsync = promisify(open);
const closeAsync = promisify(close);
const writeAsync = promisify(write);
const ftruncateAsync = promisify(ftruncate);

/** Temp files written and not yet synced, at most (each holds a descriptor until it is synced). */
const MAX_IN_FLIGHT = 64;
/**
 * Bytes held by the writes in flight, at most (past one larger object alone). Held until written,
 * not until synced: the sync needs the page cache, not these bytes.
 */
const MAX_BYTES_IN_FLIGHT = 64 * 1024 * 1024;

export interface BatchPutOptions {
  readonly executable: boolean;
  readonly ownerOnly: boolean;
  /** The cas: names the object refers to (recorded in the index). */
  readonly refs: readonly string[];
}

interface Pending {
  /** undefined: the object was stored and intact already (nothing written). */
  tmp: string | undefined;
  digest: Digest;
  executable: boolean;
  ownerOnly: boolean;
  refs: readonly string[];
  written: Promise<void>;
}

/**
 * fsyncs at once, at most: each holds one of the thread pool's 4 threads while it waits on the
 * disk, and the writes and the reads ahead need threads meanwhile.
 */
const MAX_SYNCING = 2;

/** Runs at most `limit` jobs at once, in the order they were given. */
class Limiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((go) => this.waiting.push(go));
    this.running++;
    try {
      return await job();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/** How a batch writes its temp files; `direct` turns off for good at the first EINVAL. */
interface TempWriting {
  direct: boolean;
}

/** A new temp file for direct I/O: the bytes go from memory to the disk, never through the page cache. */
const DIRECT_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT;
/** Again through the page cache (a direct open that failed may have made the file already). */
const CACHED_AGAIN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

async function writeAll(fd: number, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length; ) {
    off += (await writeAsync(fd, bytes, off, bytes.length - off, off)).bytesWritten;
  }
}

/**
 * The one place an import writes an object's bytes, all on the thread pool: a new temp file made
 * (its mode is set when it is adopted; making it costs the file system a new inode, which need not
 * hold up the next object's rewrite), its bytes written and synced (through `syncs`), the
 * descriptor closed either way. `bytes` must not change until `wrote` settles; `synced` settles
 * once the file is synced and closed (or failed); `direct` tells whether the bytes went to the
 * disk with O_DIRECT.
 *
 * Bytes in page-aligned memory (util/page-memory.ts: the import reads files into it) are written
 * with O_DIRECT, padded with zeros to whole pages, and the file then cut to its length: copying
 * them into new page-cache pages instead was the largest cost of an import on a VM whose fresh
 * pages fault in the host (docs/benchmarks.md, "Importing ffmpeg's closure", session 8), and
 * the pages would be dropped after the import anyway (drop-cache.ts). The sync that follows makes
 * the file durable as it does a cached one. A file system that refuses O_DIRECT (EINVAL) gets the
 * file written through the page cache, and the batch's later files too.
 */
function writeTemp(
  path: string,
  bytes: Uint8Array,
  syncs: Limiter,
  how: TempWriting,
): { wrote: Promise<void>; synced: Promise<void>; direct: () => boolean } {
  let fd: number | undefined;
  let direct = false;
  const wrote = (async () => {
    const padded = how.direct ? pagePadded(bytes) : undefined;
    if (padded !== undefined) {
      try {
        fd = await openAsync(path, DIRECT_FLAGS, 0o600);
        // The padding is this buffer's own room (the pool lends whole buffers): zeros, not stale bytes.
        padded.fill(0, bytes.length);
        await writeAll(fd, padded);
        if (padded.length !== bytes.length) await ftruncateAsync(fd, bytes.length);
        direct = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        how.direct = false;
        if (fd !== undefined) {
          const f = fd;
          fd = undefined;
          await closeAsync(f);
        }
        fd = await openAsync(path, CACHED_AGAIN_FLAGS, 0o600);
      }
    }
    fd ??= await openAsync(path, 'wx', 0o600);
    await writeAll(fd, bytes);
  })();
  const synced = wrote
    .then(() => syncs.run(() => fsyncAsync(fd!)))
    .finally(() => (fd === undefined ? undefined : closeAsync(fd)));
  return { wrote, synced, direct: () => direct };
}

export class ObjectBatch {
  private readonly pending = new Map<string, Pending>();
  /** Writes not yet known to be finished, oldest first, with their sizes. */
  private inFlight: Array<{ wrote: Promise<void>; synced: Promise<void>; size: number }> = [];
  /** Bytes of the writes in flight not yet known to be written. */
  private bytesInFlight = 0;

  private readonly syncs = new Limiter(MAX_SYNCING);
  private readonly writing: TempWriting = { direct: true };
  /** Objects whose bytes went to the disk with O_DIRECT: they have no pages in the page cache. */
  private readonly direct = new Set<string>();

  constructor(private readonly store: LocalStore) {}

  /**
   * Hashes `bytes` (once) and writes them to tmp/; returns their digest. The object exists in
   * objects/ only after commit(). The same bytes twice make one object (executable if either is,
   * owner-only only if both are). `done`, when given, is called once the batch reads `bytes` no
   * more (their write settled, or nothing to write): their memory may then be reused, and what
   * was stored is what was hashed.
   */
  async add(bytes: Uint8Array, options: BatchPutOptions, done?: () => void): Promise<Digest> {
    const digest = digestOfBuffer(bytes);
    const key = digest.toString();
    const same = this.pending.get(key);
    if (same !== undefined) {
      same.executable ||= options.executable;
      same.ownerOnly &&= options.ownerOnly;
      // A stored object is widened now, as it was when first found.
      if (same.tmp === undefined) this.store.files.objects.hasIntact(digest, same);
      done?.();
      return digest;
    }
    for (;;) {
      // Writes finished release their bytes; syncs finished their descriptors.
      while (this.inFlight.length > 0 && this.inFlight.length >= MAX_IN_FLIGHT) {
        await this.inFlight.shift()!.synced;
      }
      if (this.bytesInFlight + bytes.length <= MAX_BYTES_IN_FLIGHT) break;
      const writing = this.inFlight.filter((w) => w.size > 0);
      if (writing.length === 0) break;
      // Its bytes are given back as it finishes (below).
      await writing[0]!.wrote;
    }
    // Stored and intact already (a re-import): nothing to write; its mode widened if need be.
    if (this.store.files.objects.hasIntact(digest, options)) {
      this.pending.set(key, { tmp: undefined, digest, ...options, written: Promise.resolve() });
      done?.();
      return digest;
    }
    const tmp = join(this.store.files.layout.tmp, `import-${process.pid}-${randomBytes(8).toString('hex')}`);
    const write = writeTemp(tmp, bytes, this.syncs, this.writing);
    // Awaited in commit() or discard() (a temp file that could not be made fails the commit);
    // marked handled so a failure meanwhile is not fatal.
    const written = write.synced;
    written.catch(() => {});
    this.pending.set(key, { tmp, digest, ...options, written });
    const entry = {
      wrote: write.wrote.catch(() => {}),
      synced: written.catch(() => {}),
      size: bytes.length,
    };
    // A finished write gives its bytes back at once, whoever waits next.
    void entry.wrote.then(() => {
      if (write.direct()) this.direct.add(key);
      this.bytesInFlight -= entry.size;
      entry.size = 0;
      done?.();
    });
    this.inFlight.push(entry);
    this.bytesInFlight += bytes.length;
    return digest;
  }

  /** Whether the object's bytes were written with O_DIRECT (so no page of it is cached). */
  wroteDirect(digest: Digest): boolean {
    return this.direct.has(digest.toString());
  }

  /** Every object renamed into objects/ (in the order added), objects/ synced once, then the index. */
  async commit(): Promise<void> {
    const items = [...this.pending.values()];
    const results = await Promise.allSettled(items.map((p) => p.written));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      this.removeTemps();
      throw ioErrorFrom(failed.reason, 'store an object in', this.store.root);
    }
    try {
      this.store.adoptAll(
        items.map((p) => ({
          tmp: p.tmp,
          digest: p.digest,
          options: { executable: p.executable, ownerOnly: p.ownerOnly, synced: true, refs: p.refs },
        })),
      );
    } catch (e) {
      this.removeTemps();
      throw e;
    }
    // Every temp file was renamed into objects/: none is left to remove.
    this.forget();
  }

  /** After a failure: waits for the writes in flight, then removes every temp file. */
  async discard(): Promise<void> {
    await Promise.allSettled([...this.pending.values()].map((p) => p.written));
    this.removeTemps();
  }

  private removeTemps(): void {
    for (const p of this.pending.values()) if (p.tmp !== undefined) rmSync(p.tmp, { force: true });
    this.forget();
  }

  /** The batch empty again. */
  private forget(): void {
    this.pending.clear();
    this.inFlight = [];
    this.bytesInFlight = 0;
  }
}

// A ClosureFs for importing: what the walk sees of each file is what the import rewrites.
// - Up to a memory budget, each regular file the walk looks at is read whole, once
//   (source-file.ts), every later look is served from those bytes, and the importer rewrites
//   that very buffer.
// - Past the budget (a closure of hundreds of megabytes), a file is opened once to fix its
//   identity and size, the walk's reads (header, program headers, dynamic table, strings) are
//   kept, and the importer's one full read must show the same identity, size and walked bytes,
//   or the import stops (CLOSURE_SOURCE_CHANGED).
// Either way a file that changes on disk meanwhile cannot slip a DT_NEEDED the walk never resolved
// into the store.
import { createHash, type Hash } from 'node:crypto';
import { closeSync } from 'node:fs';
import { isCaldError } from '../errors/index.js';
import { ClosureError } from './closure-error.js';
import { type ClosureFs, type ClosureStat, nodeFs } from './fs.js';
import {
  MAX_SOURCE_SIZE,
  type OwnMemory,
  openRegular,
  readAt,
  readOpened,
  readSource,
  readSourceAsync,
  type SourceFile,
  tooLarge,
} from './source-file.js';

/** Whole files kept in memory by one import, at most (ffmpeg's closure is 247 MB). */
export const SNAPSHOT_BUDGET = 64 * 1024 * 1024;

/** What the walk fixed about a file when it first opened it. */
export interface WalkedFile {
  path: string;
  dev: bigint;
  ino: bigint;
  size: number;
  /** st_mode permission bits (& 0o7777). */
  mode: number;
}

interface Walked extends WalkedFile {
  /** The whole file, when it fitted the budget. */
  whole: SourceFile | undefined;
  /**
   * Otherwise where the walk read (position, length) and the sha256 of those bytes in order: a
   * few bytes to keep, where the ranges themselves would pile up tens of megabytes.
   */
  ranges: Array<[position: number, length: number]>;
  walkedHash: Hash | undefined;
}

export class SnapshotFs implements ClosureFs {
  private readonly files = new Map<string, Walked>();
  /** Whole reads started by prefetch, not yet taken. */
  private readonly ahead = new Map<string, Promise<SourceFile>>();
  private kept = 0;

  /**
   * @param memory where whole files are read to (fresh memory by default; an import lends it from
   * a BufferPool and gives each file's back once its object is written)
   */
  constructor(
    private readonly maxFileSize: number = MAX_SOURCE_SIZE,
    private readonly budget: number = SNAPSHOT_BUDGET,
    private readonly memory?: OwnMemory,
  ) {}

  readFile(path: string): Buffer {
    return nodeFs.readFile(path);
  }

  readRange(path: string, position: number, length: number): Buffer {
    const w = this.load(path);
    if (w.whole !== undefined) {
      const b = w.whole.bytes;
      return b.subarray(Math.min(position, b.length), Math.min(position + length, b.length));
    }
    const { fd, st } = openRegular(path);
    try {
      if (st.dev !== w.dev || st.ino !== w.ino || Number(st.size) !== w.size) throw changed(path);
      const bytes = readAt(fd, w.size, position, length);
      w.ranges.push([position, bytes.length]);
      w.walkedHash ??= createHash('sha256');
      w.walkedHash.update(bytes);
      return bytes;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * A regular file is opened here, so its identity is that of the bytes the walk reads. A file
   * that cannot be opened is absent (as for ld.so); one that is too large stops the walk.
   */
  stat(path: string): ClosureStat | undefined {
    const st = nodeFs.stat(path);
    if (st === undefined || !st.isFile) return st;
    let w: Walked;
    try {
      w = this.load(path);
    } catch (e) {
      if (isCaldError(e)) throw e;
      return undefined;
    }
    return { dev: w.dev, ino: w.ino, isFile: true, isDirectory: false, size: w.size };
  }

  realpath(path: string): string {
    return nodeFs.realpath(path);
  }

  /** The identity and mode the walk found `path` with; undefined when the walk never read it. */
  walked(path: string): WalkedFile | undefined {
    const w = this.files.get(path);
    return w === undefined ? undefined : { path: w.path, dev: w.dev, ino: w.ino, size: w.size, mode: w.mode };
  }

  /**
   * The whole file as the walk saw it: the kept bytes, or one full read checked against the walk's
   * (same file, same size, every walked range the same). Undefined when the walk never read it.
   */
  source(path: string): SourceFile | undefined {
    const w = this.files.get(path);
    if (w === undefined) return undefined;
    if (w.whole !== undefined) return w.whole;
    return this.checked(w, readSource(path, this.maxFileSize, this.memory));
  }

  /**
   * Starts reading a file the walk did not keep whole on the thread pool, for sourceAsync to
   * take (a reader works on one file while the next is read). Nothing for other files.
   */
  prefetch(path: string): void {
    const w = this.files.get(path);
    if (w === undefined || w.whole !== undefined || this.ahead.has(path)) return;
    let p: Promise<SourceFile>;
    try {
      p = readSourceAsync(path, this.maxFileSize, this.memory);
    } catch {
      return; // sourceAsync reads it again and reports why it cannot
    }
    p.catch(() => {});
    this.ahead.set(path, p);
  }

  /** source(), taking the bytes of a prefetch when there is one (checked the same way). */
  async sourceAsync(path: string): Promise<SourceFile | undefined> {
    const p = this.ahead.get(path);
    const w = this.files.get(path);
    if (p === undefined || w === undefined) return this.source(path);
    this.ahead.delete(path);
    return this.checked(w, await p);
  }

  /** A whole read of a walked file, refused unless it is the file the walk read and the same bytes where it read. */
  private checked(w: Walked, f: SourceFile): SourceFile {
    const { path } = w;
    if (f.dev !== w.dev || f.ino !== w.ino || f.bytes.length !== w.size) throw changed(path);
    if (w.walkedHash !== undefined) {
      const again = createHash('sha256');
      for (const [position, length] of w.ranges) again.update(f.bytes.subarray(position, position + length));
      if (again.digest('hex') !== w.walkedHash.copy().digest('hex')) throw changed(path);
    }
    return f;
  }

  private load(path: string): Walked {
    let w = this.files.get(path);
    if (w !== undefined) return w;
    const { fd, st } = openRegular(path);
    try {
      if (st.size > BigInt(this.maxFileSize)) throw tooLarge(path, st.size, this.maxFileSize);
      const size = Number(st.size);
      const mode = Number(st.mode) & 0o7777;
      if (this.kept + size <= this.budget) {
        const whole = readOpened(path, fd, st, this.memory);
        this.kept += size;
        w = { path, dev: st.dev, ino: st.ino, size, mode, whole, ranges: [], walkedHash: undefined };
      } else {
        w = {
          path,
          dev: st.dev,
          ino: st.ino,
          size,
          mode,
          whole: undefined,
          ranges: [],
          walkedHash: undefined,
        };
      }
    } finally {
      closeSync(fd);
    }
    this.files.set(path, w);
    return w;
  }
}

function changed(path: string): ClosureError {
  return new ClosureError('CLOSURE_SOURCE_CHANGED', `${path} changed while it was being imported`, {
    hint: 'import it again once nothing is writing to it',
    data: { path },
  });
}

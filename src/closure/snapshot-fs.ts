// A ClosureFs for importing: each regular file the walk looks at is read whole, once
// (source-file.ts), and every later look at it is served from those bytes. The import then
// rewrites exactly the bytes the walk saw: a file that changes on disk meanwhile cannot slip a
// DT_NEEDED the walk never resolved into the store.
import { isCaldError } from '../errors/index.js';
import { type ClosureFs, type ClosureStat, nodeFs } from './fs.js';
import { MAX_SOURCE_SIZE, readSource, type SourceFile } from './source-file.js';

export class SnapshotFs implements ClosureFs {
  private readonly files = new Map<string, SourceFile>();

  constructor(private readonly maxFileSize: number = MAX_SOURCE_SIZE) {}

  readFile(path: string): Buffer {
    return nodeFs.readFile(path);
  }

  readRange(path: string, position: number, length: number): Buffer {
    const f = this.load(path);
    return f.bytes.subarray(Math.min(position, f.bytes.length), Math.min(position + length, f.bytes.length));
  }

  /**
   * A regular file is read here, so its identity is that of the bytes kept. A file that cannot be
   * opened is absent (as for ld.so); one that is too large or changes while read stops the walk.
   */
  stat(path: string): ClosureStat | undefined {
    const st = nodeFs.stat(path);
    if (st === undefined || !st.isFile) return st;
    let f: SourceFile;
    try {
      f = this.load(path);
    } catch (e) {
      if (isCaldError(e)) throw e;
      return undefined;
    }
    return { dev: f.dev, ino: f.ino, isFile: true, isDirectory: false, size: f.bytes.length };
  }

  realpath(path: string): string {
    return nodeFs.realpath(path);
  }

  /** The bytes read from `path` by the walk (undefined when the walk never read it). */
  source(path: string): SourceFile | undefined {
    return this.files.get(path);
  }

  private load(path: string): SourceFile {
    let f = this.files.get(path);
    if (f === undefined) {
      f = readSource(path, this.maxFileSize);
      this.files.set(path, f);
    }
    return f;
  }
}

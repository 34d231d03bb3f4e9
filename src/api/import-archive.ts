import { randomBytes } from 'node:crypto';
import { createReadStream, openSync, readFileSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { ioErrorFrom, RemoteError, StoreError } from '../errors/index.js';
import { objectRefs } from '../importer/cald-note.js';
import { type ArchivedClosure, readArchive } from '../remote/index.js';
import type { Env } from '../runtime/index.js';
import { acquireLease, createHasher, type Digest, type LocalStore } from '../store/index.js';
import { recordClosure, trustClosure } from './closure-receive.js';
import { openForWrite } from './store-open.js';

export interface ImportArchiveOptions {
  /** An archive file, or a stream (standard input). */
  input: string | Readable;
  store?: string;
  env?: Env;
  cwd?: string;
  /** Take closures that no trusted key signed (default: refused when cald.conf requires signatures). */
  allowUnsigned?: boolean;
  progress?: (done: number, total: number) => void;
}

export interface ImportArchiveReport {
  readonly input: string;
  readonly store: string;
  readonly programs: string[];
  readonly objects: number;
  readonly stored: number;
  readonly storedBytes: number;
  /** The trusted keys whose signatures were checked, one per closure; empty when not checked. */
  readonly signedBy: string[];
}

/**
 * Takes the closures of an archive made by `cald export` into the store, checked entry by entry:
 * the signatures before any object, then each object hashed as it streams into the store's tmp/
 * and stored only when its hash and size match. Names and roots come last, once every object of
 * a closure is in the store; an interrupted import leaves only whole objects.
 */
export async function importArchive(options: ImportArchiveOptions): Promise<ImportArchiveReport> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const source = typeof options.input === 'string' ? resolve(cwd, options.input) : 'standard input';
  const input = typeof options.input === 'string' ? openInput(source) : options.input;
  const { store } = await openForWrite({ store: options.store, env, cwd });
  const lease = acquireLease(store.root, { purpose: `import-archive ${source}` });
  let closures: readonly ArchivedClosure[] = [];
  const signedBy: string[] = [];
  let stored = 0;
  let storedBytes = 0;
  let done = 0;
  let total = 0;
  const settling = new Inflight(4);
  try {
    const read = await readArchive(readErrorsNamed(input, source), source, {
      async closures(list) {
        for (const c of list) {
          const by = await trustClosure({
            env,
            allowUnsigned: options.allowUnsigned,
            signatures: async () => c.signatures,
            program: c.closure.program,
            manifest: c.manifest,
            source: `${source}: the closure of ${c.closure.program}`,
          });
          if (by !== null) signedBy.push(by);
        }
        closures = list;
        const all = list.flatMap((c) => c.closure.objects.map((o) => o.digest));
        total = new Set(all.map((d) => d.hex)).size;
        lease.addTemporaryRoots(all);
      },
      async object(o, body) {
        if (store.files.objects.stat(o.digest) !== undefined) {
          for await (const _ of body);
          options.progress?.(++done, total);
          return;
        }
        const settle = await receiveObject(store, o.digest, o.executable, body, source);
        // Synced off the event loop while the next objects stream in, a few at a time.
        await settling.add(async () => {
          await settle();
          stored++;
          storedBytes += o.size;
          options.progress?.(++done, total);
        });
      },
    });
    await settling.drain();
    store.syncObjects();
    // Only closures whose every object is here now get names: a partial archive stores what it
    // holds, and says what is missing.
    for (const c of closures) {
      const missing = c.closure.objects.filter((o) => store.files.objects.stat(o.digest) === undefined);
      if (missing.length > 0) {
        throw new StoreError(
          'STORE_OBJECT_MISSING',
          `${source}: the closure of ${c.closure.program} lacks ${missing.length} object(s), e.g. ${missing[0]!.digest}`,
          {
            hint: 'export the program again with its whole closure; the objects that came are kept',
            data: { store: store.root },
          },
        );
      }
    }
    for (const c of closures) recordClosure(store, c.closure, `imported from the archive ${source}`);
    return {
      input: source,
      store: store.root,
      programs: closures.map((c) => c.closure.program),
      objects: read.objects,
      stored,
      storedBytes,
      signedBy,
    };
  } finally {
    await settling.drain().catch(() => {});
    lease.release();
    store.close();
    if (typeof options.input === 'string') input.destroy();
  }
}

/** At most `limit` tasks at once; the first failure is thrown by add() or drain(). */
class Inflight {
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;
  constructor(private readonly limit: number) {}

  async add(task: () => Promise<void>): Promise<void> {
    this.check();
    const p: Promise<void> = task()
      .catch((e) => {
        this.failure ??= e;
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.check();
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    this.check();
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/** The input's chunks; a read that fails is one I/O error naming the archive. */
async function* readErrorsNamed(input: Readable, source: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of input) yield chunk as Buffer;
  } catch (e) {
    throw ioErrorFrom(e, 'read', source);
  }
}

function openInput(path: string): Readable {
  let fd: number;
  try {
    // Opened now, so a missing file is one I/O line rather than a stream error later.
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioErrorFrom(e, 'read', path);
  }
  return createReadStream(path, { fd, highWaterMark: 1024 * 1024 });
}

/**
 * Streams an object's bytes into tmp/ while hashing them, refusing them unless they match; what
 * it returns syncs the file and stores it by rename (run while the next object streams in).
 */
async function receiveObject(
  store: LocalStore,
  digest: Digest,
  executable: boolean,
  body: AsyncIterable<Buffer>,
  source: string,
): Promise<() => Promise<void>> {
  const tmp = join(store.files.layout.tmp, `archive-${process.pid}-${randomBytes(8).toString('hex')}`);
  let file: FileHandle | undefined;
  try {
    file = await open(tmp, 'wx', 0o600);
    const hasher = createHasher(digest.algorithm);
    for await (const chunk of body) {
      hasher.update(chunk);
      await file.write(chunk);
    }
    const actual = hasher.digest();
    if (!actual.equals(digest)) {
      throw new RemoteError(
        'REMOTE_DIGEST_MISMATCH',
        `${source}: objects/sha256/${digest.hex} hashes to ${actual}`,
        {
          hint: 'the archive is damaged or was altered; nothing of this object was stored',
          data: { remote: source, digest: digest.toString(), actual: actual.toString() },
        },
      );
    }
  } catch (e) {
    await file?.close();
    rmSync(tmp, { force: true });
    throw e;
  }
  const written = file;
  return async () => {
    try {
      try {
        await written.sync();
      } finally {
        await written.close();
      }
      store.adopt(tmp, digest, {
        executable,
        synced: true,
        syncDir: false,
        refs: objectRefs(readFileSync(tmp)),
      });
    } finally {
      rmSync(tmp, { force: true });
    }
  };
}

import { chmodSync, lstatSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { IoError, isCaldError, UsageError } from '../errors/index.js';
import { type ClosureRemote, loadRemoteConfig, openRemote } from '../remote/index.js';
import type { Env } from '../runtime/index.js';
import { acquireLease, Digest, type IndexRow, type Lease, readAll } from '../store/index.js';
import { makeDirs } from '../util/make-dirs.js';
import { fetchMissingObject, neededOf } from './fetch-object.js';
import { locate, openForWrite } from './store-open.js';

/** `<store>/run/fetch.sock`: where the resolver asks for missing objects (native/fetch.h). */
export const FETCH_SOCKET = join('run', 'fetch.sock');
/** A request is `fetch sha256:<64 hex>\n`; anything longer is not one. */
const MAX_LINE = 128;
/** Objects prefetched at once. */
const PREFETCH = 4;
/** Index rows written at once at most (see flushIndex). */
const INDEX_BATCH = 32;
/** How long the store lease outlives the last fetch of a burst. */
const LEASE_LINGER_MS = 250;

export interface FetchDaemonOptions {
  store?: string;
  env?: Env;
  cwd?: string;
  /** Remotes to fetch from, in order (default: substituters of cald.conf / CALD_SUBSTITUTERS). */
  substituters?: readonly string[];
  /** Fetch the DT_NEEDED objects of each object fetched before they are asked for (default true). */
  prefetch?: boolean;
  /** One line per request answered, for the daemon's own log. */
  log?: (line: string) => void;
}

export interface FetchDaemon {
  readonly socket: string;
  readonly store: string;
  readonly substituters: readonly string[];
  close(): Promise<void>;
}

/** Is something already answering on this socket? */
function answering(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Serves lazy fetch for one store (docs/resolver.md, "Lazy fetch"): listens on
 * `<store>/run/fetch.sock` (mode 0600, in a 0700 directory), answers each `fetch sha256:<hex>`
 * line with `ok` once the object is in the store, verified, or `error <why>`. Objects are
 * fetched from the substituters in order, exactly as `cald pull` fetches them; concurrent
 * requests for one object share one download; HTTP connections are kept alive between requests.
 */
export async function startFetchDaemon(options: FetchDaemonOptions = {}): Promise<FetchDaemon> {
  const env = options.env ?? process.env;
  const urls = options.substituters ?? loadRemoteConfig(env).substituters;
  if (urls.length === 0) {
    throw new UsageError('fetch-daemon: no substituters to fetch from', {
      hint: 'set substituters in cald.conf, or CALD_SUBSTITUTERS="http://HOST:PORT oci://HOST/REPO"',
    });
  }
  const remotes: ClosureRemote[] = urls.map((u) => openRemote(u, env));
  const location = locate({
    ...(options.store === undefined ? {} : { store: options.store }),
    env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const { store } = await openForWrite({ store: location.path, env });
  const runDir = join(store.root, 'run');
  const socket = join(store.root, FETCH_SOCKET);
  if (Buffer.byteLength(socket) > 107) {
    store.close();
    throw new UsageError(`fetch-daemon: ${socket} is longer than a unix socket address allows (107 bytes)`, {
      hint: 'use a store with a shorter path',
    });
  }
  try {
    makeDirs(runDir, 0o700);
    chmodSync(runDir, 0o700);
    if (lstatSync(socket, { throwIfNoEntry: false }) !== undefined) {
      if (await answering(socket)) {
        throw new UsageError(`fetch-daemon: another daemon already answers on ${socket}`);
      }
      rmSync(socket, { force: true }); // left by a daemon that was killed
    }
  } catch (e) {
    store.close();
    if (isCaldError(e)) throw e;
    throw new IoError('IO_FAILED', `fetch-daemon: cannot prepare ${runDir}: ${(e as Error).message}`);
  }

  const inFlight = new Map<string, Promise<void>>();
  // One store lease for a burst of fetches: taken when the first starts, released once none has
  // been in flight for LEASE_LINGER_MS (the loader asks for the next library a few ms after the
  // last arrived), so a daemon left running never blocks gc for long. gc never sweeps beside a
  // live lease (it waits for every lease to end, store/lock.ts), so an object fetched in a burst
  // is kept at least until the burst ends, and by then the resolver that asked for it has it
  // open. A lease file made and removed per object cost more than the object's download
  // (docs/benchmarks.md).
  let lease: Lease | undefined;
  let active = 0;
  let lingering: NodeJS.Timeout | undefined;
  const releaseLease = () => {
    clearTimeout(lingering);
    lingering = undefined;
    lease?.release();
    lease = undefined;
  };
  // The index rows of a burst's objects, written in one transaction when the burst ends (or
  // INDEX_BATCH are waiting): one transaction per object cost ~0.4 ms of the daemon's one thread.
  // A crash may leave them out of the index (`cald index rebuild` catches it up); gc reads
  // references from the objects' bytes too (store/gc.ts).
  const rows: IndexRow[] = [];
  const flushIndex = () => {
    if (rows.length > 0) store.indexObjects(rows.splice(0));
  };
  const leased = async <T>(work: () => Promise<T>): Promise<T> => {
    clearTimeout(lingering);
    lingering = undefined;
    lease ??= acquireLease(store.root, { purpose: 'fetch-daemon' });
    active++;
    try {
      return await work();
    } finally {
      if (--active === 0 || rows.length >= INDEX_BATCH) flushIndex();
      if (active === 0) lingering = setTimeout(releaseLease, LEASE_LINGER_MS);
    }
  };
  // Prefetch: the DT_NEEDED objects of an object just fetched are what the loader asks for next
  // (every one of them is loaded), so they are fetched meanwhile, PREFETCH at a time. A failure
  // there is only logged: the resolver's own request for that object reports it.
  let prefetching = 0;
  const queue: Digest[] = [];
  const pump = () => {
    while (prefetching < PREFETCH && queue.length > 0) {
      const d = queue.shift()!;
      if (inFlight.has(d.toString())) continue;
      prefetching++;
      fetchOnce(d)
        .catch(() => undefined)
        .finally(() => {
          prefetching--;
          pump();
        });
    }
  };
  const fetchOnce = (digest: Digest): Promise<void> => {
    const key = digest.toString();
    let p = inFlight.get(key);
    if (p === undefined) {
      p = (async () => {
        if (await store.has(digest)) return;
        const { from, needed } = await leased(() => fetchMissingObject(store, remotes, digest, rows));
        options.log?.(`fetched ${key} from ${from}`);
        if (options.prefetch !== false) {
          queue.push(...needed);
          pump();
        }
      })().finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  };

  const answer = async (line: string): Promise<string> => {
    const p = /^prefetch (sha256:[0-9a-f]{64})$/.exec(line);
    if (p !== null) {
      // `cald run` about to start a program some of whose libraries are absent: fetch its
      // DT_NEEDED now, in parallel, rather than one by one as the loader asks.
      const program = Digest.tryParse(p[1]!);
      if (program === undefined || !(await store.has(program))) return 'error not in the store';
      try {
        queue.push(...neededOf(await readAll(store, program)));
      } catch (e) {
        return `error ${(e instanceof Error ? e.message : String(e)).replace(/[\r\n]+/g, ' ')}`;
      }
      pump();
      return 'ok';
    }
    const m = /^fetch (sha256:[0-9a-f]{64})$/.exec(line);
    const digest = m === null ? undefined : Digest.tryParse(m[1]!);
    if (digest === undefined) return 'error not a request: expected fetch sha256:<64 lowercase hex>';
    try {
      await fetchOnce(digest);
      return 'ok';
    } catch (e) {
      const why = (e instanceof Error ? e.message : String(e)).replace(/[\r\n]+/g, ' ');
      options.log?.(`cannot fetch ${digest}: ${why}`);
      return `error ${why}`;
    }
  };

  const sockets = new Set<Socket>();
  const server: Server = createServer((conn) => {
    sockets.add(conn);
    conn.on('close', () => sockets.delete(conn));
    conn.on('error', () => conn.destroy());
    let buf = '';
    let chain = Promise.resolve(); // answers on one connection go out in request order
    conn.on('data', (d) => {
      buf += d.toString('latin1');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const reply = answer(line);
        chain = chain.then(async () => {
          const text = await reply;
          if (conn.writable) conn.write(`${text}\n`);
        });
      }
      if (buf.length > MAX_LINE) {
        conn.end('error request line too long\n');
        buf = '';
      }
    });
  });
  // Made 0600 from the start: nobody else may ask this daemon to write into the store.
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => resolve());
    });
  } catch (e) {
    store.close();
    throw new IoError('IO_FAILED', `fetch-daemon: cannot listen on ${socket}: ${(e as Error).message}`);
  } finally {
    process.umask(oldMask);
  }
  chmodSync(socket, 0o600);
  return {
    socket,
    store: store.root,
    substituters: remotes.map((r) => r.name),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          flushIndex();
          releaseLease();
          rmSync(socket, { force: true });
          store.close();
          resolve();
        });
        for (const s of sockets) s.destroy();
      }),
  };
}

import { existsSync, lstatSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ElfFile } from '../elf/read/index.js';
import { isCaldError, RemoteError } from '../errors/index.js';
import { objectRefs } from '../importer/cald-note.js';
import { asArrivalError, type ClosureRemote, loadRemoteConfig, openRemote } from '../remote/index.js';
import {
  acquireLease,
  Digest,
  type IndexRow,
  type LocalStore,
  readAll,
  tryParseCasName,
} from '../store/index.js';
import { openForWrite } from './store-open.js';

/**
 * Fetches one object from a remote into the local store through the Store interface: the
 * remote's `read` (one request; its size held to as it arrives) streamed into the store's `put`
 * with the expected digest (hashed as written to tmp/, renamed into objects/ only when whole and
 * right, the file synced first, so nothing torn is ever visible; its references recorded in the
 * index). A remote does not carry the file mode a closure manifest records, so the first bytes
 * decide it: an ELF object is stored executable (a stored loader or a program must be runnable,
 * and a library loses nothing by it). Returns the objects it refers to (its DT_NEEDED among them:
 * what the loader asks for next), as the put found them; undefined when the remote does not have it.
 */
export async function fetchObjectInto(
  store: LocalStore,
  remote: ClosureRemote,
  digest: Digest,
  /**
   * syncDir false: the caller syncs the objects directory (or need not: see fetchMissingObject).
   * indexLater: the object's index rows are left there for the caller to write with others.
   */
  options: { syncDir: boolean; indexLater?: IndexRow[] | undefined },
): Promise<{ needed: Digest[] } | undefined> {
  // Hashed once, by the put (which keeps nothing that does not hash to `digest`).
  // transient: the put copies each chunk before it asks for the next (the first is looked at
  // below before the put asks for the second).
  const source = remote.read(digest, { checkedByCaller: true, transient: true })[Symbol.asyncIterator]();
  let head: IteratorResult<Uint8Array>;
  try {
    head = await source.next();
  } catch (e) {
    if (e instanceof RemoteError && e.code === 'REMOTE_NOT_FOUND') return undefined;
    throw e;
  }
  const first = head.done === true ? new Uint8Array(0) : head.value;
  // A first chunk shorter than the ELF magic is possible in principle; the object is then stored
  // as a plain file, as from a closure manifest that says so.
  const elf =
    first.byteLength >= 4 && first[0] === 0x7f && first[1] === 0x45 && first[2] === 0x4c && first[3] === 0x46;
  const all = async function* (): AsyncGenerator<Uint8Array> {
    for (let step = head; step.done !== true; step = await source.next()) yield step.value;
  };
  const rows: IndexRow[] = [];
  try {
    await store.put(all(), { expect: digest, executable: elf, syncDir: options.syncDir, indexLater: rows });
  } catch (e) {
    throw asArrivalError(remote, digest, e);
  } finally {
    await source.return?.(undefined); // the remote's answer released, however the put ended
  }
  if (options.indexLater === undefined) store.indexObjects(rows);
  else options.indexLater.push(...rows);
  const refs = rows[0]?.refs ?? [];
  return { needed: refs.map((r) => tryParseCasName(r)?.digest).filter((d): d is Digest => d !== undefined) };
}

/** The objects an ELF object's DT_NEEDED names by content: what the loader will ask for next. */
export function neededOf(bytes: Buffer): Digest[] {
  try {
    return ElfFile.parse(bytes)
      .needed.map((n) => tryParseCasName(n)?.digest)
      .filter((d): d is Digest => d !== undefined);
  } catch {
    return [];
  }
}

/**
 * Fetches one object the store lacks from the first of `remotes` that has it (lazy fetch: the
 * fetch daemon, `cald run`). A remote does not carry the file mode a closure manifest records,
 * so a fetched ELF object is stored executable: a stored loader or a program must be runnable,
 * and a library loses nothing by it. Returns the remote it came from; RemoteError (one line)
 * when none has it or all failed.
 */
export async function fetchMissingObject(
  store: LocalStore,
  remotes: readonly ClosureRemote[],
  digest: Digest,
  /** Leave the object's index rows here (the fetch daemon writes a burst's rows at once). */
  indexLater?: IndexRow[],
): Promise<{ from: string; needed: Digest[] }> {
  if (remotes.length === 0) {
    throw new RemoteError('REMOTE_NOT_FOUND', `no substituters are configured to fetch ${digest} from`, {
      hint: 'set substituters in cald.conf or CALD_SUBSTITUTERS',
      data: { digest: digest.toString() },
    });
  }
  const failures: string[] = [];
  const errors: unknown[] = [];
  for (const remote of remotes) {
    try {
      // The file is synced before its rename; the directory is not: nothing names the object,
      // so after a crash it is either there, whole, or absent and fetched again.
      const got = await fetchObjectInto(store, remote, digest, { syncDir: false, indexLater });
      if (got === undefined) {
        failures.push(`${remote.name}: not there`);
        continue;
      }
      return { from: remote.name, needed: got.needed };
    } catch (e) {
      failures.push(isCaldError(e) || e instanceof Error ? e.message : String(e));
      errors.push(e);
    }
  }
  // One remote that failed: its own error, with its code and hint (a stalled or refused answer).
  if (remotes.length === 1 && errors.length === 1 && isCaldError(errors[0])) throw errors[0];
  const hint = errors.map((e) => (isCaldError(e) ? e.hint : undefined)).find((h) => h !== undefined);
  throw new RemoteError('REMOTE_NOT_FOUND', `cannot fetch ${digest}: ${failures.join('; ')}`, {
    hint: hint ?? 'check the substituters (cald.conf or CALD_SUBSTITUTERS), or import the program here',
    data: { digest: digest.toString() },
  });
}

/**
 * The loader a program's cald note names (its `cas:` ref that is not a DT_NEEDED): the launcher
 * executes it rather than asking the resolver for it, so lazy fetch brings it with the program.
 */
export async function notedLoader(store: LocalStore, program: Digest): Promise<string | undefined> {
  const bytes = await readAll(store, program);
  let needed: Set<string>;
  try {
    needed = new Set(ElfFile.parse(bytes).needed);
  } catch {
    return undefined;
  }
  return objectRefs(bytes).find((r) => !needed.has(r) && !r.includes('?'));
}

/**
 * `cald run cas:sha256:<hex>` (or `sha256:<hex>`) of a program the store lacks, with substituters
 * configured: fetches the program object, and the loader its note names, before it is started;
 * its libraries then come through the fetch daemon as the loader asks for them. No closure
 * signature is needed: the user named the program by its hash, and that is what is checked.
 * Does nothing for other references, a program already there, or no substituters.
 */
export async function fetchProgramIfAbsent(
  reference: string,
  storePath: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  const digest = reference.startsWith('cas:')
    ? tryParseCasName(reference)?.digest
    : Digest.tryParse(reference);
  // Present (the usual case): not even the configuration is read.
  if (digest === undefined || existsSync(join(storePath, 'objects', digest.algorithm, digest.hex))) return;
  const urls = loadRemoteConfig(env).substituters;
  if (urls.length === 0) return;
  const { store } = await openForWrite({ store: storePath, env });
  try {
    if (await store.has(digest)) return;
    const remotes = urls.map((u) => openRemote(u, env));
    const lease = acquireLease(store.root, { purpose: `run ${digest}` });
    try {
      lease.addTemporaryRoots([digest]);
      await fetchMissingObject(store, remotes, digest);
      const loader = tryParseCasName((await notedLoader(store, digest)) ?? '')?.digest;
      if (loader !== undefined && !(await store.has(loader))) {
        lease.addTemporaryRoots([digest, loader]);
        // Without it the program starts with the host's loader (docs/running.md), as after an
        // import whose loader is gone: not a reason to refuse.
        await fetchMissingObject(store, remotes, loader).catch(() => undefined);
      }
    } finally {
      lease.release();
    }
  } finally {
    store.close();
  }
}

/**
 * Asks the store's fetch daemon, if one is listening, to fetch a program's DT_NEEDED objects at
 * once (`prefetch sha256:<hex>`), when some are absent: `cald run` does this just before it starts
 * the program, so they arrive in parallel rather than one by one as the loader asks. Does not wait
 * for the answer; the resolver still asks for (and verifies) each object it needs.
 */
export function askPrefetch(storePath: string, program: Digest, needed: readonly string[]): void {
  const absent = needed.some((n) => {
    const d = tryParseCasName(n)?.digest;
    return d !== undefined && !existsSync(join(storePath, 'objects', d.algorithm, d.hex));
  });
  const socket = join(storePath, 'run', 'fetch.sock');
  if (!absent) return;
  // Only a socket the resolver would ask too (native/fetch.h): ours or root's, 0600-like.
  const st = lstatSync(socket, { throwIfNoEntry: false });
  const me = process.geteuid?.() ?? 0;
  if (st === undefined || !st.isSocket() || (st.uid !== me && st.uid !== 0) || (st.mode & 0o022) !== 0)
    return;
  const c = connect(socket);
  c.on('error', () => undefined);
  c.end(`prefetch ${program}\n`);
  c.unref();
}

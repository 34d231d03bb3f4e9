import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ElfFile } from '../elf/read/index.js';
import { isCaldError, RemoteError } from '../errors/index.js';
import { objectRefs } from '../importer/cald-note.js';
import { type ClosureRemote, loadRemoteConfig, openRemote } from '../remote/index.js';
import { acquireLease, Digest, LocalStore, tryParseCasName } from '../store/index.js';

/**
 * Streams one object from a remote into the store's tmp/, checking its size and digest as it
 * arrives, then stores it by renaming (pull and lazy fetch share this). Nothing is visible in
 * objects/ unless whole and verified; the temporary file is removed however this ends. The
 * objects directory is synced by the caller when `syncDir` is false (pull: once for all).
 */
export async function fetchObjectInto(
  store: LocalStore,
  remote: ClosureRemote,
  digest: Digest,
  /** The size the closure gives, or 'from-answer' (lazy fetch: undefined when the remote lacks it). */
  size: number | 'from-answer',
  /** 'elf': executable when the bytes are an ELF file (a remote does not carry the mode). */
  options: { executable: boolean | 'elf'; syncDir: boolean },
): Promise<{ needed: Digest[] } | undefined> {
  const tmp = join(store.files.layout.tmp, `pull-${process.pid}-${randomBytes(8).toString('hex')}`);
  const file = await open(tmp, 'wx', 0o600);
  try {
    try {
      if (size === 'from-answer') {
        // One round trip (an HTTP cache); a remote without it is asked for the size first.
        const got =
          remote.readObjectAnySize !== undefined
            ? await remote.readObjectAnySize(digest, file.fd, MAX_OBJECT)
            : await sizeThenRead(remote, digest, file.fd);
        if (got === undefined) return undefined;
      } else await remote.readObjectInto(digest, size, file.fd);
      // Synced off the event loop, so other downloads go on meanwhile.
      await file.sync();
    } finally {
      await file.close();
    }
    // Hashed as it arrived: stored by renaming, not copied and hashed again.
    const bytes = readFileSync(tmp);
    const elf = bytes.length >= 4 && bytes[0] === 0x7f && bytes.toString('latin1', 1, 4) === 'ELF';
    store.adopt(tmp, digest, {
      executable: options.executable === 'elf' ? elf : options.executable,
      synced: true,
      syncDir: options.syncDir,
      refs: objectRefs(bytes),
    });
    return { needed: neededOf(bytes) };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** No object is larger (a hostile server's declared size is refused above it). */
const MAX_OBJECT = 4 * 1024 * 1024 * 1024;

async function sizeThenRead(remote: ClosureRemote, digest: Digest, fd: number): Promise<number | undefined> {
  const size = await remote.objectSize(digest);
  if (size === undefined) return undefined;
  await remote.readObjectInto(digest, size, fd);
  return size;
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
): Promise<{ from: string; needed: Digest[] }> {
  if (remotes.length === 0) {
    throw new RemoteError('REMOTE_NOT_FOUND', `no substituters are configured to fetch ${digest} from`, {
      hint: 'set substituters in cald.conf or CALD_SUBSTITUTERS',
      data: { digest: digest.toString() },
    });
  }
  const failures: string[] = [];
  for (const remote of remotes) {
    try {
      // The file is synced before its rename; the directory is not: nothing names the object,
      // so after a crash it is either there, whole, or absent and fetched again.
      const got = await fetchObjectInto(store, remote, digest, 'from-answer', {
        executable: 'elf',
        syncDir: false,
      });
      if (got === undefined) {
        failures.push(`${remote.name}: not there`);
        continue;
      }
      return { from: remote.name, needed: got.needed };
    } catch (e) {
      failures.push(isCaldError(e) || e instanceof Error ? e.message : String(e));
    }
  }
  throw new RemoteError('REMOTE_NOT_FOUND', `cannot fetch ${digest}: ${failures.join('; ')}`, {
    data: { digest: digest.toString() },
  });
}

/**
 * The loader a program's cald note names (its `cas:` ref that is not a DT_NEEDED): the launcher
 * executes it rather than asking the resolver for it, so lazy fetch brings it with the program.
 */
export function notedLoader(store: LocalStore, program: Digest): string | undefined {
  const bytes = readFileSync(store.files.pathOf(program));
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
  const store = await LocalStore.open({ path: storePath, create: true, extractRefs: objectRefs });
  try {
    if (store.files.objects.stat(digest) !== undefined) return;
    const remotes = urls.map((u) => openRemote(u, env));
    const lease = acquireLease(store.root, { purpose: `run ${digest}` });
    try {
      lease.addTemporaryRoots([digest]);
      await fetchMissingObject(store, remotes, digest);
      const loader = tryParseCasName(notedLoader(store, digest) ?? '')?.digest;
      if (loader !== undefined && store.files.objects.stat(loader) === undefined) {
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

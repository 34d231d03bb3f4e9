import { RemoteError, UsageError } from '../errors/index.js';
import {
  asArrivalError,
  type ClosureRemote,
  decodeClosureManifest,
  decodeSignatures,
  isOciTag,
  loadRemoteConfig,
  openRemote,
  type Signature,
  signatureTag,
} from '../remote/index.js';
import type { Env } from '../runtime/index.js';
import { acquireLease, Digest, type IndexRow, tryParseCasName } from '../store/index.js';
import { eachLimited } from '../util/each-limited.js';
import { recordClosure, trustClosure } from './closure-receive.js';
import { notedLoader } from './fetch-object.js';
import { digestTag } from './push.js';
import { openForWrite } from './store-open.js';

export interface PullOptions {
  /**
   * `oci://host[:port]/repository` or `http(s)://host/path` (an HTTP cache); by default the
   * substituters of cald.conf (CALD_SUBSTITUTERS), asked in order.
   */
  remote?: string | undefined;
  /** A tag, a program's `cas:` URI or its `sha256:` digest. */
  reference: string;
  store?: string;
  env?: Env;
  cwd?: string;
  /** Take a closure that no trusted key signed (default: refused, unless cald.conf says otherwise). */
  allowUnsigned?: boolean;
  /** Downloads at once (default 4). */
  concurrency?: number;
  progress?: (done: number, total: number) => void;
  /**
   * Fetch only the program object (and its stored loader, which is executed, not loaded); the
   * libraries are fetched when the loader asks for them (`cald fetch-daemon`, docs/resolver.md).
   */
  lazy?: boolean;
}

export interface PullReport {
  readonly remote: string;
  readonly reference: string;
  readonly program: string;
  readonly manifest: string;
  readonly store: string;
  readonly objects: number;
  readonly fetched: number;
  readonly fetchedBytes: number;
  /** The trusted key whose signature was checked; null when unsigned closures were allowed. */
  readonly signedBy: string | null;
}

/** The closure's signatures, fetched only when cald.conf requires them. */
async function signaturesOf(registry: ClosureRemote, manifest: Digest): Promise<Signature[]> {
  return decodeSignatures((await registry.getManifest(signatureTag(manifest)))?.bytes);
}

/**
 * The tag to ask for: a tag as given, or `sha256-<hex>` for a program named by content, whose
 * digest the closure must then be of.
 */
function tagOf(reference: string): { tag: string; program: Digest | undefined } {
  if (reference.startsWith('cas:')) {
    const cas = tryParseCasName(reference);
    if (cas === undefined) throw new UsageError(`${reference}: not a valid cas: name`);
    return { tag: digestTag(cas.digest), program: cas.digest };
  }
  const digest = Digest.tryParse(reference);
  if (digest !== undefined) return { tag: digestTag(digest), program: digest };
  if (!isOciTag(reference)) throw new UsageError(`${reference}: not a tag, a cas: URI or a sha256: digest`);
  return { tag: reference, program: undefined };
}

/**
 * The first of `remotes` that has the tag, with its manifest. A remote that cannot be reached is
 * passed over when there are others (said in the error if none has it); with one remote its own
 * error is the error.
 */
async function findManifest(
  remotes: readonly string[],
  tag: string,
  reference: string,
  env: Env,
): Promise<{ registry: ClosureRemote; fetched: { bytes: Buffer; digest: Digest } }> {
  if (remotes.length === 0) {
    throw new UsageError('pull: no remote given, and none configured', {
      hint: 'cald pull REMOTE REFERENCE, or list them in substituters of cald.conf (or CALD_SUBSTITUTERS; docs/distribution.md)',
    });
  }
  const tried: string[] = [];
  for (const r of remotes) {
    const registry = openRemote(r, env);
    let fetched: { bytes: Buffer; digest: Digest } | undefined;
    try {
      fetched = await registry.getManifest(tag);
    } catch (e) {
      if (remotes.length === 1 || !(e instanceof RemoteError)) throw e;
      tried.push(`${registry.name}: ${e.message}`);
      continue;
    }
    if (fetched !== undefined) return { registry, fetched };
    if (remotes.length === 1) {
      throw new RemoteError('REMOTE_NOT_FOUND', `${registry.name} has no ${tag}`, {
        hint: `cald push ${registry.name} PROGRAM first, or check the tag`,
        data: { remote: registry.name, reference },
      });
    }
    tried.push(`${registry.name} has no ${tag}`);
  }
  throw new RemoteError('REMOTE_NOT_FOUND', `no configured remote has ${tag} (${tried.join('; ')})`, {
    hint: 'push it to one of them first, or check the tag',
    data: { remotes: [...remotes], reference },
  });
}

/**
 * Pulls a program's closure from a remote (an OCI registry, an HTTP cache) into the local store: only the objects the store
 * lacks are fetched, each streamed into the store's tmp/ while its digest and size are checked,
 * and stored only when both match; then names and a root for the program, as an import makes.
 * An interrupted pull leaves only whole objects: the next one fetches what is still missing.
 */
export async function pull(options: PullOptions): Promise<PullReport> {
  const env = options.env ?? process.env;
  const { tag, program: wanted } = tagOf(options.reference);
  const config = loadRemoteConfig(env);
  const { registry, fetched } = await findManifest(
    options.remote === undefined ? config.substituters : [options.remote],
    tag,
    options.reference,
    env,
  );
  const closure = decodeClosureManifest(fetched.bytes, `${registry.name}:${tag}`);
  const sources: ClosureRemote[] = [
    registry,
    ...(options.remote === undefined ? config.substituters : [])
      .map((r) => openRemote(r, env))
      .filter((r) => r.name !== registry.name),
  ];
  if (wanted !== undefined && !closure.objects[0]!.digest.equals(wanted)) {
    throw new RemoteError(
      'REMOTE_BAD_MANIFEST',
      `${registry.name}:${tag} is the closure of ${closure.program}, not of ${wanted}`,
      {
        data: { remote: registry.name },
      },
    );
  }
  // Trust before any byte of an object is fetched (docs/distribution.md, "Signatures").
  const signedBy = await trustClosure({
    env,
    allowUnsigned: options.allowUnsigned,
    signatures: () => signaturesOf(registry, fetched.digest),
    program: closure.program,
    manifest: fetched.digest,
    source: `${registry.name}:${tag}`,
  });
  const { store } = await openForWrite({
    store: options.store,
    env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const lease = acquireLease(store.root, { purpose: `pull ${closure.program}` });
  let fetchedCount = 0;
  let fetchedBytes = 0;
  let done = 0;
  try {
    lease.addTemporaryRoots(closure.objects.map((o) => o.digest));
    const rows: IndexRow[] = [];
    // Lazy: the program alone, then the loader it names; the libraries come at load time.
    let wantedNow = options.lazy === true ? closure.objects.slice(0, 1) : closure.objects;
    const fetchAll = () =>
      eachLimited(wantedNow, options.concurrency ?? 4, async (o) => {
        if (!(await store.has(o.digest))) {
          // Streamed into the store's tmp/, hashed as it arrives (once: by the store's writer, the
          // remote's reader holding only the size), renamed into objects/ only when whole and
          // right; the directory is synced once for all of them, before the index rows and any
          // name or root point at them. From the remote that had the manifest; an object it
          // lacks, from the other configured remotes in order (a store put that fails keeps
          // nothing, so trying again is safe).
          for (const [i, source] of sources.entries()) {
            try {
              // transient: the local store's put copies each chunk before it asks for the next.
              const read = source.read(o.digest, { size: o.size, checkedByCaller: true, transient: true });
              await store.put(read, {
                expect: o.digest,
                executable: o.executable,
                syncDir: false,
                indexLater: rows,
              });
              break;
            } catch (e) {
              if (!(e instanceof RemoteError && e.code === 'REMOTE_NOT_FOUND') || i === sources.length - 1)
                throw asArrivalError(source, o.digest, e);
            }
          }
          fetchedCount++;
          fetchedBytes += o.size;
        }
        options.progress?.(++done, wantedNow.length);
      });
    try {
      await fetchAll();
      if (options.lazy === true) {
        const loader = await notedLoader(store, closure.objects[0]!.digest);
        wantedNow = closure.objects.filter((o) => `cas:${o.digest}` === loader);
        done = 0;
        await fetchAll();
      }
    } finally {
      // What arrived, made durable, then indexed in one transaction: also when a download failed
      // (eachLimited lets the others settle first), so the next pull finds those objects indexed.
      store.syncObjects();
      store.indexObjects(rows);
    }
    recordClosure(store, closure, `pulled from ${registry.name}:${tag}`);
    return {
      remote: registry.name,
      reference: options.reference,
      program: closure.program,
      manifest: fetched.digest.toString(),
      store: store.root,
      objects: closure.objects.length,
      fetched: fetchedCount,
      fetchedBytes,
      signedBy,
    };
  } finally {
    lease.release();
    store.close();
  }
}

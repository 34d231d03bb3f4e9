import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { StoreError, UsageError } from '../errors/index.js';
import { objectRefs } from '../importer/cald-note.js';
import {
  type ClosureObject,
  type ClosureRemote,
  decodeSignatures,
  EMPTY_CONFIG,
  EMPTY_CONFIG_BYTES,
  encodeClosureManifest,
  encodeSignatures,
  isOciTag,
  loadRemoteConfig,
  manifestDigest,
  openRemote,
  signatureTag,
  signClosure,
} from '../remote/index.js';
import { type Env, resolveTarget } from '../runtime/index.js';
import { copyObject, Digest, type FileStore, formatCasName, tryParseCasName } from '../store/index.js';
import { eachLimited } from '../util/each-limited.js';
import { secretKeyFromFile } from './keys.js';
import { openFiles } from './store-open.js';

export interface PushOptions {
  /** `oci://host[:port]/repository` or `http(s)://host/path` (an HTTP cache). */
  remote: string;
  /** PROGRAM|URI, as for run. */
  program: string;
  /** Tags besides `sha256-<hex>` (default: the program's name). */
  tags?: readonly string[];
  store?: string;
  env?: Env;
  cwd?: string;
  /** Sign the closure with this secret key file (default: signing-key-file of cald.conf). */
  signKey?: string;
  /** Uploads at once (default 4). */
  concurrency?: number;
  progress?: (done: number, total: number) => void;
}

export interface PushReport {
  readonly remote: string;
  readonly program: string;
  readonly manifest: string;
  readonly tags: string[];
  readonly objects: number;
  readonly uploaded: number;
  readonly uploadedBytes: number;
  /** The key that signed the closure, when one did. */
  readonly signedBy: string | null;
}

/** `sha256-<hex>`: the tag every closure gets, so `pull` finds a program by its content name. */
export function digestTag(digest: Digest): string {
  return `${digest.algorithm}-${digest.hex}`;
}

/** The program and every object it refers to, read from the objects themselves, program first. */
export function closureOf(store: FileStore, program: Digest, programName: string): ClosureObject[] {
  const out: ClosureObject[] = [];
  const seen = new Set<string>();
  const queue: Array<{ digest: Digest; name: string | undefined }> = [{ digest: program, name: programName }];
  while (queue.length > 0) {
    const { digest, name } = queue.shift()!;
    if (seen.has(digest.toString())) continue;
    seen.add(digest.toString());
    const info = store.objects.stat(digest);
    if (info === undefined) {
      throw new StoreError(
        'STORE_OBJECT_MISSING',
        `${formatCasName(digest, name)} is in the closure but not in the store ${store.root}`,
        { hint: 'run cald verify --repair, or import the program again', data: { store: store.root } },
      );
    }
    out.push({
      digest,
      size: info.size,
      executable: info.executable,
      ...(name === undefined ? {} : { name }),
    });
    for (const ref of objectRefs(readFileSync(store.pathOf(digest)))) {
      const cas = tryParseCasName(ref);
      if (cas !== undefined) queue.push({ digest: cas.digest, name: cas.hint });
    }
  }
  return out;
}

/**
 * Pushes an imported program's closure to an OCI registry: every object the registry lacks is
 * uploaded as a blob named by its own digest, then one manifest lists them all, tagged with the
 * program's name and `sha256-<hex>` of the program.
 */
export async function push(options: PushOptions): Promise<PushReport> {
  const env = options.env ?? process.env;
  const registry = openRemote(options.remote, env);
  const tags = options.tags ?? [];
  for (const t of tags)
    if (!isOciTag(t)) throw new UsageError(`--tag ${t}: not a valid tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})`);
  const { store } = openFiles({ store: options.store, env, cwd: options.cwd ?? process.cwd() });
  if (store === undefined) throw new UsageError('no store to push from');
  const target = resolveTarget(options.program, store);
  if (target.digest === undefined) {
    throw new UsageError(`${options.program} is a path: push takes an imported program`, {
      hint: 'import it first (cald import), then push its name',
    });
  }
  const name = target.name ?? basename(target.argv0);
  const objects = closureOf(store, target.digest, name);
  let done = 0;
  let uploaded = 0;
  let uploadedBytes = 0;
  await eachLimited(objects, options.concurrency ?? 4, async (o) => {
    if ((await registry.stat(o.digest))?.size !== o.size) {
      // Streamed from the store's file, verified on the way out: a damaged object is not sent.
      await copyObject(store, registry, o.digest);
      uploaded++;
      uploadedBytes += o.size;
    }
    options.progress?.(++done, objects.length);
  });
  const config = Digest.parse(EMPTY_CONFIG.digest);
  if (!(await registry.has(config))) await registry.put(EMPTY_CONFIG_BYTES, { expect: config });
  const program = formatCasName(target.digest, name);
  const manifest = encodeClosureManifest({ program, objects });
  const allTags = [
    ...new Set([...(tags.length > 0 ? tags : isOciTag(name) ? [name] : []), digestTag(target.digest)]),
  ];
  for (const tag of allTags) await registry.putManifest(tag, manifest);
  const keyFile = options.signKey ?? loadRemoteConfig(env).signingKeyFile;
  const signedBy =
    keyFile === undefined ? null : await signPushed(registry, keyFile, program, manifestDigest(manifest));
  return {
    remote: registry.name,
    program,
    manifest: manifestDigest(manifest).toString(),
    tags: allTags,
    objects: objects.length,
    uploaded,
    uploadedBytes,
    signedBy,
  };
}

/** Adds this key's signature to those the closure already has (other signers' are kept). */
async function signPushed(
  registry: ClosureRemote,
  keyFile: string,
  program: string,
  manifest: Digest,
): Promise<string> {
  const secret = secretKeyFromFile(keyFile, 'read the signing key');
  const mine = signClosure(secret, program, manifest);
  const tag = signatureTag(manifest);
  const existing = decodeSignatures((await registry.getManifest(tag))?.bytes);
  const all = [...existing.filter((s) => s.key !== mine.key), mine];
  await registry.putManifest(tag, encodeSignatures(EMPTY_CONFIG, all));
  return secret.name;
}

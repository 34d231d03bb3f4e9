import { RemoteError } from '../../errors/index.js';
import { type Digest, digestOfBuffer } from '../../store/digest.js';
import type { ObjectStat, ObjectStream, PutOptions, PutSource, ReadOptions } from '../../store/store.js';
import { MANIFEST_MEDIA_TYPE, MAX_OBJECT_SIZE } from '../closure-manifest.js';
import { type ClosureRemote, cannotDelete, cannotList, putVia } from '../closure-remote.js';
import { type Answer, readSmallBody, request, verifiedBody } from '../http.js';
import { answerChallenge, type Credentials, credentialsFor, refused } from './auth.js';
import { type OciRepository, parseOciRepository } from './reference.js';

// A client of one repository of an OCI registry (the distribution spec): blobs by digest, manifests
// by tag or digest. Every byte read is checked against the digest it was asked for before the
// caller sees success; nothing here writes to a store.

const MAX_MANIFEST = 4 * 1024 * 1024;
const MAX_ERROR_BODY = 16 * 1024;

export interface FetchedManifest {
  readonly bytes: Buffer;
  readonly digest: Digest;
  readonly mediaType: string;
}

export class OciRegistry implements ClosureRemote {
  /** The Authorization header that the registry last accepted. */
  private authorization: string | undefined;

  constructor(
    readonly repo: OciRepository,
    private readonly credentials: Credentials | undefined,
  ) {}

  get name(): string {
    return `oci://${this.repo.registry}/${this.repo.repository}`;
  }

  private endpoint(path: string): string {
    return `${this.repo.base}/v2/${this.repo.repository}/${path}`;
  }

  /**
   * One request with the registry's challenge answered: a 401 is answered once (with the
   * credentials or a token), and a second 401 means the credentials were refused.
   */
  private async call(
    url: string,
    init: {
      method?: string;
      headers?: Record<string, string>;
      body?: () => Uint8Array | AsyncIterable<Uint8Array>;
      reusedBuffer?: boolean;
    } = {},
  ): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      const answer = await request(url, {
        ...(init.method === undefined ? {} : { method: init.method }),
        ...(init.headers === undefined ? {} : { headers: init.headers }),
        ...(init.body === undefined ? {} : { body: init.body() }),
        ...(init.reusedBuffer === true ? { reusedBuffer: true } : {}),
        ...(this.authorization === undefined ? {} : { authorization: this.authorization }),
      });
      if (answer.status !== 401) return answer;
      await answer.body?.cancel();
      const challenge = answer.headers.get('www-authenticate');
      if (attempt > 0 || challenge === null) throw refused(this.repo.registry);
      this.authorization = await answerChallenge(challenge, this.repo.registry, this.credentials);
    }
  }

  get url(): string {
    return this.name;
  }

  async has(digest: Digest): Promise<boolean> {
    return (await this.stat(digest)) !== undefined;
  }

  /** HEAD of the blob: its size when the registry has it. */
  async stat(digest: Digest): Promise<ObjectStat | undefined> {
    const answer = await this.call(this.endpoint(`blobs/${digest}`), { method: 'HEAD' });
    await answer.body?.cancel();
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw await this.failure(answer, `HEAD blob ${digest}`);
    const size = Number(answer.headers.get('content-length'));
    if (!Number.isSafeInteger(size) || size < 0)
      throw await this.failure(answer, `HEAD blob ${digest} (no size)`);
    return { digest, size };
  }

  /** GET of the blob, streamed and verified as it arrives (http.ts, verifiedBody). */
  async *read(digest: Digest, options: ReadOptions = {}): ObjectStream {
    const answer = await this.call(this.endpoint(`blobs/${digest}`), {
      reusedBuffer: options.transient === true,
    });
    if (answer.status === 404) {
      await answer.body?.cancel();
      throw new RemoteError('REMOTE_NOT_FOUND', `${this.name} has no blob ${digest}`, {
        data: { remote: this.name, url: answer.url, digest: digest.toString() },
      });
    }
    if (answer.status !== 200) throw await this.failure(answer, `GET blob ${digest}`);
    yield* verifiedBody(
      answer,
      digest,
      options.size,
      MAX_OBJECT_SIZE,
      `${this.name}: blob ${digest}`,
      options.checkedByCaller !== true,
    );
  }

  /** Uploads the blob (a monolithic upload: POST, then PUT with the digest). */
  async put(source: PutSource, options: PutOptions = {}): Promise<Digest> {
    return putVia(source, options.expect, this.name, (d, body) => this.upload(d, body));
  }

  // biome-ignore lint/correctness/useYield: a registry has no listing of blobs; the generator only says so.
  async *list(): AsyncIterable<Digest> {
    cannotList(this.name);
  }

  async delete(_digest: Digest): Promise<boolean> {
    cannotDelete(this.name);
  }

  /** POST opens an upload session; PUT to its Location with `?digest=` sends the bytes and closes it. */
  private async upload(digest: Digest, body: () => Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    const start = await this.call(this.endpoint('blobs/uploads/'), {
      method: 'POST',
      headers: { 'content-length': '0' },
    });
    await start.body?.cancel();
    const location = start.headers.get('location');
    if (start.status !== 202 || location === null)
      throw await this.failure(start, `start upload of ${digest}`);
    const target = new URL(location, start.url);
    target.searchParams.set('digest', digest.toString());
    const done = await this.call(target.toString(), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
    await done.body?.cancel();
    if (done.status !== 201) throw await this.failure(done, `upload of ${digest}`);
  }

  async putManifest(
    reference: string,
    bytes: Buffer,
    mediaType: string = MANIFEST_MEDIA_TYPE,
  ): Promise<void> {
    const answer = await this.call(this.endpoint(`manifests/${reference}`), {
      method: 'PUT',
      headers: { 'content-type': mediaType },
      body: () => bytes,
    });
    await answer.body?.cancel();
    if (answer.status !== 201) throw await this.failure(answer, `PUT manifest ${reference}`);
  }

  /** The manifest `reference` (tag or digest); undefined when the registry has none. */
  async getManifest(
    reference: string,
    accept: readonly string[] = [MANIFEST_MEDIA_TYPE],
  ): Promise<FetchedManifest | undefined> {
    const answer = await this.call(this.endpoint(`manifests/${reference}`), {
      headers: { accept: accept.join(', ') },
    });
    if (answer.status === 404) {
      await answer.body?.cancel();
      return undefined;
    }
    if (answer.status !== 200) throw await this.failure(answer, `GET manifest ${reference}`);
    const bytes = await readSmallBody(answer, MAX_MANIFEST);
    const digest = digestOfBuffer(bytes);
    if (reference.startsWith('sha256:') && digest.toString() !== reference) {
      throw new RemoteError(
        'REMOTE_DIGEST_MISMATCH',
        `${this.name}: manifest ${reference} arrived as ${digest}`,
        {
          data: { remote: this.name },
        },
      );
    }
    return { bytes, digest, mediaType: answer.headers.get('content-type') ?? '' };
  }

  /** One line for an unexpected answer, with the registry's own error code when it sent one. */
  private async failure(answer: Answer, what: string): Promise<RemoteError> {
    let detail = '';
    try {
      const body = await readSmallBody(answer, MAX_ERROR_BODY);
      const errors = (JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] })
        .errors;
      const first = errors?.[0];
      if (first !== undefined) detail = `: ${first.code ?? ''} ${first.message ?? ''}`.trimEnd();
    } catch {
      // Not JSON, or no body: the status says enough.
    }
    return new RemoteError(
      'REMOTE_FAILED',
      `${this.name}: ${what} failed with HTTP ${answer.status}${detail}`,
      {
        data: { remote: this.name, url: answer.url, status: answer.status },
      },
    );
  }
}

/** The registry a remote string names (`oci://host/repo`), with the credentials configured for it. */
export function openRegistry(remote: string, env: Readonly<Record<string, string | undefined>>): OciRegistry {
  const repo = parseOciRepository(remote, { insecure: env.CALD_INSECURE_REGISTRY === '1' });
  return new OciRegistry(repo, credentialsFor(repo.registry, env));
}

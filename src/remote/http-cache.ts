import { RemoteError } from '../errors/index.js';
import { type Digest, digestOfBuffer } from '../store/digest.js';
import type { ObjectStat, ObjectStream, PutOptions, PutSource, ReadOptions } from '../store/store.js';
import { MAX_OBJECT_SIZE } from './closure-manifest.js';
import { type ClosureRemote, cannotDelete, cannotList, putVia } from './closure-remote.js';
import { type Answer, readSmallBody, request, verifiedBody } from './http.js';

// A cache over plain HTTP (docs/distribution.md, "HTTP caches"): files any static web server or
// bucket can hold, written with PUT (nginx's dav module, `cald serve --writable`, a bucket).
//   <base>/objects/sha256/<hex>   an object's bytes
//   <base>/tags/<tag>             a closure manifest (the same bytes as in a registry)

const MAX_MANIFEST = 4 * 1024 * 1024;

export class HttpCache implements ClosureRemote {
  readonly name: string;
  private readonly base: string;
  private readonly authorization: string | undefined;

  constructor(url: string, env: Readonly<Record<string, string | undefined>>) {
    const u = new URL(url);
    if (u.username !== '' || u.password !== '') {
      throw new RemoteError('REMOTE_AUTH', `${u.origin}: put no credentials in the URL`, {
        hint: 'set CALD_HTTP_TOKEN (sent as a bearer token) instead',
        data: { remote: u.origin },
      });
    }
    this.base = u.toString().replace(/\/+$/, '');
    this.name = this.base;
    this.authorization = env.CALD_HTTP_TOKEN === undefined ? undefined : `Bearer ${env.CALD_HTTP_TOKEN}`;
  }

  private send(
    path: string,
    init: { method?: string; body?: Uint8Array | AsyncIterable<Uint8Array>; reusedBuffer?: boolean } = {},
  ): Promise<Answer> {
    return request(`${this.base}/${path}`, {
      ...init,
      ...(this.authorization === undefined ? {} : { authorization: this.authorization }),
    });
  }

  private objectPath(digest: Digest): string {
    return `objects/${digest.algorithm}/${digest.hex}`;
  }

  get url(): string {
    return this.name;
  }

  async has(digest: Digest): Promise<boolean> {
    return (await this.stat(digest)) !== undefined;
  }

  /** HEAD of the object: its size when the cache has it. */
  async stat(digest: Digest): Promise<ObjectStat | undefined> {
    const answer = await this.send(this.objectPath(digest), { method: 'HEAD' });
    await answer.body?.cancel();
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw this.failure(answer, `HEAD ${digest}`);
    const size = Number(answer.headers.get('content-length'));
    if (!Number.isSafeInteger(size) || size < 0) throw this.failure(answer, `HEAD ${digest} (no size)`);
    return { digest, size };
  }

  /** GET of the object, streamed and verified as it arrives (http.ts, verifiedBody). */
  async *read(digest: Digest, options: ReadOptions = {}): ObjectStream {
    const answer = await this.send(this.objectPath(digest), { reusedBuffer: options.transient === true });
    if (answer.status !== 200) {
      await answer.body?.cancel();
      if (answer.status === 404) throw this.notFound(answer, digest);
      throw this.failure(answer, `GET ${digest}`);
    }
    yield* verifiedBody(
      answer,
      digest,
      options.size,
      MAX_OBJECT_SIZE,
      `${this.name}: object ${digest}`,
      options.checkedByCaller !== true,
    );
  }

  /** PUT of the object (nginx's dav module, `cald serve --writable`, a bucket). */
  async put(source: PutSource, options: PutOptions = {}): Promise<Digest> {
    return putVia(source, options.expect, this.name, (d, body) => this.upload(this.objectPath(d), body));
  }

  // biome-ignore lint/correctness/useYield: a cache has no listing; the generator only says so.
  async *list(): AsyncIterable<Digest> {
    cannotList(this.name);
  }

  async delete(_digest: Digest): Promise<boolean> {
    cannotDelete(this.name);
  }

  async putManifest(tag: string, bytes: Buffer): Promise<void> {
    await this.upload(`tags/${encodeURIComponent(tag)}`, () => bytes);
  }

  async getManifest(tag: string): Promise<{ bytes: Buffer; digest: Digest } | undefined> {
    const answer = await this.send(`tags/${encodeURIComponent(tag)}`);
    if (answer.status === 404) {
      await answer.body?.cancel();
      return undefined;
    }
    if (answer.status !== 200) {
      await answer.body?.cancel();
      throw this.failure(answer, `GET tag ${tag}`);
    }
    const bytes = await readSmallBody(answer, MAX_MANIFEST);
    return { bytes, digest: digestOfBuffer(bytes) };
  }

  private async upload(path: string, body: () => Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    const answer = await this.send(path, { method: 'PUT', body: body() });
    await answer.body?.cancel();
    if (answer.status !== 200 && answer.status !== 201 && answer.status !== 204) {
      throw this.failure(answer, `PUT ${path}`);
    }
  }

  private notFound(answer: Answer, digest: Digest): RemoteError {
    return new RemoteError('REMOTE_NOT_FOUND', `${this.name} has no object ${digest}`, {
      data: { remote: this.name, url: answer.url, digest: digest.toString() },
    });
  }

  private failure(answer: Answer, what: string): RemoteError {
    const code = answer.status === 401 || answer.status === 403 ? 'REMOTE_AUTH' : 'REMOTE_FAILED';
    return new RemoteError(code, `${this.name}: ${what} failed with HTTP ${answer.status}`, {
      ...(code === 'REMOTE_AUTH' ? { hint: 'set CALD_HTTP_TOKEN, or check the server allows this' } : {}),
      data: { remote: this.name, url: answer.url, status: answer.status },
    });
  }
}

import { writeSync } from 'node:fs';
import { RemoteError } from '../errors/index.js';
import { createHasher, type Digest, type Hasher } from '../store/digest.js';

// Requests to remotes, on Node's own fetch, with the limits a hostile or broken server needs:
// a deadline for the answer's headers, a stall timeout while a body streams, a cap on how many
// bytes are read, and redirects followed by hand (at most MAX_REDIRECTS, http(s) only, and the
// credentials dropped when the redirect leaves the origin they were given for).

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** A body to send; a stream is sent as it is read (half duplex). */
  readonly body?: Uint8Array | ReadableStream<Uint8Array>;
  /** Headers must arrive within this many ms (default 30 s). */
  readonly timeoutMs?: number;
  /** Sent only to the first URL's origin. */
  readonly authorization?: string;
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  /** The URL that answered, after redirects. */
  readonly url: string;
  readonly body: ReadableStream<Uint8Array> | null;
}

const MAX_REDIRECTS = 5;
const DEFAULT_TIMEOUT_MS = 30_000;
/** No byte for this long while a body streams: the server is stalled. */
export const STALL_MS = 30_000;

export async function request(url: string, options: RequestOptions = {}): Promise<Answer> {
  let current = new URL(url);
  const origin = current.origin;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.authorization !== undefined && current.origin === origin) {
      headers.authorization = options.authorization;
    }
    let res: Response;
    try {
      res = await fetch(current, {
        method: options.method ?? 'GET',
        headers,
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
        ...(options.body === undefined ? {} : { body: options.body, duplex: 'half' }),
      } as RequestInit);
    } catch (e) {
      throw unreachable(current, e);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location !== null && res.status !== 304) {
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) {
        throw new RemoteError('REMOTE_REDIRECTS', `${url}: more than ${MAX_REDIRECTS} redirects`, {
          data: { url },
        });
      }
      const next = new URL(location, current);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new RemoteError('REMOTE_REDIRECTS', `${current}: redirected to ${next.protocol} URL, refused`, {
          data: { url: current.toString() },
        });
      }
      if (options.body instanceof ReadableStream) {
        throw new RemoteError('REMOTE_PROTOCOL', `${current}: redirected an upload (${res.status})`, {
          data: { url: current.toString() },
        });
      }
      current = next;
      continue;
    }
    return { status: res.status, headers: res.headers, url: current.toString(), body: res.body };
  }
}

const CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name does not resolve now',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'the connection closed before an answer',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
};

function unreachable(url: URL, e: unknown): RemoteError {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const name = (e as Error)?.name;
  const why =
    name === 'TimeoutError' || name === 'AbortError'
      ? 'no answer in time'
      : (CAUSES[cause?.code ?? ''] ?? cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e));
  return new RemoteError('REMOTE_UNREACHABLE', `cannot reach ${url.origin}: ${why}`, {
    hint: 'check the address and that the server is running',
    data: { url: url.toString() },
    cause: e,
  });
}

/**
 * A body chunk by chunk, at most `maxBytes` (more is REMOTE_TOO_LARGE), failing with
 * REMOTE_STALLED when no byte arrives for `stallMs`. The body is released however the reading ends.
 */
export async function* bodyChunks(
  answer: Answer,
  maxBytes: number,
  stallMs: number = STALL_MS,
): AsyncGenerator<Uint8Array> {
  if (answer.body === null) return;
  const reader = answer.body.getReader();
  let total = 0;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new RemoteError('REMOTE_STALLED', `${answer.url}: no data for ${stallMs / 1000} s`, {
                hint: 'the server stalled; try again',
                data: { url: answer.url },
              }),
            ),
          stallMs,
        );
      });
      let step: Awaited<ReturnType<typeof reader.read>>;
      try {
        step = await Promise.race([reader.read(), stalled]);
      } catch (e) {
        if (e instanceof RemoteError) throw e;
        throw new RemoteError(
          'REMOTE_TRUNCATED',
          `${answer.url}: the body broke off: ${(e as Error).message}`,
          {
            hint: 'try again',
            data: { url: answer.url },
            cause: e,
          },
        );
      } finally {
        clearTimeout(timer);
      }
      if (step.done) return;
      total += step.value.byteLength;
      if (total > maxBytes) {
        throw new RemoteError('REMOTE_TOO_LARGE', `${answer.url}: more than ${maxBytes} bytes`, {
          data: { url: answer.url, limit: maxBytes },
        });
      }
      yield step.value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Reads a body into `sink` (see bodyChunks); returns the number of bytes read. */
export async function readBody(
  answer: Answer,
  maxBytes: number,
  sink: (chunk: Uint8Array) => void,
  stallMs: number = STALL_MS,
): Promise<number> {
  let total = 0;
  for await (const chunk of bodyChunks(answer, maxBytes, stallMs)) {
    total += chunk.byteLength;
    sink(chunk);
  }
  return total;
}

/** A small body (JSON, an error) read whole, at most `maxBytes`. */
export async function readSmallBody(answer: Answer, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  await readBody(answer, maxBytes, (c) => parts.push(Buffer.from(c)));
  return Buffer.concat(parts);
}

/**
 * An object's body as a stream, hashed as it passes: more than `size` bytes (or than `limit` when
 * the size is not known), fewer, or bytes that do not hash to `digest` fail it with one REMOTE_*
 * error before it ends, so a store that keeps bytes only at the end keeps only the right ones.
 */
export async function* verifiedBody(
  answer: Answer,
  digest: Digest,
  size: number | undefined,
  limit: number,
  what: string,
): AsyncGenerator<Uint8Array> {
  const hasher = createHasher(digest.algorithm);
  let got = 0;
  for await (const chunk of bodyChunks(answer, size ?? limit)) {
    hasher.update(chunk);
    got += chunk.byteLength;
    yield chunk;
  }
  checkArrived(answer, digest, size, got, hasher, what);
}

/**
 * Streams a body into `fd` from its start while hashing it: more than `size` bytes, fewer, or
 * bytes that do not hash to `digest` fail with one REMOTE_* error (the caller discards fd).
 */
export async function streamVerified(
  answer: Answer,
  digest: Digest,
  size: number,
  fd: number,
  what: string,
): Promise<void> {
  const hasher = createHasher(digest.algorithm);
  let offset = 0;
  const got = await readBody(answer, size, (chunk) => {
    hasher.update(chunk);
    let done = 0;
    while (done < chunk.byteLength)
      done += writeSync(fd, chunk, done, chunk.byteLength - done, offset + done);
    offset += chunk.byteLength;
  });
  checkArrived(answer, digest, size, got, hasher, what);
}

/** A whole body of the size asked for (when one was), whose bytes hash to `digest`; else one REMOTE_* error. */
function checkArrived(
  answer: Answer,
  digest: Digest,
  size: number | undefined,
  got: number,
  hasher: Hasher,
  what: string,
): void {
  if (size !== undefined && got !== size) {
    throw new RemoteError('REMOTE_TRUNCATED', `${what} ended after ${got} of ${size} bytes`, {
      hint: 'try again; nothing was stored',
      data: { url: answer.url, digest: digest.toString() },
    });
  }
  const actual = hasher.digest();
  if (!actual.equals(digest)) {
    throw new RemoteError('REMOTE_DIGEST_MISMATCH', `${what} arrived as ${actual}`, {
      hint: 'the remote sent other bytes than asked for; nothing was stored',
      data: { url: answer.url, digest: digest.toString(), actual: actual.toString() },
    });
  }
}

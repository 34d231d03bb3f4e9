import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { RemoteError } from '../errors/index.js';
import { createHasher, type Digest, type Hasher } from '../store/digest.js';
import { type WireBody, wireExchange } from './wire.js';

// Requests to remotes, on node:http(s) with keep-alive agents, with the limits a hostile or broken
// server needs: a deadline for the answer's headers, a stall timeout while a body streams, a cap
// on how many bytes are read, and redirects followed by hand (at most MAX_REDIRECTS, http(s)
// only, and the credentials dropped when the redirect leaves the origin they were given for).
// Not Node's fetch: its web streams cost a promise and more garbage per chunk, which a pull of
// hundreds of objects pays for in CPU time (docs/benchmarks.md, "Pull from an OCI registry").

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** A body to send; a stream is sent as it is read (chunked). */
  readonly body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** Headers must arrive within this many ms (default 30 s). */
  readonly timeoutMs?: number;
  /** Sent only to the first URL's origin. */
  readonly authorization?: string;
  /**
   * The caller is done with each body chunk before it asks for the next (a local store's put
   * copies it): a GET over http: may then read the body into one reused buffer (wire.ts), each
   * chunk a view of it. A chunk kept past that would change under the caller.
   */
  readonly reusedBuffer?: boolean;
}

/** An answer's headers, looked up by name (any case); repeated ones joined with ", ". */
export interface AnswerHeaders {
  get(name: string): string | null;
}

/** An answer's body: read by bodyChunks, or released unread with cancel(). */
export interface AnswerBody {
  /** node:http's answer, or (RequestOptions.reusedBuffer) wire.ts's. */
  readonly stream: IncomingMessage | WireBody;
  /** Releases the body unread (a small one is drained, so its connection is kept). */
  cancel(): Promise<void>;
}

export interface Answer {
  readonly status: number;
  readonly headers: AnswerHeaders;
  /** The URL that answered, after redirects. */
  readonly url: string;
  readonly body: AnswerBody | null;
}

const MAX_REDIRECTS = 5;
const DEFAULT_TIMEOUT_MS = 30_000;
/** No byte for this long while a body streams: the server is stalled. */
export const STALL_MS = 30_000;
/**
 * Slower than this over a whole STALL_MS is stalled too: a server sending a byte a second kept a
 * pull of one 312 KB object going for days. 1 KiB/s is a tenth of a 2G mobile link's.
 */
const MIN_BYTES_PER_S = 1024;
/** An unread body up to this size is drained on cancel (its connection kept); a larger one is cut. */
const DRAIN_LIMIT = 64 * 1024;

// Connections kept alive between requests (lazy fetch asks for one object at a time; a pull, a
// few at once). Idle ones do not keep the process alive, and are closed after IDLE_MS (before a
// server's own keep-alive timeout, Node's 5 s, is likely to close one under a new request).
const IDLE_MS = 4_000;
const AGENTS = {
  'http:': new HttpAgent({ keepAlive: true, maxSockets: 16, timeout: IDLE_MS }),
  'https:': new HttpsAgent({ keepAlive: true, maxSockets: 16, timeout: IDLE_MS }),
};

/** The error a request fails with when its headers do not arrive in time. */
class HeadersTimeout extends Error {
  override readonly name = 'TimeoutError';
}

/** Methods asked again, once, when a kept connection breaks under them before any answer. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT']);

/**
 * One HTTP exchange up to the answer's headers; its body is left to read. A kept connection that
 * the server closed as the request went out on it (a server may close idle connections at any
 * time, without saying so in its last answer) fails before any answer with ECONNRESET or EPIPE:
 * an idempotent request whose body can be sent again is then asked again, once, on a new
 * connection (not another kept one, which may be as stale), as browsers and curl do.
 */
function exchange(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Uint8Array | AsyncIterable<Uint8Array> | undefined,
  timeoutMs: number,
  fresh = false,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const sized = body instanceof Uint8Array ? { 'content-length': String(body.byteLength) } : {};
    const req = send(url, {
      method,
      headers: { ...sized, ...headers },
      // agent false: a connection of its own, closed after this exchange.
      agent: fresh ? false : url.protocol === 'https:' ? AGENTS['https:'] : AGENTS['http:'],
    });
    const timer = setTimeout(() => req.destroy(new HeadersTimeout('no answer in time')), timeoutMs);
    // The connection never keeps the process alive by itself: while an answer is awaited this
    // timer does, while a body is read bodyChunks' stall timer does. So an answer left unread
    // cannot make cald hang at exit.
    req.once('socket', (socket) => socket.unref());
    let answered = false;
    req.once('response', (res) => {
      answered = true;
      clearTimeout(timer);
      resolve(res);
    });
    const resendable = IDEMPOTENT.has(method) && (body === undefined || body instanceof Uint8Array);
    // Kept for the exchange's whole life: an error after the answer (the body's) is the body's
    // reader's to see, and must not be an unhandled one here.
    req.on('error', (e) => {
      clearTimeout(timer);
      const code = (e as { code?: string }).code;
      const stale = req.reusedSocket && !answered && (code === 'ECONNRESET' || code === 'EPIPE');
      if (stale && !fresh && resendable) resolve(exchange(url, method, headers, body, timeoutMs, true));
      else reject(e);
    });
    if (body === undefined) req.end();
    else if (body instanceof Uint8Array) req.end(body);
    else {
      // A stream that fails stops the upload: the request is destroyed, and its error is the error.
      const source = Readable.from(body, { objectMode: false });
      source.once('error', (e) => req.destroy(e));
      source.pipe(req);
    }
  });
}

function headersOf(res: IncomingMessage): AnswerHeaders {
  return {
    get(name: string): string | null {
      const v = res.headers[name.toLowerCase()];
      return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
    },
  };
}

function bodyOf(res: IncomingMessage): AnswerBody {
  return {
    stream: res,
    cancel: async () => {
      if (res.destroyed || res.readableEnded) return;
      // Even an empty body (HEAD, 204) must be read to its end for the connection to go back to
      // the pool; one that was never read keeps the process alive.
      const length = Number(res.headers['content-length'] ?? Number.NaN);
      if (res.complete || length <= DRAIN_LIMIT) res.resume();
      else res.destroy();
    },
  };
}

/** Origins (host:port) that answered a GET in a way wire.ts does not frame: asked through node:http since. */
const notWire = new Set<string>();

/** An answer up to its headers, from node:http or from wire.ts. */
interface Exchanged {
  readonly status: number;
  readonly headers: AnswerHeaders;
  readonly body: AnswerBody;
}

export async function request(url: string, options: RequestOptions = {}): Promise<Answer> {
  let current = new URL(url);
  const origin = current.origin;
  const method = options.method ?? 'GET';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.authorization !== undefined && current.origin === origin) {
      headers.authorization = options.authorization;
    }
    let res: Exchanged | undefined;
    try {
      if (
        options.reusedBuffer === true &&
        method === 'GET' &&
        options.body === undefined &&
        current.protocol === 'http:' &&
        !notWire.has(current.host)
      ) {
        const w = await wireExchange(
          current,
          headers,
          timeoutMs,
          () => new HeadersTimeout('no answer in time'),
        );
        if (w === undefined) notWire.add(current.host);
        else {
          const body = w.body;
          res = {
            status: w.status,
            headers: { get: (name) => w.headers.get(name.toLowerCase()) ?? null },
            body: { stream: body, cancel: () => body.cancel() },
          };
        }
      }
      if (res === undefined) {
        const r = await exchange(current, method, headers, options.body, timeoutMs);
        res = { status: r.statusCode ?? 0, headers: headersOf(r), body: bodyOf(r) };
      }
    } catch (e) {
      throw unreachable(current, e);
    }
    const status = res.status;
    const location = res.headers.get('location') ?? undefined;
    if (status >= 300 && status < 400 && location !== undefined && status !== 304) {
      await res.body.cancel();
      if (hop >= MAX_REDIRECTS) {
        throw new RemoteError('REMOTE_REDIRECTS', `${url}: more than ${MAX_REDIRECTS} redirects`, {
          data: { url },
        });
      }
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new RemoteError('REMOTE_REDIRECTS', `${current}: redirected to an invalid URL, refused`, {
          data: { url: current.toString() },
        });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new RemoteError('REMOTE_REDIRECTS', `${current}: redirected to ${next.protocol} URL, refused`, {
          data: { url: current.toString() },
        });
      }
      if (options.body !== undefined && !(options.body instanceof Uint8Array)) {
        throw new RemoteError('REMOTE_PROTOCOL', `${current}: redirected an upload (${status})`, {
          data: { url: current.toString() },
        });
      }
      current = next;
      continue;
    }
    return { status, headers: res.headers, url: current.toString(), body: res.body };
  }
}

const CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name does not resolve now',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'no answer in time',
  HPE_INVALID_CONSTANT: 'the answer is not HTTP',
  HPE_INVALID_STATUS: 'the answer is not HTTP',
};

/** Answers that are HTTP, but broken (node's parser's codes, and wire.ts's): the server was reached. */
const MALFORMED: Record<string, string> = {
  HPE_HEADER_OVERFLOW: 'headers that are too large',
  HPE_INVALID_CONTENT_LENGTH: 'an invalid Content-Length',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'an invalid Content-Length',
  HPE_INVALID_TRANSFER_ENCODING: 'an invalid Transfer-Encoding',
  HPE_INVALID_HEADER_TOKEN: 'a malformed header',
  HPE_LF_EXPECTED: 'a malformed header',
  HPE_CR_EXPECTED: 'a malformed header',
  HPE_INVALID_CHUNK_SIZE: 'a malformed chunked body',
};

/** TLS failures (node's and OpenSSL's codes): the server was reached, and did not prove who it is. */
const UNTRUSTED_TLS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'its TLS certificate is signed by an authority not trusted here',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate is signed by an authority not trusted here',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its TLS certificate is signed by an authority not trusted here',
  CERT_UNTRUSTED: 'its TLS certificate is not trusted here',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  CERT_NOT_YET_VALID: 'its TLS certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is for another host name',
  EPROTO: 'the TLS handshake failed (is it plain HTTP?)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the TLS handshake failed (is it plain HTTP?)',
};

function unreachable(url: URL, e: unknown): RemoteError {
  if (e instanceof RemoteError) return e;
  const err = e as { code?: string; message?: string; name?: string } | undefined;
  const tls = UNTRUSTED_TLS[err?.code ?? ''];
  if (tls !== undefined) {
    return new RemoteError('REMOTE_UNREACHABLE', `cannot reach ${url.origin} safely: ${tls}`, {
      hint: 'check the address; a private authority is trusted with NODE_EXTRA_CA_CERTS=FILE.pem',
      data: { url: url.toString() },
      cause: e,
    });
  }
  const malformed = MALFORMED[err?.code ?? ''];
  if (malformed !== undefined) {
    // Not "cannot reach": the server answered, and the hint to check its address would mislead.
    return new RemoteError('REMOTE_UNREACHABLE', `${url.origin} answered with ${malformed}, refused`, {
      hint: 'the server, or a proxy on the way, sent a broken answer; nothing was stored',
      data: { url: url.toString() },
      cause: e,
    });
  }
  const why =
    err?.name === 'TimeoutError'
      ? 'no answer in time'
      : (CAUSES[err?.code ?? ''] ?? err?.code ?? err?.message ?? String(e));
  return new RemoteError('REMOTE_UNREACHABLE', `cannot reach ${url.origin}: ${why}`, {
    hint: 'check the address and that the server is running',
    data: { url: url.toString() },
    cause: e,
  });
}

/**
 * A body chunk by chunk, at most `maxBytes` (more is REMOTE_TOO_LARGE), failing with
 * REMOTE_STALLED when fewer than MIN_BYTES_PER_S a second arrive over `stallMs` (no byte at all,
 * or a trickle). The body is released however the reading ends.
 */
export async function* bodyChunks(
  answer: Answer,
  maxBytes: number,
  stallMs: number = STALL_MS,
): AsyncGenerator<Uint8Array> {
  if (answer.body === null) return;
  const res = answer.body.stream;
  // One timer, pushed back each time enough bytes came (not a timer and a promise per chunk).
  const enough = Math.max(1, Math.floor((MIN_BYTES_PER_S * stallMs) / 1000));
  let sinceRefresh = 0;
  const timer = setTimeout(() => {
    const what =
      sinceRefresh === 0
        ? `no data for ${stallMs / 1000} s`
        : `${sinceRefresh} bytes in ${stallMs / 1000} s, slower than ${MIN_BYTES_PER_S} bytes a second`;
    res.destroy(
      new RemoteError('REMOTE_STALLED', `${answer.url}: ${what}`, {
        hint: 'the server stalled; try again',
        data: { url: answer.url },
      }),
    );
  }, stallMs);
  let total = 0;
  try {
    try {
      // node:http's answer or wire.ts's (whose chunks are views valid until the next one).
      for await (const chunk of res as AsyncIterable<Uint8Array>) {
        sinceRefresh += chunk.byteLength;
        if (sinceRefresh >= enough) {
          timer.refresh();
          sinceRefresh = 0;
        }
        total += chunk.byteLength;
        if (total > maxBytes) {
          throw new RemoteError('REMOTE_TOO_LARGE', `${answer.url}: more than ${maxBytes} bytes`, {
            data: { url: answer.url, limit: maxBytes },
          });
        }
        yield chunk;
      }
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
    }
  } finally {
    clearTimeout(timer);
    if (!res.complete) res.destroy();
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
  /** The consumer hashes the bytes itself (ReadOptions.checkedByCaller): only sizes are held to here. */
  hash = true,
): AsyncGenerator<Uint8Array> {
  // Without a size from the caller, the answer's own Content-Length is held to (an object larger
  // than `limit` is refused before its first byte).
  const declared = size ?? declaredSize(answer);
  if (declared !== undefined && declared > (size ?? limit)) {
    await answer.body?.cancel();
    throw new RemoteError('REMOTE_TOO_LARGE', `${answer.url}: more than ${limit} bytes`, {
      data: { url: answer.url, limit },
    });
  }
  const hasher = hash ? createHasher(digest.algorithm) : undefined;
  let got = 0;
  for await (const chunk of bodyChunks(answer, declared ?? limit)) {
    hasher?.update(chunk);
    got += chunk.byteLength;
    yield chunk;
  }
  checkArrived(answer, digest, declared, got, hasher, what);
}

/** The answer's Content-Length, when it is a plain byte count. */
function declaredSize(answer: Answer): number | undefined {
  const text = answer.headers.get('content-length');
  if (text === null || !/^[0-9]{1,16}$/.test(text)) return undefined;
  return Number(text);
}

/** A whole body of the size asked for (when one was), whose bytes hash to `digest`; else one REMOTE_* error. */
function checkArrived(
  answer: Answer,
  digest: Digest,
  size: number | undefined,
  got: number,
  hasher: Hasher | undefined,
  what: string,
): void {
  if (size !== undefined && got !== size) {
    throw new RemoteError('REMOTE_TRUNCATED', `${what} ended after ${got} of ${size} bytes`, {
      hint: 'try again; nothing was stored',
      data: { url: answer.url, digest: digest.toString() },
    });
  }
  if (hasher === undefined) return;
  const actual = hasher.digest();
  if (!actual.equals(digest)) {
    throw new RemoteError('REMOTE_DIGEST_MISMATCH', `${what} arrived as ${actual}`, {
      hint: 'the remote sent other bytes than asked for; nothing was stored',
      data: { url: answer.url, digest: digest.toString(), actual: actual.toString() },
    });
  }
}

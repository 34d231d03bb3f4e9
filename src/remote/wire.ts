import { connect, type Socket } from 'node:net';

// Plain HTTP/1.1 GETs whose body is read into one reused buffer per connection (net.Socket's
// `onread`), for the objects a pull or a lazy fetch stores: node:http allocates a new 64 KiB
// buffer for every read from the socket, and for a lazy fetch of ffmpeg's closure that memory,
// counted as external by V8, started a full mark-compact every ~13 objects (docs/benchmarks.md,
// "Session 6"). Only the simple case is handled here: a GET over http: answered with a
// Content-Length (or a body up to the connection's close); anything else (a chunked body, an
// informational answer) is left to node:http (`undefined` from wireExchange).
//
// Each body chunk is a view of the connection's buffer, valid until the next one is asked for:
// only for a caller that is done with a chunk by then (RequestOptions.reusedBuffer).

/** The most bytes one read from the socket takes (so the largest chunk of a body). */
const RECV_BYTES = 256 * 1024;
/** An answer's status line and headers together, at most. */
const MAX_HEAD = 64 * 1024;
/** Idle connections are closed after this long (http.ts, IDLE_MS). */
const IDLE_MS = 4_000;
/** An unread body up to this size is read to its end on cancel, so its connection is kept. */
const DRAIN_LIMIT = 64 * 1024;
/** ... if it arrives within this long; else the connection is closed. */
const DRAIN_MS = 2_000;

/** An error with a code, as node's own (http.ts maps the codes to one line). */
function failure(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** One connection: reads land in `buf`; the socket is paused after each until it is taken. */
class Conn {
  readonly socket: Socket;
  private readonly buf = Buffer.allocUnsafeSlow(RECV_BYTES);
  private pending: Buffer | undefined;
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Answered a request before (a server may close such a connection under the next one). */
  used = false;

  constructor(
    readonly origin: string,
    host: string,
    port: number,
  ) {
    this.socket = connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: this.buf, callback: (n: number) => this.arrived(n) },
    });
    // Never keeps the process alive by itself: a timer does while an answer is awaited.
    this.socket.unref();
    this.socket.on('end', () => this.finish(undefined));
    this.socket.on('close', () => this.finish(undefined));
    this.socket.on('error', (e) => this.finish(e));
  }

  private arrived(n: number): boolean {
    this.pending = this.buf.subarray(0, n);
    this.wake?.();
    return false; // paused until this read is taken
  }

  private finish(e: Error | undefined): void {
    if (!this.ended) {
      this.ended = true;
      this.error = e;
      forget(this);
    }
    this.wake?.();
  }

  get closed(): boolean {
    return this.ended;
  }

  /** The next bytes read (valid until the next call), or undefined at the end of the stream. */
  async read(): Promise<Buffer | undefined> {
    while (this.pending === undefined) {
      if (this.ended) {
        if (this.error !== undefined) throw this.error;
        return undefined;
      }
      this.socket.resume();
      await new Promise<void>((r) => {
        this.wake = r;
      });
      this.wake = undefined;
    }
    const p = this.pending;
    this.pending = undefined;
    return p;
  }

  destroy(e?: Error): void {
    clearTimeout(this.idleTimer);
    this.socket.destroy(e);
    this.finish(e);
  }

  /** Back to the idle connections of its origin, for the next request there. */
  release(): void {
    if (this.ended || this.pending !== undefined) {
      this.destroy();
      return;
    }
    this.used = true;
    this.idleTimer = setTimeout(() => this.destroy(), IDLE_MS);
    this.idleTimer.unref();
    const list = idle.get(this.origin);
    if (list === undefined) idle.set(this.origin, [this]);
    else list.push(this);
  }

  take(): void {
    clearTimeout(this.idleTimer);
  }
}

const idle = new Map<string, Conn[]>();

function forget(conn: Conn): void {
  const list = idle.get(conn.origin);
  const i = list?.indexOf(conn) ?? -1;
  if (i >= 0) list!.splice(i, 1);
}

/** A kept connection to `url`'s origin, else (or when `fresh`) a new one. */
function connectionTo(url: URL, fresh: boolean): Conn {
  const origin = url.host;
  const list = fresh ? undefined : idle.get(origin);
  for (let c = list?.pop(); c !== undefined; c = list?.pop()) {
    if (c.closed) continue;
    c.take();
    return c;
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return new Conn(origin, host, url.port === '' ? 80 : Number(url.port));
}

/** An answer's headers, by lower-case name; repeated ones joined with ", ". */
export type WireHeaders = ReadonlyMap<string, string>;

/** A body read chunk by chunk from its connection. */
export class WireBody {
  private left: number | undefined;
  private reusable: boolean;
  private done = false;

  constructor(
    private readonly conn: Conn,
    private rest: Buffer | undefined,
    length: number | undefined,
    keepAlive: boolean,
  ) {
    this.left = length;
    // Without a length the body ends when the connection does: it cannot be used again. Bytes
    // after an empty body belong to no answer: neither can one that sent them.
    this.reusable = keepAlive && length !== undefined && !(length === 0 && rest !== undefined);
    if (length === 0) this.end();
  }

  /** The body was read to its end (its connection kept or closed). */
  get complete(): boolean {
    return this.done;
  }

  /** The next chunk (a view valid until the next call), or undefined at the body's end. */
  async next(): Promise<Uint8Array | undefined> {
    if (this.done) return undefined;
    if (this.left === 0) {
      this.end();
      return undefined;
    }
    let piece = this.rest ?? (await this.conn.read());
    this.rest = undefined;
    if (piece === undefined) {
      if (this.left !== undefined) {
        this.conn.destroy();
        throw failure(`the connection closed ${this.left} bytes before the body's end`, 'ECONNRESET');
      }
      this.end();
      return undefined;
    }
    if (this.left !== undefined) {
      if (piece.byteLength > this.left) {
        // Bytes past the body: the server is confused; the connection is not used again.
        piece = piece.subarray(0, this.left);
        this.reusable = false;
      }
      this.left -= piece.byteLength;
    }
    return piece;
  }

  /** The chunks in turn (see next), so a body reads like node's IncomingMessage. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (let chunk = await this.next(); chunk !== undefined; chunk = await this.next()) yield chunk;
  }

  /**
   * Releases the body unread: a small rest is read to its end (the connection kept), else the
   * connection is closed. The rest is waited for DRAIN_MS at most, by a timer that also keeps the
   * process alive meanwhile (the socket does not): without it, an error answer whose body came
   * late ended cald with no word (node's exit 13, a promise never settled), and one whose body
   * never came held the fetch daemon's request for ever.
   */
  async cancel(): Promise<void> {
    if (this.done) return;
    if (!this.reusable || this.left === undefined || this.left > DRAIN_LIMIT) return this.destroy();
    const timer = setTimeout(() => this.destroy(), DRAIN_MS);
    try {
      while ((await this.next()) !== undefined) {}
    } catch {
      this.destroy();
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(e?: Error): void {
    this.done = true;
    this.conn.destroy(e);
  }

  private end(): void {
    this.done = true;
    if (this.reusable) this.conn.release();
    else this.conn.destroy();
  }
}

export interface WireAnswer {
  readonly status: number;
  readonly headers: WireHeaders;
  readonly body: WireBody;
}

/**
 * GET `url` (http: only) over a kept or new connection, up to the answer's headers (which must
 * arrive within `timeoutMs`); undefined when the answer is not one this reader frames (its
 * connection is closed; the caller asks again through node:http). A kept connection that the
 * server closed under the request is replaced once.
 */
export async function wireExchange(
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
  onTimeout: () => Error,
): Promise<WireAnswer | undefined> {
  let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v))
      throw failure(`a header with a line break: ${k}`, 'ERR_INVALID_CHAR');
    head += `${k}: ${v}\r\n`;
  }
  const request = Buffer.from(`${head}\r\n`, 'latin1');
  for (let attempt = 0; ; attempt++) {
    // The second attempt on a new connection: another kept one may be as stale as the first (a
    // server that closes idle connections closes them all).
    const conn = connectionTo(url, attempt > 0);
    const reused = conn.used;
    const timer = setTimeout(() => conn.destroy(onTimeout()), timeoutMs);
    let got = 0;
    try {
      conn.socket.write(request);
      const text: Buffer[] = [];
      for (;;) {
        const piece = await conn.read();
        if (piece === undefined) throw failure('the connection closed before an answer', 'ECONNRESET');
        got += piece.byteLength;
        // The head ends at the first empty line; what follows it in the same read is the body's start.
        const prior = text.length === 0 ? undefined : Buffer.concat(text);
        const all = prior === undefined ? piece : Buffer.concat([prior, piece]);
        const end = all.indexOf('\r\n\r\n', Math.max(0, (prior?.byteLength ?? 0) - 3), 'latin1');
        if (end < 0) {
          if (all.byteLength > MAX_HEAD)
            throw failure('the answer headers are too large', 'HPE_HEADER_OVERFLOW');
          text.length = 0;
          text.push(Buffer.from(all)); // copied: the connection's buffer is read into again
          continue;
        }
        if (end > MAX_HEAD) throw failure('the answer headers are too large', 'HPE_HEADER_OVERFLOW');
        const answer = parseHead(all.toString('latin1', 0, end));
        const restStart = end + 4 - (prior?.byteLength ?? 0);
        const rest = restStart < piece.byteLength ? piece.subarray(Math.max(0, restStart)) : undefined;
        clearTimeout(timer);
        return frame(conn, answer, rest);
      }
    } catch (e) {
      clearTimeout(timer);
      conn.destroy();
      // A kept connection closed by the server as it was reused: once more on a new one.
      if (reused && got === 0 && attempt === 0 && !(e instanceof Error && e.name === 'TimeoutError'))
        continue;
      throw e;
    }
  }
}

interface Head {
  readonly minor: number;
  readonly status: number;
  readonly headers: Map<string, string>;
}

function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: [^\r\n]*)?$/.exec(lines[0] ?? '');
  if (m === null) throw failure('the answer is not HTTP/1.x', 'HPE_INVALID_CONSTANT');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const h = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (h === null) throw failure('the answer has a malformed header', 'HPE_INVALID_HEADER_TOKEN');
    const name = h[1]!.toLowerCase();
    const before = headers.get(name);
    headers.set(name, before === undefined ? h[2]! : `${before}, ${h[2]!}`);
  }
  return { minor: Number(m[1]), status: Number(m[2]), headers };
}

/** The answer with its body framed, or undefined (its connection closed) when it is not framed here. */
function frame(conn: Conn, head: Head, rest: Buffer | undefined): WireAnswer | undefined {
  const { status, headers } = head;
  if (status < 200 || headers.has('transfer-encoding')) {
    conn.destroy();
    return undefined;
  }
  const lengthText = headers.get('content-length');
  let length: number | undefined;
  if (status === 204 || status === 304) length = 0;
  else if (lengthText !== undefined) {
    if (!/^[0-9]{1,16}$/.test(lengthText)) {
      conn.destroy();
      throw failure(
        `the answer has an invalid Content-Length: ${lengthText.slice(0, 40)}`,
        'HPE_INVALID_CONTENT_LENGTH',
      );
    }
    length = Number(lengthText);
  }
  const connection = (headers.get('connection') ?? '').toLowerCase();
  const keepAlive = head.minor === 1 ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
  return { status, headers, body: new WireBody(conn, rest, length, keepAlive) };
}

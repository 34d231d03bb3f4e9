import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { makeDirs } from '../util/make-dirs.js';
import { decodeClosureManifest, MAX_OBJECT_SIZE } from './closure-manifest.js';
import { decodeSignatures } from './signing.js';

// `cald serve`: the HTTP cache layout (docs/distribution.md) served from a directory, so a
// machine can be a cache without a web server. GET and HEAD with ETag, If-None-Match and single
// byte ranges; with `writable`, PUT of objects (stored only when the bytes hash to the name) and
// of tags (only a closure or signature manifest). Nothing outside the two folders is served.

const OBJECT_PATH = /^\/objects\/sha256\/([0-9a-f]{64})$/;
const TAG_PATH = /^\/tags\/([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/;
const MAX_TAG = 4 * 1024 * 1024;

export interface ServeOptions {
  readonly dir: string;
  readonly writable: boolean;
  /** Called once per request, for a log line. */
  readonly log?: (line: string) => void;
}

export function createCacheServer(options: ServeOptions): Server {
  for (const d of ['objects/sha256', 'tags', 'tmp']) makeDirs(join(options.dir, d));
  return createServer((req, res) => {
    handle(options, req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
      options.log?.(`${req.method} ${req.url}: ${(e as Error).message}`);
    });
  });
}

async function handle(o: ServeOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const object = OBJECT_PATH.exec(path);
  const tag = TAG_PATH.exec(path);
  o.log?.(`${req.method} ${path}`);
  if (object === null && tag === null) return reply(res, 404, 'not found');
  const file = object !== null ? join(o.dir, 'objects', 'sha256', object[1]!) : join(o.dir, 'tags', tag![1]!);
  if (req.method === 'GET' || req.method === 'HEAD') return serveFile(req, res, file, object?.[1]);
  if (req.method === 'PUT') {
    if (!o.writable) return reply(res, 405, 'this cache is read-only (cald serve --writable)');
    return object !== null ? putObject(o, req, res, object[1]!, file) : putTag(o, req, res, file);
  }
  res.setHeader('allow', o.writable ? 'GET, HEAD, PUT' : 'GET, HEAD');
  return reply(res, 405, 'method not allowed');
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

function serveFile(req: IncomingMessage, res: ServerResponse, file: string, hex: string | undefined): void {
  let st: Stats;
  try {
    st = statSync(file);
  } catch {
    reply(res, 404, 'not found');
    return;
  }
  // An object's ETag is its name; a tag's changes with it (size and time are enough to revalidate).
  const etag =
    hex !== undefined
      ? `"sha256:${hex}"`
      : `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const headers: Record<string, string> = {
    etag,
    'accept-ranges': 'bytes',
    'cache-control': hex !== undefined ? 'public, max-age=31536000, immutable' : 'no-cache',
    'content-type': hex !== undefined ? 'application/octet-stream' : 'application/json',
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    return void res.end();
  }
  let start = 0;
  let end = st.size - 1;
  let status = 200;
  const range = req.headers.range;
  if (range !== undefined) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range);
    const first = m?.[1] === '' ? undefined : Number(m?.[1]);
    const last = m?.[2] === '' ? undefined : Number(m?.[2]);
    if (m === null || (first === undefined && last === undefined)) {
      reply(res, 416, 'bad range');
      return;
    }
    if (first === undefined) start = Math.max(0, st.size - last!);
    else {
      start = first;
      if (last !== undefined) end = Math.min(last, st.size - 1);
    }
    if (start > end || start >= st.size) {
      res.writeHead(416, { 'content-range': `bytes */${st.size}` });
      return void res.end();
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${end}/${st.size}`;
  }
  headers['content-length'] = String(st.size === 0 ? 0 : end - start + 1);
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || st.size === 0) return void res.end();
  createReadStream(file, { start, end }).pipe(res);
}

/** Reads a body into a private temp file, at most `max` bytes; its path and sha256. */
async function receive(
  o: ServeOptions,
  req: IncomingMessage,
  max: number,
): Promise<{ tmp: string; hex: string; size: number } | undefined> {
  const tmp = join(o.dir, 'tmp', `put-${process.pid}-${randomBytes(8).toString('hex')}`);
  const fd = openSync(tmp, 'wx', 0o600);
  const hash = createHash('sha256');
  let size = 0;
  let whole = false;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > max) return undefined;
      hash.update(chunk);
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    }
    fsyncSync(fd);
    whole = true;
    return { tmp, hex: hash.digest('hex'), size };
  } finally {
    closeSync(fd);
    // Too large, or the client went away mid-body: nothing of it stays in tmp/.
    if (!whole) rmSync(tmp, { force: true });
  }
}

async function putObject(
  o: ServeOptions,
  req: IncomingMessage,
  res: ServerResponse,
  hex: string,
  file: string,
): Promise<void> {
  const got = await receive(o, req, MAX_OBJECT_SIZE);
  if (got === undefined) return reply(res, 413, 'too large');
  if (got.hex !== hex) {
    rmSync(got.tmp, { force: true });
    return reply(res, 400, `the body hashes to sha256:${got.hex}, not sha256:${hex}`);
  }
  renameSync(got.tmp, file);
  reply(res, 201, 'stored');
}

async function putTag(
  o: ServeOptions,
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
): Promise<void> {
  const got = await receive(o, req, MAX_TAG);
  if (got === undefined) return reply(res, 413, 'too large');
  const bytes = readFileSync(got.tmp);
  // Only what cald itself reads back: a closure manifest, or the signatures of one.
  let ok = decodeSignatures(bytes).length > 0;
  if (!ok) {
    try {
      decodeClosureManifest(bytes, 'PUT');
      ok = true;
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    rmSync(got.tmp, { force: true });
    return reply(res, 400, 'not a cald closure or signature manifest');
  }
  renameSync(got.tmp, file);
  reply(res, 201, 'stored');
}

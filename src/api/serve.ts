import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { ioErrorFrom, UsageError } from '../errors/index.js';
import { createCacheServer } from '../remote/index.js';

export interface ServeOptions {
  /** The directory holding the cache (objects/, tags/); made if missing. */
  dir: string;
  /** `HOST:PORT` (default 127.0.0.1:8377); port 0 picks a free one. */
  listen?: string;
  /** Accept PUT of objects (verified) and closure manifests. */
  writable?: boolean;
  log?: (line: string) => void;
}

export interface Serving {
  readonly url: string;
  readonly dir: string;
  readonly server: Server;
  close(): Promise<void>;
}

function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[2]);
  if (m === null || port > 65535) throw new UsageError(`--listen ${listen}: not HOST:PORT`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Serves an HTTP cache directory (docs/distribution.md, "HTTP caches") until closed. */
export async function serve(options: ServeOptions): Promise<Serving> {
  const { host, port } = parseListen(options.listen ?? '127.0.0.1:8377');
  const dir = resolve(options.dir);
  let server: Server;
  try {
    server = createCacheServer({
      dir,
      writable: options.writable === true,
      ...(options.log ? { log: options.log } : {}),
    });
  } catch (e) {
    throw ioErrorFrom(e, 'make the cache directories in', dir);
  }
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(
        new UsageError(`cannot listen on ${host}:${port}: ${e.code ?? e.message}`, {
          hint: 'choose another --listen address',
        }),
      ),
    );
    server.listen(port, host, () => ok());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}`,
    dir,
    server,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

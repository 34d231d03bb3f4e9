// Requests through node:http (src/remote/http.ts): manifests, signatures, HEADs and uploads, from a
// server that answers by hand in the ways a broken or hostile one might.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RemoteError } from '../../src/errors/index.js';
import { readBody, request } from '../../src/remote/http.js';
import { HttpCache } from '../../src/remote/index.js';
import { byHand } from '../helpers/hostile-server.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';

const answer = (body: string) =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('requests through node:http', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  test('a body that trickles (slower than 1 KiB/s over the stall time) is stalled; a steady one is read', async () => {
    // 10 bytes every 20 ms (500 bytes a second), or the whole body at once.
    const size = 20_000;
    const s = await byHand((socket, path) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
      if (path === '/fast') return void socket.write(Buffer.alloc(size, 0x61));
      let sent = 0;
      const tick = setInterval(() => {
        if (socket.destroyed || sent >= size) return void clearInterval(tick);
        socket.write(Buffer.alloc(10, 0x61));
        sent += 10;
      }, 20);
    });
    servers.push(s.server);
    // 400 ms of stall time asks for 409 bytes in each 400 ms: the trickle brings ~200.
    const slow = await request(`${s.url}/slow`);
    await assert.rejects(
      readBody(slow, size, () => {}, 400),
      (e: unknown) => {
        assert.ok(e instanceof RemoteError && e.code === 'REMOTE_STALLED', String(e));
        assert.match((e as Error).message, /bytes in 0\.4 s, slower than 1024 bytes a second/);
        return true;
      },
    );
    const fast = await request(`${s.url}/fast`);
    assert.equal(await readBody(fast, size, () => {}, 400), size);
  });

  test('a kept connection the server closes under the next request: asked again on a new one', async () => {
    // As a server that closes idle connections without saying so: the second request goes out
    // on the kept connection, and the server closes it without an answer.
    const s = await byHand((socket, path, n) => {
      if (n > 0) return void socket.destroy();
      socket.write(answer(`manifest ${path}`));
    });
    servers.push(s.server);
    const cache = new HttpCache(s.url, {});
    for (const tag of ['one', 'two', 'three']) {
      const got = await cache.getManifest(tag);
      assert.equal(got?.bytes.toString(), `manifest /tags/${tag}`);
    }
    assert.equal(s.connections(), 3);
  });

  test('a TLS certificate not trusted here, or plain HTTP on an https: URL: said so in one line', async (t) => {
    if (!hasTool('openssl')) return t.skip('no openssl to make a certificate');
    const dir = makeTmp({ after }, 'http-tls');
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    const made = run('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=example.org'],
      ...['-keyout', key, '-out', cert],
    ]);
    assert.equal(made.status, 0, made.stderr);
    const tls = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_q, r) =>
      r.end('{}'),
    );
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', () => r()));
    // Plain HTTP answering the TLS hello (as any HTTP server does: 400).
    const plain = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n'));
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
    servers.push(plain);
    try {
      const cases: Array<[string, RegExp]> = [
        [
          `https://127.0.0.1:${(tls.address() as { port: number }).port}`,
          /its TLS certificate is self-signed/,
        ],
        [`https://127.0.0.1:${(plain.address() as { port: number }).port}`, /the TLS handshake failed/],
      ];
      for (const [url, want] of cases) {
        await assert.rejects(new HttpCache(url, {}).getManifest('one'), (e: unknown) => {
          assert.ok(e instanceof RemoteError);
          assert.equal(e.code, 'REMOTE_UNREACHABLE');
          assert.match(e.message, /^cannot reach https:\/\/127\.0\.0\.1:\d+ safely: /);
          assert.match(e.message, want);
          assert.match(e.hint ?? '', /NODE_EXTRA_CA_CERTS/);
          return true;
        });
      }
    } finally {
      tls.close();
    }
  });
});

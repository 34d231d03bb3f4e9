// An HTTP cache's objects read into one reused buffer per connection (src/remote/wire.ts), as a
// lazy fetch and a pull read them: a server that answers by hand, in every shape a broken or
// hostile one might, and what the store keeps (only whole objects that hash to their name).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fetchObjectInto } from '../../src/api/fetch-object.js';
import { openForWrite } from '../../src/api/store-open.js';
import { RemoteError } from '../../src/errors/index.js';
import { HttpCache } from '../../src/remote/index.js';
import { Digest } from '../../src/store/index.js';
import { byHand } from '../helpers/hostile-server.js';
import { makeTmp } from '../helpers/tmp.js';

const digestOf = (b: Buffer) => Digest.parse(`sha256:${createHash('sha256').update(b).digest('hex')}`);
const ok = (b: Buffer, extra = '') => `HTTP/1.1 200 OK\r\ncontent-length: ${b.length}\r\n${extra}\r\n`;

describe('an HTTP cache read into a reused buffer (wire.ts)', () => {
  const dir = makeTmp({ after }, 'wire');
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });
  let stores = 0;
  const fetchFrom = async (
    answer: (socket: Socket, path: string, n: number) => void,
    objects: Buffer[],
  ): Promise<{
    results: Array<'stored' | 'absent' | Error>;
    store: string;
    requests: number;
    connections: number;
  }> => {
    const s = await byHand(answer);
    servers.push(s.server);
    const { store } = await openForWrite({ store: join(dir, `store-${stores++}`), env: {} });
    const remote = new HttpCache(s.url, {});
    const results: Array<'stored' | 'absent' | Error> = [];
    try {
      for (const b of objects) {
        try {
          const got = await fetchObjectInto(store, remote, digestOf(b), { syncDir: true });
          results.push(got === undefined ? 'absent' : 'stored');
        } catch (e) {
          results.push(e as Error);
        }
      }
    } finally {
      store.close();
    }
    return { results, store: store.root, requests: s.requests(), connections: s.connections() };
  };
  const stored = (store: string) => readdirSync(join(store, 'objects', 'sha256')).sort();
  const checkClean = (store: string, want: Buffer[]) => {
    assert.deepEqual(stored(store), want.map((b) => digestOf(b).hex).sort());
    for (const b of want)
      assert.ok(readFileSync(join(store, 'objects', 'sha256', digestOf(b).hex)).equals(b));
    assert.deepEqual(readdirSync(join(store, 'tmp')), []);
  };
  const codeOf = (r: unknown) => (r instanceof RemoteError ? r.code : String(r));

  test('objects over one kept connection, each in pieces, one larger than a read: stored as sent', async () => {
    const objects = [
      randomBytes(3 * 1024 * 1024 + 17),
      randomBytes(1000),
      Buffer.alloc(0),
      randomBytes(70_000),
    ];
    const byHex = new Map(objects.map((b) => [digestOf(b).hex, b]));
    const { results, store, requests, connections } = await fetchFrom((socket, path) => {
      const b = byHex.get(path.split('/').pop()!)!;
      socket.write(ok(b));
      for (let at = 0; at < b.length; at += 100_000) socket.write(b.subarray(at, at + 100_000));
    }, objects);
    assert.deepEqual(results, ['stored', 'stored', 'stored', 'stored']);
    assert.equal(requests, 4);
    checkClean(store, objects);
    assert.equal(connections, 1);
  });

  test('wrong bytes, a body cut short, a bad Content-Length, not HTTP, endless headers: nothing stored', async () => {
    const b = randomBytes(300_000);
    const cases: Array<[string, (socket: Socket) => void, RegExp]> = [
      ['wrong bytes', (s) => s.end(ok(b) + 'x'.repeat(b.length)), /REMOTE_DIGEST_MISMATCH/],
      [
        'cut short',
        (s) => s.end(Buffer.concat([Buffer.from(ok(b)), b.subarray(0, 1000)])),
        /REMOTE_TRUNCATED/,
      ],
      [
        'a bad Content-Length',
        (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 12, 13\r\n\r\n'),
        /REMOTE_UNREACHABLE/,
      ],
      ['not HTTP', (s) => s.end('SSH-2.0-OpenSSH\r\n\r\n'), /REMOTE_UNREACHABLE/],
      [
        'endless headers',
        (s) => s.end(`HTTP/1.1 200 OK\r\n${'x-a: b\r\n'.repeat(20_000)}`),
        /REMOTE_UNREACHABLE/,
      ],
    ];
    for (const [what, answer, want] of cases) {
      const { results, store } = await fetchFrom((socket) => answer(socket), [b]);
      assert.match(codeOf(results[0]), want, what);
      checkClean(store, []);
    }
  });

  test('bytes past the body (an empty one too): the object is stored, the connection not used again', async () => {
    const objects = [randomBytes(50_000), Buffer.alloc(0), randomBytes(60_000)];
    const byHex = new Map(objects.map((b) => [digestOf(b).hex, b]));
    const { results, store, connections } = await fetchFrom((socket, path) => {
      const b = byHex.get(path.split('/').pop()!)!;
      socket.write(Buffer.concat([Buffer.from(ok(b)), b, Buffer.from('HTTP/1.1 200 OK\r\n\r\nstray')]));
    }, objects);
    assert.deepEqual(results, ['stored', 'stored', 'stored']);
    assert.equal(connections, 3, 'a new connection after each answer with bytes past its body');
    checkClean(store, objects);
  });

  test('a kept connection the server closes under the next request: asked again on a new one', async () => {
    const objects = [randomBytes(10_000), randomBytes(20_000)];
    const byHex = new Map(objects.map((b) => [digestOf(b).hex, b]));
    const seen = new Set<Socket>();
    const { results, store } = await fetchFrom((socket, path) => {
      if (seen.has(socket)) return void socket.destroy(); // the second request on this connection
      seen.add(socket);
      const b = byHex.get(path.split('/').pop()!)!;
      socket.write(Buffer.concat([Buffer.from(ok(b)), b]));
    }, objects);
    assert.deepEqual(results, ['stored', 'stored']);
    checkClean(store, objects);
  });

  test('every kept connection closed by the server under the next request: the second try is on a new one', async () => {
    // Two answered at once leave two kept connections; the server closes each as its next
    // request comes, so a second try on the other kept connection would fail the same way.
    const objects = [randomBytes(10_000), randomBytes(20_000), randomBytes(30_000)];
    const byHex = new Map(objects.map((b) => [digestOf(b).hex, b]));
    const seen = new Set<Socket>();
    const s = await byHand((socket, path) => {
      if (seen.has(socket)) return void socket.destroy();
      seen.add(socket);
      const b = byHex.get(path.split('/').pop()!)!;
      socket.write(Buffer.concat([Buffer.from(ok(b)), b]));
    });
    servers.push(s.server);
    const { store } = await openForWrite({ store: join(dir, `store-${stores++}`), env: {} });
    const remote = new HttpCache(s.url, {});
    try {
      const fetch = (b: Buffer) => fetchObjectInto(store, remote, digestOf(b), { syncDir: true });
      await Promise.all([fetch(objects[0]!), fetch(objects[1]!)]);
      assert.equal(s.connections(), 2);
      await fetch(objects[2]!);
    } finally {
      store.close();
    }
    checkClean(store.root, objects);
  });

  test('a 404 whose body never comes: absent, in bounded time (not waited for as long as the server holds it)', {
    timeout: 20_000,
  }, async () => {
    const b = randomBytes(100);
    const { results, store } = await fetchFrom(
      (socket) => socket.write('HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\n'),
      [b],
    );
    assert.deepEqual(results, ['absent']);
    checkClean(store, []);
  });

  test('a body up to the close, a redirect, a 404, a chunked body (node:http reads it): as node:http would', async () => {
    const objects = [randomBytes(40_000), randomBytes(60_000), randomBytes(10), randomBytes(50_000)];
    const [plain, moved, missing, chunked] = objects as [Buffer, Buffer, Buffer, Buffer];
    const byHex = new Map(objects.map((b) => [digestOf(b).hex, b]));
    const { results, store } = await fetchFrom((socket, path) => {
      const hex = path.split('/').pop()!;
      const b = byHex.get(hex.replace('.moved', ''));
      if (b === plain)
        socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n'), b]));
      else if (b === chunked) {
        socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
        socket.write(`${b.length.toString(16)}\r\n`);
        socket.write(Buffer.concat([b, Buffer.from('\r\n0\r\n\r\n')]));
      } else if (b === moved && !path.endsWith('.moved')) {
        socket.write(`HTTP/1.1 302 Found\r\nlocation: ${path}.moved\r\ncontent-length: 0\r\n\r\n`);
      } else if (b === moved) socket.write(Buffer.concat([Buffer.from(ok(b)), b]));
      else socket.write('HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found');
    }, objects);
    assert.deepEqual(results, ['stored', 'stored', 'absent', 'stored']);
    checkClean(store, [plain, moved, chunked]);
    assert.ok(missing.length > 0);
  });
});

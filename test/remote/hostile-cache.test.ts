// A hostile HTTP cache against the cald command (pull, and run's fetch of a program it lacks): a
// server this test runs answers the manifest as a cache would and each object by hand, in one
// broken way per case. Each must end in one line and its exit status, with nothing left in the
// store but whole objects that hash to their names (tmp/ empty).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { caldAsync } from '../cli/cald.js';
import { byHand, closureManifestJson } from '../helpers/hostile-server.js';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine } from '../store/helpers/robust.js';

const object = Buffer.from('\x7fELF pretend object bytes');
const hex = createHash('sha256').update(object).digest('hex');
const layer = (name = 'tool') => ({
  mediaType: 'application/vnd.cald.object.v1',
  digest: `sha256:${hex}`,
  size: object.length,
  annotations: { 'dev.cald.name': name },
});
const manifestOf = (layers: unknown[], program = `cas:sha256:${hex}?name=tool`) =>
  closureManifestJson(layers, { 'dev.cald.program': program });

/** A cache whose tags/tool is `manifest`, and whose object is answered by `answer`. */
async function cache(
  answer: (socket: Socket) => void,
  manifest = manifestOf([layer()]),
): Promise<{ url: string; server: Server }> {
  return byHand((socket, path) => {
    if (path.endsWith('/tags/tool'))
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(manifest)}\r\n\r\n${manifest}`);
    else if (path.endsWith(`/objects/sha256/${hex}`)) answer(socket);
    else socket.write('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
  });
}

describe('a hostile HTTP cache: one line, its exit status, nothing half-stored', () => {
  const dir = makeTmp({ after }, 'hostile-cache');
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  const cases: Array<{ name: string; answer: (socket: Socket) => void; want: RegExp }> = [
    {
      // The body of an error answer is read to its end to keep the connection; the process must
      // stay alive for it (the socket does not keep it alive).
      name: 'a 403 whose body comes a moment after its headers',
      answer: (socket) => {
        socket.write('HTTP/1.1 403 Forbidden\r\ncontent-length: 9\r\n\r\n');
        setTimeout(() => socket.write('forbidden'), 100);
      },
      want: /GET sha256:[0-9a-f]{64} failed with HTTP 403/,
    },
    // A server reached whose answer is broken: said so, not "cannot reach" with a hint to check
    // the address.
    {
      name: 'headers that never end',
      answer: (socket) => socket.end(`HTTP/1.1 200 OK\r\n${'x-a: b\r\n'.repeat(20_000)}`),
      want: /http:\/\/127\.0\.0\.1:\d+ answered with headers that are too large, refused$/,
    },
    {
      name: 'two Content-Lengths',
      answer: (socket) =>
        socket.end(
          `HTTP/1.1 200 OK\r\ncontent-length: ${object.length}\r\ncontent-length: 5\r\n\r\n${object}`,
        ),
      want: /http:\/\/127\.0\.0\.1:\d+ answered with an invalid Content-Length, refused$/,
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const s = await cache(c.answer);
      servers.push(s.server);
      const slug = c.name.replace(/\W+/g, '-');
      const pullStore = join(dir, `${slug}-pull`);
      const pulled = await caldAsync(['pull', s.url, 'tool', '--allow-unsigned'], {
        env: { CALD_STORE: pullStore },
      });
      assert.equal(pulled.status, 7, pulled.stderr);
      assertOneLine(pulled, `pull: ${c.name}`, c.want);
      const runStore = join(dir, `${slug}-run`);
      const ran = await caldAsync(['run', `cas:sha256:${hex}`], {
        env: { CALD_STORE: runStore, CALD_SUBSTITUTERS: s.url },
      });
      assert.equal(ran.status, 126, ran.stderr);
      assertOneLine(ran, `run: ${c.name}`, c.want);
      for (const store of [pullStore, runStore]) {
        if (!existsSync(store)) continue;
        assert.deepEqual(readdirSync(join(store, 'objects', 'sha256')), [], store);
        assert.deepEqual(readdirSync(join(store, 'tmp')), [], store);
      }
    });
  }

  test('run with one substituter that cannot be reached: its own line and hint', async () => {
    const ran = await caldAsync(['run', `cas:sha256:${hex}`], {
      env: { CALD_STORE: join(dir, 'unreachable-run'), CALD_SUBSTITUTERS: 'http://127.0.0.1:1' },
    });
    assert.equal(ran.status, 126, ran.stderr);
    assert.match(ran.stderr, /^cald: cannot reach http:\/\/127\.0\.0\.1:1: connection refused\n/);
    assert.match(ran.stderr, /^hint: check the address and that the server is running$/m);
  });

  // Refused before any object is fetched or a store made, as the remote's fault (exit 7).
  const manifests: Array<{ name: string; manifest: string; want: RegExp }> = [
    {
      // Each hint passes on its own; the name it makes does not (the store refused it at the end,
      // exit 2, after every object had been fetched).
      name: 'a name hint that makes the name longer than a name may be',
      manifest: manifestOf([layer('a'.repeat(300))]),
      want: /not a cald closure manifest: layer 0: name .* over the 255-byte limit/,
    },
    {
      name: 'an object listed twice',
      manifest: manifestOf([layer(), layer()]),
      want: /not a cald closure manifest: layer 1 repeats layer 0/,
    },
    {
      // It is signed and shown: a name as the spec has it, not the digest with anything after it.
      name: 'a program annotation with more after the digest',
      manifest: manifestOf([layer()], `cas:sha256:${hex}${'x'.repeat(1000)}`),
      want: /not a cald closure manifest: the program annotation does not name the first layer/,
    },
  ];

  for (const c of manifests) {
    test(`manifest: ${c.name}`, async () => {
      const s = await cache((socket) => {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${object.length}\r\n\r\n`);
        socket.write(object);
      }, c.manifest);
      servers.push(s.server);
      const store = join(dir, c.name.replace(/\W+/g, '-'));
      const pulled = await caldAsync(['pull', s.url, 'tool', '--allow-unsigned'], {
        env: { CALD_STORE: store },
      });
      assert.equal(pulled.status, 7, pulled.stderr);
      assertOneLine(pulled, c.name, c.want);
      assert.equal(existsSync(store), false);
    });
  }
});

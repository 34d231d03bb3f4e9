// cald push and pull against a real registry (Debian's docker-registry on 127.0.0.1, with and
// without basic auth), checked with an independent client (skopeo copies what was pushed and
// verifies every blob) and sha256sum; and against a hostile server this test runs, whose every
// lie must end in one line, exit status 7 and nothing stored.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cald, caldAsync } from '../cli/cald.js';
import { closureManifestJson } from '../helpers/hostile-server.js';
import { freePort, type Registry, registryUnavailable, startRegistry } from '../helpers/registry.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine } from '../store/helpers/robust.js';

const SQLITE3 = '/usr/bin/sqlite3';
const QUERY = [':memory:', "select 'by content', sqlite_version()"];

const objectsOf = (store: string): string[] => readdirSync(join(store, 'objects', 'sha256')).sort();
const tmpOf = (store: string): string[] => readdirSync(join(store, 'tmp'));

describe('cald push and pull with a registry', { skip: registryUnavailable() ?? false }, () => {
  const dir = makeTmp({ after }, 'oci');
  const source = join(dir, 'source');
  let registry: Registry;
  let program = '';
  const secret = join(dir, 'secret.key');
  let publicKey = '';
  /** Pushes sign with the test key, pulls trust it (and nothing from the user's own config). */
  const signed = (extra: Record<string, string> = {}) => ({
    XDG_CONFIG_HOME: join(dir, 'config'),
    CALD_SIGNING_KEY_FILE: secret,
    CALD_TRUSTED_PUBLIC_KEYS: publicKey,
    ...extra,
  });

  before(async () => {
    registry = await startRegistry(join(dir, 'registry'));
    const r = cald(['import', SQLITE3], { env: { CALD_STORE: source } });
    assert.equal(r.status, 0, r.stderr);
    program = r.stdout.split(/\s+/)[0]!;
    const key = cald(['key', 'generate', 'test-cache-1', '--secret-file', secret]);
    assert.equal(key.status, 0, key.stderr);
    publicKey = key.stdout.trim();
    assert.match(publicKey, /^test-cache-1:[A-Za-z0-9+/]{43}=$/);
  });
  after(async () => registry?.stop());

  test('push uploads the closure once; skopeo reads back every object, byte for byte', async (t) => {
    const remote = `oci://${registry.address}/tools/sqlite`;
    const first = cald(['push', remote, 'sqlite3', '--json'], { env: signed({ CALD_STORE: source }) });
    assert.equal(first.status, 0, first.stderr);
    const report = JSON.parse(first.stdout);
    assert.equal(report.program, program);
    assert.equal(report.objects, objectsOf(source).length);
    assert.equal(report.uploaded, report.objects);
    assert.deepEqual(report.tags, ['sqlite3', `sha256-${program.slice(11, 75)}`]);
    assert.equal(report.signedBy, 'test-cache-1');
    const again = JSON.parse(
      cald(['push', remote, 'sqlite3', '--json'], { env: signed({ CALD_STORE: source }) }).stdout,
    );
    assert.equal(again.uploaded, 0, 'only what the registry lacks is sent');
    assert.equal(again.manifest, report.manifest, 'the same closure gives the same manifest');

    if (!hasTool('skopeo')) return t.skip('skopeo is not installed');
    const layout = join(dir, 'skopeo-layout');
    const copy = run('skopeo', [
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.address}/tools/sqlite:sqlite3`,
      `oci:${layout}:x`,
    ]);
    assert.equal(copy.status, 0, copy.stderr);
    const raw = run('skopeo', [
      'inspect',
      '--tls-verify=false',
      '--raw',
      `docker://${registry.address}/tools/sqlite:sqlite3`,
    ]);
    const manifest = JSON.parse(raw.stdout);
    assert.equal(manifest.artifactType, 'application/vnd.cald.closure.v1');
    assert.equal(`sha256:${createHash('sha256').update(raw.stdout).digest('hex')}`, report.manifest);
    const layers = manifest.layers.map((l: { digest: string }) => l.digest.slice(7)).sort();
    assert.deepEqual(layers, objectsOf(source));
    for (const hex of layers) {
      const sum = run('sha256sum', [join(layout, 'blobs', 'sha256', hex)]).stdout.split(' ')[0];
      assert.equal(sum, hex);
    }
  });

  test('pull into an empty store: the same objects, verified, and the program runs the same', () => {
    const remote = `oci://${registry.address}/tools/sqlite`;
    assert.equal(cald(['push', remote, 'sqlite3'], { env: signed({ CALD_STORE: source }) }).status, 0);
    for (const reference of ['sqlite3', program]) {
      const dest = join(makeTmp({ after }, 'oci-dest'), 'store');
      const r = cald(['pull', remote, reference, '--json'], { env: signed({ CALD_STORE: dest }) });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).program, program);
      assert.equal(JSON.parse(r.stdout).signedBy, 'test-cache-1');
      assert.deepEqual(objectsOf(dest), objectsOf(source));
      assert.deepEqual(tmpOf(dest), []);
      const verify = cald(['verify', '--store', dest]);
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
      const ran = cald(['run', 'sqlite3', ...QUERY], { env: { CALD_STORE: dest } });
      const host = run(SQLITE3, QUERY);
      assert.equal(ran.status, 0, ran.stderr);
      assert.equal(ran.stdout, host.stdout);
      const again = JSON.parse(
        cald(['pull', remote, reference, '--json'], { env: signed({ CALD_STORE: dest }) }).stdout,
      );
      assert.equal(again.fetched, 0, 'nothing fetched twice');
    }
  });

  test('signatures: unsigned, signed by a key not trusted here, forged: refused before any object is fetched', () => {
    const remote = `oci://${registry.address}/tools/unsigned`;
    const unsignedPush = cald(['push', remote, 'sqlite3', '--json'], {
      env: signed({ CALD_STORE: source, CALD_SIGNING_KEY_FILE: undefined as unknown as string }),
    });
    assert.equal(unsignedPush.status, 0, unsignedPush.stderr);
    assert.equal(JSON.parse(unsignedPush.stdout).signedBy, null);
    const dest = join(dir, 'untrusted-dest');
    const unsigned = cald(['pull', remote, 'sqlite3'], { env: signed({ CALD_STORE: dest }) });
    assert.equal(unsigned.status, 7);
    assertOneLine(unsigned, 'unsigned', /refused: it is not signed/);
    assert.ok(!existsSync(dest), 'nothing stored, not even a store made');
    // Signed by a key the puller does not trust.
    const other = join(dir, 'other.key');
    assert.equal(cald(['key', 'generate', 'someone-else', '--secret-file', other]).status, 0);
    assert.equal(
      cald(['push', remote, 'sqlite3', '--sign-key', other], { env: signed({ CALD_STORE: source }) }).status,
      0,
    );
    const untrusted = cald(['pull', remote, 'sqlite3'], { env: signed({ CALD_STORE: dest }) });
    assert.equal(untrusted.status, 7);
    assertOneLine(untrusted, 'untrusted', /signed by someone-else, none of them trusted here/);
    // A signature under the trusted name that does not verify (made by another key).
    const forger = join(dir, 'forger.key');
    assert.equal(cald(['key', 'generate', 'test-cache-1', '--secret-file', forger]).status, 0);
    assert.equal(
      cald(['push', remote, 'sqlite3', '--sign-key', forger], { env: signed({ CALD_STORE: source }) }).status,
      0,
    );
    const forged = cald(['pull', remote, 'sqlite3'], { env: signed({ CALD_STORE: dest }) });
    assert.equal(forged.status, 7);
    assertOneLine(forged, 'forged', /the signatures of test-cache-1 do not verify/);
    assert.ok(!existsSync(dest));
    // The real key signs too: both signatures kept, the pull takes it.
    assert.equal(cald(['push', remote, 'sqlite3'], { env: signed({ CALD_STORE: source }) }).status, 0);
    const ok = cald(['pull', remote, 'sqlite3', '--json'], { env: signed({ CALD_STORE: dest }) });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).signedBy, 'test-cache-1');
    // --allow-unsigned takes what no one signed, and says the signature was not checked.
    const other2 = join(dir, 'allowed-dest');
    const allowed = cald(['pull', `oci://${registry.address}/tools/sqlite`, 'sqlite3', '--allow-unsigned'], {
      env: signed({ CALD_STORE: other2, CALD_TRUSTED_PUBLIC_KEYS: '' }),
    });
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.match(allowed.stderr, /signature not checked \(--allow-unsigned\)/);
  });

  test('keys: the secret file is 0600 and never replaced; its public key printed again', () => {
    const file = join(dir, 'k2.key');
    const made = cald(['key', 'generate', 'k2', '--secret-file', file]);
    assert.equal(made.status, 0, made.stderr);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = cald(['key', 'generate', 'k2', '--secret-file', file]);
    assert.equal(again.status, 2);
    assertOneLine(again, 'existing key file', /exists: a secret key is never replaced/);
    assert.equal(cald(['key', 'public', '--secret-file', file]).stdout, made.stdout);
    const badName = cald(['key', 'generate', 'bad name', '--secret-file', join(dir, 'k3.key')]);
    assert.equal(badName.status, 2);
  });

  test('an unknown tag and a bad remote: one line each', () => {
    const env = { CALD_STORE: join(dir, 'nothing') };
    const missing = cald(['pull', `oci://${registry.address}/tools/sqlite`, 'no-such-tag'], { env });
    assert.equal(missing.status, 7);
    assertOneLine(missing, 'unknown tag', /has no no-such-tag/);
    const bad = cald(['pull', 'oci://127.0.0.1/Upper/../x', 'tag'], { env });
    assert.equal(bad.status, 2);
    assertOneLine(bad, 'bad repository');
    const port = cald(['pull', 'oci://127.0.0.1:1/tools', 'tag'], { env });
    assert.equal(port.status, 7);
    assertOneLine(port, 'nothing listening', /cannot reach http:\/\/127\.0\.0\.1:1/);
  });
});

describe('a registry with basic authentication', { skip: registryUnavailable() ?? false }, () => {
  const dir = makeTmp({ after }, 'oci-auth');
  const source = join(dir, 'source');
  let registry: Registry;

  before(async () => {
    registry = await startRegistry(join(dir, 'registry'), { user: 'alice', password: 's3cret' });
    assert.equal(cald(['import', SQLITE3], { env: { CALD_STORE: source } }).status, 0);
  });
  after(async () => registry?.stop());

  test('no credentials, wrong ones, then CALD_REGISTRY_* and docker config.json', () => {
    const remote = `oci://${registry.address}/private/sqlite`;
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true });
    const base = { CALD_STORE: source, HOME: home, DOCKER_CONFIG: join(dir, 'no-docker') };
    const none = cald(['push', remote, 'sqlite3'], { env: base });
    assert.equal(none.status, 7);
    assertOneLine(none, 'no credentials', /wants credentials and none are configured/);
    const wrong = cald(['push', remote, 'sqlite3'], {
      env: { ...base, CALD_REGISTRY_USER: 'alice', CALD_REGISTRY_PASSWORD: 'nope' },
    });
    assert.equal(wrong.status, 7);
    assertOneLine(wrong, 'wrong password', /refused the credentials/);
    const ok = cald(['push', remote, 'sqlite3'], {
      env: { ...base, CALD_REGISTRY_USER: 'alice', CALD_REGISTRY_PASSWORD: 's3cret' },
    });
    assert.equal(ok.status, 0, ok.stderr);
    const docker = join(dir, 'docker');
    mkdirSync(docker, { recursive: true });
    writeFileSync(
      join(docker, 'config.json'),
      JSON.stringify({
        auths: { [registry.address]: { auth: Buffer.from('alice:s3cret').toString('base64') } },
      }),
    );
    const dest = join(dir, 'dest');
    const pulled = cald(['pull', remote, 'sqlite3', '--allow-unsigned'], {
      env: { CALD_STORE: dest, HOME: home, DOCKER_CONFIG: docker },
    });
    assert.equal(pulled.status, 0, pulled.stderr);
    assert.deepEqual(objectsOf(dest), objectsOf(source));
  });
});

/** A server that answers like a registry but lies in one way per test. */
async function hostile(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ address: string; close: () => Promise<void> }> {
  const port = await freePort();
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('a hostile registry: nothing stored, one line, exit 7', () => {
  const dir = makeTmp({ after }, 'oci-hostile');
  const lib = Buffer.from('\x7fELF pretend object bytes');
  const libHex = createHash('sha256').update(lib).digest('hex');
  const program = `cas:sha256:${libHex}?name=tool`;
  const manifest = (
    layers: unknown[],
    annotations: Record<string, string> = { 'dev.cald.program': program },
  ) => closureManifestJson(layers, annotations);
  const layer = (extra: Record<string, unknown> = {}) => ({
    mediaType: 'application/vnd.cald.object.v1',
    digest: `sha256:${libHex}`,
    size: lib.length,
    annotations: { 'dev.cald.name': 'tool' },
    ...extra,
  });

  const cases: Array<{ name: string; manifest?: string; blob: (res: ServerResponse) => void; want: RegExp }> =
    [
      {
        name: 'wrong bytes for the digest',
        blob: (res) => res.end(Buffer.alloc(lib.length, 0x42)),
        want: /blob sha256:[0-9a-f]+ arrived as sha256:/,
      },
      {
        name: 'a truncated body',
        blob: (res) => {
          res.writeHead(200, { 'content-length': String(lib.length) });
          res.write(lib.subarray(0, 5), () => setTimeout(() => res.destroy(), 50));
        },
        want: /broke off|ended after/,
      },
      {
        name: 'an endless body',
        blob: (res) => {
          res.writeHead(200);
          const chunk = Buffer.alloc(64 * 1024, 0x41);
          const pump = () => {
            while (res.write(chunk)) {}
            res.once('drain', pump);
          };
          pump();
        },
        want: /more than \d+ bytes/,
      },
      {
        name: 'a redirect loop',
        blob: (res) => {
          res.writeHead(302, { location: '/v2/x/blobs/again' });
          res.end();
        },
        want: /more than 5 redirects/,
      },
      {
        name: 'a redirect to another scheme',
        blob: (res) => {
          res.writeHead(302, { location: 'file:///etc/passwd' });
          res.end();
        },
        want: /redirected to file: URL, refused/,
      },
      {
        name: 'a path trick in an object name',
        manifest: manifest([layer({ annotations: { 'dev.cald.name': '../../etc/x' } })]),
        blob: (res) => res.end(lib),
        want: /not a cald closure manifest: layer 0/,
      },
      {
        name: 'a huge declared size',
        manifest: manifest([layer({ size: 2 ** 60 })]),
        blob: (res) => res.end(lib),
        want: /size out of bounds/,
      },
      {
        name: 'another kind of artifact',
        manifest: JSON.stringify({ schemaVersion: 2, artifactType: 'application/vnd.example', layers: [] }),
        blob: (res) => res.end(lib),
        want: /artifactType is "application\/vnd.example"/,
      },
    ];

  for (const c of cases) {
    test(c.name, async () => {
      const server = await hostile((req, res) => {
        if (req.url === '/v2/') return res.end('{}');
        if (req.url?.includes('/manifests/')) {
          res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
          return res.end(c.manifest ?? manifest([layer()]));
        }
        if (req.url?.includes('/blobs/')) return c.blob(res);
        res.writeHead(404);
        res.end();
      });
      try {
        const store = join(dir, c.name.replace(/\W+/g, '-'), 'store');
        const started = Date.now();
        const r = await caldAsync(['pull', `oci://${server.address}/x`, 'tool', '--allow-unsigned'], {
          env: { CALD_STORE: store },
        });
        assert.ok(Date.now() - started < 30_000, 'bounded time');
        assert.equal(r.status, 7, r.stderr);
        assertOneLine(r, c.name, c.want);
        // A manifest refused before any download leaves no store at all: nothing stored too.
        if (existsSync(store)) {
          assert.deepEqual(objectsOf(store), []);
          assert.deepEqual(tmpOf(store), []);
        }
      } finally {
        await server.close();
      }
    });
  }

  test('a token realm that is not an http(s) URL: one line, exit 7, no store made', async () => {
    for (const realm of ['::not a url', 'file:///etc/passwd']) {
      const server = await hostile((_req, res) => {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="x"` });
        res.end('{}');
      });
      try {
        const store = join(dir, 'realm', 'store');
        const r = await caldAsync(['pull', `oci://${server.address}/x`, 'tool', '--allow-unsigned'], {
          env: { CALD_STORE: store },
        });
        assert.equal(r.status, 7, r.stderr);
        assertOneLine(r, realm, /names a token server that is not an http\(s\) URL/);
        assert.equal(existsSync(store), false);
      } finally {
        await server.close();
      }
    }
  });

  test('a registry that stops halfway: nothing half-stored; the next pull completes it', async (t) => {
    if (registryUnavailable() !== null) return t.skip(registryUnavailable()!);
    const source = join(dir, 'halfway-source');
    assert.equal(cald(['import', SQLITE3], { env: { CALD_STORE: source } }).status, 0);
    const real = await startRegistry(join(dir, 'halfway-registry'));
    try {
      const remote = `oci://${real.address}/tools/sqlite`;
      assert.equal(cald(['push', remote, 'sqlite3'], { env: { CALD_STORE: source } }).status, 0);
      // A proxy that passes the manifest and the first blobs through, then cuts every body short.
      let served = 0;
      const proxy = await hostile(async (req, res) => {
        const upstream = await fetch(`${real.url}${req.url}`, {
          headers: { accept: String(req.headers.accept ?? '*/*') },
        });
        const body = Buffer.from(await upstream.arrayBuffer());
        const isBlob = req.url?.includes('/blobs/') === true;
        if (isBlob && ++served > 3) {
          res.writeHead(200, { 'content-length': String(body.length) });
          res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.destroy(), 50));
          return;
        }
        res.writeHead(upstream.status, {
          'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream',
        });
        res.end(body);
      });
      const dest = join(dir, 'halfway-dest');
      const cut = await caldAsync(
        ['pull', `oci://${proxy.address}/tools/sqlite`, 'sqlite3', '--allow-unsigned'],
        {
          env: { CALD_STORE: dest },
        },
      );
      await proxy.close();
      assert.equal(cut.status, 7, cut.stderr);
      assertOneLine(cut, 'cut short', /broke off|ended after/);
      const partial = objectsOf(dest);
      assert.ok(partial.length < objectsOf(source).length);
      for (const hex of partial) {
        assert.equal(
          createHash('sha256')
            .update(readFileSync(join(dest, 'objects', 'sha256', hex)))
            .digest('hex'),
          hex,
        );
      }
      assert.deepEqual(tmpOf(dest), []);
      const done = cald(['pull', remote, 'sqlite3', '--json', '--allow-unsigned'], {
        env: { CALD_STORE: dest },
      });
      assert.equal(done.status, 0, done.stderr);
      assert.equal(JSON.parse(done.stdout).fetched, objectsOf(source).length - partial.length);
      assert.deepEqual(objectsOf(dest), objectsOf(source));
      const ran = cald(['run', 'sqlite3', ...QUERY], { env: { CALD_STORE: dest } });
      assert.equal(ran.stdout, run(SQLITE3, QUERY).stdout);
    } finally {
      await real.stop();
    }
  });
});

// HTTP caches: `cald serve` and Debian's nginx (a static server with PUT from its dav module)
// holding the same layout, each pushed to and pulled from; curl as the independent client for
// ETag, ranges and refused writes.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cald, ENTRY_ARGS } from '../cli/cald.js';
import { freePort } from '../helpers/registry.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine } from '../store/helpers/robust.js';

const SQLITE3 = '/usr/bin/sqlite3';
const QUERY = [':memory:', "select 'by content', sqlite_version()"];
const objectsOf = (store: string): string[] => readdirSync(join(store, 'objects', 'sha256')).sort();

/** `cald serve` in the background; its URL from the line it prints. */
async function startServe(
  dir: string,
  writable: boolean,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const args = ['serve', '--dir', dir, '--listen', '127.0.0.1:0', ...(writable ? ['--writable'] : [])];
  const child: ChildProcess = spawn(process.execPath, [...ENTRY_ARGS, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += String(d);
      const m = / at (http:\/\/\S+) /.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`cald serve exited ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise((r) => {
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

const curl = (args: string[]) => run('curl', ['-sS', ...args]);

describe('an HTTP cache: cald serve', () => {
  const dir = makeTmp({ after }, 'http-cache');
  const source = join(dir, 'source');
  const secret = join(dir, 'secret.key');
  let publicKey = '';
  let serving: { url: string; stop: () => Promise<void> };
  const env = (extra: Record<string, string>) => ({
    XDG_CONFIG_HOME: join(dir, 'config'),
    CALD_SIGNING_KEY_FILE: secret,
    CALD_TRUSTED_PUBLIC_KEYS: publicKey,
    ...extra,
  });

  before(async () => {
    assert.equal(cald(['import', SQLITE3], { env: { CALD_STORE: source } }).status, 0);
    publicKey = cald(['key', 'generate', 'cache-1', '--secret-file', secret]).stdout.trim();
    serving = await startServe(join(dir, 'cache'), true);
  });
  after(async () => serving?.stop());

  test('push, then pull into an empty store: the same objects, and the program runs the same', () => {
    const push = cald(['push', serving.url, 'sqlite3', '--json'], { env: env({ CALD_STORE: source }) });
    assert.equal(push.status, 0, push.stderr);
    const report = JSON.parse(push.stdout);
    assert.equal(report.uploaded, objectsOf(source).length);
    assert.equal(report.signedBy, 'cache-1');
    // The layout on disk is exactly the documented one: objects by hash, tags.
    const cacheObjects = readdirSync(join(dir, 'cache', 'objects', 'sha256'));
    for (const hex of objectsOf(source)) assert.ok(cacheObjects.includes(hex), hex);
    for (const hex of cacheObjects) {
      assert.equal(
        createHash('sha256')
          .update(readFileSync(join(dir, 'cache', 'objects', 'sha256', hex)))
          .digest('hex'),
        hex,
      );
    }
    assert.ok(existsSync(join(dir, 'cache', 'tags', 'sqlite3')));
    const dest = join(dir, 'dest');
    const pull = cald(['pull', serving.url, 'sqlite3', '--json'], { env: env({ CALD_STORE: dest }) });
    assert.equal(pull.status, 0, pull.stderr);
    assert.equal(JSON.parse(pull.stdout).signedBy, 'cache-1');
    assert.deepEqual(objectsOf(dest), objectsOf(source));
    const ran = cald(['run', 'sqlite3', ...QUERY], { env: { CALD_STORE: dest } });
    assert.equal(ran.stdout, run(SQLITE3, QUERY).stdout);
  });

  test('pull with no REMOTE asks the configured remotes in order (cald.conf, then CALD_SUBSTITUTERS over it)', () => {
    const push = cald(['push', serving.url, 'sqlite3'], { env: env({ CALD_STORE: source }) });
    assert.equal(push.status, 0, push.stderr);
    // cald.conf lists a remote nothing listens on, then the cache: the first is passed over.
    const config = join(dir, 'remotes-config');
    mkdirSync(join(config, 'cald'), { recursive: true });
    writeFileSync(
      join(config, 'cald', 'cald.conf'),
      `# asked in order\nsubstituters = http://127.0.0.1:1/nothing   ${serving.url}\n`,
    );
    const dest = join(dir, 'dest-configured');
    const pulled = cald(['pull', 'sqlite3', '--json'], {
      env: { ...env({ CALD_STORE: dest }), XDG_CONFIG_HOME: config },
    });
    assert.equal(pulled.status, 0, pulled.stderr);
    assert.equal(JSON.parse(pulled.stdout).remote, serving.url);
    assert.deepEqual(objectsOf(dest), objectsOf(source));
    // The variable overrides the file: no remote that has it is one line, exit 7.
    const none = cald(['pull', 'sqlite3'], {
      env: {
        ...env({ CALD_STORE: join(dir, 'dest-none') }),
        XDG_CONFIG_HOME: config,
        CALD_SUBSTITUTERS: 'http://127.0.0.1:1/x',
      },
    });
    assert.equal(none.status, 7);
    assertOneLine(none, 'unreachable remote', /cannot reach http:\/\/127\.0\.0\.1:1/);
    const empty = cald(['pull', 'sqlite3'], {
      env: { ...env({ CALD_STORE: join(dir, 'dest-none') }), XDG_CONFIG_HOME: config, CALD_SUBSTITUTERS: '' },
    });
    assert.equal(empty.status, 2);
    assertOneLine(empty, 'no remote', /no remote given, and none configured/);
    // A remotes line naming a local directory is refused with the file's setting named.
    const bad = cald(['pull', 'sqlite3'], {
      env: {
        ...env({ CALD_STORE: join(dir, 'dest-none') }),
        XDG_CONFIG_HOME: config,
        CALD_SUBSTITUTERS: '/srv/store',
      },
    });
    assert.equal(bad.status, 2);
    assertOneLine(bad, 'local remote', /substituters: \/srv\/store is not a remote/);
  });

  test('an object the first remote lacks comes from the next configured one, verified all the same', async () => {
    const push = cald(['push', serving.url, 'sqlite3'], { env: env({ CALD_STORE: source }) });
    assert.equal(push.status, 0, push.stderr);
    // A partial mirror: the tags and every other object of the full cache.
    const partial = join(dir, 'partial');
    mkdirSync(join(partial, 'objects', 'sha256'), { recursive: true });
    cpSync(join(dir, 'cache', 'tags'), join(partial, 'tags'), { recursive: true });
    const all = readdirSync(join(dir, 'cache', 'objects', 'sha256')).sort();
    for (const hex of all.filter((_, i) => i % 2 === 0)) {
      cpSync(join(dir, 'cache', 'objects', 'sha256', hex), join(partial, 'objects', 'sha256', hex));
    }
    const mirror = await startServe(partial, false);
    try {
      const onlyPartial = cald(['pull', 'sqlite3'], {
        env: { ...env({ CALD_STORE: join(dir, 'dest-partial-only') }), CALD_SUBSTITUTERS: mirror.url },
      });
      assert.equal(onlyPartial.status, 7);
      assertOneLine(onlyPartial, 'an object no remote has', /has no object sha256:/);
      const dest = join(dir, 'dest-two');
      const both = cald(['pull', 'sqlite3', '--json'], {
        env: { ...env({ CALD_STORE: dest }), CALD_SUBSTITUTERS: `${mirror.url} ${serving.url}` },
      });
      assert.equal(both.status, 0, both.stderr);
      assert.equal(JSON.parse(both.stdout).remote, mirror.url);
      assert.deepEqual(objectsOf(dest), objectsOf(source));
      const ran = cald(['run', 'sqlite3', ...QUERY], { env: { CALD_STORE: dest } });
      assert.equal(ran.stdout, run(SQLITE3, QUERY).stdout);
    } finally {
      await mirror.stop();
    }
  });

  test('HEAD, ETag and ranges, as curl sees them', (t) => {
    if (!hasTool('curl')) return t.skip('curl is not installed');
    assert.equal(cald(['push', serving.url, 'sqlite3'], { env: env({ CALD_STORE: source }) }).status, 0);
    const hex = objectsOf(source)[0]!;
    const bytes = readFileSync(join(source, 'objects', 'sha256', hex));
    const url = `${serving.url}/objects/sha256/${hex}`;
    const head = curl(['-I', url]).stdout;
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, new RegExp(`^etag: "sha256:${hex}"\\r$`, 'mi'));
    assert.match(head, new RegExp(`^content-length: ${bytes.length}\\r$`, 'mi'));
    assert.match(head, /^cache-control: public, max-age=31536000, immutable\r$/im);
    const part = run('curl', ['-sS', '-o', join(dir, 'part'), '-w', '%{http_code}', '-r', '100-199', url]);
    assert.equal(part.stdout, '206');
    assert.ok(readFileSync(join(dir, 'part')).equals(bytes.subarray(100, 200)));
    const again = curl([
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      `If-None-Match: "sha256:${hex}"`,
      url,
    ]);
    assert.equal(again.stdout, '304');
    assert.equal(
      curl(['-o', '/dev/null', '-w', '%{http_code}', `${serving.url}/../etc/passwd`]).stdout,
      '404',
    );
    assert.equal(
      curl(['-o', '/dev/null', '-w', '%{http_code}', `${serving.url}/objects/sha256/..%2f..%2fx`]).stdout,
      '404',
    );
  });

  test('a PUT whose bytes do not hash to the name is refused; nothing is stored', (t) => {
    if (!hasTool('curl')) return t.skip('curl is not installed');
    const lie = createHash('sha256').update('something else').digest('hex');
    const r = curl([
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-X',
      'PUT',
      '--data-binary',
      'these bytes',
      `${serving.url}/objects/sha256/${lie}`,
    ]);
    assert.equal(r.stdout, '400');
    assert.ok(!existsSync(join(dir, 'cache', 'objects', 'sha256', lie)));
    const tag = curl([
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-X',
      'PUT',
      '--data-binary',
      '{"not":"a manifest"}',
      `${serving.url}/tags/evil`,
    ]);
    assert.equal(tag.stdout, '400');
    assert.ok(!existsSync(join(dir, 'cache', 'tags', 'evil')));
    assert.deepEqual(readdirSync(join(dir, 'cache', 'tmp')), []);
  });

  test('serve: a cache directory that cannot be made, a bad address: one line each', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const notDir = cald(['serve', '--dir', file, '--listen', '127.0.0.1:0']);
    assert.equal(notDir.status, 5);
    assertOneLine(notDir, 'cache dir is a file', /cannot make the cache directories in/);
    const badListen = cald(['serve', '--dir', join(dir, 'c2'), '--listen', 'nonsense']);
    assert.equal(badListen.status, 2);
    assertOneLine(badListen, 'bad --listen', /--listen nonsense: not HOST:PORT/);
  });

  test('a read-only cache refuses a push in one line', async () => {
    const ro = await startServe(join(dir, 'cache'), false);
    try {
      const r = cald(['push', ro.url, 'sqlite3'], { env: env({ CALD_STORE: source }) });
      assert.equal(r.status, 7);
      assertOneLine(r, 'read-only cache', /failed with HTTP 405/);
      const pull = cald(['pull', ro.url, 'sqlite3'], { env: env({ CALD_STORE: join(dir, 'ro-dest') }) });
      assert.equal(pull.status, 0, pull.stderr);
    } finally {
      await ro.stop();
    }
  });
});

describe('an HTTP cache: nginx with PUT', {
  skip: hasTool('nginx') ? false : 'nginx is not installed',
}, () => {
  const dir = makeTmp({ after }, 'nginx-cache');
  const source = join(dir, 'source');
  let nginx: ChildProcess | undefined;
  let url = '';

  before(async () => {
    assert.equal(cald(['import', SQLITE3], { env: { CALD_STORE: source } }).status, 0);
    const port = await freePort();
    const root = join(dir, 'www');
    mkdirSync(join(root, 'tmp'), { recursive: true });
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      // Workers as the test's own user: the temp directories are private (0700).
      `daemon off;
${process.getuid?.() === 0 ? 'user root root;' : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events {}
http {
  access_log off;
  client_body_temp_path ${root}/tmp;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    client_max_body_size 0;
    location / {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`,
    );
    nginx = spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
    url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      try {
        await fetch(`${url}/`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  after(() => {
    nginx?.kill('SIGTERM');
  });

  test('push to nginx and pull back: the same objects, verified, the program runs', () => {
    const env = { XDG_CONFIG_HOME: join(dir, 'config') };
    const push = cald(['push', url, 'sqlite3'], { env: { ...env, CALD_STORE: source } });
    assert.equal(push.status, 0, push.stderr);
    const dest = join(dir, 'dest');
    const pull = cald(['pull', url, 'sqlite3', '--allow-unsigned'], { env: { ...env, CALD_STORE: dest } });
    assert.equal(pull.status, 0, pull.stderr);
    assert.deepEqual(objectsOf(dest), objectsOf(source));
    assert.equal(cald(['verify', '--store', dest]).status, 0);
    const ran = cald(['run', 'sqlite3', ...QUERY], { env: { CALD_STORE: dest } });
    assert.equal(ran.stdout, run(SQLITE3, QUERY).stdout);
    // Unsigned: refused without --allow-unsigned, before anything is stored.
    const refused = cald(['pull', url, 'sqlite3'], { env: { ...env, CALD_STORE: join(dir, 'refused') } });
    assert.equal(refused.status, 7);
    assertOneLine(refused, 'unsigned from nginx', /not signed/);
  });
});

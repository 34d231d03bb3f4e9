// Lazy fetch (docs/resolver.md, "Lazy fetch"): sqlite3 pushed to `cald serve`, then pulled with
// --lazy into an empty store that has only the remote configured and `cald fetch-daemon`
// running. Every way that goes through the resolver starts it with its libraries absent; they
// are fetched as the loader asks for them. A server that goes away, and daemons that lie (a fake
// socket server in this process), end in one clear line with nothing half-stored.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cald, caldAsync, ENTRY_ARGS } from '../cli/cald.js';
import { freePort, type Registry, registryUnavailable, startRegistry } from '../helpers/registry.js';
import { run, runAsync } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine } from '../store/helpers/robust.js';

const SQLITE3 = '/usr/bin/sqlite3';
const QUERY = [':memory:', "select 'lazily', 6*7"];
const objectsOf = (store: string): string[] => readdirSync(join(store, 'objects', 'sha256')).sort();

/** The resolver's line comes first; ld.so adds its own ("error while loading shared libraries"). */
function assertResolverLine(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.status, 127, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0]!, pattern, r.stderr);
  assert.ok(lines.length <= 2, r.stderr);
  if (lines[1] !== undefined) assert.match(lines[1], /error while loading shared libraries/, r.stderr);
}

/** One request to a fetch daemon, its answer line. */
function askDaemon(socket: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    let got = '';
    c.on('data', (d) => {
      got += String(d);
    });
    c.on('end', () => resolve(got));
    c.on('error', reject);
    c.end(`${line}\n`);
  });
}

/** A cald command left running; resolves once its stdout matches `ready`. */
async function background(args: string[], env: Record<string, string>, ready: RegExp) {
  const child: ChildProcess = spawn(process.execPath, [...ENTRY_ARGS, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let err = '';
  child.stderr?.on('data', (d) => {
    err += String(d);
  });
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += String(d);
      const m = ready.exec(out);
      if (m) resolve(m);
    });
    child.on('exit', (code) => reject(new Error(`cald ${args[0]} exited ${code}: ${err}`)));
  });
  return {
    match,
    log: () => err,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

describe('lazy fetch: the libraries come when the loader asks for them', () => {
  // Short: a unix socket's path is at most 107 bytes.
  const dir = makeTmp({ after }, 'lazy');
  const source = join(dir, 'src');
  const dest = join(dir, 'd');
  const secret = join(dir, 'secret.key');
  let port = 0;
  let url = '';
  let publicKey = '';
  let serving: Awaited<ReturnType<typeof background>> | undefined;
  let daemon: Awaited<ReturnType<typeof background>> | undefined;
  let original = '';
  let program = ''; // hex of the program object
  let loaded: string[] = []; // the objects sqlite3 needs at run time, once fetched
  const env = (extra: Record<string, string> = {}) => ({
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_CACHE_HOME: join(dir, 'cache-home'),
    CALD_TRUSTED_PUBLIC_KEYS: publicKey,
    CALD_SUBSTITUTERS: url,
    CALD_STORE: dest,
    ...extra,
  });
  const serve = async () =>
    background(
      ['serve', '--dir', join(dir, 'cache'), '--listen', `127.0.0.1:${port}`, '--writable'],
      {},
      / at (http:\/\/\S+) /,
    );
  let pulled: string[] = []; // what pull --lazy fetched
  /** Removes every object but those pull --lazy fetched. */
  const dropLibraries = () => {
    for (const hex of objectsOf(dest))
      if (!pulled.includes(hex)) rmSync(join(dest, 'objects', 'sha256', hex));
  };

  before(async () => {
    original = run(SQLITE3, QUERY).stdout;
    assert.equal(cald(['import', SQLITE3], { env: { CALD_STORE: source } }).status, 0);
    publicKey = cald(['key', 'generate', 'lazy-1', '--secret-file', secret]).stdout.trim();
    port = await freePort();
    serving = await serve();
    url = serving.match[1]!;
    const push = cald(['push', url, 'sqlite3', '--sign-key', secret], { env: { CALD_STORE: source } });
    assert.equal(push.status, 0, push.stderr);
    daemon = await background(['fetch-daemon', '--store', dest], env(), /^fetching for (\S+) on (\S+) /m);
  });
  after(async () => {
    await daemon?.stop();
    await serving?.stop();
  });

  test('the daemon listens on <store>/run/fetch.sock, mode 0600 in a 0700 directory', () => {
    assert.equal(daemon!.match[2], join(dest, 'run', 'fetch.sock'));
    const ls = run('stat', ['-c', '%a %F', join(dest, 'run'), join(dest, 'run', 'fetch.sock')]).stdout;
    assert.equal(ls, '700 directory\n600 socket\n');
  });

  test('pull --lazy fetches the program alone; cald run fetches the libraries at load time', () => {
    const pull = cald(['pull', '--lazy', url, 'sqlite3', '--json'], { env: env() });
    assert.equal(pull.status, 0, pull.stderr);
    const report = JSON.parse(pull.stdout);
    assert.equal(report.signedBy, 'lazy-1');
    program = /^cas:sha256:([0-9a-f]{64})/.exec(report.program)![1]!;
    // The program, and the loader its note names (executed by the launcher, not looked up).
    pulled = objectsOf(dest);
    assert.ok(pulled.includes(program) && pulled.length <= 2, pulled.join(' '));
    assert.equal(report.fetched, pulled.length);
    const ran = cald(['run', 'sqlite3', ...QUERY], { env: env({ CALD_DEBUG: '1' }) });
    assert.equal(ran.status, 0, ran.stderr);
    assert.equal(ran.stdout, original);
    // cald run asked the daemon to prefetch the program's libraries; the resolver asked for
    // those still absent when the loader wanted them, and verified each one itself.
    loaded = objectsOf(dest);
    assert.ok(loaded.length >= pulled.length + 3, loaded.join(' '));
    assert.match(ran.stderr, /\(verified sha256, /);
    for (const hex of loaded) assert.ok(objectsOf(source).includes(hex), hex);
    assert.deepEqual(readdirSync(join(dest, 'tmp')), []);
    const verify = cald(['verify', '--store', dest]);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  });

  test('an installed launcher and `eval "$(cald env)"` fetch them too', () => {
    dropLibraries();
    const bin = join(dir, 'bin');
    const inst = cald(['install', 'sqlite3', '--bin', bin, '--store', dest], { env: env() });
    assert.equal(inst.status, 0, inst.stderr);
    const viaLauncher = run(join(bin, 'sqlite3'), QUERY, { env: env() });
    assert.equal(viaLauncher.stdout, original, viaLauncher.stderr);
    assert.deepEqual(objectsOf(dest), loaded);

    dropLibraries();
    const e = cald(['env', '--mode', 'audit', '--store', dest], { env: env() });
    assert.equal(e.status, 0, e.stderr);
    const object = join(dest, 'objects', 'sha256', program);
    const viaEnv = run('bash', ['-c', `${e.stdout}\nexec "$0" "$@"`, object, ...QUERY], {
      env: env({ CALD_DEBUG: '1' }),
    });
    assert.equal(viaEnv.stdout, original, viaEnv.stderr);
    // No cald process in front: the resolver itself asked the daemon.
    assert.match(viaEnv.stderr, /absent; fetch daemon: ok/);
    assert.deepEqual(objectsOf(dest), loaded);
  });

  test('two programs asking for the same libraries at once: each object is fetched once', async () => {
    // The daemon writes its log to a pipe synchronously, before it answers: once it has answered
    // us, every earlier line is in the pipe, and a few turns of the event loop read it.
    await askDaemon(join(dest, 'run', 'fetch.sock'), `fetch sha256:${program}`);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    // Counted from before the libraries go: a prefetch the last test queued may still fetch one of
    // them again after they are gone (once; the programs then find it there).
    const logBefore = daemon!.log().length;
    dropLibraries();
    const e = cald(['env', '--mode', 'audit', '--store', dest], { env: env() });
    const object = join(dest, 'objects', 'sha256', program);
    const both = await Promise.all(
      [1, 2].map(() =>
        runAsync('bash', ['-c', `${e.stdout}\nexec "$0" "$@"`, object, ...QUERY], { env: env() }),
      ),
    );
    for (const r of both) assert.equal(r.stdout, original, r.stderr);
    assert.deepEqual(objectsOf(dest), loaded);
    // Every line the daemon logged before answering them is read (as above).
    await askDaemon(join(dest, 'run', 'fetch.sock'), `fetch sha256:${program}`);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const fetched = (
      daemon!
        .log()
        .slice(logBefore)
        .match(/fetched sha256:[0-9a-f]{64}/g) ?? []
    ).sort();
    assert.deepEqual(fetched, [...new Set(fetched)], 'an object fetched twice');
    assert.equal(fetched.length, loaded.length - pulled.length);
  });

  test('the server gone halfway: one line naming the object, nothing half-stored; the next run completes', async () => {
    // Halfway: some libraries are there, the rest must come from a server that has stopped.
    const libs = loaded.filter((h) => !pulled.includes(h));
    for (const hex of libs.slice(0, 3)) rmSync(join(dest, 'objects', 'sha256', hex));
    await serving!.stop();
    const before = objectsOf(dest);
    const failed = cald(['run', 'sqlite3', ...QUERY], { env: env() });
    assert.equal(failed.status, 127);
    assertResolverLine(
      failed,
      /^cald: cannot load cas:sha256:[0-9a-f]{64}\?name=\S+: \S+ does not exist and the fetch daemon \(\S+fetch\.sock\) could not fetch it: .*; check the substituters/,
    );
    assert.deepEqual(objectsOf(dest), before);
    assert.deepEqual(readdirSync(join(dest, 'tmp')), []);
    serving = await serve();
    const again = cald(['run', 'sqlite3', ...QUERY], { env: env() });
    assert.equal(again.stdout, original, again.stderr);
    assert.deepEqual(objectsOf(dest), loaded);
  });

  test('cald run cas:sha256:<program> in a store without it fetches the program first', () => {
    for (const hex of objectsOf(dest)) rmSync(join(dest, 'objects', 'sha256', hex));
    const ran = cald(['run', `cas:sha256:${program}`, ...QUERY], { env: env() });
    assert.equal(ran.stdout, original, ran.stderr);
    assert.deepEqual(objectsOf(dest), loaded);
    const none = cald(['run', `sha256:${'0'.repeat(64)}`], { env: env() });
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /^cald: cannot fetch sha256:0{64}: http:\S+: not there\n/);
  });

  test('fetch-daemon without substituters, or with a store path too long for a socket: one line', () => {
    const none = cald(['fetch-daemon', '--store', join(dir, 'x')], { env: env({ CALD_SUBSTITUTERS: '' }) });
    assertOneLine(none, 'no substituters', /^cald: fetch-daemon: no substituters to fetch from/);
    const long = join(dir, 'y'.repeat(100));
    const tooLong = cald(['fetch-daemon', '--store', long], { env: env() });
    assertOneLine(tooLong, 'long path', /is longer than a unix socket address allows/);
  });

  describe('a daemon that lies is not believed', () => {
    const hostile = join(dir, 'h');
    let server: Server | undefined;
    const listen = async (answer: (hex: string) => string) => {
      mkdirSync(join(hostile, 'run'), { recursive: true, mode: 0o700 });
      rmSync(join(hostile, 'run', 'fetch.sock'), { force: true });
      // The resolver may hang up before the answer is written: that is not the test's failure.
      server = createServer((c) =>
        c
          .on('error', () => undefined)
          .on('data', (d) => {
            const hex = /^fetch sha256:([0-9a-f]{64})\n$/.exec(String(d))?.[1];
            c.end(`${hex === undefined ? 'error bad request' : answer(hex)}\n`);
          }),
      );
      await new Promise<void>((r) => server!.listen(join(hostile, 'run', 'fetch.sock'), r));
      chmodSync(join(hostile, 'run', 'fetch.sock'), 0o600);
    };
    const stopListening = () => new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    after(stopListening);

    before(() => {
      const pull = cald(['pull', '--lazy', url, 'sqlite3'], { env: env({ CALD_STORE: hostile }) });
      assert.equal(pull.status, 0, pull.stderr);
    });

    test('it answers ok without storing anything: refused in one line', async () => {
      await listen(() => 'ok');
      const r = await caldAsync(['run', 'sqlite3', ...QUERY], { env: env({ CALD_STORE: hostile }) });
      assert.equal(r.status, 127);
      assertResolverLine(
        r,
        /^cald: refusing cas:sha256:\S+: the fetch daemon \(\S+\) answered ok but \S+ does not exist/,
      );
      await stopListening();
    });

    test('it places wrong bytes, then answers ok: the resolver hashes them and refuses', async () => {
      await listen((hex) => {
        const path = join(hostile, 'objects', 'sha256', hex);
        writeFileSync(path, readFileSync(SQLITE3), { mode: 0o444 });
        return 'ok';
      });
      const r = await caldAsync(['run', 'sqlite3', ...QUERY], { env: env({ CALD_STORE: hostile }) });
      assert.equal(r.status, 127);
      assertResolverLine(
        r,
        /^cald: refusing cas:sha256:\S+: \S+ has sha256 [0-9a-f]{64}, not the hash in its name/,
      );
      await stopListening();
    });

    test('it hangs up without a whole answer, or says error: one line with its reason', async () => {
      // Cut off after one byte, no newline.
      mkdirSync(join(hostile, 'run'), { recursive: true, mode: 0o700 });
      rmSync(join(hostile, 'run', 'fetch.sock'), { force: true });
      server = createServer((c) => c.on('error', () => undefined).on('data', () => c.end('o')));
      await new Promise<void>((r) => server!.listen(join(hostile, 'run', 'fetch.sock'), r));
      chmodSync(join(hostile, 'run', 'fetch.sock'), 0o600);
      for (const hex of objectsOf(hostile))
        if (!pulled.includes(hex)) rmSync(join(hostile, 'objects', 'sha256', hex));
      const cut = await caldAsync(['run', 'sqlite3', ...QUERY], { env: env({ CALD_STORE: hostile }) });
      assertResolverLine(cut, /could not fetch it: the fetch daemon gave no whole answer/);
      await stopListening();
      await listen(() => 'error the cache is down\ttoday');
      const said = await caldAsync(['run', 'sqlite3', ...QUERY], { env: env({ CALD_STORE: hostile }) });
      assertResolverLine(said, /could not fetch it: the cache is down\?today; check the substituters/);
      await stopListening();
    });

    test('a socket others may connect to is not asked at all', async () => {
      let asked = 0;
      await listen(() => {
        asked++;
        return 'ok';
      });
      chmodSync(join(hostile, 'run', 'fetch.sock'), 0o666);
      try {
        for (const hex of objectsOf(hostile))
          if (hex !== program) rmSync(join(hostile, 'objects', 'sha256', hex));
        const r = await caldAsync(['run', 'sqlite3', ...QUERY], { env: env({ CALD_STORE: hostile }) });
        assertResolverLine(r, /does not exist; import the library into this store/);
        assert.equal(asked, 0);
      } finally {
        await stopListening();
      }
    });
  });
});

describe('lazy fetch from an OCI registry (docker-registry)', {
  skip: registryUnavailable() ?? false,
}, () => {
  const dir = makeTmp({ after }, 'lazy-oci');
  const source = join(dir, 'src');
  const dest = join(dir, 'd');
  let registry: Registry | undefined;
  let daemon: Awaited<ReturnType<typeof background>> | undefined;
  after(async () => {
    await daemon?.stop();
    await registry?.stop();
  });

  test('pull --lazy, then cald run: the libraries come from the registry (one GET of each blob, its size from the answer)', async () => {
    registry = await startRegistry(join(dir, 'registry'));
    const remote = `oci://${registry.address}/tools/sqlite`;
    const env = {
      XDG_CONFIG_HOME: join(dir, 'config'),
      CALD_REQUIRE_SIGNATURES: 'false',
      CALD_SUBSTITUTERS: remote,
      CALD_STORE: dest,
    };
    assert.equal(cald(['import', SQLITE3], { env: { CALD_STORE: source } }).status, 0);
    const push = cald(['push', remote, 'sqlite3'], { env: { ...env, CALD_STORE: source } });
    assert.equal(push.status, 0, push.stderr);
    daemon = await background(['fetch-daemon', '--store', dest], env, /^fetching for /m);
    const pull = cald(['pull', '--lazy', remote, 'sqlite3'], { env });
    assert.equal(pull.status, 0, pull.stderr);
    const pulled = objectsOf(dest);
    const ran = cald(['run', 'sqlite3', ...QUERY], { env: { ...env, CALD_DEBUG: '1' } });
    assert.equal(ran.stdout, run(SQLITE3, QUERY).stdout, ran.stderr);
    assert.match(ran.stderr, /absent; fetch daemon: ok/);
    assert.ok(objectsOf(dest).length >= pulled.length + 3);
    assert.equal(cald(['verify', '--store', dest]).status, 0);
  });
});

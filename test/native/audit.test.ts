// The rtld-audit resolver (native/cald-audit.c) and the plain name directory, run on the stock
// glibc loader against fixtures built here (see fixture.ts).
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { auditLib, caldLines, exec, type Fixture, minimalEnv, setUpFixture } from './fixture.js';

let fx: Fixture;
let n = 0;

setUpFixture((f) => {
  fx = f;
});

const env = (extra: Record<string, string> = {}, cache?: string) => minimalEnv(fx, extra, cache);
function audited(extra: Record<string, string> = {}, cache?: string): Record<string, string> {
  return env({ LD_AUDIT: auditLib, CALD_STORE: fx.store, ...extra }, cache);
}
/** A copy of the store whose object has one bit flipped. */
function tamperedStore(): string {
  const s = join(fx.dir, `store-tampered-${n++}`);
  cpSync(fx.store, s, { recursive: true, verbatimSymlinks: true });
  const obj = join(s, 'objects', 'sha256', fx.hex);
  chmodSync(obj, 0o644);
  const b = readFileSync(obj);
  b[b.length >> 1] = (b[b.length >> 1] ?? 0) ^ 1;
  writeFileSync(obj, b);
  return s;
}
/** The cache trusts only files whose ctime is at least 1 s old; wait until the object is. */
async function settled(path: string): Promise<void> {
  const wait = statSync(path).ctimeMs + 1100 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

describe('cas: names through LD_AUDIT', () => {
  test('without a resolver the program cannot start (the name is not on any path)', () => {
    const r = exec(fx.prog, [], env());
    assert.equal(r.status, 127);
  });

  test('resolves cas:sha256:H to the store object and runs', () => {
    const r = exec(fx.prog, ['audit'], audited());
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'hello from libgreet, audit\n');
    assert.equal(r.status, 0);
  });

  test('a ?name= hint is accepted and ignored when the object is there', () => {
    const r = exec(fx.progHint, [], audited());
    assert.equal(r.stdout, 'hello from libgreet, world\n');
    assert.equal(r.status, 0);
  });

  test('names that are not cas: pass through untouched', () => {
    const r = exec(fx.progPlain, ['plain'], audited({ LD_LIBRARY_PATH: fx.hostLib, CALD_DEBUG: '1' }));
    assert.equal(r.stdout, 'hello from libgreet, plain\n');
    assert.deepEqual(caldLines(r), []);
  });

  test('CALD_DEBUG=1 prints one line per resolution', () => {
    const r = exec(fx.prog, [], audited({ CALD_DEBUG: '1' }));
    const lines = caldLines(r);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      new RegExp(`^cald: ${fx.uri} -> ${fx.store}/objects/sha256/${fx.hex} \\(verified sha256`),
    );
  });
});

describe('name directory on LD_LIBRARY_PATH (no audit library)', () => {
  test('plain and hinted names resolve through the symlinks', () => {
    for (const p of [fx.prog, fx.progHint]) {
      const r = exec(p, ['names'], env({ LD_LIBRARY_PATH: fx.names }));
      assert.equal(r.stdout, 'hello from libgreet, names\n');
      assert.equal(r.status, 0);
    }
  });
});

describe('refusals', () => {
  test('a flipped byte in the object: one line naming the URI and path, exit 127', () => {
    const s = tamperedStore();
    const r = exec(fx.prog, [], audited({ CALD_STORE: s }));
    assert.equal(r.status, 127);
    assert.equal(r.stdout, '');
    const lines = caldLines(r);
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(
      lines[0]!.startsWith(`cald: refusing ${fx.uri}: ${s}/objects/sha256/${fx.hex} has sha256 `),
      lines[0],
    );
    assert.match(lines[0]!, /cald verify --repair/);
  });

  test('a missing object: one line naming the URI and path, exit 127', () => {
    const empty = join(fx.dir, 'empty-store');
    const r = exec(fx.prog, [], audited({ CALD_STORE: empty }));
    assert.equal(r.status, 127);
    assert.deepEqual(caldLines(r), [
      `cald: cannot load ${fx.uri}: ${empty}/objects/sha256/${fx.hex} does not exist; import the library into ` +
        'this store (cald import) or set CALD_STORE to the store that has it',
    ]);
  });

  test('malformed and unsupported cas names are refused, never searched', () => {
    const cases: [string, RegExp][] = [
      [`cas:sha256:${fx.hex.slice(0, 63)}`, /malformed content name/],
      [`cas:sha256:${fx.hex.toUpperCase()}`, /malformed content name/],
      [`cas:sha256:${fx.hex}x`, /malformed content name/],
      [`cas:sha256:${fx.hex}?name=`, /malformed content name/],
      [`cas:sha256:${fx.hex}?name=../libgreet.so`, /malformed content name/],
      [`cas:blake3:${fx.hex}`, /unsupported content name/],
    ];
    cases.forEach(([name, why], i) => {
      const prog = fx.progNeeding(name, `bad${i}`);
      const r = exec(prog, [], audited({ LD_LIBRARY_PATH: fx.names }));
      assert.equal(r.status, 127, name);
      const lines = caldLines(r);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, why);
      assert.ok(lines[0]!.includes(`"${name}"`), lines[0]);
    });
  });
});

describe('verification cache', () => {
  test('second run is served from the cache; a later change to the file is still caught', async () => {
    const store = join(fx.dir, 'store-cache');
    cpSync(fx.store, store, { recursive: true, verbatimSymlinks: true });
    const obj = join(store, 'objects', 'sha256', fx.hex);
    const cache = join(fx.dir, 'cache-shared');
    const run = () => exec(fx.prog, [], audited({ CALD_STORE: store, CALD_DEBUG: '1' }, cache));

    await settled(obj);
    const first = run();
    assert.equal(first.status, 0, first.stderr);
    assert.match(caldLines(first)[0]!, /\(verified sha256/);
    // one empty file named by the object's stat signature: <hex>-<dev>-<ino>-<size>-<mtime>-<ctime>
    const st = statSync(obj, { bigint: true });
    const entries = readdirSync(join(cache, 'cald', 'verified')).filter((e) => !e.startsWith('run-'));
    assert.equal(entries.length, 1);
    assert.match(
      entries[0]!,
      new RegExp(`^${fx.hex}-${st.dev}-${st.ino}-${st.size}-\\d+\\.\\d{9}-\\d+\\.\\d{9}$`),
    );
    const entry = join(cache, 'cald', 'verified', entries[0]!);
    assert.equal(statSync(entry).size, 0);
    assert.equal(statSync(entry).mode & 0o777, 0o600);
    assert.equal(statSync(join(cache, 'cald', 'verified')).mode & 0o777, 0o700);

    const second = run();
    assert.equal(second.status, 0);
    assert.match(caldLines(second)[0]!, /\(cached verification/);

    // In-place change with the same size: the ctime moves, so the cache no longer vouches for it.
    chmodSync(obj, 0o644);
    const b = readFileSync(obj);
    b[100] = (b[100] ?? 0) ^ 0x80;
    writeFileSync(obj, b);
    const third = run();
    assert.equal(third.status, 127);
    assert.match(caldLines(third).join('\n'), /^cald: refusing /);

    // Restored by replacement (new inode, right content): hashed again, accepted.
    b[100] = (b[100] ?? 0) ^ 0x80;
    writeFileSync(`${obj}.new`, b);
    renameSync(`${obj}.new`, obj);
    const fourth = run();
    assert.equal(fourth.status, 0);
    assert.match(caldLines(fourth)[0]!, /\(verified sha256/);
  });

  test("the program's run list answers the next start without the entries; it vouches only for the signatures it holds", async () => {
    const store = join(fx.dir, 'store-run-list');
    cpSync(fx.store, store, { recursive: true, verbatimSymlinks: true });
    const obj = join(store, 'objects', 'sha256', fx.hex);
    const cache = join(fx.dir, 'cache-run-list');
    const dir = join(cache, 'cald', 'verified');
    const run = () => exec(fx.prog, [], audited({ CALD_STORE: store, CALD_DEBUG: '1' }, cache));
    await settled(obj);
    assert.match(caldLines(run())[0]!, /\(verified sha256/);
    // run-<dev>-<ino>-<mtime>-<ctime> of the program, one line per signature found good.
    const p = statSync(fx.prog, { bigint: true });
    const lists = readdirSync(dir).filter((e) => e.startsWith('run-'));
    assert.deepEqual(lists, [lists.find((e) => e.startsWith(`run-${p.dev}-${p.ino}-`))]);
    const list = join(dir, lists[0]!);
    const entry = readdirSync(dir).find((e) => e.startsWith(`${fx.hex}-`))!;
    assert.equal(readFileSync(list, 'utf8'), `${entry}\n`);
    assert.equal(statSync(list).mode & 0o777, 0o600);
    // With the entry gone, the list alone answers (no lstat of an entry is needed).
    rmSync(join(dir, entry));
    assert.match(caldLines(run())[0]!, /\(cached verification/);
    // A list the user does not own, or others may write, is not read (the entry, made again, is removed each time).
    chmodSync(list, 0o622);
    assert.match(caldLines(run())[0]!, /\(verified sha256/);
    rmSync(join(dir, entry));
    if (process.getuid?.() === 0) {
      chownSync(list, 65534, 65534);
      assert.match(caldLines(run())[0]!, /\(verified sha256/);
      rmSync(join(dir, entry));
    }
    // A list line for the right hash but another file's signature does not skip hashing.
    const s = tamperedStore();
    writeFileSync(list, `${fx.hex}-1-2-3-4.000000000-5.000000000\n`, { mode: 0o600 });
    chownSync(list, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
    const forged = exec(fx.prog, [], audited({ CALD_STORE: s }, cache));
    assert.equal(forged.status, 127);
    // The object changed in place (same size): its signature moves, so neither list nor entry vouches.
    chmodSync(obj, 0o644);
    const b = readFileSync(obj);
    b[100] = (b[100] ?? 0) ^ 0x80;
    writeFileSync(obj, b);
    assert.equal(run().status, 127);
  });

  test('a forged entry for another file does not skip hashing', async () => {
    const s = tamperedStore();
    const cache = join(fx.dir, 'cache-forged');
    mkdirSync(join(cache, 'cald', 'verified'), { recursive: true, mode: 0o700 });
    writeFileSync(join(cache, 'cald', 'verified', `${fx.hex}-1-2-3-4.000000000-5.000000000`), '', {
      mode: 0o600,
    });
    const r = exec(fx.prog, [], audited({ CALD_STORE: s }, cache));
    assert.equal(r.status, 127);
  });

  test('an unusable cache directory means hashing every time, not failure', () => {
    const r = exec(fx.prog, [], audited({ CALD_DEBUG: '1' }, '/proc/cald-no-such-dir'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /verification cache .* unusable/);
    assert.match(r.stderr, /\(verified sha256/);
  });
});

describe('CALD_FALLBACK=hint', () => {
  test('a missing object falls back to searching the hint name, silently', () => {
    const r = exec(
      fx.progHint,
      ['fallback'],
      audited({
        CALD_STORE: join(fx.dir, 'empty-store'),
        CALD_FALLBACK: 'hint',
        LD_LIBRARY_PATH: fx.hostLib,
      }),
    );
    assert.equal(r.stdout, 'hello from libgreet, fallback\n');
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
  });

  test('a changed object falls back with a warning line', () => {
    const r = exec(
      fx.progHint,
      [],
      audited({ CALD_STORE: tamperedStore(), CALD_FALLBACK: 'hint', LD_LIBRARY_PATH: fx.hostLib }),
    );
    assert.equal(r.status, 0);
    assert.match(caldLines(r).join('\n'), /CALD_FALLBACK=hint: searching libgreet.so instead/);
  });

  test('without a hint, or without the opt-in, nothing falls back', () => {
    const missing = { CALD_STORE: join(fx.dir, 'empty-store'), LD_LIBRARY_PATH: fx.hostLib };
    assert.equal(exec(fx.prog, [], audited({ ...missing, CALD_FALLBACK: 'hint' })).status, 127);
    assert.equal(exec(fx.progHint, [], audited(missing)).status, 127);
  });
});

describe('dlopen', () => {
  test('dlopen of a cas name (with and without hint) goes through the resolver', () => {
    for (const name of [fx.uri, fx.hinted]) {
      const r = exec(fx.dlprog, [name, 'dl'], audited());
      assert.equal(r.stdout, 'hello from libgreet, dl\n', r.stderr);
      assert.equal(r.status, 0);
    }
  });

  test('dlopen of a missing object fails with the cald line and a dlopen error', () => {
    const r = exec(fx.dlprog, [fx.uri], audited({ CALD_STORE: join(fx.dir, 'empty-store') }));
    assert.equal(r.status, 3);
    assert.match(r.stdout, /^dlopen failed/);
    assert.equal(caldLines(r).length, 1);
  });
});

describe('DT_AUDIT: no environment variables', () => {
  test('store from $HOME/.local/share/cald/store', () => {
    const home = join(fx.dir, 'home-dt');
    mkdirSync(join(home, '.local', 'share', 'cald'), { recursive: true });
    cpSync(fx.store, join(home, '.local', 'share', 'cald', 'store'), {
      recursive: true,
      verbatimSymlinks: true,
    });
    const r = exec(fx.progAudit, ['dt-audit'], { HOME: home });
    assert.equal(r.stdout, 'hello from libgreet, dt-audit\n', r.stderr);
    assert.equal(r.status, 0);
    assert.ok(existsSync(join(home, '.cache', 'cald', 'verified')), 'cache under ~/.cache');
  });

  test('store from $XDG_DATA_HOME/cald/store', () => {
    const data = join(fx.dir, 'xdg-data');
    mkdirSync(join(data, 'cald'), { recursive: true });
    cpSync(fx.store, join(data, 'cald', 'store'), { recursive: true, verbatimSymlinks: true });
    const r = exec(fx.progAudit, [], {
      HOME: join(fx.dir, 'home-none'),
      XDG_DATA_HOME: data,
      XDG_CACHE_HOME: join(fx.dir, 'c'),
    });
    assert.equal(r.status, 0, r.stderr);
  });

  test('an empty environment falls back to the passwd home directory', () => {
    const r = exec(fx.progAudit, [], {});
    if (r.status === 0) return; // this user's real store happens to hold the object
    assert.equal(r.status, 127);
    assert.ok(
      r.stderr.includes(
        `${userInfo().homedir}/.local/share/cald/store/objects/sha256/${fx.hex} does not exist`,
      ),
      r.stderr,
    );
  });
});

describe('moving the store', () => {
  test('a moved store works once CALD_STORE (or LD_LIBRARY_PATH) points at it', () => {
    const a = join(fx.dir, 'store-a');
    const b = join(fx.dir, 'moved', 'store-b');
    cpSync(fx.store, a, { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(fx.dir, 'moved'));
    renameSync(a, b);
    assert.equal(exec(fx.prog, [], audited({ CALD_STORE: a })).status, 127);
    assert.equal(exec(fx.prog, [], audited({ CALD_STORE: b })).status, 0);
    assert.equal(exec(fx.prog, [], env({ LD_LIBRARY_PATH: join(b, 'names') })).status, 0);
  });
});

describe('child processes', () => {
  test('LD_AUDIT is kept for children by default and removed with CALD_STRIP_ENV=1', () => {
    const kept = exec(fx.progEnv, [], audited());
    assert.equal(kept.status, 0, kept.stderr);
    assert.match(kept.stdout, new RegExp(`^LD_AUDIT=${auditLib}$`, 'm'));
    assert.equal(kept.stdout.match(/^LD_AUDIT=/gm)?.length, 2, 'the program and its child both see it');

    const stripped = exec(fx.progEnv, [], audited({ CALD_STRIP_ENV: '1' }));
    assert.equal(stripped.status, 0, stripped.stderr);
    assert.match(stripped.stdout, /^LD_AUDIT=\(unset\)$/m);
    assert.equal(stripped.stdout.match(/^LD_AUDIT=/gm)?.length, 1, 'the child does not see it');
  });
});

describe('strace', () => {
  const haveStrace =
    exec('/bin/sh', ['-c', 'command -v strace'], { PATH: process.env.PATH ?? '' }).status === 0;

  test('no failed openat/stat of a cas: name with the audit resolver', {
    skip: !haveStrace && 'strace not installed',
  }, (t) => {
    const failedCas = (extra: Record<string, string>) => {
      const log = join(fx.dir, `strace-${n++}.log`);
      const r = exec('strace', ['-f', '-qq', '-e', 'trace=%file', '-o', log, fx.prog], env(extra));
      assert.equal(r.status, 0, r.stderr);
      const lines = readFileSync(log, 'utf8').split('\n');
      return {
        failed: lines.filter((l) => l.includes('cas:') && / = -1 /.test(l)),
        opened: lines.filter((l) => l.includes(fx.hex) && !/ = -1 /.test(l)).length,
      };
    };
    const audit = failedCas({ LD_AUDIT: auditLib, CALD_STORE: fx.store });
    assert.deepEqual(audit.failed, []);
    assert.ok(audit.opened > 0);
    const names = failedCas({ LD_LIBRARY_PATH: fx.names });
    t.diagnostic(
      `failed lookups of cas: names: audit ${audit.failed.length}, name directory ${names.failed.length}`,
    );
  });
});

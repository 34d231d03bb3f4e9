// The resolver's side of docs/threat-model.md, each finding of issue 8 written as the attack:
// 1 a store's paths/ choosing what a host program's dlopen loads, a relative CALD_STORE;
// 2 writes through a shared mapping fooling the verification cache; 4 stores, directories and
// objects another user owns or can write (as nobody, through setpriv); 5 secure-execution mode
// missed; 7 a cache below a directory others can write. Each is refused with one line naming the
// object and the reason; the legitimate use beside it still works.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { objectRefs } from '../../src/importer/cald-note.js';
import { cald } from '../cli/cald.js';
import {
  auditLib,
  caldLines,
  exec,
  type Fixture,
  minimalEnv,
  mustRun,
  type Result,
  setUpFixture,
  sha256File,
} from './fixture.js';

let fx: Fixture;
let n = 0;
const NOBODY = 65534;

/** Why tests that act as another user cannot run here, or null (probed once). */
function whyNoOtherUser(): string | null {
  if (process.getuid?.() !== 0) return 'acting as another user needs root';
  const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'true']);
  if (r.error !== undefined || r.status !== 0) return 'setpriv cannot switch to nobody here';
  return null;
}
const noOtherUser = whyNoOtherUser();

setUpFixture((f) => {
  fx = f;
  chmodSync(f.dir, 0o755); // nobody must reach the stores the tests build below it
});

const env = (extra: Record<string, string> = {}, cache?: string) => minimalEnv(fx, extra, cache);
function audited(store: string, extra: Record<string, string> = {}, cache?: string): Record<string, string> {
  return env({ LD_AUDIT: auditLib, CALD_STORE: store, ...extra }, cache);
}
/** A copy of the fixture store, owned by root, writable only by its owner. */
function storeCopy(): string {
  const s = join(fx.dir, `store-${n++}`);
  cpSync(fx.store, s, { recursive: true, verbatimSymlinks: true });
  chmodSync(s, 0o755);
  return s;
}
function objectIn(store: string, hex = fx.hex): string {
  return join(store, 'objects', 'sha256', hex);
}
/** One refusal line, exit 127 (ld.so's status for a library that cannot be loaded). */
function assertRefused(r: Result, line: string | RegExp): void {
  assert.equal(r.status, 127, r.stderr);
  const lines = caldLines(r);
  assert.equal(lines.length, 1, r.stderr);
  if (typeof line === 'string') assert.equal(lines[0], line);
  else assert.match(lines[0]!, line);
}
function asNobody(cmd: string, args: readonly string[], e: Record<string, string>): Result {
  return exec('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', cmd, ...args], e);
}

/** A library with libgreet's interface that says something else. */
function evilLibrary(): string {
  const src = join(fx.dir, 'evil.c');
  writeFileSync(src, '#include <stdio.h>\nvoid greet(const char *w) { printf("EVIL, %s\\n", w); }\n');
  const out = join(fx.dir, 'libevil.so');
  if (!existsSync(out)) mustRun('cc', ['-shared', '-fPIC', '-o', out, src]);
  return out;
}

describe('finding 1: the store must not choose what a dlopen by path loads', () => {
  test("a host program's dlopen of a path loads that path, whatever the store's paths/ says", () => {
    const store = storeCopy();
    const evil = evilLibrary();
    const evilHex = sha256File(evil);
    copyFileSync(evil, objectIn(store, evilHex));
    chmodSync(objectIn(store, evilHex), 0o444);
    const lib = join(fx.hostLib, 'libgreet.so');
    const entry = join(store, 'paths', lib);
    mkdirSync(join(entry, '..'), { recursive: true });
    symlinkSync(join(store, 'objects', 'sha256', evilHex), entry);
    const r = exec(fx.dlprog, [lib, 'host'], audited(store, { CALD_DEBUG: '1' }));
    assert.equal(r.stdout, 'hello from libgreet, host\n', r.stderr);
    assert.deepEqual(caldLines(r), [], 'no mapping for a program cald did not import');
  });

  test("an imported program's dlopen by path is answered from its own path note, not from paths/", () => {
    const dir = join(fx.dir, `imported-${n++}`);
    mkdirSync(dir);
    const lib = join(dir, 'libgreet.so');
    copyFileSync(join(fx.hostLib, 'libgreet.so'), lib);
    const store = join(dir, 'store');
    const imp = cald(['import', '--json', '--store', store, fx.dlprog, '--with', lib], { env: env() });
    assert.equal(imp.status, 0, imp.stderr);
    const imported = (JSON.parse(imp.stdout) as { imported: Array<{ path: string; digest: string }> })
      .imported;
    const libHex = imported.find((f) => f.path === lib)?.digest.replace('sha256:', '');
    assert.ok(libHex !== undefined, imp.stdout);
    // The program refers to what its note names, so a gc keeps those files while it keeps the program.
    const program = imported.find((f) => f.path === fx.dlprog)!.digest.replace('sha256:', '');
    assert.ok(objectRefs(readFileSync(objectIn(store, program))).includes(`cas:sha256:${libHex}`));
    // The store's owner re-points paths/ at another object: the note still decides.
    const evil = evilLibrary();
    const evilHex = sha256File(evil);
    copyFileSync(evil, objectIn(store, evilHex));
    const entry = join(store, 'paths', lib);
    unlinkSync(entry);
    symlinkSync(objectIn(store, evilHex), entry);
    renameSync(lib, `${lib}.gone`); // and the original file is gone: the object answers
    const r = cald(['run', '--store', store, 'dlprog', lib, 'pinned'], {
      env: { ...env(), CALD_DEBUG: '1' },
    });
    assert.equal(r.stdout, 'hello from libgreet, pinned\n', r.stderr);
    assert.match(r.stderr, new RegExp(`^cald: ${lib} is imported as cas:sha256:${libHex}$`, 'm'));
  });

  test('a relative CALD_STORE is refused with one line', () => {
    const r = exec(fx.prog, [], audited('store'), fx.dir);
    assertRefused(
      r,
      `cald: refusing ${fx.uri}: CALD_STORE=store is a relative path; set it to an absolute one`,
    );
    const c = cald(['run', 'prog'], { env: { ...env(), CALD_STORE: 'store' }, cwd: fx.dir });
    assert.equal(c.status, 127);
    assert.equal(c.stderr.split('\n')[0], 'cald: CALD_STORE=store is a relative path');
  });
});

const WRITER = `#include <stdio.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
/* Maps argv[1] shared and writable, dirties it without changing it, then flips a byte on "f". */
int main(int argc, char **argv) {
  (void)argc;
  int fd = open(argv[1], O_RDWR);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return 2;
  volatile unsigned char *m = mmap(0, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return 3;
  close(fd);
  m[0] = m[0];
  printf("ready\\n");
  fflush(stdout);
  char cmd[8];
  while (fgets(cmd, sizeof cmd, stdin) && cmd[0] == 'f') {
    m[st.st_size / 2] ^= 1;
    printf("flipped\\n");
    fflush(stdout);
  }
  return 0;
}
`;

describe('finding 2: writes through a shared mapping cannot fool the cache', () => {
  test('an object open for writing is refused; once changed, the mismatch is caught', async () => {
    const src = join(fx.dir, 'writer.c');
    writeFileSync(src, WRITER);
    const writer = join(fx.dir, 'writer');
    mustRun('cc', ['-O2', '-o', writer, src]);
    const store = storeCopy();
    const obj = objectIn(store);
    const cache = join(fx.dir, `cache-${n++}`);
    chmodSync(obj, 0o644);
    const child = spawn(writer, [obj], { stdio: ['pipe', 'pipe', 'inherit'] });
    const said = (what: string) =>
      new Promise<void>((ok) => {
        const on = (d: Buffer) => {
          if (d.toString().includes(what)) {
            child.stdout.off('data', on);
            ok();
          }
        };
        child.stdout.on('data', on);
      });
    try {
      await said('ready');
      chmodSync(obj, 0o444);
      await new Promise((r) => setTimeout(r, 1100)); // older than the cache's 1 s racy window
      const why = `${obj} is open for writing by a process, so its bytes could change after any check; close that writer`;
      assertRefused(exec(fx.prog, [], audited(store, {}, cache)), `cald: refusing ${fx.uri}: ${why}`);
      child.stdin.write('f\n');
      await said('flipped');
      assertRefused(exec(fx.prog, [], audited(store, {}, cache)), `cald: refusing ${fx.uri}: ${why}`);
    } finally {
      child.stdin.end();
      await new Promise((r) => child.once('exit', r));
    }
    const verified = join(cache, 'cald', 'verified');
    assert.deepEqual(
      existsSync(verified) ? readdirSync(verified).filter((e) => e.startsWith(fx.hex)) : [],
      [],
    );
    assertRefused(
      exec(fx.prog, [], audited(store, {}, cache)),
      /^cald: refusing .* has sha256 [0-9a-f]{64}, not the hash in its name/,
    );
  });

  test('an object with write bits is verified every time, never cached (a writer could open it unseen)', async () => {
    const store = storeCopy();
    chmodSync(objectIn(store), 0o644);
    const cache = join(fx.dir, `cache-${n++}`);
    const st = statSync(objectIn(store));
    await new Promise((r) => setTimeout(r, Math.max(0, st.ctimeMs + 1100 - Date.now())));
    for (const r of [1, 2].map(() => exec(fx.prog, [], audited(store, { CALD_DEBUG: '1' }, cache)))) {
      assert.equal(r.status, 0, r.stderr);
      assert.match(caldLines(r)[0]!, /\(verified sha256/);
    }
  });

  test('with no writer the cache is used as before', async () => {
    const store = storeCopy();
    const cache = join(fx.dir, `cache-${n++}`);
    const st = statSync(objectIn(store));
    await new Promise((r) => setTimeout(r, Math.max(0, st.ctimeMs + 1100 - Date.now())));
    const first = exec(fx.prog, [], audited(store, { CALD_DEBUG: '1' }, cache));
    const second = exec(fx.prog, [], audited(store, { CALD_DEBUG: '1' }, cache));
    assert.match(caldLines(first)[0]!, /\(verified sha256/);
    assert.match(caldLines(second)[0]!, /\(cached verification/);
  });
});

describe('finding 4: another user cannot change what a program loads', { skip: noOtherUser ?? false }, () => {
  test('a store another user owns is refused; so is one below a directory others can write', () => {
    const theirs = storeCopy();
    for (const p of [theirs, join(theirs, 'objects'), join(theirs, 'objects', 'sha256'), objectIn(theirs)]) {
      chownSync(p, NOBODY, NOBODY);
    }
    assertRefused(
      exec(fx.prog, [], audited(theirs)),
      `cald: refusing ${fx.uri}: the store ${theirs} is not trusted: ${theirs} is owned by uid ${NOBODY}; it must belong to you or root (or an owner named in /etc/cald/store-owners)`,
    );
    const open = join(fx.dir, `open-${n++}`);
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    const below = join(open, 'store');
    cpSync(fx.store, below, { recursive: true, verbatimSymlinks: true });
    assertRefused(
      exec(fx.prog, [], audited(below)),
      `cald: refusing ${fx.uri}: the store ${below} is not trusted: ${open} is writable by group or others (mode 0777); make it writable only by its owner (chmod go-w)`,
    );
    // The cald commands keep the same rule (one line, the store's exit status).
    const v = cald(['verify', '--store', theirs], { env: env() });
    assert.equal(v.status, 6);
    assert.equal(
      v.stderr.split('\n')[0],
      `cald: refusing the store ${theirs}: ${theirs} is owned by uid ${NOBODY}; it must belong to you (uid 0) or root (or an owner named in /etc/cald/store-owners)`,
    );
  });

  test('a store owner the administrator names in /etc/cald/store-owners is trusted', (t) => {
    if (whyNoSecure() !== null) return t.skip(`cannot give /etc a private overlay: ${whyNoSecure()}`);
    const theirs = storeCopy();
    for (const p of [theirs, join(theirs, 'objects'), join(theirs, 'objects', 'sha256'), objectIn(theirs)]) {
      chownSync(p, NOBODY, NOBODY);
    }
    const etc = join(fx.dir, `etc-${n++}`);
    mkdirSync(join(etc, 'cald'), { recursive: true });
    writeFileSync(join(etc, 'cald', 'store-owners'), `# stores the build user keeps\n${NOBODY}\n`, {
      mode: 0o644,
    });
    // Seen only inside a private mount namespace: /etc with the file laid over it.
    const inNamespace = (cmd: string) =>
      exec(
        'unshare',
        ['-m', '--', 'sh', '-c', `mount -t overlay overlay -o lowerdir=${etc}:/etc /etc && ${cmd}`],
        {
          ...audited(theirs),
        },
      );
    const r = inNamespace(`exec ${fx.prog} named`);
    assert.equal(r.stdout, 'hello from libgreet, named\n', r.stderr);
    assert.equal(r.status, 0);
    // A file someone else could write names no one.
    chmodSync(join(etc, 'cald', 'store-owners'), 0o666);
    assertRefused(inNamespace(`exec ${fx.prog}`), /is owned by uid 65534; it must belong to you or root/);
  });

  test('an object another user owns or can write is refused', () => {
    const store = storeCopy();
    chownSync(objectIn(store), NOBODY, NOBODY);
    assertRefused(
      exec(fx.prog, [], audited(store)),
      `cald: refusing ${fx.uri}: ${objectIn(store)} is owned by uid ${NOBODY}; it must belong to you or root (or an owner named in /etc/cald/store-owners)`,
    );
    const shared = storeCopy();
    chmodSync(objectIn(shared), 0o666);
    assertRefused(
      exec(fx.prog, [], audited(shared)),
      `cald: refusing ${fx.uri}: ${objectIn(shared)} is writable by group or others (mode 0666); make it writable only by its owner (chmod go-w)`,
    );
  });

  test('as nobody: no rename race on a trusted store; a writable objects directory is refused', () => {
    const store = storeCopy();
    const own = join(fx.dir, `nobody-${n++}`); // nobody's own directory and file
    mkdirSync(own);
    chownSync(own, NOBODY, NOBODY);
    const evil = join(own, 'libevil.so');
    copyFileSync(evilLibrary(), evil);
    chownSync(evil, NOBODY, NOBODY);
    // The check-then-open window is closed by the rule: nobody else can rename anything in.
    const mv = asNobody('mv', ['-f', evil, objectIn(store)], env());
    assert.notEqual(mv.status, 0);
    assert.match(mv.stderr, /Permission denied/);
    assert.equal(exec(fx.prog, ['ok'], audited(store)).stdout, 'hello from libgreet, ok\n');
    // A store whose objects directory others can write is not used at all.
    chmodSync(join(store, 'objects', 'sha256'), 0o777);
    const planted = asNobody('mv', ['-f', evil, objectIn(store)], env());
    assert.equal(planted.status, 0, planted.stderr);
    assertRefused(
      exec(fx.prog, [], audited(store)),
      `cald: refusing ${fx.uri}: the store ${store} is not trusted: ${join(store, 'objects', 'sha256')} is writable by group or others (mode 0777); make it writable only by its owner (chmod go-w)`,
    );
  });

  test('nobody runs a program from a store root owns (root is trusted), with its own cache', () => {
    const store = storeCopy();
    const home = join(fx.dir, `nobody-home-${n++}`);
    mkdirSync(home);
    chownSync(home, NOBODY, NOBODY);
    const r = asNobody(fx.prog, ['nobody'], {
      ...audited(store),
      HOME: home,
      XDG_CACHE_HOME: join(home, 'cache'),
    });
    assert.equal(r.stdout, 'hello from libgreet, nobody\n', r.stderr);
    assert.equal(r.status, 0);
  });
});

describe('finding 7: the verification cache is used only where no one else can write', () => {
  test('a cache below a directory others can write is not used; a private one is', async () => {
    const store = storeCopy();
    const st = statSync(objectIn(store));
    await new Promise((r) => setTimeout(r, Math.max(0, st.ctimeMs + 1100 - Date.now())));
    const open = join(fx.dir, `shared-${n++}`);
    mkdirSync(open);
    chmodSync(open, 0o777);
    const cache = join(open, 'user', 'cache');
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    const runs = [1, 2].map(() => exec(fx.prog, [], audited(store, { CALD_DEBUG: '1' }, cache)));
    for (const r of runs) {
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`^cald: verification cache ${cache}/cald/verified unusable`, 'm'));
      assert.match(r.stderr, /\(verified sha256/);
      assert.doesNotMatch(r.stderr, /cached verification/);
    }
    chmodSync(open, 0o755);
    const again = [1, 2].map(() => exec(fx.prog, [], audited(store, { CALD_DEBUG: '1' }, cache)));
    assert.match(again[1]!.stderr, /\(cached verification/);
  });
});

/** Why a secure-execution program cannot be tried here, or null. */
function whyNoSecure(): string | null {
  if (noOtherUser !== null) return noOtherUser;
  for (const tool of ['setcap', 'unshare']) {
    if (spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`]).status !== 0)
      return `${tool} is missing`;
  }
  const r = spawnSync('unshare', ['-m', '--', 'sh', '-c', 'mount -t tmpfs none /mnt']);
  if (r.status !== 0) return 'no private mount namespace here (unshare -m)';
  if (!existsSync('/usr/lib/x86_64-linux-gnu/libc.so.6')) return 'not a Debian x86-64 library layout';
  return null;
}

describe('finding 5: secure-execution mode ignores the environment', { skip: whyNoSecure() ?? false }, () => {
  test('a program with file capabilities run by nobody: CALD_STORE and CALD_FALLBACK are ignored', () => {
    // ld.so loads an audit library in secure mode only from a system directory and with the
    // set-user-ID bit: give it one in a private mount namespace (an overlay nobody else sees).
    const lib = join(fx.dir, `secure-lib-${n++}`);
    mkdirSync(lib);
    copyFileSync(auditLib, join(lib, 'libcald-audit.so'));
    chmodSync(join(lib, 'libcald-audit.so'), 0o4755);
    const src = join(fx.dir, 'main.c');
    const prog = join(fx.dir, `prog-secure-${n++}`);
    mustRun('cc', ['-o', prog, src, join(fx.dir, 'stub-cas.so'), '-Wl,--audit=libcald-audit.so']);
    mustRun('/usr/sbin/setcap', ['cap_net_bind_service+ep', prog]);
    const store = storeCopy();
    const dir = '/usr/lib/x86_64-linux-gnu';
    const script =
      `mount -t overlay overlay -o lowerdir=${lib}:${dir} ${dir} && exec setpriv --reuid=nobody --regid=nogroup --clear-groups ` +
      `env CALD_STORE=${store} CALD_FALLBACK=hint LD_LIBRARY_PATH=${fx.hostLib} CALD_DEBUG=1 ${prog} secure`;
    const r = exec('unshare', ['-m', '--', 'sh', '-c', script], env());
    // The effective user's own default store (nobody's home is /nonexistent), no fallback.
    assertRefused(
      r,
      new RegExp(
        `^cald: cannot load ${fx.uri}: /nonexistent/\\.local/share/cald/store/objects/sha256/${fx.hex} does not exist`,
      ),
    );
    assert.doesNotMatch(r.stdout, /hello/);
    // The same program without the capability uses CALD_STORE (the legitimate use).
    const plain = join(fx.dir, `prog-plain-${n++}`);
    copyFileSync(prog, plain);
    const ok = exec('unshare', ['-m', '--', 'sh', '-c', script.replace(prog, plain)], env());
    assert.equal(ok.stdout, 'hello from libgreet, secure\n', ok.stderr);
  });
});

// The third way with no cald process at all: programs imported with `--audit` (DT_AUDIT names
// /usr/local/lib/libcald-audit.so, and the first DT_NEEDED is the audit sentinel), the library
// installed system-wide with `cald install-audit`, and the programs
// run under `env -i`: no LD_AUDIT, no CALD_STORE, no HOME. The audit library then finds the store
// at root's default location, ~/.local/share/cald/store (home read from /etc/passwd).
//
// Keeping root's real default store clean: the programs are imported into a private store, and
// each run happens in a private mount namespace (`unshare -m`) where that private store is
// bind-mounted over the default location. Nothing is written to the real default store (checked:
// its listing before and after is the same). `install-audit --uninstall` runs in an after hook (or
// a library that was already installed is put back as it was), under the machine-wide test lock
// 'system-audit' that the other suites touching /usr/local/lib/libcald-audit.so take too.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../helpers/run.js';
import { acquireSystemLock } from '../helpers/system-lock.js';
import { makeTmp } from '../helpers/tmp.js';
import {
  assertSame,
  baseEnv,
  caldCli,
  direct,
  hostMapped,
  importInto,
  neededOf,
  PROGRAMS,
  programsMissing,
  type Runner,
  runCase,
  splitMaps,
} from './e2e.js';

const INSTALLED = '/usr/local/lib/libcald-audit.so';

function passwdHome(): string | null {
  const uid = process.getuid?.();
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f.length >= 6 && Number(f[2]) === uid) return f[5]!;
  }
  return null;
}

function whyNot(): string | null {
  const missing = programsMissing();
  if (missing) return missing;
  if (process.getuid?.() !== 0) return 'install-audit and bind mounts need root';
  if (!existsSync('/usr/local/lib')) return '/usr/local/lib does not exist';
  const r = run('unshare', ['-m', '--', 'sh', '-c', 'mount -t tmpfs none /mnt']);
  if (r.status !== 0) return `no private mount namespace here (unshare -m: ${r.stderr.trim() || r.error})`;
  if (!passwdHome()) return 'no /etc/passwd entry for this uid';
  return null;
}

/** A recursive listing (name, type, size, mtime) of a directory, or null if absent. */
function listing(dir: string): string[] | null {
  if (!existsSync(dir)) return null;
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = statSync(p, { throwIfNoEntry: false });
      out.push(`${p} ${e.isDirectory() ? 'd' : e.isSymbolicLink() ? 'l' : 'f'} ${st?.size} ${st?.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

const skip = whyNot();
if (skip) {
  test('DT_AUDIT programs run with no environment', { skip }, () => {});
} else {
  const dir = makeTmp({ after: (fn) => process.on('exit', fn) }, 'e2e-dtaudit');
  // ldconfig is in /usr/sbin; install-audit finds it there even when PATH lacks it (last test).
  const env = { ...baseEnv(join(dir, 'home')), PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' };
  const store = join(dir, 'store');
  const defaultStore = join(passwdHome()!, '.local', 'share', 'cald', 'store');
  // The mount point must exist; directories made for it are removed afterwards.
  const made: string[] = [];
  for (let d = defaultStore; !existsSync(d); d = join(d, '..')) made.unshift(d);
  for (const d of made) mkdirSync(d);
  const storeBefore = listing(defaultStore);

  // Other suites install and remove the same system file: hold the machine-wide test lock
  // throughout, and leave the file as it was found (installed or not).
  let release: (() => void) | undefined;
  let previous: Buffer | null = null;
  before(async () => {
    release = await acquireSystemLock('system-audit');
    previous = existsSync(INSTALLED) ? readFileSync(INSTALLED) : null;
  });
  after(() => {
    try {
      if (previous) {
        // By a rename: audited programs of other suites may have it mapped (in place: SIGBUS).
        writeFileSync(`${INSTALLED}.restore`, previous);
        renameSync(`${INSTALLED}.restore`, INSTALLED);
        run('ldconfig', [], { env });
      } else {
        const r = caldCli(['install-audit', '--uninstall'], env);
        assert.equal(r.status, 0, r.stderr);
      }
      for (const d of made.reverse()) rmdirSync(d);
    } finally {
      release?.();
    }
  });

  /** env -i PROGRAM, in a namespace where the private store is root's default store (and run from there). */
  const noEnvironment = (object: string): Runner => {
    const inDefault = join(defaultStore, relative(store, object));
    const script = 'mount --bind "$1" "$2" && shift 2 && exec env -i "$@"';
    return (args, caseEnv, cwd) => {
      // Only the case's own variables (git's author and date) pass: nothing of cald's, no HOME.
      const own = Object.entries(caseEnv)
        .filter(([k]) => k.startsWith('GIT_'))
        .map(([k, v]) => `${k}=${v}`);
      const r = run(
        'unshare',
        ['-m', '--', 'sh', '-c', script, 'sh', store, defaultStore, ...own, inDefault, ...args],
        {
          env: caseEnv,
          replaceEnv: true,
          cwd,
          timeoutMs: 60_000,
        },
      );
      return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    };
  };

  test('cald install-audit puts libcald-audit.so where ld.so finds it', () => {
    const r = caldCli(['install-audit'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /installed \/usr\/local\/lib\/libcald-audit\.so \(ldconfig done\)/);
    assert.match(
      run('ldconfig', ['-p']).stdout,
      /libcald-audit\.so .*=> \/usr\/local\/lib\/libcald-audit\.so/,
    );
  });

  for (const spec of PROGRAMS) {
    const imp = importInto(store, ['--audit', ...spec.importArgs], env);
    test(`${spec.key}: imported with DT_AUDIT=/usr/local/lib/libcald-audit.so and the sentinel first`, () => {
      const out = run('readelf', ['-dW', imp.program.object]).stdout;
      assert.match(out, /\(AUDIT\)\s+Audit library: \[\/usr\/local\/lib\/libcald-audit\.so\]/);
      const [first, ...rest] = neededOf(imp.program.object);
      assert.match(first ?? '', /^\/proc\/needs-libcald-audit\.so\/cas:sha256:[0-9a-f]{64}$/);
      assert.ok(rest.every((n) => n.startsWith('cas:') || n === 'ld-linux-x86-64.so.2'));
    });
    for (const c of spec.cases) {
      test(`${spec.key} ${c.label}: DT_AUDIT under env -i gives the original's output`, (t) => {
        const want = runCase(c, direct(spec.path), env, join(dir, 'work'), `original-${spec.key}-${c.label}`);
        const got = runCase(
          c,
          noEnvironment(imp.program.object),
          env,
          join(dir, 'work'),
          `dt-${spec.key}-${c.label}`,
        );
        assertSame(c, want, got, 'DT_AUDIT, env -i');
        if (spec.key !== 'python3') return;
        const maps = splitMaps(got[0]!.stdout)[1];
        const root = defaultStore; // the bind-mounted private store, as the process saw it
        assert.ok(maps.includes(INSTALLED), `the system-wide audit library is loaded: ${maps.join(' ')}`);
        assert.deepEqual(hostMapped(maps, root), [], 'ELF files mapped from the host, not the store');
        t.diagnostic(`store objects mapped: ${maps.filter((m) => m.startsWith(root)).length}`);
      });
    }
  }

  test('without the installed library the DT_AUDIT program refuses to start at its sentinel', () => {
    const sqlite = importInto(store, ['--audit', '/usr/bin/sqlite3'], env);
    const removed = caldCli(['install-audit', '--uninstall'], env);
    assert.equal(removed.status, 0, removed.stderr);
    try {
      const r = noEnvironment(sqlite.program.object)([':memory:', 'select 1;'], env, dir);
      assert.equal(r.status, 127);
      assert.match(r.stderr, /libcald-audit\.so' cannot be loaded as audit interface/);
      assert.match(
        r.stderr,
        /error while loading shared libraries: \/proc\/needs-libcald-audit\.so\/cas:sha256:[0-9a-f]{64}: cannot open shared object file/,
      );
    } finally {
      assert.equal(caldCli(['install-audit'], env).status, 0);
    }
  });

  test('install-audit with ldconfig not on PATH (a normal PATH) still makes the library findable', () => {
    const uninstalled = caldCli(['install-audit', '--uninstall'], env);
    assert.equal(uninstalled.status, 0, uninstalled.stderr);
    try {
      const r = caldCli(['install-audit'], { ...env, PATH: '/usr/local/bin:/usr/bin:/bin' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(run('ldconfig', ['-p'], { env }).stdout, /libcald-audit\.so /);
    } finally {
      assert.equal(caldCli(['install-audit'], env).status, 0);
    }
  });

  test("root's real default store was not touched", () => {
    assert.deepEqual(listing(defaultStore), storeBefore);
  });
}

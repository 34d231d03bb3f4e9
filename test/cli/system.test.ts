// binfmt_misc and `cald system install`/`uninstall`, as root on this machine. The tests register
// and remove their own binfmt_misc entry, run a #!cas: script through it and through cald run,
// and check that install then uninstall leaves every file it touches byte-identical (hashed
// before and after), the binfmt_misc mount and entries as they were, and the directories' times.
// Probes: root, and binfmt_misc mounted or mountable; each missing one skips by name.
// Other suites install /usr/local/lib/libcald-audit.so too: the machine-wide test lock
// 'system-audit' is held throughout (and 'binfmt' for the binfmt_misc entries).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fillScriptHandler } from '../../src/runtime/launcher.js';
import { run } from '../helpers/run.js';
import { acquireSystemLock } from '../helpers/system-lock.js';
import { makeTmp } from '../helpers/tmp.js';
import { cald, hasStackTrace } from './cald.js';

const BINFMT = '/proc/sys/fs/binfmt_misc';
const NATIVE = new URL('../../../native/build/', import.meta.url).pathname;
const SH = '/bin/sh';

function mounted(): boolean {
  return existsSync(join(BINFMT, 'register'));
}

function whyNot(): string | null {
  if (process.getuid?.() !== 0) return 'binfmt_misc and cald system install need root';
  if (!existsSync(BINFMT)) return `${BINFMT} does not exist`;
  if (!readFileSync('/proc/filesystems', 'utf8').includes('binfmt_misc'))
    return 'the kernel has no binfmt_misc';
  if (!mounted()) {
    // Mountable? (mounted and unmounted again here, so the machine is left as found)
    const m = run('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT]);
    if (m.status !== 0) return `binfmt_misc cannot be mounted: ${m.stderr.trim()}`;
    run('umount', [BINFMT]);
  }
  if (!existsSync(join(NATIVE, 'cald-binfmt'))) return 'native/build/cald-binfmt is not built';
  return null;
}

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Every file and directory cald system install may touch, hashed (or stat'ed), and the binfmt_misc state. */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of [
    '/etc/ld.so.cache',
    '/usr/local/lib/libcald-audit.so',
    '/usr/local/lib/cald/cald-binfmt',
    '/var/lib/cald/system/state.json',
    '/etc/binfmt.d/cald.conf',
  ]) {
    out[f] = existsSync(f) ? `${sha(f)} mode ${(statSync(f).mode & 0o7777).toString(8)}` : 'absent';
  }
  for (const d of [
    '/usr/local/lib',
    '/usr/local/lib/cald',
    '/var/lib',
    '/var/lib/cald',
    '/var/lib/cald/system',
    '/etc',
    '/etc/binfmt.d',
  ]) {
    const st = statSync(d, { throwIfNoEntry: false });
    out[d] =
      st === undefined
        ? 'absent'
        : `mode ${st.mode.toString(8)} mtime ${Math.floor(st.mtimeMs)} entries ${readdirSync(d).sort().join(',')}`;
  }
  out.binfmt = mounted() ? `mounted: ${readdirSync(BINFMT).sort().join(',')}` : 'not mounted';
  return out;
}

const skip = whyNot();

describe('binfmt_misc and cald system install', { skip: skip ?? false }, () => {
  let release: Array<() => void> = [];
  let dir = '';
  let env: Record<string, string> = {};
  let scriptFile = '';

  before(async () => {
    release = [await acquireSystemLock('system-audit'), await acquireSystemLock('binfmt')];
    dir = makeTmp({ after: (fn) => process.on('exit', fn) }, 'system');
    env = {
      CALD_STORE: join(dir, 'store'),
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: dir,
      XDG_CACHE_HOME: join(dir, 'cache'),
    };
    const src = join(dir, 'hello.sh');
    writeFileSync(src, '#!/bin/sh\necho "hello from $0 with $*"\n');
    chmodSync(src, 0o755);
    const r = cald(['import', src], { env });
    assert.equal(r.status, 0, r.stderr);
    // A checked-out copy: a #!cas: script anywhere, executable, run by the kernel.
    scriptFile = join(dir, 'hello');
    writeFileSync(scriptFile, readFileSync(cald(['path', 'hello.sh'], { env }).stdout.trim()));
    chmodSync(scriptFile, 0o755);
  });
  after(() => {
    for (const r of release.reverse()) r();
  });

  test('cald run runs the #!cas: script', () => {
    const r = cald(['run', scriptFile, 'a'], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `hello from ${scriptFile} with a\n`);
  });

  test("the test's own binfmt_misc entry runs a #!cas: script through cald-binfmt, and is removed", (t) => {
    if (!existsSync(SH)) return t.skip(`${SH} is missing`);
    const before = snapshot();
    const wasMounted = mounted();
    if (!wasMounted) assert.equal(run('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT]).status, 0);
    const name = `cald-test-${process.pid}`;
    const handler = join(dir, 'cald-binfmt');
    const template = readFileSync(join(NATIVE, 'cald-binfmt'));
    const audit = join(NATIVE, 'libcald-audit.so');
    writeFileSync(handler, fillScriptHandler(template, audit));
    chmodSync(handler, 0o755);
    try {
      // Without the entry the kernel cannot run the file.
      const without = run(scriptFile, []);
      assert.notEqual(without.status, 0, 'no handler: the kernel refuses #!cas: (Exec format error)');
      const lbin = join(dir, 'lbin');
      const refused = cald(['install', '--link', 'hello.sh', '--bin', lbin], { env });
      assert.notEqual(refused.status, 0);
      assert.match(refused.stderr, /no binfmt_misc entry runs such files here/);
      writeFileSync(join(BINFMT, 'register'), `|${name}|M||#!cas:||${handler}|`);
      assert.match(readFileSync(join(BINFMT, name), 'utf8'), new RegExp(`interpreter ${handler}`));
      // Now a link to the script object runs through the handler (cald install --link).
      const link = cald(['install', '--link', 'hello.sh', '--bin', lbin], { env });
      assert.equal(link.status, 0, link.stderr);
      const viaLink = run(join(lbin, 'hello.sh'), ['l'], { env });
      assert.equal(viaLink.stdout, `hello from ${join(lbin, 'hello.sh')} with l\n`, viaLink.stderr);
      const r = run(scriptFile, ['x', 'y z'], { env });
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, `hello from ${scriptFile} with x y z\n`);
      // The interpreter is verified: a store without it refuses, in one line.
      const other = run(scriptFile, [], { env: { ...env, CALD_STORE: join(dir, 'nostore') } });
      assert.equal(other.status, 127);
      assert.match(other.stderr, /^cald-binfmt: cannot run the program: .* does not exist/);
      assert.equal(other.stderr.trim().split('\n').length, 1);
    } finally {
      if (existsSync(join(BINFMT, name))) writeFileSync(join(BINFMT, name), '-1');
      if (!wasMounted) run('umount', [BINFMT]);
    }
    assert.ok(!existsSync(join(BINFMT, name)));
    assert.deepEqual(snapshot(), before);
  });

  test('cald system install registers the handler and the audit library; uninstall leaves every touched file byte-identical', (t) => {
    if (existsSync('/var/lib/cald/system/state.json'))
      return t.skip('cald is already installed system-wide on this machine');
    const before = snapshot();
    const inst = cald(['system', 'install', '--json'], { env });
    assert.equal(inst.status, 0, inst.stderr);
    try {
      const r = JSON.parse(inst.stdout) as { auditLibrary: string; handler: string; binfmtEntry: string };
      assert.equal(r.auditLibrary, '/usr/local/lib/libcald-audit.so');
      assert.equal(sha(r.auditLibrary), sha(join(NATIVE, 'libcald-audit.so')));
      assert.match(
        readFileSync(r.binfmtEntry, 'utf8'),
        /enabled\ninterpreter \/usr\/local\/lib\/cald\/cald-binfmt\n/,
      );
      assert.match(
        run('/usr/sbin/ldconfig', ['-p']).stdout,
        /libcald-audit\.so .*=> \/usr\/local\/lib\/libcald-audit\.so/,
      );
      if (existsSync('/etc/binfmt.d')) {
        // systemd-binfmt registers it again at boot.
        const conf = readFileSync('/etc/binfmt.d/cald.conf', 'utf8');
        assert.equal(conf, '|cald|M||#!cas:||/usr/local/lib/cald/cald-binfmt|\n');
        const sd = '/lib/systemd/systemd-binfmt';
        if (existsSync(sd)) {
          // What boot does: the entry removed, then registered again from the file.
          writeFileSync(r.binfmtEntry, '-1');
          assert.equal(run(sd, ['/etc/binfmt.d/cald.conf']).status, 0);
          assert.match(readFileSync(r.binfmtEntry, 'utf8'), /^enabled\n/);
        } else t.diagnostic(`${sd} is missing: the boot-time registration is not checked`);
      }
      const ran = run(scriptFile, ['sys'], { env });
      assert.equal(ran.stdout, `hello from ${scriptFile} with sys\n`, ran.stderr);
      // A second install is refused in one line; nothing changes.
      const again = cald(['system', 'install'], { env });
      assert.notEqual(again.status, 0);
      assert.match(again.stderr, /installed system-wide already/);
      assert.ok(!hasStackTrace(again.stderr));
    } finally {
      // The installed cache as a program starting now holds it: uninstall must put the old one
      // back by a rename, not rewrite this file under it (a mapping of it would die of SIGBUS).
      const held = openSync('/etc/ld.so.cache', 'r');
      const heldBytes = readFileSync(held);
      const un = cald(['system', 'uninstall'], { env });
      try {
        assert.equal(un.status, 0, un.stderr);
        assert.equal(un.stderr, '', 'nothing left unrestored');
        const now = Buffer.alloc(heldBytes.length + 1);
        assert.equal(readSync(held, now, 0, now.length, 0), heldBytes.length, 'not cut under its reader');
        assert.ok(now.subarray(0, heldBytes.length).equals(heldBytes), 'not rewritten under its reader');
      } finally {
        closeSync(held);
      }
    }
    assert.deepEqual(snapshot(), before);
    assert.notEqual(run(scriptFile, [], { env }).status, 0, 'the handler is gone');
    const none = cald(['system', 'uninstall'], { env });
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /not installed system-wide/);
  });
});

describe('cald system install over a file already there', { skip: skip ?? false }, () => {
  test('an audit library installed before is put back with its bytes and mode', async (t) => {
    if (existsSync('/var/lib/cald/system/state.json'))
      return t.skip('cald is already installed system-wide on this machine');
    const lib = '/usr/local/lib/libcald-audit.so';
    const release = await acquireSystemLock('system-audit');
    const releaseBinfmt = await acquireSystemLock('binfmt');
    t.after(() => {
      releaseBinfmt();
      release();
    });
    if (existsSync(lib)) return t.skip(`${lib} exists already on this machine`);
    const dirTimes = statSync('/usr/local/lib');
    // An older copy (different bytes: a trailing byte), mode 0755.
    writeFileSync(lib, Buffer.concat([readFileSync(join(NATIVE, 'libcald-audit.so')), Buffer.from([0])]));
    chmodSync(lib, 0o755);
    try {
      const before = snapshot();
      const inst = cald(['system', 'install']);
      assert.equal(inst.status, 0, inst.stderr);
      assert.equal(sha(lib), sha(join(NATIVE, 'libcald-audit.so')), 'replaced while installed');
      const un = cald(['system', 'uninstall']);
      assert.equal(un.status, 0, un.stderr);
      assert.deepEqual(snapshot(), before);
    } finally {
      rmSync(lib, { force: true });
      utimesSync('/usr/local/lib', dirTimes.atime, dirTimes.mtime);
    }
  });
});

describe('cald system as another user', {
  skip: process.getuid?.() === 0 ? false : 'needs root to switch to nobody',
}, () => {
  test('install without root is one line, nothing changed', async (t) => {
    const main = new URL('../../src/cli/main.js', import.meta.url).pathname;
    const probe = run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', main]);
    if (probe.status !== 0) return t.skip(`nobody cannot read ${main} (or setpriv is missing)`);
    const release = await acquireSystemLock('system-audit');
    t.after(release);
    const before = snapshot();
    const r = run('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      '-e',
      `import(${JSON.stringify(new URL('../../src/cli/main.js', import.meta.url).href)}).then(m=>m.main(['system','install'])).then(c=>process.exit(c))`,
    ]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^cald: cald system install changes system files and needs root/);
    assert.deepEqual(snapshot(), before);
    assert.ok(!hasStackTrace(r.stderr));
  });
});

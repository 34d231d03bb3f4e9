// Finding 6 of issue 8 for programs imported with `--audit`, written as the attack: the audit
// library is missing (DT_AUDIT's /usr/local/lib/libcald-audit.so not installed, or the LD_AUDIT
// path gone), and another user (nobody, through setpriv) has planted files named like the
// program's `cas:` DT_NEEDED entries, and a libcald-audit.so, in a directory on LD_LIBRARY_PATH
// (or in the current directory, through an empty entry). The planted library's constructor would
// write a marker. The program must refuse to start with one line naming its audit sentinel, and the
// marker must never appear; strace shows that no `cas:` name was looked for. A control imported
// without --audit shows the attack is real. With the audit library, the program runs (and ignores
// the planted files), and the sentinel's empty object keeps the stack non-executable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ElfFile } from '../../src/elf/read/index.js';
import { AUDIT_SENTINEL_PREFIX, auditSentinelTarget } from '../../src/store/index.js';
import { cald } from '../cli/cald.js';
import { acquireSystemLock } from '../helpers/system-lock.js';
import { makeTmp } from '../helpers/tmp.js';
import { auditLib, exec, mustRun, type Result, sha256File as sha256Of } from './fixture.js';

const INSTALLED = '/usr/local/lib/libcald-audit.so';

/** Why the attack cannot be staged here, or null (probed once). */
function whyNot(): string | null {
  if (process.getuid?.() !== 0) return 'planting files as another user (setpriv as nobody) needs root';
  const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'true']);
  if (r.error !== undefined || r.status !== 0) return 'setpriv cannot switch to nobody here';
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler (cc)';
  return null;
}
const skip = whyNot();

const LIB = 'int answer(void) { return 42; }\n';
// Prints the stack's permissions and every store object mapped, then uses the library.
const MAIN = `#include <stdio.h>
#include <string.h>
int answer(void);
int main(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[1024], perms[8], path[900];
  while (f && fgets(line, sizeof line, f)) {
    path[0] = 0;
    if (sscanf(line, "%*s %7s %*s %*s %*s %899s", perms, path) < 1) continue;
    if (strcmp(path, "[stack]") == 0) printf("stack %s\\n", perms);
    else if (strstr(path, "/objects/sha256/")) printf("map %s\\n", path);
  }
  printf("answer %d\\n", answer());
  return 0;
}
`;
const EVIL = (marker: string) => `#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void planted(void) {
  int fd = open(${JSON.stringify(marker)}, O_CREAT | O_WRONLY, 0644);
  if (fd >= 0) close(fd);
}
unsigned int la_version(unsigned int v) { return v; }
int answer(void) { return 666; }
`;

if (skip) {
  test('finding 6: an --audit program without its audit library refuses to start; planted cas: files never run', {
    skip,
  }, () => {});
} else {
  describe('finding 6: an --audit program without its audit library fails closed', () => {
    const dir = makeTmp({ after }, 'audit-sentinel');
    chmodSync(dir, 0o755); // nobody must reach the files it copies
    const marker = join(dir, 'MARKER');
    const store = join(dir, 'store');
    const plant = join(dir, 'plant'); // nobody's directory, on the victim's LD_LIBRARY_PATH
    const env = (extra: Record<string, string> = {}) => ({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LC_ALL: 'C',
      HOME: join(dir, 'home'),
      XDG_CACHE_HOME: join(dir, 'cache'),
      ...extra,
    });
    let audited = ''; // the program object imported with --audit
    let plain = ''; // the same program imported without it
    let sentinel = '';
    let release: (() => void) | undefined;
    let installed = false;

    before(async () => {
      // Other suites install and remove /usr/local/lib/libcald-audit.so: hold their lock, so the
      // library stays as found (it must be missing for these tests) while they run.
      release = await acquireSystemLock('system-audit');
      installed = existsSync(INSTALLED);
      writeFileSync(join(dir, 'lib.c'), LIB);
      writeFileSync(join(dir, 'main.c'), MAIN);
      writeFileSync(join(dir, 'evil.c'), EVIL(marker));
      mustRun('cc', ['-shared', '-fPIC', '-o', join(dir, 'libans.so'), join(dir, 'lib.c')]);
      mustRun('cc', ['-shared', '-fPIC', '-o', join(dir, 'evil.so'), join(dir, 'evil.c')]);
      chmodSync(join(dir, 'evil.so'), 0o644);
      for (const [name, audit] of [
        ['prog', true],
        ['prog-plain', false],
      ] as const) {
        const out = join(dir, name);
        mustRun('cc', ['-o', out, join(dir, 'main.c'), '-L', dir, '-lans', `-Wl,-rpath,${dir}`]);
        const r = cald(['import', '--json', '--store', store, ...(audit ? ['--audit'] : []), out], {
          env: env(),
        });
        assert.equal(r.status, 0, r.stderr);
        const digest = (JSON.parse(r.stdout) as { imported: Array<{ digest: string }> }).imported[0]!.digest;
        const object = join(store, 'objects', 'sha256', digest.replace('sha256:', ''));
        if (audit) audited = object;
        else plain = object;
      }
      const needed = ElfFile.parse(readFileSync(audited)).needed;
      sentinel = needed[0]!;
      // Another user plants, in its own directory: the program's library under its content name
      // (the evil library), its libc's content name (a link to the host's real libc, so that the
      // program would start) and a libcald-audit.so (for a DT_AUDIT searched by file name).
      mkdirSync(plant, { mode: 0o755 });
      chownSync(plant, 65534, 65534);
      const asNobody = (cmd: string, ...args: string[]) => {
        const r = exec(
          'setpriv',
          ['--reuid=nobody', '--regid=nogroup', '--clear-groups', cmd, ...args],
          env(),
        );
        assert.equal(r.status, 0, r.stderr);
      };
      const libc = /libc\.so\.6 => (\S+)/.exec(mustRun('ldd', [join(dir, 'prog')]))?.[1];
      assert.ok(libc !== undefined, 'ldd does not show where libc.so.6 is');
      for (const name of needed.slice(1)) {
        if (name.endsWith('?name=libc.so.6')) asNobody('ln', '-s', libc, join(plant, name));
        else asNobody('cp', join(dir, 'evil.so'), join(plant, name));
      }
      asNobody('cp', join(dir, 'evil.so'), join(plant, 'libcald-audit.so'));
    });
    after(() => release?.());

    /** ld.so's own warning that it ignores an audit library it cannot load. */
    const ignoredAudit = (l: string) =>
      /^ERROR: ld\.so: object '.*' cannot be loaded as audit interface: .*; ignored\.$/.test(l);
    function assertRefused(r: Result, program: string): void {
      assert.equal(r.status, 127, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.split('\n').filter((l) => l !== '' && !ignoredAudit(l));
      assert.deepEqual(lines, [
        `${program}: error while loading shared libraries: ${sentinel}: cannot open shared object file: No such file or directory`,
      ]);
      assert.equal(existsSync(marker), false, 'the planted library ran');
    }

    test('the program names the audit library by path and its sentinel first', (t) => {
      const elf = ElfFile.parse(readFileSync(audited));
      assert.ok(sentinel.startsWith(AUDIT_SENTINEL_PREFIX), sentinel);
      assert.ok(auditSentinelTarget(sentinel) !== undefined, sentinel);
      assert.match(elf.needed[1]!, /^cas:sha256:[0-9a-f]{64}\?name=libans\.so$/);
      const dyn = mustRun('readelf', ['-d', audited]);
      assert.match(dyn, /\(AUDIT\)\s+Audit library: \[\/usr\/local\/lib\/libcald-audit\.so\]/);
      if (installed) t.diagnostic(`${INSTALLED} is installed here: the attack tests below are skipped`);
    });

    test('control: the same program imported without --audit runs the planted library (the attack is real)', () => {
      rmSync(marker, { force: true });
      const r = exec(plain, [], env({ LD_LIBRARY_PATH: plant }));
      assert.equal(existsSync(marker), true, `${r.status} ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /answer 666/);
      rmSync(marker);
    });

    test('DT_AUDIT library not installed, planted files on LD_LIBRARY_PATH: refused, nothing planted runs', (t) => {
      if (installed) return t.skip(`${INSTALLED} is installed on this machine`);
      assertRefused(exec(audited, [], env({ LD_LIBRARY_PATH: plant })), audited);
    });

    test('the current directory through an empty LD_LIBRARY_PATH entry: refused the same way', (t) => {
      if (installed) return t.skip(`${INSTALLED} is installed on this machine`);
      assertRefused(exec(audited, [], env({ LD_LIBRARY_PATH: `${join(dir, 'none')}:` }), plant), audited);
    });

    test('an LD_AUDIT path that is gone (as the launcher or cald env set it): refused the same way', (t) => {
      if (installed) return t.skip(`${INSTALLED} is installed on this machine`);
      const gone = join(dir, 'gone', 'libcald-audit.so');
      assertRefused(
        exec(audited, [], env({ LD_AUDIT: gone, CALD_STORE: store, LD_LIBRARY_PATH: plant })),
        audited,
      );
    });

    test('the sentinel fails before any cas: name is looked for (strace)', (t) => {
      if (installed) return t.skip(`${INSTALLED} is installed on this machine`);
      if (spawnSync('strace', ['-o', '/dev/null', 'true']).status !== 0)
        return t.skip('strace cannot trace here');
      const log = join(dir, 'strace.log');
      const r = exec(
        'strace',
        ['-f', '-o', log, '-e', 'trace=%file', audited],
        env({ LD_LIBRARY_PATH: plant }),
      );
      assert.equal(r.status, 127, r.stderr);
      const lines = readFileSync(log, 'utf8').split('\n');
      const sentinelOpen = lines.filter((l) => l.includes(sentinel));
      assert.ok(
        sentinelOpen.some((l) => /ENOENT/.test(l)),
        sentinelOpen.join('\n'),
      );
      const casLookups = lines.filter((l) => l.includes('cas:sha256:') && !l.includes(AUDIT_SENTINEL_PREFIX));
      assert.deepEqual(casLookups, [], 'ld.so looked for a cas: name after the sentinel');
      assert.deepEqual(
        lines.filter(
          (l) =>
            l.includes('libcald-audit.so') && !l.includes(INSTALLED) && !l.includes(AUDIT_SENTINEL_PREFIX),
        ),
        [],
        'ld.so searched for the audit library by file name',
      );
    });

    test('with the audit library the program runs, ignores the planted files, and its stack stays non-executable', () => {
      rmSync(marker, { force: true });
      const r = exec(audited, [], env({ LD_AUDIT: auditLib, CALD_STORE: store, LD_LIBRARY_PATH: plant }));
      assert.equal(r.status, 0, r.stderr);
      const stub = join(
        store,
        'objects',
        'sha256',
        auditSentinelTarget(sentinel)!.slice('cas:sha256:'.length),
      );
      assert.match(r.stdout, /^stack rw-p$/m);
      assert.ok(r.stdout.split('\n').includes(`map ${stub}`), r.stdout);
      assert.match(r.stdout, /^answer 42$/m);
      assert.equal(existsSync(marker), false);
      // Through cald run (audit mode), as before the sentinel.
      const run = cald(['run', '--store', store, audited], { env: env() });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /^answer 42$/m);
    });

    test('names mode cannot run an --audit program: it stops at the sentinel (it needs the resolver)', () => {
      const r = cald(['run', '--mode', 'names', '--store', store, audited], { env: env() });
      assert.equal(r.status, 127);
      assert.match(
        r.stderr,
        new RegExp(`error while loading shared libraries: ${sentinel.replace(/[.?]/g, '\\$&')}: cannot open`),
      );
    });

    test('the sentinel object is kept by gc, verified by verify, and shown by ldd, graph, inspect and referrers', () => {
      const stubHex = auditSentinelTarget(sentinel)!.slice('cas:sha256:'.length);
      const stub = join(store, 'objects', 'sha256', stubHex);
      const gc = cald(['gc', '--store', store], { env: env() });
      assert.equal(gc.status, 0, gc.stderr);
      assert.ok(existsSync(stub), 'gc deleted the sentinel object');
      const verify = cald(['verify', '--store', store], { env: env() });
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
      const rebuilt = cald(['index', 'rebuild', '--store', store], { env: env() });
      assert.equal(rebuilt.status, 0, rebuilt.stderr);
      const referrers = cald(['referrers', '--store', store, `sha256:${stubHex}`], { env: env() });
      assert.equal(referrers.status, 0, referrers.stderr);
      assert.match(referrers.stdout, /prog\)\s+needs it as cas:sha256:/);
      const ldd = cald(['ldd', '--store', store, audited], { env: env() });
      assert.equal(ldd.status, 0, ldd.stderr);
      const graph = cald(['graph', '--store', store, `sha256:${sha256Of(audited)}`], { env: env() });
      assert.equal(graph.status, 0, graph.stderr);
      assert.ok(
        graph.stdout.split('\n').some((l) => l.includes(sentinel) && l.includes(`sha256:${stubHex}`)),
        graph.stdout,
      );
      const inspect = cald(['inspect', audited], { env: env() });
      assert.equal(inspect.status, 0, inspect.stderr);
      // Drawn as a tree, its directory and its hash side by side (cli/format/name-tree.ts).
      assert.match(
        inspect.stdout,
        new RegExp(`^  needed +├─ /proc/needs-libcald-audit\\.so +sha256:${stubHex}$`, 'm'),
      );
      assert.match(
        ldd.stdout,
        new RegExp(
          `^├─ /proc/needs-libcald-audit\\.so +sha256:${stubHex.slice(0, 12)} +verified +${stub}$`,
          'm',
        ),
      );
    });
  });
}

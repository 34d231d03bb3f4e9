// Trees (docs/trees.md): cald import --tree of a directory and a .deb, cald checkout, cald diff,
// the tree object format, gc over tree edges, bad trees, and a C program whose library finds its
// plugins and data relative to itself (dladdr), run from two checkouts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Digest } from '../../src/store/index.js';
import { decodeTree, encodeTree } from '../../src/tree/index.js';
import { hasStackTrace } from '../cli/cald.js';
import { AUDIT_LIB, baseEnv, caldCli, hexOf, neededOf, objectPath } from '../e2e/e2e.js';
import { hasTool, run, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine } from '../store/helpers/robust.js';

/** A temporary directory whose read-only checkouts are made writable before it is removed. */
function treeTmp(t: { after(fn: () => void): void }, label: string, parent?: string): string {
  const dir = parent === undefined ? makeTmp(t, label) : mkdtempSync(join(parent, `cald-${label}-`));
  t.after(() => {
    run('chmod', ['-R', 'u+w', dir]);
    if (parent !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** `cald import --tree --json ...`: the tree's digest. */
function importTree(store: string, args: string[], env: Record<string, string>): string {
  const r = caldCli(['import', '--tree', '--json', '--store', store, ...args], env);
  assert.equal(r.status, 0, `cald import --tree ${args.join(' ')}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { tree: { digest: string } }).tree.digest;
}

function makeSmallTree(dir: string): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'share', 'doc'), { recursive: true });
  mkdirSync(join(dir, 'empty'));
  writeFileSync(join(dir, 'bin', 'tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  writeFileSync(join(dir, 'share', 'doc', 'README'), 'read me\n');
  writeFileSync(join(dir, 'share', 'same'), 'read me\n');
  symlinkSync('../share/doc/README', join(dir, 'bin', 'readme'));
  symlinkSync('/etc/hostname', join(dir, 'share', 'host-file'));
}

test('the tree object format: one spelling, names that cannot escape', () => {
  const d = Digest.parse(`sha256:${'a'.repeat(64)}`);
  const bytes = encodeTree([
    { kind: 'link', name: 'z', target: 'a b\nc' },
    { kind: 'file', name: 'b', digest: d, size: 3, executable: true },
    { kind: 'tree', name: 'a', digest: d },
  ]);
  assert.equal(bytes.toString('latin1').split('\0')[0], `cald-tree 1\ntree sha256:${'a'.repeat(64)}`);
  assert.deepEqual(
    decodeTree(bytes).map((e) => e.name),
    ['a', 'b', 'z'],
  );
  assert.ok(encodeTree(decodeTree(bytes)).equals(bytes));
  // Another spelling of the same entries (out of order) is refused, as are escaping names.
  const swapped = Buffer.from(
    `cald-tree 1\nfile sha256:${'a'.repeat(64)} 3\0b\0tree sha256:${'a'.repeat(64)}\0a\0`,
  );
  assert.throws(() => decodeTree(swapped), /canonical spelling/);
  for (const name of ['..', '.', 'a/b', ''])
    assert.throws(
      () => decodeTree(Buffer.from(`cald-tree 1\nlink x\0${name}\0`)),
      /escape the tree|not one name/,
    );
  assert.throws(
    () => decodeTree(Buffer.from(`cald-tree 1\nfile sha256:${'a'.repeat(64)} 03\0b\0`)),
    /malformed/,
  );
  assert.throws(() => decodeTree(Buffer.from('cald-tree 1\nfile sha256:')), /cut short/);
});

test('a directory as a tree: deterministic, checked out read-only with hard links, diffed', (t) => {
  const dir = treeTmp(t, 'tree-dir');
  const env = baseEnv(join(dir, 'home'));
  const src = join(dir, 'src');
  makeSmallTree(src);
  const a = importTree(join(dir, 'store1'), [src], env);
  // The same files in another store, reached by another path: the same digest.
  renameSync(src, join(dir, 'moved'));
  const store = join(dir, 'store2');
  assert.equal(importTree(store, [join(dir, 'moved'), '--name', 'small'], env), a);

  // The root tree object is a plain file anyone can hash and read.
  const rootBytes = readFileSync(objectPath(store, hexOf(a)));
  assert.equal(createHash('sha256').update(rootBytes).digest('hex'), hexOf(a));
  assert.deepEqual(
    decodeTree(rootBytes).map((e) => `${e.kind} ${e.name}`),
    ['tree bin', 'tree empty', 'tree share'],
  );

  // An archive carries the tree with every file and its closure (tree edges are references).
  const archive = join(dir, 'small.tar.zst');
  assert.equal(caldCli(['export', '--store', store, '-o', archive, 'tree-small'], env).status, 0);
  const store3 = join(dir, 'store3');
  const unpacked = caldCli(['import-archive', '--allow-unsigned', '--store', store3, archive], env);
  assert.equal(unpacked.status, 0, unpacked.stderr);
  assert.equal(caldCli(['checkout', '--store', store3, a, join(dir, 'co3')], env).status, 0);
  assert.equal(readFileSync(join(dir, 'co3', 'bin', 'readme'), 'utf8'), 'read me\n');

  const co = join(dir, 'co');
  const r = caldCli(['checkout', '--store', store, 'small', co], env);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(join(co, 'bin', 'readme'), 'utf8'), 'read me\n');
  assert.equal(run(join(co, 'bin', 'tool'), []).stdout, 'tool\n');
  assert.deepEqual(readdirSync(join(co, 'empty')), []);
  const readme = statSync(join(co, 'share', 'doc', 'README'));
  const object = statSync(objectPath(store, hexOf(decodeTreeAt(store, a, ['share', 'doc', 'README']))));
  assert.equal(readme.ino, object.ino, 'a hard link to the object');
  assert.equal(readme.mode & 0o777, 0o444);
  assert.equal(statSync(join(co, 'share')).mode & 0o777, 0o555);
  assert.equal(statSync(join(co, 'bin', 'tool')).mode & 0o777, 0o555);
  // A checkout into a directory that holds something is refused.
  assertOneLine(caldCli(['checkout', '--store', store, a, co], env), /not an empty directory/);

  // gc keeps every child of a kept tree, also with an index rebuilt from the objects alone;
  // without the roots, it frees them.
  assert.equal(caldCli(['index', 'rebuild', '--store', store], env).status, 0);
  assert.equal(caldCli(['gc', '--store', store], env).status, 0);
  assert.ok(existsSync(objectPath(store, hexOf(decodeTreeAt(store, a, ['bin', 'tool'])))));
  const roots = caldCli(['roots', 'list', '--json', '--store', store], env);
  assert.match(roots.stdout, /tree-small/);
  assert.match(roots.stdout, /checkout of tree/);

  // A second version: one file changed, one added, one removed, a link retargeted.
  const v2 = join(dir, 'v2');
  makeSmallTree(v2);
  writeFileSync(join(v2, 'bin', 'tool'), '#!/bin/sh\necho tool 2\n', { mode: 0o755 });
  writeFileSync(join(v2, 'bin', 'new'), 'new\n');
  chmodSync(join(v2, 'share', 'same'), 0o755);
  run('rm', ['-r', join(v2, 'empty'), join(v2, 'bin', 'readme')]);
  symlinkSync('tool', join(v2, 'bin', 'readme'));
  const b = importTree(store, [v2, '--name', 'small2'], env);
  const diff = caldCli(['diff', '--store', store, 'small', 'small2'], env);
  assert.equal(diff.status, 0, diff.stderr);
  const lines = diff.stdout.trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.split('  ')[0]),
    ['+ /bin/new', 'M /bin/readme', 'M /bin/tool', '- /empty', 'M /share/same'],
  );
  const json = JSON.parse(caldCli(['diff', '--json', '--store', store, a, b], env).stdout) as {
    changed: Array<{
      path: string;
      from: { digest?: string; executable?: boolean };
      to: { digest?: string; executable?: boolean };
    }>;
  };
  const same = json.changed.find((c) => c.path === '/share/same')!;
  assert.equal(same.from.digest, same.to.digest, 'same bytes, only the mode changed');
  assert.deepEqual([same.from.executable, same.to.executable], [false, true]);
  assert.equal(caldCli(['diff', '--store', store, a, a], env).stdout, '');

  // Removing the roots (and the checkout) lets gc free the tree's objects.
  chmodSync(co, 0o755);
  run('chmod', ['-R', 'u+w', co]);
  run('rm', ['-rf', co]);
  for (const id of ['tree-small', 'tree-small2'])
    assert.equal(caldCli(['roots', 'remove', '--store', store, id], env).status, 0);
  assert.equal(caldCli(['gc', '--store', store], env).status, 0);
  assert.ok(!existsSync(objectPath(store, hexOf(a))), 'the tree object is freed');
});

/** The digest of the entry at `names` under tree `root` (read from the store's files). */
function decodeTreeAt(store: string, root: string, names: string[]): string {
  let digest = root;
  for (const n of names) {
    const e = decodeTree(readFileSync(objectPath(store, hexOf(digest)))).find((x) => x.name === n);
    assert.ok(e && e.kind !== 'link', `${n} in ${digest}`);
    digest = e.digest.toString();
  }
  return digest;
}

test('bad trees: an escaping link, a link loop, special files, corrupt tree objects', (t) => {
  const dir = treeTmp(t, 'tree-bad');
  const env = baseEnv(join(dir, 'home'));
  const store = join(dir, 'store');

  const escaping = join(dir, 'escaping');
  mkdirSync(join(escaping, 'lib'), { recursive: true });
  symlinkSync('../../outside', join(escaping, 'lib', 'x'));
  assertOneLine(
    caldCli(['import', '--tree', '--store', store, escaping], env),
    /^cald: .*lib\/x -> \.\.\/\.\.\/outside leads out of the tree/,
  );

  const loop = join(dir, 'loop');
  mkdirSync(loop);
  symlinkSync('b', join(loop, 'a'));
  symlinkSync('a', join(loop, 'b'));
  assertOneLine(
    caldCli(['import', '--tree', '--store', store, loop], env),
    /^cald: the symbolic links \/a -> \/b -> \/a form a loop/,
  );

  const fifo = join(dir, 'fifo');
  mkdirSync(fifo);
  runOk('mkfifo', [join(fifo, 'pipe')]);
  assertOneLine(
    caldCli(['import', '--tree', '--store', store, fifo], env),
    /pipe is a device, socket or FIFO/,
  );

  // A tree object named by its hash but naming ".." (a crafted object): refused at checkout.
  const good = join(dir, 'good');
  makeSmallTree(good);
  const tree = importTree(store, [good], env);

  // Two sources laid over one another: one path may come from both only with the same content.
  const more = join(dir, 'more');
  makeSmallTree(more);
  writeFileSync(join(more, 'extra'), 'extra\n');
  const both = caldCli(['import', '--tree', '--store', store, good, more], env);
  assert.equal(both.status, 0, both.stderr);
  assert.match(both.stdout, /\?name=good_more {2}/);
  writeFileSync(join(more, 'bin', 'tool'), 'other\n', { mode: 0o755 });
  assertOneLine(
    caldCli(['import', '--tree', '--store', store, good, more], env),
    /\/bin\/tool is given twice, as different things \(the file .*good\/bin\/tool and the file .*more\/bin\/tool\)/,
  );
  const crafted = Buffer.from(`cald-tree 1\ntree ${tree}\0..\0`);
  const hex = createHash('sha256').update(crafted).digest('hex');
  writeFileSync(objectPath(store, hex), crafted, { mode: 0o444 });
  assertOneLine(
    caldCli(['checkout', '--store', store, `sha256:${hex}`, join(dir, 'co1')], env),
    /is not a valid tree: entry "\.\." is a name that would escape the tree/,
  );
  // A file's object missing: one line naming the path, and no half-made checkout left behind.
  const readme = decodeTreeAt(store, tree, ['share', 'same']);
  const other = importTree(store, [join(good, 'share')], env);
  rmSync(objectPath(store, hexOf(readme)));
  assertOneLine(
    caldCli(['checkout', '--store', store, other, join(dir, 'co4')], env),
    /^cald: \/doc\/README: its object sha256:[0-9a-f]{64} is not in the store/,
  );
  assert.ok(!existsSync(join(dir, 'co4')));
  // A stored tree object whose bytes changed: the store's check names it.
  const sub = decodeTreeAt(store, tree, ['share']);
  const file = objectPath(store, hexOf(sub));
  chmodSync(file, 0o644);
  writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from('x')]));
  assertOneLine(caldCli(['checkout', '--store', store, tree, join(dir, 'co2')], env), new RegExp(hexOf(sub)));
  // Not a tree at all.
  const blob = decodeTreeAt(store, tree, ['bin', 'tool']);
  assertOneLine(
    caldCli(['checkout', '--store', store, blob, join(dir, 'co3')], env),
    /is a file, not a tree/,
  );
});

test('a .deb file as a tree: the files dpkg-deb lists', {
  skip: !hasTool('dpkg-deb') && 'dpkg-deb is not installed',
}, (t) => {
  const dir = treeTmp(t, 'tree-deb');
  const env = baseEnv(join(dir, 'home'));
  const pkg = join(dir, 'pkg');
  makeSmallTree(join(pkg, 'usr'));
  mkdirSync(join(pkg, 'DEBIAN'));
  writeFileSync(
    join(pkg, 'DEBIAN', 'control'),
    'Package: cald-tree-test\nVersion: 1.0\nArchitecture: all\nMaintainer: cald <cald@example.invalid>\nDescription: test\n',
  );
  runOk('dpkg-deb', ['--root-owner-group', '--build', pkg, join(dir, 'cald-tree-test_1.0_all.deb')]);
  const store = join(dir, 'store');
  const r = caldCli(['import', '--store', store, join(dir, 'cald-tree-test_1.0_all.deb')], env);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^cas:sha256:[0-9a-f]{64}\?name=cald-tree-test {2}/);
  const co = join(dir, 'co');
  assert.equal(caldCli(['checkout', '--store', store, 'cald-tree-test', co], env).status, 0);
  const listed = runOk('dpkg-deb', ['-c', join(dir, 'cald-tree-test_1.0_all.deb')])
    .stdout.trim()
    .split('\n')
    .map((l) =>
      l
        .replace(/^.*? \.\//, '/')
        .replace(/ -> .*$/, '')
        .replace(/\/$/, ''),
    )
    .filter((p) => p !== '/' && p !== '')
    .sort();
  const found = runOk('find', ['.', '-mindepth', '1'], { cwd: co })
    .stdout.trim()
    .split('\n')
    .map((p) => p.slice(1))
    .sort();
  assert.deepEqual(found, listed);
});

// A library that finds its plugins and its data relative to its own file (dladdr), as media
// frameworks do; the program prints where everything was loaded from.
const HOST_C = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <libgen.h>
int host_version(void) { return 7; }
int run_plugins(void) {
  Dl_info info;
  if (!dladdr((void *)run_plugins, &info)) return 1;
  char self[4096], dir[4096], path[4096];
  snprintf(self, sizeof self, "%s", info.dli_fname);
  snprintf(dir, sizeof dir, "%s", dirname(self));
  printf("libhost: %s\\n", info.dli_fname);
  snprintf(path, sizeof path, "%s/../share/greeting.txt", dir);
  FILE *f = fopen(path, "r");
  char line[128] = "";
  if (f) { if (!fgets(line, sizeof line, f)) line[0] = 0; fclose(f); }
  printf("data: %s", f ? line : "missing\\n");
  const char *names[] = {"a", "b"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/plugins/%s.so", dir, names[i]);
    void *h = dlopen(path, RTLD_NOW);
    if (!h) { printf("plugin %s: %s\\n", names[i], dlerror()); return 2; }
    const char *(*name)(void) = (const char *(*)(void))dlsym(h, "plugin_name");
    printf("plugin %s: %s\\n", names[i], name());
  }
  return 0;
}
`;
const PLUGIN_C = (n: string) => `
int host_version(void);
static char buf[32];
const char *plugin_name(void) {
  buf[0] = '${n}'; buf[1] = '0' + host_version(); buf[2] = 0;
  return buf;
}
`;
const PROG_C = `
#include <stdio.h>
#include <unistd.h>
int run_plugins(void);
int main(void) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  printf("exe: %s\\n", exe);
  return run_plugins();
}
`;

test('a program whose library finds its plugins by dladdr, checked out twice, loads them', {
  skip: !hasTool('cc') && 'cc is not installed',
}, async (t) => {
  const dir = treeTmp(t, 'tree-plugins');
  const env = baseEnv(join(dir, 'home'));
  const src = join(dir, 'app');
  for (const d of ['bin', 'lib/plugins', 'share', 'c']) mkdirSync(join(src, d), { recursive: true });
  writeFileSync(join(src, 'share', 'greeting.txt'), 'hello from the tree\n');
  const c = join(dir, 'c');
  mkdirSync(c);
  writeFileSync(join(c, 'host.c'), HOST_C);
  writeFileSync(join(c, 'a.c'), PLUGIN_C('a'));
  writeFileSync(join(c, 'b.c'), PLUGIN_C('b'));
  writeFileSync(join(c, 'prog.c'), PROG_C);
  run('rmdir', [join(src, 'c')]);
  runOk('cc', ['-shared', '-fPIC', '-o', join(src, 'lib', 'libhost.so'), join(c, 'host.c'), '-ldl']);
  for (const p of ['a', 'b'])
    runOk('cc', [
      '-shared',
      '-fPIC',
      '-o',
      join(src, 'lib', 'plugins', `${p}.so`),
      join(c, `${p}.c`),
      `-L${join(src, 'lib')}`,
      '-lhost',
      '-Wl,-rpath,$ORIGIN/..',
    ]);
  runOk('cc', [
    '-o',
    join(src, 'bin', 'prog'),
    join(c, 'prog.c'),
    `-L${join(src, 'lib')}`,
    '-lhost',
    '-Wl,-rpath,$ORIGIN/../lib',
  ]);
  const original = runOk(join(src, 'bin', 'prog'), []).stdout;
  assert.match(original, /plugin b: b7/);

  const store = join(dir, 'store');
  const tree = importTree(store, [src, '--name', 'app'], env);
  const run1 = (co: string) => {
    const r = run(join(co, 'bin', 'prog'), [], {
      env: { ...env, LD_AUDIT: AUDIT_LIB, CALD_STORE: store },
      replaceEnv: true,
    });
    assert.equal(r.status, 0, `${co}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const outputs: string[] = [];
  for (const co of [join(dir, 'co1'), join(dir, 'deeper', 'place', 'co2')]) {
    mkdirSync(join(co, '..'), { recursive: true });
    assert.equal(caldCli(['checkout', '--store', store, tree, co], env).status, 0);
    // The checkout holds the rewritten objects: content names, no search path.
    const needed = neededOf(join(co, 'bin', 'prog'));
    assert.ok(needed.length === 2 && needed.every((n) => n.startsWith('cas:')), needed.join(' '));
    assert.ok(
      neededOf(join(co, 'lib', 'plugins', 'a.so')).some(
        (n) => n.startsWith('cas:') && n.endsWith('?name=libhost.so'),
      ),
    );
    const out = run1(co);
    assert.equal(
      out,
      `exe: ${co}/bin/prog\nlibhost: ${co}/lib/libhost.so\ndata: hello from the tree\nplugin a: a7\nplugin b: b7\n`,
    );
    outputs.push(out.replaceAll(co, 'CO'));
  }
  assert.equal(outputs[0], outputs[1]);

  // On another file system the files are copies, and the program works the same from them.
  const shm = '/dev/shm';
  const otherFs = existsSync(shm) && statSync(shm).dev !== statSync(dir).dev;
  await t.test(
    'a checkout on another file system is copied',
    { skip: !otherFs && 'no second file system (/dev/shm) here' },
    () => {
      const co = join(treeTmp(t, 'tree-plugins-shm', shm), 'co');
      const r = caldCli(['checkout', '--json', '--store', store, tree, co], env);
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout) as { linked: number; copied: number };
      assert.deepEqual([report.linked, report.copied], [0, 5]);
      assert.equal(statSync(join(co, 'bin', 'prog')).mode & 0o777, 0o555);
      assert.equal(run1(co).replaceAll(co, 'CO'), outputs[0]);
    },
  );

  // Verification applies in the checkout: a plugin swapped for other bytes is refused, by name.
  const co1 = join(dir, 'co1');
  chmodSync(join(co1, 'lib', 'plugins'), 0o755);
  run('rm', ['-f', join(co1, 'lib', 'plugins', 'b.so')]);
  writeFileSync(join(co1, 'lib', 'plugins', 'b.so'), readFileSync(join(co1, 'lib', 'plugins', 'a.so')), {
    mode: 0o444,
  });
  chmodSync(join(co1, 'lib', 'plugins'), 0o555);
  const r = run(join(co1, 'bin', 'prog'), [], {
    env: { ...env, LD_AUDIT: AUDIT_LIB, CALD_STORE: store },
    replaceEnv: true,
  });
  assert.match(
    r.stderr,
    /cald: refusing .*plugins\/b\.so: .*plugins\/b\.so has sha256 [0-9a-f]{64}, not cas:sha256:[0-9a-f]{64} as its tree says/,
  );
  assert.match(r.stdout, /plugin a: a7\n/);
  assert.doesNotMatch(r.stdout, /plugin b: b7/);
});

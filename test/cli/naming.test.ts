// Issue 9 (names) and issue 13 (names like tags): a program imported through a symlink answers to
// the link's name and the target's; a name moves to the newest import and the old object stays
// reachable by digest until gc; roots add never overwrites an import's root; roots remove takes a
// name, an original path or the exact line import printed. Programs built with cc here.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { cald } from './cald.js';
import { type AppBuilds, assertFails, assertUnchanged, buildApps, storeSnapshot } from './naming-fixture.js';

const DIGEST = /cas:sha256:([0-9a-f]{64})/;

describe('program names', () => {
  const dir = makeTmp({ after }, 'cli-naming');
  let apps: AppBuilds;
  let n = 0;
  const freshStore = () => join(dir, `store${n++}`);
  const ok = (args: string[]) => {
    const r = cald(args);
    assert.equal(r.status, 0, `cald ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r;
  };
  const importLine = (store: string, ...args: string[]) => {
    const r = ok(['import', ...args, '--store', store]);
    const m = DIGEST.exec(r.stdout);
    assert.ok(m !== null, r.stdout);
    return { line: r.stdout.split('\n')[0]!, digest: `sha256:${m[1]}`, stderr: r.stderr };
  };
  before(() => {
    apps = buildApps(dir);
  });

  test('imported through a symlink: run, ldd, install and roots by the link name and the target name', () => {
    const store = freshStore();
    const imp = importLine(store, apps.v1Link);
    // The line names the path as given, with the hint of its own name (as the path runs it: a
    // multi-call program behind a link, iptables -> xtables-nft-multi, runs the link's command);
    // the note says which names it runs as.
    assert.match(imp.line, new RegExp(`^cas:sha256:[0-9a-f]{64}\\?name=app  ${apps.v1Link}$`));
    assert.match(imp.stderr, /note: .*\/v1\/app runs as app, app-1\.0/);
    const uri = imp.line.split('  ')[0]!;
    assert.equal(ok(['run', '--store', store, uri, 'x']).stdout, 'app 1 argv0=app argc=2\n');
    for (const name of ['app', 'app-1.0']) {
      const r = ok(['run', '--store', store, name, 'x']);
      assert.equal(r.stdout, `app 1 argv0=${name} argc=2\n`);
      const l = ok(['ldd', '--store', store, '--json', name]);
      assert.equal(JSON.parse(l.stdout).program.digest, imp.digest);
    }
    const bin = join(dir, 'bin-symlink');
    const inst = ok(['install', 'app', '--bin', bin, '--store', store]);
    assert.match(inst.stdout, new RegExp(`^installed ${bin}/app -> ${imp.digest}$`, 'm'));
    const launched = run(join(bin, 'app'), []);
    assert.equal(launched.status, 0, launched.stderr);
    assert.match(launched.stdout, /^app 1 argv0=\S*app argc=1\n$/);
    const roots = JSON.parse(ok(['roots', 'list', '--store', store, '--json']).stdout).roots as Array<{
      id: string;
      name: string | undefined;
      path: string | undefined;
      target: string;
    }>;
    const programs = roots.filter((r) => r.id.startsWith('program-'));
    assert.deepEqual(
      programs.map((r) => [r.id, r.name, r.path, r.target]),
      [
        ['program-app', 'app', apps.v1Link, imp.digest],
        ['program-app-1.0', 'app-1.0', apps.v1Link, imp.digest],
      ],
    );
    const list = ok(['list', '--store', store]).stdout.split('\n');
    assert.match(list[0]!, /^NAME +DIGEST +SIZE +CLOSURE +IMPORTED \(UTC\) +FROM$/);
    assert.match(list[1]!, new RegExp(`^app +${imp.digest.slice(0, 23)} +\\d.* ${apps.v1Link}$`));
    assert.match(list[2]!, /^app-1\.0 /);
  });

  test('hard links imported together (bzip2, bunzip2, bzcat): one line per path, each with its own name', () => {
    const store = freshStore();
    const d = join(dir, 'hardlinks');
    mkdirSync(d, { recursive: true });
    const paths = ['zip', 'unzip', 'zcat'].map((n) => join(d, n));
    copyFileSync(apps.v1, paths[0]!);
    for (const p of paths.slice(1)) linkSync(paths[0]!, p);
    const r = ok(['import', ...paths, '--store', store]);
    // Each path once, with the hint it runs as: a line copied for zcat must run zcat, not zip.
    const lines = r.stdout.trimEnd().split('\n');
    assert.deepEqual(
      lines.map((l) => l.replace(/^cas:sha256:[0-9a-f]{64}/, 'URI')),
      paths.map((p) => `URI?name=${basename(p)}  ${p}`),
    );
    for (const [i, p] of paths.entries()) {
      const uri = lines[i]!.split('  ')[0]!;
      assert.equal(ok(['run', '--store', store, uri]).stdout, `app 1 argv0=${basename(p)} argc=1\n`);
    }
  });

  test('a name moves to the newest import; the old object stays reachable by digest until gc frees it', () => {
    const store = freshStore();
    const old = importLine(store, apps.v1Link);
    const neu = importLine(store, apps.v2, '--name', 'app');
    assert.notEqual(old.digest, neu.digest);
    assert.match(neu.stderr, new RegExp(`note: app now names ${neu.digest}; ${old.digest} stays stored`));
    assert.equal(ok(['run', '--store', store, 'app']).stdout, 'app 2 argv0=app argc=1\n');
    // app-1.0 was not asked for: it still names the first build, which is also reachable by digest.
    assert.equal(ok(['run', '--store', store, 'app-1.0']).stdout, 'app 1 argv0=app-1.0 argc=1\n');
    assert.match(ok(['run', '--store', store, old.digest]).stdout, /^app 1 /);
    const dry = ok(['gc', '--dry-run', '--print-dead', '--store', store]);
    assert.doesNotMatch(dry.stdout, new RegExp(old.digest.slice(7)));
    // Dropping the last name of the old build leaves it to gc.
    const before = storeSnapshot(store);
    const rm = ok(['roots', 'remove', 'app-1.0', '--store', store]);
    assert.match(rm.stdout, /^removed program-app-1\.0 {2}object {2}sha256:/);
    const after = storeSnapshot(store);
    assert.deepEqual(
      [...before.keys()].filter((k) => !after.has(k)),
      ['roots/program-app-1.0'],
    );
    const dead = ok(['gc', '--dry-run', '--print-dead', '--store', store]);
    assert.match(dead.stdout, new RegExp(`^${store}/objects/sha256/${old.digest.slice(7)}  \\d+$`, 'm'));
    assertUnchanged(after, store, 'gc --dry-run');
    ok(['gc', '--store', store]);
    assert.ok(!existsSync(join(store, 'objects', 'sha256', old.digest.slice(7))));
    assert.equal(ok(['run', '--store', store, 'app']).stdout, 'app 2 argv0=app argc=1\n');
    assertFails(
      cald(['run', '--store', store, old.digest]),
      127,
      /is not in the store/,
      'run old digest after gc',
    );
  });

  test('re-importing a rebuilt file moves both its names (never "names 2 imported programs")', () => {
    const store = freshStore();
    const first = importLine(store, apps.v1);
    // The same path imported again after a rebuild.
    writeFileSync(join(dir, 'place-app'), readFileSync(apps.v1), { mode: 0o755 });
    const a = importLine(store, join(dir, 'place-app'));
    writeFileSync(join(dir, 'place-app'), readFileSync(apps.v2), { mode: 0o755 });
    const b = importLine(store, join(dir, 'place-app'));
    assert.equal(a.digest, first.digest);
    assert.notEqual(b.digest, a.digest);
    const r = ok(['run', '--store', store, 'place-app']);
    assert.match(r.stdout, /^app 2 /);
    const roots = JSON.parse(ok(['roots', 'list', '--store', store, '--json']).stdout).roots as Array<{
      name?: string;
      target: string;
    }>;
    assert.deepEqual(
      roots.filter((x) => x.name === 'place-app').map((x) => x.target),
      [b.digest],
    );
  });

  test('roots add of an imported program keeps the import root and its note (bug 2)', () => {
    const store = freshStore();
    const imp = importLine(store, apps.v1Link);
    const rootFile = join(store, 'roots', 'program-app');
    const before = readFileSync(rootFile, 'utf8');
    const add = ok(['roots', 'add', imp.digest, '--store', store]);
    assert.match(add.stdout, new RegExp(`^added object-[0-9a-f]{16}  object  ${imp.digest}\\n$`));
    assert.equal(readFileSync(rootFile, 'utf8'), before);
    assert.match(ok(['run', '--store', store, 'app']).stdout, /^app 1 /);
    // Adding the same root again changes nothing and says so.
    const snap = storeSnapshot(store);
    assert.match(ok(['roots', 'add', imp.digest, '--store', store]).stdout, /^already a root: object-/);
    assertUnchanged(snap, store, 'roots add (again)');
    // The import's own root, named by its id and its object: it stands as it is.
    const same = ok(['roots', 'add', '--id', 'program-app', 'app-1.0', '--store', store]);
    assert.match(same.stdout, /^already a root: program-app {2}object {2}/);
    assert.equal(readFileSync(rootFile, 'utf8'), before);
  });

  test('roots add --id of a root that keeps another object is refused', () => {
    const store = freshStore();
    importLine(store, apps.v1Link);
    const v2 = importLine(store, apps.v2, '--name', 'two');
    const before = storeSnapshot(store);
    assertFails(
      cald(['roots', 'add', '--id', 'program-app', v2.digest, '--store', store]),
      1,
      /^cald: root program-app exists already and keeps sha256:/,
      'roots add --id clash',
    );
    assertUnchanged(before, store, 'a refused roots add');
  });

  test('roots remove: the exact import line, the URI, the original path, the name; nosuch exits 8', () => {
    const forms = (imp: { line: string; digest: string }) =>
      [
        ['the exact line', [imp.line]],
        ['the line split by the shell', imp.line.split(/\s+/)],
        ['the URI', [imp.line.split(' ')[0]!]],
        ['the URI without ?name=', [imp.line.split('?')[0]!]],
        ['the digest', [imp.digest]],
        ['the original path', [apps.v1Link]],
      ] as const;
    for (const [what, args] of forms({ line: '', digest: '' })) {
      const store = freshStore();
      const imp = importLine(store, apps.v1Link);
      const real = forms(imp).find(([w]) => w === what)![1];
      const r = ok(['roots', 'remove', ...real, '--store', store]);
      assert.deepEqual(
        r.stdout
          .trim()
          .split('\n')
          .map((l) => l.split('  ')[0]),
        ['removed program-app', 'removed program-app-1.0'],
        `${what}: ${args.join(' ')}`,
      );
      assertFails(cald(['run', '--store', store, 'app']), 127, /app is not an imported program/, what);
    }
    const store = freshStore();
    importLine(store, apps.v1Link);
    const byName = ok(['roots', 'remove', 'app', '--store', store]);
    assert.equal(byName.stdout.trim().split('\n').length, 1);
    assert.match(ok(['run', '--store', store, 'app-1.0']).stdout, /^app 1 /);
    const before = storeSnapshot(store);
    const nosuch = cald(['roots', 'remove', 'nosuch', '--store', store]);
    assertFails(nosuch, 8, /^cald: no root "nosuch" in /, 'roots remove nosuch');
    assertFails(cald(['roots', 'remove', 'app', '--store', store]), 8, /no root "app"/, 'removed twice');
    assertUnchanged(before, store, 'a failed roots remove');
  });

  test('--name: a bad name stores nothing; one program per import', () => {
    const store = freshStore();
    importLine(store, apps.v1Link);
    const before = storeSnapshot(store);
    for (const bad of ['a/b', 'x:y', '-x', '..', 'two words']) {
      assertFails(
        cald(['import', apps.v2, '--name', bad, '--store', store]),
        2,
        /bad program name/,
        `--name ${bad}`,
      );
    }
    assertFails(
      cald(['import', apps.v1, apps.v2, '--name', 'both', '--store', store]),
      2,
      /--name names one program; 2 were given/,
      '--name with two programs',
    );
    // Objects of the refused imports may be stored (unrooted, for gc), but no root or name moved.
    const after = storeSnapshot(store);
    assert.deepEqual(
      [...after].filter(([k]) => k.startsWith('roots/')),
      [...before].filter(([k]) => k.startsWith('roots/')),
    );
    assert.match(ok(['run', '--store', store, 'app']).stdout, /^app 1 /);
    // Several names at once, each a tag.
    const two = importLine(store, apps.v2, '--name', 'app2', '--name', 'latest');
    for (const name of ['app2', 'latest'])
      assert.match(ok(['run', '--store', store, name]).stdout, /^app 2 /);
    assert.notEqual(two.digest, '');
  });
});

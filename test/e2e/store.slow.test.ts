// Checks over every object of each real program's import: the cas: names (checked with sha256sum),
// no store path inside any object, determinism across two fresh stores, a moved store, and a
// flipped byte in each library a run loads (audit mode refuses it, naming the URI; names mode
// cannot check content, its behaviour is reported).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, realpathSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import {
  AUDIT_LIB,
  assertSame,
  baseEnv,
  caldCli,
  direct,
  flipByte,
  hexOf,
  type ImportResult,
  importInto,
  LOADER_NAME,
  type Outcome,
  objectPath,
  PROGRAMS,
  programsMissing,
  type Runner,
  runCase,
  sha256sumAll,
  viaCaldRun,
  walkObjects,
} from './e2e.js';

const skip = programsMissing();
if (skip) {
  test('store checks over real programs', { skip }, () => {});
} else {
  const dir = makeTmp({ after: (fn) => process.on('exit', fn) }, 'e2e-store');
  const env = baseEnv(join(dir, 'home'));
  const storeA = join(dir, 'a', 'store');
  const storeB = join(dir, 'b', 'store');
  const a = new Map<string, ImportResult>();
  const b = new Map<string, ImportResult>();
  for (const p of PROGRAMS) {
    a.set(p.key, importInto(storeA, p.importArgs, env));
    b.set(p.key, importInto(storeB, p.importArgs, env));
  }
  const rootsOf = (imp: ImportResult) => imp.imported.map((r) => hexOf(r.digest));

  test('every DT_NEEDED but the loader and host-provided ones is a cas: name whose hex is its object sha256sum', (t) => {
    for (const p of PROGRAMS) {
      const imp = a.get(p.key)!;
      const objects = walkObjects(storeA, rootsOf(imp));
      const sums = sha256sumAll([...objects.values()].map((o) => o.path));
      const host = new Set(imp.hostProvided.map((h) => h.name));
      let names = 0;
      for (const o of objects.values()) {
        assert.equal(sums.get(o.path), o.hex, `${o.path}: sha256sum differs from its name`);
        for (const n of o.needed) {
          if (n === LOADER_NAME || host.has(n)) continue;
          const m = /^cas:sha256:([0-9a-f]{64})(\?name=[^/$]+)?$/.exec(n);
          assert.ok(m, `${p.key}: ${o.path} needs ${n}, not a cas: name`);
          assert.equal(sums.get(objectPath(storeA, m[1]!)), m[1], `${n}: object missing or wrong`);
          names++;
        }
      }
      t.diagnostic(
        `${p.key}: ${objects.size} objects reachable from ${imp.imported.length} root(s), ${names} cas: names checked, host-provided: ${[...host].join(' ') || 'none'}`,
      );
    }
    // And every object in the store is named by its own sha256 (the loader, stored unchanged, too).
    const all = readdirSync(join(storeA, 'objects', 'sha256')).map((h) => objectPath(storeA, h));
    for (const [path, sum] of sha256sumAll(all)) assert.equal(path, objectPath(storeA, sum));
  });

  test('no object contains the store path', () => {
    const paths = [...new Set([storeA, realpathSync(storeA)])].map((s) => Buffer.from(s));
    for (const h of readdirSync(join(storeA, 'objects', 'sha256'))) {
      const bytes = readFileSync(objectPath(storeA, h));
      for (const s of paths) assert.equal(bytes.indexOf(s), -1, `${h} contains ${s}`);
    }
  });

  test('two fresh stores give identical digests', () => {
    for (const p of PROGRAMS) {
      assert.deepEqual(
        b.get(p.key)!.imported.map((r) => r.digest),
        a.get(p.key)!.imported.map((r) => r.digest),
        p.key,
      );
    }
    const list = (s: string) => readdirSync(join(s, 'objects', 'sha256')).sort();
    assert.deepEqual(list(storeB), list(storeA));
  });

  const auditEnv = (store: string) => ({ LD_AUDIT: AUDIT_LIB, CALD_STORE: store });
  const namesEnv = (store: string) => ({ LD_LIBRARY_PATH: join(store, 'names') });
  const quickCase = (key: string) => ({
    label: `${key} quick`,
    steps: [PROGRAMS.find((p) => p.key === key)!.quick],
  });
  const want = new Map<string, Outcome[]>();
  for (const p of PROGRAMS)
    want.set(p.key, runCase(quickCase(p.key), direct(p.path), env, join(dir, 'work'), p.key));

  test('a flipped byte in any library a run loads: audit mode refuses it with one line naming the cas: URI', (t) => {
    const copy = join(dir, 'tamper', 'store');
    runOk('mkdir', ['-p', join(dir, 'tamper')]);
    runOk('cp', ['-a', storeA, copy]);
    const names = { same: 0, different: 0 };
    for (const p of PROGRAMS) {
      const imp = a.get(p.key)!;
      const c = quickCase(p.key);
      const object = objectPath(copy, imp.program.hex);
      // Which objects this run loads: the audit library's own report of what it resolved.
      const probe = runCase(
        c,
        direct(object, { ...auditEnv(copy), CALD_DEBUG: '1' }),
        env,
        dir,
        `probe-${p.key}`,
      )[0]!;
      const loaded = [
        ...new Set(
          [...probe.stderr.matchAll(/^cald: cas:sha256:([0-9a-f]{64})(?:\?name=\S+)? -> /gm)].map(
            (m) => m[1]!,
          ),
        ),
      ];
      assert.ok(loaded.length > 0, probe.stderr);
      const dlopened = new Set(
        [...probe.stderr.matchAll(/ is imported as cas:sha256:([0-9a-f]{64})$/gm)].map((m) => m[1]!),
      );
      const recovered: string[] = [];
      const t0 = performance.now();
      const observed: string[] = [];
      for (const hex of loaded) {
        const undo = flipByte(objectPath(copy, hex));
        try {
          const r = direct(object, auditEnv(copy))(c.steps[0]!.args, env, dir);
          if (dlopened.has(hex) && r.status === 0) {
            // The dlopen failed and the program carried on without it (python's decimal falls
            // back to the pure-Python _pydecimal): the refusal line below is all there is.
            recovered.push(hex.slice(0, 12));
          } else assert.notEqual(r.status, 0, `${p.key}: ran with ${hex} changed`);
          const lines = r.stderr.split('\n').filter((l) => l.startsWith('cald: '));
          assert.equal(lines.length, 1, `${p.key}: one cald line for ${hex}: ${r.stderr}`);
          assert.match(
            lines[0]!,
            new RegExp(`^cald: refusing cas:sha256:${hex}(\\?name=\\S+)?: .*not the hash in its name`),
          );
          // Names mode: the loader opens whatever file has the name; nothing checks content.
          const n = direct(object, namesEnv(copy))(c.steps[0]!.args, env, dir);
          const same = n.status === 0 && n.stdout === want.get(p.key)![0]!.stdout;
          if (same) names.same++;
          else {
            names.different++;
            observed.push(`${hex.slice(0, 12)}: status ${n.status} signal ${n.signal}`);
          }
        } finally {
          undo();
        }
      }
      t.diagnostic(
        `${p.key}: ${loaded.length} libraries flipped one at a time, each refused in audit mode (${Math.round(performance.now() - t0)} ms)`,
      );
      if (recovered.length)
        t.diagnostic(
          `${p.key}: refused, and the program went on without the module (exit 0): ${recovered.join(' ')}`,
        );
      if (observed.length) t.diagnostic(`${p.key} names mode, runs that noticed: ${observed.join('; ')}`);
    }
    t.diagnostic(
      `names mode with a flipped byte: ${names.same} runs gave the original's output anyway, ${names.different} failed or differed`,
    );
  });

  test('a flipped byte in the program object: cald run refuses it; a direct exec cannot know', (t) => {
    const copy = join(dir, 'tamper2', 'store');
    runOk('mkdir', ['-p', join(dir, 'tamper2')]);
    runOk('cp', ['-a', storeA, copy]);
    const imp = a.get('sqlite3')!;
    flipByte(objectPath(copy, imp.program.hex));
    const r = viaCaldRun(copy, imp.program.name, 'audit')(['-version'], env, dir);
    assert.equal(r.status, 126);
    assert.match(
      r.stderr,
      new RegExp(
        `^cald: refusing cas:sha256:${imp.program.hex}(\\?name=\\S+)?: .*not the hash in its name \\(changed or corrupted\\)`,
        'm',
      ),
    );
    const d = direct(objectPath(copy, imp.program.hex), auditEnv(copy))(['-version'], env, dir);
    t.diagnostic(
      `cald run: ${r.stderr.split('\n')[0]}; the object run directly (launcher, cald env) with the same flip: status ${d.status}`,
    );
  });

  test('after mv of the store and CALD_STORE pointing at the new place, every program still runs', (t) => {
    for (const p of PROGRAMS) {
      const r = caldCli(
        // --store-from-env: an installed launcher otherwise keeps to the store it was installed from.
        [
          'install',
          a.get(p.key)!.program.name,
          '--bin',
          join(dir, 'bin'),
          '--store',
          storeA,
          '--store-from-env',
        ],
        env,
      );
      assert.equal(r.status, 0, r.stderr);
    }
    const moved = join(dir, 'moved', 'elsewhere');
    runOk('mkdir', ['-p', join(dir, 'moved')]);
    runOk('mv', [storeA, moved]);
    try {
      for (const p of PROGRAMS) {
        const imp = a.get(p.key)!;
        const object = objectPath(moved, imp.program.hex);
        const ways: Record<string, Runner> = {
          'cald run --mode audit': viaCaldRun(moved, imp.program.name, 'audit'),
          'cald run --mode names': viaCaldRun(moved, imp.program.name, 'names'),
          launcher: direct(join(dir, 'bin', imp.program.name), { CALD_STORE: moved }),
          'env audit': direct(object, auditEnv(moved)),
          'env names': direct(object, namesEnv(moved)),
        };
        for (const [way, runner] of Object.entries(ways)) {
          const got = runCase(quickCase(p.key), runner, env, join(dir, 'work'), `moved-${p.key}-${way}`);
          assertSame(quickCase(p.key), want.get(p.key)!, got, `${p.key} ${way}, moved store`);
        }
      }
      t.diagnostic(`${PROGRAMS.length} programs x 5 ways from ${moved}`);
    } finally {
      renameSync(moved, storeA);
    }
  });
}

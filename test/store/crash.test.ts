// Issue 4, "crashes": cald import and cald gc SIGKILLed at seeded random moments (>= 50 trials),
// then: no half-written object under a hash name (every object hashed here with node:crypto),
// temp files only in tmp/, `cald verify` clean, and re-running the interrupted command completes
// with the digests of an uninterrupted import. Replay one run with CALD_SEED=<seed>.
import assert from 'node:assert/strict';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cald } from '../cli/cald.js';
import type { RunResult } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { checkStoreFiles, importedDigest, rng, seedFrom, sha256File, spawnCald } from './helpers/robust.js';

const SQLITE3 = '/usr/bin/sqlite3';
const CURL = '/usr/bin/curl';
const skip = existsSync(SQLITE3) && existsSync(CURL) ? false : 'needs /usr/bin/sqlite3 and /usr/bin/curl';
const TRIALS = 54;

function importOk(store: string, program: string): string {
  const r = cald(['import', program, '--store', store]);
  assert.equal(r.status, 0, `import ${program}: ${r.stderr}`);
  const d = importedDigest(r.stdout);
  assert.ok(d !== undefined, r.stdout);
  return d;
}

async function caldAsync(args: readonly string[]): Promise<RunResult> {
  return spawnCald(args).done;
}

/** `cald ldd` resolves the program's whole closure from the store, verifying every object. */
async function closureComplete(store: string, program: string, context: string): Promise<void> {
  const r = await caldAsync(['ldd', program, '--store', store]);
  assert.equal(r.status, 0, `${context}: ldd ${program}: ${r.stderr}${r.stdout}`);
}

describe('SIGKILL at random moments', { skip }, () => {
  const dir = makeTmp({ after }, 'crash');
  const seed = seedFrom(20240604);
  const random = rng(seed);
  const want = { sqlite3: '', curl: '' };
  const templates = { empty: '', withSqlite: '', garbage: '' };
  before(() => {
    console.log(`# crash seed ${seed} (CALD_SEED=${seed} to replay), ${TRIALS} trials`);
    // Uninterrupted imports: the digests every interrupted one must end up with.
    want.sqlite3 = importOk(join(dir, 'ref-sqlite3'), SQLITE3);
    want.curl = importOk(join(dir, 'ref-curl'), CURL);
    templates.withSqlite = join(dir, 'ref-sqlite3');
    // A store with garbage for gc to delete: both imported, curl's root removed.
    templates.garbage = join(dir, 'tpl-garbage');
    cpSync(templates.withSqlite, templates.garbage, { recursive: true, verbatimSymlinks: true });
    importOk(templates.garbage, CURL);
    const rm = cald(['roots', 'remove', want.curl, '--store', templates.garbage]);
    assert.equal(rm.status, 0, rm.stderr);
    const dry = cald(['gc', '--dry-run', '--json', '--store', templates.garbage]);
    assert.equal(dry.status, 0, dry.stderr);
    assert.ok((JSON.parse(dry.stdout) as { deleted: unknown[] }).deleted.length > 0, 'gc has garbage');
  });

  test(`${TRIALS} trials: import into a new store, import into a shared store, gc`, async () => {
    const counts = { killedBefore: 0, killedMidway: 0, finished: 0 };
    const started = Date.now();
    // Every random choice is drawn up front, so a seed names the same trials whatever the timing.
    const plans = Array.from({ length: TRIALS }, (_, i) => ({
      i,
      kind: (['fresh', 'overlap', 'gc'] as const)[i % 3]!,
      // Node's start-up takes ~100 ms; cald's store work follows over ~50-200 ms.
      delay: Math.floor(60 + random() * 220),
      deep: i % 9 < 3, // closures checked through `cald ldd` in a third of the trials (time)
    }));
    const trial = async ({ i, kind, delay, deep }: (typeof plans)[number]) => {
      const store = join(dir, `t${i}`);
      if (kind === 'overlap')
        cpSync(templates.withSqlite, store, { recursive: true, verbatimSymlinks: true });
      if (kind === 'gc') cpSync(templates.garbage, store, { recursive: true, verbatimSymlinks: true });
      const args =
        kind === 'gc'
          ? ['gc', '--store', store]
          : ['import', kind === 'fresh' ? SQLITE3 : CURL, '--store', store];
      const p = spawnCald(args);
      const timer = setTimeout(() => p.child.kill('SIGKILL'), delay);
      const r = await p.done;
      clearTimeout(timer);
      const context = `trial ${i} (${kind}, kill after ${delay} ms, seed ${seed})`;
      if (r.signal === 'SIGKILL') {
        const { objects } = checkStoreFiles(store, context);
        if (objects === 0) counts.killedBefore++;
        else counts.killedMidway++;
      } else {
        assert.equal(r.status, 0, `${context}: ${r.stderr}`);
        counts.finished++;
        checkStoreFiles(store, context);
      }
      if (!existsSync(join(store, 'cald-store'))) return; // nothing was created: nothing to check
      // The index is rebuilt automatically if the kill left it behind; then verify is clean.
      const v = await caldAsync(['verify', '--store', store]);
      assert.equal(v.status, 0, `${context}: verify: ${v.stderr}${v.stdout}`);
      assert.match(v.stdout, /clean/, `${context}: ${v.stdout}`);
      // Re-running completes and gives what an uninterrupted run gives.
      if (kind === 'gc') {
        const g = await caldAsync(['gc', '--store', store]);
        assert.equal(g.status, 0, `${context}: gc again: ${g.stderr}`);
        const sq = join(store, 'objects', 'sha256', want.sqlite3.slice(7));
        assert.equal(sha256File(sq), want.sqlite3, context);
        if (deep) await closureComplete(store, want.sqlite3, context);
        assert.equal(existsSync(join(store, 'objects', 'sha256', want.curl.slice(7))), false, context);
      } else {
        const program = kind === 'fresh' ? SQLITE3 : CURL;
        const im = await caldAsync(['import', program, '--store', store]);
        assert.equal(im.status, 0, `${context}: import again: ${im.stderr}`);
        const got = importedDigest(im.stdout);
        assert.equal(got, kind === 'fresh' ? want.sqlite3 : want.curl, `${context}: digest after re-import`);
        if (deep) await closureComplete(store, got!, context);
        if (deep && kind === 'overlap') await closureComplete(store, want.sqlite3, context);
      }
      checkStoreFiles(store, `${context}, after re-run`);
      rmSync(store, { recursive: true, force: true });
    };
    // Two trials at a time (2 cores); each has its own store.
    const queue = [...plans];
    await Promise.all(
      [0, 1].map(async () => {
        for (let p = queue.shift(); p !== undefined; p = queue.shift()) await trial(p);
      }),
    );
    console.log(
      `# crash: ${counts.killedBefore} killed before the store had objects, ${counts.killedMidway} killed with objects written, ${counts.finished} finished first; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    assert.ok(counts.killedMidway >= 10, `too few kills landed during store work: ${JSON.stringify(counts)}`);
  });
});

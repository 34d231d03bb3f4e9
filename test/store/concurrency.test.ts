// Issue 4, "many processes": imports of overlapping closures (sqlite3 and curl share libc, libz...),
// gc, verify and a program running from the store, all on one store at once, in a bounded number
// of seeded rounds. Afterwards every root's closure is complete and runs, verify is clean, no
// command failed with STORE_BUSY (nothing here waits anywhere near the 60 s timeout) or a SQLite
// busy/locked error. Replay with CALD_SEED=<seed>.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { RunResult } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { checkStoreFiles, importedDigest, rng, seedFrom, spawnCald } from './helpers/robust.js';

const SQLITE3 = '/usr/bin/sqlite3';
const CURL = '/usr/bin/curl';
const skip = existsSync(SQLITE3) && existsSync(CURL) ? false : 'needs /usr/bin/sqlite3 and /usr/bin/curl';
const ROUNDS = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ok(r: RunResult, what: string): RunResult {
  assert.doesNotMatch(r.stderr, /STORE_BUSY|SQLITE_BUSY|database is locked/i, `${what}: ${r.stderr}`);
  assert.equal(r.status, 0, `${what}: exit ${r.status} ${r.signal ?? ''}: ${r.stderr}${r.stdout}`);
  return r;
}

async function caldOk(args: readonly string[], what = args.join(' ')): Promise<RunResult> {
  return ok(await spawnCald(args).done, what);
}

/** Every root still resolves (ldd verifies each object of its closure) and runs. */
async function rootsRun(store: string, sqlite3: string, curl: string, context: string): Promise<void> {
  await caldOk(['ldd', sqlite3, '--store', store], `${context}: ldd sqlite3`);
  await caldOk(['ldd', curl, '--store', store], `${context}: ldd curl`);
  const q = await caldOk(
    ['run', '--store', store, sqlite3, ':memory:', 'select 6*7;'],
    `${context}: run sqlite3`,
  );
  assert.equal(q.stdout.trim(), '42', context);
  const c = await caldOk(['run', '--store', store, curl, '--version'], `${context}: run curl`);
  assert.match(c.stdout, /^curl /, context);
}

describe('many processes on one store', { skip }, () => {
  const dir = makeTmp({ after }, 'concurrency');
  const seed = seedFrom(7919);
  const random = rng(seed);

  test(`${ROUNDS} rounds of imports, gc, verify and a running program at once`, async () => {
    console.log(`# concurrency seed ${seed} (CALD_SEED=${seed} to replay), ${ROUNDS} rounds`);
    const started = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      const store = join(dir, `r${round}`);
      const context = `round ${round} (seed ${seed})`;
      // The store exists before the round (gc and verify refuse a store that does not).
      await caldOk(['import', '/bin/true', '--store', store], `${context}: first import`);
      // Phase 1: three imports (two of the same program), gc and verify, each started after a
      // seeded delay so they interleave differently every round.
      const jobs: Array<{ what: string; args: string[] }> = [
        { what: 'import sqlite3', args: ['import', SQLITE3, '--store', store] },
        { what: 'import curl', args: ['import', CURL, '--store', store] },
        { what: 'import sqlite3 again', args: ['import', SQLITE3, '--store', store] },
        { what: 'gc', args: ['gc', '--store', store] },
        { what: 'gc', args: ['gc', '--store', store] },
        { what: 'verify', args: ['verify', '--store', store] },
      ];
      const delays = jobs.map(() => Math.floor(random() * 250));
      const results = await Promise.all(
        jobs.map(async (j, k) => {
          await sleep(delays[k]!);
          return { ...j, r: await spawnCald(j.args).done };
        }),
      );
      let sqlite3 = '';
      let curl = '';
      for (const { what, args, r } of results) {
        // verify beside imports and gc holds a lease and looks again before calling anything
        // missing: it reports only real problems, so here none (verify-beside.test.ts loops it).
        if (what === 'verify') {
          assert.equal(r.status, 0, `${context}: verify during imports and gc: ${r.stdout}${r.stderr}`);
          assert.equal(r.stderr, '', `${context}: verify: ${r.stderr}`);
          continue;
        }
        ok(
          r,
          `${context}: ${what} (${args.join(' ')}, after ${delays[results.findIndex((x) => x.r === r)]} ms)`,
        );
        if (what === 'import sqlite3') sqlite3 = importedDigest(r.stdout) ?? '';
        if (what === 'import curl') curl = importedDigest(r.stdout) ?? '';
      }
      checkStoreFiles(store, context);
      await caldOk(['verify', '--store', store], `${context}: verify after`);
      await rootsRun(store, sqlite3, curl, context);

      // Phase 2: sqlite3 loses its root but keeps running (waiting on stdin); gc runs beside a
      // new import of curl and a verify. gc must keep the running program's closure (runtime
      // roots from /proc), and curl's (rooted), and delete nothing else that is needed.
      await caldOk(['roots', 'remove', sqlite3, '--store', store], `${context}: roots remove`);
      const running = spawnCald(['run', '--store', store, sqlite3, ':memory:'], {}, true);
      try {
        // Until ld.so has mapped the libraries (node's start-up alone can take seconds on a busy machine).
        await untilMapped(join(store, 'objects'), `${context}: the running program`);
        await sleep(Math.floor(random() * 200));
        const [g, im, v] = await Promise.all([
          spawnCald(['gc', '--json', '--store', store]).done,
          spawnCald(['import', CURL, '--store', store]).done,
          sleep(Math.floor(random() * 100)).then(() => spawnCald(['verify', '--store', store]).done),
        ]);
        ok(g, `${context}: gc beside a running program`);
        const during = JSON.parse(g.stdout) as { runtimeRoots: number; deleted: Array<{ digest: string }> };
        assert.ok(during.runtimeRoots > 0, `${context}: gc saw the running program: ${g.stdout}`);
        assert.ok(
          !during.deleted.some((d) => d.digest === sqlite3),
          `${context}: gc deleted a running program`,
        );
        ok(im, `${context}: import curl beside gc`);
        assert.equal(importedDigest(im.stdout), curl, context);
        assert.equal(v.status, 0, `${context}: verify beside gc and an import: ${v.stdout}${v.stderr}`);
        // The running program's closure is still all there: ldd verifies every object.
        await caldOk(
          ['ldd', sqlite3, '--store', store],
          `${context}: closure of the running program after gc`,
        );
        running.child.stdin?.end('select 6*7;\n');
        const out = ok(await running.done, `${context}: the running program`);
        assert.equal(out.stdout.trim(), '42', context);
      } finally {
        // A failed check must not leave the program waiting on its stdin: the test would never end.
        running.child.stdin?.end();
      }
      // Once it has ended, gc may delete what only it used; curl's closure stays complete.
      const after = JSON.parse(ok(await spawnCald(['gc', '--json', '--store', store]).done, 'gc').stdout) as {
        deleted: Array<{ digest: string }>;
      };
      assert.ok(
        after.deleted.some((d) => d.digest === sqlite3),
        `${context}: the unrooted program is collected once it has ended`,
      );
      await caldOk(['ldd', curl, '--store', store], `${context}: curl after the final gc`);
      await caldOk(['verify', '--store', store], `${context}: verify at the end`);
      checkStoreFiles(store, `${context}, end`);
    }
    console.log(`# concurrency: ${ROUNDS} rounds in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});

/** Waits until some process maps a file under dir (read from /proc/PID/maps). */
async function untilMapped(dir: string, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (readFileSync(`/proc/${pid}/maps`, 'utf8').includes(`${dir}/`)) return;
      } catch {
        // the process ended, or is not ours to read
      }
    }
    if (Date.now() > deadline) throw new Error(`${what}: mapped nothing under ${dir} in 60 s`);
    await sleep(50);
  }
}

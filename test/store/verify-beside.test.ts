// Issue 9: `cald verify` is consistent while imports and gc run beside it. verify runs in a loop,
// one after the other, while three imports (one of them of a program whose closure gc is
// collecting at that moment) and a gc work on the same store; every verify must say clean and
// exit 0, never "in the index, not on disk" or a dangling name for an object an import is storing.
// Replay with CALD_SEED=<seed> (the starting delays).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cald } from '../cli/cald.js';
import type { RunResult } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { checkStoreFiles, importedDigest, rng, seedFrom, spawnCald } from './helpers/robust.js';

const SQLITE3 = '/usr/bin/sqlite3';
const CURL = '/usr/bin/curl';
const GIT = '/usr/bin/git';
const missing = [SQLITE3, CURL, GIT].filter((p) => !existsSync(p));
const skip = missing.length === 0 ? false : `needs ${missing.join(', ')}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('verify beside imports and gc', { skip }, () => {
  test('verify in a loop beside 3 imports and a gc reports clean every time', async () => {
    const dir = makeTmp({ after }, 'verify-beside');
    const store = join(dir, 'store');
    const seed = seedFrom(4242);
    const random = rng(seed);
    console.log(`# verify-beside seed ${seed} (CALD_SEED=${seed} to replay)`);
    // Garbage for gc: curl imported, then its root removed.
    const first = cald(['import', CURL, '--store', store]);
    assert.equal(first.status, 0, first.stderr);
    const rm = cald(['roots', 'remove', importedDigest(first.stdout) ?? '', '--store', store]);
    assert.equal(rm.status, 0, rm.stderr);

    const jobs = [
      ['import', SQLITE3, '--store', store],
      ['import', GIT, '--store', store],
      ['import', CURL, '--store', store], // what gc is about to collect, stored again beside it
      ['gc', '--store', store],
    ];
    let running = jobs.length;
    const results = Promise.all(
      jobs.map(async (args) => {
        await sleep(Math.floor(random() * 400));
        const r = await spawnCald(args).done;
        running--;
        return { args, r };
      }),
    );
    const verifies: Array<{ r: RunResult; beside: number }> = [];
    while (running > 0 || verifies.length < 5) {
      const beside = running;
      const r = await spawnCald(['verify', '--store', store]).done;
      verifies.push({ r, beside: Math.min(beside, running) });
    }
    for (const { args, r } of await results) {
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    verifies.forEach(({ r }, i) => {
      const what = `verify #${i + 1} of ${verifies.length} (seed ${seed})`;
      assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /^clean$/m, `${what}: ${r.stdout}`);
      assert.equal(r.stderr, '', `${what}: ${r.stderr}`);
    });
    const overlapped = verifies.filter((v) => v.beside > 0).length;
    console.log(
      `# verify-beside: ${verifies.length} verifies, ${overlapped} of them beside running commands`,
    );
    assert.ok(overlapped > 0, 'at least one verify ran beside the imports and gc');
    checkStoreFiles(store, `seed ${seed}`);
  });
});

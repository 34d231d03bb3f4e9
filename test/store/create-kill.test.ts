// Issue 9: creating a store is atomic. `cald import` into a new store is SIGKILLed at 30 seeded
// random moments of the store's creation (its directories, the marker, the index, the first
// lease and the first object), each moment hit exactly: strace counts the creation's system
// calls and delivers SIGKILL at the chosen one (`-e inject=SYSCALL:signal=KILL:when=N`). After
// each kill the next `cald import` must succeed in that directory (never "not a cald store"),
// every object must hash to its name and `cald verify` must be clean. Replay with CALD_SEED=<seed>.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cald, ENTRY_ARGS } from '../cli/cald.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { assertVerifies, checkStoreFiles, importedDigest, rng, seedFrom } from './helpers/robust.js';

const PROGRAM = '/bin/true';
const TRIALS = 30;
/** The system calls of store creation; Node's own start-up makes none of them. */
const SYSCALLS = [
  'mkdir',
  'mkdirat',
  'chmod',
  'fchmodat',
  'fchmod',
  'rename',
  'renameat',
  'renameat2',
  'fsync',
];

/** One moment: the `nth` call of `syscall` in cald's main thread (strace counts per syscall). */
interface Moment {
  readonly syscall: string;
  readonly nth: number;
  readonly line: string;
}

function straceImport(store: string, extra: readonly string[]) {
  return run(
    'strace',
    ['-f', '-qq', ...extra, process.execPath, ...ENTRY_ARGS, 'import', PROGRAM, '--store', store],
    { env: { CALD_DEBUG: undefined, FORCE_COLOR: undefined }, timeoutMs: 60_000 },
  );
}

/** Every moment of creation, in order: from the first call until the first object is renamed into objects/. */
function creationMoments(dir: string): Moment[] {
  const log = join(dir, 'calibrate.strace');
  const r = straceImport(join(dir, 'calibrate'), ['-o', log, '-e', `trace=${SYSCALLS.join(',')}`]);
  assert.equal(r.status, 0, `uninterrupted import under strace: ${r.stderr}`);
  const lines = readFileSync(log, 'utf8').split('\n');
  const main = /^(\d+)\s/.exec(lines.find((l) => /^\d+\s+mkdir/.test(l)) ?? '')?.[1];
  assert.ok(main !== undefined, `no mkdir in the trace:\n${lines.slice(0, 20).join('\n')}`);
  const counts = new Map<string, number>();
  const moments: Moment[] = [];
  for (const line of lines) {
    const m = /^(\d+)\s+([a-z0-9]+)\(/.exec(line);
    if (m === null || m[1] !== main) continue;
    const nth = (counts.get(m[2]!) ?? 0) + 1;
    counts.set(m[2]!, nth);
    moments.push({ syscall: m[2]!, nth, line: line.slice(m[1]!.length).trim() });
    if (/rename.*\/objects\/sha256\//.test(line)) break;
  }
  return moments;
}

/** What the kill left: no directory, a directory with no marker, a store without objects, or with some. */
function stateOf(store: string): string {
  if (!existsSync(store)) return 'nothing';
  if (!existsSync(join(store, 'cald-store')))
    return `no marker (${readdirSync(store).sort().join(' ') || 'empty'})`;
  const objects = join(store, 'objects', 'sha256');
  return existsSync(objects) && readdirSync(objects).length > 0 ? 'objects' : 'marker, no object';
}

const probe = (): string | false => {
  if (!existsSync(PROGRAM)) return `needs ${PROGRAM}`;
  if (!hasTool('strace')) return 'needs strace (Debian package strace)';
  const r = run('strace', [
    '-qq',
    '-o',
    '/dev/null',
    '-e',
    'trace=exit_group',
    '-e',
    'inject=exit_group:signal=KILL:when=1',
    PROGRAM,
  ]);
  return r.status === 137 || r.signal === 'SIGKILL'
    ? false
    : `strace cannot inject a signal here: ${r.stderr.trim()}`;
};

describe('SIGKILL during store creation', () => {
  const skip = probe();
  test(`${TRIALS} kills at seeded moments of store creation, each followed by a successful import`, {
    skip,
  }, () => {
    const dir = makeTmp({ after }, 'create-kill');
    const seed = seedFrom(909);
    const random = rng(seed);
    const moments = creationMoments(dir);
    assert.ok(
      moments.some((m) => m.line.includes('cald-store')),
      `the marker's rename is one of the moments:\n${moments.map((m) => m.line).join('\n')}`,
    );
    console.log(`# create-kill seed ${seed} (CALD_SEED=${seed} to replay), ${moments.length} moments`);
    const states = new Map<string, number>();
    let want: string | undefined;
    for (let i = 0; i < TRIALS; i++) {
      const moment = moments[Math.floor(random() * moments.length)]!;
      const store = join(dir, `t${i}`);
      const context = `trial ${i} (seed ${seed}), killed at ${moment.syscall} #${moment.nth}: ${moment.line}`;
      const killed = straceImport(store, [
        '-o',
        '/dev/null',
        '-e',
        `trace=${moment.syscall}`,
        '-e',
        `inject=${moment.syscall}:signal=KILL:when=${moment.nth}`,
      ]);
      assert.ok(
        killed.status === 137 || killed.signal === 'SIGKILL',
        `${context}: not killed: ${killed.status} ${killed.stderr}`,
      );
      const state = stateOf(store);
      states.set(state, (states.get(state) ?? 0) + 1);
      checkStoreFiles(store, context);
      const again = cald(['import', PROGRAM, '--store', store]);
      assert.equal(again.status, 0, `${context}, left ${state}: import again: ${again.stderr}`);
      const digest = importedDigest(again.stdout);
      want ??= digest;
      assert.equal(digest, want, `${context}: the same digest as every other trial`);
      checkStoreFiles(store, `${context}, after the import`);
      assertVerifies(store, context);
    }
    console.log(`# create-kill: what the kills left: ${JSON.stringify(Object.fromEntries(states))}`);
  });
});

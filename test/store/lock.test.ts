import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { acquireLease, Digest, FileStore, liveLeases, lockExclusive } from '../../src/store/index.js';
import { makeTmp } from '../helpers/tmp.js';

const LOCK_URL = pathToFileURL(join(import.meta.dirname, '../../src/store/lock.js')).href;

function newStore(): string {
  const root = join(makeTmp({ after }, 'lock'), 'store');
  FileStore.open(root, { create: true });
  return root;
}

const busy = { code: 'STORE_BUSY' };

test('the gc lock keeps new leases out, and a lease keeps gc out', () => {
  const store = newStore();
  const gc = lockExclusive(store, { waitMs: 0 });
  assert.throws(() => acquireLease(store, { waitMs: 50 }), busy);
  assert.throws(() => lockExclusive(store, { waitMs: 50 }), busy);
  gc.release();
  const lease = acquireLease(store, { waitMs: 0 });
  assert.throws(() => lockExclusive(store, { waitMs: 50 }), busy);
  const second = acquireLease(store, { waitMs: 0 }); // leases are shared
  lease.release();
  second.release();
  lockExclusive(store, { waitMs: 0 }).release();
});

test('locks of dead processes are stale and removed', () => {
  const store = newStore();
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const pid = Number(dead.stdout.toString());
  mkdirSync(join(store, 'locks'), { recursive: true });
  writeFileSync(join(store, 'locks', 'gc'), JSON.stringify({ pid, start: 1, since: 0, purpose: 'gc' }));
  writeFileSync(
    join(store, 'locks', `lease-${pid}-x`),
    JSON.stringify({ pid, start: 1, since: 0, purpose: 'import' }),
  );
  const gc = lockExclusive(store, { waitMs: 1000 });
  gc.release();
  acquireLease(store, { waitMs: 0 }).release();
});

test('gc waits for an import in another process, then proceeds', async () => {
  const store = newStore();
  const child = spawn(process.execPath, [
    '--input-type=module',
    '-e',
    `import { acquireLease } from ${JSON.stringify(LOCK_URL)};
     const l = acquireLease(${JSON.stringify(store)}); process.stdout.write('held\\n');
     setTimeout(() => { l.release(); }, 400);`,
  ]);
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  assert.throws(() => lockExclusive(store, { waitMs: 20 }), busy);
  const t0 = Date.now();
  const gc = lockExclusive(store, { waitMs: 10_000 });
  assert.ok(Date.now() - t0 >= 100, 'gc waited for the lease');
  gc.release();
});

test('temporary roots of live leases are visible to gc', () => {
  const store = newStore();
  const lease = acquireLease(store, { waitMs: 0 });
  const d = Digest.parse(`sha256:${'ab'.repeat(32)}`);
  lease.addTemporaryRoots([d]);
  const live = liveLeases(store);
  assert.equal(live.length, 1);
  assert.deepEqual(live[0]!.temporaryRoots.map(String), [d.toString()]);
  lease.release();
  assert.deepEqual(liveLeases(store), []);
});

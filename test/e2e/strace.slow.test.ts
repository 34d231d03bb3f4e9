// strace: loading ffmpeg (`ffmpeg -version`) through the audit resolver makes no failed
// openat/stat/access for cas: names (none at all that touch the store); the stock count of failed
// lookups of /usr/bin/ffmpeg, and the name directory's, are printed beside it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { AUDIT_LIB, baseEnv, importInto, programsMissing } from './e2e.js';

const SYSCALLS = 'openat,open,stat,lstat,newfstatat,statx,access,faccessat,faccessat2';
const skip = !hasTool('strace') ? 'strace is not installed' : (programsMissing() ?? false);

/** The failed lookup lines of one traced run. */
function failedLookups(dir: string, label: string, file: string, env: Record<string, string>): string[] {
  const log = join(dir, `${label}.strace`);
  const r = run(
    'strace',
    ['-f', '-qq', '-e', `trace=${SYSCALLS}`, '-e', 'signal=none', '-o', log, file, '-version'],
    {
      env,
      replaceEnv: true,
      timeoutMs: 60_000,
    },
  );
  assert.equal(r.status, 0, `${label}: ${r.stderr}`);
  assert.match(r.stdout, /^ffmpeg version /);
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => / = -1 E[A-Z]+ /.test(l));
}

test('ffmpeg through the audit resolver: no failed lookup of a cas: name', { skip }, (t) => {
  const dir = makeTmp(t, 'e2e-strace');
  const env = baseEnv(join(dir, 'home'));
  const store = join(dir, 'store');
  const imp = importInto(store, ['/usr/bin/ffmpeg'], env);
  const audit = { ...env, LD_AUDIT: AUDIT_LIB, CALD_STORE: store };
  // Warm the verification cache. Objects changed less than 1 s ago are hashed but not cached
  // (docs/resolver.md, the racy-clean rule), so wait that long after the import first.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1100);
  run(imp.program.object, ['-version'], { env: audit, replaceEnv: true });

  const stock = failedLookups(dir, 'stock', '/usr/bin/ffmpeg', env);
  const viaAudit = failedLookups(dir, 'audit', imp.program.object, audit);
  const names = failedLookups(dir, 'names', imp.program.object, {
    ...env,
    LD_LIBRARY_PATH: join(store, 'names'),
  });

  assert.deepEqual(
    viaAudit.filter((l) => l.includes('cas:')),
    [],
    'failed lookups of cas: names through the audit resolver',
  );
  assert.deepEqual(
    viaAudit.filter((l) => l.includes(store)),
    [],
    'failed lookups in the store (warm cache)',
  );
  assert.ok(
    names.some((l) => l.includes('cas:')),
    'the name directory does search (the check can fail)',
  );
  t.diagnostic(
    `failed lookups for ffmpeg -version: stock ${stock.length}, audit resolver ${viaAudit.length} (cas: 0), name directory ${names.length} (cas: ${names.filter((l) => l.includes('cas:')).length})`,
  );
  t.diagnostic(
    `audit resolver's failures: ${viaAudit
      .map((l) => /"([^"]*)"/.exec(l)?.[1] ?? l)
      .join(' ')
      .slice(0, 600)}`,
  );
});

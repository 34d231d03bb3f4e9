// The resolver's own sha256 (native/sha256.h, exercised through native/build/cald-sha256sum)
// against coreutils sha256sum and node:crypto, both block functions, every padding boundary.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoPath } from '../helpers/paths.js';
import { exec, mustRun, sha256File, shaTool } from './fixture.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cald-sha-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const sizes = [
  0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 262143, 262144, 262145, 1_000_003,
];

test('matches sha256sum and node:crypto for every size around the block and read boundaries', () => {
  const files = sizes.map((size) => {
    const f = join(dir, `f${size}`);
    writeFileSync(f, randomBytes(size));
    return f;
  });
  const expected = files.map(sha256File);
  const coreutils = mustRun('sha256sum', files);
  assert.equal(coreutils, files.map((f, i) => `${expected[i]}  ${f}\n`).join(''));
  for (const mode of [[], ['--portable']]) {
    assert.equal(mustRun(shaTool, [...mode, ...files]), coreutils, `cald-sha256sum ${mode.join(' ')}`);
  }
});

test('uses SHA-NI when the CPU has it, and reports throughput', (t) => {
  const f = join(dir, 'big');
  writeFileSync(f, randomBytes(128 * 1024 * 1024));
  const mbps = (args: string[]) => {
    const r = exec(shaTool, ['--bench', ...args, f]);
    assert.equal(r.status, 0);
    const m = /^(\S+) .* = (\d+) MB\/s$/m.exec(r.stderr);
    assert.ok(m, r.stderr);
    return { impl: m[1]!, mbps: Number(m[2]) };
  };
  const fast = mbps([]);
  const portable = mbps(['--portable']);
  const cpuHasSha = /\bsha_ni\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  assert.equal(fast.impl, cpuHasSha ? 'sha-ni' : 'portable');
  const t0 = process.hrtime.bigint();
  spawnSync('sha256sum', [f]);
  const coreutils = (128 * 1024 * 1024) / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6;
  t.diagnostic(
    `MB/s on 128 MiB: cald ${fast.impl} ${fast.mbps}, cald portable ${portable.mbps}, sha256sum ${coreutils.toFixed(0)} (incl. spawn)`,
  );
});

test('build-native fails with one clear line when the compiler is missing', () => {
  const r = spawnSync(process.execPath, [repoPath('scripts', 'build-native.mjs')], {
    env: { ...process.env, CC: 'cald-no-such-cc' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^build-native: no C compiler: 'cald-no-such-cc' could not be run; .*\n$/);
});

// bin/cald.js runs the bundle (dist/bundle/main.js, scripts/bundle.mjs) only when it is at least
// as new as the last compile (dist/.tsbuildinfo, dist/.tsbuildinfo-src): a `tsc` alone must never
// leave the command running stale code. Checked on a copy of bin/cald.js beside a made-up dist/
// whose two entries say which one ran; and the real build: the bundle, when there is one, runs
// the same commands as dist/src.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { repoPath } from '../helpers/paths.js';
import { makeTmp } from '../helpers/tmp.js';

function fakePackage(t: TestContext): {
  dir: string;
  run: (...args: string[]) => string;
  touch: (rel: string, ageSeconds: number) => void;
} {
  const dir = makeTmp(t, 'bundle');
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist/bundle'), { recursive: true });
  mkdirSync(join(dir, 'dist/src/cli'), { recursive: true });
  copyFileSync(repoPath('bin/cald.js'), join(dir, 'bin/cald.js'));
  const entry = (which: string) =>
    `export async function main() { process.stdout.write('${which}'); return 0; }\n`;
  writeFileSync(join(dir, 'dist/bundle/main.js'), entry('bundle'));
  writeFileSync(
    join(dir, 'dist/bundle/patchelf.js'),
    "export async function patchelfMain() { process.stdout.write('patchelf bundle'); return 0; }\n",
  );
  writeFileSync(join(dir, 'dist/src/cli/main.js'), entry('src'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  const touch = (rel: string, ageSeconds: number) => {
    const p = join(dir, rel);
    if (!existsSync(p)) writeFileSync(p, '{}');
    const t = Date.now() / 1000 - ageSeconds;
    utimesSync(p, t, t);
  };
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(dir, 'bin/cald.js'), ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  return { dir, run, touch };
}

test('bin/cald.js: the bundle when it is newer than every compile, dist/src otherwise', (t) => {
  const p = fakePackage(t);
  p.touch('dist/bundle/main.js', 10);
  p.touch('dist/.tsbuildinfo', 20);
  assert.equal(p.run(), 'bundle');
  p.touch('dist/.tsbuildinfo', 5); // tsc ran after the bundle was made
  assert.equal(p.run(), 'src');
  p.touch('dist/.tsbuildinfo', 20);
  p.touch('dist/.tsbuildinfo-src', 5); // so did `tsc -p tsconfig.src.json` (npm prepare)
  assert.equal(p.run(), 'src');
});

test('bin/cald.js: cald patchelf runs its own bundle file when the bundle is fresh', (t) => {
  const p = fakePackage(t);
  p.touch('dist/bundle/main.js', 10);
  p.touch('dist/bundle/patchelf.js', 10);
  p.touch('dist/.tsbuildinfo', 20);
  assert.equal(p.run('patchelf', '--version'), 'patchelf bundle');
  assert.equal(p.run('--version'), 'bundle');
  p.touch('dist/.tsbuildinfo', 5); // tsc ran after the bundle was made
  assert.equal(p.run('patchelf', '--version'), 'src');
  p.touch('dist/.tsbuildinfo', 20);
  p.touch('dist/bundle/patchelf.js', 30); // older than the rest of the bundle
  assert.equal(p.run('patchelf', '--version'), 'bundle');
});

test('bin/cald.js: dist/src when there is no bundle', (t) => {
  const p = fakePackage(t);
  p.touch('dist/.tsbuildinfo', 20);
  rmSync(join(p.dir, 'dist/bundle/main.js'));
  assert.equal(p.run(), 'src');
});

test('the built bundle runs the commands as dist/src does', (t) => {
  if (!existsSync(repoPath('dist/bundle/main.js'))) {
    t.skip('no bundle built (esbuild not installed)');
    return;
  }
  const viaBundle = (args: string[]) =>
    spawnSync(process.execPath, [repoPath('bin/cald.js'), ...args], { encoding: 'utf8' });
  // The same thin entry, pointed at dist/src.
  const entry = join(makeTmp(t, 'bundle-src'), 'cald-src.mjs');
  writeFileSync(
    entry,
    `const { main } = await import(${JSON.stringify(repoPath('dist/src/cli/main.js'))});\n` +
      'process.exitCode = await main(process.argv.slice(2));\n',
  );
  const viaSrc = (args: string[]) => spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8' });
  for (const args of [
    ['--version'],
    ['inspect', '--json', process.execPath],
    ['patchelf', '--print-needed', process.execPath],
    ['no-such-command'],
  ]) {
    const a = viaBundle(args);
    const b = viaSrc(args);
    assert.equal(a.status, b.status, `${args.join(' ')}: exit status`);
    assert.equal(a.stdout, b.stdout, `${args.join(' ')}: stdout`);
    assert.equal(a.stderr, b.stderr, `${args.join(' ')}: stderr`);
  }
});

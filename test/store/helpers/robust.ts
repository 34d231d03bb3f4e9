// Shared by the robustness tests (crash, concurrency, disk, security, hostile input): a seeded
// random generator, the cald CLI spawned asynchronously (so a test can kill it), and checks of a
// store made with no cald code (sha256 of every object by node:crypto, where temp files are).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { cald, ENTRY_ARGS, hasStackTrace } from '../../cli/cald.js';
import type { RunResult } from '../../helpers/run.js';

/** mulberry32: a small deterministic generator; the seed is printed by every test that uses it. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed: $CALD_SEED if set (to replay a failure), else `fallback`. */
export function seedFrom(fallback: number): number {
  const s = Number(process.env.CALD_SEED);
  return Number.isInteger(s) && s > 0 ? s : fallback;
}

export interface Spawned {
  readonly child: ChildProcess;
  /** Resolves when the process has ended (exited or killed). */
  readonly done: Promise<RunResult>;
}

/** `cald ...args` as a child process the test can signal. */
export function spawnCald(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  withStdin = false,
): Spawned {
  const child = spawn(process.execPath, [...ENTRY_ARGS, ...args], {
    env: {
      ...process.env,
      LC_ALL: 'C',
      FORCE_COLOR: undefined,
      NO_COLOR: undefined,
      CALD_DEBUG: undefined,
      ...env,
    },
    stdio: [withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const done = new Promise<RunResult>((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  return { child, done };
}

/** sha256:<hex> of a file's bytes, by node:crypto. */
export function sha256File(path: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
}

/**
 * Checks what a crash must never leave: under objects/sha256/ only regular files whose bytes hash
 * to their name (no half-written object under a hash name, no stray temp file); under names/ only
 * links; temp files (object-*, gc-*, entries being renamed) only in tmp/.
 */
export function checkStoreFiles(store: string, context: string): { objects: number } {
  const dir = join(store, 'objects', 'sha256');
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return { objects: 0 }; // killed before the store was created
  }
  for (const hex of names) {
    const p = join(dir, hex);
    assert.match(hex, /^[0-9a-f]{64}$/, `${context}: stray entry ${p}`);
    const st = lstatSync(p);
    assert.ok(st.isFile(), `${context}: ${p} is not a regular file`);
    assert.equal(sha256File(p), `sha256:${hex}`, `${context}: ${p} does not hash to its name`);
    assert.equal(st.mode & 0o222, 0, `${context}: ${p} is writable (mode ${(st.mode & 0o777).toString(8)})`);
  }
  for (const top of readdirSync(store)) {
    if (top === 'tmp' || top === 'objects') continue;
    const p = join(store, top);
    if (!lstatSync(p).isDirectory()) continue;
    for (const e of walk(p)) {
      assert.doesNotMatch(
        e,
        /\/(object|gc|name|path|write|root)-\d+-[0-9a-f]+/,
        `${context}: temp file outside tmp/: ${e}`,
      );
    }
  }
  const namesDir = join(store, 'names');
  try {
    for (const n of readdirSync(namesDir)) {
      const target = readlinkSync(join(namesDir, n));
      assert.match(target, /^\.\.\/objects\/sha256\/[0-9a-f]{64}$/, `${context}: names/${n} -> ${target}`);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return { objects: names.length };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...walk(p));
  }
  return out;
}

/** A refusal: non-zero exit, one `cald:` line (plus an optional `hint:` line), no stack trace. */
export function assertOneLine(
  r: Pick<RunResult, 'status' | 'stderr' | 'stdout'> & { signal?: NodeJS.Signals | null },
  whatOrPattern: string | RegExp,
  pattern?: RegExp,
): void {
  const what = whatOrPattern instanceof RegExp ? `a refusal like ${whatOrPattern}` : whatOrPattern;
  if (whatOrPattern instanceof RegExp) pattern = whatOrPattern;
  const all = `${what}\n--- stderr:\n${r.stderr}--- stdout:\n${r.stdout}`;
  assert.ok(r.status !== 0 && r.status !== null, `${what}: exit ${r.status} ${r.signal ?? ''}\n${all}`);
  assert.ok(!hasStackTrace(r.stderr) && !r.stderr.includes('    at '), `stack trace: ${all}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0]!, /^cald: \S/, all);
  assert.ok(
    lines.length <= 2 && (lines[1] === undefined || lines[1].startsWith('hint:')),
    `not one line: ${all}`,
  );
  if (pattern !== undefined) assert.match(lines[0]!, pattern, all);
}

/** `cald verify --store store` exits 0 and says clean. */
export function assertVerifies(store: string, context: string): void {
  const r = cald(['verify', '--store', store]);
  assert.equal(r.status, 0, `${context}: verify: ${r.stderr}${r.stdout}`);
  assert.match(r.stdout, /clean/, `${context}: ${r.stdout}`);
}

/** The imported program's digest printed by `cald import` (first line, cas:sha256:<hex>?name=...). */
export function importedDigest(stdout: string): string | undefined {
  const m = /cas:sha256:([0-9a-f]{64})/.exec(stdout);
  return m === null ? undefined : `sha256:${m[1]}`;
}

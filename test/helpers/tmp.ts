// Temporary directories that disappear after the test (or suite) that made them.
// Set CALD_KEEP_TMP=1 to keep them for a post-mortem; their paths are then printed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What can own a directory: node:test's TestContext (t), or `{ after }` imported from node:test for a suite. */
export interface CleanupOwner {
  after(fn: () => void): void;
}

function newDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `cald-${label.replace(/[^A-Za-z0-9_.-]/g, '_')}-`));
}

function remove(dir: string): void {
  if (process.env.CALD_KEEP_TMP === '1') {
    console.error(`kept ${dir}`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A fresh directory removed when `owner` finishes. */
export function makeTmp(owner: CleanupOwner, label = 'test'): string {
  const dir = newDir(label);
  owner.after(() => remove(dir));
  return dir;
}

/** Runs `fn` with a fresh directory and removes it afterwards, whatever `fn` does. */
export async function withTmp<T>(fn: (dir: string) => T | Promise<T>, label = 'test'): Promise<T> {
  const dir = newDir(label);
  try {
    return await fn(dir);
  } finally {
    remove(dir);
  }
}

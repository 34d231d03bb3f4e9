// Programs to name, built with cc at test time: `app-1.0` (prints "app 1" and its argv[0]) with a
// symlink `app` to it, and a rebuild printing "app 2" (the same file name in another directory).
// Also a snapshot of a store's files, to check that a command changed nothing it was not asked to.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type RunResult, runOk } from '../helpers/run.js';
import { hasStackTrace } from './cald.js';

// argv0 is printed as the name the program was invoked by: its last component (cald run gives a
// launcher path, <store>/launchers/<hex>/<name>, so a program that starts itself again can).
const SOURCE = (version: number) => `#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  const char *slash = strrchr(argv[0], '/');
  printf("app ${version} argv0=%s argc=%d\\n", slash ? slash + 1 : argv[0], argc);
  return 0;
}
`;

export interface AppBuilds {
  /** dir/v1/app-1.0 and the link dir/v1/app -> app-1.0. */
  readonly v1: string;
  readonly v1Link: string;
  /** dir/v2/app-1.0: the rebuild. */
  readonly v2: string;
}

export function buildApps(dir: string): AppBuilds {
  const build = (version: number): string => {
    const d = join(dir, `v${version}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'app.c'), SOURCE(version));
    runOk('cc', ['-O1', '-o', join(d, 'app-1.0'), join(d, 'app.c')]);
    return join(d, 'app-1.0');
  };
  const v1 = build(1);
  const v2 = build(2);
  const v1Link = join(dir, 'v1', 'app');
  symlinkSync('app-1.0', v1Link);
  return { v1, v1Link, v2 };
}

/** Every file under the store's objects/, names/, paths/ and roots/, with a hash of its content or link. */
export function storeSnapshot(store: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = join(store, rel);
    if (!existsSync(abs)) return;
    for (const e of readdirSync(abs).sort()) {
      const r = join(rel, e);
      const st = lstatSync(join(store, r));
      if (st.isDirectory()) walk(r);
      else if (st.isSymbolicLink()) out.set(r, `-> ${readlinkSync(join(store, r))}`);
      else
        out.set(
          r,
          createHash('sha256')
            .update(readFileSync(join(store, r)))
            .digest('hex'),
        );
    }
  };
  for (const d of ['objects', 'names', 'paths', 'roots']) walk(d);
  return out;
}

export function assertUnchanged(before: Map<string, string>, store: string, what: string): void {
  assert.deepEqual(storeSnapshot(store), before, `${what} changed the store`);
}

/** A failure: exactly `status`, one `cald:` line matching `pattern`, an optional hint, no stack. */
export function assertFails(r: RunResult, status: number, pattern: RegExp, what: string): void {
  const all = `${what}: exit ${r.status}\n${r.stderr}${r.stdout}`;
  assert.equal(r.status, status, all);
  assert.ok(!hasStackTrace(r.stderr), all);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0]!, /^cald: /, all);
  assert.match(lines[0]!, pattern, all);
  assert.ok(lines.length <= 2 && (lines[1] === undefined || lines[1].startsWith('hint: ')), all);
}

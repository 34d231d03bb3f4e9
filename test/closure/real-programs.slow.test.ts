// Closures of this machine's programs, compared with ldd (name => path pairs, in order) and with
// the searches LD_DEBUG=libs reports. Deterministic choice of programs: sorted, evenly spaced.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readDynamicInfo } from '../../src/closure/dynamic-info.js';
import { nodeFs } from '../../src/closure/fs.js';
import { resolveClosure } from '../../src/closure/index.js';
import { hasTool } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { closureSearches, closureView, ldDebugSearches, ldd, sortedEntries } from './oracle.js';

const skip = hasTool('ldd') ? false : 'ldd is not installed';

const NAMED = [
  '/usr/bin/ls',
  '/usr/bin/sqlite3',
  '/usr/bin/git',
  '/usr/bin/curl',
  '/usr/bin/python3',
  '/usr/bin/ffmpeg',
];

function isDynamicProgram(path: string): boolean {
  try {
    const st = statSync(path);
    if (!st.isFile() || (st.mode & 0o111) === 0) return false;
    const info = readDynamicInfo(nodeFs, path);
    return info.interp !== undefined && info.needed.length > 0;
  } catch {
    return false;
  }
}

/** 60 dynamically linked programs from /usr/bin, evenly spaced through the sorted list. */
function pickedPrograms(count = 60): string[] {
  const all = readdirSync('/usr/bin')
    .sort()
    .map((n) => join('/usr/bin', n))
    .filter((p) => !NAMED.includes(p) && isDynamicProgram(p));
  if (all.length <= count) return all;
  return Array.from({ length: count }, (_, i) => all[Math.floor((i * all.length) / count)] as string);
}

function compareWithLdd(program: string, env: Record<string, string> = {}) {
  const c = resolveClosure({ program, env });
  // ldd runs `ld.so --list PROGRAM`, which takes the program's $ORIGIN from the path as given;
  // a program started by the kernel gets it from its real path (/proc/self/exe), as cald does.
  // Through a symlink (/usr/bin/jinfo -> .../bin/jinfo, RPATH $ORIGIN/../lib) the two differ,
  // so ldd is given the real path.
  const theirs = ldd(realpathSync(program), env);
  const ours = closureView(c);
  assert.deepEqual(sortedEntries(ours), sortedEntries(theirs), `${program}: closure differs from ldd`);
  assert.deepEqual(
    [...ours.pairs.keys()],
    [...theirs.pairs.keys()],
    `${program}: load order differs from ldd`,
  );
  assert.equal(ours.error, theirs.error);
  return c;
}

describe('closures of real programs equal ldd and LD_DEBUG=libs', { skip }, () => {
  for (const program of NAMED) {
    test(program, { skip: existsSync(program) ? false : `${program} is not installed` }, () => {
      const c = compareWithLdd(program);
      const searches = closureSearches(c);
      const traced = ldDebugSearches(program);
      assert.deepEqual(
        searches.map((s) => s.name),
        traced.map((s) => s.name),
        'the names searched, in order',
      );
      searches.forEach((s, i) => {
        if (s.path !== undefined) assert.equal(s.path, traced[i]?.lastTried, `where ${s.name} was found`);
      });
      assert.ok(c.interpreter !== undefined, 'a dynamic program has an interpreter');
      assert.equal(c.objects[c.interpreter.index ?? -1]?.kind, 'interpreter');
    });
  }

  const picked = skip ? [] : pickedPrograms();
  test(`${picked.length} programs picked from /usr/bin`, () => {
    assert.ok(picked.length >= 50, `only ${picked.length} dynamic programs found`);
    const differ: string[] = [];
    for (const program of picked) {
      try {
        compareWithLdd(program);
      } catch (e) {
        differ.push(`${program}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    assert.deepEqual(differ, []);
  });

  test('LD_LIBRARY_PATH with a shadowing copy of libz.so.1: cald and ldd agree on the shadowing', (t) => {
    const dir = makeTmp(t, 'closure-shadow');
    copyFileSync(realpathSync('/lib/x86_64-linux-gnu/libz.so.1'), join(dir, 'libz.so.1'));
    let compared = 0;
    for (const program of ['/usr/bin/curl', '/usr/bin/git', '/usr/bin/ffmpeg']) {
      if (!existsSync(program)) continue;
      const c = compareWithLdd(program, { LD_LIBRARY_PATH: dir });
      const z = c.objects.find((o) => o.names.includes('libz.so.1'));
      assert.equal(z?.path, join(dir, 'libz.so.1'));
      assert.equal(z?.foundVia, 'LD_LIBRARY_PATH');
      compared++;
    }
    assert.ok(compared > 0, 'no program needing libz.so.1 is installed');
  });

  test('ffmpeg closure: well under a second', {
    skip: existsSync('/usr/bin/ffmpeg') ? false : 'no ffmpeg',
  }, () => {
    resolveClosure({ program: '/usr/bin/ffmpeg' }); // the loader's facts are probed once per process
    const t0 = performance.now();
    const c = resolveClosure({ program: '/usr/bin/ffmpeg' });
    const ms = performance.now() - t0;
    console.log(`# ffmpeg: ${c.objects.length} objects in ${ms.toFixed(1)} ms`);
    assert.ok(c.objects.length > 100);
    assert.ok(ms < 500, `took ${ms} ms`);
  });
});

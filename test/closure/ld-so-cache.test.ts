// The ld.so.cache parser against ldconfig -p: this machine's cache and caches ldconfig writes in
// each of its formats (old, compat = old+new, new with a glibc-hwcaps entry); corrupt and
// truncated caches give LdCacheError and never anything else.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  type CacheTarget,
  type ClosureFs,
  cacheFlagsFor,
  type LdCache,
  LdCacheError,
  lookupLdCache,
  nodeFs,
  parseLdCache,
  probeLoaderFacts,
  resolveClosure,
} from '../../src/closure/index.js';
import { EM_X86_64 } from '../../src/elf/format/constants.js';
import { hasTool, run, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { closureView, ldd, sortedEntries } from './oracle.js';

const skip =
  hasTool('ldconfig') && existsSync('/etc/ld.so.cache') ? false : 'needs ldconfig and /etc/ld.so.cache';
const facts = probeLoaderFacts('/lib64/ld-linux-x86-64.so.2');
const target: CacheTarget = {
  ...cacheFlagsFor(true, EM_X86_64),
  hwcaps: facts?.glibcHwcaps ?? [],
  isaLevels: undefined,
};

interface Printed {
  key: string;
  desc: string;
  value: string;
}

function ldconfigP(cacheFile?: string): Printed[] {
  const r = runOk('ldconfig', ['-p', ...(cacheFile === undefined ? [] : ['-C', cacheFile])]);
  return r.stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.startsWith('\t'))
    .map((l) => {
      const m = /^\t(.*) \((.*)\) => (.*)$/.exec(l);
      assert.ok(m, `unexpected ldconfig -p line: ${l}`);
      return { key: m[1] as string, desc: m[2] as string, value: m[3] as string };
    });
}

/** ldconfig's description of an entry's flags and hwcap (elf/cache.c, print_entry). */
function describe_(c: LdCache, i: number): string {
  const e = c.entries[i];
  assert.ok(e);
  const type = { 0: 'libc4', 1: 'ELF', 2: 'libc5', 3: 'libc6' }[e.flags & 0xff] ?? 'unknown';
  const abi = { 0: '', 768: ',x86-64', 2048: ',x32' }[e.flags & 0xff00] ?? ',?';
  const hwcap =
    e.hwcapsName !== undefined
      ? `, hwcap: "${e.hwcapsName}"`
      : e.hwcap !== 0n
        ? `, hwcap: 0x${e.hwcap.toString(16).padStart(16, '0')}`
        : '';
  return `${type}${abi}${hwcap}`;
}

function assertMatchesLdconfig(c: LdCache, printed: Printed[]) {
  assert.equal(c.entries.length, printed.length, 'entry count');
  c.entries.forEach((e, i) => {
    const p = printed[i] as Printed;
    assert.equal(e.key, p.key, `entry ${i} key`);
    assert.equal(e.value, p.value, `entry ${i} value`);
    assert.equal(describe_(c, i), p.desc, `entry ${i} flags`);
  });
}

describe('ld.so.cache', { skip }, () => {
  test("this machine's cache: the entries equal ldconfig -p", () => {
    const c = parseLdCache(readFileSync('/etc/ld.so.cache'));
    assertMatchesLdconfig(c, ldconfigP());
  });

  test('lookup gives the first entry of the right ABI, as ld.so would', () => {
    const c = parseLdCache(readFileSync('/etc/ld.so.cache'));
    const firstByKey = new Map<string, string>();
    for (const p of ldconfigP())
      if (p.desc === 'libc6,x86-64' && !firstByKey.has(p.key)) firstByKey.set(p.key, p.value);
    assert.ok(firstByKey.size > 100);
    for (const [key, value] of firstByKey) assert.equal(lookupLdCache(c, key, target)?.value, value, key);
    assert.equal(lookupLdCache(c, 'libdoes-not-exist-cald.so.1', target), undefined);
    // 32-bit entries are not for a 64-bit loader.
    const only32 = ldconfigP().find((p) => p.desc === 'libc6' && !firstByKey.has(p.key));
    if (only32 !== undefined) assert.equal(lookupLdCache(c, only32.key, target), undefined);
  });

  for (const format of ['old', 'compat', 'new'] as const) {
    test(`a cache ldconfig writes in the ${format} format, with a glibc-hwcaps entry`, (t) => {
      const d = makeTmp(t, `cl-cache-${format}`);
      const libDir = join(d, 'l');
      mkdirSync(join(libDir, 'glibc-hwcaps', 'x86-64-v2'), { recursive: true });
      const z = realpathSync('/lib/x86_64-linux-gnu/libz.so.1');
      copyFileSync(z, join(libDir, 'libz.so.1'));
      copyFileSync(z, join(libDir, 'glibc-hwcaps', 'x86-64-v2', 'libz.so.1'));
      writeFileSync(join(d, 'conf'), `${libDir}\n`);
      const file = join(d, 'cache');
      runOk('ldconfig', ['-C', file, '-c', format, '-f', join(d, 'conf')]);
      const c = parseLdCache(readFileSync(file));
      assert.equal(c.format, format === 'compat' ? 'old+new' : format);
      assertMatchesLdconfig(c, ldconfigP(file));
      if (format === 'compat') {
        // ldconfig writes the glibc-hwcaps name offsets relative to the new header, but glibc
        // (ld.so's glibc_hwcaps_compare and ldconfig -p alike) reads them from the start of the
        // file: the name comes out as some other string, and the entry is never chosen.
        assert.notDeepEqual(c.hwcapsNames, ['x86-64-v2']);
        assert.equal(
          lookupLdCache(c, 'libz.so.1', target)?.value,
          lookupLdCache(c, 'libz.so.1', { ...target, hwcaps: [] })?.value,
        );
      }
      if (format === 'new') {
        assert.deepEqual(c.hwcapsNames, ['x86-64-v2']);
        const hit = lookupLdCache(c, 'libz.so.1', target)?.value;
        const expected = target.hwcaps.includes('x86-64-v2')
          ? join(libDir, 'glibc-hwcaps', 'x86-64-v2', 'libz.so.1')
          : lookupLdCache(c, 'libz.so.1', { ...target, hwcaps: [] })?.value;
        assert.equal(hit, expected);
        // Without x86-64-v2 support the hwcaps entry is passed over.
        assert.notEqual(
          lookupLdCache(c, 'libz.so.1', { ...target, hwcaps: [] })?.value,
          join(libDir, 'glibc-hwcaps', 'x86-64-v2', 'libz.so.1'),
        );
      }
    });
  }

  test('truncated and corrupted caches give LdCacheError, never a crash', () => {
    const good = readFileSync('/etc/ld.so.cache');
    const lengths = new Set<number>();
    for (let n = 0; n < 400; n++) lengths.add(n);
    for (let n = 0; n < 300; n++) lengths.add(Math.floor((n * good.length) / 300));
    for (const n of lengths) {
      try {
        parseLdCache(good.subarray(0, n));
      } catch (e) {
        assert.ok(e instanceof LdCacheError, `length ${n}: ${String(e)}`);
      }
    }
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    let rejected = 0;
    for (let i = 0; i < 1500; i++) {
      const b = Buffer.from(good);
      for (let k = 0; k < 4; k++) b[rand() % Math.min(b.length, 4096)] = rand() & 0xff;
      try {
        parseLdCache(b);
      } catch (e) {
        assert.ok(e instanceof LdCacheError, String(e));
        rejected++;
      }
    }
    assert.ok(rejected > 0);
    assert.throws(() => parseLdCache(Buffer.from('not a cache at all')), { code: 'LDCACHE_BAD_MAGIC' });
    const huge = Buffer.from(good);
    huge.writeUInt32LE(0x7fffffff, 20);
    assert.throws(() => parseLdCache(huge), { code: 'LDCACHE_CORRUPT' });
  });

  test('a corrupt cache is ignored with a warning and the search goes on, as in ld.so', () => {
    const fs: ClosureFs = {
      ...nodeFs,
      readFile: (p) =>
        p === '/etc/ld.so.cache'
          ? Buffer.from('ld.so-1.7.0\0\xff\xff\xff\x7f', 'latin1')
          : nodeFs.readFile(p),
    };
    const c = resolveClosure({ program: '/usr/bin/ls', fs });
    assert.ok(c.warnings.some((w) => w.includes('/etc/ld.so.cache ignored')));
    // Everything ls needs lives in the first system directory, which is also where the cache points.
    assert.deepEqual(sortedEntries(closureView(c)), sortedEntries(ldd('/usr/bin/ls')));
    assert.equal(run('true', []).status, 0);
  });
});

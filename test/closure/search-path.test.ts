// Unit rules: token expansion, path-list splitting, the loader's --help, and the walk over an
// injected file system (a fake tree mapping virtual paths onto real files).
import assert from 'node:assert/strict';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  type ClosureFs,
  expandDst,
  type LoaderFacts,
  legacyCombinations,
  parseLoaderHelp,
  probeLoaderFacts,
  resolveClosure,
  splitSearchList,
} from '../../src/closure/index.js';
import { run } from '../helpers/run.js';

const values = { origin: '/app/bin', platform: 'x86_64', lib: 'lib/x86_64-linux-gnu' };

describe('dynamic string tokens and path lists', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the loader's ${ORIGIN} token, not a template
  test('$ORIGIN, ${ORIGIN}, $PLATFORM, $LIB; unknown tokens and look-alikes stay', () => {
    assert.equal(expandDst('$ORIGIN/../lib', values), '/app/bin/../lib');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: loader token
    assert.equal(expandDst('${ORIGIN}x/$LIB/$PLATFORM', values), '/app/binx/lib/x86_64-linux-gnu/x86_64');
    assert.equal(expandDst('$ORIGINAL/$FOO', values), '$ORIGINAL/$FOO');
    assert.equal(expandDst('$PLATFORM_X', values), '$PLATFORM_X');
    assert.equal(expandDst('/a/$PLATFORM', { ...values, platform: undefined }), undefined);
  });

  test('lists: separators, empty elements, trailing slashes, duplicates, dropped elements', () => {
    assert.deepEqual(splitSearchList('/a::/b/;/c//', ':;', values), ['/a', '', '/b', '/c']);
    assert.deepEqual(splitSearchList('/a:/a/:/', ':', values), ['/a', '/']);
    assert.deepEqual(splitSearchList('/x/$PLATFORM:/y', ':', { ...values, platform: undefined }), ['/y']);
    assert.deepEqual(splitSearchList('/a;b', ':', values), ['/a;b']);
  });

  test('legacy hwcap subdirectories: every subset, largest first', () => {
    assert.deepEqual(legacyCombinations(['tls', 'x86_64', 'x86_64']), [
      'tls/x86_64/x86_64',
      'tls/x86_64',
      'tls/x86_64',
      'tls',
      'x86_64/x86_64',
      'x86_64',
      'x86_64',
      '',
    ]);
  });

  test('ld.so --help of this machine, and the search path it implies, equal LD_DEBUG=libs', () => {
    const facts = probeLoaderFacts('/lib64/ld-linux-x86-64.so.2');
    if (facts === undefined) return; // glibc < 2.33 or not x86-64
    assert.ok(facts.systemDirs.length > 0);
    const trace = run('/bin/true', [], {
      env: { LD_DEBUG: 'libs', LD_TRACE_LOADED_OBJECTS: '1', LD_LIBRARY_PATH: '/nonexistent-cald' },
    }).stderr;
    const m = /search path=(.*)\t\t\(LD_LIBRARY_PATH\)/.exec(trace);
    if (m === null) return; // /bin/true found everything before LD_LIBRARY_PATH (cannot happen)
    const subdirs = [...facts.glibcHwcaps.map((h) => `glibc-hwcaps/${h}`), ...facts.legacySubdirs];
    const expected = subdirs.map((s) => (s === '' ? '/nonexistent-cald' : `/nonexistent-cald/${s}`));
    assert.deepEqual(m[1]?.split(':'), expected);
  });

  test('parseLoaderHelp reads a glibc 2.36 --help', () => {
    const text = [
      'Shared library search path:',
      '  (libraries located via /etc/ld.so.cache)',
      '  /lib64 (system search path)',
      '  /usr/lib64 (system search path)',
      '',
      'Subdirectories of glibc-hwcaps directories, in priority order:',
      '  x86-64-v4',
      '  x86-64-v3 (supported, searched)',
      '  x86-64-v2 (supported, searched)',
      '',
      'Legacy HWCAP subdirectories under library search path directories:',
      '  haswell (AT_PLATFORM; supported, searched)',
      '  tls (supported, searched)',
      '  avx512_1',
      '  x86_64 (supported, searched)',
    ].join('\n');
    const f = parseLoaderHelp(text, 'test');
    assert.deepEqual(f?.systemDirs, ['/lib64', '/usr/lib64']);
    assert.deepEqual(f?.glibcHwcaps, ['x86-64-v3', 'x86-64-v2']);
    assert.equal(f?.platform, 'haswell');
    assert.equal(f?.lib, 'lib64');
    assert.equal(f?.legacySubdirs[0], 'tls/haswell/x86_64');
  });
});

describe('an injected file system', () => {
  test('a fake tree: /app/bin/prog and its libraries mapped onto real files, no cache', () => {
    const real = (p: string) => realpathSync(p);
    const tree = new Map<string, string>([
      ['/app/bin/prog', real('/usr/bin/ls')],
      ['/sys/lib/libselinux.so.1', real('/lib/x86_64-linux-gnu/libselinux.so.1')],
      ['/sys/lib/libc.so.6', real('/lib/x86_64-linux-gnu/libc.so.6')],
      ['/sys/lib/libpcre2-8.so.0', real('/lib/x86_64-linux-gnu/libpcre2-8.so.0')],
      ['/lib64/ld-linux-x86-64.so.2', real('/lib64/ld-linux-x86-64.so.2')],
    ]);
    const dirs = new Set(['/', '/app', '/app/bin', '/sys', '/sys/lib', '/lib64']);
    let inode = 1n;
    const inodes = new Map([...tree.keys()].map((k) => [k, inode++]));
    const fs: ClosureFs = {
      readFile: (p) => readFileSync(tree.get(p) ?? '/nonexistent-cald'),
      readRange(p, position, length) {
        const b = readFileSync(tree.get(p) ?? '/nonexistent-cald');
        return b.subarray(position, position + length);
      },
      stat(p) {
        if (dirs.has(p)) return { dev: 1n, ino: 0n, isFile: false, isDirectory: true, size: 0 };
        const t = tree.get(p);
        if (t === undefined) return undefined;
        return {
          dev: 1n,
          ino: inodes.get(p) ?? 0n,
          isFile: true,
          isDirectory: false,
          size: statSync(t).size,
        };
      },
      realpath(p) {
        if (tree.has(p) || dirs.has(p)) return p;
        throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
      },
    };
    const loader: LoaderFacts = {
      systemDirs: ['/sys/lib'],
      glibcHwcaps: [],
      legacySubdirs: [''],
      platform: 'x86_64',
      lib: 'sys/lib',
      cachePath: '/etc/ld.so.cache',
      source: 'test',
    };
    const c = resolveClosure({ program: '/app/bin/prog', fs, loader, cache: null, cwd: '/' });
    assert.deepEqual(
      c.objects.map((o) => `${o.names[0] ?? ''} ${o.path} ${o.foundVia}`),
      [
        ' /app/bin/prog program',
        'libselinux.so.1 /sys/lib/libselinux.so.1 system',
        'libc.so.6 /sys/lib/libc.so.6 system',
        'libpcre2-8.so.0 /sys/lib/libpcre2-8.so.0 system',
        '/lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2 interpreter',
      ],
    );
    assert.deepEqual(c.missing, []);
    assert.equal(c.interpreter?.index, 4);
    assert.deepEqual(c.warnings, []);
  });
});

// Shared parts of the end-to-end tests on this machine's real programs: importing with the CLI of
// this build tree, walking an import's objects with readelf (independent of cald's ELF reader),
// hashing with sha256sum, the program cases, and running a case every way cald offers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cald, entrySource, NODE_FLAGS } from '../cli/cald.js';
import { isElfFile } from '../helpers/elf-files.js';
import { repoPath } from '../helpers/paths.js';
import { hasTool, type RunResult, run, runOk } from '../helpers/run.js';

/** The native parts of this checkout (dist/ or a private --outDir build alike, as test/runtime does). */
export const NATIVE_DIR = repoPath('native', 'build');
export const AUDIT_LIB = join(NATIVE_DIR, 'libcald-audit.so');
export const LOADER_NAME = 'ld-linux-x86-64.so.2';
export const HOST_INTERP = '/lib64/ld-linux-x86-64.so.2';

/** Environment keys that must not leak from the test runner into runs. */
const CLEARED = [
  'LD_AUDIT',
  'LD_LIBRARY_PATH',
  'LD_PRELOAD',
  'CALD_DEBUG',
  'CALD_FALLBACK',
  'CALD_STRIP_ENV',
];

/**
 * A small fixed environment for every run (original and store copies alike), so outputs compare:
 * PATH, HOME (a private one: git reads ~/.gitconfig), the verification cache in a private place.
 */
export function baseEnv(home: string): Record<string, string> {
  mkdirSync(home, { recursive: true });
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    XDG_CACHE_HOME: join(home, '.cache'),
    LC_ALL: 'C',
    CALD_NATIVE_DIR: NATIVE_DIR,
  };
}

/** The cald CLI of this build tree with exactly `env` (plus LC_ALL=C). */
export function caldCli(args: readonly string[], env: Record<string, string>, cwd?: string): RunResult {
  const clear = Object.fromEntries(CLEARED.map((k) => [k, undefined]));
  return cald(args, {
    env: { ...clear, ...env },
    replaceEnv: true,
    ...(cwd ? { cwd } : {}),
    timeoutMs: 120_000,
  });
}

/** A `cald` command on disk (for `eval "$(cald env)"` in bash): node on this build's CLI. */
export function writeCaldShim(dir: string): string {
  const bin = join(dir, 'shim-bin');
  mkdirSync(bin, { recursive: true });
  const entry = join(bin, 'cald.mjs');
  writeFileSync(entry, `${entrySource()}\n`);
  const shim = join(bin, 'cald');
  writeFileSync(
    shim,
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${NODE_FLAGS.join(' ')} ${JSON.stringify(entry)} "$@"\n`,
  );
  chmodSync(shim, 0o755);
  return bin;
}

export interface ImportedRoot {
  path: string;
  uri: string;
  digest: string;
}

export interface ImportResult {
  store: string;
  imported: ImportedRoot[];
  objects: number;
  loader: ImportedRoot | null;
  hostProvided: Array<{ from: string; name: string }>;
  /** The first imported file (the program). */
  program: ImportedRoot & { name: string; hex: string; object: string };
  ms: number;
}

export function objectPath(store: string, hex: string): string {
  return join(store, 'objects', 'sha256', hex);
}

export function hexOf(digestOrName: string): string {
  const m = /sha256:([0-9a-f]{64})/.exec(digestOrName);
  assert.ok(m, `not a sha256 digest or name: ${digestOrName}`);
  return m[1]!;
}

/** `cald import --json --store STORE ...args`. */
export function importInto(
  store: string,
  args: readonly string[],
  env: Record<string, string>,
): ImportResult {
  const t0 = performance.now();
  const r = caldCli(['import', '--json', '--store', store, ...args], env);
  const ms = performance.now() - t0;
  assert.equal(r.status, 0, `cald import ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  const j = JSON.parse(r.stdout) as Omit<ImportResult, 'program' | 'ms'>;
  const first = j.imported[0]!;
  const hex = hexOf(first.digest);
  return {
    ...j,
    program: { ...first, name: basename(first.path), hex, object: objectPath(store, hex) },
    ms,
  };
}

/** The DT_NEEDED strings of an ELF file, as readelf prints them. */
export function neededOf(file: string): string[] {
  const out = runOk('readelf', ['-dW', file]).stdout;
  return [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]*)\]/g)].map((m) => m[1]!);
}

export interface ObjectNode {
  hex: string;
  path: string;
  needed: string[];
}

/** Every object reachable from `rootHexes` through `cas:` DT_NEEDED names (readelf's view). */
export function walkObjects(store: string, rootHexes: readonly string[]): Map<string, ObjectNode> {
  const seen = new Map<string, ObjectNode>();
  const stack = [...rootHexes];
  while (stack.length) {
    const hex = stack.pop()!;
    if (seen.has(hex)) continue;
    const path = objectPath(store, hex);
    const needed = neededOf(path);
    seen.set(hex, { hex, path, needed });
    for (const n of needed) if (n.startsWith('cas:')) stack.push(hexOf(n));
  }
  return seen;
}

/** sha256sum (coreutils) of many files, in batches: path -> hex. */
export function sha256sumAll(paths: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < paths.length; i += 200) {
    const r = runOk('sha256sum', ['--', ...paths.slice(i, i + 200)]);
    for (const line of r.stdout.trim().split('\n')) {
      const m = /^([0-9a-f]{64}) [ *](.*)$/.exec(line);
      assert.ok(m, `sha256sum line: ${line}`);
      out.set(m[2]!, m[1]!);
    }
  }
  return out;
}

/** Flips every bit of the byte at `offset` (default: the middle of the file); returns a function undoing it. */
export function flipByte(file: string, offset?: number): () => void {
  chmodSync(file, 0o644);
  const fd = openSync(file, 'r+');
  try {
    const size = spawnSync('stat', ['-c', '%s', file], { encoding: 'utf8' }).stdout.trim();
    const at = offset ?? Math.floor(Number(size) / 2);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    const orig = b[0]!;
    writeSync(fd, Buffer.from([orig ^ 0xff]), 0, 1, at);
    return () => {
      const fd2 = openSync(file, 'r+');
      try {
        writeSync(fd2, Buffer.from([orig]), 0, 1, at);
      } finally {
        closeSync(fd2);
      }
    };
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// The programs and what each is asked to do.

export interface Step {
  args: string[];
  /** Compare stderr: as is (default), after a normalisation (timings), or not at all. */
  stderr?: boolean | ((text: string) => string);
}

export interface Case {
  label: string;
  steps: Step[];
  /** The program's own variables (never LD_* or CALD_*), also given under `env -i`. */
  env?: Record<string, string>;
  /** Files written into a fresh working directory before the first step. */
  files?: Record<string, string>;
}

export interface ProgramSpec {
  key: string;
  path: string;
  importArgs: string[];
  cases: Case[];
  /** The case used for quick checks (moved store, tampering). */
  quick: Step;
}

export const MAPS_MARKER = '--- maps ---';

/** Python code: versions and computed values, then (after a marker) the files mapped into the process. */
export const PYTHON_CODE = `import ssl, sqlite3, ctypes, lzma, decimal, hashlib, zlib
decimal.getcontext().prec = 50
print("ssl", ssl.OPENSSL_VERSION, ssl.OPENSSL_VERSION_INFO[:3])
print("sqlite", sqlite3.sqlite_version, sqlite3.connect(":memory:").execute("with recursive c(x) as (select 1 union all select x+1 from c where x<100) select sum(x*x) from c").fetchone()[0])
data = b"content addressed " * 500
print("lzma", lzma.CHECK_SHA256, len(lzma.compress(data, preset=6)), lzma.decompress(lzma.compress(data)) == data)
print("decimal", decimal.__version__, decimal.Decimal(1) / decimal.Decimal(7), decimal.Decimal(2).sqrt())
libc = ctypes.CDLL(None)
print("ctypes", ctypes.sizeof(ctypes.c_long), libc.strlen(b"by content"), libc.abs(-42))
print("hash", hashlib.sha256(data).hexdigest(), zlib.crc32(data))
print(${JSON.stringify(MAPS_MARKER)})
seen = []
for line in open("/proc/self/maps"):
    f = line.split(None, 5)
    if len(f) == 6 and f[5].startswith("/") and f[5].strip() not in seen:
        seen.append(f[5].strip())
print("\\n".join(seen))
`;

const GIT_ENV: Record<string, string> = {
  GIT_AUTHOR_NAME: 'Cald Test',
  GIT_AUTHOR_EMAIL: 'cald@example.org',
  GIT_AUTHOR_DATE: '2020-01-02T03:04:05Z',
  GIT_COMMITTER_NAME: 'Cald Test',
  GIT_COMMITTER_EMAIL: 'cald@example.org',
  GIT_COMMITTER_DATE: '2020-01-02T03:04:05Z',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

const FFMPEG_ENCODE = [
  '-nostdin',
  '-hide_banner',
  '-nostats',
  '-f',
  'lavfi',
  '-i',
  'testsrc=duration=1:size=64x64:rate=5',
  '-f',
  'framemd5',
  '-',
];

export const PROGRAMS: readonly ProgramSpec[] = [
  {
    key: 'python3',
    path: '/usr/bin/python3',
    importArgs: ['/usr/bin/python3', '--with', '/usr/lib/python3.11/lib-dynload'],
    cases: [{ label: 'imports ssl, sqlite3, ctypes, lzma, decimal', steps: [{ args: ['-c', PYTHON_CODE] }] }],
    quick: { args: ['-c', 'import ssl, sqlite3, ctypes, lzma, decimal; print(ssl.OPENSSL_VERSION)'] },
  },
  {
    key: 'git',
    path: '/usr/bin/git',
    importArgs: ['/usr/bin/git'],
    cases: [
      { label: '--version', steps: [{ args: ['--version'] }] },
      {
        label: 'init + commit in a fresh repository',
        env: GIT_ENV,
        files: { 'hello.txt': 'hello, content\n', 'notes.md': '# by content\n' },
        steps: [
          { args: ['init', '-q', '-b', 'main'] },
          { args: ['add', 'hello.txt', 'notes.md'] },
          { args: ['commit', '-m', 'first commit by content'] },
          { args: ['log', '--format=%H %an %ad %s'] },
          { args: ['cat-file', '-p', 'HEAD^{tree}'] },
          { args: ['status', '--porcelain'] },
          { args: ['no-such-command'] },
        ],
      },
    ],
    quick: { args: ['--version'] },
  },
  {
    key: 'sqlite3',
    path: '/usr/bin/sqlite3',
    importArgs: ['/usr/bin/sqlite3'],
    cases: [
      {
        label: ':memory: queries',
        steps: [
          {
            args: [
              ':memory:',
              "create table t(x); insert into t select value from generate_series(1, 1000); select sqlite_version(), count(*), sum(x*x), hex(sha3('cald')), upper('by content') from t;",
            ],
          },
          { args: [':memory:', 'select no_such_function(1);'] },
        ],
      },
    ],
    quick: { args: [':memory:', 'select sqlite_version(), 6*7;'] },
  },
  {
    key: 'curl',
    path: '/usr/bin/curl',
    importArgs: ['/usr/bin/curl'],
    cases: [
      { label: '--version', steps: [{ args: ['--version'] }] },
      {
        label: 'file:///etc/hostname',
        steps: [{ args: ['-sS', 'file:///etc/hostname'] }, { args: ['-sS', 'file:///no/such/file'] }],
      },
    ],
    quick: { args: ['--version'] },
  },
  {
    key: 'ffmpeg',
    path: '/usr/bin/ffmpeg',
    importArgs: ['/usr/bin/ffmpeg'],
    cases: [
      { label: '-version', steps: [{ args: ['-version'] }] },
      {
        label: 'encodes a generated test pattern (framemd5)',
        // The final statistics line carries the encoding speed, a timing.
        steps: [{ args: FFMPEG_ENCODE, stderr: (s) => s.replace(/speed=\s*\S+/g, 'speed=*') }],
      },
    ],
    quick: { args: ['-version'] },
  },
];

export function programSpec(key: string): ProgramSpec {
  const p = PROGRAMS.find((s) => s.key === key);
  assert.ok(p, key);
  return p;
}

/** Why the programs cannot be tested here, or null. */
export function programsMissing(): string | null {
  const missing = PROGRAMS.filter((p) => !isElfFile(p.path)).map((p) => p.path);
  if (!hasTool('readelf') || !hasTool('sha256sum')) missing.push('readelf/sha256sum');
  return missing.length ? `not on this machine: ${missing.join(', ')}` : null;
}

// ---------------------------------------------------------------------------------------------
// Running a case.

export interface Outcome {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs argv[] in cwd with exactly env; one step's result. */
export type Runner = (args: readonly string[], env: Record<string, string>, cwd: string) => Outcome;

function outcome(r: RunResult): Outcome {
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.error ? `${r.error}\n${r.stderr}` : r.stderr,
  };
}

export function direct(file: string, extra: Record<string, string> = {}): Runner {
  return (args, env, cwd) =>
    outcome(run(file, args, { env: { ...env, ...extra }, replaceEnv: true, cwd, timeoutMs: 60_000 }));
}

export function viaCaldRun(store: string, program: string, mode: 'audit' | 'names'): Runner {
  return (args, env, cwd) =>
    outcome(caldCli(['run', '--mode', mode, '--store', store, program, ...args], env, cwd));
}

/** bash -c 'eval "$(cald env ...)"; exec OBJECT ARGS' with the shim on PATH. */
export function viaEnv(store: string, object: string, mode: 'audit' | 'names', shimBin: string): Runner {
  const script =
    'set -e; e=$(cald env --mode "$CALD_E2E_MODE" --store "$CALD_E2E_STORE"); eval "$e"; exec "$0" "$@"';
  return (args, env, cwd) =>
    outcome(
      run('bash', ['-c', script, object, ...args], {
        env: { ...env, PATH: `${shimBin}:${env.PATH}`, CALD_E2E_MODE: mode, CALD_E2E_STORE: store },
        replaceEnv: true,
        cwd,
        timeoutMs: 60_000,
      }),
    );
}

/** Runs every step of `c` in a fresh working directory (under `workRoot`) with `runner`. */
export function runCase(
  c: Case,
  runner: Runner,
  env: Record<string, string>,
  workRoot: string,
  label: string,
): Outcome[] {
  const cwd = join(workRoot, label.replace(/[^A-Za-z0-9_.-]/g, '_'));
  mkdirSync(cwd, { recursive: true });
  for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(join(cwd, name), text);
  return c.steps.map((s) => runner(s.args, { ...env, ...(c.env ?? {}) }, cwd));
}

/** Splits python's output at the maps marker: [what compares, mapped files]. */
export function splitMaps(stdout: string): [string, string[]] {
  const i = stdout.indexOf(`${MAPS_MARKER}\n`);
  if (i < 0) return [stdout, []];
  return [
    stdout.slice(0, i),
    stdout
      .slice(i + MAPS_MARKER.length + 1)
      .split('\n')
      .filter(Boolean),
  ];
}

/** Asserts each step's stdout, status (and stderr where asked) equal the original's. */
export function assertSame(c: Case, want: Outcome[], got: Outcome[], way: string): void {
  assert.equal(got.length, want.length);
  c.steps.forEach((s, i) => {
    const w = want[i]!;
    const g = got[i]!;
    const what = `${way}: step ${i + 1} (${s.args.slice(0, 3).join(' ').slice(0, 60)})`;
    assert.equal(
      splitMaps(g.stdout)[0],
      splitMaps(w.stdout)[0],
      `${what}: stdout differs (exit ${g.status}, signal ${g.signal}; the original ${w.status}, ${w.signal}); stderr: ${g.stderr}`,
    );
    assert.equal(
      g.status,
      w.status,
      `${what}: exit status ${g.status}, original ${w.status}; stderr: ${g.stderr}`,
    );
    assert.equal(g.signal, w.signal, `${what}: signal`);
    const norm = typeof s.stderr === 'function' ? s.stderr : (x: string) => x;
    if (s.stderr !== false) assert.equal(norm(g.stderr), norm(w.stderr), `${what}: stderr differs`);
  });
}

/**
 * Files mapped into python that did not come from the store: anything but the loader, the audit
 * library and non-ELF data files (locale archives, gconv cache) counts as "from the host".
 */
export function hostMapped(files: readonly string[], store: string): string[] {
  const objects = `${join(store, 'objects', 'sha256')}/`;
  return files.filter(
    (f) =>
      !f.startsWith(objects) &&
      basename(f) !== LOADER_NAME &&
      basename(f) !== 'libcald-audit.so' &&
      !f.endsWith(' (deleted)') &&
      isElfFile(f),
  );
}

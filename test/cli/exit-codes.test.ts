// docs/cli.md's exit-status table against the source: every error code cald raises (found in
// src/ by reading it, not from a list kept here) is in the row of the status exitCodeFor gives
// it, every code the table names exists, and `cald --help` names every status.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT, EXIT_CODES_BY_NAME, EXIT_PREFIXES, exitCodeFor } from '../../src/cli/exit-codes.js';
import { repoPath } from '../helpers/paths.js';
import { makeTmp } from '../helpers/tmp.js';
import { cald } from './cald.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/**
 * The codes in src/: families are what error classes declare (`code: \`ELF_${string}\``) and what
 * `new CaldError('X_...'` uses; a code is any string literal of such a family.
 */
function sourceCodes(): Set<string> {
  const text = sourceFiles(repoPath('src'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const families = new Set([...text.matchAll(/code: `([A-Z_]+_)\$\{string\}`/g)].map((m) => m[1]!));
  for (const m of text.matchAll(/CaldError\(\s*'([A-Z][A-Z0-9]*_)/g)) families.add(m[1]!);
  const codes = [...text.matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g)]
    .map((m) => m[1]!)
    .filter((c) => [...families].some((f) => c.startsWith(f)));
  // ioErrorFrom names its codes after errno: IO_<each errno it explains>.
  const io = readFileSync(repoPath('src', 'errors', 'io-error.ts'), 'utf8');
  const errnos = [...io.matchAll(/^\s+(E[A-Z]+): \[/gm)].map((m) => `IO_${m[1]}`);
  assert.ok(errnos.includes('IO_ENOENT'), 'the errno scan of io-error.ts is broken');
  return new Set([...codes, ...errnos, 'USAGE']);
}

interface Row {
  status: number;
  exact: Set<string>;
  families: string[];
}

function docsRows(): Row[] {
  const md = readFileSync(repoPath('docs', 'cli.md'), 'utf8');
  const section = md.slice(md.indexOf('## Exit status'), md.indexOf('## Environment'));
  const rows: Row[] = [];
  for (const line of section.split('\n')) {
    const m = /^\| (\d+) \| [^|]* \|(.*)\|$/.exec(line);
    if (m === null) continue;
    const tokens = [...m[2]!.matchAll(/`([A-Z][A-Z0-9_]*\*?)`/g)].map((t) => t[1]!);
    rows.push({
      status: Number(m[1]),
      exact: new Set(tokens.filter((t) => !t.endsWith('*'))),
      families: tokens.filter((t) => t.endsWith('*')).map((t) => t.slice(0, -1)),
    });
  }
  return rows;
}

/** The row a code belongs to by the table: its exact mention, else its longest family. */
function documentedStatus(rows: readonly Row[], code: string): number | undefined {
  const exact = rows.find((r) => r.exact.has(code));
  // A row may give examples of its own family (`ELF_*` (e.g. `ELF_NOT_ELF`)): exact mentions that
  // also fit a family of the same row count as examples.
  if (exact !== undefined) return exact.status;
  let best: { len: number; status: number } | undefined;
  for (const r of rows) {
    for (const f of r.families) {
      if (code.startsWith(f) && (best === undefined || f.length > best.len))
        best = { len: f.length, status: r.status };
    }
  }
  return best?.status;
}

test('every error code in src/ is in the docs row of its exit status', () => {
  const rows = docsRows();
  const codes = sourceCodes();
  assert.ok(codes.size > 50, `found only ${codes.size} codes: the scan is broken`);
  for (const code of [...codes].sort()) {
    const documented = documentedStatus(rows, code);
    assert.notEqual(documented, undefined, `${code} (exit ${exitCodeFor(code)}) is not in docs/cli.md`);
    assert.equal(
      documented,
      exitCodeFor(code),
      `${code}: docs say ${documented}, cald exits ${exitCodeFor(code)}`,
    );
  }
});

test('every code docs/cli.md names exists, and every status is one cald uses', () => {
  const rows = docsRows();
  const codes = sourceCodes();
  for (const r of rows) {
    for (const c of r.exact) assert.ok(codes.has(c), `docs/cli.md names ${c}, which nothing in src/ raises`);
  }
  const statuses = new Set<number>(Object.values(EXIT));
  assert.deepEqual(new Set(rows.map((r) => r.status)), statuses);
  // The mapping's own families and exact codes are each documented at their status.
  for (const [prefix, status] of EXIT_PREFIXES) {
    const probe = prefix.endsWith('_') ? `${prefix}PROBE` : prefix;
    assert.equal(documentedStatus(rows, probe), status, `family ${prefix}`);
  }
  for (const [code, status] of Object.entries(EXIT_CODES_BY_NAME)) {
    assert.equal(documentedStatus(rows, code), status, code);
  }
});

test('cald --help names every exit status', () => {
  const r = cald(['--help']);
  assert.equal(r.status, 0, r.stderr);
  const part = r.stdout.slice(r.stdout.indexOf('Exit status:'));
  for (const status of Object.values(EXIT)) {
    if (status === 0) continue;
    assert.match(
      part,
      new RegExp(`\\b${status} [A-Za-z]`),
      `cald --help does not explain exit status ${status}`,
    );
  }
  assert.match(part, /127 not found, 126 cannot run/);
});

test('an archive that is not one exits 7, as --help and docs/cli.md say (remote or archive)', (t) => {
  const store = makeTmp(t, 'exit-archive');
  const r = cald(['import-archive', '/etc/passwd'], { env: { CALD_STORE: join(store, 'store') } });
  assert.equal(r.status, EXIT.REMOTE, r.stderr);
  assert.match(r.stderr, /not a valid zstd stream/);
  assert.match(cald(['--help']).stdout, /\b7 remote or archive failed\b/);
  const md = readFileSync(repoPath('docs', 'cli.md'), 'utf8');
  assert.match(md, /^\| 7 \| [^|]*archive[^|]*\|/m);
});

// Every ELF file on this machine parses, and what `inspect` reports for the loader-relevant strings
// (DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME, PT_INTERP) agrees with GNU readelf, file by file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { inspect } from '../../src/api/index.js';
import { isCaldError } from '../../src/errors/index.js';
import { machineElfFiles } from '../helpers/elf-files.js';
import { parseDynamic, splitByFile } from '../helpers/readelf.js';
import { hasTool } from '../helpers/run.js';

interface Facts {
  needed: string[];
  rpath: string | null;
  runpath: string | null;
  soname: string | null;
  interpreter: string | null;
}

const CHUNK = 400;

/** `readelf -d -l -W` over many files in one process; stderr merged so warnings stay with their file. */
function readelfChunk(files: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', 'exec readelf -d -l -W "$@" 2>&1', 'sh', '--', ...files], {
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const out: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.on('error', reject);
    p.on('close', () => resolve(Buffer.concat(out).toString('utf8')));
  });
}

function readelfFacts(text: string): Facts {
  const d = parseDynamic(text);
  const interp = /\[Requesting program interpreter: (.*)\]$/m.exec(text);
  return {
    needed: d.needed,
    rpath: d.rpath,
    runpath: d.runpath,
    soname: d.soname,
    interpreter: interp ? (interp[1] ?? '') : null,
  };
}

/** readelf's view of every file, two readelf processes at a time. */
async function readelfAll(files: readonly string[]): Promise<Map<string, Facts>> {
  const chunks: string[][] = [];
  for (let i = 0; i < files.length; i += CHUNK) chunks.push(files.slice(i, i + CHUNK));
  const result = new Map<string, Facts>();
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++]!;
      const text = await readelfChunk(chunk);
      const parts = chunk.length === 1 ? new Map([[chunk[0]!, text]]) : splitByFile(text, chunk);
      for (const f of chunk) result.set(f, readelfFacts(parts.get(f) ?? ''));
    }
  };
  await Promise.all([worker(), worker()]);
  return result;
}

test('every ELF file on this machine parses and agrees with readelf', { timeout: 10 * 60_000 }, async (t) => {
  if (!hasTool('readelf')) {
    t.skip('readelf (binutils) is not installed');
    return;
  }
  const started = Date.now();
  const files = machineElfFiles();
  assert.ok(files.length > 1000, `expected thousands of ELF files on this machine, found ${files.length}`);
  const oracle = readelfAll(files);

  const failures: string[] = [];
  const ours = new Map<string, Facts>();
  for (const path of files) {
    try {
      const r = await inspect({ path });
      ours.set(path, {
        needed: r.needed,
        rpath: r.rpath,
        runpath: r.runpath,
        soname: r.soname,
        interpreter: r.interpreter,
      });
    } catch (e) {
      failures.push(
        `${path}: ${isCaldError(e) ? `${e.code} ${e.message}` : `NOT A CaldError: ${String(e)}`}`,
      );
    }
  }
  const theirs = await oracle;

  const disagreements: string[] = [];
  for (const [path, mine] of ours) {
    const ref = theirs.get(path);
    for (const key of ['needed', 'rpath', 'runpath', 'soname', 'interpreter'] as const) {
      const a = JSON.stringify(mine[key]);
      const b = JSON.stringify(ref?.[key] ?? null);
      if (a !== b) disagreements.push(`${path}: ${key}: cald ${a}, readelf ${b}`);
    }
  }
  const withNeeded = [...ours.values()].filter((f) => f.needed.length > 0).length;
  const withInterp = [...ours.values()].filter((f) => f.interpreter !== null).length;
  t.diagnostic(
    `${files.length} ELF files: ${ours.size} parsed (${withNeeded} with DT_NEEDED, ${withInterp} with PT_INTERP), ` +
      `${failures.length} failed, ${disagreements.length} disagreements with readelf, ${Date.now() - started} ms`,
  );
  const show = (list: string[]) =>
    list.slice(0, 50).join('\n') + (list.length > 50 ? `\n... ${list.length - 50} more` : '');
  assert.equal(failures.length, 0, `files cald could not read:\n${show(failures)}`);
  assert.equal(disagreements.length, 0, `cald and readelf disagree:\n${show(disagreements)}`);
});

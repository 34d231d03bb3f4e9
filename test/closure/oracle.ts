// The independent witnesses: what ldd and LD_DEBUG=libs say about a program, and the same facts
// read off a cald closure, in one comparable shape.
import type { Closure } from '../../src/closure/index.js';
import { run } from '../helpers/run.js';

export interface LddView {
  /** name => path, for each object ldd lists with "=>" (vdso excluded). */
  pairs: Map<string, string>;
  /** Objects listed by path only (the interpreter, names containing '/'). */
  paths: Set<string>;
  notFound: Set<string>;
  /** ld.so's fatal error, if it stopped (e.g. "x: invalid ELF header"). */
  error: string | undefined;
}

/** Environment for the oracles: only what the test sets, so the caller's LD_* cannot interfere. */
function oracleEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', ...extra };
}

export function parseLdd(stdout: string, stderr = ''): LddView {
  const view: LddView = { pairs: new Map(), paths: new Set(), notFound: new Set(), error: undefined };
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('linux-vdso') || line.startsWith('linux-gate')) continue;
    let m = /^(.*) => not found$/.exec(line);
    if (m) {
      view.notFound.add(m[1] as string);
      continue;
    }
    m = /^(.*) => (.*) \(0x[0-9a-f]+\)$/.exec(line);
    if (m) {
      view.pairs.set(m[1] as string, m[2] as string);
      continue;
    }
    m = /^(.*) \(0x[0-9a-f]+\)$/.exec(line);
    if (m) view.paths.add(m[1] as string);
  }
  // ldd prints ld.so's fatal error on standard output.
  const err = /error while loading shared libraries: (.*)$/m.exec(`${stdout}\n${stderr}`);
  if (err) view.error = err[1];
  return view;
}

export function ldd(program: string, env: Record<string, string> = {}, cwd?: string): LddView {
  const r = run('ldd', [program], {
    env: oracleEnv(env),
    replaceEnv: true,
    ...(cwd === undefined ? {} : { cwd }),
  });
  return parseLdd(r.stdout, r.stderr);
}

/** The same view of a cald closure. */
export function closureView(c: Closure): LddView {
  const view: LddView = { pairs: new Map(), paths: new Set(), notFound: new Set(), error: undefined };
  for (const o of c.objects) {
    if (o.kind === 'program') continue;
    const name = o.names[0] as string;
    if (name === o.path) view.paths.add(o.path);
    else view.pairs.set(name, o.path);
  }
  for (const m of c.missing) {
    if (m.path !== undefined) view.error ??= `${m.path}: ${m.reason}`;
    else view.notFound.add(m.name);
  }
  return view;
}

export function sortedEntries(v: LddView): { pairs: string[]; paths: string[]; notFound: string[] } {
  return {
    pairs: [...v.pairs].map(([k, p]) => `${k} => ${p}`).sort(),
    paths: [...v.paths].sort(),
    notFound: [...v.notFound].sort(),
  };
}

export interface TraceSearch {
  name: string;
  /** The last file ld.so tried for it (the one it loaded, when it was found). */
  lastTried: string | undefined;
}

/** The searches LD_DEBUG=libs reports in trace mode (what ldd runs), in order. */
export function ldDebugSearches(
  program: string,
  env: Record<string, string> = {},
  cwd?: string,
): TraceSearch[] {
  const r = run(program, [], {
    env: oracleEnv({ ...env, LD_TRACE_LOADED_OBJECTS: '1', LD_DEBUG: 'libs' }),
    replaceEnv: true,
    ...(cwd === undefined ? {} : { cwd }),
  });
  const out: TraceSearch[] = [];
  for (const line of r.stderr.split('\n')) {
    let m = /^\s*\d+:\s+find library=(.*) \[\d+\]; searching$/.exec(line);
    if (m) {
      out.push({ name: m[1] as string, lastTried: undefined });
      continue;
    }
    m = /^\s*\d+:\s+trying file=(.*)$/.exec(line);
    const last = out[out.length - 1];
    if (m && last !== undefined) last.lastTried = m[1] as string;
  }
  return out;
}

/** The searches a closure implies: every slash-free needed name not matched by an object already loaded. */
export function closureSearches(c: Closure): Array<{ name: string; path: string | undefined }> {
  const out: Array<{ name: string; path: string | undefined }> = [];
  const missingByObject = new Map<string, string | undefined>();
  for (const m of c.missing) missingByObject.set(`${m.neededBy}\0${m.name}`, m.path);
  for (const o of c.objects) {
    for (const e of o.needed) {
      if (e.how === 'loaded' || e.name.includes('/')) continue;
      const path =
        e.object === undefined ? missingByObject.get(`${o.index}\0${e.name}`) : c.objects[e.object]?.path;
      out.push({ name: e.name, path });
    }
  }
  return out;
}

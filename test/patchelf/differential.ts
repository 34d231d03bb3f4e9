// Runs the real patchelf and `cald patchelf` side by side, on copies of the same file.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readelfDynamic, readelfInterp } from '../helpers/readelf.js';

export const PATCHELF = '/usr/bin/patchelf';
/** The `cald patchelf` entry of the same compiled tree as this test. */
export const CALD_PATCHELF = fileURLToPath(new URL('./bin.js', import.meta.url));

export interface Run {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

function spawn(cmd: string, args: readonly string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(cmd, args, { env: { ...process.env, LC_ALL: 'C', ...env }, maxBuffer: 256 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

export function runPatchelf(args: readonly string[], env: Record<string, string> = {}): Run {
  return spawn(PATCHELF, args, env);
}

export function runCald(args: readonly string[], env: Record<string, string> = {}): Run {
  return spawn(process.execPath, [CALD_PATCHELF, ...args], env);
}

/** What readelf says about a file: the facts both tools must agree on after an edit. */
export interface Facts {
  needed: string[];
  rpath: string | null;
  runpath: string | null;
  soname: string | null;
  interp: string | null;
}

export function facts(file: string): Facts {
  const d = readelfDynamic(file);
  return {
    needed: d.needed,
    rpath: d.rpath,
    runpath: d.runpath,
    soname: d.soname,
    interp: readelfInterp(file),
  };
}

/** Copies `src` into dir/patchelf/NAME and dir/cald/NAME; returns both paths. */
export function twoCopies(dir: string, src: string, name: string): { theirs: string; ours: string } {
  const theirs = join(dir, 'patchelf', name);
  const ours = join(dir, 'cald', name);
  mkdirSync(join(dir, 'patchelf'), { recursive: true });
  mkdirSync(join(dir, 'cald'), { recursive: true });
  copyFileSync(src, theirs);
  copyFileSync(src, ours);
  return { theirs, ours };
}

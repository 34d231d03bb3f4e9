// Real ELF files from this machine: the widest test corpus there is (every linker and compiler
// Debian used, odd sections, debug files, kernel modules), plus a real program's library closure.
import {
  chmodSync,
  closeSync,
  copyFileSync,
  type Dirent,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { runOk } from './run.js';

export const ELF_ROOTS = ['/usr/bin', '/usr/sbin', '/usr/lib', '/usr/libexec', '/usr/local'] as const;

/** True when `path` can be opened and starts with \x7fELF. */
export function isElfFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false; // unreadable: skipped
  }
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
  } catch {
    return false; // e.g. EISDIR races, EIO
  } finally {
    closeSync(fd);
  }
}

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

const cache = new Map<string, string[]>();

/**
 * Every ELF file under `roots`: regular files only (symlinks neither followed nor listed), each file once
 * (by device and inode, so hard links count once), sorted. Ar archives (.a) are not ELF and are left out.
 */
export function machineElfFiles(roots: readonly string[] = ELF_ROOTS): string[] {
  const key = roots.join('\0');
  const hit = cache.get(key);
  if (hit) return [...hit];
  const seen = new Set<string>();
  const found: string[] = [];
  const stack = [...roots];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const e of entries(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        let id: string;
        try {
          const st = lstatSync(p);
          if (st.size < 52) continue; // smaller than the smallest ELF header
          id = `${st.dev}:${st.ino}`;
        } catch {
          continue;
        }
        if (seen.has(id) || !isElfFile(p)) continue;
        seen.add(id);
        found.push(p);
      }
    }
  }
  found.sort();
  cache.set(key, found);
  return [...found];
}

/** The files `ldd` loads for `prog`, in ldd's order, interpreter included, linux-vdso excluded. Throws on "not found". */
export function programClosure(prog: string): string[] {
  const out = runOk('ldd', [prog]).stdout;
  const paths: string[] = [];
  const missing: string[] = [];
  for (const raw of out.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('linux-vdso') || line.startsWith('linux-gate')) continue;
    const arrow = /^(.*?) => (.*?)(?: \(0x[0-9a-f]+\))?$/.exec(line);
    if (arrow) {
      if (arrow[2] === 'not found') missing.push(arrow[1] ?? '');
      else paths.push(arrow[2] ?? '');
      continue;
    }
    const bare = /^(\/.*?) \(0x[0-9a-f]+\)$/.exec(line); // the interpreter
    if (bare) paths.push(bare[1] ?? '');
  }
  if (missing.length) throw new Error(`ldd ${prog}: not found: ${missing.join(', ')}`);
  return paths;
}

export interface CopiedClosure {
  program: string;
  libDir: string;
  /** Copies in programClosure order; the interpreter's copy is among them. */
  libs: string[];
}

/** Copies `prog` to dir/<name> and its closure to dir/lib/<name>, all writable by the owner. */
export function copyClosure(prog: string, dir: string): CopiedClosure {
  const libDir = join(dir, 'lib');
  mkdirSync(libDir, { recursive: true });
  const copy = (from: string, to: string) => {
    copyFileSync(from, to); // follows symlinks: copies the file itself
    chmodSync(to, lstatSync(to).mode | 0o200);
    return to;
  };
  const program = copy(prog, join(dir, basename(prog)));
  const libs = programClosure(prog).map((lib) => copy(lib, join(libDir, basename(lib))));
  return { program, libDir, libs };
}

// Runs external tools (compilers, readelf, the programs under test) for tests.
// Never throws on a failing command: tests assert on status and output themselves.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { isI386, SIMULATE_NO_I386 } from './host.js';

export interface RunOptions {
  /** Added to (and overriding) the inherited environment. */
  env?: Record<string, string | undefined>;
  /** Use exactly `env` instead of adding to process.env. */
  replaceEnv?: boolean;
  cwd?: string;
  input?: string | Buffer;
  timeoutMs?: number;
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started (ENOENT...) or was killed by the timeout. */
  error?: string;
}

// readelf -a over a big library prints tens of megabytes; spawnSync's default (1 MiB) would truncate.
const MAX_BUFFER = 512 * 1024 * 1024;

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  if (SIMULATE_NO_I386 && isI386(cmd)) {
    // What a kernel without i386 execution does: execve fails with ENOEXEC (helpers/host.ts).
    return {
      status: null,
      signal: null,
      stdout: '',
      stderr: '',
      error: `spawnSync ${cmd} ENOEXEC (CALD_TEST_NO_I386=1)`,
    };
  }
  // LC_ALL=C: tool messages are parsed, so they must not be translated.
  const base = opts.replaceEnv ? {} : process.env;
  const env = { ...base, LC_ALL: 'C', ...opts.env };
  const r = spawnSync(cmd, args, {
    env,
    cwd: opts.cwd,
    input: opts.input,
    timeout: opts.timeoutMs,
    maxBuffer: MAX_BUFFER,
    encoding: 'utf8',
  });
  const result: RunResult = {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
  };
  if (r.error) result.error = r.error.message;
  return result;
}

/**
 * run() without blocking this process: for a command that talks to a server this process runs, or
 * whose output another stream of this process watches meanwhile. Killed after `timeoutMs` (60 s).
 */
export function runAsync(
  cmd: string,
  args: readonly string[],
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, LC_ALL: 'C', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** Like run(), but throws with the command line and its stderr when it does not exit 0. */
export function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  const r = run(cmd, args, opts);
  if (r.status !== 0) {
    const why = r.error ?? (r.signal ? `signal ${r.signal}` : `exit ${r.status}`);
    throw new Error(`${cmd} ${args.join(' ')}: ${why}\n${r.stderr}${r.stdout}`.trimEnd());
  }
  return r;
}

const toolCache = new Map<string, string | null>();

/** The absolute path of `name` on PATH, or null. */
export function whichTool(name: string): string | null {
  const cached = toolCache.get(name);
  if (cached !== undefined) return cached;
  let found: string | null = null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) {
        found = p;
        break;
      }
    } catch {
      // not in this directory
    }
  }
  toolCache.set(name, found);
  return found;
}

export function hasTool(name: string): boolean {
  return whichTool(name) !== null;
}

// Runs the cald command end to end: a fresh node process on the compiled CLI of the same build tree
// as this test (dist/ or a private --outDir), exactly as bin/cald.js does.
import { fileURLToPath } from 'node:url';
import { type RunOptions, type RunResult, run, runAsync } from '../helpers/run.js';

/** The compiled src/cli/main.js next to this compiled test. */
export const MAIN_URL = new URL('../../src/cli/main.js', import.meta.url).href;
export const MAIN_PATH = fileURLToPath(MAIN_URL);
/** The body of bin/cald.js, for a node -e entry: `argv` is the expression of the arguments. */
export function entrySource(argv = 'process.argv.slice(2)'): string {
  return `import { main } from ${JSON.stringify(MAIN_URL)}; process.exitCode = await main(${argv});`;
}
export const ENTRY = entrySource();
/** The node options of bin/cald.js's #! line (bin/cald.js says why). */
export const NODE_FLAGS: readonly string[] = ['--no-concurrent-recompilation'];
export const ENTRY_ARGS: readonly string[] = [
  ...NODE_FLAGS,
  '--input-type=module',
  '-e',
  ENTRY,
  '--',
  'cald',
];

/** `cald ...args`. Colors are off unless asked (the test harness may set FORCE_COLOR). */
export function cald(args: readonly string[], opts: RunOptions = {}): RunResult {
  const env = { FORCE_COLOR: undefined, NO_COLOR: undefined, CALD_DEBUG: undefined, ...opts.env };
  return run(process.execPath, [...ENTRY_ARGS, ...args], {
    timeoutMs: 60_000,
    ...opts,
    env,
  });
}

/** True when stderr/stdout contain something that looks like a JavaScript stack trace. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+[(:]\d+/m.test(text) || /node:internal/.test(text);
}

export const ANSI = /\x1b\[[0-9;]*m/;

/**
 * `cald ...args` without blocking this process: for tests whose server runs in this process
 * (a synchronous spawn would stop it from answering).
 */
export function caldAsync(
  args: readonly string[],
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return runAsync(process.execPath, [...ENTRY_ARGS, ...args], {
    ...opts,
    env: { FORCE_COLOR: undefined, NO_COLOR: undefined, CALD_DEBUG: undefined, ...opts.env },
  });
}

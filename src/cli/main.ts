import { EXIT } from './exit-codes.js';
import type { CliIo } from './io.js';
import { reportError } from './report-error.js';
import { CALD_VERSION } from './version.js';

/**
 * Entry point of the `cald` command (bin/cald.js). Returns the process exit status and never
 * throws: every error ends in reportError(), the one place that turns errors into output.
 *
 * Start-up matters (cald runs inside build scripts, once per file): this module imports only small
 * local files; commander and each command's modules are loaded when they are needed. `cald
 * patchelf` has an io of its own (patchelf/main.ts): the process io (colors from picocolors, the
 * standard streams) is made only for the other commands, or to report a failed load.
 */
export async function main(givenArgv: string[], given?: CliIo): Promise<number> {
  const argv = helpAsOption(givenArgv);
  const json = jsonRequested(argv);
  let io = given;
  try {
    // patchelf's own parser takes every argument as-is: options before or after file names,
    // @file arguments, its own --help and --version.
    if (argv[0] === 'patchelf') {
      const { patchelfMain } = await import('./patchelf/main.js');
      return await patchelfMain(argv.slice(1));
    }
    io ??= await processIo();
    if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
      io.out(`cald ${CALD_VERSION}\n`);
      return EXIT.OK;
    }
    const { runProgram } = await import('./program.js');
    return await runProgram(argv, io, json);
  } catch (e) {
    return reportError(io ?? (await processIo()), e, { json });
  }
}

async function processIo(): Promise<CliIo> {
  return (await import('./io.js')).processIo();
}

/**
 * `cald help roots list` is `cald roots list --help`, at any depth, and `cald help patchelf` is
 * patchelf's own help (commander's help command goes one level down only).
 */
function helpAsOption(argv: string[]): string[] {
  const words = argv.slice(1);
  if (argv[0] !== 'help' || words.length === 0 || words.some((a) => a.startsWith('-'))) return argv;
  // `cald help help`: the help command's own help is cald's.
  if (words.every((w) => w === 'help')) return ['--help'];
  return [...words, '--help'];
}

/** True when the command line asks for JSON (before any `--`), so even usage errors are JSON. */
function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

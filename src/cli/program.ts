import { Command, CommanderError } from 'commander';
import { register as registerArchive } from './commands/archive.js';
import { register as registerEnv } from './commands/env.js';
import { register as registerGc } from './commands/gc.js';
import { register as registerGraph } from './commands/graph.js';
import { register as registerImport } from './commands/import.js';
import { register as registerIndex } from './commands/index.js';
import { register as registerInspect } from './commands/inspect.js';
import { register as registerInstall } from './commands/install.js';
import { register as registerInstallAudit } from './commands/install-audit.js';
import { register as registerLdd } from './commands/ldd.js';
import { register as registerList } from './commands/list.js';
import { register as registerMount } from './commands/mount.js';
import { register as registerPatchelf } from './commands/patchelf.js';
import { register as registerPath } from './commands/path.js';
import { registerKey, register as registerRemote, registerServe } from './commands/remote.js';
import { register as registerRoots } from './commands/roots.js';
import { register as registerRun } from './commands/run.js';
import { register as registerStore } from './commands/store.js';
import { register as registerSystem } from './commands/system.js';
import { register as registerTree } from './commands/tree.js';
import { register as registerVerify } from './commands/verify.js';
import { register as registerWhyDepends } from './commands/why-depends.js';
import type { CommandContext, RegisterCommand } from './context.js';
import { EXIT } from './exit-codes.js';
import type { CliIo } from './io.js';
import { reportError } from './report-error.js';
import { CALD_VERSION } from './version.js';

// One file per command. Heavy modules (the ELF engine, the api) are imported inside each action,
// so `cald --help` loads only commander.
const COMMANDS: readonly RegisterCommand[] = [
  registerImport,
  registerTree,
  registerInspect,
  registerPatchelf,
  registerRun,
  registerEnv,
  registerInstall,
  registerInstallAudit,
  registerSystem,
  registerLdd,
  registerGraph,
  registerList,
  registerPath,
  registerWhyDepends,
  registerRoots,
  registerGc,
  registerVerify,
  registerStore,
  registerIndex,
  registerRemote,
  registerArchive,
  registerMount,
  registerKey,
  registerServe,
];
const EXAMPLES = `
Examples:
  $ cald inspect /usr/bin/ls               what a program is and what it needs
  $ cald inspect --json /usr/lib/x86_64-linux-gnu/libc.so.6
  $ cald patchelf --print-needed ./prog    patchelf's command line
  $ cald import /usr/bin/sqlite3 && cald run sqlite3 --version
  $ cald list                              the imported programs, by name

Programs and objects are named by: program name, cas: URI, sha256: digest, hex prefix, root id,
or the path they were imported from (docs/cli.md, "Naming an object").

Exit status: 0 success, 1 failure, 2 usage (also a malformed name), 3 not a (well-formed) ELF
file, 4 edit refused, 5 I/O error, 6 store missing or inconsistent, 7 remote or archive failed,
8 no such program, object or root, 70 internal error (a bug);
cald run: 127 not found, 126 cannot run.
Set CALD_DEBUG=1 to see stack traces, NO_COLOR=1 for no colors.`;

/**
 * Parses the command line with commander and runs the command. Commander's own errors (unknown
 * option or command, missing argument) are reported here, and so are the errors a command's
 * action throws: a usage error without a hint of its own gets "see 'cald CMD --help'" for the
 * command that was run.
 */
export async function runProgram(argv: string[], io: CliIo, json: boolean): Promise<number> {
  let status: number = EXIT.OK;
  const ctx: CommandContext = {
    io,
    setStatus: (s) => {
      status = s;
    },
  };
  let commanderMessage = '';
  const program = buildProgram(ctx, (s) => {
    commanderMessage = s;
  });
  const reached = commandPath(program, argv);
  const usageHint = `see '${['cald', ...reached.path, '--help'].join(' ')}'`;
  try {
    // `cald nosuch --help`, `cald roots nosuch -h`: the unknown command is the mistake, not a
    // request for the help of the command above it.
    await program.parseAsync(reached.unknown === undefined ? argv : withoutHelpFlags(argv), {
      from: 'user',
    });
    return status;
  } catch (e) {
    if (e instanceof CommanderError) return commanderFailure(io, e, commanderMessage, usageHint, json);
    return reportError(io, e, { json, usageHint });
  }
}

/**
 * cald's whole command tree, writing through ctx.io; commander's error lines go to `onError`
 * (cald prints its own). Exported for the tests that walk every command.
 */
export function buildProgram(ctx: CommandContext, onError: (message: string) => void = () => {}): Command {
  const { io } = ctx;
  const program = new Command('cald')
    .description('Link ELF dynamic libraries by content.')
    .version(`cald ${CALD_VERSION}`, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help for cald or a command')
    .helpCommand('help [command]', 'show help for a command')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .addHelpText('after', EXAMPLES)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      // Commander's error line is replaced by cald's own (see commanderFailure).
      outputError: onError,
    });
  for (const registerCommand of COMMANDS) registerCommand(program, ctx);
  return program;
}

/**
 * The commands the words of argv name, from the top (`roots list` in `cald roots list --json`),
 * and the first word that names none where a command was expected (`nosuch` in `cald roots
 * nosuch`). The walk stops at a command with no subcommands: what follows is its own.
 */
export function commandPath(program: Command, argv: readonly string[]): { path: string[]; unknown?: string } {
  const path: string[] = [];
  let current = program;
  for (const word of argv) {
    if (word === '--') break;
    if (word.startsWith('-')) continue;
    if (current.commands.length === 0 || word === 'help') break;
    const next = current.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (next === undefined) return { path, unknown: word };
    path.push(next.name());
    current = next;
  }
  return { path };
}

function withoutHelpFlags(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return argv.filter((a, i) => (end >= 0 && i > end) || (a !== '--help' && a !== '-h'));
}

function commanderFailure(io: CliIo, e: CommanderError, shown: string, hint: string, json: boolean): number {
  // --help and --version end parsing through exitOverride too; they are successes.
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.OK;
  // `cald help inspect` exits 0; `cald` alone has printed the help to stderr as a usage error.
  if (e.code === 'commander.help') return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  const message = (shown || e.message).trim().replace(/^error:\s*/, '');
  if (json) {
    io.out(`${JSON.stringify({ error: 'UsageError', code: 'USAGE', message, hint }, null, 2)}\n`);
  } else {
    const c = io.errColors;
    io.err(`${c.bold(c.red('cald:'))} ${message.split('\n').join(' ')}\n${c.yellow('hint:')} ${hint}\n`);
  }
  return EXIT.USAGE;
}

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
file, 4 edit refused, 5 I/O error, 6 store missing or inconsistent, 7 remote failed, 8 no such
program, object or root, 70 internal error (a bug); cald run: 127 not found, 126 cannot run.
Set CALD_DEBUG=1 to see stack traces, NO_COLOR=1 for no colors.`;

/**
 * Parses the command line with commander and runs the command. Errors from a command's action
 * propagate to main(); commander's own (unknown option, missing argument) are reported here.
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
      // Commander's error line is replaced by cald's own (see the catch below).
      outputError: (s) => {
        commanderMessage = s;
      },
    });
  for (const registerCommand of COMMANDS) registerCommand(program, ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return status;
  } catch (e) {
    if (e instanceof CommanderError) return commanderFailure(io, e, commanderMessage, argv, json);
    throw e;
  }
}

function commanderFailure(
  io: CliIo,
  e: CommanderError,
  shown: string,
  argv: string[],
  json: boolean,
): number {
  // --help and --version end parsing through exitOverride too; they are successes.
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.OK;
  // `cald help inspect` exits 0; `cald` alone has printed the help to stderr as a usage error.
  if (e.code === 'commander.help') return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  const message = (shown || e.message).trim().replace(/^error:\s*/, '');
  const command = argv.find((a) => !a.startsWith('-'));
  const hint =
    command === undefined || e.code === 'commander.unknownCommand' ? 'cald --help' : `cald ${command} --help`;
  if (json) {
    io.out(
      `${JSON.stringify({ error: 'UsageError', code: 'USAGE', message, hint: `see '${hint}'` }, null, 2)}\n`,
    );
  } else {
    const c = io.errColors;
    io.err(
      `${c.bold(c.red('cald:'))} ${message.split('\n').join(' ')}\n${c.yellow('hint:')} see '${hint}'\n`,
    );
  }
  return EXIT.USAGE;
}

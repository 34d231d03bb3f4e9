import type { Command } from 'commander';
import { CaldError, classifyError } from '../../errors/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';
import { reportError } from '../report-error.js';

const EXAMPLES = `
Examples:
  $ cald run ffmpeg -version                  an imported program, by the name it was imported under
  $ cald run cas:sha256:3a1f…9c -- --help     by URI; after -- nothing is read by cald
  $ cald run 3a1f9c0d --mode names            by hex prefix, found through <store>/names
  $ cald run --argv0 vi ./nvim-imported       a cas-named program given by path

PROGRAM is an imported program's name, cas:sha256:<hex>, sha256:<hex>, a hex prefix of a stored
object (6+ digits), or a path containing '/'. Options after PROGRAM go to the program.
The exit status is the program's; a program killed by a signal makes cald die by the same
signal. If cald cannot start it: 127 (not found: no such program, object, file or store),
126 (found but not runnable: a changed object, not executable), 2 (usage, a malformed name).
argv[0] is <store>/launchers/<hex>/<name>: the name it was invoked by (a multi-call program picks
its command by it), and a path back to the same object for a program that starts itself again.
CALD_DEBUG=1 says how it starts (host loader, or the stored loader run explicitly) and its argv[0].
See docs/running.md.`;

interface RunFlags {
  mode: string;
  argv0?: string;
  store?: string;
}

/** Failures before the program starts, as env(1) and shells report them. */
export function startStatus(code: string): number {
  if (code === 'USAGE' || code.startsWith('NAME_')) return EXIT.USAGE;
  if (code.startsWith('NOT_FOUND_') || code.startsWith('STORE_') || code === 'IO_ENOENT') return 127;
  return 126;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('run')
    .description(
      'run an imported program by content (standard streams, signals, exit status as the original)',
    )
    .argument('<program>', 'imported program name, cas: URI, sha256: digest, hex prefix, or a path')
    .argument('[args...]', 'arguments for the program')
    .option(
      '--mode <mode>',
      'audit: LD_AUDIT resolver, verified; names: <store>/names on LD_LIBRARY_PATH',
      'audit',
    )
    .option(
      '--argv0 <name>',
      'argv[0] for the program, exactly (default: a launcher of the same object, named as the program was invoked)',
    )
    .option(...STORE_OPTION)
    .passThroughOptions()
    .addHelpText('after', EXAMPLES)
    .action(async (name: string, args: string[], flags: RunFlags) => {
      const { io } = ctx;
      const { prepareRun, startPrepared, exitLike } = await import('../../api/run.js');
      let outcome: Awaited<ReturnType<typeof startPrepared>>;
      try {
        const prepared = await prepareRun({
          program: name,
          args,
          mode: flags.mode,
          ...(flags.argv0 === undefined ? {} : { argv0: flags.argv0 }),
          ...(flags.store === undefined ? {} : { store: flags.store }),
        });
        if (io.env.CALD_DEBUG === '1') io.err(`${prepared.debugLine}\n`);
        outcome = await startPrepared(prepared);
      } catch (e) {
        reportError(io, e, { json: false, usageHint: "see 'cald run --help'" });
        const c = classifyError(e);
        ctx.setStatus(startStatus(c instanceof CaldError ? c.code : ''));
        return;
      }
      if (outcome.signal !== null) exitLike(outcome);
      ctx.setStatus(outcome.status ?? 1);
    });
}

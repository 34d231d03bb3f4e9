import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { combineExitCodes, EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';
import { errorJson, reportError, statusOf } from '../report-error.js';

const EXAMPLES = `
Examples:
  $ cald inspect /usr/bin/ls
  $ cald inspect /usr/lib/x86_64-linux-gnu/*.so.*      several files; bad ones are named, the rest shown
  $ cald inspect --json /usr/bin/ls | jq '.needed'     every field (segments, sections, dynamic, notes)
  $ cald inspect sqlite3                               an imported program (also cas:, sha256:, hex prefix)

Each file that cannot be read or is not a well-formed ELF file gets one line on stderr naming it;
the others are still shown. The exit status is non-zero if any file failed (see 'cald --help').`;

interface InspectFlags {
  json?: boolean;
  store?: string;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('inspect')
    .description(
      'show what an ELF file is and what it needs: machine, interpreter, needed, rpath, versions, notes, segments',
    )
    .argument('<file...>', 'ELF files, or store objects by program name, cas: URI, digest or hex prefix')
    .option('--json', 'print the complete report as JSON (an array when several files are given)')
    .option(...STORE_OPTION)
    .addHelpText('after', EXAMPLES)
    .action(async (files: string[], flags: InspectFlags) => {
      ctx.setStatus(await inspectFiles(ctx, files, flags.json === true, flags.store));
    });
}

async function inspectFiles(
  ctx: CommandContext,
  files: string[],
  json: boolean,
  store: string | undefined,
): Promise<number> {
  const { io } = ctx;
  const [{ inspect }, { formatReport }] = await Promise.all([
    import('../../api/index.js'),
    import('../format/inspect-text.js'),
  ]);
  const statuses: number[] = [];
  const results: unknown[] = [];
  for (const [i, path] of files.entries()) {
    try {
      const report = await inspect({ path: await fileFor(ctx, path, store) });
      statuses.push(EXIT.OK);
      if (json) results.push(report);
      else io.out(`${i > 0 ? '\n' : ''}${formatReport(report, io.outColors)}`);
    } catch (e) {
      if (json) {
        // The error object goes in the array in the file's place; the status still says it failed.
        statuses.push(statusOf(e));
        results.push(errorJson(e, path));
      } else {
        statuses.push(reportError(io, e, { json: false, path }));
      }
    }
  }
  if (json) io.out(`${JSON.stringify(files.length === 1 ? results[0] : results, null, 2)}\n`);
  return combineExitCodes(statuses);
}

/** A file that exists is inspected as it is; anything else without a "/" names a store object. */
async function fileFor(ctx: CommandContext, arg: string, store: string | undefined): Promise<string> {
  if (arg.includes('/') || existsSync(arg)) return arg;
  const { objectPath } = await import('../../api/programs.js');
  return (await objectPath({ object: arg, env: ctx.io.env, ...(store === undefined ? {} : { store }) })).path;
}

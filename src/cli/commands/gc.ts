import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';
import { formatBytes } from './store.js';

const EXAMPLES = `
Examples:
  $ cald gc --dry-run                what would be deleted, and how much it would free
  $ cald gc                          delete every object no root reaches
  $ cald gc --max-freed 1G           stop once 1 GiB is freed
  $ cald gc --dry-run --print-dead   list each object that would go
  $ cald gc --keep-younger-than 30d  keep what was stored in the last 30 days

An object is kept if a root (cald roots list) reaches it through the references recorded in the
objects themselves, if a running process maps it, or if an import in progress may need it (gc
waits for imports to finish). Name and paths/ entries of deleted objects go with them.
See docs/lifecycle.md.`;

interface GcFlags {
  dryRun?: boolean;
  printDead?: boolean;
  maxFreed?: string;
  keepYoungerThan?: string;
  store?: string;
  json?: boolean;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('gc')
    .description('delete the objects no root reaches (and their names)')
    .option('--dry-run', 'report what would be deleted; delete nothing')
    .option('--max-freed <size>', 'stop after freeing at least SIZE (bytes, or 10M, 1G...)')
    .option('--print-dead', 'list each object deleted (or, with --dry-run, that would be)')
    .option(
      '--keep-younger-than <duration>',
      'keep unreachable objects stored less than this long ago (30d, 12h, 90m, 45s, or seconds)',
      '0',
    )
    .option(...STORE_OPTION)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: GcFlags) => {
      const { gc } = await import('../../api/gc.js');
      const { UsageError } = await import('../../errors/index.js');
      const { parseDuration } = await import('../../util/duration.js');
      const keepMs = parseDuration(flags.keepYoungerThan ?? '0');
      if (keepMs === undefined) {
        throw new UsageError(
          `--keep-younger-than ${JSON.stringify(flags.keepYoungerThan)} is not a duration`,
          {
            hint: 'give a number with s, m, h, d or w (30d, 12h), or a number of seconds',
          },
        );
      }
      const report = await gc({
        ...(flags.store === undefined ? {} : { store: flags.store }),
        ...(flags.maxFreed === undefined ? {} : { maxFreed: flags.maxFreed }),
        dryRun: flags.dryRun === true,
        keepYoungerThanMs: keepMs,
        env: ctx.io.env,
      });
      if (flags.json === true) {
        ctx.io.out(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const verb = report.dryRun ? 'would delete' : 'deleted';
        ctx.io.out(
          `${verb} ${report.deleted.length} object(s), ${formatBytes(report.freedBytes)} ` +
            `(${report.freedBytes} bytes); kept ${report.reachable} reachable from ${report.roots} root(s)` +
            `${report.keptUnreachable > 0 ? `, ${report.keptUnreachable} unreachable kept` : ''}\n`,
        );
        if (flags.printDead === true) {
          for (const d of report.deleted) {
            ctx.io.out(`${report.store}/objects/${d.digest.replace(':', '/')}  ${d.size}\n`);
          }
        }
        if (report.namesRemoved + report.pathsRemoved > 0) {
          ctx.io.out(`removed ${report.namesRemoved} name(s), ${report.pathsRemoved} paths/ entr(ies)\n`);
        }
        for (const id of report.releasedRoots) {
          ctx.io.out(`${report.dryRun ? 'would release' : 'released'} root ${id} (its file is gone)\n`);
        }
        if (report.missingObjects.length > 0) {
          ctx.io.err(
            `cald: warning: ${report.missingObjects.length} referenced object(s) are not stored (cald verify)\n`,
          );
        }
      }
      ctx.setStatus(EXIT.OK);
    });
}

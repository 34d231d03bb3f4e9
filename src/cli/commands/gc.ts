import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatBytes } from './store.js';

const EXAMPLES = `
Examples:
  $ cald gc --dry-run                what would be deleted, and how much it would free
  $ cald gc                          delete every object no root reaches
  $ cald gc --max-freed 1G           stop once 1 GiB is freed

An object is kept if a root (cald roots list) reaches it through the references recorded in the
objects themselves, if a running process maps it, or if an import in progress may need it (gc
waits for imports to finish). Name and paths/ entries of deleted objects go with them.
See docs/lifecycle.md.`;

interface GcFlags {
  dryRun?: boolean;
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
    .option('--keep-younger-than <seconds>', 'keep unreachable objects stored less than this long ago', '0')
    .option('--store <dir>', 'the store directory')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: GcFlags) => {
      const { gc } = await import('../../api/gc.js');
      const { UsageError } = await import('../../errors/index.js');
      const seconds = Number(flags.keepYoungerThan ?? '0');
      if (!Number.isFinite(seconds) || seconds < 0) {
        throw new UsageError(
          `--keep-younger-than ${JSON.stringify(flags.keepYoungerThan)} is not a number of seconds`,
        );
      }
      const report = await gc({
        ...(flags.store === undefined ? {} : { store: flags.store }),
        ...(flags.maxFreed === undefined ? {} : { maxFreed: flags.maxFreed }),
        dryRun: flags.dryRun === true,
        keepYoungerThanMs: seconds * 1000,
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

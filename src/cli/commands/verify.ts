import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';
import { formatBytes } from './store.js';

const EXAMPLES = `
Examples:
  $ cald verify                 re-hash every object (one thread per core), check names and index
  $ cald verify --repair        restore damaged objects from their originals, else quarantine them

Exit status 0 when the store is clean, 1 when problems were found (also when --repair fixed
them, as fsck does). A damaged object is restored only when re-importing its original file
reproduces its exact digest; otherwise it moves to <store>/quarantine/ with a note.
See docs/lifecycle.md.`;

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('verify')
    .description('re-hash every object; report mismatches, missing objects and dangling names')
    .option('--repair', 'restore or quarantine damaged objects; remove dangling names')
    .option('--workers <n>', 'hashing threads (default: one per core)')
    .option(...STORE_OPTION)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: { repair?: boolean; workers?: string; store?: string; json?: boolean }) => {
      const { verify } = await import('../../api/verify.js');
      const { UsageError } = await import('../../errors/index.js');
      const workers = flags.workers === undefined ? undefined : Number(flags.workers);
      if (workers !== undefined && !(Number.isInteger(workers) && workers > 0)) {
        throw new UsageError(`--workers ${JSON.stringify(flags.workers)} is not a positive integer`);
      }
      const r = await verify({
        ...(flags.store === undefined ? {} : { store: flags.store }),
        ...(workers === undefined ? {} : { workers }),
        repair: flags.repair === true,
        env: ctx.io.env,
      });
      if (flags.json === true) {
        ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      } else {
        const { io } = ctx;
        const rate = r.bytesPerSecond / 1e9;
        io.out(
          `verified ${r.objects} object(s), ${formatBytes(r.bytes)} in ${(r.hashMs / 1000).toFixed(2)} s ` +
            `(${rate.toFixed(2)} GB/s, ${r.workers} thread(s))\n`,
        );
        for (const m of r.mismatches) {
          const what =
            m.actual === undefined ? `unreadable: ${m.error ?? ''}` : `content hashes to ${m.actual}`;
          io.out(`mismatch ${m.digest}: ${what}\n`);
          if (m.repair?.action === 'restored') io.out(`  restored from ${m.repair.from}\n`);
          if (m.repair?.action === 'quarantined') {
            io.out(`  quarantined to ${m.repair.to}: ${m.repair.reasons.join('; ')}\n`);
          }
        }
        const list = (
          label: string,
          ps: ReadonlyArray<{ what: string; reason: string; repaired?: boolean }>,
        ) => {
          for (const p of ps)
            io.out(`${label} ${p.what}: ${p.reason}${p.repaired === true ? ' (removed)' : ''}\n`);
        };
        list('missing', r.missing);
        list('missing-ref', r.missingRefs);
        list('dangling-name', r.danglingNames);
        list('dangling-path', r.danglingPaths);
        list('stray', r.strays);
        io.out(r.clean ? 'clean\n' : 'problems found\n');
      }
      ctx.setStatus(r.clean ? EXIT.OK : EXIT.FAILURE);
    });
}

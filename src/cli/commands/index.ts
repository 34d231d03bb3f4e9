import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';

const EXAMPLES = `
Examples:
  $ cald index rebuild                     after a crash, or when cald store info says it is missing
  $ cald index rebuild --json --store /srv/cald/store

The index (index.sqlite) only speeds up queries: the objects, names/ and roots/ are the truth, and
the index is rebuilt from them alone.`;

export function register(program: Command, ctx: CommandContext): void {
  const index = program
    .command('index')
    .description('the store index (cald index rebuild)')
    .addHelpText('after', EXAMPLES);
  index
    .command('rebuild')
    .description('rebuild the SQLite index from the objects, names/ and roots/ alone')
    .option(...STORE_OPTION)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: { store?: string; json?: boolean }) => {
      const { rebuildIndex } = await import('../../api/index-rebuild.js');
      const r = await rebuildIndex({
        ...(flags.store === undefined ? {} : { store: flags.store }),
        env: ctx.io.env,
      });
      if (flags.json === true) {
        ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      } else {
        ctx.io.out(
          `rebuilt ${r.index}: ${r.objects} object(s), ${r.refs} reference(s), ${r.names} name(s), ` +
            `${r.roots} root(s) in ${(r.ms / 1000).toFixed(2)} s\n`,
        );
        for (const p of r.problems) ctx.io.err(`cald: warning: ${p.what}: ${p.message}\n`);
      }
      ctx.setStatus(EXIT.OK);
    });
}

import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';
import { formatBytes } from './store.js';

const EXAMPLES = `
Examples:
  $ cald list                      name, digest, size (program / whole closure), when imported
  $ cald list --json | jq -r '.programs[].name'

Each name points at one object, as a tag does: importing a new build under a name moves it.`;

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('list')
    .description('list the imported programs by name, with their digests and sizes')
    .option(...STORE_OPTION)
    .option('--json', 'print as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: { store?: string; json?: boolean }) => {
      const { listImported } = await import('../../api/programs.js');
      const r = await listImported({
        ...(flags.store === undefined ? {} : { store: flags.store }),
        env: ctx.io.env,
      });
      if (flags.json === true) {
        ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      } else {
        const rows = r.programs.map((p) => [
          p.name,
          p.digest.slice(0, 'sha256:'.length + 16),
          formatBytes(p.size),
          formatBytes(p.closureSize),
          p.imported.slice(0, 19).replace('T', ' '),
          p.path ?? '',
        ]);
        const header = ['NAME', 'DIGEST', 'SIZE', 'CLOSURE', 'IMPORTED (UTC)', 'FROM'];
        const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
        for (const row of [header, ...rows]) {
          ctx.io.out(`${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
        }
      }
      ctx.setStatus(EXIT.OK);
    });
}

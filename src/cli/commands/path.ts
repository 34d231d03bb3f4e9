import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';

const EXAMPLES = `
Examples:
  $ cald path sqlite3                           the program's object in the store
  $ cald path /usr/lib/x86_64-linux-gnu/libz.so.1   the object imported from that path
  $ cald path --uri 3a1f9c0d                    its cas: name instead

OBJECT is anything that names an object: a program name, cas: URI, sha256: digest, hex prefix,
root id, or the path it was imported from.`;

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('path')
    .description("print an object's path in the store (like nix path-info)")
    .argument('<object>', 'program name, cas: URI, sha256: digest, hex prefix, root id or original path')
    .option('--uri', 'print its cas: name instead')
    .option(...STORE_OPTION)
    .option('--json', 'print as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (object: string, flags: { uri?: boolean; store?: string; json?: boolean }) => {
      const { objectPath } = await import('../../api/programs.js');
      const r = await objectPath({
        object,
        ...(flags.store === undefined ? {} : { store: flags.store }),
        env: ctx.io.env,
      });
      if (flags.json === true) ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      else ctx.io.out(`${flags.uri === true ? r.uri : r.path}\n`);
      ctx.setStatus(EXIT.OK);
    });
}

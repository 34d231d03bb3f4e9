import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';

const EXAMPLES = `
Examples:
  $ cald roots list
  $ cald roots add cas:sha256:3a1f…9c?name=sqlite3     keep a program (and its closure)
  $ cald roots add ~/bin/sqlite3                       an indirect root: deleting the file releases it
  $ cald roots remove object-0123456789abcdef

A root is a cas: name, a sha256: digest, or a path outside the store (a launcher, a symlink to an
object). Imports add their programs as roots; cald install adds the command it writes.`;

interface Flags {
  store?: string;
  json?: boolean;
  id?: string;
  note?: string;
}

export function register(program: Command, ctx: CommandContext): void {
  const roots = program
    .command('roots')
    .description('list, add or remove gc roots')
    .addHelpText('after', EXAMPLES);
  const print = async (options: Parameters<typeof import('../../api/roots.js').roots>[0], json: boolean) => {
    const { roots: run } = await import('../../api/roots.js');
    const r = await run({ ...options, env: ctx.io.env });
    if (json) {
      ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
    } else {
      const verb = options.action === 'remove' ? 'removed ' : options.action === 'add' ? 'added ' : '';
      for (const root of r.roots) {
        const state = root.alive ? '' : ' (released: file gone)';
        ctx.io.out(
          `${verb}${root.id}  ${root.kind}  ${root.target}${state}${root.note === undefined ? '' : `  # ${root.note}`}\n`,
        );
      }
    }
    ctx.setStatus(EXIT.OK);
  };
  const store = (f: Flags) => (f.store === undefined ? {} : { store: f.store });
  roots
    .command('list')
    .description('list the roots')
    .option('--store <dir>', 'the store directory')
    .option('--json', 'print as JSON')
    .action((f: Flags) => print({ action: 'list', ...store(f) }, f.json === true));
  roots
    .command('add')
    .description('add a root')
    .argument('<target>', 'cas: name, sha256: digest, or a path outside the store (indirect root)')
    .option('--id <id>', 'the root id (default: derived from kind and target)')
    .option('--note <text>', 'a note kept with the root')
    .option('--store <dir>', 'the store directory')
    .option('--json', 'print as JSON')
    .action((target: string, f: Flags) =>
      print(
        {
          action: 'add',
          target,
          ...store(f),
          ...(f.id === undefined ? {} : { id: f.id }),
          ...(f.note === undefined ? {} : { note: f.note }),
        },
        f.json === true,
      ),
    );
  roots
    .command('remove')
    .description('remove a root (by id, or by the target it was added with)')
    .argument('<root>', 'root id or target')
    .option('--store <dir>', 'the store directory')
    .option('--json', 'print as JSON')
    .action((root: string, f: Flags) => print({ action: 'remove', root, ...store(f) }, f.json === true));
}

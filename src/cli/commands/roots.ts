import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';

const EXAMPLES = `
Examples:
  $ cald roots list
  $ cald roots add cas:sha256:3a1f…9c?name=sqlite3     keep a program (and its closure)
  $ cald roots add ~/bin/sqlite3                       an indirect root: deleting the file releases it
  $ cald roots remove object-0123456789abcdef
  $ cald roots remove sqlite3                          a program name: its import's root
  $ cald roots remove /usr/bin/sqlite3                 the roots of what was imported from there
  $ cald roots remove cas:sha256:3a1f…9c?name=sqlite3  the line cald import printed

A root is a cas: name, a sha256: digest, or a path outside the store (a launcher, a symlink to an
object). Each import roots its programs as program-<name> (the name moves to a newer import);
cald install adds the command it writes. An existing root is never overwritten.`;

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
      const verb =
        options.action === 'remove'
          ? 'removed '
          : options.action === 'add'
            ? r.existed === true
              ? 'already a root: '
              : 'added '
            : '';
      for (const root of r.roots) {
        const state = root.alive ? '' : ' (released: file gone)';
        const about =
          root.name !== undefined
            ? `  # ${root.name}${root.path === undefined ? '' : ` from ${root.path}`}`
            : root.path !== undefined
              ? `  # ${root.path}`
              : root.note === undefined
                ? ''
                : `  # ${root.note}`;
        ctx.io.out(`${verb}${root.id}  ${root.kind}  ${root.target}${state}${about}\n`);
      }
    }
    ctx.setStatus(EXIT.OK);
  };
  const store = (f: Flags) => (f.store === undefined ? {} : { store: f.store });
  roots
    .command('list')
    .description('list the roots')
    .option(...STORE_OPTION)
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ cald roots list                       each root: id, kind, target and what it came from
  $ cald roots list --json | jq -r '.roots[].id'`,
    )
    .action((f: Flags) => print({ action: 'list', ...store(f) }, f.json === true));
  roots
    .command('add')
    .description('add a root')
    .argument(
      '<target>',
      'program name, cas: URI, sha256: digest, hex prefix, or a path outside the store (indirect root)',
    )
    .option('--id <id>', 'the root id (default: derived from kind and target)')
    .option('--note <text>', 'a note kept with the root')
    .option(...STORE_OPTION)
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ cald roots add cas:sha256:3a1f…9c?name=sqlite3     keep a program (and its closure)
  $ cald roots add ~/bin/sqlite3                       an indirect root: deleting the file releases it
  $ cald roots add sqlite3 --id pinned-sqlite3 --note 'release 3.40'`,
    )
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
    .description('remove roots: by id, target, program name, original path, or cas: URI')
    .argument('<root...>', 'root id, program name, cas: URI, sha256: digest or the path imported')
    .option(...STORE_OPTION)
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ cald roots remove object-0123456789abcdef
  $ cald roots remove sqlite3                          a program name: its import's root
  $ cald roots remove /usr/bin/sqlite3                 the roots of what was imported from there
  $ cald roots remove cas:sha256:3a1f…9c?name=sqlite3  the line cald import printed`,
    )
    .action((root: string[], f: Flags) => print({ action: 'remove', root, ...store(f) }, f.json === true));
}

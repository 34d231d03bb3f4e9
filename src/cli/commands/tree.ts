import type { Command } from 'commander';
import type { DiffSide } from '../../api/tree-ops.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';

const CHECKOUT_EXAMPLES = `
Examples:
  $ cald import --tree python3.11-minimal libpython3.11-minimal libpython3.11-stdlib --name py
  $ cald checkout py /opt/py && eval "$(cald env)" && /opt/py/usr/bin/python3.11 -c 'import ssl'

TREE is what cald import --tree printed (its cas: name, digest or a prefix), or the --name it was
imported with. Files are hard links to the store's objects where the store is on the same file
system (copies otherwise); the directory is read-only (chmod -R u+w before rm -r). Programs run from
it with the audit resolver (cald env) load the tree's own libraries and plugins at their place in
DIR, verified; the store keeps the tree while DIR exists (cald roots).`;

const DIFF_EXAMPLES = `
Examples:
  $ cald diff py-old py-new                     + added, - removed, M changed content, T changed kind
  $ cald diff --json py-old py-new | jq '.changed[].path'`;

function describe(s: DiffSide): string {
  if (s.kind === 'link') return `link -> ${s.target}`;
  if (s.kind === 'tree') return 'directory';
  return `${s.executable === true ? 'exec' : 'file'} ${s.digest} (${s.size} bytes)`;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('checkout')
    .description('lay a tree out in a new directory: hard links into the store, read-only')
    .argument('<tree>', 'the tree: its cas: name, digest, hex prefix, or the name it was imported with')
    .argument('<dir>', 'a new (or empty) directory')
    .option(...STORE_OPTION)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', CHECKOUT_EXAMPLES)
    .action(async (tree: string, dir: string, flags: { store?: string; json?: boolean }) => {
      const { checkout } = await import('../../api/tree-ops.js');
      const r = await checkout({
        tree,
        dir,
        ...(flags.store === undefined ? {} : { store: flags.store }),
        env: ctx.io.env,
      });
      if (flags.json === true) ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      else
        ctx.io.out(
          `${r.dir}: ${r.linked + r.copied} file(s) (${r.linked} linked, ${r.copied} copied), ${r.links} symbolic link(s), ${r.dirs} director${r.dirs === 1 ? 'y' : 'ies'} from ${r.tree}\n`,
        );
      ctx.setStatus(EXIT.OK);
    });
  program
    .command('diff')
    .description('what changed between two trees, by path and by object')
    .argument('<a>', 'the old tree')
    .argument('<b>', 'the new tree')
    .option(...STORE_OPTION)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', DIFF_EXAMPLES)
    .action(async (a: string, b: string, flags: { store?: string; json?: boolean }) => {
      const { diffTrees } = await import('../../api/tree-ops.js');
      const r = await diffTrees({
        a,
        b,
        ...(flags.store === undefined ? {} : { store: flags.store }),
        env: ctx.io.env,
      });
      if (flags.json === true) {
        ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      } else {
        const lines = [
          ...r.added.map((x) => [x.path, `+ ${x.path}  ${describe(x)}`] as const),
          ...r.removed.map((x) => [x.path, `- ${x.path}  ${describe(x)}`] as const),
          ...r.changed.map(
            (x) =>
              [
                x.path,
                `${x.from.kind === x.to.kind ? 'M' : 'T'} ${x.path}  ${describe(x.from)} -> ${describe(x.to)}`,
              ] as const,
          ),
        ].sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0));
        for (const [, line] of lines) ctx.io.out(`${line}\n`);
      }
      ctx.setStatus(EXIT.OK);
    });
}

import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';

const WHY_EXAMPLES = `
Examples:
  $ cald why-depends ffmpeg libz.so.1          by the name a library is needed as
  $ cald why-depends ffmpeg /usr/lib/x86_64-linux-gnu/libz.so.1
  $ cald why-depends git sha256:4ecaeb9a…

Prints the shortest chain of DT_NEEDED references (and interpreter notes) from the first object
to the second, one object per line. Exit status 8 when there is none.`;

const REF_EXAMPLES = `
Examples:
  $ cald referrers /usr/lib/x86_64-linux-gnu/libz.so.1   which objects need it, which roots keep it
  $ cald referrers --json sha256:4ecaeb9a…`;

export function register(program: Command, ctx: CommandContext): void {
  const storeOf = (f: { store?: string }) => ({
    ...(f.store === undefined ? {} : { store: f.store }),
    env: ctx.io.env,
  });
  program
    .command('why-depends')
    .description('show why one object depends on another: the chain of references (like nix why-depends)')
    .argument('<from>', 'the object that depends (program name, URI, digest, prefix, path...)')
    .argument('<to>', 'the object depended on')
    .option(...STORE_OPTION)
    .option('--json', 'print as JSON')
    .addHelpText('after', WHY_EXAMPLES)
    .action(async (from: string, to: string, flags: { store?: string; json?: boolean }) => {
      const { whyDepends, hintOf } = await import('../../api/why-depends.js');
      const r = await whyDepends({ from, to, ...storeOf(flags) });
      if (flags.json === true) ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      else {
        for (const [i, link] of r.chain.entries()) {
          const what = link.neededAs === null ? (link.program ?? '') : hintOf(link.neededAs);
          ctx.io.out(`${'  '.repeat(i)}${i === 0 ? '' : '└─ '}${what}  ${link.digest}\n`);
        }
      }
      ctx.setStatus(EXIT.OK);
    });
  program
    .command('referrers')
    .description('show what refers to an object: the objects that need it and the roots that keep it')
    .argument('<object>', 'program name, URI, digest, prefix, root id or original path')
    .option(...STORE_OPTION)
    .option('--json', 'print as JSON')
    .addHelpText('after', REF_EXAMPLES)
    .action(async (object: string, flags: { store?: string; json?: boolean }) => {
      const { referrers, hintOf } = await import('../../api/why-depends.js');
      const r = await referrers({ object, ...storeOf(flags) });
      if (flags.json === true) ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      else {
        for (const ref of r.referrers) {
          const as = ref.as.map(hintOf).join(', ');
          ctx.io.out(`${ref.digest}${ref.program === null ? '' : ` (${ref.program})`}  needs it as ${as}\n`);
        }
        for (const id of r.roots) ctx.io.out(`root ${id} keeps it\n`);
        if (r.referrers.length === 0 && r.roots.length === 0) {
          ctx.io.out(`nothing refers to ${r.digest}: cald gc would delete it\n`);
        }
      }
      ctx.setStatus(EXIT.OK);
    });
}

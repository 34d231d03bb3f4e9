import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';

const EXAMPLES = `
Examples:
  $ eval "$(cald env)"                 imported programs now run with no cald process (audit)
  $ eval "$(cald env --mode names)"    through <store>/names on LD_LIBRARY_PATH instead
  $ eval "$(cald env --unset)"         undo
  $ cald env --shell fish | source

audit sets LD_AUDIT (the resolver, which verifies every object) and CALD_STORE; names prepends
<store>/names to LD_LIBRARY_PATH. Both are inherited by every child process: see
docs/running.md, "What leaks into children" (CALD_STRIP_ENV=1 drops LD_AUDIT at start-up).`;

interface EnvFlags {
  mode: string;
  shell: string;
  unset?: boolean;
  store?: string;
  json?: boolean;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('env')
    .description('print shell code that sets up running imported programs with no cald process')
    .option('--mode <mode>', 'audit (LD_AUDIT + CALD_STORE) or names (LD_LIBRARY_PATH)', 'audit')
    .option('--shell <shell>', 'sh (also bash, zsh) or fish', 'sh')
    .option('--unset', 'print code that undoes it')
    .option(...STORE_OPTION)
    .option('--json', 'print the variables as JSON instead')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: EnvFlags) => {
      const { envScript } = await import('../../api/env.js');
      const r = await envScript({
        mode: flags.mode,
        shell: flags.shell,
        unset: flags.unset === true,
        ...(flags.store === undefined ? {} : { store: flags.store }),
      });
      if (flags.unset !== true && !r.storeExists) {
        ctx.io.err(
          `cald env: warning: there is no cald store at ${r.store} yet: nothing imported can run from it (cald import creates it; --store or CALD_STORE choose another)\n`,
        );
      }
      if (flags.json === true) {
        const { prepend, set } = r.settings;
        ctx.io.out(
          `${JSON.stringify({ mode: r.mode, store: r.store, storeExists: r.storeExists, prepend: Object.fromEntries(prepend), set: Object.fromEntries(set) }, null, 2)}\n`,
        );
      } else {
        ctx.io.out(r.script);
      }
      ctx.setStatus(EXIT.OK);
    });
}

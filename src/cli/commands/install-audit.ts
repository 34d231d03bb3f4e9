import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';

const EXAMPLES = `
Examples:
  $ sudo cald install-audit                     /usr/local/lib/libcald-audit.so, then ldconfig
  $ cald import --audit /usr/bin/git            git now names /usr/local/lib/libcald-audit.so in DT_AUDIT
  $ ~/.local/share/cald/store/objects/sha256/<hex> --version
                                                 runs by content with no environment at all
  $ sudo cald install-audit --uninstall

Programs imported with --audit name /usr/local/lib/libcald-audit.so in DT_AUDIT (a path, so no
directory on LD_LIBRARY_PATH can offer another one): another --prefix serves only LD_AUDIT users.
Without it ld.so prints that the audit interface cannot be loaded, and the program refuses to
start at its first DT_NEEDED, /proc/needs-libcald-audit.so/cas:sha256:<hex>.

This is the first half of 'cald system install' (which also registers the #!cas: script handler),
recorded the same way: --uninstall undoes whichever of the two ran, putting back every file
(ld.so.cache included) as it was.`;

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('install-audit')
    .description('install the audit resolver system-wide, for programs imported with --audit (root)')
    .option('--prefix <dir>', 'install into DIR/lib', '/usr/local')
    .option('--uninstall', 'remove it')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: { prefix: string; uninstall?: boolean; json?: boolean }) => {
      const { installAudit } = await import('../../api/install-audit.js');
      const r = await installAudit({
        prefix: flags.prefix,
        uninstall: flags.uninstall === true,
        env: ctx.io.env,
      });
      if (flags.json === true) ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      else
        ctx.io.out(
          `${r.installed ? 'installed' : 'removed'} ${r.path}${r.ldconfig ? ' (ldconfig done)' : ''}\n`,
        );
      ctx.setStatus(EXIT.OK);
    });
}

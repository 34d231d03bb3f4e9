import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';

const EXAMPLES = `
Examples:
  $ sudo cald system install        the audit library in /usr/local/lib (ldconfig), and
                                     /usr/local/lib/cald/cald-binfmt registered for #!cas: scripts
  $ cald import ./tool.py && cp "$(cald path tool.py)" ./tool && ./tool
                                     a #!cas: script runs by content through binfmt_misc
  $ sudo cald system uninstall      everything put back as it was, byte for byte

Install records what it changes (and a copy of each file it replaces, /etc/ld.so.cache included)
in /var/lib/cald/system; uninstall restores from that record. binfmt_misc is mounted if it was not
(and unmounted again by uninstall); the entry goes into /etc/binfmt.d/cald.conf too, where that
directory exists, for systemd-binfmt to register at boot.`;

interface SystemFlags {
  prefix: string;
  json?: boolean;
}

export function register(program: Command, ctx: CommandContext): void {
  const system = program
    .command('system')
    .description('system integration (root): the audit library and the #!cas: script handler')
    .addHelpText('after', EXAMPLES);
  const print = (
    r: {
      auditLibrary: string;
      handler: string | undefined;
      binfmtEntry: string | undefined;
      warnings: string[];
    },
    verb: string,
  ) => {
    ctx.io.out(`${verb} ${r.auditLibrary}\n`);
    if (r.handler !== undefined) ctx.io.out(`${verb} ${r.handler}\n`);
    if (r.binfmtEntry !== undefined)
      ctx.io.out(`${verb === 'installed' ? 'registered' : 'unregistered'} ${r.binfmtEntry}\n`);
    for (const w of r.warnings) ctx.io.err(`cald: warning: ${w}\n`);
  };
  system
    .command('install')
    .description('put the audit library where ld.so finds it and register the #!cas: script handler')
    .option('--prefix <dir>', 'install into DIR/lib', '/usr/local')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: SystemFlags) => {
      const { systemInstall } = await import('../../api/system.js');
      const r = await systemInstall({ prefix: flags.prefix, env: ctx.io.env });
      if (flags.json === true) ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      else print(r, 'installed');
      ctx.setStatus(EXIT.OK);
    });
  system
    .command('uninstall')
    .description('undo cald system install exactly')
    .option('--prefix <dir>', 'the prefix it was installed into', '/usr/local')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: SystemFlags) => {
      const { systemUninstall } = await import('../../api/system.js');
      const r = await systemUninstall({ prefix: flags.prefix, env: ctx.io.env });
      if (flags.json === true) ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      else print(r, 'removed');
      ctx.setStatus(EXIT.OK);
    });
}

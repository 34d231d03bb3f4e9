import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';

const EXAMPLES = `
Examples:
  $ cald install ffmpeg --bin ~/.local/bin              ~/.local/bin/ffmpeg runs the imported ffmpeg
  $ cald install cas:sha256:3a1f…9c --bin ~/bin --name ff
  $ cald install --link git --bin ~/.local/bin           a symbolic link (git imported with --audit)

The command is a copy of cald's native launcher (no Node.js at start-up) with the program's
digest, the store and the audit library written into it. It checks the program object's sha256
and executes exactly the file it checked, with LD_AUDIT and CALD_STORE set. It uses only the store
it was installed from; --store-from-env lets an inherited CALD_STORE choose (a store that moves).

--link writes a symbolic link to the store object instead: no launcher, no extra exec. Only for
programs imported with --audit (DT_AUDIT names libcald-audit.so; install it once with
'sudo cald install-audit'). The store is then CALD_STORE if set, else the default location.
See docs/running.md, "The launcher" and "Links".`;

interface InstallFlags {
  bin: string;
  name?: string;
  store?: string;
  link?: boolean;
  storeFromEnv?: boolean;
  json?: boolean;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('install')
    .description('write a native command that runs an imported program (no cald or Node.js at start-up)')
    .argument('<program>', 'imported program name, cas: URI, sha256: digest or hex prefix')
    .requiredOption('--bin <dir>', 'directory to write the command into')
    .option('--name <name>', 'file name of the command (default: the name the program was imported under)')
    .option('--link', 'write a symbolic link to the object (programs imported with --audit; no launcher)')
    .option('--store <dir>', 'the store (default: CALD_STORE, else ~/.local/share/cald/store)')
    .option('--store-from-env', 'let an inherited CALD_STORE choose the store at run time (launcher only)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (name: string, flags: InstallFlags) => {
      const { installLauncher } = await import('../../api/install.js');
      const r = await installLauncher({
        program: name,
        bin: flags.bin,
        ...(flags.name === undefined ? {} : { name: flags.name }),
        ...(flags.store === undefined ? {} : { store: flags.store }),
        ...(flags.link === true ? { link: true } : {}),
        ...(flags.storeFromEnv === true ? { storeFromEnv: true } : {}),
      });
      if (flags.json === true) ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
      else {
        ctx.io.out(`installed ${r.path} -> ${r.kind === 'link' ? r.object : r.digest}\n`);
        for (const w of r.warnings) ctx.io.err(`cald install: note: ${w}\n`);
      }
      ctx.setStatus(EXIT.OK);
    });
}

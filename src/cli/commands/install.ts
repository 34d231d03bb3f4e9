import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';

const EXAMPLES = `
Examples:
  $ cald install ffmpeg                                 ~/.local/bin/ffmpeg runs the imported ffmpeg
  $ cald install /usr/bin/python3 --bin ~/bin           by the path it was imported from
  $ cald install cas:sha256:3a1f…9c --bin ~/bin --name ff
  $ cald install --link git --bin ~/.local/bin           a symbolic link (git imported with --audit)
  $ cald install busybox --bin ~/bin --name ls --name cat --name sh
                                                         one launcher per name: a multi-call program
                                                         sees the name it was run by as argv[0]

The command is a copy of cald's native launcher (no Node.js at start-up) with the program's
digest, the store and the audit library written into it. It checks the program object's sha256
and executes exactly the file it checked, with LD_AUDIT and CALD_STORE set. It uses only the store
it was installed from; --store-from-env lets an inherited CALD_STORE choose (a store that moves).

--link writes a symbolic link to the store object instead: no launcher, no extra exec. Only for
programs imported with --audit (DT_AUDIT names libcald-audit.so; install it once with
'sudo cald install-audit'). The store is then CALD_STORE if set, else the default location.
See docs/running.md, "The launcher" and "Links".

An existing file of that name is replaced only if cald wrote it (a launcher, a link into a
store); --force replaces anything. cald says when the directory is not on PATH.`;

interface InstallFlags {
  bin?: string;
  force?: boolean;
  name: string[];
  store?: string;
  link?: boolean;
  storeFromEnv?: boolean;
  json?: boolean;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('install')
    .description('write a native command that runs an imported program (no cald or Node.js at start-up)')
    .argument('<program>', 'imported program name, cas: URI, sha256: digest, hex prefix or the path imported')
    .option('--bin <dir>', 'directory to write the command into (default: ~/.local/bin)')
    .option('--force', 'replace an existing file even if cald did not write it')
    .option(
      '--name <name>',
      'file name of the command (default: the name the program was imported under); repeat for several commands',
      (value: string, names: string[]) => [...names, value],
      [] as string[],
    )
    .option('--link', 'write a symbolic link to the object (programs imported with --audit; no launcher)')
    .option(...STORE_OPTION)
    .option('--store-from-env', 'let an inherited CALD_STORE choose the store at run time (launcher only)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (name: string, flags: InstallFlags) => {
      const { installLauncher, isCommandName } = await import('../../api/install.js');
      const { UsageError } = await import('../../errors/index.js');
      const names = flags.name.length > 0 ? [...new Set(flags.name)] : [undefined];
      const bad = names.find((n) => n !== undefined && !isCommandName(n));
      if (bad !== undefined) {
        throw new UsageError(`bad command name ${JSON.stringify(bad)}`, {
          hint: 'a file name: no "/", not "." or ".."',
        });
      }
      const results = [];
      for (const n of names) {
        results.push(
          await installLauncher({
            program: name,
            ...(flags.bin === undefined ? {} : { bin: flags.bin }),
            ...(flags.force === true ? { force: true } : {}),
            env: ctx.io.env,
            ...(n === undefined ? {} : { name: n }),
            ...(flags.store === undefined ? {} : { store: flags.store }),
            ...(flags.link === true ? { link: true } : {}),
            ...(flags.storeFromEnv === true ? { storeFromEnv: true } : {}),
          }),
        );
      }
      if (flags.json === true) {
        ctx.io.out(`${JSON.stringify(results.length === 1 ? results[0] : results, null, 2)}\n`);
      } else {
        for (const r of results) {
          ctx.io.out(`installed ${r.path} -> ${r.kind === 'link' ? r.object : r.digest}\n`);
          for (const w of r.warnings) ctx.io.err(`cald install: note: ${w}\n`);
        }
      }
      ctx.setStatus(EXIT.OK);
    });
}

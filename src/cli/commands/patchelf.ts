import type { Command } from 'commander';
import type { CommandContext } from '../context.js';

/**
 * Listed in `cald --help` only: main() hands `cald patchelf ...` to patchelf/main.ts before
 * commander parses anything, since patchelf's options may come before or after file names.
 */
export function register(program: Command, _ctx: CommandContext): void {
  program
    .command('patchelf')
    .description("patchelf's command line: print and edit interpreter, rpath, needed, soname")
    .argument('[args...]', "patchelf's options and files (see 'cald patchelf --help')")
    .allowUnknownOption()
    .helpOption(false);
}

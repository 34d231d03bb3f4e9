/**
 * Options several commands take, declared once so that their name and help read the same in
 * every command (`test/cli/help.test.ts` holds every command to it).
 */

/** `--store DIR`: the store to work on (docs/cli.md, "Environment": CALD_STORE). */
export const STORE_OPTION = [
  '--store <dir>',
  'the store, a directory or file:///… (default: $CALD_STORE, else $XDG_DATA_HOME/cald/store, else ~/.local/share/cald/store)',
] as const;

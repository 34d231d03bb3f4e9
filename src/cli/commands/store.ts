import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

const SOURCES: Record<string, string> = {
  option: '--store',
  CALD_STORE: '$CALD_STORE',
  XDG_DATA_HOME: '$XDG_DATA_HOME',
  HOME: 'the default under $HOME',
};

const STORE_EXAMPLES = `
Examples:
  $ cald store info                        where the store is, its objects, roots and names
  $ cald store info --json | jq .bytes
  $ cald store info --store /srv/cald/store`;

export function register(program: Command, ctx: CommandContext): void {
  const store = program
    .command('store')
    .description('the store as a whole (cald store info)')
    .addHelpText('after', STORE_EXAMPLES);
  store
    .command('info')
    .description('where the store lives and what it holds')
    .option(...STORE_OPTION)
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `${STORE_EXAMPLES}

"saved by dedup" is the sum over roots of their closures' sizes minus the size of all closures
stored once: what a separate copy of every program's libraries would cost beyond the store.`,
    )
    .action(async (flags: { store?: string; json?: boolean }) => {
      const { storeInfo } = await import('../../api/store-info.js');
      const info = await storeInfo({
        ...(flags.store === undefined ? {} : { store: flags.store }),
        env: ctx.io.env,
      });
      if (flags.json === true) {
        ctx.io.out(`${JSON.stringify(info, null, 2)}\n`);
      } else {
        const rows: Array<[string, string]> = [
          ['store', `${info.path} (from ${SOURCES[info.source] ?? info.source})`],
          [
            'objects',
            `${info.objects} (${info.executables} executable), ${formatBytes(info.bytes)} (${info.bytes} bytes)`,
          ],
          ['reachable', `${info.reachable} object(s) from ${info.roots} root(s)`],
          [
            'saved by dedup',
            `${formatBytes(info.dedupSavedBytes)} (${info.sharedObjects} object(s) shared by several roots)`,
          ],
          ['names', String(info.names)],
          ['paths', String(info.paths)],
          ['index', info.indexReady ? 'ready' : 'missing or incomplete (cald index rebuild)'],
        ];
        for (const [k, v] of rows) ctx.io.out(`${k.padEnd(15)} ${v}\n`);
      }
      ctx.setStatus(EXIT.OK);
    });
}

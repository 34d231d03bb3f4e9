import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { progressBar } from '../progress.js';

const EXAMPLES = `
Examples:
  $ cald import /usr/bin/ffmpeg                 the program and its ~215 libraries
  $ cald import /usr/bin/python3 --with /usr/lib/python3.11/lib-dynload
                                                 with the extension modules python dlopens
  $ cald import --exclude 'libcuda*' ./app      keep a library host-provided
  $ cald import --json /usr/bin/git | jq -r '.imported[0].uri'

Prints each imported file's content name (cas:sha256:<hex>?name=<file>). The closure is found
exactly as ld.so would on this machine; GPU/graphics drivers stay host-provided by default
(see --no-default-excludes). The store is --store, else $CALD_STORE, else
$XDG_DATA_HOME/cald/store.`;

interface ImportFlags {
  with?: string[];
  exclude?: string[];
  defaultExcludes?: boolean;
  libraryPath?: boolean;
  audit?: boolean;
  allowPrivate?: boolean;
  store?: string;
  json?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('import')
    .description('import programs or libraries and their whole library closure into the store, by content')
    .argument('<path...>', 'programs, shared libraries, or directories (every ELF file under them)')
    .option(
      '--with <file>',
      'also import a file the program dlopens (repeatable; a directory imports all)',
      collect,
    )
    .option(
      '--exclude <glob>',
      'keep libraries matching this file-name glob host-provided (repeatable)',
      collect,
    )
    .option('--no-default-excludes', 'import GPU/graphics driver libraries too')
    .option('--library-path', 'let LD_LIBRARY_PATH take part in finding libraries, as the loader would')
    .option(
      '--audit',
      "name libcald-audit.so in the programs' DT_AUDIT: they run with no environment once it is installed (cald install-audit)",
    )
    .option(
      '--allow-private',
      'import files other users cannot read; they are stored readable by you only (docs/import.md)',
    )
    .option('--store <dir>', 'the store directory')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (paths: string[], flags: ImportFlags) => {
      const { importFiles } = await import('../../api/index.js');
      const bar = progressBar(ctx.io, 'importing');
      let report: Awaited<ReturnType<typeof importFiles>>;
      try {
        report = await importFiles({
          paths,
          ...(flags.with === undefined ? {} : { with: flags.with }),
          ...(flags.exclude === undefined ? {} : { exclude: flags.exclude }),
          noDefaultExcludes: flags.defaultExcludes === false,
          useLdLibraryPath: flags.libraryPath === true,
          audit: flags.audit === true,
          allowPrivate: flags.allowPrivate === true,
          ...(flags.store === undefined ? {} : { store: flags.store }),
          env: ctx.io.env,
          progress: (done, total, path) => bar.update(done, total, path),
        });
      } finally {
        bar.done();
      }
      if (flags.json === true) {
        ctx.io.out(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        for (const f of report.imported) ctx.io.out(`${f.uri}  ${f.path}\n`);
        for (const w of report.warnings) ctx.io.err(`cald: warning: ${w}\n`);
        if (report.droppedCycleEdges.length > 0) {
          ctx.io.err(
            `cald: note: ${report.droppedCycleEdges.length} dependency-cycle edge(s) dropped (docs/import.md)\n`,
          );
        }
      }
      ctx.setStatus(EXIT.OK);
    });
}

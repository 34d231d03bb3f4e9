import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { STORE_OPTION } from '../options.js';
import { progressBar } from '../progress.js';
import { oneLine } from '../report-error.js';

const EXAMPLES = `
Examples:
  $ cald import /usr/bin/ffmpeg                 the program and its ~215 libraries
  $ cald import /usr/bin/python3 --with /usr/lib/python3.11/lib-dynload
                                                 with the extension modules python dlopens
  $ cald import --exclude 'libcuda*' ./app      keep a library host-provided
  $ cald import --json /usr/bin/git | jq -r '.imported[0].uri'
  $ cald import ./build/app --name app           'cald run app' now runs this build

Each program is named by its path (/usr/bin/python3 answers to python3 and to the name of the
file the link leads to, python3.11) or by --name. A name moves to the newest import, as a tag
does; the older object stays reachable by digest until cald gc frees it.

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
  name?: string[];
  tree?: boolean;
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
      "name /usr/local/lib/libcald-audit.so in the programs' DT_AUDIT: they run with no environment once it is installed (cald install-audit), and refuse to start without it",
    )
    .option(
      '--name <name>',
      "the name to run it by, instead of its path's (repeatable; moves from an older import, like a tag)",
      collect,
    )
    .option(
      '--allow-private',
      'import files other users cannot read; they are stored readable by you only (docs/import.md)',
    )
    .option(
      '--tree',
      'import directories as one tree of objects (a .deb file or an installed package name always is one; docs/trees.md)',
    )
    .option(...STORE_OPTION)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (paths: string[], flags: ImportFlags) => {
      const { importFiles } = await import('../../api/import.js');
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
          ...(flags.name === undefined ? {} : { names: flags.name }),
          allowPrivate: flags.allowPrivate === true,
          tree: flags.tree === true,
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
        printImported(ctx, report);
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

type Report = Awaited<ReturnType<typeof import('../../api/import.js').importFiles>>;

/** One line per file asked for (`<uri>  <path as given>`), then what the user should know. */
function printImported(ctx: CommandContext, report: Report): void {
  const { io } = ctx;
  const shown = new Set<string>();
  for (const p of report.programs) {
    // The file it is, not printed again below: its own path first, as hard links of one file
    // (bzip2, bunzip2, bzcat) share a digest; a path through a symlink finds its target by digest.
    const f =
      report.imported.find((i) => i.path === p.path) ?? report.imported.find((i) => i.digest === p.digest);
    if (f === undefined) continue;
    shown.add(f.path);
    io.out(`${p.uri}  ${oneLine(p.path)}\n`);
  }
  // A control character in a path (a newline) is shown escaped: one line per file, always.
  for (const f of report.imported) if (!shown.has(f.path)) io.out(`${f.uri}  ${oneLine(f.path)}\n`);
  if (report.tree !== undefined) {
    const t = report.tree;
    io.err(
      `cald: note: a tree of ${t.files} file(s), ${t.elfFiles} of them ELF, kept by the root ${t.root}\n`,
    );
  }
  for (const p of report.programs) {
    if (p.names.length === 0) {
      io.err(
        `cald: note: ${oneLine(p.path)} has no name to run it by (its file name cannot be one); run it by its cas: name, or import it with --name\n`,
      );
    } else if (p.names.length > 1 || p.names[0] !== basenameOf(p.path)) {
      io.err(`cald: note: ${oneLine(p.path)} runs as ${p.names.join(', ')}\n`);
    }
  }
  for (const m of report.movedNames) {
    io.err(`cald: note: ${m.name} now names ${m.to}; ${m.from} stays stored (by digest) until cald gc\n`);
  }
  for (const h of report.hostFiles) {
    io.err(
      `cald: note: ${h.path} stays on the host: what ${h.program} reads from it at run time (helpers, modules, data) was not imported; --with ${h.path} imports the ELF files in it\n`,
    );
  }
}

function basenameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

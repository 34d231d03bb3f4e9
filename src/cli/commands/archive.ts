import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { UsageError } from '../../errors/index.js';
import type { CommandContext } from '../context.js';
import { STORE_OPTION } from '../options.js';
import { progressBar } from '../progress.js';

const EXPORT_EXAMPLES = `
Examples:
  $ cald export ffmpeg sqlite3 -o tools.cald.tar.zst
  $ cald export ffmpeg -o - --sign-key ~/.config/cald/secret.key | ssh node17 cald import-archive -
  $ tar --zstd -tvf tools.cald.tar.zst | head          any tar lists it

Writes each program's closure manifest (the one cald push would tag; signed with --sign-key or
signing-key-file of cald.conf), then every object of those closures once, as a tar compressed
with zstd (docs/distribution.md, "Archives"). The same closures give the same bytes. A file is
written beside its name and renamed into place when whole; each object is re-hashed on the way,
so a store object damaged on disk stops the export instead of going into the archive.`;

const IMPORT_EXAMPLES = `
Examples:
  $ cald import-archive tools.cald.tar.zst && cald run ffmpeg -version
  $ cald import-archive - < tools.cald.tar.zst

Refused unless a key in trusted-public-keys signed each closure, when cald.conf requires
signatures (require-signatures), or --allow-unsigned. Checked entry by entry: only closure
manifests, their signatures and their objects; each object hashed while it streams into the
store's tmp/ and stored only when whole and matching. Names and roots come last, once every
object of a closure is in the store. Exit status 7 for a damaged or altered archive.`;

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('export')
    .description("write programs' closures into one archive (tar + zstd) for another machine")
    .argument('<program...>', 'imported program names, cas: URIs, sha256: digests or hex prefixes')
    .requiredOption('-o, --output <file>', 'the archive to write, or - for standard output')
    .option(
      '--sign-key <file>',
      'sign each closure with this secret key (default: signing-key-file of cald.conf)',
    )
    .option('--level <n>', 'zstd compression level, 1-19 (default 3)')
    .option(...STORE_OPTION)
    .option('--json', 'print the report as JSON (on stderr with -o -)')
    .addHelpText('after', EXPORT_EXAMPLES)
    .action(
      async (
        programs: string[],
        flags: { output: string; signKey?: string; level?: string; store?: string; json?: boolean },
      ) => {
        const { io } = ctx;
        const { exportArchive } = await import('../../api/export.js');
        if (flags.output === '-' && io.stdout === undefined)
          throw new UsageError('no standard output to write to');
        const level = flags.level === undefined ? undefined : Number(flags.level);
        const bar = progressBar(io, 'export');
        const r = await exportArchive({
          programs,
          output: flags.output === '-' ? (io.stdout as Writable) : flags.output,
          ...(flags.signKey === undefined ? {} : { signKey: flags.signKey }),
          ...(level === undefined ? {} : { level }),
          ...(flags.store === undefined ? {} : { store: flags.store }),
          progress: (done, total) => bar.update(done, total, ''),
        });
        bar.done();
        const say = flags.output === '-' ? io.err : io.out;
        if (flags.json === true) say(`${JSON.stringify(r, null, 2)}\n`);
        else {
          if (flags.output !== '-') io.out(`${r.output}\n`);
          io.err(
            `exported ${r.programs.length} program(s), ${r.objects} objects (${r.bytes} bytes) in ${r.archiveBytes} bytes${r.signedBy === null ? '; not signed' : `; signed by ${r.signedBy}`}\n`,
          );
        }
      },
    );
  program
    .command('import-archive')
    .description('take the closures of an archive made by cald export into the store')
    .argument('<archive>', 'the archive, or - for standard input')
    .option('--allow-unsigned', 'take closures that no trusted key signed')
    .option(...STORE_OPTION)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', IMPORT_EXAMPLES)
    .action(async (archive: string, flags: { allowUnsigned?: boolean; store?: string; json?: boolean }) => {
      const { io } = ctx;
      const { importArchive } = await import('../../api/import-archive.js');
      if (archive === '-' && io.stdin === undefined) throw new UsageError('no standard input to read from');
      const bar = progressBar(io, 'import-archive');
      const r = await importArchive({
        input: archive === '-' ? (io.stdin as Readable) : archive,
        ...(flags.allowUnsigned === true ? { allowUnsigned: true } : {}),
        ...(flags.store === undefined ? {} : { store: flags.store }),
        progress: (done, total) => bar.update(done, total, ''),
      });
      bar.done();
      if (flags.json === true) io.out(`${JSON.stringify(r, null, 2)}\n`);
      else {
        for (const p of r.programs) io.out(`${p}\n`);
        io.err(
          `${r.objects} objects in the archive, ${r.stored} stored (${r.storedBytes} bytes), the rest already there${r.signedBy.length === 0 ? '; signatures not checked' : `; signed by ${[...new Set(r.signedBy)].join(', ')}`}\n`,
        );
      }
    });
}

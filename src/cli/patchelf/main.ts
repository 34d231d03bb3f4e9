import { finishPatchSession, type PatchSession, patchSession } from '../../api/patch-file.js';
import { CaldError, classifyError } from '../../errors/index.js';
import { oneLine } from '../report-error.js';
import { parsePatchelfArgs } from './args.js';
import { helpText, versionText } from './help.js';
import { type PatchelfIo, patchOne } from './run.js';

export type { PatchelfIo } from './run.js';

/** patchelf exits 1 on every error; tools that call it test for that. */
const EXIT_OK = 0;
const EXIT_ERROR = 1;

function processPatchelfIo(): PatchelfIo {
  let outClosed = false;
  // process.stdout is made on first use (a stream object, a pipe or terminal set up): an edit
  // that prints nothing never makes it.
  let watched = false;
  return {
    out: (data) => {
      if (!watched) {
        watched = true;
        process.stdout.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'EPIPE') outClosed = true;
          else throw e;
        });
      }
      if (!outClosed) process.stdout.write(data);
    },
    err: (text) => {
      process.stderr.write(text);
    },
    env: process.env,
  };
}

/**
 * `cald patchelf ...`: patchelf's command line (docs/patchelf.md). Receives every argument after
 * `patchelf` untouched and returns the exit status: 0, or 1 after one error line on stderr.
 * Files are done in order; the first failure stops the run, as in patchelf.
 */
export async function patchelfMain(args: string[], io: PatchelfIo = processPatchelfIo()): Promise<number> {
  if (args.length === 0) {
    io.err(helpText('cald patchelf'));
    return EXIT_ERROR;
  }
  let current: string | undefined;
  let session: PatchSession | undefined;
  try {
    const cmd = parsePatchelfArgs(args);
    if (cmd.kind === 'help') {
      io.out(helpText('cald patchelf'));
      return EXIT_OK;
    }
    if (cmd.kind === 'version') {
      io.out(versionText());
      return EXIT_OK;
    }
    const req = cmd.request;
    const debug = req.debug || io.env.PATCHELF_DEBUG !== undefined;
    session = patchSession();
    for (const file of req.files) {
      current = file;
      await patchOne(req, file, io, debug, session);
    }
    // A hidden file left behind is said, but the edits asked for were made: not a failure.
    await leftovers(io, session);
    return EXIT_OK;
  } catch (e) {
    reportPatchelfError(io, e, current);
    if (session !== undefined) await leftovers(io, session);
    return EXIT_ERROR;
  }
}

/** The replaced files' old contents are removed as the batch goes on; says which could not be. */
async function leftovers(io: PatchelfIo, session: PatchSession): Promise<void> {
  for (const p of await finishPatchSession(session)) {
    io.err(`patchelf: warning: could not remove ${p} (the old contents of a file replaced)\n`);
  }
}

/**
 * One line, `patchelf: ...` as patchelf's errors start (so logs that grep for it still do),
 * with cald's wording: what went wrong and on which file; then cald's hint, if any.
 */
function reportPatchelfError(io: PatchelfIo, error: unknown, path: string | undefined): void {
  const debug = io.env.CALD_DEBUG === '1';
  const e = classifyError(error);
  if (e instanceof CaldError) {
    const named = path === undefined || e.message.includes(path) || typeof e.data.path === 'string';
    io.err(`patchelf: ${oneLine(`${named ? '' : `${path}: `}${e.message}`)}\n`);
    if (e.hint !== undefined) io.err(`patchelf: hint: ${oneLine(e.hint)}\n`);
  } else {
    const message = e instanceof Error ? e.message : String(e);
    io.err(
      `patchelf: internal error${path === undefined ? '' : ` on ${oneLine(path)}`}: ${oneLine(message.split('\n')[0]!)}\n`,
    );
    io.err('patchelf: hint: this is a bug in cald; rerun with CALD_DEBUG=1 for details and report it\n');
  }
  if (debug && e instanceof Error && e.stack !== undefined) io.err(`${e.stack}\n`);
}

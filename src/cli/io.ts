import picocolors from 'picocolors';

type Colors = ReturnType<typeof picocolors.createColors>;

/**
 * Where a command writes, and how. Commands never touch process.stdout or process.env directly,
 * so main() can be driven in-process with a test double.
 */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  /** Colors for each stream: real escapes only on a terminal and never with NO_COLOR. */
  outColors: Colors;
  errColors: Colors;
  /** stderr is a terminal: progress is drawn only then. */
  errIsTty?: boolean;
  /** Raw byte streams, for commands that move binary data through a pipe (export -o -). */
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
}

/**
 * Colors are on when the stream is a terminal, unless NO_COLOR is set to anything non-empty
 * (https://no-color.org); FORCE_COLOR (non-empty, not "0") turns them on anywhere.
 */
export function colorsEnabled(isTTY: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return isTTY && env.TERM !== 'dumb';
}

export function processIo(): CliIo {
  const env = process.env;
  // A closed pipe (cald inspect ... | head) is not an error worth a stack trace: stop writing.
  let outClosed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') outClosed = true;
    else throw e;
  });
  return {
    out: (text) => {
      if (!outClosed) process.stdout.write(text);
    },
    err: (text) => {
      process.stderr.write(text);
    },
    env,
    stdin: process.stdin,
    stdout: process.stdout,
    outColors: picocolors.createColors(colorsEnabled(process.stdout.isTTY === true, env)),
    errColors: picocolors.createColors(colorsEnabled(process.stderr.isTTY === true, env)),
    errIsTty: process.stderr.isTTY === true,
  };
}

export type { Colors };

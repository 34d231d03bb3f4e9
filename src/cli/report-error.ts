import { CaldError, classifyError } from '../errors/index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import type { CliIo } from './io.js';

/** How one error is shown: where it happened (a file name), as text or JSON. */
export interface ErrorContext {
  json: boolean;
  /** The file the error is about, when the command works file by file. */
  path?: string;
  /**
   * The hint for a usage error (exit 2) that has none of its own: "see 'cald CMD --help'", as
   * for commander's errors (a bad option value is as much a command-line mistake as a missing one).
   */
  usageHint?: string;
}

/** The JSON object that stands for an error in --json output. */
export function errorJson(error: unknown, path?: string, usageHint?: string): Record<string, unknown> {
  const e = classifyError(error);
  const base =
    e instanceof CaldError ? e.toJSON() : { error: 'InternalError', code: 'INTERNAL', message: messageOf(e) };
  const hint = hintOf(e, usageHint);
  const withHint = hint === undefined || base.hint !== undefined ? base : { ...base, hint };
  return path === undefined ? withHint : { ...withHint, path };
}

/** The error's own hint, else usageHint when it is a usage error. */
function hintOf(e: unknown, usageHint: string | undefined): string | undefined {
  if (!(e instanceof CaldError)) return undefined;
  return e.hint ?? (exitCodeFor(e.code) === EXIT.USAGE ? usageHint : undefined);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The exit status an error stands for. */
export function statusOf(error: unknown): number {
  const e = classifyError(error);
  return e instanceof CaldError ? exitCodeFor(e.code) : EXIT.INTERNAL;
}

/**
 * Text made to stay on its line: control characters (a newline or an escape sequence in a file
 * name, a program name or a server's answer) are shown escaped, `\n`, `\t`, `\x1b`.
 */
export function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    const n = c.charCodeAt(0);
    return n > 0xff ? `\\u${n.toString(16).padStart(4, '0')}` : `\\x${n.toString(16).padStart(2, '0')}`;
  });
}

/** The one-line message, naming the file unless the message already starts with it or names it. */
function lineFor(e: CaldError, path: string | undefined): string {
  if (path === undefined || e.data.path === path || e.message.startsWith(`${path} `))
    return oneLine(e.message);
  return oneLine(`${path}: ${e.message}`);
}

/**
 * The single place where an error becomes output and an exit status. A CaldError gives one line
 * (and a hint); anything else is a bug in cald: one line, exit 70. Stacks only with CALD_DEBUG=1.
 * In JSON mode the error object goes to stdout, so a consumer reads one stream.
 */
export function reportError(io: CliIo, error: unknown, ctx: ErrorContext): number {
  const e = classifyError(error);
  const debug = io.env.CALD_DEBUG === '1';
  const c = io.errColors;
  const status = statusOf(e);
  if (ctx.json) {
    io.out(`${JSON.stringify(errorJson(e, ctx.path, ctx.usageHint), null, 2)}\n`);
  } else if (e instanceof CaldError) {
    io.err(`${c.bold(c.red('cald:'))} ${lineFor(e, ctx.path)}\n`);
    const hint = hintOf(e, ctx.usageHint);
    if (hint !== undefined) io.err(`${c.yellow('hint:')} ${oneLine(hint)}\n`);
  } else {
    const where = ctx.path === undefined ? '' : `${oneLine(ctx.path)}: `;
    io.err(`${c.bold(c.red('cald:'))} internal error: ${where}${oneLine(messageOf(e).split('\n')[0]!)}\n`);
    if (!debug)
      io.err(
        `${c.yellow('hint:')} this is a bug in cald; rerun with CALD_DEBUG=1 for details and report it\n`,
      );
  }
  if (debug) io.err(`${debugDetails(e)}\n`);
  return status;
}

function debugDetails(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && depth < 5; depth++) {
    parts.push(cur instanceof Error ? (cur.stack ?? cur.message) : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
    if (cur !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}

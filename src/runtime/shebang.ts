import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaldError } from '../errors/index.js';
import { type CasName, parseCasName } from '../store/cas-name.js';

/**
 * `#!` lines (docs/scripts.md). The kernel reads the first BINPRM_BUF_SIZE bytes of a file it
 * executes (256 since Linux 5.1, 128 before) and takes the interpreter line from them; cald's
 * `#!cas:` line must end, newline included, within those 256 bytes, so every reader (the kernel's
 * binfmt_misc match, cald's handler, `file`, editors) sees all of it.
 */
export const SHEBANG_LIMIT = 256;
export const CAS_SHEBANG = '#!cas:';

/** A script naming its interpreter by content: `#!cas:sha256:<hex>[?name=<hint>][ ARG...]`. */
export interface CasShebang {
  /** The interpreter's content name, as written. */
  readonly uri: string;
  readonly name: CasName;
  /** Arguments before the script's path: the rest of the line split on spaces and tabs. */
  readonly args: readonly string[];
  /** Offset of the first byte after the line's newline. */
  readonly bodyStart: number;
}

/** A script naming its interpreter by path, read as the kernel reads it (fs/binfmt_script.c). */
export interface HostShebang {
  readonly interpreter: string;
  /** The one optional argument: the rest of the line, leading and trailing blanks removed. */
  readonly arg: string | undefined;
  readonly bodyStart: number;
}

function scriptError(code: string, message: string, hint?: string): CaldError {
  return new CaldError(code, message, hint === undefined ? {} : { hint });
}

const isBlank = (c: number) => c === 0x20 || c === 0x09;

/** The first line (without its newline) and where the body starts; refuses a line past the limit. */
function firstLine(bytes: Buffer, what: string): { line: string; bodyStart: number } {
  const nl = bytes.subarray(0, SHEBANG_LIMIT).indexOf(0x0a);
  if (nl < 0) {
    const short = bytes.length < SHEBANG_LIMIT;
    throw new CaldError(
      'SCRIPT_LINE_TOO_LONG',
      short
        ? `${what}: its #! line has no newline`
        : `${what}: its #! line is longer than ${SHEBANG_LIMIT - 1} bytes (the kernel reads only the first ${SHEBANG_LIMIT})`,
      { hint: 'end the #! line with a newline within the first 256 bytes' },
    );
  }
  return { line: bytes.toString('latin1', 2, nl), bodyStart: nl + 1 };
}

/** Whether the bytes start with `#!cas:`. */
export function hasCasShebang(bytes: Buffer): boolean {
  return (
    bytes.length >= CAS_SHEBANG.length && bytes.toString('latin1', 0, CAS_SHEBANG.length) === CAS_SHEBANG
  );
}

/** Parses a `#!cas:` line strictly; undefined when the bytes do not start with `#!cas:`. */
export function parseCasShebang(bytes: Buffer, what = 'the script'): CasShebang | undefined {
  if (!hasCasShebang(bytes)) return undefined;
  const { line, bodyStart } = firstLine(bytes, what);
  const parts = line.split(/[ \t]+/).filter((p) => p !== '');
  const uri = parts[0] ?? '';
  let name: CasName;
  try {
    name = parseCasName(uri);
  } catch (e) {
    throw scriptError(
      'SCRIPT_BAD_SHEBANG',
      `${what}: #!${uri} does not name an interpreter by content: ${e instanceof Error ? e.message : String(e)}`,
      'the line must read #!cas:sha256:<64 hex>[?name=<name>] followed by the arguments, if any',
    );
  }
  if (line.includes('\r')) {
    throw scriptError(
      'SCRIPT_BAD_SHEBANG',
      `${what}: its #! line ends in a carriage return`,
      'use Unix line ends',
    );
  }
  return { uri, name, args: parts.slice(1), bodyStart };
}

/** Parses an ordinary `#!` line as the kernel does; undefined when the bytes do not start with `#!`. */
export function parseHostShebang(bytes: Buffer, what = 'the script'): HostShebang | undefined {
  if (bytes.length < 2 || bytes[0] !== 0x23 || bytes[1] !== 0x21) return undefined;
  const { line, bodyStart } = firstLine(bytes, what);
  let i = 0;
  while (i < line.length && isBlank(line.charCodeAt(i))) i++;
  let j = i;
  while (j < line.length && !isBlank(line.charCodeAt(j))) j++;
  const interpreter = line.slice(i, j);
  if (interpreter === '')
    throw scriptError('SCRIPT_BAD_SHEBANG', `${what}: its #! line names no interpreter`);
  const arg = line.slice(j).replace(/^[ \t]+|[ \t]+$/g, '');
  return { interpreter, arg: arg === '' ? undefined : arg, bodyStart };
}

/** The `#!cas:` line for an interpreter name and its arguments (newline included); refuses one past the limit. */
export function formatCasShebang(uri: string, args: readonly string[], what = 'the script'): string {
  for (const a of args) {
    if (a === '' || /[ \t\n\r\0]/.test(a)) {
      throw scriptError(
        'SCRIPT_BAD_ARGUMENT',
        `${what}: the interpreter argument ${JSON.stringify(a)} cannot be written in a #!cas: line (arguments are split on blanks)`,
      );
    }
  }
  const line = `#!${[uri, ...args].join(' ')}\n`;
  if (Buffer.byteLength(line, 'latin1') > SHEBANG_LIMIT) {
    throw scriptError(
      'SCRIPT_LINE_TOO_LONG',
      `${what}: the #!cas: line would be ${Buffer.byteLength(line, 'latin1')} bytes, over the kernel's ${SHEBANG_LIMIT}`,
      'use fewer or shorter interpreter arguments',
    );
  }
  return line;
}

/** The object a `#!cas:` script refers to (its interpreter), found in its own bytes; none for other files. */
export function scriptRefs(bytes: Buffer): string[] {
  try {
    const s = parseCasShebang(bytes);
    return s === undefined ? [] : [s.uri];
  } catch {
    return [];
  }
}

/** `#!cas:` as binfmt_misc shows a magic: hex bytes. */
const CAS_MAGIC_HEX = Buffer.from(CAS_SHEBANG, 'latin1').toString('hex');

/**
 * The handler of an enabled binfmt_misc entry that runs files starting with `#!cas:` at offset 0
 * (`cald system install` registers one), or undefined when there is none (or binfmt_misc is not
 * mounted).
 */
export function casScriptHandler(dir = '/proc/sys/fs/binfmt_misc'): string | undefined {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const e of entries) {
    if (e === 'register' || e === 'status') continue;
    let text: string;
    try {
      text = readFileSync(join(dir, e), 'utf8');
    } catch {
      continue;
    }
    const field = (k: string) => new RegExp(`^${k} (.*)$`, 'm').exec(text)?.[1];
    if (
      /^enabled$/m.test(text) &&
      field('offset') === '0' &&
      field('magic') === CAS_MAGIC_HEX &&
      field('mask') === undefined
    )
      return field('interpreter');
  }
  return undefined;
}

import { readFileSync, statSync } from 'node:fs';
import { ioErrorFrom, UsageError } from '../../errors/index.js';
import { fromText } from '../../util/elf-string.js';

/**
 * One `patchelf ...` command line, parsed the way patchelf 0.18 parses it: options and file names
 * in any order, the last of a repeated value option winning, `@path` read from a file for the
 * options that take it. ELF strings are byte strings (util/elf-string.ts); file names stay text.
 */
export interface PatchelfRequest {
  files: string[];
  /** --output: write here, always (even when nothing changed). */
  output: string | undefined;
  /** Write even when nothing changed (--output, even an empty one, which means the input file). */
  alwaysWrite: boolean;
  debug: boolean;
  pageSize: number | undefined;
  printInterpreter: boolean;
  printOsAbi: boolean;
  printSoname: boolean;
  printRpath: boolean;
  printNeeded: boolean;
  printExecstack: boolean;
  execstack: 'set' | 'clear' | undefined;
  setOsAbi: number | undefined;
  setSoname: string | undefined;
  setInterpreter: string | undefined;
  shrinkRpath: boolean;
  allowedRpathPrefixes: string[];
  removeRpath: boolean;
  setRpath: string | undefined;
  addRpath: string | undefined;
  forceRpath: boolean;
  removeNeeded: Set<string>;
  replaceNeeded: Map<string, string>;
  addNeeded: Set<string>;
  noDefaultLib: boolean;
  addDebugTag: boolean;
  clearSymbolVersion: Set<string>;
  /** --rename-dynamic-symbols: old name to new, from the map files given. */
  renameSymbols: Map<string, string>;
}

export type ParsedCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'patch'; request: PatchelfRequest };

/** OS ABI names --set-os-abi accepts (case and surrounding blanks ignored), as patchelf's. */
const OS_ABI_BY_NAME: Readonly<Record<string, number>> = {
  'system v': 0,
  'system-v': 0,
  sysv: 0,
  'hp-ux': 1,
  netbsd: 2,
  linux: 3,
  gnu: 3,
  'gnu hurd': 4,
  'gnu-hurd': 4,
  hurd: 4,
  solaris: 6,
  aix: 7,
  irix: 8,
  freebsd: 9,
  tru64: 10,
  openbsd: 12,
  openvms: 13,
};

function emptyRequest(): PatchelfRequest {
  return {
    files: [],
    output: undefined,
    alwaysWrite: false,
    debug: false,
    pageSize: undefined,
    printInterpreter: false,
    printOsAbi: false,
    printSoname: false,
    printRpath: false,
    printNeeded: false,
    printExecstack: false,
    execstack: undefined,
    setOsAbi: undefined,
    setSoname: undefined,
    setInterpreter: undefined,
    shrinkRpath: false,
    allowedRpathPrefixes: [],
    removeRpath: false,
    setRpath: undefined,
    addRpath: undefined,
    forceRpath: false,
    removeNeeded: new Set(),
    replaceNeeded: new Map(),
    addNeeded: new Set(),
    noDefaultLib: false,
    addDebugTag: false,
    clearSymbolVersion: new Set(),
    renameSymbols: new Map(),
  };
}

/** A value written `@path` is the whole content of that file, byte for byte (newline included). */
export function resolveArgument(arg: string): string {
  if (!arg.startsWith('@')) return fromText(arg);
  const path = arg.slice(1);
  try {
    return readFileSync(path).toString('latin1');
  } catch (e) {
    throw ioErrorFrom(e, 'read the argument file', path);
  }
}

/** A symbol map file: one `OLD NEW` pair a line (blank lines ignored), as patchelf reads it. */
function readSymbolMap(path: string, into: Map<string, string>): void {
  let text: string;
  try {
    text = readFileSync(path).toString('latin1');
  } catch (e) {
    throw ioErrorFrom(e, 'read the symbol map file', path);
  }
  for (const [n, line] of text.split('\n').entries()) {
    const words = line
      .trim()
      .split(/[ \t]+/)
      .filter((w) => w !== '');
    if (words.length === 0) continue;
    if (words.length !== 2) {
      throw new UsageError(`${path}:${n + 1}: expected two symbol names (old new), found ${words.length}`, {
        hint: 'write one "OLD_NAME NEW_NAME" pair per line',
      });
    }
    into.set(words[0]!, words[1]!);
  }
}

/** patchelf's colon split: every ':' separates; a trailing empty part is dropped. */
function splitColons(s: string): string[] {
  const parts = s.split(':');
  if (parts.at(-1) === '') parts.pop();
  return parts;
}

/** C's atoi: optional blanks and sign, then the leading digits; 0 when there are none. */
function atoi(s: string): number {
  const m = /^[\t\n\v\f\r ]*([+-]?\d+)/.exec(s);
  return m?.[1] === undefined ? 0 : Number.parseInt(m[1], 10);
}

export function parseOsAbi(value: string): number {
  const abi = OS_ABI_BY_NAME[value.trim().toLowerCase()];
  if (abi === undefined) {
    throw new UsageError(`unrecognized OS ABI '${value}'`, {
      hint: `one of: ${Object.keys(OS_ABI_BY_NAME).join(', ')}`,
    });
  }
  return abi;
}

function isExistingPath(arg: string): boolean {
  try {
    statSync(arg);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses patchelf's arguments. `--help` and `--version` end parsing where they stand, as in
 * patchelf; every problem is a UsageError (or an IoError for an unreadable `@file`).
 */
export function parsePatchelfArgs(args: readonly string[]): ParsedCommand {
  const r = emptyRequest();
  const value = (i: number, flag: string): string => {
    const v = args[i];
    if (v === undefined) throw new UsageError(`missing argument after ${flag}`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    switch (arg) {
      case '--set-interpreter':
      case '--interpreter':
        r.setInterpreter = resolveArgument(value(++i, arg));
        break;
      case '--page-size': {
        const n = atoi(value(++i, arg));
        if (n <= 0)
          throw new UsageError('invalid argument to --page-size', { hint: 'e.g. --page-size 4096' });
        r.pageSize = n;
        break;
      }
      case '--print-interpreter':
        r.printInterpreter = true;
        break;
      case '--print-os-abi':
        r.printOsAbi = true;
        break;
      case '--set-os-abi':
        r.setOsAbi = parseOsAbi(resolveArgument(value(++i, arg)));
        break;
      case '--print-soname':
        r.printSoname = true;
        break;
      case '--set-soname':
        r.setSoname = resolveArgument(value(++i, arg));
        break;
      case '--remove-rpath':
        r.removeRpath = true;
        break;
      case '--shrink-rpath':
        r.shrinkRpath = true;
        break;
      case '--allowed-rpath-prefixes':
        r.allowedRpathPrefixes = splitColons(fromText(value(++i, arg)));
        break;
      case '--set-rpath':
        r.setRpath = resolveArgument(value(++i, arg));
        break;
      case '--add-rpath':
        r.addRpath = resolveArgument(value(++i, arg));
        break;
      case '--print-rpath':
        r.printRpath = true;
        break;
      case '--force-rpath':
        r.forceRpath = true;
        break;
      case '--print-needed':
        r.printNeeded = true;
        break;
      case '--add-needed':
        r.addNeeded.add(resolveArgument(value(++i, arg)));
        break;
      case '--remove-needed':
        r.removeNeeded.add(resolveArgument(value(++i, arg)));
        break;
      case '--replace-needed': {
        // Both names are taken as written: patchelf reads no @file here.
        if (i + 2 >= args.length) throw new UsageError('missing argument(s) after --replace-needed');
        r.replaceNeeded.set(fromText(args[i + 1] as string), fromText(args[i + 2] as string));
        i += 2;
        break;
      }
      case '--print-execstack':
        r.printExecstack = true;
        break;
      case '--clear-execstack':
        r.execstack = 'clear';
        break;
      case '--set-execstack':
        // patchelf: clear wins over set whatever their order.
        if (r.execstack !== 'clear') r.execstack = 'set';
        break;
      case '--output': {
        const out = toPathText(resolveArgument(value(++i, arg)));
        // patchelf: an empty --output still means "always write", to the input file.
        r.output = out === '' ? undefined : out;
        r.alwaysWrite = true;
        break;
      }
      case '--debug':
        r.debug = true;
        break;
      case '--no-default-lib':
        r.noDefaultLib = true;
        break;
      case '--add-debug-tag':
        r.addDebugTag = true;
        break;
      case '--clear-symbol-version':
        r.clearSymbolVersion.add(fromText(value(++i, arg)));
        break;
      case '--rename-dynamic-symbols':
        readSymbolMap(value(++i, arg), r.renameSymbols);
        break;
      case '--no-sort':
        // cald never sorts program or section headers: nothing to turn off.
        break;
      case '--help':
      case '-h':
        return { kind: 'help' };
      case '--version':
        return { kind: 'version' };
      default: {
        // patchelf takes any other argument as a file name; cald does too when such a file
        // exists, and otherwise says the option is unknown rather than "no such file".
        if (arg.startsWith('-') && arg.length > 1 && !isExistingPath(arg)) {
          throw new UsageError(`unknown option ${arg}`, { hint: "see 'cald patchelf --help'" });
        }
        r.files.push(arg);
      }
    }
  }
  if (r.files.length === 0) throw new UsageError('missing filename', { hint: "see 'cald patchelf --help'" });
  if (r.output !== undefined && r.files.length !== 1) {
    throw new UsageError('--output option only allowed with single input file');
  }
  if (r.setRpath !== undefined && r.addRpath !== undefined) {
    throw new UsageError('--set-rpath option not allowed with --add-rpath');
  }
  return { kind: 'patch', request: r };
}

/** A file name that came through resolveArgument (bytes) back to a path Node can open. */
function toPathText(bytes: string): string {
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

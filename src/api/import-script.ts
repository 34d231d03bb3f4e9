import { accessSync, closeSync, constants, realpathSync, statSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, resolve } from 'node:path';
import { openRegular, readAt, readSource } from '../closure/index.js';
import { CaldError, ioErrorFrom } from '../errors/index.js';
import { objectRefs } from '../importer/cald-note.js';
import { formatCasShebang, parseCasShebang, parseHostShebang } from '../runtime/shebang.js';
import { acquireLease, Digest, formatCasName, hintFromName } from '../store/index.js';
import type { ImportedFile, ImportOptions, ImportReport } from './import.js';
import { nameImports } from './program-names.js';
import { openForWrite } from './store-open.js';

/** Scripts larger than this are not imported (a script is read whole, into memory). */
const MAX_SCRIPT_SIZE = 64 * 1024 * 1024;

/** Whether `path` is a regular file starting with `#!` (a script, by the kernel's rule). */
export function isScriptFile(path: string): boolean {
  let opened: ReturnType<typeof openRegular>;
  try {
    opened = openRegular(path);
  } catch {
    return false;
  }
  try {
    return readAt(opened.fd, Number(opened.st.size), 0, 2).toString('latin1') === '#!';
  } finally {
    closeSync(opened.fd);
  }
}

/** The interpreter a script's `#!` line names: its file, the name it is run by, and its arguments. */
interface InterpreterChoice {
  /** The file to import (as found: links not yet followed, so its names come from them). */
  readonly path: string;
  /** `?name=` of the new line: the command's own name (python3), for argv[0] and for people. */
  readonly hint: string | undefined;
  readonly args: readonly string[];
}

function scriptError(code: string, message: string, hint: string): CaldError {
  return new CaldError(code, message, { hint });
}

/** The first executable regular file called `command` on PATH, as env(1) finds it. */
function searchPath(command: string, pathList: string, script: string): string {
  for (const dir of pathList.split(delimiter)) {
    const candidate = join(dir === '' ? '.' : dir, command);
    try {
      if (statSync(candidate).isFile()) {
        accessSync(candidate, constants.X_OK);
        return resolve(candidate);
      }
    } catch {
      // not here
    }
  }
  throw scriptError(
    'SCRIPT_NO_INTERPRETER',
    `${script}: its interpreter ${command} is not on PATH (${pathList})`,
    'install it, or put its directory on PATH for the import',
  );
}

/**
 * `env -S STRING` (GNU coreutils) splits STRING into a command and its arguments. Only the plain
 * form is taken (words separated by blanks): quotes, backslash escapes, ${VAR}, variable
 * assignments and env's own options change what runs in ways a #!cas: line cannot say, so they
 * are refused, never guessed.
 */
function splitEnvS(s: string, script: string): string[] {
  if (/['"\\$]/.test(s)) {
    throw scriptError(
      'SCRIPT_UNSUPPORTED_SHEBANG',
      `${script}: its #!/usr/bin/env -S line uses quotes, escapes or variables (${s})`,
      'write the interpreter and its arguments as plain words separated by spaces',
    );
  }
  return s.split(/[ \t]+/).filter((w) => w !== '');
}

function chooseInterpreter(
  script: string,
  interpreter: string,
  arg: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): InterpreterChoice {
  if (!isAbsolute(interpreter)) {
    throw scriptError(
      'SCRIPT_UNSUPPORTED_SHEBANG',
      `${script}: its interpreter ${interpreter} is a relative path (the kernel would take it from the caller's directory)`,
      'name the interpreter by an absolute path',
    );
  }
  if (basename(interpreter) !== 'env') {
    if (arg !== undefined && /[ \t]/.test(arg)) {
      throw scriptError(
        'SCRIPT_UNSUPPORTED_SHEBANG',
        `${script}: the kernel passes "${arg}" to ${interpreter} as one argument, which a #!cas: line cannot say (it splits on blanks)`,
        'give the interpreter one word of arguments, or use #!/usr/bin/env -S',
      );
    }
    return { path: interpreter, hint: hintFromName(interpreter), args: arg === undefined ? [] : [arg] };
  }
  // #!/usr/bin/env COMMAND, or #!/usr/bin/env -S COMMAND ARGS...
  let words: string[];
  if (arg === undefined) {
    throw scriptError(
      'SCRIPT_UNSUPPORTED_SHEBANG',
      `${script}: #!${interpreter} names no command`,
      'name the interpreter after env',
    );
  } else if (arg.startsWith('-S')) {
    words = splitEnvS(arg.slice(2), script);
  } else if (/[ \t]/.test(arg)) {
    throw scriptError(
      'SCRIPT_UNSUPPORTED_SHEBANG',
      `${script}: env would look for a program called "${arg}" (the kernel passes the rest of the line as one argument)`,
      'use #!/usr/bin/env -S to pass arguments',
    );
  } else {
    words = [arg];
  }
  const command = words[0];
  if (command === undefined || command.startsWith('-') || command.includes('=')) {
    throw scriptError(
      'SCRIPT_UNSUPPORTED_SHEBANG',
      `${script}: #!${interpreter} ${arg} sets env options or variables (${command ?? 'no command'}), which a #!cas: line cannot say`,
      'name the interpreter first after env (or env -S)',
    );
  }
  const path = command.includes('/')
    ? resolve(command)
    : searchPath(command, env.PATH ?? '/usr/local/bin:/usr/bin:/bin', script);
  return { path, hint: hintFromName(command), args: words.slice(1) };
}

interface ReadScript {
  readonly path: string;
  readonly realPath: string;
  readonly bytes: Buffer;
  readonly mode: number;
}

function readScript(path: string): ReadScript {
  let realPath: string;
  try {
    realPath = realpathSync(path);
  } catch (e) {
    throw ioErrorFrom(e, 'import', path);
  }
  const src = readSource(realPath, MAX_SCRIPT_SIZE);
  return { path, realPath, bytes: src.bytes, mode: src.mode };
}

/**
 * Imports scripts (and whatever else was given, through `importFiles`): each script's `#!` line
 * is rewritten to name its interpreter by content (`#!cas:sha256:<hex>?name=python3 ARGS`), the
 * interpreter is imported with its closure as a program, and the rewritten script is stored as
 * an object that refers to it (docs/scripts.md).
 */
export async function importScripts(
  options: ImportOptions,
  scripts: readonly string[],
  importFiles: (o: ImportOptions) => Promise<ImportReport>,
): Promise<ImportReport> {
  const env = options.env ?? process.env;
  const read = scripts.map(readScript);
  const plans = read.map((s) => {
    const what = s.path;
    const cas = parseCasShebang(s.bytes, what);
    if (cas !== undefined) return { script: s, cas, choice: undefined, bodyStart: cas.bodyStart };
    const host = parseHostShebang(s.bytes, what)!;
    return {
      script: s,
      cas: undefined,
      choice: chooseInterpreter(what, host.interpreter, host.arg, env),
      bodyStart: host.bodyStart,
    };
  });
  // Refused before anything is imported (docs/import.md, "Untrusted input").
  for (const p of plans) {
    if ((p.script.mode & 0o004) === 0 && options.allowPrivate !== true) {
      throw new CaldError('IMPORT_PRIVATE_SOURCE', `${p.script.path} cannot be read by other users`, {
        hint: 'pass --allow-private to store it readable by you only, or make it readable by others first',
        data: { path: p.script.path },
      });
    }
  }
  const warnings: string[] = [];
  const interpreters = [...new Set(plans.flatMap((p) => (p.choice === undefined ? [] : [p.choice.path])))];
  for (const i of interpreters) {
    if (isScriptFile(i)) {
      throw scriptError(
        'SCRIPT_INTERPRETER_SCRIPT',
        `${i} is itself a script; cald imports scripts whose interpreter is a program`,
        `import ${i} first and name its object in the #! line, or name the program it runs`,
      );
    }
  }
  const rest = options.paths.filter((p) => !scripts.includes(p));
  const { names, ...shared } = options;
  // The interpreters are imported as programs, with their closure (and --with files); --name is the script's.
  const base =
    rest.length + interpreters.length > 0
      ? await importFiles({ ...shared, paths: [...rest, ...interpreters] })
      : undefined;
  const digestOf = (path: string): Digest => {
    const real = realpathSync(path);
    const f = base?.imported.find((i) => i.path === real);
    if (f === undefined) throw new CaldError('IMPORT_NOT_READ', `${path} was not imported`);
    return parseDigest(f.uri);
  };

  const { store } = await openForWrite({
    store: base?.store ?? options.store,
    env: options.env ?? process.env,
  });
  let lease: ReturnType<typeof acquireLease> | undefined;
  try {
    lease = acquireLease(store.root, { purpose: `import ${scripts[0] ?? ''}` });
    const stored: Array<{ path: string; digest: Digest; uri: string }> = [];
    for (const p of plans) {
      let bytes = p.script.bytes;
      if (p.choice !== undefined) {
        const interpUri = formatCasName(digestOf(p.choice.path), p.choice.hint);
        const line = formatCasShebang(interpUri, p.choice.args, p.script.path);
        bytes = Buffer.concat([Buffer.from(line, 'latin1'), bytes.subarray(p.bodyStart)]);
      }
      const ownerOnly = (p.script.mode & 0o004) === 0;
      if (p.cas !== undefined && store.files.objects.stat(p.cas.name.digest) === undefined)
        warnings.push(`${p.script.path} runs ${p.cas.uri}, which is not in ${store.root}; pull or import it`);
      const digest = await store.put(bytes, {
        executable: (p.script.mode & 0o111) !== 0,
        ownerOnly,
        refs: objectRefs(bytes),
      });
      const hint = hintFromName(p.script.realPath);
      stored.push({ path: p.script.realPath, digest, uri: formatCasName(digest, hint) });
    }
    lease.addTemporaryRoots(stored.map((s) => s.digest));
    const naming = nameImports(store.roots, stored, scripts, names === undefined ? {} : { names });
    const files: ImportedFile[] = stored.map((s) => ({
      path: s.path,
      uri: s.uri,
      digest: s.digest.toString(),
    }));
    return {
      store: store.root,
      imported: [...(base?.imported ?? []), ...files],
      objects: (base?.objects ?? 0) + files.length,
      loader: base?.loader,
      hostProvided: base?.hostProvided ?? [],
      droppedCycleEdges: base?.droppedCycleEdges ?? [],
      warnings: [...(base?.warnings ?? []), ...warnings],
      programs: [...(base?.programs ?? []), ...naming.programs],
      movedNames: [...(base?.movedNames ?? []), ...naming.moved],
      hostFiles: [...(base?.hostFiles ?? []), ...naming.hostFiles],
    };
  } finally {
    lease?.release();
    store.close();
  }
}

function parseDigest(uri: string): Digest {
  // `cas:sha256:<hex>?name=...` as the importer printed it.
  return Digest.parse(uri.slice(4).split('?')[0]!);
}

import { type Closure, checkSignatures, loadRemoteConfig, type Signature } from '../remote/index.js';
import type { Env } from '../runtime/index.js';
import { type Digest, formatCasName, type LocalStore, nameProgram } from '../store/index.js';
import { isProgramName } from './program-names.js';

// What every way a closure arrives from elsewhere (pull, import-archive) does the same way: the
// trust check before any object byte is taken, and the names and root once all objects are in.

/**
 * The trusted key that signed the closure; null when signatures are not required (cald.conf) or
 * unsigned closures were allowed. Throws REMOTE_UNTRUSTED otherwise.
 */
export async function trustClosure(options: {
  env: Env;
  allowUnsigned: boolean | undefined;
  /** Asked for only when they are to be checked. */
  signatures: () => Promise<readonly Signature[]>;
  program: string;
  manifest: Digest;
  source: string;
}): Promise<string | null> {
  const config = loadRemoteConfig(options.env);
  if (!config.requireSignatures || options.allowUnsigned === true) return null;
  return checkSignatures(
    await options.signatures(),
    config.trustedKeys,
    options.program,
    options.manifest,
    options.source,
  );
}

/**
 * Names every object by its hint and makes the program answer to its name, as an import does (a
 * name moves to the newest arrival); a program with no usable name gets a root of its own.
 */
export function recordClosure(store: LocalStore, closure: Closure, note: string): void {
  // Names only for objects that are there: a lazy pull leaves the libraries to load time. All at
  // once: one fsync of names/ and one index transaction (one each per name cost a pull of ffmpeg's
  // 210 objects half a second, docs/benchmarks.md).
  store.addNames(
    closure.objects
      .filter((o) => o.name !== undefined && store.files.objects.stat(o.digest) !== undefined)
      .map((o) => formatCasName(o.digest, o.name)),
  );
  const program = closure.objects[0]!;
  const names = program.name !== undefined && isProgramName(program.name) ? [program.name] : [];
  if (names.length > 0) nameProgram(store.roots, { digest: program.digest, names });
  else store.addRoot({ kind: 'object', target: program.digest.toString(), note });
}

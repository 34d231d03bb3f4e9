import type { ElfFile } from '../elf/read/index.js';
import type { Digest } from '../store/digest.js';
import { digestOfFile } from '../store/digest.js';
import type { Env } from './environment.js';
import type { LauncherValues } from './launcher.js';
import { interpreterNote, statSignature } from './loader.js';
import { auditLibraryPath } from './native.js';

/**
 * What a launcher for `digest` holds (docs/running.md, "Slot format"): the object, the store, the
 * audit library, and the interpreter check. The host loader's stat signature is recorded only
 * when its content is the loader in the program's note, so the launcher's usual check is a stat.
 */
export function launcherValues(
  digest: Digest,
  store: string,
  elf: ElfFile | undefined,
  env: Env,
  /** Whether the host loader is the noted one, when the caller has already hashed it (run's plan). */
  hostLoaderMatches?: boolean,
  /** Let an inherited CALD_STORE choose the store (docs/threat-model.md); default: the store given. */
  storeFromEnv = false,
): LauncherValues {
  const interp = elf?.interp?.value ?? '';
  const noted = elf === undefined ? undefined : interpreterNote(elf);
  let sig = '';
  if (noted !== undefined && interp !== '') {
    try {
      if (hostLoaderMatches ?? digestOfFile(interp).equals(noted)) sig = statSignature(interp) ?? '';
    } catch {
      // host loader missing: the launcher will use the stored one
    }
  }
  return {
    target: digest.toString(),
    store,
    audit: auditLibraryPath(env),
    interp,
    'interp-digest': noted?.toString() ?? '',
    'interp-sig': sig,
    flags: storeFromEnv ? 'store-env' : '',
  };
}

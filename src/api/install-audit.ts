import { existsSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { UsageError } from '../errors/index.js';
import { AUDIT_LIBRARY } from '../runtime/index.js';
import { isSystemInstalled, runLdconfig, systemInstall, systemUninstall } from './system.js';

export interface InstallAuditOptions {
  /** Installs into PREFIX/lib (default /usr/local: on ld.so's default search path via ld.so.conf). */
  prefix?: string;
  /** Remove it instead. */
  uninstall?: boolean;
  env?: Readonly<Record<string, string | undefined>>;
}

export interface InstallAuditResult {
  path: string;
  installed: boolean;
  /** Whether `ldconfig` ran (it refreshes ld.so.cache so DT_AUDIT's bare name is found). */
  ldconfig: boolean;
}

/**
 * Installs libcald-audit.so in PREFIX/lib. Programs imported with `--audit` name
 * /usr/local/lib/libcald-audit.so in DT_AUDIT (the default prefix) and resolve their content names
 * with no environment at all; without it ld.so goes on without the audit interface, and the
 * program stops at its audit sentinel (docs/threat-model.md). ldconfig still runs, for users who
 * name the library by file name in LD_AUDIT.
 * This is the audit-library half of `cald system install` (api/system.ts), recorded the same way,
 * so `--uninstall` (or `cald system uninstall`) puts back exactly what was there.
 */
export async function installAudit(options: InstallAuditOptions = {}): Promise<InstallAuditResult> {
  const prefix = options.prefix ?? '/usr/local';
  if (!isAbsolute(prefix)) throw new UsageError(`--prefix must be an absolute path, not ${prefix}`);
  const path = join(prefix, 'lib', AUDIT_LIBRARY);
  const env = options.env ?? process.env;
  if (options.uninstall === true) {
    if (isSystemInstalled()) {
      await systemUninstall({ prefix, env });
      return { path, installed: false, ldconfig: true };
    }
    // Installed by an older cald, with no record: removed, and ld.so.cache rebuilt without it.
    const had = existsSync(path);
    rmSync(path, { force: true });
    if (had) runLdconfig();
    return { path, installed: false, ldconfig: had };
  }
  if (isSystemInstalled()) return { path, installed: true, ldconfig: false };
  await systemInstall({ prefix, auditOnly: true, env });
  return { path, installed: true, ldconfig: true };
}

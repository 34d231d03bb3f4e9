import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { CaldError, UsageError } from '../errors/index.js';
import { AUDIT_LIBRARY, auditLibraryPath } from '../runtime/index.js';
import { writeFileAtomic } from '../util/atomic-write.js';

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
 */
export async function installAudit(options: InstallAuditOptions = {}): Promise<InstallAuditResult> {
  const prefix = options.prefix ?? '/usr/local';
  if (!isAbsolute(prefix)) throw new UsageError(`--prefix must be an absolute path, not ${prefix}`);
  const path = join(prefix, 'lib', AUDIT_LIBRARY);
  if (options.uninstall === true) {
    const had = existsSync(path);
    rmSync(path, { force: true });
    return { path, installed: false, ldconfig: had && runLdconfig() };
  }
  const source = auditLibraryPath(options.env ?? process.env);
  await writeFileAtomic(path, readFileSync(source), { mode: 0o644 });
  return { path, installed: true, ldconfig: runLdconfig() };
}

/** ldconfig lives in /sbin or /usr/sbin, often not on a user's PATH. */
const LDCONFIG_CANDIDATES = ['ldconfig', '/usr/sbin/ldconfig', '/sbin/ldconfig'];

function runLdconfig(): boolean {
  for (const cmd of LDCONFIG_CANDIDATES) {
    const r = spawnSync(cmd, [], { encoding: 'utf8' });
    if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT') continue;
    if (r.status !== 0) {
      throw new CaldError('INSTALL_LDCONFIG', `ldconfig failed: ${(r.stderr || '').trim().split('\n')[0]}`, {
        hint: 'run ldconfig as root so ld.so.cache lists the audit library',
      });
    }
    return true;
  }
  throw new CaldError('INSTALL_LDCONFIG', 'ldconfig was not found (looked on PATH, in /usr/sbin and /sbin)', {
    hint: 'run ldconfig by hand so ld.so.cache lists the audit library; until then DT_AUDIT programs cannot find it',
  });
}

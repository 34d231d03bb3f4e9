import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { CaldError, UsageError } from '../errors/index.js';
import {
  AUDIT_LIBRARY,
  auditLibraryPath,
  CAS_SHEBANG,
  fillScriptHandler,
  nativeArtifact,
} from '../runtime/index.js';
import { replaceFileAtomic, writeFileAtomic } from '../util/atomic-write.js';

/**
 * `cald system install` and `cald system uninstall` (docs/scripts.md, "System integration"): the
 * audit library where the system loader finds it (programs imported with --audit then run with
 * no environment), and a binfmt_misc handler for `#!cas:` scripts. Install records everything it
 * changes (and a copy of every file it replaces) in a state directory; uninstall puts each back
 * byte for byte, with the directories' modification times, and removes what it made.
 */
export interface SystemOptions {
  /** Installs into PREFIX/lib (default /usr/local: on ld.so's search path through ld.so.conf). */
  prefix?: string;
  /** Where install records what it changed (default /var/lib/cald/system). */
  stateDir?: string;
  /** The binfmt_misc entry's name (default cald). */
  binfmtName?: string;
  /** The binfmt_misc file system (default /proc/sys/fs/binfmt_misc). */
  binfmtDir?: string;
  /** systemd's binfmt.d directory (default /etc/binfmt.d); the entry is written there when it exists. */
  binfmtConfDir?: string;
  /** Only the audit library (what `cald install-audit` does): no binfmt_misc handler. */
  auditOnly?: boolean;
  env?: Readonly<Record<string, string | undefined>>;
}

export const HANDLER = 'cald-binfmt';
const LD_SO_CACHE = '/etc/ld.so.cache';
const STATE_FILE = 'state.json';

/** One file install wrote: what was there before (a copy in the state directory), if anything. */
interface FileChange {
  readonly path: string;
  /** Name of the copy of the previous content in the state directory; undefined: it did not exist. */
  readonly saved: string | undefined;
  /** sha256 of what install left there: uninstall restores only what is still install's. */
  readonly written: string;
  /** The previous file's permission bits (restored with its content). */
  readonly mode?: number;
}

/** A directory install created (removed again, if empty) or whose mtime it changed (restored). */
interface DirChange {
  readonly path: string;
  readonly created: boolean;
  readonly atimeMs: number;
  readonly mtimeMs: number;
}

interface SystemState {
  readonly version: 1;
  readonly files: FileChange[];
  readonly dirs: DirChange[];
  /** ld.so.cache: saved before ldconfig, restored after (ldconfig rebuilds it from what is on disk). */
  ldCache: { saved: string | undefined; written: string } | undefined;
  binfmt: { dir: string; name: string; mounted: boolean } | undefined;
}

export interface SystemResult {
  readonly auditLibrary: string;
  readonly handler: string | undefined;
  /** The binfmt_misc entry, e.g. /proc/sys/fs/binfmt_misc/cald. */
  readonly binfmtEntry: string | undefined;
  readonly stateDir: string;
  /** What could not be restored exactly (uninstall), each one line. */
  readonly warnings: string[];
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function fileHash(path: string): string | undefined {
  try {
    return sha256(readFileSync(path));
  } catch {
    return undefined;
  }
}

function requireRoot(what: string): void {
  if (process.geteuid?.() !== 0) {
    throw new CaldError('SYSTEM_NOT_ROOT', `cald system ${what} changes system files and needs root`, {
      hint: `run it as root: sudo cald system ${what}`,
    });
  }
}

function paths(options: SystemOptions) {
  const prefix = options.prefix ?? '/usr/local';
  if (!isAbsolute(prefix)) throw new UsageError(`--prefix must be an absolute path, not ${prefix}`);
  const stateDir = options.stateDir ?? '/var/lib/cald/system';
  if (!isAbsolute(stateDir))
    throw new UsageError(`the state directory must be an absolute path, not ${stateDir}`);
  const name = options.binfmtName ?? 'cald';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || name === '.' || name === '..')
    throw new UsageError(`bad binfmt_misc entry name ${JSON.stringify(name)}`);
  return {
    prefix,
    stateDir,
    name,
    binfmtDir: options.binfmtDir ?? '/proc/sys/fs/binfmt_misc',
    audit: join(prefix, 'lib', AUDIT_LIBRARY),
    binfmtConf: join(options.binfmtConfDir ?? '/etc/binfmt.d', `${name}.conf`),
    handler: join(prefix, 'lib', 'cald', HANDLER),
  };
}

/** Keeps track of what install changes, so a failure half-way (and uninstall) can undo it. */
class Recorder {
  readonly state: SystemState = { version: 1, files: [], dirs: [], ldCache: undefined, binfmt: undefined };
  private saves = 0;
  constructor(private readonly stateDir: string) {}

  /** Notes a directory before an entry is added to it (or it is made, with its missing parents). */
  dir(path: string): void {
    if (this.state.dirs.some((d) => d.path === path)) return;
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(path);
    } catch {
      st = undefined;
    }
    if (st === undefined) {
      this.dir(dirname(path));
      mkdirSync(path, { mode: 0o755 });
      this.state.dirs.push({ path, created: true, atimeMs: 0, mtimeMs: 0 });
    } else {
      this.state.dirs.push({ path, created: false, atimeMs: st.atimeMs, mtimeMs: st.mtimeMs });
    }
  }

  /** A copy of `path`'s current content in the state directory, or undefined when it does not exist. */
  save(path: string): string | undefined {
    if (!existsSync(path)) return undefined;
    const name = `saved-${++this.saves}`;
    writeFileSync(join(this.stateDir, name), readFileSync(path), { mode: 0o600 });
    return name;
  }

  async write(path: string, bytes: Buffer, mode: number): Promise<void> {
    this.dir(dirname(path));
    const saved = this.save(path);
    const before = saved === undefined ? undefined : statSync(path).mode & 0o7777;
    this.state.files.push({
      path,
      saved,
      written: sha256(bytes),
      ...(before === undefined ? {} : { mode: before }),
    });
    await writeFileAtomic(path, bytes, { mode });
  }

  persist(): void {
    writeFileSync(join(this.stateDir, STATE_FILE), `${JSON.stringify(this.state, null, 2)}\n`, {
      mode: 0o600,
    });
  }
}

function readState(stateDir: string): SystemState | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, STATE_FILE), 'utf8')) as SystemState;
  } catch {
    return undefined;
  }
}

/** ldconfig lives in /sbin or /usr/sbin, often not on a user's PATH. */
const LDCONFIG_CANDIDATES = ['ldconfig', '/usr/sbin/ldconfig', '/sbin/ldconfig'];

/** Runs ldconfig (ld.so.cache then lists the audit library, so DT_AUDIT's bare name is found). */
export function runLdconfig(): void {
  for (const cmd of LDCONFIG_CANDIDATES) {
    const r = spawnSync(cmd, [], { encoding: 'utf8' });
    if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT') continue;
    if (r.status !== 0) {
      throw new CaldError('INSTALL_LDCONFIG', `ldconfig failed: ${(r.stderr || '').trim().split('\n')[0]}`, {
        hint: 'run ldconfig as root so ld.so.cache lists the audit library',
      });
    }
    return;
  }
  throw new CaldError('INSTALL_LDCONFIG', 'ldconfig was not found (looked on PATH, in /usr/sbin and /sbin)', {
    hint: 'run ldconfig by hand so ld.so.cache lists the audit library; until then DT_AUDIT programs cannot find it',
  });
}

/** The audit library at PREFIX/lib and ld.so.cache refreshed: the step `cald install-audit` is too. */
async function installAuditLibrary(rec: Recorder, target: string, env: SystemOptions['env']): Promise<void> {
  await rec.write(target, readFileSync(auditLibraryPath(env ?? process.env)), 0o644);
  rec.dir(dirname(LD_SO_CACHE));
  const saved = rec.save(LD_SO_CACHE);
  runLdconfig();
  rec.state.ldCache = { saved, written: fileHash(LD_SO_CACHE) ?? '' };
}

function binfmtMounted(dir: string): boolean {
  return existsSync(join(dir, 'register'));
}

function mountBinfmt(dir: string): void {
  const r = spawnSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', dir], { encoding: 'utf8' });
  if (r.status !== 0 || !binfmtMounted(dir)) {
    throw new CaldError(
      'SYSTEM_BINFMT',
      `cannot mount binfmt_misc on ${dir}: ${(r.stderr || String(r.error ?? '')).trim()}`,
      {
        hint: 'the kernel needs binfmt_misc (CONFIG_BINFMT_MISC); mount it, then run cald system install again',
      },
    );
  }
}

/** The registration line: match files starting with #!cas: and hand them to the handler. */
export function binfmtRule(name: string, handler: string): string {
  // '|' as the delimiter: the magic contains ':' (loader-facts.md). No flags: the kernel runs
  // `HANDLER SCRIPT ARGS...` with the caller's credentials.
  return `|${name}|M||${CAS_SHEBANG}||${handler}|`;
}

/** Registers the handler with binfmt_misc (mounting the file system first when it is not). */
export function registerBinfmt(dir: string, name: string, handler: string): { mounted: boolean } {
  let mounted = false;
  if (!binfmtMounted(dir)) {
    mountBinfmt(dir);
    mounted = true;
  }
  if (existsSync(join(dir, name))) {
    throw new CaldError(
      'SYSTEM_BINFMT',
      `a binfmt_misc entry named ${name} exists already (${join(dir, name)})`,
      {
        hint: `remove it (echo -1 > ${join(dir, name)}) or cald system uninstall first`,
      },
    );
  }
  try {
    writeFileSync(join(dir, 'register'), binfmtRule(name, handler));
  } catch (e) {
    throw new CaldError('SYSTEM_BINFMT', `binfmt_misc refused the entry ${name}: ${(e as Error).message}`);
  }
  return { mounted };
}

/** Removes a binfmt_misc entry (and unmounts the file system when it was mounted for it and is now unused). */
export function unregisterBinfmt(dir: string, name: string, unmount: boolean): string[] {
  const warnings: string[] = [];
  if (existsSync(join(dir, name))) writeFileSync(join(dir, name), '-1');
  if (unmount && binfmtMounted(dir)) {
    const others = readdirSync(dir).filter((e) => e !== 'register' && e !== 'status');
    if (others.length > 0) {
      warnings.push(
        `binfmt_misc stays mounted on ${dir}: other entries were registered since (${others.join(', ')})`,
      );
    } else {
      const r = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (r.status !== 0) warnings.push(`cannot unmount ${dir}: ${(r.stderr || '').trim()}`);
    }
  }
  return warnings;
}

/** `cald system install` (root). */
export async function systemInstall(options: SystemOptions = {}): Promise<SystemResult> {
  requireRoot('install');
  const p = paths(options);
  if (readState(p.stateDir) !== undefined) {
    throw new CaldError(
      'SYSTEM_INSTALLED',
      `cald is installed system-wide already (${join(p.stateDir, STATE_FILE)})`,
      {
        hint: 'run cald system uninstall first',
      },
    );
  }
  // Check the artifacts first: nothing is changed when one is missing.
  const env = options.env ?? process.env;
  auditLibraryPath(env);
  const template = options.auditOnly === true ? undefined : readFileSync(nativeArtifact(HANDLER, env));
  const rec = new Recorder(p.stateDir);
  rec.dir(p.stateDir);
  try {
    await installAuditLibrary(rec, p.audit, env);
    rec.persist(); // after each step: an install cut short can still be undone
    if (template !== undefined) {
      const handler = fillScriptHandler(template, p.audit);
      await rec.write(p.handler, handler, 0o755);
      // Registered again at every boot by systemd-binfmt, where there is one (binfmt.d(5)).
      if (existsSync(dirname(p.binfmtConf)))
        await rec.write(p.binfmtConf, Buffer.from(`${binfmtRule(p.name, p.handler)}\n`), 0o644);
      rec.persist();
      const { mounted } = registerBinfmt(p.binfmtDir, p.name, p.handler);
      rec.state.binfmt = { dir: p.binfmtDir, name: p.name, mounted };
    }
    rec.persist();
  } catch (e) {
    undo(rec.state, p.stateDir);
    throw e;
  }
  return {
    auditLibrary: p.audit,
    handler: template === undefined ? undefined : p.handler,
    binfmtEntry: template === undefined ? undefined : join(p.binfmtDir, p.name),
    stateDir: p.stateDir,
    warnings: [],
  };
}

/** `cald system uninstall` (root): everything install changed, put back as it was. */
export async function systemUninstall(options: SystemOptions = {}): Promise<SystemResult> {
  requireRoot('uninstall');
  const p = paths(options);
  const state = readState(p.stateDir);
  if (state === undefined) {
    throw new CaldError(
      'SYSTEM_NOT_INSTALLED',
      `cald is not installed system-wide (no ${join(p.stateDir, STATE_FILE)})`,
      {
        hint: 'nothing to undo',
      },
    );
  }
  const warnings = undo(state, p.stateDir);
  return {
    auditLibrary: p.audit,
    handler: state.binfmt === undefined ? undefined : p.handler,
    binfmtEntry: state.binfmt === undefined ? undefined : join(state.binfmt.dir, state.binfmt.name),
    stateDir: p.stateDir,
    warnings,
  };
}

/** Reverses a recorded install, newest change first; returns what could not be restored exactly. */
function undo(state: SystemState, stateDir: string): string[] {
  const warnings: string[] = [];
  if (state.binfmt !== undefined)
    warnings.push(...unregisterBinfmt(state.binfmt.dir, state.binfmt.name, state.binfmt.mounted));
  const restore = (path: string, saved: string | undefined, written: string, mode?: number) => {
    const now = fileHash(path);
    if (now !== undefined && now !== written) {
      warnings.push(`${path} changed since cald system install; left as it is`);
      return false;
    }
    if (saved === undefined) rmSync(path, { force: true });
    else {
      // Put back by a rename, never rewritten in place: every program that starts maps
      // /etc/ld.so.cache, and audited ones the audit library; one mapping a file truncated under it
      // dies of SIGBUS (an e2e run of ffmpeg did, beside a test of this uninstall).
      const st = statSync(path, { throwIfNoEntry: false });
      const owner = st === undefined ? undefined : { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      const restored = mode ?? owner?.mode;
      replaceFileAtomic(
        path,
        st === undefined ? path : realpathSync(path),
        owner,
        readFileSync(join(stateDir, saved)),
        restored === undefined ? {} : { mode: restored },
      );
    }
    return true;
  };
  for (const f of [...state.files].reverse()) restore(f.path, f.saved, f.written, f.mode);
  if (state.ldCache !== undefined) {
    // The cache install's ldconfig wrote is put back as it was before; a cache someone rebuilt
    // since is rebuilt again, now without the audit library.
    if (!restore(LD_SO_CACHE, state.ldCache.saved, state.ldCache.written)) {
      warnings.pop();
      runLdconfig();
      warnings.push(
        `${LD_SO_CACHE} was rebuilt since cald system install; ran ldconfig again instead of restoring it`,
      );
    }
  }
  rmSync(join(stateDir, STATE_FILE), { force: true });
  for (let i = 1; existsSync(join(stateDir, `saved-${i}`)); i++) rmSync(join(stateDir, `saved-${i}`));
  for (const d of [...state.dirs].reverse()) {
    if (d.created) {
      try {
        rmdirSync(d.path);
      } catch {
        warnings.push(`${d.path} is not empty; left in place`);
      }
    } else if (existsSync(d.path)) {
      utimesSync(d.path, d.atimeMs / 1000, d.mtimeMs / 1000);
    }
  }
  return warnings;
}

/** Whether `cald system install` (or install-audit) has a recorded install in `stateDir`. */
export function isSystemInstalled(stateDir = '/var/lib/cald/system'): boolean {
  return readState(stateDir) !== undefined;
}

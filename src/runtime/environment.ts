import { UsageError } from '../errors/index.js';
import { storeLayout } from '../store/layout.js';
import { checkSearchPathSafe } from '../store/trust.js';

/**
 * How a process finds `cas:` names (docs/running.md):
 * - `audit`: LD_AUDIT=<libcald-audit.so> and CALD_STORE=<store>; every object is verified.
 * - `names`: <store>/names prepended to LD_LIBRARY_PATH; the stock search, no verification: it
 *   trusts the store's owner (NAMES_MODE_TRUST, docs/threat-model.md).
 */
export type RunMode = 'audit' | 'names';
export const RUN_MODES: readonly RunMode[] = ['audit', 'names'];

export function checkMode(mode: string): RunMode {
  if ((RUN_MODES as readonly string[]).includes(mode)) return mode as RunMode;
  throw new UsageError(`unknown mode ${JSON.stringify(mode)}: expected audit or names`);
}

/** What names mode trusts, said by `cald env --mode names` (a comment line in the shell code). */
export const NAMES_MODE_TRUST =
  "names mode trusts the store's owner: libraries are found by name in <store>/names and not verified (docs/threat-model.md)";

export type Env = Readonly<Record<string, string | undefined>>;

/** The variables a mode sets, as name → value to put first in a colon list or to set. */
export interface ModeSettings {
  /** Colon-list variables and the element cald puts first (LD_AUDIT, LD_LIBRARY_PATH). */
  readonly prepend: ReadonlyArray<readonly [string, string]>;
  /** Plain variables cald sets (CALD_STORE). */
  readonly set: ReadonlyArray<readonly [string, string]>;
}

export function modeSettings(mode: RunMode, store: string, auditLibrary: string | undefined): ModeSettings {
  if (mode === 'names') {
    const names = storeLayout(store).names;
    checkSearchPathSafe(names, 'the name directory');
    return { prepend: [['LD_LIBRARY_PATH', names]], set: [] };
  }
  if (auditLibrary === undefined) throw new Error('audit mode needs the audit library path');
  return { prepend: [['LD_AUDIT', auditLibrary]], set: [['CALD_STORE', store]] };
}

/** `item` first in a colon list, unless the list already has it (then unchanged). */
export function prependToList(list: string | undefined, item: string): string {
  if (list === undefined || list === '') return item;
  return list.split(':').includes(item) ? list : `${item}:${list}`;
}

/** The environment a child gets in `mode`: `base` plus the mode's settings, nothing removed. */
export function runEnvironment(base: Env, settings: ModeSettings): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  for (const [k, item] of settings.prepend) env[k] = prependToList(env[k], item);
  for (const [k, v] of settings.set) env[k] = v;
  return env;
}

export type Shell = 'sh' | 'fish';

export function checkShell(shell: string): Shell {
  if (shell === 'sh' || shell === 'bash' || shell === 'zsh') return 'sh';
  if (shell === 'fish') return 'fish';
  throw new UsageError(`unknown shell ${JSON.stringify(shell)}: expected sh (also bash, zsh) or fish`);
}

/** A POSIX shell word for any string. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A fish word for any string. */
export function fishQuote(s: string): string {
  return `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * Shell code that applies (or, with `unset`, undoes) a mode's settings in the current shell.
 * Applying twice adds nothing twice; undoing removes only cald's element from a list, and
 * unsets the variable when nothing else was in it.
 */
export function shellCode(settings: ModeSettings, shell: Shell, unset: boolean): string {
  const lines: string[] = [];
  if (shell === 'sh') {
    for (const [k, item] of settings.prepend) {
      const q = shQuote(item);
      if (!unset) {
        lines.push(`case ":\${${k}-}:" in *:${q}:*) ;; *) ${k}=${q}\${${k}:+:$${k}}; export ${k} ;; esac`);
      } else {
        lines.push(
          `_cald_rest=; _cald_ifs=$IFS; IFS=:; for _cald_e in \${${k}-}; do [ "$_cald_e" = ${q} ] || _cald_rest=\${_cald_rest:+$_cald_rest:}$_cald_e; done; IFS=$_cald_ifs`,
          `if [ -n "$_cald_rest" ]; then ${k}=$_cald_rest; export ${k}; else unset ${k}; fi; unset _cald_rest _cald_ifs _cald_e`,
        );
      }
    }
    for (const [k, v] of settings.set) lines.push(unset ? `unset ${k}` : `${k}=${shQuote(v)}; export ${k}`);
  } else {
    for (const [k, item] of settings.prepend) {
      const q = fishQuote(item);
      // fish keeps LD_AUDIT as one string and LD_LIBRARY_PATH (a *PATH name) as a list.
      const list = `(string split : -- "$${k}")`;
      if (!unset) {
        lines.push(
          `if not contains -- ${q} ${list}; set -gx ${k} (string join : -- ${q} (string match -v -- '' ${list})); end`,
        );
      } else {
        lines.push(
          `set -l _cald_rest (string match -v -- ${q} (string match -v -- '' ${list}))`,
          `if set -q _cald_rest[1]; set -gx ${k} (string join : -- $_cald_rest); else; set -e ${k}; end`,
        );
      }
    }
    for (const [k, v] of settings.set) lines.push(unset ? `set -e ${k}` : `set -gx ${k} ${fishQuote(v)}`);
  }
  return `${lines.join('\n')}\n`;
}

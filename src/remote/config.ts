import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { isCaldError, UsageError } from '../errors/index.js';
import { parseStoreUrl } from '../store/url.js';
import { type PublicKey, parsePublicKey } from './signing.js';

// cald's settings, in one file like nix.conf: `$XDG_CONFIG_HOME/cald/cald.conf` (else
// ~/.config/cald/cald.conf), lines `name = value`, `#` comments. An environment variable
// overrides each setting (docs/distribution.md, "Configuration", which also gives the format a
// C reader relies on).
//
//   trusted-public-keys = cache.example.org-1:BASE64 …   CALD_TRUSTED_PUBLIC_KEYS
//   require-signatures = true | false                    CALD_REQUIRE_SIGNATURES
//   signing-key-file = /path/to/secret.key               CALD_SIGNING_KEY_FILE
//   substituters = http://cache.example.org oci://…      CALD_SUBSTITUTERS

/** Longer lines are refused, so a C reader with a fixed line buffer reads what cald reads. */
export const MAX_LINE = 4096;
export interface RemoteConfig {
  readonly trustedKeys: readonly PublicKey[];
  readonly requireSignatures: boolean;
  readonly signingKeyFile: string | undefined;
  /** Remotes to fetch missing objects from, in order (lazy fetch, `cald run`). */
  readonly substituters: readonly string[];
  /** The file read, if there was one. */
  readonly file: string | undefined;
}

const SETTINGS: Record<string, string> = {
  'trusted-public-keys': 'CALD_TRUSTED_PUBLIC_KEYS',
  'require-signatures': 'CALD_REQUIRE_SIGNATURES',
  'signing-key-file': 'CALD_SIGNING_KEY_FILE',
  substituters: 'CALD_SUBSTITUTERS',
};

export function configPath(env: Readonly<Record<string, string | undefined>>): string {
  // A relative XDG_CONFIG_HOME is ignored, as the XDG base directory specification requires.
  const base =
    env.XDG_CONFIG_HOME !== undefined && isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : join(env.HOME ?? homedir(), '.config');
  return join(base, 'cald', 'cald.conf');
}

function readSettings(path: string): Map<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const settings = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    if (Buffer.byteLength(raw) > MAX_LINE)
      throw new UsageError(`${path}:${i + 1}: longer than ${MAX_LINE} bytes`);
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq).trim();
    if (eq < 0 || SETTINGS[key] === undefined) {
      throw new UsageError(`${path}:${i + 1}: ${eq < 0 ? 'not `name = value`' : `unknown setting ${key}`}`, {
        hint: `settings: ${Object.keys(SETTINGS).join(', ')}`,
      });
    }
    settings.set(key, line.slice(eq + 1).trim());
  });
  return settings;
}

export function loadRemoteConfig(env: Readonly<Record<string, string | undefined>>): RemoteConfig {
  const path = configPath(env);
  const file = readSettings(path);
  const get = (key: string): string | undefined => env[SETTINGS[key]!] ?? file?.get(key);
  const keys = (get('trusted-public-keys') ?? '').split(/\s+/).filter((k) => k !== '');
  const require = get('require-signatures') ?? 'true';
  if (require !== 'true' && require !== 'false') {
    throw new UsageError(`require-signatures = ${require}: true or false`);
  }
  const substituters = (get('substituters') ?? '').split(/\s+/).filter((r) => r !== '');
  for (const r of substituters) {
    let kind: string;
    try {
      kind = parseStoreUrl(r, undefined, r).kind;
    } catch (e) {
      throw new UsageError(`substituters: ${isCaldError(e) ? e.message : String(e)}`);
    }
    if (kind === 'local') throw new UsageError(`substituters: ${r} is not a remote (oci:// or http(s)://)`);
  }
  return {
    trustedKeys: keys.map(parsePublicKey),
    requireSignatures: require === 'true',
    signingKeyFile: get('signing-key-file'),
    substituters,
    file: file === undefined ? undefined : path,
  };
}

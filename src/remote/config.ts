import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors/index.js';
import { type PublicKey, parsePublicKey } from './signing.js';

// cald's settings for remotes, in one file like nix.conf: `$XDG_CONFIG_HOME/cald/cald.conf`
// (else ~/.config/cald/cald.conf), lines `name = value`, `#` comments. An environment variable
// overrides each setting (docs/distribution.md, "Configuration").
//
//   trusted-public-keys = cache.example.org-1:BASE64 …   CALD_TRUSTED_PUBLIC_KEYS
//   require-signatures = true | false                    CALD_REQUIRE_SIGNATURES
//   signing-key-file = /path/to/secret.key               CALD_SIGNING_KEY_FILE
//   substituters = http://cache.example.org oci://…      CALD_SUBSTITUTERS

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
  const base =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ''
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
  return {
    trustedKeys: keys.map(parsePublicKey),
    requireSignatures: require === 'true',
    signingKeyFile: get('signing-key-file'),
    substituters: (get('substituters') ?? '').split(/\s+/).filter((u) => u !== ''),
    file: file === undefined ? undefined : path,
  };
}

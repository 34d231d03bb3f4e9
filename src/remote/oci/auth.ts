import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RemoteError } from '../../errors/index.js';
import { readSmallBody, request } from '../http.js';

// Credentials the way docker and skopeo find them, and the registry's challenge answered the way
// the distribution spec's token flow describes: a 401 names `Basic` (send the credentials) or
// `Bearer realm=…,service=…,scope=…` (ask the realm for a token, with the credentials if any).

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Credentials for `registry` (`host[:port]`): CALD_REGISTRY_USER and CALD_REGISTRY_PASSWORD, else
 * the `auths` entry of docker's config.json ($DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json), written by `docker login` or `skopeo login --authfile`.
 */
export function credentialsFor(registry: string, env: Env): Credentials | undefined {
  if (env.CALD_REGISTRY_USER !== undefined && env.CALD_REGISTRY_PASSWORD !== undefined) {
    return { username: env.CALD_REGISTRY_USER, password: env.CALD_REGISTRY_PASSWORD };
  }
  const dir = env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker');
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const auths = config.auths ?? {};
  const entry = auths[registry] ?? auths[`https://${registry}`] ?? auths[`http://${registry}`];
  if (entry === undefined) return undefined;
  if (entry.username !== undefined && entry.password !== undefined) {
    return { username: entry.username, password: entry.password };
  }
  if (entry.auth === undefined) return undefined;
  const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = plain.indexOf(':');
  if (colon < 0) return undefined;
  return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** `Bearer realm="…",service="…"` → { scheme: 'bearer', params }. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)="([^"]*)"/g;
  for (const m of header.slice(space + 1).matchAll(re)) params[m[1]!.toLowerCase()] = m[2]!;
  return { scheme, params };
}

const MAX_TOKEN_ANSWER = 64 * 1024;

/**
 * The Authorization header that answers a 401's challenge, or a REMOTE_AUTH error saying why
 * there is none (no credentials for a Basic realm, a token server that refused).
 */
export async function answerChallenge(
  challenge: string,
  registry: string,
  credentials: Credentials | undefined,
): Promise<string> {
  const { scheme, params } = parseChallenge(challenge);
  if (scheme === 'basic') {
    if (credentials === undefined) throw noCredentials(registry);
    return basicHeader(credentials);
  }
  if (scheme !== 'bearer' || params.realm === undefined) {
    throw new RemoteError('REMOTE_AUTH', `${registry} asks for '${challenge}', which cald does not speak`, {
      data: { remote: registry },
    });
  }
  // The realm comes from the registry's answer: an http(s) URL, or no token is asked for (a
  // malformed one ended cald as an internal error, a file: one as "cannot reach null").
  const url = URL.canParse(params.realm) ? new URL(params.realm) : undefined;
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new RemoteError(
      'REMOTE_AUTH',
      `${registry} names a token server that is not an http(s) URL: ${params.realm.slice(0, 100)}`,
      { data: { remote: registry } },
    );
  }
  if (params.service !== undefined) url.searchParams.set('service', params.service);
  if (params.scope !== undefined) url.searchParams.set('scope', params.scope);
  const answer = await request(url.toString(), {
    ...(credentials === undefined ? {} : { authorization: basicHeader(credentials) }),
  });
  const body = await readSmallBody(answer, MAX_TOKEN_ANSWER);
  if (answer.status === 401 || answer.status === 403) {
    throw credentials === undefined ? noCredentials(registry) : refused(registry);
  }
  let token: unknown;
  try {
    const json = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown };
    token = json.token ?? json.access_token;
  } catch {
    token = undefined;
  }
  if (answer.status !== 200 || typeof token !== 'string' || token === '') {
    throw new RemoteError(
      'REMOTE_AUTH',
      `${registry}: the token server ${url.origin} gave no token (${answer.status})`,
      {
        data: { remote: registry, url: url.toString() },
      },
    );
  }
  return `Bearer ${token}`;
}

function noCredentials(registry: string): RemoteError {
  return new RemoteError('REMOTE_AUTH', `${registry} wants credentials and none are configured`, {
    hint: `log in (docker login / skopeo login ${registry}) or set CALD_REGISTRY_USER and CALD_REGISTRY_PASSWORD`,
    data: { remote: registry },
  });
}

export function refused(registry: string): RemoteError {
  return new RemoteError('REMOTE_AUTH', `${registry} refused the credentials`, {
    hint: 'check the user name and password (docker login, or CALD_REGISTRY_USER/CALD_REGISTRY_PASSWORD)',
    data: { remote: registry },
  });
}

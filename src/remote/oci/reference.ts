import { UsageError } from '../../errors/index.js';

/** Where a repository of an OCI registry is: `oci://host[:port]/path/of/repo`. */
export interface OciRepository {
  /** `host[:port]`, as in docker's config.json and in WWW-Authenticate scopes. */
  readonly registry: string;
  /** `path/of/repo`: lowercase components, as the distribution spec's grammar allows. */
  readonly repository: string;
  /** `https://host[:port]`, or `http://` for a registry on this machine (loopback), as docker does. */
  readonly base: string;
}

// The distribution spec's repository name grammar.
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(h);
}

/**
 * Parses `oci://host[:port]/repo` (the scheme may be left out). Refused with a usage line: no
 * repository, characters the spec does not allow, a path that tries to climb (`..`).
 */
export function parseOciRepository(text: string, options: { insecure?: boolean } = {}): OciRepository {
  const rest = text.startsWith('oci://') ? text.slice('oci://'.length) : text;
  const slash = rest.indexOf('/');
  const registry = slash < 0 ? rest : rest.slice(0, slash);
  const repository = slash < 0 ? '' : rest.slice(slash + 1);
  if (!HOST.test(registry) || repository === '') {
    throw new UsageError(`${text}: not an OCI repository (oci://HOST[:PORT]/REPOSITORY)`);
  }
  if (repository.length > 255 || !repository.split('/').every((c) => COMPONENT.test(c))) {
    throw new UsageError(
      `${text}: repository '${repository}' is not a valid name (lowercase letters, digits, '.', '_', '-', '/')`,
    );
  }
  const http = options.insecure === true || isLoopback(registry);
  return { registry, repository, base: `${http ? 'http' : 'https'}://${registry}` };
}

/** A tag as the spec allows: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`. */
export function isOciTag(text: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(text);
}

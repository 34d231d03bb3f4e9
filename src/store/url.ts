import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreError } from '../errors/index.js';

/**
 * What a store string names (docs/store-layout.md, "Naming a store"): a local store directory
 * (`file:///…` or a plain path), an HTTP cache (`http(s)://…`) or an OCI registry repository
 * (`oci://host[:port]/repo`). Parsed here and nowhere else; opened in api/store-open.ts.
 */
export type StoreUrl =
  | { readonly kind: 'local'; readonly path: string }
  | { readonly kind: 'http'; readonly url: string }
  | { readonly kind: 'oci'; readonly url: string };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/**
 * Parses a store string. A relative path is taken from `cwd`, or refused (STORE_RELATIVE) when
 * no cwd is given: what is inherited by processes in other directories must be absolute.
 * `what` names the setting in messages (`--store`, `CALD_STORE=…`).
 */
export function parseStoreUrl(text: string, cwd: string | undefined, what = 'the store'): StoreUrl {
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (text.includes('\0')) throw bad(text, what, 'a path has no NUL byte');
    if (!isAbsolute(text)) {
      if (cwd === undefined) {
        throw new StoreError('STORE_RELATIVE', `${what} is a relative path`, {
          hint: 'give an absolute path (or pass --store DIR)',
          data: { store: text },
        });
      }
      return { kind: 'local', path: resolve(cwd, text) };
    }
    return { kind: 'local', path: resolve(text) };
  }
  if (scheme === 'file') {
    let path: string;
    try {
      path = fileURLToPath(text);
    } catch (e) {
      throw bad(text, what, `not a local file URL (${(e as Error).message})`);
    }
    if (path.includes('\0')) throw bad(text, what, 'a path has no NUL byte');
    return { kind: 'local', path: resolve(path) };
  }
  if (scheme === 'http' || scheme === 'https') {
    let u: URL;
    try {
      u = new URL(text);
    } catch {
      throw bad(text, what, 'not a URL');
    }
    return { kind: 'http', url: u.toString().replace(/\/+$/, '') };
  }
  if (scheme === 'oci') {
    if (!/^oci:\/\/[^/\s]+\/\S+$/.test(text)) throw bad(text, what, 'oci://HOST[:PORT]/REPOSITORY');
    return { kind: 'oci', url: text };
  }
  throw bad(text, what, `unknown scheme ${scheme}://`);
}

function bad(text: string, what: string, why: string): StoreError {
  return new StoreError('STORE_BAD_URL', `${what} ${JSON.stringify(text)}: ${why}`, {
    hint: 'a store is a directory, file:///DIR, http(s)://HOST/PATH or oci://HOST[:PORT]/REPOSITORY',
    data: { store: text },
  });
}

/** The local directory a parsed store names, or STORE_NOT_LOCAL for a remote. */
export function localPathOf(url: StoreUrl, what: string): string {
  if (url.kind === 'local') return url.path;
  throw new StoreError(
    'STORE_NOT_LOCAL',
    `${what} names a remote (${url.url}); this needs a local store directory`,
    {
      hint: 'a remote goes after push or pull, or in the remotes of cald.conf (docs/distribution.md)',
      data: { store: url.url },
    },
  );
}

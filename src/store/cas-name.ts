import { BadNameError } from '../errors/index.js';
import { Digest, quote } from './digest.js';

/**
 * The DT_NEEDED name of a stored object (docs/spec.md):
 *
 *     cas:<algorithm>:<hex>[?name=<hint>]      e.g. cas:sha256:5f0c…e1?name=libz.so.1
 *
 * The whole name is at most 255 bytes (musl's cap on a library name). It never contains `/`
 * (the loader would open it as a path) or `$` (the loader would expand it as $ORIGIN etc.).
 */
export const CAS_PREFIX = 'cas:';
export const HINT_PREFIX = '?name=';
/** musl refuses longer library names; glibc's file systems cap a file name at 255 bytes too. */
export const MAX_NAME_BYTES = 255;

/**
 * Bytes a hint may contain: ASCII letters, digits and `. _ - + ~ @ , :`. This covers real
 * sonames (libstdc++.so.6, ld-linux-x86-64.so.2, libgtk-3.so.0) and keeps out everything the
 * loader, the shell or a file system treats specially: `/` and NUL (paths), `$` (loader
 * expansion), space (LD_PRELOAD separator), `?` `&` `=` `#` `%` (reserved for future
 * parameters and escapes), quotes and backslashes (shells), and non-ASCII (ambiguous encodings).
 */
const HINT_CHARS = /^[A-Za-z0-9._+~@,:-]+$/;

export interface CasName {
  readonly digest: Digest;
  /** The original needed name, kept for people and for the opt-in fallback. */
  readonly hint: string | undefined;
}

function bad(code: `NAME_${string}`, message: string, value: string, hint?: string): BadNameError {
  return new BadNameError(code, message, { data: { value }, ...(hint === undefined ? {} : { hint }) });
}

/** Throws BadNameError unless `hint` may follow `?name=`. */
export function checkHint(hint: string): void {
  if (hint.length === 0) throw bad('NAME_BAD_HINT', 'empty name hint (omit ?name= instead)', hint);
  if (!HINT_CHARS.test(hint)) {
    throw bad(
      'NAME_BAD_HINT',
      `name hint ${quote(hint)} contains a character outside A-Z a-z 0-9 . _ - + ~ @ , :`,
      hint,
      'hints may not contain / $ ? & = # % spaces, control or non-ASCII characters (docs/spec.md)',
    );
  }
  if (hint.includes('..')) throw bad('NAME_BAD_HINT', `name hint ${quote(hint)} contains ".."`, hint);
}

/** `cas:sha256:<hex>` or, with a hint, `cas:sha256:<hex>?name=<hint>`. Throws on a bad hint or length. */
export function formatCasName(digest: Digest, hint?: string): string {
  let name = `${CAS_PREFIX}${digest.toString()}`;
  if (hint !== undefined) {
    checkHint(hint);
    name += `${HINT_PREFIX}${hint}`;
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw bad(
      'NAME_TOO_LONG',
      `name ${quote(name)} is ${Buffer.byteLength(name)} bytes, over the ${MAX_NAME_BYTES}-byte limit`,
      name,
      'use a shorter hint or none',
    );
  }
  return name;
}

/** Parses a `cas:` name strictly (only the canonical spelling is accepted). */
export function parseCasName(text: string): CasName {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_NAME_BYTES) {
    throw bad('NAME_TOO_LONG', `name is ${bytes} bytes, over the ${MAX_NAME_BYTES}-byte limit`, text);
  }
  if (!text.startsWith(CAS_PREFIX)) {
    throw bad('NAME_NOT_CAS', `not a cas: name: ${quote(text)}`, text, 'expected cas:sha256:<64 hex>');
  }
  // Checked before anything else so the message says what is dangerous about the name.
  for (const [ch, why] of [
    ['\0', 'NUL'],
    ['/', '"/" (the loader would open it as a path)'],
    ['$', '"$" (the loader would expand it)'],
  ] as const) {
    if (text.includes(ch)) throw bad('NAME_BAD_CHAR', `name ${quote(text)} contains ${why}`, text);
  }
  const q = text.indexOf('?');
  const digestPart = q < 0 ? text.slice(CAS_PREFIX.length) : text.slice(CAS_PREFIX.length, q);
  const digest = Digest.parse(digestPart);
  if (q < 0) return { digest, hint: undefined };
  const query = text.slice(q);
  if (!query.startsWith(HINT_PREFIX)) {
    throw bad(
      'NAME_BAD_PARAMETER',
      `unknown parameter in ${quote(text)}: only ?name=<hint> is defined`,
      text,
      'the name was made by a newer cald, or is mistyped',
    );
  }
  const hint = query.slice(HINT_PREFIX.length);
  checkHint(hint);
  return { digest, hint };
}

export function tryParseCasName(text: string): CasName | undefined {
  try {
    return parseCasName(text);
  } catch {
    return undefined;
  }
}

export function isCasName(text: string): boolean {
  return tryParseCasName(text) !== undefined;
}

/**
 * A hint for an original needed name or path: its last path component, if that is a valid
 * hint and fits; otherwise undefined (the name is then written without a hint).
 */
export function hintFromName(original: string): string | undefined {
  const base = original.slice(original.lastIndexOf('/') + 1);
  try {
    checkHint(base);
  } catch {
    return undefined;
  }
  const room = MAX_NAME_BYTES - `${CAS_PREFIX}sha256:`.length - 64 - HINT_PREFIX.length;
  return base.length <= room ? base : undefined;
}

/**
 * The first DT_NEEDED of a program imported with `--audit` (docs/spec.md, "The audit sentinel"):
 * `/proc/needs-libcald-audit.so/cas:sha256:<hex>`, the content name of an empty object behind a
 * directory no user can create. ld.so opens a name with `/` directly, never searching, so without
 * the resolver the program stops at this entry, before any `cas:` name is looked for.
 */
export const AUDIT_SENTINEL_PREFIX = '/proc/needs-libcald-audit.so/';

export function formatAuditSentinel(digest: Digest): string {
  return `${AUDIT_SENTINEL_PREFIX}${formatCasName(digest)}`;
}

/** The content name inside an audit sentinel (`cas:sha256:<hex>`), or undefined for any other name. */
export function auditSentinelTarget(text: string): string | undefined {
  if (!text.startsWith(AUDIT_SENTINEL_PREFIX)) return undefined;
  const inner = text.slice(AUDIT_SENTINEL_PREFIX.length);
  const cas = tryParseCasName(inner);
  return cas !== undefined && cas.hint === undefined ? inner : undefined;
}

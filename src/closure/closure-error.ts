import { CaldError } from '../errors/index.js';

type ErrorOptions = { hint?: string; data?: Record<string, unknown>; cause?: unknown };

/**
 * Finding a program's library closure failed, or an input to it (ld.so.cache, the program) is not
 * usable. Missing libraries are not errors: they are reported in the closure itself.
 */
export class ClosureError extends CaldError {
  constructor(code: `CLOSURE_${string}`, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** /etc/ld.so.cache (or a given cache file) is truncated or corrupt. ld.so then ignores the cache. */
export class LdCacheError extends CaldError {
  constructor(code: `LDCACHE_${string}`, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

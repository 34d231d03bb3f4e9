import { CaldError } from './cald-error.js';

type ErrorOptions = { hint?: string; data?: Record<string, unknown>; cause?: unknown };

/**
 * A store cannot be used as asked: missing, not a directory, not a cald store, an object or name
 * that is not there. `data.store` names the store directory where one is involved.
 */
export class StoreError extends CaldError {
  constructor(code: `STORE_${string}`, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * Bytes are not what their name says: a stored object whose content no longer hashes to its
 * digest, a source that changed while it was being stored, a corrupt index.
 */
export class StoreIntegrityError extends CaldError {
  constructor(code: `INTEGRITY_${string}`, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A digest, `cas:` name, hint or root id that is malformed (docs/spec.md gives the grammar). */
export class BadNameError extends CaldError {
  constructor(code: `NAME_${string}`, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

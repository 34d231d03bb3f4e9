import { CaldError } from './cald-error.js';

/**
 * What a command was asked about is not there: no imported program by that name, no stored
 * object with that digest, no root with that id. The store itself is fine (that is StoreError).
 */
export class NotFoundError extends CaldError {
  constructor(
    code: `NOT_FOUND_${string}`,
    message: string,
    options: { hint?: string; data?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

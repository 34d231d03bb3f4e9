import { CaldError } from './cald-error.js';

type ErrorOptions = { hint?: string; data?: Record<string, unknown>; cause?: unknown };

/**
 * A remote (an OCI registry, an HTTP cache) did not do what was asked: unreachable, refused the
 * credentials, answered with an error, sent bytes that are not what their digest says, too many
 * of them, or too slowly. `data.remote` names the remote; `data.url` the request where one is
 * involved.
 */
export class RemoteError extends CaldError {
  constructor(code: `REMOTE_${string}`, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}

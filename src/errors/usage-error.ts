import { CaldError } from './cald-error.js';

/** The command line or an API option is wrong. */
export class UsageError extends CaldError {
  constructor(message: string, options: { hint?: string; data?: Record<string, unknown> } = {}) {
    super('USAGE', message, options);
  }
}

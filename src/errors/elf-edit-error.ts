import { CaldError } from './cald-error.js';

/** A well-formed ELF file on which the asked edit cannot be carried out safely. */
export class ElfEditError extends CaldError {
  constructor(
    code: `EDIT_${string}`,
    message: string,
    options: { hint?: string; data?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

import { CaldError } from './cald-error.js';

/** The input is not a well-formed ELF file (or not one this operation can handle). */
export class ElfFormatError extends CaldError {
  constructor(
    code: `ELF_${string}`,
    message: string,
    options: { hint?: string; data?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

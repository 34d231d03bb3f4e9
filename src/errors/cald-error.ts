/**
 * The base of every error cald raises on purpose. `code` is stable and machine-readable
 * (the CLI maps it to an exit status and prints it in --json output); `message` is one line
 * for a person saying what and where; `hint` says what to do about it.
 */
export class CaldError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly data: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    options: { hint?: string; data?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.data = options.data ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { error: this.name, code: this.code, message: this.message, hint: this.hint, ...this.data };
  }
}

export function isCaldError(e: unknown): e is CaldError {
  return e instanceof CaldError;
}

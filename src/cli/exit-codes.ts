/**
 * Exit statuses of the cald command, chosen from an error's stable `code` (docs/cli.md lists them).
 * Scripts may rely on these numbers: add new ones, never renumber.
 */
export const EXIT = {
  OK: 0,
  /** A CaldError of a family not listed below. */
  FAILURE: 1,
  /** The command line is wrong (code USAGE, a malformed name NAME_*, or commander's own errors). */
  USAGE: 2,
  /** The input is not a well-formed ELF file (codes ELF_*). */
  FORMAT: 3,
  /** A well-formed ELF file on which the asked edit cannot be done safely (codes EDIT_*). */
  EDIT: 4,
  /** A file-system operation failed (codes IO_*). */
  IO: 5,
  /** The content-addressed store is missing or inconsistent (codes STORE_*). */
  STORE: 6,
  /** A remote cache or registry failed (codes REMOTE_*). */
  REMOTE: 7,
  /** No such program, object or root in the store (codes NOT_FOUND_*); the store itself is fine. */
  NOT_FOUND: 8,
  /** A bug in cald: an error that is not a CaldError (EX_SOFTWARE from sysexits.h). */
  INTERNAL: 70,
} as const;

const BY_PREFIX: ReadonlyArray<readonly [string, number]> = [
  ['USAGE', EXIT.USAGE],
  ['NAME_', EXIT.USAGE],
  ['ELF_', EXIT.FORMAT],
  ['EDIT_', EXIT.EDIT],
  ['IO_', EXIT.IO],
  ['STORE_', EXIT.STORE],
  ['REMOTE_', EXIT.REMOTE],
  ['NOT_FOUND_', EXIT.NOT_FOUND],
];

/** The code prefixes and the status each maps to (docs/cli.md's table is checked against it). */
export const EXIT_PREFIXES = BY_PREFIX;

/** Codes of other families that stand for one of the kinds above (the same input, the same status). */
const BY_CODE: Readonly<Record<string, number>> = {
  /** cald import of a file that is not ELF: as inspect and ldd. */
  CLOSURE_NOT_ELF: EXIT.FORMAT,
  CLOSURE_NO_PROGRAM: EXIT.IO,
};

/** The exact codes mapped outside their family (docs/cli.md's table is checked against it). */
export const EXIT_CODES_BY_NAME = BY_CODE;

/** The exit status for a CaldError's code. */
export function exitCodeFor(code: string): number {
  const exact = BY_CODE[code];
  if (exact !== undefined) return exact;
  for (const [prefix, status] of BY_PREFIX) if (code.startsWith(prefix)) return status;
  return EXIT.FAILURE;
}

/**
 * One status for several failures (cald inspect A B C): theirs when they all agree, else FAILURE.
 * OK when there were none.
 */
export function combineExitCodes(statuses: readonly number[]): number {
  const failed = statuses.filter((s) => s !== EXIT.OK);
  const first = failed[0];
  if (first === undefined) return EXIT.OK;
  return failed.every((s) => s === first) ? first : EXIT.FAILURE;
}

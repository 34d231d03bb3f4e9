import { CALD_VERSION } from '../version.js';

/**
 * The patchelf release whose command line cald implements. `--version` prints it first, as
 * `patchelf X.Y.Z`, because tools check it (auditwheel and cx_Freeze match
 * /patchelf\s+(\d+(.\d+)?)/ and want at least 0.14); the second line says what this really is.
 */
export const PATCHELF_COMPAT_VERSION = '0.18.0';

export function versionText(): string {
  return `patchelf ${PATCHELF_COMPAT_VERSION}\ncald ${CALD_VERSION}: patchelf-compatible implementation (cald patchelf), not the original patchelf\n`;
}

export function helpText(program: string): string {
  return `usage: ${program} [OPTION]... FILE...

cald's patchelf-compatible command (patchelf ${PATCHELF_COMPAT_VERSION} command line): prints and
edits the interpreter, search path, needed libraries and soname of ELF programs and libraries.
Options and file names may come in any order; all edits to a file are made in one pass and the
file is replaced atomically. An option value written @FILE is read from FILE (the options marked @).

Print:
  --print-interpreter            the program's interpreter (PT_INTERP)
  --print-rpath                  DT_RUNPATH, else DT_RPATH (an empty line when neither)
  --print-needed                 the DT_NEEDED names, one a line
  --print-soname                 DT_SONAME of a shared library (nothing when it has none)
  --print-os-abi                 e_ident[EI_OSABI] by name
  --print-execstack              "execstack: X" (executable), "-" (not) or "?" (no PT_GNU_STACK)

Edit:
  --set-interpreter PATH @       also --interpreter
  --set-rpath RPATH @            sets DT_RUNPATH (DT_RPATH with --force-rpath)
  --add-rpath RPATH @            appends to the search path
  --remove-rpath                 removes DT_RPATH and DT_RUNPATH
  --shrink-rpath                 keeps the directories that hold a needed library
  --allowed-rpath-prefixes P:Q   with --shrink-rpath: drops directories outside these prefixes
  --force-rpath                  write DT_RPATH, not DT_RUNPATH
  --add-needed LIB @             (repeatable)
  --remove-needed LIB @          (repeatable; also removes its symbol-version record)
  --replace-needed LIB NEW_LIB   (repeatable)
  --set-soname SONAME @
  --set-os-abi ABI @             e.g. linux, sysv, freebsd
  --no-default-lib               sets DF_1_NODEFLIB
  --add-debug-tag                adds DT_DEBUG when missing
  --set-execstack, --clear-execstack
  --clear-symbol-version SYMBOL  gives SYMBOL's dynamic symbols no version (repeatable)
  --rename-dynamic-symbols MAP   renames dynamic symbols, one "OLD NEW" pair a line in MAP
  --no-sort                      accepted; cald never sorts program or section headers
  --page-size SIZE               page size for a new segment (a power of two)

Other:
  --output FILE @                write to FILE (always) instead of editing FILE in place
  --debug                        say what is done on stderr (also PATCHELF_DEBUG=1)
  --version                      "patchelf ${PATCHELF_COMPAT_VERSION}" then cald's version
  --help, -h

Examples:
  $ ${program} --print-needed ./prog
  $ ${program} --set-rpath '$ORIGIN/../lib' --add-needed libfoo.so.1 ./prog
  $ ${program} --replace-needed libssl.so.1.1 libssl.so.3 --output ./prog.new ./prog

Exit status: 0 on success, 1 on any error (one line on stderr naming the file).
See docs/patchelf.md for the differences from patchelf.
`;
}

import { statSync } from 'node:fs';
import type { ElfFile } from '../elf/read/index.js';
import { CaldError } from '../errors/index.js';
import { Digest, digestOfFile } from '../store/digest.js';
import type { LoaderView } from '../store/local/loader-view.js';

/** The ELF note the importer adds to a program: owner "cald", type 1, text `sha256:<hex>`. */
export const NOTE_OWNER = 'cald';
export const NT_CALD_INTERP = 1;
/**
 * Type 2: the original paths of the files imported with a program, each the object's 64 hex digits
 * then the absolute path and a NUL. The resolver answers a dlopen by one of these paths from this
 * note in the program's own image only (docs/resolver.md), so the program's hash pins the mapping.
 */
export const NT_CALD_PATHS = 2;

/** The interpreter a program was imported with, from its cald note; undefined without one. */
export function interpreterNote(elf: ElfFile): Digest | undefined {
  const note = elf.notes.find((n) => n.name === NOTE_OWNER && n.type === NT_CALD_INTERP);
  if (note === undefined) return undefined;
  const text = note.desc.toString('latin1').replace(/\0+$/, '');
  const digest = Digest.tryParse(text);
  if (digest === undefined) {
    throw new CaldError(
      'RUN_BAD_NOTE',
      `the program's cald interpreter note is malformed: ${JSON.stringify(text)}`,
      {
        hint: 'import the program again',
      },
    );
  }
  return digest;
}

/**
 * How to start a program:
 * - `direct`: exec it; the kernel loads its PT_INTERP (no note, or the host file matches it);
 * - `stored-loader`: the host's PT_INTERP file is not the loader the program was imported with,
 *   so run the stored copy explicitly: `<loader> --argv0 NAME PROGRAM ARGS...`.
 */
export type LoaderPlan =
  | { readonly kind: 'direct'; readonly interp: string | undefined; readonly noted: Digest | undefined }
  | {
      readonly kind: 'stored-loader';
      readonly interp: string;
      readonly noted: Digest;
      /** The host file's digest; undefined when it does not exist. */
      readonly host: Digest | undefined;
      readonly loader: string;
    };

/** The stat signature libcald-audit.so and cald-launch use: dev-ino-size-mtime.ns-ctime.ns. */
export function statSignature(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    const t = (ns: bigint) => `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
    return `${st.dev}-${st.ino}-${st.size}-${t(st.mtimeNs)}-${t(st.ctimeNs)}`;
  } catch {
    return undefined;
  }
}

function hostDigest(path: string): Digest | undefined {
  try {
    return digestOfFile(path);
  } catch {
    return undefined;
  }
}

/** Decides direct exec or the stored loader by hashing the host's PT_INTERP file. */
export function planLoader(elf: ElfFile, store: LoaderView | undefined): LoaderPlan {
  const interp = elf.interp?.value;
  const noted = interpreterNote(elf);
  if (interp === undefined || noted === undefined) return { kind: 'direct', interp, noted };
  const host = hostDigest(interp);
  if (host?.equals(noted)) return { kind: 'direct', interp, noted };
  if (store === undefined || !store.has(noted)) {
    throw new CaldError(
      'RUN_LOADER_MISSING',
      `the program was imported with the loader ${noted}, the host's ${interp} is ${host ?? 'missing'}, and the store does not have ${noted}`,
      {
        hint: 'import the program again on this machine, or into the store that has its loader',
        data: { interp, noted: noted.toString(), host: host?.toString() },
      },
    );
  }
  return { kind: 'stored-loader', interp, noted, host, loader: store.pathOf(noted) };
}

/** Program and arguments to exec for a plan (argv[0] is set separately for `direct`). */
export function commandFor(
  plan: LoaderPlan,
  program: string,
  argv0: string,
  args: readonly string[],
): { file: string; args: string[]; argv0: string } {
  if (plan.kind === 'direct') return { file: program, args: [...args], argv0 };
  return { file: plan.loader, args: ['--argv0', argv0, program, ...args], argv0: plan.loader };
}

/** One line for CALD_DEBUG saying which way a program starts. */
export function describePlan(plan: LoaderPlan, program: string): string {
  if (plan.kind === 'direct') {
    if (plan.noted === undefined)
      return `cald: exec ${program} (no cald interpreter note: the host loader is used)`;
    return `cald: exec ${program} (host loader ${plan.interp} is ${plan.noted})`;
  }
  return `cald: the host loader ${plan.interp} is ${plan.host ?? 'missing'}, not ${plan.noted} the program was imported with; running the stored loader explicitly: ${plan.loader} --argv0 … ${program} (/proc/self/exe is then the loader)`;
}

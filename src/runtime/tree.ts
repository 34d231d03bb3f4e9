import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { ElfFile } from '../elf/read/index.js';
import { isCaldError } from '../errors/index.js';
import { auditSentinelTarget, CAS_PREFIX, tryParseCasName } from '../store/cas-name.js';
import { digestOfBuffer } from '../store/digest.js';
import type { LoaderView } from '../store/local/loader-view.js';
import { toText } from '../util/elf-string.js';
import { readRegularFile } from '../util/input-file.js';

/**
 * The state of one needed name:
 * - `verified`: a `cas:` name whose object exists and hashes to its name;
 * - `tampered`: the object exists but hashes to something else;
 * - `missing`: no object for a `cas:` name;
 * - `malformed`: starts with `cas:` but is not a valid name (the resolver refuses it);
 * - `unreadable`: the object exists but cannot be read or parsed;
 * - `host`: a normal name, resolved by the host loader's search;
 * - `host-missing`: a normal name the host loader did not find;
 * - `host-unknown`: a normal name not resolved because the host loader stopped early (a refused
 *   object, see HostListing.error) or was not asked.
 */
export type NeededState =
  | 'verified'
  | 'tampered'
  | 'missing'
  | 'malformed'
  | 'unreadable'
  | 'host'
  | 'host-missing'
  | 'host-unknown';

export interface NeededNode {
  readonly name: string;
  readonly state: NeededState;
  /** The `?name=` hint of a `cas:` name. */
  readonly hint?: string;
  readonly digest?: string;
  /** The object (cas) or the file the host loader chose (host); null when none. */
  readonly path: string | null;
  /** For `tampered`: what the object hashes to. */
  readonly actual?: string;
  readonly message?: string;
  /** The object's own needed names; absent when it was listed earlier in the tree (`seen`). */
  readonly needed?: NeededNode[];
  readonly seen?: true;
}

export interface HostListing {
  /** name → path for normal names, from `ld.so --list`. */
  readonly paths: ReadonlyMap<string, string>;
  /** Why the listing failed, when it did (a refused object stops the loader). */
  readonly error?: string;
}

/**
 * Runs `<loader> --list PROGRAM` with `env` (the audit environment) and reads what the loader
 * resolved normal names to. The loader does the real search (ld.so.cache, RUNPATH, hwcaps...), so
 * cald does not second-guess it; with LD_AUDIT it also checks every `cas:` object again.
 */
export function listWithLoader(loader: string, program: string, env: Record<string, string>): HostListing {
  // A PT_INTERP of an empty string (a damaged file): no loader to ask, as the kernel would find none.
  if (loader === '') return { paths: new Map(), error: 'its interpreter (PT_INTERP) is an empty string' };
  const r = spawnSync(loader, ['--list', program], { env: { ...env, LC_ALL: 'C' }, encoding: 'utf8' });
  const paths = new Map<string, string>();
  for (const line of (r.stdout ?? '').split('\n')) {
    const m = /^\t(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined && m[2] !== 'not found') {
      paths.set(m[1], m[2]);
      continue;
    }
    const p = /^\t(\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (p?.[1] !== undefined && !paths.has(basename(p[1]))) paths.set(basename(p[1]), p[1]);
  }
  if (r.error !== undefined) return { paths, error: r.error.message };
  if (r.status !== 0) {
    const first = (r.stderr ?? '').split('\n').find((l) => l.trim() !== '') ?? `exit status ${r.status}`;
    return { paths, error: first };
  }
  return { paths };
}

export interface TreeInput {
  readonly store: LoaderView | undefined;
  readonly elf: ElfFile;
  readonly host: HostListing | undefined;
}

/** Walks DT_NEEDED from the program down, verifying every `cas:` object once. */
export function neededTree(input: TreeInput): NeededNode[] {
  const seen = new Set<string>();
  const walk = (elf: ElfFile, depth: number): NeededNode[] =>
    elf.needed.map((raw) => {
      const name = toText(raw);
      const casText = auditSentinelTarget(name) ?? name; // an --audit program's empty first object
      if (!casText.startsWith(CAS_PREFIX)) {
        const path = input.host?.paths.get(name) ?? null;
        if (path !== null) return { name, state: 'host' as const, path };
        if (input.host === undefined || input.host.error !== undefined) {
          return { name, state: 'host-unknown' as const, path, message: input.host?.error ?? 'not asked' };
        }
        return { name, state: 'host-missing' as const, path, message: 'the host loader did not find it' };
      }
      const cas = tryParseCasName(casText);
      if (cas === undefined) return { name, state: 'malformed' as const, path: null };
      const base = {
        name,
        digest: cas.digest.toString(),
        ...(cas.hint === undefined ? {} : { hint: cas.hint }),
      };
      if (input.store === undefined)
        return { ...base, state: 'missing' as const, path: null, message: 'no store' };
      const path = input.store.pathOf(cas.digest);
      let bytes: Buffer;
      try {
        bytes = readRegularFile(path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        return code === 'ENOENT'
          ? { ...base, state: 'missing' as const, path }
          : { ...base, state: 'unreadable' as const, path, message: String((e as Error).message) };
      }
      const actual = digestOfBuffer(bytes, cas.digest.algorithm);
      if (!actual.equals(cas.digest))
        return { ...base, state: 'tampered' as const, path, actual: actual.toString() };
      const key = cas.digest.toString();
      if (seen.has(key)) return { ...base, state: 'verified' as const, path, seen: true as const };
      seen.add(key);
      try {
        return {
          ...base,
          state: 'verified' as const,
          path,
          needed: depth > 64 ? [] : walk(ElfFile.parse(bytes), depth + 1),
        };
      } catch (e) {
        return {
          ...base,
          state: 'unreadable' as const,
          path,
          message: isCaldError(e) ? e.message : String(e),
        };
      }
    });
  return walk(input.elf, 0);
}

/** Every node of a tree, depth first. */
export function* nodesOf(tree: readonly NeededNode[]): Generator<NeededNode> {
  for (const n of tree) {
    yield n;
    if (n.needed !== undefined) yield* nodesOf(n.needed);
  }
}

import { NotFoundError } from '../errors/index.js';
import {
  type Digest,
  type LocalStore,
  listPrograms,
  parseObjectRef,
  resolveObjectRef,
  resolveRoot,
  tryParseCasName,
} from '../store/index.js';
import { openForReading, type StoreSelection } from './store-open.js';

/** One object on a dependency chain, with the name it is needed by. */
export interface ChainLink {
  readonly digest: string;
  /** The cas: name the previous object refers to it by (absent for the first). */
  readonly neededAs: string | null;
  /** The imported program name it answers to, if any. */
  readonly program: string | null;
}

export interface WhyDependsOptions extends StoreSelection {
  /** The object that depends (any way to name an object). */
  from: string;
  /** The object depended on. */
  to: string;
}

/** The shortest chain of references from one object to another (`nix why-depends`); throws when there is none. */
export async function whyDepends(options: WhyDependsOptions): Promise<{ store: string; chain: ChainLink[] }> {
  const { store } = await openForReading(options);
  try {
    const from = find(store, options.from, options.cwd);
    // `to` may also be a library's needed name (libz.so.1), looked up in from's closure.
    let to: Digest | undefined;
    try {
      to = find(store, options.to, options.cwd);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    const names = programNames(store);
    const back = new Map<string, { prev: string; name: string } | null>([[from.toString(), null]]);
    const queue = [from];
    let found = to?.equals(from) === true ? from.toString() : undefined;
    while (queue.length > 0 && found === undefined) {
      const d = queue.shift()!;
      for (const r of store.index.refsOf(d)) {
        const key = r.digest.toString();
        if (back.has(key)) continue;
        back.set(key, { prev: d.toString(), name: r.name });
        queue.push(r.digest);
        if (to === undefined ? hintOf(r.name) === options.to : r.digest.equals(to)) found = key;
      }
    }
    if (found === undefined) {
      throw new NotFoundError('NOT_FOUND_DEPENDENCY', `${options.from} does not depend on ${options.to}`, {
        hint: 'cald ldd shows what a program loads; cald referrers shows what refers to an object',
        data: { from: from.toString(), to: to?.toString() ?? options.to },
      });
    }
    const chain: ChainLink[] = [];
    for (let at: string | undefined = found; at !== undefined; ) {
      const step: { prev: string; name: string } | null | undefined = back.get(at);
      chain.unshift({ digest: at, neededAs: step?.name ?? null, program: names.get(at) ?? null });
      at = step?.prev;
    }
    return { store: store.root, chain };
  } finally {
    store.close();
  }
}

/** An object that refers to the one asked about. */
export interface Referrer {
  readonly digest: string;
  /** The cas: names it refers by. */
  readonly as: string[];
  readonly program: string | null;
}

export interface ReferrersResult {
  readonly store: string;
  readonly digest: string;
  /** Objects whose DT_NEEDED (or interpreter note) names it. */
  readonly referrers: Referrer[];
  /** Roots that keep it directly. */
  readonly roots: string[];
}

/** What refers to an object: the objects that need it and the roots that keep it. */
export async function referrers(options: StoreSelection & { object: string }): Promise<ReferrersResult> {
  const { store } = await openForReading(options);
  try {
    const digest = find(store, options.object, options.cwd);
    const names = programNames(store);
    const out = store.index.referrers(digest).map((d) => ({
      digest: d.toString(),
      as: store.index
        .refsOf(d)
        .filter((r) => r.digest.equals(digest))
        .map((r) => r.name),
      program: names.get(d.toString()) ?? null,
    }));
    const roots = store.roots
      .list()
      .filter((r) => resolveRoot(store.files, r).digests.some((d) => d.equals(digest)))
      .map((r) => r.id);
    return { store: store.root, digest: digest.toString(), referrers: out, roots };
  } finally {
    store.close();
  }
}

function find(store: LocalStore, text: string, cwd: string | undefined): Digest {
  return resolveObjectRef(store.files, parseObjectRef(text), cwd === undefined ? {} : { cwd }).digest;
}

/** Program name per digest (the first name when an object has several). */
function programNames(store: LocalStore): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of listPrograms(store.roots.list())) {
    if (!out.has(p.digest.toString())) out.set(p.digest.toString(), p.name);
  }
  return out;
}

/** The hint of a cas: name, for display. */
export function hintOf(name: string): string {
  return tryParseCasName(name)?.hint ?? name;
}

import { lstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { BadNameError, CaldError, NotFoundError, UsageError } from '../errors/index.js';
import {
  defaultRootId,
  type FileStore,
  importedPathOf,
  parseObjectRef,
  programNameOf,
  type Root,
  type RootSpec,
  resolveObjectRef,
  resolveRoot,
} from '../store/index.js';
import { openExisting, openForReading, type StoreSelection } from './store-open.js';

export interface RootStatus {
  readonly id: string;
  readonly kind: Root['kind'];
  readonly target: string;
  /** ISO 8601. */
  readonly added: string;
  readonly note: string | undefined;
  /** The program name this root gives its object (program roots of imports), if any. */
  readonly name: string | undefined;
  /** The path the program was imported from, if recorded. */
  readonly path: string | undefined;
  /** false for an indirect root whose file is gone (gc will release it). */
  readonly alive: boolean;
  /** The objects it keeps directly. */
  readonly objects: string[];
}

export type RootsOptions = StoreSelection &
  (
    | { action: 'list' }
    | {
        action: 'add';
        /** Any way to name an object (docs/cli.md, "Naming an object"), or a path outside the store (an indirect root). */
        target: string;
        id?: string;
        note?: string;
      }
    | {
        action: 'remove';
        /** Root ids, targets, or any way to name an object (its program name, URI, path...). */
        root: string | readonly string[];
      }
  );

export interface RootsResult {
  readonly store: string;
  readonly roots: RootStatus[];
  /** For remove: the ids removed. */
  readonly removed?: string[];
  /** For add: true when the root was there already (and was left as it was). */
  readonly existed?: boolean;
}

/** Lists, adds or removes gc roots (docs/lifecycle.md). */
export async function roots(options: RootsOptions): Promise<RootsResult> {
  const cwd = options.cwd ?? process.cwd();
  const { store } = options.action === 'list' ? await openForReading(options) : await openExisting(options);
  try {
    const status = (r: Root): RootStatus => {
      const resolved = resolveRoot(store.files, r);
      return {
        id: r.id,
        kind: r.kind,
        target: r.target,
        added: new Date(r.added).toISOString(),
        note: r.note,
        name: programNameOf(r),
        path: importedPathOf(r),
        alive: resolved.alive,
        objects: resolved.digests.map((d) => d.toString()),
      };
    };
    switch (options.action) {
      case 'list':
        return { store: store.root, roots: store.roots.list().map(status) };
      case 'add': {
        const spec = rootSpec(store.files, options.target, cwd);
        const id = options.id ?? defaultRootId(spec.kind, spec.target);
        const existing = store.roots.list().find((r) => r.id === id);
        if (existing !== undefined) {
          // Never overwrite: an import's root keeps its note (and the program its name).
          if (existing.kind === spec.kind && existing.target === spec.target) {
            return { store: store.root, roots: [status(existing)], existed: true };
          }
          throw new CaldError('ROOT_EXISTS', `root ${id} exists already and keeps ${existing.target}`, {
            hint: `choose another --id, or remove it first (cald roots remove ${id})`,
            data: { store: store.root, id, target: existing.target },
          });
        }
        const root = store.addRoot({
          ...spec,
          id,
          ...(options.note === undefined ? {} : { note: options.note }),
        });
        return { store: store.root, roots: [status(root)], existed: false };
      }
      case 'remove': {
        const all = store.roots.list();
        const asked = typeof options.root === 'string' ? [options.root] : options.root;
        if (asked.length === 0)
          throw new UsageError('roots remove: give a root id, program name, URI or path');
        const matches = new Map<string, Root>();
        for (const text of asked) {
          for (const r of rootsNamedBy(store.files, all, text, cwd)) matches.set(r.id, r);
        }
        const removed = [...matches.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        for (const r of removed) store.removeRoot(r.id);
        return { store: store.root, roots: removed.map(status), removed: removed.map((r) => r.id) };
      }
    }
  } finally {
    store.close();
  }
}

/**
 * The roots one `roots remove` argument names: a root id or the exact target a root was added
 * with; else whatever the object reference names (a program name: its root; an original path:
 * the roots imported from it; a URI, digest or prefix: every root that keeps that object directly,
 * launchers aside).
 */
function rootsNamedBy(files: FileStore, all: readonly Root[], text: string, cwd: string): Root[] {
  const byId = all.filter((r) => r.id === text);
  if (byId.length > 0) return byId;
  const wanted = targetVariants(text, cwd);
  const byTarget = all.filter((r) => wanted.includes(r.target));
  if (byTarget.length > 0) return byTarget;
  const notFound = (why: string, hint: string) =>
    new NotFoundError('NOT_FOUND_ROOT', `no root ${JSON.stringify(text)} in ${files.root}: ${why}`, {
      hint,
      data: { store: files.root, root: text },
    });
  let match: ReturnType<typeof resolveObjectRef>;
  try {
    match = resolveObjectRef(files, parseObjectRef(text), { cwd, roots: all });
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    throw notFound(e.message, e.hint ?? 'cald roots list shows the roots');
  }
  if (match.via === 'name' || match.via === 'root' || match.roots.length > 0) return [...match.roots];
  const keeping = all.filter(
    (r) => r.kind !== 'indirect' && resolveRoot(files, r).digests.some((d) => d.equals(match.digest)),
  );
  if (keeping.length === 0) {
    throw notFound(
      `${match.digest} is stored but no root keeps it directly`,
      'cald roots list shows the roots',
    );
  }
  return keeping;
}

function targetVariants(text: string, cwd: string): string[] {
  const out = [text, resolve(cwd, text)];
  if (/^[0-9a-f]{64}$/.test(text)) out.push(`sha256:${text}`);
  return out;
}

/** What kind of root a command-line target is; one clear error for anything else. */
function rootSpec(files: FileStore, target: string, cwd: string): Omit<RootSpec, 'id' | 'note'> {
  if (target.trim() === '') {
    throw new BadNameError('NAME_BAD_ROOT', 'empty root target', {
      hint: 'give a program name, a cas: name, a sha256: digest, or the path of a file outside the store',
    });
  }
  const ref = parseObjectRef(target);
  if (ref.form === 'path' || (ref.form === 'word' && exists(resolve(cwd, target)))) {
    const path = resolve(cwd, target);
    if (!exists(path)) {
      throw new BadNameError('NAME_BAD_ROOT', `indirect root ${path} does not exist`, {
        hint: 'an indirect root is a file that exists (a launcher, a symlink to an object)',
        data: { value: target },
      });
    }
    if (path === files.root || path.startsWith(`${files.root}/`)) {
      const d = resolveObjectRef(files, ref, { cwd }).digest;
      return { kind: 'object', target: d.toString() };
    }
    return { kind: 'indirect', target: path };
  }
  const match = resolveObjectRef(files, ref, { cwd });
  if (ref.form === 'uri') {
    return { kind: 'name', target: target.trim().split(/\s+/)[0]! };
  }
  return { kind: 'object', target: match.digest.toString() };
}
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

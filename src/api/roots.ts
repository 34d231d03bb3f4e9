import { lstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { BadNameError, StoreError } from '../errors/index.js';
import {
  Digest,
  type FileStore,
  parseCasName,
  type Root,
  type RootSpec,
  resolveRoot,
} from '../store/index.js';
import { openExisting, type StoreSelection } from './store-open.js';

export interface RootStatus {
  readonly id: string;
  readonly kind: Root['kind'];
  readonly target: string;
  /** ISO 8601. */
  readonly added: string;
  readonly note: string | undefined;
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
        /** A cas: name, a sha256: digest (or 64 hex digits), or a path outside the store (an indirect root). */
        target: string;
        id?: string;
        note?: string;
      }
    | {
        action: 'remove';
        /** A root id, or the target it was added with. */
        root: string;
      }
  );

export interface RootsResult {
  readonly store: string;
  readonly roots: RootStatus[];
  /** For remove: the ids removed. */
  readonly removed?: string[];
}

/** Lists, adds or removes gc roots (docs/lifecycle.md). */
export async function roots(options: RootsOptions): Promise<RootsResult> {
  const cwd = options.cwd ?? process.cwd();
  const { store } = await openExisting(options);
  try {
    const status = (r: Root): RootStatus => {
      const resolved = resolveRoot(store.files, r);
      return {
        id: r.id,
        kind: r.kind,
        target: r.target,
        added: new Date(r.added).toISOString(),
        note: r.note,
        alive: resolved.alive,
        objects: resolved.digests.map((d) => d.toString()),
      };
    };
    switch (options.action) {
      case 'list':
        return { store: store.root, roots: store.files.listRoots().map(status) };
      case 'add': {
        const spec = rootSpec(store.files, options.target, cwd);
        const root = store.addRoot({
          ...spec,
          ...(options.id === undefined ? {} : { id: options.id }),
          ...(options.note === undefined ? {} : { note: options.note }),
        });
        return { store: store.root, roots: [status(root)] };
      }
      case 'remove': {
        const all = store.files.listRoots();
        let matches = all.filter((r) => r.id === options.root);
        if (matches.length === 0) {
          const wanted = targetVariants(options.root, cwd);
          matches = all.filter((r) => wanted.includes(r.target));
        }
        if (matches.length === 0) {
          throw new StoreError(
            'STORE_NO_SUCH_ROOT',
            `no root ${JSON.stringify(options.root)} in ${store.root}`,
            {
              hint: 'cald roots list shows the ids',
              data: { store: store.root, root: options.root },
            },
          );
        }
        for (const r of matches) store.removeRoot(r.id);
        return { store: store.root, roots: matches.map(status), removed: matches.map((r) => r.id) };
      }
    }
  } finally {
    store.close();
  }
}

function targetVariants(text: string, cwd: string): string[] {
  const out = [text, resolve(cwd, text)];
  if (/^[0-9a-f]{64}$/.test(text)) out.push(`sha256:${text}`);
  return out;
}

/** What kind of root a command-line target is; one clear error for anything else. */
function rootSpec(files: FileStore, target: string, cwd: string): Omit<RootSpec, 'id' | 'note'> {
  const stored = (d: Digest, what: string) => {
    if (files.statSync(d) === undefined) {
      throw new StoreError('STORE_OBJECT_MISSING', `${what} is not in the store at ${files.root}`, {
        hint: 'import the program first (cald import)',
        data: { store: files.root, digest: d.toString() },
      });
    }
  };
  if (target.trim() === '') {
    throw new BadNameError('NAME_BAD_ROOT', 'empty root target', {
      hint: 'give a cas: name, a sha256: digest, or the path of a file outside the store',
    });
  }
  if (target.startsWith('cas:')) {
    stored(parseCasName(target).digest, target);
    return { kind: 'name', target };
  }
  if (target.startsWith('sha256:') || /^[0-9a-f]{64}$/.test(target)) {
    const d = Digest.parse(target.startsWith('sha256:') ? target : `sha256:${target}`);
    stored(d, d.toString());
    return { kind: 'object', target: d.toString() };
  }
  if (target.includes('/') || target === '.' || exists(resolve(cwd, target))) {
    const path = resolve(cwd, target);
    if (!exists(path)) {
      throw new BadNameError('NAME_BAD_ROOT', `indirect root ${path} does not exist`, {
        hint: 'an indirect root is a file that exists (a launcher, a symlink to an object)',
        data: { value: target },
      });
    }
    if (path === files.root || path.startsWith(`${files.root}/`)) {
      throw new BadNameError('NAME_BAD_ROOT', `indirect root ${path} is inside the store`, {
        hint: 'give the object as sha256:<hex> or its cas: name instead',
        data: { value: target },
      });
    }
    return { kind: 'indirect', target: path };
  }
  throw new BadNameError(
    'NAME_BAD_ROOT',
    `${JSON.stringify(target)} is not a cas: name, sha256: digest or path`,
    {
      hint: 'give cas:sha256:<hex>[?name=...], sha256:<hex>, or a path to a file outside the store',
      data: { value: target },
    },
  );
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

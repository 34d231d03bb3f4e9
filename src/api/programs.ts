import { lstatSync } from 'node:fs';
import {
  type Digest,
  formatCasName,
  hintFromName,
  listPrograms,
  parseObjectRef,
  resolveObjectRef,
} from '../store/index.js';
import { openForReading, type StoreSelection } from './store-open.js';

/** One imported program, as `cald list` shows it (like `docker images`, `nix profile list`). */
export interface ProgramListing {
  readonly name: string;
  readonly digest: string;
  /** The program object's size in bytes. */
  readonly size: number;
  /** Its whole closure (libraries and loader included), in bytes. */
  readonly closureSize: number;
  /** When the name was given to it (ISO 8601). */
  readonly imported: string;
  /** The path it was imported from, when recorded. */
  readonly path: string | null;
  readonly object: string;
}

/** The imported programs by name, each with the object its name currently points at. */
export async function listImported(
  options: StoreSelection = {},
): Promise<{ store: string; programs: ProgramListing[] }> {
  const { store } = await openForReading(options);
  try {
    const sizeOf = (d: Digest): number => {
      try {
        return lstatSync(store.pathOf(d)).size;
      } catch {
        return 0;
      }
    };
    const closureSize = (d: Digest): number => {
      const seen = new Set<string>();
      const queue = [d];
      let total = 0;
      while (queue.length > 0) {
        const next = queue.pop()!;
        if (seen.has(next.toString())) continue;
        seen.add(next.toString());
        total += sizeOf(next);
        queue.push(...store.index.refsOf(next).map((r) => r.digest));
      }
      return total;
    };
    const programs = listPrograms(store.roots.list()).map((p) => ({
      name: p.name,
      digest: p.digest.toString(),
      size: sizeOf(p.digest),
      closureSize: closureSize(p.digest),
      imported: new Date(p.root.added).toISOString(),
      path: p.path ?? null,
      object: store.pathOf(p.digest),
    }));
    return { store: store.root, programs };
  } finally {
    store.close();
  }
}

export interface ObjectInfoOptions extends StoreSelection {
  /** Any way to name an object (docs/cli.md, "Naming an object"). */
  object: string;
}

/** Where an object is and what it is called (`cald path`, like `nix path-info`). */
export interface ObjectPathInfo {
  readonly digest: string;
  /** `cas:sha256:<hex>?name=<name>` (no hint when no name is known). */
  readonly uri: string;
  readonly name: string | null;
  /** The object's file in the store. */
  readonly path: string;
}

export async function objectPath(options: ObjectInfoOptions): Promise<ObjectPathInfo> {
  const { store } = await openForReading(options);
  try {
    const match = resolveObjectRef(store.files, parseObjectRef(options.object), {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    const hint = match.name === undefined ? undefined : hintFromName(match.name);
    return {
      digest: match.digest.toString(),
      uri: formatCasName(match.digest, hint),
      name: match.name ?? null,
      path: store.pathOf(match.digest),
    };
  } finally {
    store.close();
  }
}

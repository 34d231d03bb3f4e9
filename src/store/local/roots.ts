import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ioErrorFrom } from '../../errors/index.js';
import { readdirOrEmpty, unlinkDurably, writeFileAtomic } from '../fs-util.js';
import type { StoreLayout } from '../layout.js';
import { checkRootId, makeRoot, type Root, type RootSpec, rootFromJson } from '../roots.js';
import type { StoreRoots } from '../store.js';
import { assertWritable } from './guard.js';

/** `<store>/roots/<id>`: one small JSON file per GC root, written atomically. */
export class RootDir implements StoreRoots {
  constructor(
    private readonly layout: StoreLayout,
    private readonly readOnly: boolean,
  ) {}

  /** Records a root (an existing id keeps its first `added` time). Returns it with its id. */
  add(spec: RootSpec, now: number = Date.now()): Root {
    assertWritable(this.layout.root, this.readOnly);
    const existing = spec.id === undefined ? undefined : this.read(spec.id);
    const root = makeRoot(spec, existing?.added ?? now);
    const path = join(this.layout.roots, root.id);
    try {
      writeFileAtomic(
        path,
        this.layout.roots,
        this.layout.tmp,
        Buffer.from(`${JSON.stringify(root)}\n`),
        0o644,
      );
    } catch (e) {
      throw ioErrorFrom(e, 'write root', path);
    }
    return root;
  }

  remove(id: string): boolean {
    assertWritable(this.layout.root, this.readOnly);
    checkRootId(id);
    return unlinkDurably(join(this.layout.roots, id), 'remove root');
  }

  /** Every valid root, sorted by id (unreadable or malformed root files are skipped). */
  list(): Root[] {
    return readdirOrEmpty(this.layout.roots)
      .sort()
      .map((id) => this.read(id))
      .filter((r): r is Root => r !== undefined);
  }

  private read(id: string): Root | undefined {
    try {
      const root = rootFromJson(readFileSync(join(this.layout.roots, id), 'utf8'));
      return root.id === id ? root : undefined;
    } catch {
      return undefined;
    }
  }
}

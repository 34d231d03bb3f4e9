import { join } from 'node:path';
import { ioErrorFrom } from '../../errors/index.js';
import { formatCasName, parseCasName } from '../cas-name.js';
import type { Digest } from '../digest.js';
import { fsyncDir, readdirOrEmpty, tempPath, unlinkDurably } from '../fs-util.js';
import { nameTarget, type StoreLayout } from '../layout.js';
import type { StoreNames } from '../store.js';
import { assertWritable, objectMissing, placeLink, readlinkOrUndefined } from './guard.js';
import type { ObjectFiles } from './objects.js';

/**
 * `<store>/names/<cas name>` → `../objects/<alg>/<hex>`: entries named exactly like the DT_NEEDED
 * strings in use, so `<store>/names` on LD_LIBRARY_PATH lets the stock loader find every object.
 */
export class NameDir implements StoreNames {
  constructor(
    private readonly layout: StoreLayout,
    private readonly readOnly: boolean,
    private readonly objects: ObjectFiles,
  ) {}

  get dir(): string {
    return this.layout.names;
  }

  /** Adds the entry for a stored object (a cas name, or a digest plus optional hint); idempotent. */
  add(name: string): string;
  add(digest: Digest, hint?: string): string;
  add(nameOrDigest: string | Digest, hint?: string): string {
    const name = typeof nameOrDigest === 'string' ? nameOrDigest : formatCasName(nameOrDigest, hint);
    this.addMany([name]);
    return name;
  }

  /** add for many names, with one fsync of names/ for all of them (after their objects' renames were made durable). */
  addMany(names: Iterable<string>): void {
    assertWritable(this.layout.root, this.readOnly);
    let changed = false;
    for (const name of names) {
      const { digest } = parseCasName(name);
      if (this.objects.stat(digest) === undefined) throw objectMissing(this.layout.root, digest, name);
      const entry = join(this.layout.names, name);
      const target = nameTarget(digest.algorithm, digest.hex);
      try {
        if (placeLink(target, entry, () => tempPath(this.layout.tmp, 'name'))) changed = true;
      } catch (e) {
        throw ioErrorFrom(e, 'add name in', this.layout.names);
      }
    }
    if (!changed) return;
    try {
      fsyncDir(this.layout.names);
    } catch (e) {
      throw ioErrorFrom(e, 'add name in', this.layout.names);
    }
  }

  /** The valid `cas:` names in the name directory, sorted. Other entries are skipped. */
  list(): string[] {
    return readdirOrEmpty(this.layout.names)
      .filter((n) => this.resolve(n) !== undefined)
      .sort();
  }

  /**
   * The digest a name entry stands for, if the entry exists and is exactly the link cald makes
   * (a malformed name or a link pointing anywhere else gives undefined).
   */
  resolve(name: string): Digest | undefined {
    let parsed: ReturnType<typeof parseCasName>;
    try {
      parsed = parseCasName(name);
    } catch {
      return undefined;
    }
    const { digest } = parsed;
    return readlinkOrUndefined(join(this.layout.names, name)) === nameTarget(digest.algorithm, digest.hex)
      ? digest
      : undefined;
  }

  /** Removes a name entry; false if there was none. Malformed names throw BadNameError. */
  remove(name: string): boolean {
    assertWritable(this.layout.root, this.readOnly);
    parseCasName(name);
    return unlinkDurably(join(this.layout.names, name), 'remove name');
  }

  /** Name entries for one object: the bare name and every hinted one. */
  of(digest: Digest): string[] {
    const bare = formatCasName(digest);
    return readdirOrEmpty(this.layout.names).filter((n) => n === bare || n.startsWith(`${bare}?`));
  }

  /** Removes every entry naming the object (before the object goes, so none dangles). */
  removeAllOf(digest: Digest): void {
    assertWritable(this.layout.root, this.readOnly);
    for (const name of this.of(digest)) unlinkDurably(join(this.layout.names, name), 'remove name');
  }
}

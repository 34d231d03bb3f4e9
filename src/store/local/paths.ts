import { chmodSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, relative } from 'node:path';
import { BadNameError, ioErrorFrom } from '../../errors/index.js';
import { Digest } from '../digest.js';
import { makeDirs, tempPath } from '../fs-util.js';
import { DIR_MODE, type StoreLayout } from '../layout.js';
import { assertWritable, objectMissing, readlinkOrUndefined } from './guard.js';
import type { ObjectFiles } from './objects.js';

/**
 * `<store>/paths/<original path>`: the imported files' real paths mirrored as relative links to
 * their objects, so the resolver can answer a dlopen by absolute path with the object.
 */
export class PathDir {
  constructor(
    private readonly layout: StoreLayout,
    private readonly readOnly: boolean,
    private readonly objects: ObjectFiles,
  ) {}

  get dir(): string {
    return this.layout.paths;
  }

  /**
   * Records that the file at `original` (an absolute, normalized path) was imported as `digest`.
   * A later import of the same path replaces the entry. `dirMode` gives the mode of each directory
   * of `original` (from the top, '/' excluded): the mirrored directories then keep the source's
   * restrictions (never more than DIR_MODE), so a private directory is not listed to others.
   */
  add(original: string, digest: Digest, options: { dirMode?: (dir: string) => number } = {}): string {
    assertWritable(this.layout.root, this.readOnly);
    if (
      !isAbsolute(original) ||
      normalize(original) !== original ||
      original.includes('\0') ||
      original === '/'
    ) {
      throw new BadNameError(
        'NAME_BAD_PATH',
        `not an absolute, normalized file path: ${JSON.stringify(original)}`,
        {
          hint: 'give the real path of the imported file',
        },
      );
    }
    if (this.objects.stat(digest) === undefined) throw objectMissing(this.layout.root, digest, original);
    const entry = join(this.layout.paths, original);
    const target = relative(dirname(entry), this.objects.pathOf(digest));
    if (readlinkOrUndefined(entry) === target) return entry;
    const tmp = tempPath(this.layout.tmp, 'path');
    try {
      if (options.dirMode === undefined) makeDirs(dirname(entry), DIR_MODE);
      else {
        // Made owner-only first, then given each source directory's mode: nothing shows meanwhile.
        makeDirs(dirname(entry), 0o700);
        for (let d = dirname(original); d !== '/'; d = dirname(d)) {
          chmodSync(join(this.layout.paths, d), DIR_MODE & options.dirMode(d));
        }
      }
      symlinkSync(target, tmp);
      renameSync(tmp, entry);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw ioErrorFrom(e, 'record the path of an imported file in', this.layout.paths);
    }
    return entry;
  }

  /** add for many files: each directory under paths/ is made and given its mode once. */
  addMany(
    entries: Iterable<readonly [original: string, digest: Digest]>,
    options: { dirMode?: (dir: string) => number } = {},
  ): void {
    for (const [original, digest] of entries) this.add(original, digest, options);
  }

  /** The digest recorded for an imported file's original path, if any. */
  resolve(original: string): Digest | undefined {
    if (!isAbsolute(original)) return undefined;
    const target = readlinkOrUndefined(join(this.layout.paths, normalize(original)));
    const m = target === undefined ? null : /objects\/(sha256)\/([0-9a-f]{64})$/.exec(target);
    return m === null ? undefined : Digest.from(m[1]!, m[2]!);
  }
}

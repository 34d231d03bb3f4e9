import { chmodSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, relative } from 'node:path';
import { BadNameError, ioErrorFrom } from '../../errors/index.js';
import { Digest } from '../digest.js';
import { makeDirs, tempPath } from '../fs-util.js';
import { DIR_MODE, type StoreLayout } from '../layout.js';
import { assertWritable, objectMissing, placeLink, readlinkOrUndefined } from './guard.js';
import type { ObjectFiles } from './objects.js';

/** The link a paths/ entry holds: the object's path relative to the entry's directory. */
export function pathLinkTarget(entry: string, objectPath: string): string {
  return relative(dirname(entry), objectPath);
}

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

  /** The entry of `original` (an absolute, normalized file path); anything else is refused. */
  entryOf(original: string): string {
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
    return join(this.layout.paths, original);
  }

  /**
   * Makes the directory `dir` of an entry. `dirMode` gives the mode of each directory of the
   * original path (from the top, '/' excluded): the mirrored directories then keep the source's
   * restrictions (never more than DIR_MODE), so a private directory is not listed to others.
   */
  makeEntryDir(dir: string, dirMode?: (dir: string) => number): void {
    if (dirMode === undefined) {
      makeDirs(dir, DIR_MODE);
      return;
    }
    // Made owner-only first, then given each source directory's mode: nothing shows meanwhile.
    // paths/ itself mirrors / (it was left owner-only when this made it, so other users' loaders
    // could not reach any entry of a shared store).
    makeDirs(dir, 0o700);
    for (let d = relative(this.layout.paths, dir); d !== '' && d !== '.'; d = dirname(d)) {
      chmodSync(join(this.layout.paths, d), DIR_MODE & dirMode(`/${d}`));
    }
    chmodSync(this.layout.paths, DIR_MODE & dirMode('/'));
  }

  /**
   * Records that the file at `original` (an absolute, normalized path) was imported as `digest`.
   * A later import of the same path replaces the entry. `dirMode`: see makeEntryDir.
   */
  add(original: string, digest: Digest, options: { dirMode?: (dir: string) => number } = {}): string {
    this.addMany([[original, digest]], options);
    return this.entryOf(original);
  }

  /** add for many files: each directory under paths/ is made and given its mode once. */
  addMany(
    entries: Iterable<readonly [original: string, digest: Digest]>,
    options: { dirMode?: (dir: string) => number } = {},
  ): void {
    assertWritable(this.layout.root, this.readOnly);
    const dirs = new Set<string>();
    for (const [original, digest] of entries) {
      const entry = this.entryOf(original);
      if (this.objects.stat(digest) === undefined) throw objectMissing(this.layout.root, digest, original);
      const dir = dirname(entry);
      try {
        if (!dirs.has(dir)) {
          this.makeEntryDir(dir, options.dirMode);
          dirs.add(dir);
        }
        placeLink(pathLinkTarget(entry, this.objects.pathOf(digest)), entry, () =>
          tempPath(this.layout.tmp, 'path'),
        );
      } catch (e) {
        throw ioErrorFrom(e, 'record the path of an imported file in', this.layout.paths);
      }
    }
  }

  /** The digest recorded for an imported file's original path, if any. */
  resolve(original: string): Digest | undefined {
    if (!isAbsolute(original)) return undefined;
    const target = readlinkOrUndefined(join(this.layout.paths, normalize(original)));
    const m = target === undefined ? null : /objects\/(sha256)\/([0-9a-f]{64})$/.exec(target);
    return m === null ? undefined : Digest.from(m[1]!, m[2]!);
  }
}

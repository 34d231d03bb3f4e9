import { lstatSync, readlinkSync, renameSync, rmSync, type Stats, statSync, symlinkSync } from 'node:fs';
import { ioErrorFrom, StoreError } from '../../errors/index.js';
import type { Digest } from '../digest.js';
import { errnoOf } from '../fs-util.js';

// Small checks every part of the local store shares.

export function assertWritable(root: string, readOnly: boolean): void {
  if (readOnly) {
    throw new StoreError('STORE_READ_ONLY', `the store at ${root} was opened read-only`, {
      data: { store: root },
    });
  }
}

export function objectMissing(root: string, digest: Digest, name?: string): StoreError {
  return new StoreError('STORE_OBJECT_MISSING', `object ${digest} is not in the store at ${root}`, {
    data: { store: root, digest: digest.toString(), ...(name === undefined ? {} : { name }) },
  });
}

export function statOrUndefined(path: string, noFollow = false): Stats | undefined {
  try {
    return noFollow ? lstatSync(path) : statSync(path);
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') {
      throw new StoreError('STORE_NOT_DIRECTORY', `a component of ${path} is not a directory`, {
        data: { path },
        cause: e,
      });
    }
    throw ioErrorFrom(e, 'stat', path);
  }
}

/**
 * The lstat of a file in a directory the store made (an object file), undefined when there is
 * none. No exception is made for a missing file, the common case (a fetch asks first whether
 * it has the object: an ENOENT error with its stack cost 0.1 ms each); a directory replaced by a
 * file also reads as missing here, and fails the write that follows.
 */
export function lstatIfPresent(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (e) {
    throw ioErrorFrom(e, 'stat', path);
  }
}

export function readlinkOrUndefined(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Makes the symbolic link `entry` -> `target` so it appears whole: made in place when there is
 * no entry, else, unless it is that link already, made under a temp name (in the store's tmp/) and
 * renamed over the old entry. Returns whether anything changed. (The existing entry is read only
 * when there is one: a failed readlink per new entry cost ~0.1 ms for its error.)
 */
export function placeLink(target: string, entry: string, tempName: () => string): boolean {
  try {
    symlinkSync(target, entry);
    return true;
  } catch (e) {
    if (errnoOf(e) !== 'EEXIST') throw e;
  }
  if (readlinkOrUndefined(entry) === target) return false;
  const tmp = tempName();
  try {
    symlinkSync(target, tmp);
    renameSync(tmp, entry);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return true;
}

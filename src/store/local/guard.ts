import { lstatSync, readlinkSync, type Stats, statSync } from 'node:fs';
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

export function readlinkOrUndefined(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

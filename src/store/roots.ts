import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { BadNameError } from '../errors/index.js';
import { parseCasName } from './cas-name.js';
import { Digest, quote } from './digest.js';

/**
 * A root keeps objects alive through garbage collection:
 * - `object`: a digest (`sha256:<hex>`), e.g. an imported program;
 * - `name`: a `cas:` name, kept alive through the object it names;
 * - `indirect`: an absolute path outside the store to a file that refers to objects
 *   (an installed launcher, say); deleting that file releases the root.
 */
export type RootKind = 'object' | 'name' | 'indirect';

export interface RootSpec {
  readonly kind: RootKind;
  readonly target: string;
  /** Defaults to a stable id derived from kind and target, so adding a root twice is one root. */
  readonly id?: string;
  readonly note?: string;
}

export interface Root {
  readonly id: string;
  readonly kind: RootKind;
  readonly target: string;
  /** ms since the epoch. */
  readonly added: number;
  readonly note: string | undefined;
}

const ROOT_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export function checkRootId(id: string): void {
  if (!ROOT_ID.test(id) || id.includes('..')) {
    throw new BadNameError('NAME_BAD_ROOT_ID', `bad root id ${quote(id)}`, {
      hint: 'use 1-128 of A-Z a-z 0-9 . _ - , not starting with "." or "-"',
      data: { value: id },
    });
  }
}

/** The id a root gets when none is given: `<kind>-<first 16 hex of sha256(kind NUL target)>`. */
export function defaultRootId(kind: RootKind, target: string): string {
  return `${kind}-${createHash('sha256').update(`${kind}\0${target}`).digest('hex').slice(0, 16)}`;
}

/** Validates a root and fills in its id; throws BadNameError. */
export function makeRoot(spec: RootSpec, added: number): Root {
  switch (spec.kind) {
    case 'object':
      Digest.parse(spec.target);
      break;
    case 'name':
      parseCasName(spec.target);
      break;
    case 'indirect':
      if (!isAbsolute(spec.target) || spec.target.includes('\0')) {
        throw new BadNameError(
          'NAME_BAD_ROOT',
          `indirect root ${quote(spec.target)} is not an absolute path`,
          {
            data: { value: spec.target },
          },
        );
      }
      break;
    default:
      throw new BadNameError('NAME_BAD_ROOT', `unknown root kind ${quote(String(spec.kind))}`, {
        data: { value: spec.kind },
      });
  }
  const id = spec.id ?? defaultRootId(spec.kind, spec.target);
  checkRootId(id);
  return { id, kind: spec.kind, target: spec.target, added, note: spec.note };
}

/** Reads a root back from its JSON form, validating every field. */
export function rootFromJson(text: string): Root {
  const v = JSON.parse(text) as Partial<Record<keyof Root, unknown>>;
  if (typeof v.kind !== 'string' || typeof v.target !== 'string' || typeof v.id !== 'string') {
    throw new BadNameError('NAME_BAD_ROOT', 'root record lacks id, kind or target');
  }
  const added = typeof v.added === 'number' ? v.added : 0;
  const note = typeof v.note === 'string' ? v.note : undefined;
  return makeRoot(
    { id: v.id, kind: v.kind as RootKind, target: v.target, ...(note === undefined ? {} : { note }) },
    added,
  );
}

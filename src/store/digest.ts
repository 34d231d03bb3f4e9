import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { BadNameError, ioErrorFrom } from '../errors/index.js';

/**
 * Hash algorithms a digest may name. Only sha256 today; docs/spec.md says how another one is
 * added (a lowercase token and a fixed hex length). Every place that hashes goes through
 * `ALGORITHMS`, so adding one is one entry here plus its hasher.
 */
export type DigestAlgorithm = 'sha256';

interface AlgorithmInfo {
  /** Length of the lowercase hex form. */
  readonly hexLength: number;
  /** node:crypto's name for it. */
  readonly nodeName: string;
}

const ALGORITHMS: Readonly<Record<DigestAlgorithm, AlgorithmInfo>> = {
  sha256: { hexLength: 64, nodeName: 'sha256' },
};

export const DEFAULT_ALGORITHM: DigestAlgorithm = 'sha256';

/** Size of the buffer digestOfFile reads through (4 MiB: measured fastest with node:crypto here). */
export const READ_CHUNK = 4 * 1024 * 1024;

function isAlgorithm(s: string): s is DigestAlgorithm {
  return Object.hasOwn(ALGORITHMS, s);
}

/** Shows a string in an error message without letting control bytes or huge input through. */
export function quote(s: string, max = 100): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(cut);
}

/**
 * A content digest such as `sha256:<64 lowercase hex>`. Validated when constructed, so a Digest
 * value is always well-formed; compare with `equals` or by `toString()`.
 */
export class Digest {
  private constructor(
    readonly algorithm: DigestAlgorithm,
    readonly hex: string,
  ) {}

  /** Parses `<algorithm>:<hex>`, throwing BadNameError (NAME_BAD_DIGEST, NAME_UNKNOWN_ALGORITHM). */
  static parse(text: string): Digest {
    const colon = text.indexOf(':');
    if (colon < 0) {
      throw new BadNameError('NAME_BAD_DIGEST', `not a digest: ${quote(text)} (expected sha256:<64 hex>)`, {
        data: { value: text },
      });
    }
    return Digest.from(text.slice(0, colon), text.slice(colon + 1));
  }

  /** Builds a digest from its two parts, validating both. */
  static from(algorithm: string, hex: string): Digest {
    if (!isAlgorithm(algorithm)) {
      const known = Object.keys(ALGORITHMS).join(', ');
      throw new BadNameError(
        'NAME_UNKNOWN_ALGORITHM',
        `unsupported digest algorithm ${quote(algorithm)} (this cald knows ${known})`,
        { hint: 'the name was made by a newer cald, or is mistyped', data: { algorithm } },
      );
    }
    const { hexLength } = ALGORITHMS[algorithm];
    if (hex.length !== hexLength || !/^[0-9a-f]+$/.test(hex)) {
      throw new BadNameError(
        'NAME_BAD_DIGEST',
        `bad ${algorithm} digest ${quote(hex)}: expected ${hexLength} lowercase hex digits`,
        { data: { value: `${algorithm}:${hex}` } },
      );
    }
    return new Digest(algorithm, hex);
  }

  /** Like parse, but returns undefined for anything malformed. */
  static tryParse(text: string): Digest | undefined {
    try {
      return Digest.parse(text);
    } catch {
      return undefined;
    }
  }

  equals(other: Digest): boolean {
    return this.algorithm === other.algorithm && this.hex === other.hex;
  }

  toString(): `${DigestAlgorithm}:${string}` {
    return `${this.algorithm}:${this.hex}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** An incremental hasher producing a Digest. */
export interface Hasher {
  update(bytes: Uint8Array): void;
  digest(): Digest;
}

export function createHasher(algorithm: DigestAlgorithm = DEFAULT_ALGORITHM): Hasher {
  const h = createHash(ALGORITHMS[algorithm].nodeName);
  return {
    update: (bytes) => {
      h.update(bytes);
    },
    digest: () => Digest.from(algorithm, h.digest('hex')),
  };
}

export function digestOfBuffer(bytes: Uint8Array, algorithm: DigestAlgorithm = DEFAULT_ALGORITHM): Digest {
  return Digest.from(algorithm, createHash(ALGORITHMS[algorithm].nodeName).update(bytes).digest('hex'));
}

/** Hashes an open file descriptor from its current position to the end. Returns digest and size. */
export function digestOfFd(
  fd: number,
  algorithm: DigestAlgorithm = DEFAULT_ALGORITHM,
  buffer: Buffer = Buffer.allocUnsafe(READ_CHUNK),
): { digest: Digest; size: number } {
  const h = createHash(ALGORITHMS[algorithm].nodeName);
  let size = 0;
  for (;;) {
    const n = readSync(fd, buffer, 0, buffer.length, null);
    if (n === 0) break;
    h.update(n === buffer.length ? buffer : buffer.subarray(0, n));
    size += n;
  }
  return { digest: Digest.from(algorithm, h.digest('hex')), size };
}

/**
 * Hashes a file synchronously with fs.readSync and a 4 MiB buffer (about 1.5 GB/s with the
 * CPU's SHA instructions; streams are ~30% slower). Errors become IoError with one line.
 */
export function digestOfFile(path: string, algorithm: DigestAlgorithm = DEFAULT_ALGORITHM): Digest {
  return digestAndSizeOfFile(path, algorithm).digest;
}

export function digestAndSizeOfFile(
  path: string,
  algorithm: DigestAlgorithm = DEFAULT_ALGORITHM,
): { digest: Digest; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioErrorFrom(e, 'open', path);
  }
  try {
    return digestOfFd(fd, algorithm);
  } catch (e) {
    throw ioErrorFrom(e, 'read', path);
  } finally {
    closeSync(fd);
  }
}

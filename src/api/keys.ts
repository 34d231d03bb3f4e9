import { closeSync, openSync, writeSync } from 'node:fs';
import { ioErrorFrom, UsageError } from '../errors/index.js';
import { generateKey, parseSecretKey, publicKeyOf, type SecretKey } from '../remote/index.js';
import { readSmallFile } from '../util/input-file.js';

/** Writes a new secret key to `secretFile` (0600, never over an existing file); the public key. */
export function generateKeyFiles(options: { name: string; secretFile: string }): string {
  const pair = generateKey(options.name);
  let fd: number;
  try {
    fd = openSync(options.secretFile, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(`${options.secretFile} exists: a secret key is never replaced`, {
        hint: 'choose another file, or remove that one if you mean to',
      });
    }
    throw ioErrorFrom(e, 'write the secret key', options.secretFile);
  }
  try {
    writeSync(fd, `${pair.secret}\n`);
  } finally {
    closeSync(fd);
  }
  return pair.public;
}

export function publicKeyOfFile(secretFile: string): string {
  return publicKeyOf(secretKeyFromFile(secretFile, 'read the secret key'));
}

/** A key file is a few hundred bytes; anything past this is not one (and /dev/zero never ends). */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * The secret key in `file` (a file, or a pipe such as `<(pass show key)`), read to its end but
 * never past MAX_KEY_FILE_BYTES; `what` names the reading in errors ("read the signing key").
 */
export function secretKeyFromFile(file: string, what: string): SecretKey {
  return parseSecretKey(readSmallFile(file, MAX_KEY_FILE_BYTES, what).toString('utf8'));
}

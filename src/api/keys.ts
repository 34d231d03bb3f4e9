import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ioErrorFrom, UsageError } from '../errors/index.js';
import { generateKey, parseSecretKey, publicKeyOf } from '../remote/index.js';

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
  let text: string;
  try {
    text = readFileSync(secretFile, 'utf8');
  } catch (e) {
    throw ioErrorFrom(e, 'read the secret key', secretFile);
  }
  return publicKeyOf(parseSecretKey(text));
}

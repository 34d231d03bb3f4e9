import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { ioErrorFrom, UsageError } from '../errors/index.js';
import {
  type ClosureObject,
  EMPTY_CONFIG,
  encodeClosureManifest,
  encodeSignatures,
  loadRemoteConfig,
  manifestDigest,
  signClosure,
  writeArchive,
} from '../remote/index.js';
import { type Env, resolveTarget } from '../runtime/index.js';
import { formatCasName, leaseIfWritable } from '../store/index.js';
import { isSpecialOutput } from '../util/atomic-write.js';
import { secretKeyFromFile } from './keys.js';
import { closureOf } from './push.js';
import { openFiles } from './store-open.js';

export interface ExportOptions {
  /** PROGRAM|URI, as for run: each with its whole closure. */
  programs: readonly string[];
  /** A file path (written atomically), or a stream (standard output). */
  output: string | Writable;
  store?: string;
  env?: Env;
  cwd?: string;
  /** Sign each closure with this secret key file (default: signing-key-file of cald.conf). */
  signKey?: string;
  /** zstd level, 1-19 (default 3). */
  level?: number;
  progress?: (done: number, total: number) => void;
}

export interface ExportReport {
  readonly output: string;
  readonly programs: string[];
  readonly objects: number;
  readonly bytes: number;
  readonly archiveBytes: number;
  readonly signedBy: string | null;
}

/**
 * Writes programs' closures into one archive (docs/distribution.md, "Archives"): their closure
 * manifests (signed when a key is given), then every object once. A file is written beside its
 * final name and renamed into place when whole and synced, so an interrupted export leaves no
 * archive that looks complete.
 */
export async function exportArchive(options: ExportOptions): Promise<ExportReport> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const level = options.level ?? 3;
  if (!Number.isInteger(level) || level < 1 || level > 19)
    throw new UsageError(`--level ${level}: a zstd level is 1 to 19`);
  if (options.programs.length === 0) throw new UsageError('nothing to export: name at least one program');
  const { store } = openFiles({ store: options.store, env, cwd });
  if (store === undefined) throw new UsageError('no store to export from');
  const keyFile = options.signKey ?? loadRemoteConfig(env).signingKeyFile;
  const secret = keyFile === undefined ? undefined : secretKeyFromFile(keyFile, 'read the signing key');

  const closures: Array<{ manifest: Buffer; signatures?: Buffer }> = [];
  const objects = new Map<string, ClosureObject>();
  const programs: string[] = [];
  for (const spec of options.programs) {
    const target = resolveTarget(spec, store);
    if (target.digest === undefined) {
      throw new UsageError(`${spec} is a path: export takes an imported program`, {
        hint: 'import it first (cald import), then export its name',
      });
    }
    const name = target.name ?? basename(target.argv0);
    const closure = closureOf(store, target.digest, name);
    const program = formatCasName(target.digest, name);
    const manifest = encodeClosureManifest({ program, objects: closure });
    const signatures =
      secret === undefined
        ? undefined
        : encodeSignatures(EMPTY_CONFIG, [signClosure(secret, program, manifestDigest(manifest))]);
    closures.push({ manifest, ...(signatures === undefined ? {} : { signatures }) });
    programs.push(program);
    for (const o of closure) if (!objects.has(o.digest.hex)) objects.set(o.digest.hex, o);
  }

  // gc waits for this lease, and keeps what it names, until the archive is written. None on a
  // store this user cannot write (read-only media, another user's store): an object its owner's gc
  // removes meanwhile fails the export, and whoever imports the archive hashes every object.
  const lease = leaseIfWritable(store.root, { purpose: `export ${programs.join(' ')}` });
  let done = 0;
  let bytes = 0;
  try {
    lease?.addTemporaryRoots([...objects.values()].map((o) => o.digest));
    const list = [...objects.values()].map((o) => ({
      ...o,
      read: () => {
        const s = createReadStream(store.pathOf(o.digest), { highWaterMark: 1024 * 1024 });
        s.once('end', () => {
          bytes += o.size;
          options.progress?.(++done, objects.size);
        });
        return s as AsyncIterable<Buffer>;
      },
    }));
    const archive = writeArchive({ closures, objects: list }, level);
    const archiveBytes =
      typeof options.output === 'string'
        ? await toFile(archive, resolve(cwd, options.output))
        : await toStream(archive, options.output);
    return {
      output: typeof options.output === 'string' ? resolve(cwd, options.output) : '-',
      programs,
      objects: objects.size,
      bytes,
      archiveBytes,
      signedBy: secret?.name ?? null,
    };
  } finally {
    lease?.release();
  }
}

async function toFile(archive: AsyncIterable<Buffer>, path: string): Promise<number> {
  if (isSpecialOutput(path)) return intoSpecial(archive, path);
  const tmp = join(
    dirname(path),
    `.${basename(path)}.cald-${process.pid}-${randomBytes(6).toString('hex')}.tmp`,
  );
  let size = 0;
  try {
    const file = await open(tmp, 'wx', 0o644).catch((e) => {
      throw ioErrorFrom(e, 'write', path);
    });
    try {
      for await (const chunk of archive) {
        await file.write(chunk).catch((e) => {
          throw ioErrorFrom(e, 'write', path);
        });
        size += chunk.length;
      }
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path).catch((e) => {
      throw ioErrorFrom(e, 'write', path);
    });
    return size;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Into a device or FIFO as it is (/dev/null, /dev/full): a rename would replace the device node. */
async function intoSpecial(archive: AsyncIterable<Buffer>, path: string): Promise<number> {
  const file = await open(path, 'w').catch((e) => {
    throw ioErrorFrom(e, 'write', path);
  });
  let size = 0;
  try {
    for await (const chunk of archive) {
      await file.write(chunk).catch((e) => {
        throw ioErrorFrom(e, 'write', path);
      });
      size += chunk.length;
    }
  } finally {
    await file.close();
  }
  return size;
}

async function toStream(archive: AsyncIterable<Buffer>, out: Writable): Promise<number> {
  let size = 0;
  for await (const chunk of archive) {
    size += chunk.length;
    if (!out.write(chunk)) {
      await new Promise<void>((ok, fail) => {
        const onError = (e: Error) => {
          out.off('drain', onDrain);
          fail(ioErrorFrom(e, 'write', 'standard output'));
        };
        const onDrain = () => {
          out.off('error', onError);
          ok();
        };
        out.once('drain', onDrain);
        out.once('error', onError);
      });
    }
  }
  return size;
}

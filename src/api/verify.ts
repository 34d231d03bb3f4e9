import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Digest, type RestoreFromOriginal, type VerifyReport, verifyStore } from '../store/index.js';
import { importFiles } from './import.js';
import { openExisting, openForReading, type StoreSelection } from './store-open.js';

export interface VerifyApiOptions extends StoreSelection {
  /** Restore damaged objects from their original files when re-importing reproduces them, else quarantine. */
  repair?: boolean;
  /** Hashing threads (default one per core). */
  workers?: number;
}

export interface VerifyResult extends VerifyReport {
  readonly store: string;
}

/** Re-hashes every object in parallel and checks names, paths/ and the index (docs/lifecycle.md). */
export async function verify(options: VerifyApiOptions = {}): Promise<VerifyResult> {
  // Only a repair writes: a store that this user cannot write is verified read-only.
  const { store } = options.repair === true ? await openExisting(options) : await openForReading(options);
  const scratch: string[] = [];
  // An imported object is a rewritten copy of its original: only re-importing the original
  // (into a scratch store, so nothing in the real store changes) can reproduce its bytes.
  const restore: RestoreFromOriginal = async (digest: Digest, original: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'cald-repair-'));
    scratch.push(dir);
    try {
      const report = await importFiles({ paths: [original], store: join(dir, 'store'), env: {} });
      // The object may be the file itself or any object of its closure (a library of a program).
      const path = join(dir, 'store', 'objects', 'sha256', digest.hex);
      if (existsSync(path)) return { path };
      const got = report.imported[0]?.digest;
      return { reason: `re-importing it gives ${got ?? 'nothing'} and a closure without ${digest}` };
    } catch (e) {
      return { reason: `re-import failed: ${e instanceof Error ? e.message : String(e)}` };
    }
  };
  try {
    const report = await verifyStore(store.files, store.index, {
      restore,
      ...(options.repair === undefined ? {} : { repair: options.repair }),
      ...(options.workers === undefined ? {} : { workers: options.workers }),
    });
    return { store: store.root, ...report };
  } finally {
    store.close();
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  }
}

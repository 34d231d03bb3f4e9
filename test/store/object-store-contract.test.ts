import { FileStore, LocalStore, MemoryStore } from '../../src/store/index.js';
import { objectStoreContract } from './contract.js';
import { tempDir } from './tmp.js';

objectStoreContract('MemoryStore', () => new MemoryStore());

const base = tempDir('contract-file');
let n = 0;
objectStoreContract('FileStore', () => FileStore.open(`${base}/s${n++}`, { create: true }));
objectStoreContract('LocalStore', () =>
  LocalStore.open({ path: `${base}/l${n++}`, create: true, extractRefs: () => [] }),
);

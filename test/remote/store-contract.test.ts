// The remotes are Stores: the same contract as the local and memory stores (test/store/contract.ts),
// run against an HTTP cache (cald's own server, on 127.0.0.1) and an OCI registry (Debian's
// docker-registry), less what a remote cannot do (list, delete, keep modes).

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createCacheServer, HttpCache, openRegistry } from '../../src/remote/index.js';
import { type Registry, registryUnavailable, startRegistry } from '../helpers/registry.js';
import { makeTmp } from '../helpers/tmp.js';
import { objectStoreContract } from '../store/contract.js';

const dir = makeTmp({ after }, 'remote-contract');
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});
let n = 0;

objectStoreContract(
  'HttpCache (cald serve)',
  async () => {
    const server = createCacheServer({ dir: join(dir, `cache-${n++}`), writable: true });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new HttpCache(`http://127.0.0.1:${port}`, {});
  },
  { list: false, modes: false, missingCode: 'REMOTE_NOT_FOUND' },
);

const unavailable = registryUnavailable();
if (unavailable !== null) {
  test('OciRegistry: the Store contract', { skip: unavailable }, () => {});
} else {
  let registry: Promise<Registry> | undefined;
  after(async () => (await registry)?.stop());
  objectStoreContract(
    'OciRegistry (docker-registry)',
    async () => {
      registry ??= startRegistry(join(dir, 'registry'));
      const r = await registry;
      // A fresh repository for each case: a registry answers for the blobs linked into one.
      return openRegistry(`oci://${r.address}/contract/r${n++}`, {});
    },
    { list: false, modes: false, missingCode: 'REMOTE_NOT_FOUND' },
  );
}

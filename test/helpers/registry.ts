// A real OCI registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1, with
// filesystem storage in a temporary directory and, when asked, basic authentication from an
// htpasswd file (bcrypt through the system's crypt(3), as Python exposes it).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { hasTool } from './run.js';

export interface Registry {
  readonly url: string;
  /** host:port */
  readonly address: string;
  stop(): Promise<void>;
}

/** A port nobody listens on now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** null when a registry can be started here; otherwise why not. */
export function registryUnavailable(): string | null {
  if (!hasTool('docker-registry')) return 'docker-registry (Debian package) is not installed';
  return null;
}

function bcrypt(password: string): string | undefined {
  const r = spawnSync(
    'python3',
    [
      '-W',
      'ignore',
      '-c',
      'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))',
      password,
    ],
    { encoding: 'utf8' },
  );
  const hash = r.stdout.trim();
  return r.status === 0 && hash.startsWith('$2') ? hash : undefined;
}

export async function startRegistry(
  dir: string,
  auth?: { user: string; password: string },
): Promise<Registry> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (auth !== undefined) {
    const hash = bcrypt(auth.password);
    if (hash === undefined) throw new Error('cannot make a bcrypt hash here (python3 crypt)');
    writeFileSync(join(dir, 'htpasswd'), `${auth.user}:${hash}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: cald-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn('docker-registry', ['serve', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/v2/`);
      await r.body?.cancel();
      if (r.status === 200 || r.status === 401) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    address: `127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

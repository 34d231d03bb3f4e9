// What the remote tests answer by hand: a server on 127.0.0.1 that hands each request to the test,
// and closure manifests written out as JSON (so a test can make one a real remote would not).
import { createServer, type Server, type Socket } from 'node:net';

/**
 * A server that hands each request (its socket, its path, how many came before on that socket) to
 * `answer`, which writes whatever it likes. Counts requests and connections.
 */
export async function byHand(
  answer: (socket: Socket, path: string, onThisSocket: number) => void,
): Promise<{ url: string; server: Server; requests: () => number; connections: () => number }> {
  let requests = 0;
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    let text = '';
    let onThisSocket = 0;
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      text += d.toString('latin1');
      for (let i = text.indexOf('\r\n\r\n'); i >= 0; i = text.indexOf('\r\n\r\n')) {
        const path = text.slice(0, i).split(' ')[1] ?? '';
        text = text.slice(i + 4);
        requests++;
        answer(socket, path, onThisSocket++);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests: () => requests,
    connections: () => connections,
  };
}

/** A closure manifest (docs/distribution.md) as JSON, with the layers and annotations given as they are. */
export function closureManifestJson(layers: unknown[], annotations: Record<string, string>): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: 'application/vnd.cald.closure.v1',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 },
    layers,
    annotations,
  });
}

import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { progressBar } from '../progress.js';

const PUSH_EXAMPLES = `
Examples:
  $ cald push oci://registry.example.com/tools ffmpeg
  $ cald push oci://127.0.0.1:5000/tools sqlite3 --tag 3.40 --tag latest
  $ cald push --json oci://127.0.0.1:5000/tools git | jq -r .manifest

Uploads only the objects the registry lacks, each a blob whose digest is the object's hash, then
one manifest (artifactType application/vnd.cald.closure.v1) listing the closure, tagged with the
program's name (or --tag) and sha256-<hex> of the program. Credentials: CALD_REGISTRY_USER and
CALD_REGISTRY_PASSWORD, else docker's config.json (docker login, skopeo login). A registry on this
machine (127.0.0.1, localhost) is spoken to over plain HTTP; CALD_INSECURE_REGISTRY=1 for others.
Exit status 7 when the registry fails.`;

const PULL_EXAMPLES = `
Examples:
  $ cald pull oci://registry.example.com/tools ffmpeg && cald run ffmpeg -version
  $ cald pull oci://127.0.0.1:5000/tools cas:sha256:9887cca5…b386

Fetches only the objects the store lacks; every byte is checked against its digest while it
streams into the store's tmp/, and an object becomes visible only when whole and verified. An
interrupted pull stores nothing half-made: run it again to fetch the rest.`;

interface RemoteFlags {
  store?: string;
  json?: boolean;
  tag?: string[];
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('push')
    .description("upload an imported program's closure to an OCI registry")
    .argument('<remote>', 'oci://HOST[:PORT]/REPOSITORY')
    .argument('<program>', 'imported program name, cas: URI, sha256: digest or hex prefix')
    .option('--tag <tag>', 'tag the closure (repeatable; default: the program name)', collect)
    .option('--store <dir>', 'the store (default: CALD_STORE, else ~/.local/share/cald/store)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', PUSH_EXAMPLES)
    .action(async (remote: string, name: string, flags: RemoteFlags) => {
      const { io } = ctx;
      const { push } = await import('../../api/push.js');
      const bar = progressBar(io, 'push');
      const r = await push({
        remote,
        program: name,
        ...(flags.tag === undefined ? {} : { tags: flags.tag }),
        ...(flags.store === undefined ? {} : { store: flags.store }),
        progress: (done, total) => bar.update(done, total, ''),
      });
      bar.done();
      if (flags.json === true) io.out(`${JSON.stringify(r, null, 2)}\n`);
      else {
        io.out(`${r.program}  ${r.remote}:${r.tags.join(',')}  ${r.manifest}\n`);
        io.err(
          `pushed ${r.objects} objects, ${r.uploaded} uploaded (${r.uploadedBytes} bytes), the rest already there\n`,
        );
      }
    });
  program
    .command('pull')
    .description("fetch a program's closure from an OCI registry into the store")
    .argument('<remote>', 'oci://HOST[:PORT]/REPOSITORY')
    .argument('<reference>', "a tag, or the program's cas: URI or sha256: digest")
    .option('--store <dir>', 'the store (default: CALD_STORE, else ~/.local/share/cald/store)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', PULL_EXAMPLES)
    .action(async (remote: string, reference: string, flags: RemoteFlags) => {
      const { io } = ctx;
      const { pull } = await import('../../api/pull.js');
      const bar = progressBar(io, 'pull');
      const r = await pull({
        remote,
        reference,
        ...(flags.store === undefined ? {} : { store: flags.store }),
        progress: (done, total) => bar.update(done, total, ''),
      });
      bar.done();
      if (flags.json === true) io.out(`${JSON.stringify(r, null, 2)}\n`);
      else {
        io.out(`${r.program}  ${r.remote}:${reference}\n`);
        io.err(
          `pulled ${r.objects} objects, ${r.fetched} fetched (${r.fetchedBytes} bytes), the rest already there\n`,
        );
      }
    });
}

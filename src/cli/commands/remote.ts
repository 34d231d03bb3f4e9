import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { STORE_OPTION } from '../options.js';
import { progressBar } from '../progress.js';

const PUSH_EXAMPLES = `
Examples:
  $ cald push oci://registry.example.com/tools ffmpeg
  $ cald push oci://127.0.0.1:5000/tools sqlite3 --tag 3.40 --tag latest
  $ cald push --json oci://127.0.0.1:5000/tools git | jq -r .manifest

Uploads only the objects the registry lacks, each a blob whose digest is the object's hash, then
one manifest (artifactType application/vnd.cald.closure.v1) listing the closure, tagged with the
program's name (or --tag) and sha256-<hex> of the program; signed with --sign-key (cald key
generate). Credentials: CALD_REGISTRY_USER and CALD_REGISTRY_PASSWORD, else docker's config.json
(docker login, skopeo login). A registry on this machine (127.0.0.1, localhost) is spoken to over
plain HTTP; CALD_INSECURE_REGISTRY=1 for others.
Exit status 7 when the registry fails.`;

const PULL_EXAMPLES = `
Examples:
  $ cald pull oci://registry.example.com/tools ffmpeg && cald run ffmpeg -version
  $ cald pull oci://127.0.0.1:5000/tools cas:sha256:9887cca5…b386
  $ CALD_SUBSTITUTERS='oci://127.0.0.1:5000/tools http://127.0.0.1:8377' cald pull ffmpeg

With no REMOTE, the substituters of cald.conf (substituters = …, or CALD_SUBSTITUTERS) are asked in order and the
first that has the reference is pulled from.

Refused unless a key in trusted-public-keys (cald.conf, or CALD_TRUSTED_PUBLIC_KEYS) signed the
closure, or --allow-unsigned. Fetches only the objects the store lacks; every byte is checked
against its digest while it streams into the store's tmp/, and an object becomes visible only
when whole and verified. An interrupted pull stores nothing half-made: run it again to fetch the
rest.`;

const FETCH_DAEMON_HELP = `
Examples:
  $ CALD_SUBSTITUTERS=https://cache.example.org cald fetch-daemon &
  $ cald pull --lazy https://cache.example.org ffmpeg && cald run ffmpeg -version

Listens on <store>/run/fetch.sock (mode 0600). When a program's library is absent from the
store, the resolver (libcald-audit.so) asks the daemon for it; the daemon fetches it from the
substituters (cald.conf, or CALD_SUBSTITUTERS) in order, verifies it as cald pull does and
stores it; the resolver then hashes it again before the loader maps it. Stop it with SIGTERM.
See docs/resolver.md, "Lazy fetch".`;

interface RemoteFlags {
  store?: string;
  json?: boolean;
  tag?: string[];
  signKey?: string;
  allowUnsigned?: boolean;
  lazy?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('push')
    .description("upload an imported program's closure to an OCI registry or an HTTP cache")
    .argument('<remote>', 'oci://HOST[:PORT]/REPOSITORY or http(s)://HOST/PATH')
    .argument('<program>', 'imported program name, cas: URI, sha256: digest or hex prefix')
    .option('--tag <tag>', 'tag the closure (repeatable; default: the program name)', collect)
    .option(
      '--sign-key <file>',
      'sign the closure with this secret key (default: signing-key-file of cald.conf)',
    )
    .option(...STORE_OPTION)
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
        ...(flags.signKey === undefined ? {} : { signKey: flags.signKey }),
        ...(flags.store === undefined ? {} : { store: flags.store }),
        progress: (done, total) => bar.update(done, total, ''),
      });
      bar.done();
      if (flags.json === true) io.out(`${JSON.stringify(r, null, 2)}\n`);
      else {
        io.out(`${r.program}  ${r.remote}:${r.tags.join(',')}  ${r.manifest}\n`);
        io.err(
          `pushed ${r.objects} objects, ${r.uploaded} uploaded (${r.uploadedBytes} bytes), the rest already there${r.signedBy === null ? '; not signed' : `; signed by ${r.signedBy}`}\n`,
        );
      }
    });
  program
    .command('pull')
    .description("fetch a program's closure from a remote (the configured ones by default) into the store")
    .argument(
      '<remote-or-reference>',
      'oci://HOST[:PORT]/REPOSITORY or http(s)://HOST/PATH; omitted: the substituters of cald.conf',
    )
    .argument('[reference]', "a tag, or the program's cas: URI or sha256: digest")
    .option('--allow-unsigned', 'take a closure that no trusted key signed')
    .option('--lazy', 'fetch only the program (and its loader); libraries at load time (cald fetch-daemon)')
    .option(...STORE_OPTION)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', PULL_EXAMPLES)
    .action(async (first: string, second: string | undefined, flags: RemoteFlags) => {
      const remote = second === undefined ? undefined : first;
      const reference = second ?? first;
      const { io } = ctx;
      const { pull } = await import('../../api/pull.js');
      const bar = progressBar(io, 'pull');
      const r = await pull({
        ...(remote === undefined ? {} : { remote }),
        reference,
        ...(flags.allowUnsigned === true ? { allowUnsigned: true } : {}),
        ...(flags.lazy === true ? { lazy: true } : {}),
        ...(flags.store === undefined ? {} : { store: flags.store }),
        progress: (done, total) => bar.update(done, total, ''),
      });
      bar.done();
      if (flags.json === true) io.out(`${JSON.stringify(r, null, 2)}\n`);
      else {
        io.out(`${r.program}  ${r.remote}:${reference}\n`);
        io.err(
          `pulled ${r.objects} objects, ${r.fetched} fetched (${r.fetchedBytes} bytes), the rest already there${r.signedBy === null ? '; signature not checked (--allow-unsigned)' : `; signed by ${r.signedBy}`}\n`,
        );
      }
    });
}

const KEY_EXAMPLES = `
Examples:
  $ cald key generate cache.example.org-1 --secret-file ~/.config/cald/secret.key
  cache.example.org-1:u1n1mo…=          (the public key: give it to those who pull)
  $ cald key public --secret-file ~/.config/cald/secret.key

The secret key file is written with mode 0600 and never replaced. Those who pull add the public
key to trusted-public-keys in cald.conf (docs/distribution.md).`;

export function registerKey(program: Command, ctx: CommandContext): void {
  const key = program
    .command('key')
    .description('ed25519 keys that sign closures pushed to remotes')
    .addHelpText('after', KEY_EXAMPLES);
  key
    .command('generate')
    .description('make a key pair: the secret into a new file, the public key printed')
    .argument('<name>', 'who the key is, e.g. cache.example.org-1')
    .requiredOption('--secret-file <file>', 'where to write the secret key (must not exist)')
    .option('--json', 'print { name, publicKey, secretFile } as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ cald key generate cache.example.org-1 --secret-file ~/.config/cald/secret.key
  cache.example.org-1:u1n1mo…=          (the public key: give it to those who pull)`,
    )
    .action(async (name: string, flags: { secretFile: string; json?: boolean }) => {
      const { generateKeyFiles } = await import('../../api/keys.js');
      const publicKey = generateKeyFiles({ name, secretFile: flags.secretFile });
      printKey(ctx, { name, publicKey, secretFile: flags.secretFile }, flags.json === true);
    });
  key
    .command('public')
    .description('print the public key of a secret key file')
    .requiredOption('--secret-file <file>', 'the secret key file')
    .option('--json', 'print { name, publicKey, secretFile } as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ cald key public --secret-file ~/.config/cald/secret.key
  cache.example.org-1:u1n1mo…=`,
    )
    .action(async (flags: { secretFile: string; json?: boolean }) => {
      const { publicKeyOfFile } = await import('../../api/keys.js');
      const publicKey = publicKeyOfFile(flags.secretFile);
      const name = publicKey.slice(0, publicKey.lastIndexOf(':'));
      printKey(ctx, { name, publicKey, secretFile: flags.secretFile }, flags.json === true);
    });
}

/** The public key line (what trusted-public-keys takes), or the key as JSON. */
function printKey(
  ctx: CommandContext,
  key: { name: string; publicKey: string; secretFile: string },
  json: boolean,
): void {
  ctx.io.out(json ? `${JSON.stringify(key, null, 2)}\n` : `${key.publicKey}\n`);
}

const SERVE_EXAMPLES = `
Examples:
  $ cald serve --dir /srv/cald-cache --writable --listen 127.0.0.1:8377 &
  $ cald push http://127.0.0.1:8377 ffmpeg --sign-key ~/.config/cald/secret.key
  $ cald pull http://127.0.0.1:8377 ffmpeg

Serves the HTTP cache layout (objects/sha256/<hex>, tags/<tag>) that any static web server or
bucket holding the same files serves too (docs/distribution.md): GET and HEAD with ETag and byte
ranges. With --writable it accepts PUT: an object only when its bytes hash to its name, a tag only
when it is a closure or signature manifest. Stops on SIGINT or SIGTERM.`;

export function registerServe(program: Command, ctx: CommandContext): void {
  program
    .command('serve')
    .description('serve a directory as an HTTP cache of closures')
    .requiredOption('--dir <dir>', 'the cache directory (made if missing)')
    .option('--listen <addr>', 'HOST:PORT to listen on (default 127.0.0.1:8377; port 0 picks one)')
    .option('--writable', 'accept PUT of objects and closure manifests')
    .option('--json', 'print { dir, url, writable } as JSON once listening (the port --listen :0 picked)')
    .addHelpText('after', SERVE_EXAMPLES)
    .action(async (flags: { dir: string; listen?: string; writable?: boolean; json?: boolean }) => {
      const { serve } = await import('../../api/serve.js');
      const s = await serve({
        dir: flags.dir,
        ...(flags.listen === undefined ? {} : { listen: flags.listen }),
        ...(flags.writable === true ? { writable: true } : {}),
      });
      const writable = flags.writable === true;
      if (flags.json === true)
        ctx.io.out(`${JSON.stringify({ dir: s.dir, url: s.url, writable }, null, 2)}\n`);
      else ctx.io.out(`serving ${s.dir} at ${s.url} (${writable ? 'writable' : 'read-only'})\n`);
      await new Promise<void>((done) => {
        const stop = () => void s.close().then(done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
  program
    .command('fetch-daemon')
    .description('fetch objects the loader asks for from the substituters (lazy fetch)')
    .option(...STORE_OPTION)
    .option('--no-prefetch', "fetch only what is asked for, not a fetched library's DT_NEEDED too")
    .option('--json', 'print { store, socket, substituters } as JSON once listening')
    .addHelpText('after', FETCH_DAEMON_HELP)
    .action(async (flags: { store?: string; prefetch: boolean; json?: boolean }) => {
      const { startFetchDaemon } = await import('../../api/fetch-daemon.js');
      const d = await startFetchDaemon({
        ...(flags.store === undefined ? {} : { store: flags.store }),
        prefetch: flags.prefetch,
        log: (line) => ctx.io.err(`cald fetch-daemon: ${line}\n`),
      });
      if (flags.json === true) {
        const ready = { store: d.store, socket: d.socket, substituters: d.substituters };
        ctx.io.out(`${JSON.stringify(ready, null, 2)}\n`);
      } else ctx.io.out(`fetching for ${d.store} on ${d.socket} from ${d.substituters.join(' ')}\n`);
      await new Promise<void>((done) => {
        const stop = () => void d.close().then(done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}

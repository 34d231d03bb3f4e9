// Pull of a program's closure from HTTP caches, side by side in one run: from `cald serve` and
// from nginx serving the same directory, beside curl fetching the same files from nginx (the same
// bytes moved by a plain HTTP client, no hashing, no fsync: the transfer's floor).
//
//   npm run build && node bench/http-pull.mjs [--program /usr/bin/ffmpeg] [--reps 3]
// Needs nginx (Debian nginx-light) and curl. Both servers listen on 127.0.0.1; every pull goes
// into a fresh store, every curl run into a fresh directory.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const program = arg('--program', '/usr/bin/ffmpeg');
const reps = Number(arg('--reps', '3'));
const repo = resolve(new URL('..', import.meta.url).pathname);
const cald = join(repo, 'bin/cald.js');
const work = mkdtempSync(join(tmpdir(), 'cald-bench-http-'));
const name = program.split('/').pop();

const freePort = () =>
  new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });
const waitFor = async (url) => {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer`);
};
const time = (cmd, args, env = {}) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
};

const cache = join(work, 'cache');
const servePort = await freePort();
const serve = spawn(
  process.execPath,
  [cald, 'serve', '--dir', cache, '--writable', '--listen', `127.0.0.1:${servePort}`],
  {
    stdio: 'ignore',
  },
);
const nginxPort = await freePort();
mkdirSync(join(work, 'nginx-tmp'), { recursive: true });
writeFileSync(
  join(work, 'nginx.conf'),
  `daemon off;\n${process.getuid?.() === 0 ? 'user root root;\n' : ''}pid ${work}/nginx.pid;\nerror_log ${work}/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${work}/nginx-tmp;\n  server {\n    listen 127.0.0.1:${nginxPort};\n    root ${cache};\n  }\n}\n`,
);
const nginx = spawn('nginx', ['-c', join(work, 'nginx.conf'), '-p', work], { stdio: 'ignore' });
try {
  const serveUrl = `http://127.0.0.1:${servePort}`;
  const nginxUrl = `http://127.0.0.1:${nginxPort}`;
  await waitFor(serveUrl);
  await waitFor(nginxUrl);
  const source = join(work, 'source');
  spawnSync(process.execPath, [cald, 'import', program], { env: { ...process.env, CALD_STORE: source } });
  const pushMs = time(process.execPath, [cald, 'push', serveUrl, name], { CALD_STORE: source });
  const objects = readdirSync(join(source, 'objects', 'sha256'));
  const env = { CALD_REQUIRE_SIGNATURES: 'false' };
  console.log(`program: ${program}: ${objects.length} objects; push to cald serve ${pushMs.toFixed(0)} ms`);
  console.log(
    `cald:   node ${cald} pull <cache> ${name}   (fresh store each time; from cald serve, then nginx)`,
  );
  console.log(
    `curl:   curl --parallel --parallel-max 4 of the same ${objects.length} files from nginx into a fresh directory`,
  );
  const rows = [];
  for (let rep = 1; rep <= reps; rep++) {
    const viaServe = time(process.execPath, [cald, 'pull', serveUrl, name], {
      ...env,
      CALD_STORE: join(work, `s-${rep}`),
    });
    const viaNginx = time(process.execPath, [cald, 'pull', nginxUrl, name], {
      ...env,
      CALD_STORE: join(work, `n-${rep}`),
    });
    const dir = join(work, `curl-${rep}`);
    mkdirSync(dir);
    const args = ['-sS', '--fail', '--parallel', '--parallel-max', '4'];
    for (const hex of objects) args.push('-o', join(dir, hex), `${nginxUrl}/objects/sha256/${hex}`);
    const viaCurl = time('curl', args);
    rows.push({ viaServe, viaNginx, viaCurl });
    console.log(
      `rep ${rep}: pull from cald serve ${viaServe.toFixed(0)} ms, from nginx ${viaNginx.toFixed(0)} ms, curl from nginx ${viaCurl.toFixed(0)} ms; cald(nginx)/curl ${(viaNginx / viaCurl).toFixed(2)}`,
    );
  }
  const med = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
  console.log(
    `median: from cald serve ${med('viaServe').toFixed(0)} ms, from nginx ${med('viaNginx').toFixed(0)} ms, curl ${med('viaCurl').toFixed(0)} ms; cald/curl ${(med('viaNginx') / med('viaCurl')).toFixed(2)}`,
  );
} finally {
  serve.kill();
  nginx.kill();
  rmSync(work, { recursive: true, force: true });
}

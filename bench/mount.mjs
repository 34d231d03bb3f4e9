// The mounted view (docs/mount.md) against the plain store and against EROFS images of the same
// files, side by side in one run (runs interleaved), with ratios to the plain store:
//
//   - reading a 100 MB object (cat > /dev/null): cold (its pages dropped with posix_fadvise
//     through native/cald-drop-cache, from every file that could hold them) and warm;
//   - starting ffmpeg -version (its whole library closure, imported as one tree with the 100 MB
//     file), run by the audit resolver from the tree's path: warm, and cold (every file dropped).
//
// Ways: plain (a `cald checkout` of the tree: hard links to the store's objects, and the store's
// object path for the 100 MB file); fuse-pt (cald mount, kernel passthrough); fuse-read (cald
// mount --no-passthrough: every read through the server); erofs-file (mkfs.erofs of the
// checkout, mounted file-backed: mount(2) with the image file as source); erofs-loop (the same
// image through a loop device). Root only (mounts). Prints the load (uptime) before and after.
//
//   npm run build && node bench/mount.mjs [--runs 20] [--cold-runs 5] [--rounds 3]
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 20));
const COLD_RUNS = Number(opt('--cold-runs', 5));
const ROUNDS = Number(opt('--rounds', 3));
const repo = resolve(new URL('..', import.meta.url).pathname);
const cald = join(repo, 'bin/cald.js');
const native = process.env.CALD_NATIVE_DIR || join(repo, 'native/build');
const DROP = join(native, 'cald-drop-cache');
const sh = (cmd, args, env = {}) =>
  execFileSync(cmd, args, {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

if (process.getuid() !== 0) {
  console.error('bench/mount.mjs: needs root (it mounts)');
  process.exit(1);
}
console.log(`node bench/mount.mjs --runs ${RUNS} --cold-runs ${COLD_RUNS} --rounds ${ROUNDS}`);
console.log(`load before: ${sh('uptime', []).trim()}`);

const dir = resolve(
  execFileSync('mktemp', ['-d', join(tmpdir(), 'cald-bench-mount-XXXXXX')], { encoding: 'utf8' }).trim(),
);
const store = join(dir, 'store');
const env = { CALD_STORE: store, XDG_CACHE_HOME: join(dir, 'cache'), HOME: join(dir, 'home') };
mkdirSync(env.HOME, { recursive: true });
const mounted = [];
const cleanup = () => {
  for (const m of mounted.reverse()) spawnSync('umount', ['-l', m]);
  spawnSync('chmod', ['-R', 'u+w', dir]);
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

// The tree: ffmpeg and every library ldd finds for it, in usr/bin and usr/lib, and a 100 MB file.
const src = join(dir, 'src');
mkdirSync(join(src, 'usr', 'bin'), { recursive: true });
mkdirSync(join(src, 'usr', 'lib'), { recursive: true });
mkdirSync(join(src, 'data'), { recursive: true });
sh('cp', ['-L', '/usr/bin/ffmpeg', join(src, 'usr', 'bin', 'ffmpeg')]);
const libs = [...sh('ldd', ['/usr/bin/ffmpeg']).matchAll(/=> (\/\S+)/g)].map((m) => m[1]);
sh('cp', ['-L', ...libs, join(src, 'usr', 'lib')]);
{
  const fd = openSync(join(src, 'data', 'blob'), 'w');
  for (let i = 0; i < 100; i++) writeSync(fd, randomBytes(1 << 20));
  closeSync(fd);
}
const t0 = Date.now();
const imported = JSON.parse(sh(process.execPath, [cald, 'import', '--tree', '--json', src], env));
const tree = /sha256:([0-9a-f]{64})/.exec(imported.tree.digest)[1];
console.log(
  `tree sha256:${tree}: ffmpeg and ${libs.length} libraries, a 100 MB file (import ${Date.now() - t0} ms)`,
);
const co = join(dir, 'co');
sh(process.execPath, [cald, 'checkout', tree, co], env);
const blobHex = sh('sha256sum', [join(co, 'data', 'blob')]).split(' ')[0];

// The mounts.
const mnt = (name) => {
  const p = join(dir, name);
  mkdirSync(p);
  return p;
};
const fusePt = mnt('fuse-pt');
const fuseRead = mnt('fuse-read');
const ptReport = JSON.parse(sh(process.execPath, [cald, 'mount', fusePt, '--json'], env));
mounted.push(fusePt);
sh(process.execPath, [cald, 'mount', fuseRead, '--no-passthrough'], env);
mounted.push(fuseRead);
if (ptReport.reads !== 'passthrough')
  console.log('note: the kernel did not grant passthrough: fuse-pt reads through the server too');
const image = join(dir, 'tree.erofs');
const mkfsStart = Date.now();
sh('mkfs.erofs', ['--quiet', image, co]);
const mkfsMs = Date.now() - mkfsStart;
const erofsFile = mnt('erofs-file');
const erofsLoop = mnt('erofs-loop');
{
  // mount(8) always sets up a loop device for a regular file; file-backed EROFS needs mount(2)
  // with the file itself as source (Linux 6.12+, CONFIG_EROFS_FS_BACKED_BY_FILE).
  const helper = join(dir, 'mount-file');
  const c = spawnSync('cc', ['-x', 'c', '-o', helper, '-'], {
    input:
      '#include <stdio.h>\n#include <sys/mount.h>\nint main(int c, char **v) { if (mount(v[1], v[2], "erofs", MS_RDONLY, NULL)) { perror("mount"); return 1; } return 0; }\n',
  });
  if (c.status !== 0) throw new Error(`cc: ${c.stderr}`);
  sh(helper, [image, erofsFile]);
  mounted.push(erofsFile);
  sh('mount', ['-t', 'erofs', '-o', 'ro,loop', image, erofsLoop]);
  mounted.push(erofsLoop);
}
const treeAt = (root) => join(root, 'trees', 'sha256', tree);
const ways = {
  plain: { root: co, blob: join(store, 'objects', 'sha256', blobHex) },
  'fuse-pt': { root: treeAt(fusePt), blob: join(fusePt, 'objects', 'sha256', blobHex) },
  'fuse-read': { root: treeAt(fuseRead), blob: join(fuseRead, 'objects', 'sha256', blobHex) },
  'erofs-file': { root: erofsFile, blob: join(erofsFile, 'data', 'blob') },
  'erofs-loop': { root: erofsLoop, blob: join(erofsLoop, 'data', 'blob') },
};
const names = Object.keys(ways);

// Every file a way's reads could be cached in: its own files, and the store's or the image.
const filesUnder = (root) => {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(root);
  return out;
};
const storeObjects = filesUnder(join(store, 'objects'));
const dropAll = () => {
  const files = [
    image,
    ...storeObjects,
    ...names.flatMap((n) => filesUnder(ways[n].root)),
    ...names.map((n) => ways[n].blob),
  ];
  spawnSync(DROP, files, { stdio: 'ignore' });
};

const devnull = openSync('/dev/null', 'w');
const runEnv = {
  PATH: '/usr/bin:/bin',
  HOME: env.HOME,
  XDG_CACHE_HOME: env.XDG_CACHE_HOME,
  CALD_STORE: store,
  LD_AUDIT: join(native, 'libcald-audit.so'),
};
const timed = (cmd, args, e = runEnv) => {
  const a = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', devnull, 'pipe'], env: e });
  const ms = Number(process.hrtime.bigint() - a) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ms;
};
const ffmpeg = (n) => timed(join(ways[n].root, 'usr', 'bin', 'ffmpeg'), ['-version']);
const cat = (n) => timed('cat', [ways[n].blob], { PATH: '/usr/bin:/bin' });

// First contact: each way's first start (the resolver hashes what it has not cached for that
// file's inode; the FUSE server hashes each object once at its first lookup).
const first = {};
for (const n of names) first[n] = ffmpeg(n);
for (const n of names) cat(n); // and the blob's first lookup

const rows = { catCold: {}, catWarm: {}, ffCold: {}, ffWarm: {} };
for (const k of Object.keys(rows)) for (const n of names) rows[k][n] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < COLD_RUNS; i++)
    for (let k = 0; k < names.length; k++) {
      const n = names[(i + k) % names.length];
      dropAll();
      rows.catCold[n].push(cat(n));
      dropAll();
      rows.ffCold[n].push(ffmpeg(n));
    }
  for (let i = 0; i < RUNS; i++)
    for (let k = 0; k < names.length; k++) {
      const n = names[(i + k) % names.length];
      rows.catWarm[n].push(cat(n));
      rows.ffWarm[n].push(ffmpeg(n));
    }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const label = {
  catCold: 'cat 100 MB, cold',
  catWarm: 'cat 100 MB, warm',
  ffCold: 'ffmpeg -version, cold',
  ffWarm: 'ffmpeg -version, warm',
};
console.log(
  `\nmedians in ms (ratio to plain); ${ROUNDS} rounds of ${COLD_RUNS} cold and ${RUNS} warm runs per way`,
);
console.log(`| | ${names.join(' | ')} |`);
console.log(`|---|${names.map(() => '---').join('|')}|`);
for (const k of Object.keys(rows)) {
  const base = median(rows[k].plain);
  console.log(
    `| ${label[k]} | ${names.map((n) => `${median(rows[k][n]).toFixed(1)} (${(median(rows[k][n]) / base).toFixed(2)}x)`).join(' | ')} |`,
  );
}
console.log(`| ffmpeg -version, first start | ${names.map((n) => first[n].toFixed(1)).join(' | ')} |`);
console.log(
  `\nimage ${(statSync(image).size / 1e6).toFixed(1)} MB, made by mkfs.erofs in ${mkfsMs} ms; load: ${sh('uptime', []).trim()}`,
);

// Lazy fetch, the reason to prefer FUSE: the objects on `cald serve` (127.0.0.1), an empty store
// with `cald fetch-daemon`, mounted. ffmpeg -version from the mount fetches only what it opens
// (not the 100 MB file), and the 100 MB file alone when it is read. An EROFS image must be
// whole before it can be mounted: its download from the same server (curl) is the floor there.
const cache = join(dir, 'cache-http');
mkdirSync(join(cache, 'objects', 'sha256'), { recursive: true });
for (const f of storeObjects) sh('ln', [f, join(cache, 'objects', 'sha256', f.split('/').pop())]);
const imageHex = sh('sha256sum', [image]).split(' ')[0];
sh('ln', [image, join(cache, 'objects', 'sha256', imageHex)]);
const { spawn } = await import('node:child_process');
const background = (args, e, ready) =>
  new Promise((res, rej) => {
    const child = spawn(process.execPath, [cald, ...args], {
      env: { ...process.env, ...e },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const look = (d) => {
      out += String(d);
      const m = ready.exec(out);
      if (m) res({ child, m });
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (c) => rej(new Error(`cald ${args[0]} exited ${c}: ${out}`)));
  });
const server = await background(
  ['serve', '--dir', cache, '--listen', '127.0.0.1:0'],
  {},
  / at (http:\/\/\S+) /,
);
const url = server.m[1];
const lazyRows = { ffmpeg: [], blob: [], curl: [], fetched: [] };
for (let r = 0; r < ROUNDS; r++) {
  const lazyStore = join(dir, `lazy-${r}`);
  const lenv = {
    ...env,
    CALD_STORE: lazyStore,
    CALD_SUBSTITUTERS: url,
    XDG_CONFIG_HOME: join(dir, 'config'),
  };
  sh(process.execPath, [cald, 'import', '/usr/bin/true', '--store', lazyStore], lenv); // an empty store
  const daemon = await background(['fetch-daemon', '--store', lazyStore], lenv, /^fetching for /m);
  const m = mnt(`lazy-m-${r}`);
  sh(process.execPath, [cald, 'mount', m], lenv);
  mounted.push(m);
  const before = readdirSync(join(lazyStore, 'objects', 'sha256')).length;
  lazyRows.ffmpeg.push(
    timed(join(treeAt(m), 'usr', 'bin', 'ffmpeg'), ['-version'], { ...runEnv, CALD_STORE: lazyStore }),
  );
  const got = readdirSync(join(lazyStore, 'objects', 'sha256'));
  const bytes = got.reduce((a, h) => a + statSync(join(lazyStore, 'objects', 'sha256', h)).size, 0);
  lazyRows.fetched.push(`${got.length - before} objects, ${(bytes / 1e6).toFixed(0)} MB`);
  lazyRows.blob.push(timed('cat', [join(m, 'objects', 'sha256', blobHex)], { PATH: '/usr/bin:/bin' }));
  lazyRows.curl.push(
    timed('curl', ['-sf', '-o', '/dev/null', `${url}/objects/sha256/${imageHex}`], { PATH: '/usr/bin:/bin' }),
  );
  spawnSync(process.execPath, [cald, 'unmount', m], { env: { ...process.env, ...lenv } });
  mounted.pop();
  daemon.child.kill('SIGTERM');
}
server.child.kill('SIGTERM');
console.log(`\nlazy fetch from cald serve on 127.0.0.1 (medians of ${ROUNDS}, ms)`);
console.log(
  '| ffmpeg -version from a mount of an empty store (objects fetched) | cat the 100 MB object from it | curl the whole EROFS image |',
);
console.log('|---|---|---|');
console.log(
  `| ${median(lazyRows.ffmpeg).toFixed(0)} (${lazyRows.fetched[0]}) | ${median(lazyRows.blob).toFixed(0)} | ${median(lazyRows.curl).toFixed(0)} (${(statSync(image).size / 1e6).toFixed(0)} MB) |`,
);
console.log(`load after: ${sh('uptime', []).trim()}`);

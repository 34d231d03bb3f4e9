// Lazy fetch (docs/resolver.md, "Lazy fetch"): what it costs per object for the loader to get a
// library through `cald fetch-daemon` over loopback, in one run beside
//   present:   the same `cald run` with every object already in the store;
//   pull:      `cald pull` of the whole closure into an empty store, then `cald run`;
//   lazy:      `cald pull --lazy`'s store (the program and its loader) and a fetch daemon, then
//              `cald run`, which fetches each library as the loader asks (prefetching the
//              DT_NEEDED of each fetched library, the default);
//   lazy-seq:  the same with `cald fetch-daemon --no-prefetch`: one object per request, in the
//              loader's order;
//   curl:      the floor: curl fetching the same objects in sequence over one connection.
// Per object = (lazy − present) / the objects fetched at load time.
//
//   npm run build && node bench/lazy-fetch.mjs [--program /usr/bin/ffmpeg] [--args -version] [--reps 3]
//                                              [--against DIR]
// The cache is `cald serve` on 127.0.0.1. Each rep starts from the pull --lazy state again.
// --against DIR: another built checkout of cald (the code before a change, say): its fetch daemon
// serves a `lazy` store of its own in the same reps (column `against`), the two taking turns to go
// first, so a change is measured under the same load.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const program = arg('--program', '/usr/bin/ffmpeg');
const progArgs = arg('--args', '-version').split(' ');
const reps = Number(arg('--reps', '3'));
const against = arg('--against', undefined);
const repo = resolve(new URL('..', import.meta.url).pathname);
const cald = join(repo, 'bin/cald.js');
// Short: a unix socket's path is at most 107 bytes.
const work = mkdtempSync('/tmp/cald-lz-');
const name = program.split('/').pop();

const freePort = () =>
  new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });
const started = (args, env, ready, bin = cald) =>
  new Promise((ok, fail) => {
    const child = spawn(process.execPath, [bin, ...args], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
      if (ready.test(out)) ok(child);
    });
    child.on('exit', (c) => fail(new Error(`cald ${args[0]} exited ${c}`)));
  });
const time = (args, env) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [cald, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`cald ${args.join(' ')}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const objects = (store) => readdirSync(join(store, 'objects', 'sha256'));
// A process's user + system CPU seconds so far (/proc/<pid>/stat fields 14 and 15, in 1/100 s).
const cpuOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const children = [];
try {
  const source = join(work, 'src');
  const base = {
    XDG_CONFIG_HOME: join(work, 'cfg'),
    XDG_CACHE_HOME: join(work, 'xc'),
    CALD_REQUIRE_SIGNATURES: 'false',
  };
  spawnSync(process.execPath, [cald, 'import', program], {
    env: { ...process.env, ...base, CALD_STORE: source },
  });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  children.push(
    await started(
      ['serve', '--dir', join(work, 'cache'), '--listen', `127.0.0.1:${port}`, '--writable'],
      base,
      / at http/,
    ),
  );
  time(['push', url, name], { ...base, CALD_STORE: source });
  const env = { ...base, CALD_SUBSTITUTERS: url };
  const stores = {
    lazy: join(work, 'l'),
    'lazy-seq': join(work, 'q'),
    ...(against === undefined ? {} : { against: join(work, 'a') }),
  };
  const daemons = {};
  for (const [kind, store] of Object.entries(stores)) {
    daemons[kind] = await started(
      ['fetch-daemon', '--store', store, ...(kind === 'lazy-seq' ? ['--no-prefetch'] : [])],
      env,
      /^fetching/m,
      kind === 'against' ? join(resolve(against), 'bin/cald.js') : cald,
    );
    children.push(daemons[kind]);
    time(['pull', '--lazy', url, name], { ...env, CALD_STORE: store });
  }
  const pulled = objects(stores.lazy);
  const total = objects(source).length;
  const run = (store) => time(['run', name, ...progArgs], { ...env, CALD_STORE: store });
  // The present store: a full pull, run once so the verification cache is as it usually is.
  const present = join(work, 'p');
  time(['pull', url, name], { ...env, CALD_STORE: present });
  run(present);
  console.log(
    `program: ${program} ${progArgs.join(' ')}: ${total} objects in the closure; pull --lazy fetches ${pulled.length}`,
  );
  const rows = [];
  for (let rep = 1; rep <= reps; rep++) {
    const row = { present: run(present) };
    let fetched = 0;
    // Taking turns: the first of the kinds in one rep goes last in the next.
    const kinds = Object.entries(stores);
    for (const [kind, store] of rep % 2 === 0 ? kinds.reverse() : kinds) {
      for (const hex of objects(store))
        if (!pulled.includes(hex)) rmSync(join(store, 'objects', 'sha256', hex));
      const cpu0 = cpuOf(daemons[kind].pid);
      row[kind] = run(store);
      row[`${kind}Cpu`] = cpuOf(daemons[kind].pid) - cpu0;
      fetched = objects(store).length - pulled.length;
    }
    // The transfer's floor: curl fetching the same objects one after another over one kept-alive
    // connection (what lazy-seq asks for), no hashing, no fsync, no store.
    const libs = objects(stores.lazy).filter((h) => !pulled.includes(h));
    const curlArgs = ['-sS', '--fail'];
    for (const hex of libs) curlArgs.push('-o', '/dev/null', `${url}/objects/sha256/${hex}`);
    const c0 = process.hrtime.bigint();
    if (spawnSync('curl', curlArgs).status !== 0) throw new Error('curl failed');
    row.curl = Number(process.hrtime.bigint() - c0) / 1e6;
    const fresh = join(work, `f-${rep}`);
    row.pull = time(['pull', url, name], { ...env, CALD_STORE: fresh }) + run(fresh);
    row.fetched = fetched;
    rows.push(row);
    const vs =
      against === undefined
        ? ''
        : `; against: lazy ${row.against.toFixed(0)} ms, the daemon's CPU ${row.againstCpu.toFixed(2)} s`;
    console.log(
      `rep ${rep}: present ${row.present.toFixed(0)} ms, lazy ${row.lazy.toFixed(0)} ms, lazy-seq ${row['lazy-seq'].toFixed(0)} ms, pull+run ${row.pull.toFixed(0)} ms, curl ${row.curl.toFixed(0)} ms; ${fetched} objects fetched at load time; the daemon's CPU ${row.lazyCpu.toFixed(2)} s (lazy), ${row['lazy-seqCpu'].toFixed(2)} s (lazy-seq)${vs}; load ${load()}`,
    );
  }
  // What a helper process started per object would cost before fetching anything.
  const starts = [1, 2, 3, 4, 5].map(() => time(['--version'], {})).sort((a, b) => a - b);
  console.log(`a helper per object instead: cald --version takes ${starts[2].toFixed(0)} ms (median of 5)`);
  const med = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
  const n = med('fetched');
  console.log(
    `median: present ${med('present').toFixed(0)} ms, lazy ${med('lazy').toFixed(0)} ms, lazy-seq ${med('lazy-seq').toFixed(0)} ms, pull+run ${med('pull').toFixed(0)} ms, curl of the same objects ${med('curl').toFixed(0)} ms`,
  );
  console.log(
    `the daemon's CPU per object fetched: lazy ${((med('lazyCpu') / n) * 1000).toFixed(2)} ms, lazy-seq ${((med('lazy-seqCpu') / n) * 1000).toFixed(2)} ms`,
  );
  if (against !== undefined) {
    console.log(
      `against ${against}: lazy ${med('against').toFixed(0)} ms, ${((med('against') - med('present')) / n).toFixed(2)} ms per object fetched, the daemon's CPU ${((med('againstCpu') / n) * 1000).toFixed(2)} ms per object`,
    );
  }
  console.log(
    `per object fetched at load time: lazy ${((med('lazy') - med('present')) / n).toFixed(2)} ms, lazy-seq ${((med('lazy-seq') - med('present')) / n).toFixed(2)} ms, pull+run ${((med('pull') - med('present')) / n).toFixed(2)} ms; curl's transfer alone ${(med('curl') / n).toFixed(2)} ms`,
  );
} finally {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  rmSync(work, { recursive: true, force: true });
}

// Pull of a program's closure from a local OCI registry, side by side in one run with skopeo
// copying the same manifest and blobs out of the same registry (an independent client doing the
// same transfer and the same digest checks), and push beside skopeo's copy back in.
//
//   npm run build && node bench/oci-pull.mjs [--program /usr/bin/ffmpeg] [--reps 3] [--against DIR]
// --against DIR: another built checkout of cald (the code before a change, say) pulls too in each
// rep, so a change is measured under the same load.
// Needs Debian's docker-registry and skopeo. The registry runs on 127.0.0.1 with storage in a
// temporary directory; every pull goes into a fresh store, every skopeo copy into a fresh layout.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const program = arg('--program', '/usr/bin/ffmpeg');
const reps = Number(arg('--reps', '3'));
const against = arg('--against', undefined);
const repo = resolve(new URL('..', import.meta.url).pathname);
const cald = join(repo, 'bin/cald.js');
const work = mkdtempSync(join(tmpdir(), 'cald-bench-oci-'));

const port = await new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => ok(p));
  });
});
writeFileSync(
  join(work, 'config.yml'),
  `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${work}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`,
);
const registry = spawn('docker-registry', ['serve', join(work, 'config.yml')], { stdio: 'ignore' });
for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/v2/`)).status === 200) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 100));
}

const time = (cmd, args, env = {}) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M CPU %U %S', cmd, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return {
    ms: Number(process.hrtime.bigint() - t0) / 1e6,
    rss: Number(/MAXRSS (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024,
    // user + system CPU seconds: what the pull costs the machine, whatever else runs on it
    cpu: (([, u, sy]) => Number(u) + Number(sy))(/CPU ([\d.]+) ([\d.]+)/.exec(r.stderr) ?? [0, 0, 0]),
  };
};

try {
  const source = join(work, 'source');
  spawnSync(process.execPath, [cald, 'import', program], { env: { ...process.env, CALD_STORE: source } });
  const remote = `oci://127.0.0.1:${port}/bench/closure`;
  const name = program.split('/').pop();
  const push = time(process.execPath, [cald, 'push', remote, name, '--json'], { CALD_STORE: source });
  const report = JSON.parse(
    spawnSync(process.execPath, [cald, 'push', remote, name, '--json'], {
      encoding: 'utf8',
      env: { ...process.env, CALD_STORE: source },
    }).stdout,
  );
  const ref = `docker://127.0.0.1:${port}/bench/closure:${name}`;
  const skopeoPush = time('skopeo', [
    'copy',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    ref,
    `docker://127.0.0.1:${port}/bench/again:${name}`,
  ]);
  console.log(`program: ${program}: ${report.objects} objects`);
  console.log(`cald:    node ${cald} pull ${remote} ${name}   (fresh store each time)`);
  console.log(`skopeo:  skopeo copy --src-tls-verify=false ${ref} oci:<fresh dir>:x`);
  console.log(
    `push (first, all blobs): cald ${push.ms.toFixed(0)} ms (peak ${push.rss.toFixed(0)} MiB); skopeo copy registry->registry ${skopeoPush.ms.toFixed(0)} ms`,
  );
  const rows = [];
  for (let rep = 1; rep <= reps; rep++) {
    const dest = join(work, `dest-${rep}`);
    const c = time(process.execPath, [cald, 'pull', remote, name, '--allow-unsigned'], { CALD_STORE: dest });
    const s = time('skopeo', ['copy', '--src-tls-verify=false', ref, `oci:${join(work, `layout-${rep}`)}:x`]);
    const a =
      against === undefined
        ? undefined
        : time(
            process.execPath,
            [join(resolve(against), 'bin/cald.js'), 'pull', remote, name, '--allow-unsigned'],
            {
              CALD_STORE: `${dest}-against`,
            },
          );
    rows.push({
      cald: c.ms,
      rss: c.rss,
      skopeo: s.ms,
      caldCpu: c.cpu,
      skopeoCpu: s.cpu,
      against: a?.ms ?? 0,
    });
    console.log(
      `rep ${rep}: cald pull ${c.ms.toFixed(0)} ms (CPU ${c.cpu.toFixed(2)} s, peak ${c.rss.toFixed(0)} MiB), skopeo copy ${s.ms.toFixed(0)} ms (CPU ${s.cpu.toFixed(2)} s); cald/skopeo ${(c.ms / s.ms).toFixed(2)}${a === undefined ? '' : `; against: pull ${a.ms.toFixed(0)} ms (CPU ${a.cpu.toFixed(2)} s), /skopeo ${(a.ms / s.ms).toFixed(2)}`}; load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`,
    );
  }
  const med = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
  console.log(
    `median: cald pull ${med('cald').toFixed(0)} ms (CPU ${med('caldCpu').toFixed(2)} s), skopeo ${med('skopeo').toFixed(0)} ms (CPU ${med('skopeoCpu').toFixed(2)} s); cald/skopeo ${(med('cald') / med('skopeo')).toFixed(2)} (target <= 1)${against === undefined ? '' : `; against: pull ${med('against').toFixed(0)} ms, /skopeo ${(med('against') / med('skopeo')).toFixed(2)}`}`,
  );
} finally {
  registry.kill();
  rmSync(work, { recursive: true, force: true });
}

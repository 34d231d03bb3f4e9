// What naming a script's interpreter by content costs at start-up (docs/scripts.md): one small
// /bin/sh script run four ways, alternating, with hyperfine -N:
//   host #!        #!/bin/sh, the kernel runs the host's dash (the baseline)
//   binfmt_misc    #!cas:, the kernel runs cald-binfmt, which verifies dash's object and execs it
//                  under the audit resolver (needs root: a private binfmt_misc entry, removed after)
//   launcher       a `cald install` launcher of the stored script (the same C code)
// ROUNDS rounds of hyperfine, a different way first in each (load that comes and goes then hits
// them all); prints each way's median of the rounds' medians and its ratio to the baseline.
// Record `uptime` beside any number kept.
//
//   npm run build && node bench/script-start.mjs [--runs N] [--rounds R]
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 300));
const ROUNDS = Number(opt('--rounds', 3));
const root = resolve('.');
const { fillScriptHandler } = await import(`${root}/dist/src/runtime/launcher.js`);
const BINFMT = '/proc/sys/fs/binfmt_misc';

const dir = mkdtempSync(join(tmpdir(), 'cald-bench-script-'));
const env = { ...process.env, CALD_STORE: join(dir, 'store'), XDG_CACHE_HOME: join(dir, 'cache') };
const cald = (...args) =>
  execFileSync(process.execPath, [join(root, 'bin/cald.js'), ...args], { env, encoding: 'utf8' });
const host = join(dir, 'host.sh');
writeFileSync(host, '#!/bin/sh\n: "$@"\n');
chmodSync(host, 0o755);
cald('import', host);
const object = cald('path', 'host.sh').trim();
const cas = join(dir, 'cas.sh');
writeFileSync(cas, readFileSync(object));
chmodSync(cas, 0o755);
cald('install', 'host.sh', '--bin', join(dir, 'bin'));
const audit = join(root, 'native/build/libcald-audit.so');

const commands = {
  'host #!': host,
  launcher: join(dir, 'bin', 'host.sh'),
};
let entry;
let mounted = false;
if (process.getuid?.() === 0) {
  if (!existsSync(join(BINFMT, 'register'))) {
    execFileSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT]);
    mounted = true;
  }
  const handler = join(dir, 'cald-binfmt');
  writeFileSync(handler, fillScriptHandler(readFileSync(join(root, 'native/build/cald-binfmt')), audit));
  chmodSync(handler, 0o755);
  entry = `cald-bench-${process.pid}`;
  writeFileSync(join(BINFMT, 'register'), `|${entry}|M||#!cas:||${handler}|`);
  commands.binfmt_misc = cas;
} else {
  console.log('binfmt_misc: skipped (needs root)');
}
try {
  for (const c of Object.values(commands)) execFileSync('sh', ['-c', c], { env }); // warm the verification cache
  const json = join(dir, 'out.json');
  const medians = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = Object.entries(commands);
    for (let i = 0; i < round; i++) order.push(order.shift());
    const args = ['-N', '--warmup', '20', '--runs', String(RUNS), '--export-json', json];
    for (const [name, c] of order) args.push('-n', name, c);
    execFileSync('hyperfine', args, { env, stdio: 'ignore' });
    for (const r of JSON.parse(readFileSync(json, 'utf8')).results) medians[r.command].push(r.median);
  }
  const mid = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `node bench/script-start.mjs --runs ${RUNS} --rounds ${ROUNDS}   (hyperfine -N, median of round medians)`,
  );
  const base = mid(medians['host #!']);
  for (const [name, xs] of Object.entries(medians))
    console.log(
      `${name.padEnd(14)} ${(mid(xs) * 1e6).toFixed(0).padStart(6)} us  ratio ${(mid(xs) / base).toFixed(3)}`,
    );
} finally {
  if (entry !== undefined) writeFileSync(join(BINFMT, entry), '-1');
  if (mounted) execFileSync('umount', [BINFMT]);
  rmSync(dir, { recursive: true, force: true });
}

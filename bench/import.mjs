// Import of a program's whole closure into a fresh store (`cald import`), side by side in one run
// with the references that bound it: hashing the same bytes once (the hashing limit, node:crypto)
// and copying them (`cp`, the I/O of storing them). Prints wall times, ratios and cald's peak memory;
// the target (issue 10) is cald within 3x of hash + cp. Also shown: `cp` followed by `sync` of the
// copies (coreutils fsyncs each file named): what making those bytes durable costs here, which an
// import must pay (a store's objects are synced before anything names them) and `cp` alone does not.
//
//   npm run build && node bench/import.mjs [--program /usr/bin/ffmpeg] [--reps 3] [--before OLD/bin/cald.js] [--delete-between]
//
// --before runs a previous build's cald the same way in each repetition, alternating with this one.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  rmSync,
  truncateSync,
} from 'node:fs';
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
const before = arg('--before', undefined);

const ldd = spawnSync('ldd', [program], { encoding: 'utf8' }).stdout;
const files = [
  realpathSync(program),
  ...[...ldd.matchAll(/=> (\/\S+) \(/g)].map((m) => realpathSync(m[1])),
  ...[...ldd.matchAll(/^\s+(\/\S+) \(/gm)].map((m) => realpathSync(m[1])),
];
const unique = [...new Set(files)];

function hashAll() {
  const buf = Buffer.allocUnsafe(4 << 20);
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  for (const f of unique) {
    const h = createHash('sha256');
    const fd = openSync(f, 'r');
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      bytes += n;
    }
    closeSync(fd);
    h.digest();
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes };
}

const time = (cmd, args, env = {}) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M', cmd, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return {
    ms: Number(process.hrtime.bigint() - t0) / 1e6,
    rssKiB: Number(/MAXRSS (\d+)/.exec(r.stderr)?.[1] ?? 0),
  };
};

console.log(
  `program: ${program} (${unique.length} files in its closure as ldd lists it, interpreter included)`,
);
console.log(`cald:    node ${cald} import ${program}   (fresh store each time, CALD_STORE=<tmp>)`);
console.log(`hash:    sha256 of every file once, node:crypto, 4 MiB reads (the hashing limit)`);
console.log(`copy:    cp ${unique.length} files into a fresh directory`);
console.log(`durable: cp of the same files, then sync of the copies (not part of the target)`);
if (before !== undefined)
  console.log(`before:  node ${before} import ${program}   (the previous build, same way)`);
// Between repetitions each file written is emptied (its bytes and pages freed) and removed only
// at the end. On an ext4 without a journal (this machine's) a new inode is found by passing over
// every inode deleted in the last minutes, checking each: deleting a repetition's ~1,100 files
// made each later one dearer, the import (~630 new inodes: objects, names/, paths/) more than `cp`
// (~215), and the repetitions ever slower (docs/benchmarks.md, "Importing ffmpeg's closure",
// session 8). --delete-between removes them at once as before.
const deleteBetween = process.argv.includes('--delete-between');
const kept = [];
function emptyFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      chmodSync(p, 0o755);
      emptyFiles(p);
    } else if (e.isFile()) {
      chmodSync(p, 0o600);
      truncateSync(p, 0);
    }
  }
}
const rows = [];
for (let rep = 1; rep <= reps; rep++) {
  const work = mkdtempSync(join(tmpdir(), 'cald-bench-import-'));
  try {
    // Each import starts with nothing left to write back; with --before, the two builds alternate
    // which goes first.
    const runBefore = () => {
      spawnSync('sync');
      return time(process.execPath, [before, 'import', program], { CALD_STORE: join(work, 'store-before') });
    };
    const runNow = () => {
      spawnSync('sync');
      return time(process.execPath, [cald, 'import', program], { CALD_STORE: join(work, 'store') });
    };
    // The references run after the imports in odd repetitions and before them in even ones: what
    // one step frees (an import's memory at exit, a copy's page cache) is memory the next one takes
    // without a first touch, which in this VM costs more than the copy itself (docs/benchmarks.md,
    // "Importing ffmpeg's closure", session 8), so neither side always gets the other's.
    const refsFirst = rep % 2 === 0;
    let h;
    let copy;
    const runRefs = () => {
      h = hashAll();
      copy = time('cp', [...unique, mkdtempSync(join(work, 'copy-'))]);
    };
    if (refsFirst) runRefs();
    let b;
    let c;
    if (before !== undefined && rep % 2 === 1) {
      b = runBefore();
      c = runNow();
    } else {
      c = runNow();
      if (before !== undefined) b = runBefore();
    }
    if (!refsFirst) runRefs();
    // The copy above is written back first, so the durable copy does not pay for it.
    spawnSync('sync');
    const durableDir = mkdtempSync(join(work, 'durable-'));
    const t0 = process.hrtime.bigint();
    time('cp', [...unique, durableDir]);
    time(
      'sync',
      unique.map((f) => join(durableDir, f.slice(f.lastIndexOf('/') + 1))),
    );
    const durable = Number(process.hrtime.bigint() - t0) / 1e6;
    rows.push({
      refsFirst,
      cald: c.ms,
      rss: c.rssKiB,
      hash: h.ms,
      copy: copy.ms,
      bytes: h.bytes,
      ratio: c.ms / (h.ms + copy.ms),
      durable,
      before: b?.ms,
      beforeRss: b?.rssKiB,
      beforeRatio: b === undefined ? undefined : b.ms / (h.ms + copy.ms),
      nowOverBefore: b === undefined ? undefined : c.ms / b.ms,
    });
    if (b !== undefined) {
      console.log(
        `rep ${rep}: before ${b.ms.toFixed(0)} ms (peak ${(b.rssKiB / 1024).toFixed(0)} MiB); now/before ${(c.ms / b.ms).toFixed(2)}x; before/(hash+cp) ${(b.ms / (h.ms + copy.ms)).toFixed(2)}x`,
      );
    }
    console.log(
      `rep ${rep} (${refsFirst ? 'references first' : 'imports first'}): cald import ${c.ms.toFixed(0)} ms (peak ${(c.rssKiB / 1024).toFixed(0)} MiB), hash ${h.ms.toFixed(0)} ms (${(h.bytes / 1e6).toFixed(0)} MB, ${(h.bytes / 1e6 / (h.ms / 1000)).toFixed(0)} MB/s), cp ${copy.ms.toFixed(0)} ms, cp+sync ${durable.toFixed(0)} ms; cald/hash ${(c.ms / h.ms).toFixed(1)}x, cald/cp ${(c.ms / copy.ms).toFixed(1)}x, cald/(hash+cp) ${(c.ms / (h.ms + copy.ms)).toFixed(2)}x`,
    );
  } finally {
    if (deleteBetween) rmSync(work, { recursive: true, force: true });
    else {
      emptyFiles(work);
      kept.push(work);
    }
  }
}
for (const w of kept) rmSync(w, { recursive: true, force: true });
const med = (k) => [...rows.map((r) => r[k])].sort((a, b) => a - b)[Math.floor(rows.length / 2)];
console.log(
  `median: cald import ${med('cald').toFixed(0)} ms (target < 2000 ms), peak ${(Math.max(...rows.map((r) => r.rss)) / 1024).toFixed(0)} MiB (target < 300 MB); hash ${med('hash').toFixed(0)} ms; cp ${med('copy').toFixed(0)} ms; cp+sync ${med('durable').toFixed(0)} ms; cald/hash ${(med('cald') / med('hash')).toFixed(1)}x; median of cald/(hash+cp) per rep ${med('ratio').toFixed(2)}x (target < 3x)`,
);
const medianOf = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const first of [false, true]) {
  const some = rows.filter((r) => r.refsFirst === first);
  if (some.length === 0) continue;
  console.log(
    `median of cald/(hash+cp) with ${first ? 'the references first' : 'the imports first'}: ${medianOf(some.map((r) => r.ratio)).toFixed(2)}x over ${some.length} repetitions (cp ${medianOf(some.map((r) => r.copy)).toFixed(0)} ms)`,
  );
}
if (before !== undefined) {
  console.log(
    `median: before ${med('before').toFixed(0)} ms, peak ${(Math.max(...rows.map((r) => r.beforeRss)) / 1024).toFixed(0)} MiB; now/before ${(med('cald') / med('before')).toFixed(2)}x (median per rep ${med('nowOverBefore').toFixed(2)}x, faster in ${rows.filter((r) => r.nowOverBefore < 1).length} of ${rows.length}); median of before/(hash+cp) per rep ${med('beforeRatio').toFixed(2)}x`,
  );
}

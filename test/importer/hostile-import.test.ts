// Issue 14: importing files cald does not trust. One test per finding of the review, each with its
// crafted input built here (C programs compiled with cc, patched with patchelf or byte by byte, ELF
// files written from scratch, FIFOs, devices, private directories). Every `cald import` runs in a
// child process (killed after HANG_S) that reports its own resource usage, and each case asserts: nothing executed (the
// crafted programs and libraries, and the scripts named as interpreters, create a marker file when
// run: it must not exist), no hang (killed after HANG_S), bounded CPU time (user+sys < 2 s) and
// peak memory (< 200 MB), one `cald:` line with the exit status docs/cli.md gives, nothing stored.
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isTrustedLoader, probeLoaderFacts } from '../../src/closure/index.js';
import { ENTRY, MAIN_URL } from '../cli/cald.js';
import { type RunResult, run, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine, importedDigest } from '../store/helpers/robust.js';

const HANG_S = 15;
const MAX_CPU_S = 2;
const MAX_RSS_KIB = 200 * 1024;

interface Measured extends RunResult {
  cpuS: number;
  rssKiB: number;
  wallMs: number;
}

describe('hostile input to cald import (issue 14)', () => {
  const dir = makeTmp({ after }, 'hostile-import');
  const marker = join(dir, 'marker');
  let n = 0;

  /**
   * `node -e <code> ...args` in a child process killed after HANG_S; what it cost comes from the
   * child's own process.resourceUsage() at exit (peak RSS, user and system CPU time).
   */
  function measured(code: string, args: readonly string[], cwd = dir): Measured {
    const usageFile = join(dir, `usage-${n++}.json`);
    const hook = `import { writeFileSync as writeUsage } from 'node:fs';
process.on('exit', () => writeUsage(${JSON.stringify(usageFile)}, JSON.stringify(process.resourceUsage())));
`;
    const t0 = performance.now();
    const r = run(process.execPath, ['--input-type=module', '-e', hook + code, '--', 'cald', ...args], {
      cwd,
      timeoutMs: HANG_S * 1000,
      env: { FORCE_COLOR: undefined, NO_COLOR: undefined, CALD_DEBUG: undefined, CALD_STORE: undefined },
    });
    const wallMs = performance.now() - t0;
    if (!existsSync(usageFile)) {
      assert.fail(`killed after ${HANG_S} s (hung): ${r.error ?? r.signal}\n${r.stderr}`);
    }
    const u = JSON.parse(readFileSync(usageFile, 'utf8')) as NodeJS.ResourceUsage;
    return { ...r, rssKiB: u.maxRSS, cpuS: (u.userCPUTime + u.systemCPUTime) / 1e6, wallMs };
  }

  function importing(args: readonly string[], cwd = dir): Measured {
    return measured(ENTRY, ['import', ...args], cwd);
  }

  /** The bounds every case keeps, whatever its outcome. */
  function assertBounded(m: Measured, what: string): void {
    const cost = `${what}: ${m.wallMs.toFixed(0)} ms wall, ${m.cpuS.toFixed(2)} s CPU, ${(m.rssKiB / 1024).toFixed(0)} MiB`;
    console.log(cost);
    assert.ok(m.cpuS < MAX_CPU_S, `${cost}: over ${MAX_CPU_S} s of CPU`);
    assert.ok(m.rssKiB < MAX_RSS_KIB, `${cost}: over 200 MB of memory`);
    assert.ok(!existsSync(marker), `${what}: something the import was given was executed`);
  }

  function objectsIn(store: string): string[] {
    try {
      return readdirSync(join(store, 'objects', 'sha256'));
    } catch {
      return [];
    }
  }

  /** A refusal: bounded, one line matching `pattern`, `status`, and no object, name or path entry. */
  function assertRefused(m: Measured, store: string, status: number, pattern: RegExp, what: string): void {
    assertBounded(m, what);
    assertOneLine(m, what, pattern);
    assert.equal(m.status, status, `${what}: exit ${m.status}, want ${status}\n${m.stderr}`);
    assert.deepEqual(objectsIn(store), [], `${what}: objects were stored`);
    for (const sub of ['names', 'paths']) {
      const p = join(store, sub);
      assert.ok(!existsSync(p) || readdirSync(p).length === 0, `${what}: ${sub}/ is not empty`);
    }
  }

  const store = (label: string) => join(dir, 'stores', `${label}-${n++}`);
  const cc = (args: string[]) => runOk('cc', args, { cwd: dir });
  const patchelf = (args: string[]) => runOk('patchelf', args);
  const neededOf = (file: string) =>
    [...runOk('readelf', ['-dW', file]).stdout.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]$/gm)].map(
      (m) => m[1]!,
    );

  // A C file whose code, if anything ever ran it, creates the marker.
  const touching = (body: string) => `#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void ran(void) { int fd = open("${marker}", O_CREAT | O_WRONLY, 0644); if (fd >= 0) close(fd); }
${body}
`;
  const src = (name: string, text: string) => {
    const p = join(dir, 'src', name);
    writeFileSync(p, text);
    return p;
  };
  /** A program from `code`, linked against `libs` in `linkDir` with RUNPATH `runpath`. */
  const program = (
    out: string,
    name: string,
    code: string,
    linkDir: string,
    libs: string[],
    runpath: string,
    extra: string[] = [],
  ) => {
    cc([
      '-o',
      out,
      src(name, touching(code)),
      `-L${linkDir}`,
      ...libs,
      `-Wl,-rpath,${runpath}`,
      '-Wl,--enable-new-dtags',
      ...extra,
    ]);
    return out;
  };
  let prog = '';
  let libDir = '';

  before(() => {
    chmodSync(dir, 0o755); // stores under it are reachable by others, as a shared store is
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'stores'));
    libDir = join(dir, 'lib');
    mkdirSync(libDir);
    cc([
      '-shared',
      '-fPIC',
      '-o',
      join(libDir, 'libleaf.so'),
      src('leaf.c', touching('int leaf(void) { return 7; }')),
    ]);
    prog = program(
      join(dir, 'prog'),
      'prog.c',
      'int leaf(void);\nint main(void) { return leaf() == 7 ? 0 : 1; }',
      libDir,
      ['-lleaf'],
      '$ORIGIN/lib',
      ['-Wl,--spare-dynamic-tags=50010'],
    );
  });

  const withInterp = (label: string, interp: string): string => {
    const p = join(dir, `prog-${label}`);
    copyFileSync(prog, p);
    patchelf(['--set-interpreter', interp, p]);
    return p;
  };

  test('1. a PT_INTERP naming a shell script is never run, absolute or relative', () => {
    const script = join(dir, 'interp.sh');
    writeFileSync(script, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    const s = store('interp-script');
    assertRefused(
      importing([withInterp('script', script), '--store', s]),
      s,
      1,
      /interpreter .*interp\.sh is not an ELF loader/,
      'PT_INTERP = a shell script',
    );
    const s2 = store('interp-relative');
    assertRefused(
      importing([withInterp('relative', 'interp.sh'), '--store', s2]),
      s2,
      1,
      /interpreter interp\.sh is not an absolute path/,
      'PT_INTERP = a relative path to a script in the working directory',
    );
    // The loader facts are asked of the system loader at its fixed path only.
    assert.equal(isTrustedLoader(script), false);
    assert.equal(probeLoaderFacts(script), undefined);
    assert.ok(!existsSync(marker), 'probeLoaderFacts ran an untrusted interpreter');
    if (isTrustedLoader('/lib64/ld-linux-x86-64.so.2')) {
      assert.ok(probeLoaderFacts('/lib64/ld-linux-x86-64.so.2')?.systemDirs.length);
    }
  });

  test('2. a PT_INTERP naming a private file, /dev/zero, a FIFO, a directory or a non-loader ELF is refused', () => {
    const priv = join(dir, 'private-interp');
    mkdirSync(priv, { mode: 0o700 });
    const secret = join(priv, 'secret.txt');
    writeFileSync(secret, 'password=hunter2\n'.repeat(100), { mode: 0o600 });
    const fifo = join(dir, 'interp.fifo');
    runOk('mkfifo', [fifo]);
    const cases: Array<[string, string, RegExp]> = [
      [
        'a private text file',
        secret,
        /is not an ELF loader for the program: (invalid ELF header|file too short)/,
      ],
      ['/dev/zero', '/dev/zero', /not a regular file/],
      ['a FIFO', fifo, /not a regular file/],
      ['a directory', priv, /Is a directory/],
      ['a program, not a loader', '/usr/bin/true', /names an interpreter itself/],
    ];
    for (const [what, interp, pattern] of cases) {
      const s = store('interp');
      assertRefused(
        importing([withInterp(`i${n}`, interp), '--store', s]),
        s,
        1,
        pattern,
        `PT_INTERP = ${what}`,
      );
    }
  });

  test('3. a FIFO found on the search path (RUNPATH $ORIGIN) does not hang the import', () => {
    const d = join(dir, 'fifo-lib');
    mkdirSync(join(d, 'lib'), { recursive: true });
    const p = join(d, 'prog');
    copyFileSync(prog, p);
    runOk('mkfifo', [join(d, 'lib', 'libleaf.so')]);
    const s = store('fifo-lib');
    assertRefused(
      importing([p, '--store', s]),
      s,
      1,
      /needs libleaf\.so: not a regular file/,
      'libleaf.so is a FIFO',
    );
  });

  /** An ELF64 x86-64 executable written from scratch: one PT_LOAD over the file and `extra` headers. */
  function craftedElf(
    phdrs: Array<[type: number, offset: number, size: number, align: number]>,
    tail: Buffer,
    shdrs?: { table: Buffer; strndx: number; count: number },
  ): Buffer {
    const phoff = 64;
    const phnum = phdrs.length + 1;
    const tailAt = phoff + phnum * 56;
    const shoff = tailAt + tail.length;
    const size = shoff + (shdrs?.table.length ?? 0);
    const b = Buffer.alloc(size);
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
    b.writeUInt16LE(2, 16); // ET_EXEC
    b.writeUInt16LE(62, 18); // EM_X86_64
    b.writeUInt32LE(1, 20);
    b.writeBigUInt64LE(0x400000n, 24);
    b.writeBigUInt64LE(BigInt(phoff), 32);
    b.writeBigUInt64LE(shdrs === undefined ? 0n : BigInt(shoff), 40);
    b.writeUInt16LE(64, 52);
    b.writeUInt16LE(56, 54);
    b.writeUInt16LE(phnum, 56);
    b.writeUInt16LE(64, 58);
    b.writeUInt16LE(shdrs?.count ?? 0, 60);
    b.writeUInt16LE(shdrs?.strndx ?? 0, 62);
    const ph = (
      i: number,
      type: number,
      flags: number,
      offset: number,
      vaddr: number,
      filesz: number,
      align: number,
    ) => {
      const at = phoff + i * 56;
      b.writeUInt32LE(type, at);
      b.writeUInt32LE(flags, at + 4);
      b.writeBigUInt64LE(BigInt(offset), at + 8);
      b.writeBigUInt64LE(BigInt(vaddr), at + 16);
      b.writeBigUInt64LE(BigInt(vaddr), at + 24);
      b.writeBigUInt64LE(BigInt(filesz), at + 32);
      b.writeBigUInt64LE(BigInt(filesz), at + 40);
      b.writeBigUInt64LE(BigInt(align), at + 48);
    };
    ph(0, 1, 4, 0, 0x400000, size, 0x1000); // PT_LOAD, R
    for (const [i, [type, offset, sz, align]] of phdrs.entries()) {
      ph(i + 1, type, 4, tailAt + offset, 0x400000 + tailAt + offset, sz, align);
    }
    tail.copy(b, tailAt);
    shdrs?.table.copy(b, shoff);
    return b;
  }

  test('4. thousands of PT_NOTE over the same zeros: read once each, capped, bounded', () => {
    const PT_NOTE = 4;
    // 20,000 headers over one 64 KB of zeros: ld.so runs such a file; cald reads the region once.
    const same = join(dir, 'notes-same');
    writeFileSync(
      same,
      craftedElf(
        Array.from({ length: 20_000 }, () => [PT_NOTE, 0, 65_536, 4]),
        Buffer.alloc(65_536),
      ),
      { mode: 0o755 },
    );
    const s = store('notes-same');
    const m = importing([same, '--store', s]);
    assertBounded(m, '20,000 identical PT_NOTE over 64 KB of zeros');
    assert.equal(m.status, 0, m.stderr);
    assert.equal(objectsIn(s).length, 1);
    // 2,000 headers each 4 bytes further over 96 KB of zeros: over 10 million notes if all were read.
    const shifted = join(dir, 'notes-shifted');
    writeFileSync(
      shifted,
      craftedElf(
        Array.from({ length: 2_000 }, (_, i) => [PT_NOTE, 4 * i, 65_536, 4]),
        Buffer.alloc(98_304),
      ),
      { mode: 0o755 },
    );
    const s2 = store('notes-shifted');
    assertRefused(
      importing([shifted, '--store', s2]),
      s2,
      3,
      /notes-shifted: the file holds more than \d+ notes/,
      '2,000 overlapping PT_NOTE',
    );
  });

  test('5. a file changed between the closure walk and the rewrite: the walked bytes are what is stored', () => {
    // In a child process: after the first object is stored, the program is overwritten in place
    // with a copy whose DT_NEEDED names an absolute path. The import must store the program it walked.
    const d = join(dir, 'race');
    mkdirSync(join(d, 'lib'), { recursive: true });
    const p = join(d, 'prog');
    copyFileSync(prog, p);
    copyFileSync(join(libDir, 'libleaf.so'), join(d, 'lib', 'libleaf.so'));
    const evil = join(d, 'prog-evil');
    copyFileSync(prog, evil);
    patchelf(['--replace-needed', 'libleaf.so', join(d, 'lib', 'libleaf.so'), evil]);
    const s = store('race');
    const api = new URL('../api/index.js', MAIN_URL).href;
    const driver = `import { writeFileSync, readFileSync } from 'node:fs';
const { importFiles } = await import(${JSON.stringify(api)});
const evil = readFileSync(${JSON.stringify(evil)});
let swapped = false;
const r = await importFiles({ paths: [${JSON.stringify(p)}], store: ${JSON.stringify(s)}, env: {},
  progress: () => { if (!swapped) { writeFileSync(${JSON.stringify(p)}, evil); swapped = true; } } });
console.log(r.imported[0].uri, swapped);`;
    const m = measured(driver, [], d);
    assertBounded(m, 'program swapped in place during the import');
    assert.equal(m.status, 0, m.stderr);
    assert.match(m.stdout, / true\n$/, 'the program was not swapped during the import');
    assert.deepEqual(
      neededOf(p),
      [join(d, 'lib', 'libleaf.so'), 'libc.so.6'],
      'the swap did not happen on disk',
    );
    const digest = importedDigest(m.stdout)!;
    const stored = join(s, 'objects', 'sha256', digest.slice('sha256:'.length));
    const needed = neededOf(stored);
    assert.equal(needed.length, 2);
    for (const name of needed)
      assert.match(name, /^cas:sha256:[0-9a-f]{64}\?name=/, `stored DT_NEEDED ${name}`);
    assert.match(needed[0]!, /\?name=libleaf\.so$/);
    // The same digest as the unswapped program imported on its own.
    copyFileSync(prog, join(d, 'prog-again'));
    const again = importing([join(d, 'prog-again'), '--store', store('race-ref')]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(importedDigest(again.stdout), digest);
  });

  test('6. a library in a private directory: refused for a store others reach, owner-only with --allow-private', () => {
    const d = join(dir, 'private-lib');
    const priv = join(d, 'lib');
    mkdirSync(priv, { recursive: true });
    const p = join(d, 'prog');
    copyFileSync(prog, p);
    copyFileSync(join(libDir, 'libleaf.so'), join(priv, 'libleaf.so'));
    chmodSync(join(priv, 'libleaf.so'), 0o600);
    chmodSync(priv, 0o700);
    const s = store('private');
    assertRefused(
      importing([p, '--store', s]),
      s,
      1,
      /libleaf\.so cannot be read by other users, but the store .* can/,
      'private library, shared store',
    );
    const m = importing([p, '--store', s, '--allow-private']);
    assertBounded(m, '--allow-private');
    assert.equal(m.status, 0, m.stderr);
    const leafObject = statSync(join(s, 'paths', priv, 'libleaf.so'));
    assert.equal(leafObject.mode & 0o777, 0o400, 'the private library is stored for the owner only');
    assert.equal(
      lstatSync(join(s, 'paths', priv)).mode & 0o777,
      0o700,
      'its directory is mirrored as private',
    );
    const libc = statSync(join(s, 'paths', '/usr/lib/x86_64-linux-gnu/libc.so.6'));
    assert.equal(libc.mode & 0o444, 0o444, 'public libraries stay readable by all');
    // A store only its owner can reach exposes nothing: imported without the flag, still owner-only.
    const privStores = join(dir, 'private-stores');
    mkdirSync(privStores, { mode: 0o700 });
    const s2 = join(privStores, 'store');
    const m2 = importing([p, '--store', s2]);
    assertBounded(m2, 'private library, private store');
    assert.equal(m2.status, 0, m2.stderr);
    assert.equal(statSync(join(s2, 'paths', priv, 'libleaf.so')).mode & 0o777, 0o400);
  });

  test('7. 50,000 duplicate DT_NEEDED entries, and one spelled like a content name: one pass, by position', () => {
    // Fill the program's spare DT_NULL slots with copies of its DT_NEEDED libleaf.so entry.
    const dup = join(dir, 'prog-dup');
    copyFileSync(prog, dup);
    const dyn = /\.dynamic\s+DYNAMIC\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(
      runOk('readelf', ['-SW', dup]).stdout,
    )!;
    const [off, size] = [Number.parseInt(dyn[1]!, 16), Number.parseInt(dyn[2]!, 16)];
    const b = readFileSync(dup);
    const entries = Array.from({ length: size / 16 }, (_, i) => off + i * 16);
    const leafEntry = entries.find((at) => b.readBigUInt64LE(at) === 1n && neededAt(b, at) === 'libleaf.so')!;
    const firstNull = entries.find((at) => b.readBigUInt64LE(at) === 0n)!;
    const copies = 49_999;
    for (let i = 0; i < copies; i++) b.copy(b, firstNull + i * 16, leafEntry, leafEntry + 16);
    writeFileSync(dup, b);
    function neededAt(buf: Buffer, at: number): string {
      const strtab = /\(STRTAB\)\s+0x([0-9a-f]+)/.exec(runOk('readelf', ['-dW', prog]).stdout)!;
      const base = Number.parseInt(strtab[1]!, 16); // a PIE's .dynstr address is its offset
      const s = base + Number(buf.readBigUInt64LE(at + 8));
      return buf.toString('latin1', s, buf.indexOf(0, s));
    }
    assert.equal(neededOf(dup).filter((x) => x === 'libleaf.so').length, 50_000);
    const s = store('dup');
    const m = importing([dup, '--store', s]);
    assertBounded(m, '50,000 duplicate DT_NEEDED');
    assert.equal(m.status, 0, m.stderr);
    const stored = join(s, 'objects', 'sha256', importedDigest(m.stdout)!.slice('sha256:'.length));
    const needed = neededOf(stored);
    const leaf = readdirSync(join(s, 'names')).find((x) => x.endsWith('?name=libleaf.so'))!;
    assert.equal(needed.filter((x) => x === leaf).length, 50_000);
    assert.equal(needed.length, 50_001);

    // libone.so, and libtwo.so whose soname is the content name libone.so gets: each entry keeps its own target.
    const d = join(dir, 'twin');
    mkdirSync(d);
    cc([
      '-shared',
      '-fPIC',
      '-o',
      join(d, 'libone.so'),
      src('one.c', touching('int one(void) { return 1; }')),
    ]);
    // The content name libone.so gets in a program's closure (as a root on its own, with no
    // interpreter, libc's closure differs).
    const first = program(
      join(d, 'first'),
      'first.c',
      'int one(void);\nint main(void) { return one(); }',
      d,
      ['-lone'],
      '$ORIGIN',
    );
    const oneStore = store('one');
    const one = importing([first, '--store', oneStore]);
    assert.equal(one.status, 0, one.stderr);
    const oneName = readdirSync(join(oneStore, 'names')).find((x) => x.endsWith('?name=libone.so'))!;
    cc([
      '-shared',
      '-fPIC',
      `-Wl,-soname,${oneName}`,
      '-o',
      join(d, 'libtwo.so'),
      src('two.c', touching('int two(void) { return 2; }')),
    ]);
    copyFileSync(join(d, 'libtwo.so'), join(d, oneName));
    const twin = program(
      join(d, 'prog'),
      'twin.c',
      'int one(void); int two(void);\nint main(void) { return one() + two() == 3 ? 0 : 1; }',
      d,
      ['-lone', join(d, 'libtwo.so')],
      '$ORIGIN',
    );
    assert.deepEqual(neededOf(twin).slice(0, 2), ['libone.so', oneName]);
    const s2 = store('twin');
    const m2 = importing([twin, '--store', s2]);
    assertBounded(m2, 'a DT_NEEDED spelled like the content name of another');
    assert.equal(m2.status, 0, m2.stderr);
    const twinNeeded = neededOf(
      join(s2, 'objects', 'sha256', importedDigest(m2.stdout)!.slice('sha256:'.length)),
    );
    assert.equal(twinNeeded[0], oneName, 'libone.so became its own content name');
    assert.match(twinNeeded[1]!, /^cas:sha256:[0-9a-f]{64}/);
    assert.notEqual(
      twinNeeded[1]!.slice(0, 75),
      oneName.slice(0, 75),
      'the second entry was redirected to libone.so',
    );
  });

  test('8. absurd sizes and a section-name table without NUL: ELF errors naming the file, bounded', () => {
    const patched = (label: string, edit: (b: Buffer) => void): string => {
      const p = join(dir, `prog-${label}`);
      const b = readFileSync(prog);
      edit(b);
      writeFileSync(p, b, { mode: 0o755 });
      return p;
    };
    const phdr = (b: Buffer, type: number) => {
      const phoff = Number(b.readBigUInt64LE(32));
      for (let i = 0; i < b.readUInt16LE(56); i++)
        if (b.readUInt32LE(phoff + i * 56) === type) return phoff + i * 56;
      throw new Error(`no segment of type ${type}`);
    };
    const cases: Array<[string, string]> = [
      ['PT_DYNAMIC p_filesz 2^40', patched('dynsize', (b) => b.writeBigUInt64LE(2n ** 40n, phdr(b, 2) + 32))],
      ['e_phoff 2^50', patched('phoff', (b) => b.writeBigUInt64LE(2n ** 50n, 32))],
    ];
    for (const [what, p] of cases) {
      const s = store('absurd');
      assertRefused(
        importing([p, '--store', s]),
        s,
        3,
        new RegExp(`^cald: ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `),
        what,
      );
    }
    // 30,000 sections whose names point into a 4 MB string table with no NUL.
    const count = 30_000;
    const strtabSize = 4 * 1024 * 1024;
    const table = Buffer.alloc(count * 64);
    const ehdrAndPhdr = 64 + 56;
    const strtabAt = ehdrAndPhdr;
    for (let i = 1; i < count; i++) table.writeUInt32LE((i * 131) % strtabSize, i * 64); // sh_name
    table.writeUInt32LE(3, 1 * 64 + 4); // section 1: SHT_STRTAB over the 'A's
    table.writeBigUInt64LE(BigInt(strtabAt), 1 * 64 + 24);
    table.writeBigUInt64LE(BigInt(strtabSize), 1 * 64 + 32);
    const names = join(dir, 'sections-no-nul');
    writeFileSync(names, craftedElf([], Buffer.alloc(strtabSize, 0x41), { table, strndx: 1, count }), {
      mode: 0o755,
    });
    const s = store('shstrtab');
    const m = importing([names, '--store', s]);
    assertBounded(m, '30,000 section names over a 4 MB table without NUL');
    assert.equal(m.status, 0, m.stderr);
  });

  test('files too large to read are refused before a byte is read', () => {
    const big = join(dir, 'big');
    copyFileSync(prog, big);
    runOk('truncate', ['-s', '3G', big]); // sparse: costs no disk
    const s = store('big');
    assertRefused(importing([big, '--store', s]), s, 1, /big is 3221225472 bytes, more than/, 'a 3 GiB file');
  });
});

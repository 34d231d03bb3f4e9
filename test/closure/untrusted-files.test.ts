// Reading files cald does not trust (issue 14), below the command line: special files are never
// read, reads never allocate more than the file holds, a walked file is read once, and the loader
// that is asked for facts is only ever the system's own.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  isTrustedLoader,
  nodeFs,
  probeLoaderFacts,
  readDynamicInfo,
  readSource,
  resolveClosure,
  SnapshotFs,
  systemLoaderPath,
  verifyCandidate,
} from '../../src/closure/index.js';
import { EM_X86_64 } from '../../src/elf/format/constants.js';
import { ElfFormatError, isCaldError } from '../../src/errors/index.js';
import { runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';

const X86_64 = { is64: true, littleEndian: true, machine: EM_X86_64 };

describe('files cald does not trust', () => {
  const dir = makeTmp({ after }, 'untrusted-files');

  test('FIFOs, devices and directories are never read: refused at once, never a hang', () => {
    const fifo = join(dir, 'fifo');
    runOk('mkfifo', [fifo]);
    for (const p of [fifo, '/dev/zero', dir]) {
      assert.throws(
        () => readSource(p),
        (e: unknown) => isCaldError(e) && e.code === 'CLOSURE_NOT_REGULAR',
        p,
      );
      assert.throws(
        () => nodeFs.readRange(p, 0, 64),
        (e: unknown) => isCaldError(e) && e.code === 'CLOSURE_NOT_REGULAR',
        p,
      );
    }
    assert.deepEqual(verifyCandidate(nodeFs, fifo, X86_64), {
      kind: 'invalid',
      reason: 'not a regular file',
    });
    assert.deepEqual(verifyCandidate(nodeFs, '/dev/zero', X86_64), {
      kind: 'invalid',
      reason: 'not a regular file',
    });
  });

  test('a read never allocates more than the file holds; a file over the bound is not read', () => {
    const small = join(dir, 'small');
    writeFileSync(small, 'abc');
    assert.equal(nodeFs.readRange(small, 0, 2 ** 40).length, 3);
    assert.equal(nodeFs.readRange(small, 2 ** 50, 16).length, 0);
    assert.throws(
      () => readSource(small, 2),
      (e: unknown) => isCaldError(e) && e.code === 'CLOSURE_FILE_TOO_LARGE',
    );
    assert.equal(readSource(small, 3).bytes.toString(), 'abc');
  });

  test('absurd sizes in a header are ElfFormatErrors naming the file', () => {
    const b = readFileSync('/usr/bin/true');
    const p = join(dir, 'phoff');
    b.writeBigUInt64LE(2n ** 50n, 32); // e_phoff
    writeFileSync(p, b);
    assert.throws(
      () => readDynamicInfo(nodeFs, p),
      (e: unknown) => e instanceof ElfFormatError && e.message.startsWith(`${p}: `),
    );
  });

  test('SnapshotFs reads each file once: later changes on disk are not seen by the walk', () => {
    const p = join(dir, 'prog');
    copyFileSync('/usr/bin/true', p);
    const fs = new SnapshotFs();
    const first = resolveClosure({ program: p, fs });
    const bytes = fs.source(p)?.bytes;
    assert.ok(bytes?.equals(readFileSync('/usr/bin/true')));
    writeFileSync(p, 'changed');
    const again = resolveClosure({ program: p, fs });
    assert.deepEqual(
      again.objects.map((o) => o.realPath),
      first.objects.map((o) => o.realPath),
    );
    assert.equal(fs.source(p)?.bytes, bytes, 'the same buffer, not a second read');
  });

  test('past the memory budget, the walked bytes are checked again when the file is read whole', () => {
    const p = join(dir, 'prog-spilled');
    copyFileSync('/usr/bin/true', p);
    const fs = new SnapshotFs(undefined, 0); // no file kept whole
    resolveClosure({ program: p, fs });
    assert.ok(fs.source(p)?.bytes.equals(readFileSync('/usr/bin/true')), 'unchanged: read whole');
    // Same size, same inode, one byte of the walked dynamic strings changed: refused.
    const b = readFileSync(p);
    const at = b.indexOf('libc.so.6');
    b[at] = 0x4c; // 'L'
    writeFileSync(p, b);
    assert.throws(
      () => fs.source(p),
      (e: unknown) => isCaldError(e) && e.code === 'CLOSURE_SOURCE_CHANGED',
    );
  });

  test("the loader's facts come from the trusted system loader only, never from PT_INTERP", () => {
    const marker = join(dir, 'ran');
    const fake = join(dir, 'ld-linux-x86-64.so.2');
    writeFileSync(
      fake,
      `#!/bin/sh\ntouch ${marker}\necho 'Shared library search path:'\necho '  /evil (system search path)'\n`,
      {
        mode: 0o755,
      },
    );
    assert.equal(isTrustedLoader(fake), false);
    assert.equal(probeLoaderFacts(fake), undefined);
    assert.ok(!existsSync(marker));
    // A program whose PT_INTERP is that script: its facts are the system loader's (or the table's).
    const prog = join(dir, 'prog-fake-interp');
    copyFileSync('/usr/bin/true', prog);
    runOk('patchelf', ['--set-interpreter', fake, prog]);
    const c = resolveClosure({ program: prog });
    assert.ok(!existsSync(marker), 'the program interpreter was run');
    assert.ok(!c.loader.systemDirs.includes('/evil'));
    assert.match(c.interpreter?.problem ?? '', /not an ELF loader/);
    const system = systemLoaderPath(EM_X86_64, true)!;
    if (isTrustedLoader(system)) assert.equal(c.loader.source, `${system} --help`);
    // Another directory for the same-named file is not the fixed path: never trusted.
    const sub = join(dir, 'lib64');
    mkdirSync(sub);
    assert.equal(isTrustedLoader(join(sub, 'ld-linux-x86-64.so.2')), false);
  });
});

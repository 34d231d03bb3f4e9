// The loader's view read by ranges (readLoadHeaders) says what ElfFile.parse of the whole file says
// about every real library and program tried, reads only a few small ranges of a large library,
// and refuses malformed headers with ElfFormatErrors, never a read past the file.
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PT_DYNAMIC } from '../../src/elf/format/constants.js';
import { ElfFile, isElf, type RangeSource, readLoadHeaders } from '../../src/elf/read/index.js';
import { ElfFormatError } from '../../src/errors/index.js';

const LIBDIR = '/usr/lib/x86_64-linux-gnu';

/** A file read by ranges, counting the bytes read. */
function counted(path: string): RangeSource & { bytesRead: number } {
  const size = statSync(path).size;
  const src = {
    size,
    bytesRead: 0,
    read(position: number, length: number): Buffer {
      const n = Math.max(0, Math.min(length, size - position));
      const b = Buffer.alloc(n);
      const fd = openSync(path, 'r');
      try {
        readSync(fd, b, 0, n, position);
      } finally {
        closeSync(fd);
      }
      src.bytesRead += n;
      return b;
    },
  };
  return src;
}

const fromBuffer = (buf: Buffer): RangeSource => ({
  size: buf.length,
  read: (p, n) => buf.subarray(Math.min(p, buf.length), Math.min(p + n, buf.length)),
});

test("agrees with ElfFile.parse on the machine's libraries and programs", () => {
  const files = [
    ...readdirSync(LIBDIR)
      .filter((n) => /\.so(\.|$)/.test(n))
      .map((n) => join(LIBDIR, n)),
    '/usr/bin/ffmpeg',
    '/usr/bin/sqlite3',
    '/usr/bin/true',
  ].filter((p) => {
    try {
      const st = statSync(p);
      return st.isFile() && st.size < 64 << 20 && isElf(readFileSync(p).subarray(0, 4));
    } catch {
      return false;
    }
  });
  assert.ok(files.length > 50, `${files.length} files`);
  let compared = 0;
  for (const p of files) {
    const buf = readFileSync(p);
    let elf: ElfFile;
    try {
      elf = ElfFile.parse(buf);
    } catch {
      continue;
    }
    // The loader reads PT_DYNAMIC only; ElfFile falls back to section headers without one.
    if (!elf.programHeaders.some((h) => h.type === PT_DYNAMIC)) continue;
    const l = readLoadHeaders(fromBuffer(buf));
    assert.deepEqual(l.needed, elf.needed, `${p}: DT_NEEDED`);
    assert.equal(l.soname, elf.soname, `${p}: DT_SONAME`);
    assert.equal(l.rpath, elf.rpath, `${p}: DT_RPATH`);
    assert.equal(l.runpath, elf.runpath, `${p}: DT_RUNPATH`);
    assert.equal(l.interp, elf.interp?.value, `${p}: PT_INTERP`);
    assert.deepEqual(l.dynamicEntries, elf.dynamicEntries, `${p}: dynamic entries`);
    compared++;
  }
  assert.ok(compared > 50, `${compared} files compared`);
});

test('a large library costs a few small reads, not a full read', () => {
  const big = readdirSync(LIBDIR)
    .filter((n) => /\.so(\.|$)/.test(n))
    .map((n) => join(LIBDIR, n))
    .filter((p) => statSync(p).isFile())
    .sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
  const src = counted(big);
  const l = readLoadHeaders(src);
  assert.deepEqual(l.needed, ElfFile.parse(readFileSync(big)).needed);
  assert.ok(src.size > 4 << 20, `${big} is ${src.size} bytes`);
  assert.ok(src.bytesRead < src.size / 20, `${big}: read ${src.bytesRead} of ${src.size} bytes`);
});

test('malformed headers are ElfFormatErrors, and nothing past the file is read', () => {
  const good = readFileSync('/usr/bin/true');
  const cases: Array<[string, (b: Buffer) => void]> = [
    ['e_phoff 2^50', (b) => b.writeBigUInt64LE(2n ** 50n, 32)],
    ['e_phnum 0xfffe', (b) => b.writeUInt16LE(0xfffe, 56)],
    ['not ELF', (b) => b.write('XELF', 0, 'latin1')],
    [
      'PT_DYNAMIC p_filesz 2^40',
      (b) => {
        const elf = ElfFile.parse(good);
        const ph = elf.programHeaders.find((h) => h.type === PT_DYNAMIC)!;
        b.writeBigUInt64LE(2n ** 40n, Number(elf.header.phoff) + ph.index * 56 + 32);
      },
    ],
  ];
  for (const [what, spoil] of cases) {
    const b = Buffer.from(good);
    spoil(b);
    const src: RangeSource = {
      size: b.length,
      read: (p, n) => {
        assert.ok(p + n <= b.length, `${what}: a read of ${n} bytes at ${p}, past the file`);
        return b.subarray(p, p + n);
      },
    };
    assert.throws(() => readLoadHeaders(src), ElfFormatError, what);
  }
});

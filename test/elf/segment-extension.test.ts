// A .dynstr that outgrows its place and the padding after it goes at the end of the last loadable
// segment, which grows over its bss (src/elf/edit/segment-extension.ts, docs/elf-engine.md rule 3b):
// no segment added, the program header table stays in the first page, only the sections the loader
// never maps move. On the machine's libz, checked with readelf and eu-elflint, and run by a program
// through the edited library; a library with a large bss takes a new segment as before (rule 3).
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readelfSegments } from '../helpers/readelf.js';
import { run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import {
  baseline,
  checkEdited,
  copyWritable,
  editFile,
  type Layout,
  readLayout,
} from './helpers/edit-check.js';

const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';
const root = makeTmp({ after }, 'segment-extension');
const loads = (f: string) => readelfSegments(f).filter((s) => s.type === 'LOAD');
const section = (l: Layout, name: string) => l.sections.find((s) => s.name === name)!;
const phdrPlace = (f: string) => {
  const h = run('readelf', ['-hW', f]).stdout;
  return [/Start of program headers:\s+(\d+)/, /Number of program headers:\s+(\d+)/].map((re) =>
    Number(h.match(re)![1]),
  );
};
/** The bytes of every section the loader does not map, by name. */
const unmapped = (f: string, l: Layout) => {
  const buf = readFileSync(f);
  return l.sections
    .filter((s) => !s.flags.includes('A') && s.type !== 'NOBITS' && s.type !== 'NULL')
    .map((s) => [s.name, buf.subarray(s.offset, s.offset + s.size).toString('hex')]);
};

/** A program using zlib, and what it prints with the system's libz; undefined without zlib headers. */
function zlibProgram(): { prog: string; want: string } | undefined {
  const src = join(root, 'z.c');
  writeFileSync(
    src,
    '#include <stdio.h>\n#include <zlib.h>\nint main(void) { printf("%s %lu\\n", zlibVersion(), crc32(0, (const unsigned char *)"abc", 3)); return 0; }\n',
  );
  const prog = join(root, 'z');
  if (run('cc', ['-o', prog, src, '-lz']).status !== 0) return undefined;
  return { prog, want: run(prog, []).stdout };
}

test('a .dynstr too big for its page goes at the end of the last segment; nothing else is added', (t) => {
  const lib = copyWritable(LIBZ, join(root, 'libz.so.1'));
  const base = baseline(lib);
  const before = readLayout(lib);
  const loads0 = loads(lib);
  const last0 = loads0[loads0.length - 1]!;
  if (last0.flags.includes('E')) return t.skip("this libz's last segment is executable");
  const phdr0 = phdrPlace(lib);
  const size0 = statSync(lib).size;
  const long = `/opt/${'p'.repeat(5000)}`;
  editFile(lib, [{ kind: 'setSearchPath', value: long }]);
  checkEdited(lib, base, { runpath: long });

  const after1 = readLayout(lib);
  const loads1 = loads(lib);
  assert.equal(loads1.length, loads0.length, 'no segment added');
  assert.deepEqual(phdrPlace(lib), phdr0, 'the program header table did not move or grow');
  const last = loads1[loads1.length - 1]!;
  const dynstr = section(after1, '.dynstr');
  assert.equal(dynstr.addr, last0.vaddr + last0.memsz, '.dynstr starts where the segment ended in memory');
  assert.equal(last.vaddr, last0.vaddr, 'the segment stays where it was');
  assert.equal(last.filesz, last.memsz, 'the bss is in the file now');
  assert.equal(last.vaddr + last.memsz, dynstr.addr + dynstr.size, '.dynstr ends the segment');
  assert.equal(dynstr.offset - last.offset, dynstr.addr - last.vaddr, 'offset and address agree');
  // The bss and the table: everything past the segment's old file bytes.
  assert.ok(
    statSync(lib).size <= size0 + last.memsz - last0.filesz + 16,
    'the file grew by the bss and the table only',
  );
  assert.deepEqual(unmapped(lib, after1), unmapped(LIBZ, before), 'the unmapped sections moved whole');
  for (const s of before.sections.filter((x) => x.flags.includes('A') && x.name !== '.dynstr')) {
    assert.equal(section(after1, s.name).addr, s.addr, `${s.name} kept its address`);
  }

  // A longer search path again: .dynstr grows where it is, at the end of the segment.
  const size1 = statSync(lib).size;
  const longer = `${long}:/${'q'.repeat(300)}`;
  editFile(lib, [{ kind: 'setSearchPath', value: longer }]);
  checkEdited(lib, base, { runpath: longer });
  const after2 = readLayout(lib);
  assert.equal(loads(lib).length, loads0.length, 'still no segment added');
  assert.equal(section(after2, '.dynstr').addr, dynstr.addr, '.dynstr grew in place');
  assert.ok(statSync(lib).size <= size1 + 302 + 16, 'the file grew by the new bytes only');
  // Shorter again: fits, the file keeps its size.
  const size2 = statSync(lib).size;
  editFile(lib, [{ kind: 'setSearchPath', value: '/opt/lib' }]);
  checkEdited(lib, base, { runpath: '/opt/lib' });
  assert.equal(statSync(lib).size, size2, 'a shorter table changes no size');

  const z = zlibProgram();
  if (z === undefined) return t.skip('zlib headers (zlib1g-dev) not installed');
  editFile(lib, [{ kind: 'setSearchPath', value: long }]);
  const r = run(z.prog, [], { env: { LD_LIBRARY_PATH: root, LD_BIND_NOW: '1' } });
  assert.equal(r.stdout, z.want, r.stderr);
  assert.match(run('sh', ['-c', `LD_LIBRARY_PATH=${root} ldd ${z.prog}`]).stdout, new RegExp(`${lib} `));
});

test('a library with a large bss takes a new segment instead (rule 3)', (t) => {
  const src = join(root, 'big.c');
  writeFileSync(src, 'static char big[1 << 20];\nchar *big_at(int i) { return &big[i]; }\n');
  const lib = join(root, 'libbig.so');
  if (run('cc', ['-shared', '-fPIC', '-o', lib, src]).status !== 0)
    return t.skip('cc cannot build a library');
  const base = baseline(lib);
  const loads0 = loads(lib).length;
  const size0 = statSync(lib).size;
  const long = `/opt/${'p'.repeat(5000)}`;
  editFile(lib, [{ kind: 'setSearchPath', value: long }]);
  checkEdited(lib, base, { runpath: long });
  assert.equal(loads(lib).length, loads0 + 1, 'a segment was added');
  assert.ok(statSync(lib).size < size0 + 64 * 1024, 'the 1 MiB bss was not written out');
});

// A .dynstr that must grow grows in place when the version and relocation tables after it can slide
// up into the padding that ends its segment's last page (src/elf/edit/dynstr-slide.ts): no second
// copy of the table in a new segment, so a run maps no more pages than before. On the machine's
// libz (a library whose first segment ends with .gnu.version*, .rela.dyn, .rela.plt), checked with
// readelf and eu-elflint, and run by a program through the renamed DT_NEEDED.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ElfFile } from '../../src/elf/read/index.js';
import { readelfSegments } from '../helpers/readelf.js';
import { run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import {
  baseline,
  casName,
  checkEdited,
  copyWritable,
  editFile,
  linkDir,
  readLayout,
} from './helpers/edit-check.js';

const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';
const root = makeTmp({ after }, 'dynstr-slide');
const loads = (f: string) => readelfSegments(f).filter((s) => s.type === 'LOAD');
const section = (f: string, name: string) => readLayout(f).sections.find((s) => s.name === name)!;

test('a longer DT_NEEDED grows .dynstr in place; the tables after it slide; the library still works', (t) => {
  const lib = copyWritable(LIBZ, join(root, 'libz.so.1'));
  const base = baseline(lib);
  const size = statSync(lib).size;
  const loads0 = loads(lib);
  const dynstr0 = section(lib, '.dynstr');
  const rela0 = section(lib, '.rela.dyn');
  const libc = ElfFile.parse(readFileSync(lib)).needed.find((n) => n.startsWith('libc.so'));
  if (libc === undefined) return t.skip('this libz needs no libc.so');
  const renamed = casName(libc);
  editFile(lib, [{ kind: 'replaceNeeded', from: libc, to: renamed }]);
  checkEdited(lib, base, { needed: [renamed] });
  assert.equal(statSync(lib).size, size, 'the file did not grow');
  assert.deepEqual(loads(lib).length, loads0.length, 'no segment added');
  const dynstr = section(lib, '.dynstr');
  assert.equal(dynstr.addr, dynstr0.addr, '.dynstr stayed where it was');
  assert.ok(dynstr.size > dynstr0.size, '.dynstr grew');
  const rela = section(lib, '.rela.dyn');
  assert.ok(
    rela.addr > rela0.addr && rela.addr - rela0.addr === rela.offset - rela0.offset,
    '.rela.dyn slid up',
  );
  assert.ok(rela.addr >= dynstr.addr + dynstr.size, '.rela.dyn lies after the grown .dynstr');
  assert.equal(
    loads(lib)[0]!.filesz - loads0[0]!.filesz,
    rela.offset - rela0.offset,
    'the first segment grew by the slide',
  );
  // A program using zlib through the edited library, which finds libc under its new name.
  const src = join(root, 'z.c');
  writeFileSync(
    src,
    '#include <stdio.h>\n#include <zlib.h>\nint main(void) { printf("%s %lu\\n", zlibVersion(), crc32(0, (const unsigned char *)"abc", 3)); return 0; }\n',
  );
  const prog = join(root, 'z');
  if (run('cc', ['-o', prog, src, '-lz']).status !== 0)
    return t.skip('zlib headers (zlib1g-dev) not installed');
  const want = run(prog, []).stdout;
  const libcPath = run('sh', [
    '-c',
    `ldd ${prog} | sed -n 's/.*${libc} => \\([^ ]*\\).*/\\1/p'`,
  ]).stdout.trim();
  const links = linkDir(join(root, 'links'), [[renamed, libcPath]]);
  const r = run(prog, [], { env: { LD_LIBRARY_PATH: `${root}:${links}`, LD_BIND_NOW: '1' } });
  assert.equal(r.stdout, want, r.stderr);
  // Back to the short name: fits in place, and reads back.
  editFile(lib, [{ kind: 'replaceNeeded', from: renamed, to: libc }]);
  checkEdited(lib, base, { needed: [libc] });
  assert.equal(run(prog, [], { env: { LD_LIBRARY_PATH: root } }).stdout, want);
});

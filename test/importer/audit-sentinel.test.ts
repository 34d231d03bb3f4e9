// The audit sentinel's empty object (src/importer/audit-sentinel.ts): byte-identical for a given
// machine kind whatever imports it (so an --audit program's digest does not depend on the machine),
// and nothing in it that could change the program it is loaded into: no symbol, no constructor, no
// dependency, no executable segment, a non-executable stack. Read back by cald's reader and readelf.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { editElf } from '../../src/elf/edit/index.js';
import {
  DT_FINI,
  DT_FINI_ARRAY,
  DT_GNU_HASH,
  DT_HASH,
  DT_INIT,
  DT_INIT_ARRAY,
  DT_NEEDED,
  DT_PREINIT_ARRAY,
  DT_SYMTAB,
  ET_DYN,
  PF_X,
  PT_GNU_STACK,
  PT_LOAD,
} from '../../src/elf/format/constants.js';
import { ElfFile } from '../../src/elf/read/index.js';
import { emptySharedObject } from '../../src/importer/audit-sentinel.js';
import { objectRefs } from '../../src/importer/cald-note.js';
import { auditSentinelTarget, Digest, formatAuditSentinel } from '../../src/store/index.js';
import { cald, hasStackTrace } from '../cli/cald.js';
import { buildHello, QEMU_TARGETS, runUnderQemu, whyNoQemu } from '../helpers/qemu.js';
import { hasTool, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';

const KINDS = [
  { label: 'x86-64', is64: true, littleEndian: true, machine: 62, flags: 0 },
  { label: 'i386', is64: false, littleEndian: true, machine: 3, flags: 0 },
  { label: 'aarch64', is64: true, littleEndian: true, machine: 183, flags: 0 },
  { label: 'armhf', is64: false, littleEndian: true, machine: 40, flags: 0x05000400 },
  { label: 's390x', is64: true, littleEndian: false, machine: 22, flags: 0 },
] as const;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('the empty object is the same bytes every time; its x86-64 digest is pinned', () => {
  for (const k of KINDS) assert.ok(emptySharedObject(k).equals(emptySharedObject(k)), k.label);
  // A change here changes the digest of every program imported with --audit: only on purpose.
  assert.equal(
    sha256(emptySharedObject(KINDS[0])),
    '80e0c6c2c107adedf4fcc69c67c9d8c5693b1144ad38c7042c3946ac9208b41f',
  );
  const digests = new Set(KINDS.map((k) => sha256(emptySharedObject(k))));
  assert.equal(digests.size, KINDS.length, 'each machine kind has its own object');
});

test('it defines no symbol, runs nothing, needs nothing, maps nothing executable, keeps the stack non-executable', (t) => {
  const dir = makeTmp(t, 'sentinel-object');
  for (const k of KINDS) {
    const bytes = emptySharedObject(k);
    const elf = ElfFile.parse(bytes);
    assert.equal(elf.header.type, ET_DYN, k.label);
    assert.equal(elf.header.machine, k.machine, k.label);
    assert.equal(elf.header.flags, k.flags, k.label);
    assert.deepEqual(elf.needed, [], k.label);
    for (const tag of [
      DT_NEEDED,
      DT_HASH,
      DT_GNU_HASH,
      DT_INIT,
      DT_INIT_ARRAY,
      DT_PREINIT_ARRAY,
      DT_FINI,
      DT_FINI_ARRAY,
    ])
      assert.equal(elf.dynValue(tag), undefined, `${k.label}: dynamic tag 0x${tag.toString(16)}`);
    // The symbol table holds only the null symbol (and without a hash table ld.so looks in it for nothing).
    const symtab = Number(elf.dynValue(DT_SYMTAB));
    assert.ok(
      bytes.subarray(symtab).every((b) => b === 0),
      `${k.label}: symbol table and strings`,
    );
    assert.ok(
      elf.programHeaders.every((p) => (p.flags & PF_X) === 0),
      `${k.label}: an executable segment`,
    );
    assert.ok(elf.programHeaders.some((p) => p.type === PT_LOAD));
    const stack = elf.programHeaders.find((p) => p.type === PT_GNU_STACK);
    assert.ok(stack !== undefined && (stack.flags & PF_X) === 0, `${k.label}: PT_GNU_STACK`);
    // readelf (binutils) reads it as a shared object with exactly these dynamic entries.
    const file = join(dir, k.label);
    writeFileSync(file, bytes);
    const d = runOk('readelf', ['-hldW', file]).stdout;
    assert.match(d, /Type:\s+DYN \(Shared object file\)/, k.label);
    assert.match(d, /Dynamic section at offset 0x[0-9a-f]+ contains 5 entries/, k.label);
    assert.match(d, /GNU_STACK\s+(\S+\s+){5}RW /, k.label);
  }
});

test("an --audit program's references include the sentinel's object (gc, push and pull keep it)", () => {
  const stub = Digest.parse(`sha256:${sha256(emptySharedObject(KINDS[0]))}`);
  const name = formatAuditSentinel(stub);
  assert.equal(name, `/proc/needs-libcald-audit.so/cas:${stub.toString()}`);
  assert.equal(auditSentinelTarget(name), `cas:${stub.toString()}`);
  // Only that exact form: another directory, a hint or a malformed name is not a sentinel.
  for (const other of [
    `/proc/other/cas:${stub.toString()}`,
    `${name}?name=x`,
    '/proc/needs-libcald-audit.so/cas:sha256:abc',
    `cas:${stub.toString()}`,
  ])
    assert.equal(auditSentinelTarget(other), undefined, other);
  // The refs of a real --audit program are checked in test/native/audit-sentinel.test.ts; a file
  // that is not ELF refers to nothing.
  assert.deepEqual(objectRefs(Buffer.from(name)), []);
});

// A foreign program (assembled and linked by the cross binutils against Debian's cross glibc)
// with the empty object of its machine as its first DT_NEEDED, by path, runs under qemu-user:
// the target's own ld.so accepts the object (64 KiB alignment, big-endian).
for (const f of QEMU_TARGETS) {
  test(`${f.name}: a program whose first DT_NEEDED is the empty object runs under qemu-user`, (t) => {
    const why = whyNoQemu(f);
    if (why !== null) return t.skip(why);
    const d = join(makeTmp(t, `sentinel-${f.name}`), 'x');
    mkdirSync(d);
    const prog = buildHello(f, d);
    const elf = ElfFile.parse(readFileSync(prog));
    const stub = join(d, 'empty.so');
    writeFileSync(stub, emptySharedObject(elf.header));
    const withStub = join(d, 'prog-stub');
    writeFileSync(withStub, editElf(readFileSync(prog), [{ kind: 'addNeeded', name: stub }]).buffer, {
      mode: 0o755,
    });
    assert.equal(ElfFile.parse(readFileSync(withStub)).needed[0], stub);
    const r = runUnderQemu(f, withStub);
    assert.equal(r.stdout, 'hello\n', r.stderr);
  });
}

test('--audit refuses a musl program, which could never start (musl has no audit interface)', (t) => {
  if (!hasTool('musl-gcc')) return t.skip('musl-gcc is not installed (Debian musl-tools)');
  const d = makeTmp(t, 'sentinel-musl');
  writeFileSync(join(d, 'm.c'), 'int main(void) { return 0; }\n');
  const prog = join(d, 'm');
  runOk('musl-gcc', ['-o', prog, join(d, 'm.c')]);
  const r = cald(['import', '--audit', '--store', join(d, 'store'), prog]);
  assert.notEqual(r.status, 0);
  assert.match(
    r.stderr.split('\n')[0]!,
    /^cald: .*\/m: --audit needs glibc's loader, and \/lib\/ld-musl-\S+ \(musl\) has no audit interface/,
  );
  assert.equal(hasStackTrace(r.stderr), false, r.stderr);
  const plain = cald(['import', '--store', join(d, 'store'), prog]);
  assert.equal(plain.status, 0, plain.stderr);
});

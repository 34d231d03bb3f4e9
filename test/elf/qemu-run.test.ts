// Foreign programs that really run: a tiny aarch64 (little-endian, 64 KiB pages) and s390x (big-endian)
// program linked by the cross binutils against Debian's cross glibc (libc6-*-cross), run under
// qemu-user. Renaming its libc to a long name (served from a directory of links on a long RUNPATH)
// makes .dynstr move to a new segment: the edited program must still print hello under qemu, agree
// with patchelf 0.14's facts, keep eu-elflint's verdict, and give the new PT_LOAD the file's alignment.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { elflint, readelfSegments } from '../helpers/readelf.js';
import { hasTool, run, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { facts, runCald, runPatchelf, twoCopies } from '../patchelf/differential.js';

const root = makeTmp({ after }, 'qemu-run');

interface Target {
  name: string;
  triple: string;
  qemu: string;
  interp: string;
  asm: string;
}

const TARGETS: Target[] = [
  {
    name: 'aarch64',
    triple: 'aarch64-linux-gnu',
    qemu: 'qemu-aarch64',
    interp: '/lib/ld-linux-aarch64.so.1',
    asm: '\t.text\n\t.globl _start\n_start:\n\tadrp x0, msg\n\tadd x0, x0, :lo12:msg\n\tbl puts\n\tmov x0, #0\n\tbl exit\n\t.section .rodata\nmsg:\t.asciz "hello"\n',
  },
  {
    name: 's390x',
    triple: 's390x-linux-gnu',
    qemu: 'qemu-s390x',
    interp: '/lib/ld64.so.1',
    asm: '\t.text\n\t.globl _start\n_start:\n\taghi %r15,-160\n\tlarl %r2, msg\n\tbrasl %r14, puts@PLT\n\tlghi %r2, 0\n\tbrasl %r14, exit@PLT\n\t.section .rodata\nmsg:\t.asciz "hello"\n',
  },
];

/** Why `t` cannot run here, or null. */
function missing(t: Target): string | null {
  for (const tool of [t.qemu, `${t.triple}-as`, `${t.triple}-ld`])
    if (!hasTool(tool)) return `missing tool: ${tool}`;
  if (!existsSync(`/usr/${t.triple}/lib/libc.so.6`))
    return `missing ${t.triple} glibc (Debian package libc6-*-cross)`;
  return null;
}

describe('foreign programs edited, then run under qemu-user', () => {
  for (const t of TARGETS) {
    test(`${t.name}: libc renamed to a long name, served from a link directory`, (ctx) => {
      const why = missing(t);
      if (why !== null) return ctx.skip(why);
      const d = join(root, t.name);
      mkdirSync(d, { recursive: true });
      const sysroot = `/usr/${t.triple}`;
      writeFileSync(join(d, 'p.s'), t.asm);
      runOk(`${t.triple}-as`, ['-o', join(d, 'p.o'), join(d, 'p.s')]);
      const prog = join(d, 'prog');
      runOk(`${t.triple}-ld`, [
        '-o',
        prog,
        join(d, 'p.o'),
        `${sysroot}/lib/libc.so.6`,
        '-dynamic-linker',
        t.interp,
      ]);
      const qemu = (file: string) => run(t.qemu, ['-L', sysroot, file]);
      assert.equal(qemu(prog).stdout, 'hello\n', 'the unedited program runs under qemu');

      const longName = `libc-${'c'.repeat(100)}.so.6`;
      const links = join(d, `links-${'l'.repeat(80)}`);
      mkdirSync(links);
      symlinkSync(`${sysroot}/lib/libc.so.6`, join(links, longName));
      const { theirs, ours } = twoCopies(join(d, 'edit'), prog, 'prog');
      const edits = [
        ['--replace-needed', 'libc.so.6', longName],
        ['--set-rpath', links],
      ];
      for (const e of edits) assert.equal(runPatchelf([...e, theirs]).status, 0);
      const r = runCald([...edits.flat(), ours]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(facts(ours), facts(theirs));
      const out = qemu(ours);
      assert.equal(out.stdout, 'hello\n', `edited program under qemu: ${out.stderr}`);
      if (hasTool('eu-elflint')) assert.deepEqual(elflint(ours), elflint(prog));
      const loads = readelfSegments(ours).filter((s) => s.type === 'LOAD');
      const before = readelfSegments(prog).filter((s) => s.type === 'LOAD');
      assert.equal(loads.length, before.length + 1, 'one segment appended');
      assert.equal(loads.at(-1)?.align, Math.max(...before.map((s) => s.align)), "the file's own alignment");
    });
  }
});

// Foreign programs that really run: a tiny "hello" for aarch64 (little-endian, 64 KiB pages) and
// s390x (big-endian), assembled and linked by the cross binutils against Debian's cross glibc
// (libc6-*-cross), run under qemu-user.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasTool, type RunResult, run, runOk } from './run.js';

export interface QemuTarget {
  name: string;
  /** Binutils prefix, and the cross glibc's directory under /usr. */
  triple: string;
  qemu: string;
  /** The target's own ld.so, as PT_INTERP. */
  interp: string;
  /** _start: puts("hello"), exit(0). */
  asm: string;
}

export const QEMU_TARGETS: readonly QemuTarget[] = [
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

/** The cross glibc's root: the program's libc and qemu's -L. */
export const sysrootOf = (t: QemuTarget): string => `/usr/${t.triple}`;

/** Why `t`'s hello cannot be built and run here, or null. */
export function whyNoQemu(t: QemuTarget): string | null {
  for (const tool of [t.qemu, `${t.triple}-as`, `${t.triple}-ld`])
    if (!hasTool(tool)) return `missing tool: ${tool}`;
  if (!existsSync(`${sysrootOf(t)}/lib/libc.so.6`))
    return `missing ${t.triple} glibc (Debian package libc6-*-cross)`;
  return null;
}

/** Assembles and links `t`'s hello in `dir` (an existing directory); its path. */
export function buildHello(t: QemuTarget, dir: string): string {
  writeFileSync(join(dir, 'p.s'), t.asm);
  runOk(`${t.triple}-as`, ['-o', join(dir, 'p.o'), join(dir, 'p.s')]);
  const prog = join(dir, 'prog');
  runOk(`${t.triple}-ld`, [
    '-o',
    prog,
    join(dir, 'p.o'),
    `${sysrootOf(t)}/lib/libc.so.6`,
    '-dynamic-linker',
    t.interp,
  ]);
  return prog;
}

/** Runs a file of `t` under qemu-user with the cross glibc. */
export const runUnderQemu = (t: QemuTarget, file: string): RunResult =>
  run(t.qemu, ['-L', sysrootOf(t), file]);

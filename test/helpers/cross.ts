// Tiny foreign-architecture ELF files made with the cross binutils alone (no cross compiler or libc):
// a versioned shared library, an executable and a second library that need it.
// They cannot run here; they exist to test reading and editing every class/endianness pair.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasTool, runOk } from './run.js';

export interface CrossTarget {
  name: string;
  /** Binutils prefix: `${triple}-as`, `${triple}-ld`. */
  triple: string;
  /** What `readelf -h` reports for the files built. */
  class: 'ELF32' | 'ELF64';
  data: 'little' | 'big';
  machine: string;
}

const TARGETS: readonly CrossTarget[] = [
  { name: 'aarch64', triple: 'aarch64-linux-gnu', class: 'ELF64', data: 'little', machine: 'AArch64' },
  { name: 'ppc64', triple: 'powerpc64-linux-gnu', class: 'ELF64', data: 'big', machine: 'PowerPC64' },
  { name: 'ppc64le', triple: 'powerpc64le-linux-gnu', class: 'ELF64', data: 'little', machine: 'PowerPC64' },
  { name: 's390x', triple: 's390x-linux-gnu', class: 'ELF64', data: 'big', machine: 'IBM S/390' },
  { name: 'mips', triple: 'mips-linux-gnu', class: 'ELF32', data: 'big', machine: 'MIPS R3000' },
  { name: 'arm', triple: 'arm-linux-gnueabihf', class: 'ELF32', data: 'little', machine: 'ARM' },
  { name: 'riscv64', triple: 'riscv64-linux-gnu', class: 'ELF64', data: 'little', machine: 'RISC-V' },
  { name: 'i686', triple: 'i686-linux-gnu', class: 'ELF32', data: 'little', machine: 'Intel 80386' },
];

export function crossTargets(): CrossTarget[] {
  return [...TARGETS];
}

export const CROSS_INTERP = '/lib/ld-test.so.1';
export const CROSS_RPATH = '/opt/cald-test/lib';
export const CROSS_LIB_SONAME = 'libx.so.1';
export const CROSS_DSO_SONAME = 'libuse.so.1';
export const CROSS_VERSIONS = ['LIBX_1.0', 'LIBX_2.0'] as const;

export interface CrossFixture {
  target: CrossTarget;
  dir: string;
  /** libx.so.1: DT_SONAME, DT_VERDEF (LIBX_1.0, LIBX_2.0). */
  lib: string;
  /** ET_EXEC with PT_INTERP CROSS_INTERP, DT_NEEDED libx.so.1, DT_RUNPATH CROSS_RPATH, DT_VERNEED. */
  exe: string;
  /** libuse.so.1: DT_SONAME, DT_NEEDED libx.so.1, DT_RPATH CROSS_RPATH, DT_VERNEED. */
  dso: string;
}

export type CrossResult = CrossFixture | { target: CrossTarget; skipped: string };

// Data objects only: a data word pointing at each imported symbol makes a dynamic relocation (and so
// a versioned reference) on every architecture without arch-specific call sequences or ABIs.
const LIB_ASM = `	.data
	.globl x_data
	.type x_data, %object
	.size x_data, 4
x_data:
	.long 42
	.globl x_data2
	.type x_data2, %object
	.size x_data2, 4
x_data2:
	.long 7
`;

function userAsm(word: string): string {
  return `	.text
	.globl _start
_start:
	.long 0
	.data
	.globl refs
refs:
	${word} x_data
	${word} x_data2
`;
}

const VERSION_SCRIPT = `${CROSS_VERSIONS[0]} { global: x_data; local: *; };
${CROSS_VERSIONS[1]} { global: x_data2; } ${CROSS_VERSIONS[0]};
`;

/** Builds `target`'s files into `dir` (created), or says why it cannot. */
export function buildCross(target: CrossTarget, dir: string): CrossResult {
  const as = `${target.triple}-as`;
  const ld = `${target.triple}-ld`;
  const missing = [as, ld].filter((t) => !hasTool(t));
  if (missing.length) return { target, skipped: `missing tool: ${missing.join(', ')}` };
  mkdirSync(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  writeFileSync(p('lib.s'), LIB_ASM);
  writeFileSync(p('user.s'), userAsm(target.class === 'ELF64' ? '.quad' : '.long'));
  writeFileSync(p('lib.map'), VERSION_SCRIPT);
  runOk(as, ['-o', p('lib.o'), p('lib.s')]);
  runOk(as, ['-o', p('user.o'), p('user.s')]);
  const lib = p(CROSS_LIB_SONAME);
  runOk(ld, [
    '-shared',
    '-soname',
    CROSS_LIB_SONAME,
    '--version-script',
    p('lib.map'),
    '-o',
    lib,
    p('lib.o'),
  ]);
  const exe = p('exe');
  // -e _start: mips ld looks for __start by default.
  runOk(ld, [
    ...['-e', '_start', '-o', exe, p('user.o'), lib],
    ...['-rpath', CROSS_RPATH, '--enable-new-dtags', '--dynamic-linker', CROSS_INTERP],
  ]);
  const dso = p(CROSS_DSO_SONAME);
  runOk(ld, [
    ...['-shared', '-soname', CROSS_DSO_SONAME, '-o', dso, p('user.o'), lib],
    ...['-rpath', CROSS_RPATH, '--disable-new-dtags'],
  ]);
  return { target, dir, lib, exe, dso };
}

// What this host can execute, probed once per test process.
//
// Machines of one kind differ: some kernels refuse i386 programs even with IA32 emulation built
// in (../shared/notes/loader-facts.md, "Machines differ"). A test that runs a program asks
// `cannotRun(file)` first; where it gets a reason it still does every check that needs no
// execution (edit, parse, readelf) and reports the skipped run with that reason (t.skip).
//
// CALD_TEST_NO_I386=1 makes this machine behave, for the tests, like one that refuses i386
// programs: the probe says so and run() (helpers/run.ts) refuses to start them, so the skip path
// is exercised on any machine.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ELFCLASS32 = 1;
const EM_386 = 3;
const EM_X86_64 = 62;

export const SIMULATE_NO_I386 = process.env.CALD_TEST_NO_I386 === '1';

let i386Reason: string | null | undefined;

/** null when i386 programs run here; otherwise why not (probed once: compile, then execute). */
export function i386Execution(): string | null {
  if (i386Reason !== undefined) return i386Reason;
  i386Reason = probeI386();
  return i386Reason;
}

function probeI386(): string | null {
  if (SIMULATE_NO_I386) return 'i386 programs cannot run here (CALD_TEST_NO_I386=1)';
  if (process.arch !== 'x64') return `i386 programs cannot run on ${process.arch}`;
  const dir = mkdtempSync(join(tmpdir(), 'cald-probe-i386-'));
  try {
    const prog = join(dir, 'probe');
    const built = spawnText('cc', ['-m32', '-x', 'c', '-', '-o', prog], 'int main(void){return 42;}\n');
    if (built.status !== 0) return `cc -m32 cannot link a program: ${firstLine(built.stderr)}`;
    const ran = spawnText(prog, [], '');
    if (ran.status === 42) return null;
    return `the kernel does not run i386 programs (${ran.error ?? `exit ${ran.status}: ${firstLine(ran.stderr)}`})`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ELF class and machine of `file`, or undefined when it is not an ELF file. */
export function elfMachine(file: string): { class32: boolean; machine: number } | undefined {
  const head = Buffer.alloc(20);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    if (readSync(fd, head, 0, 20, 0) < 20) return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (head.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const little = head[5] === 1;
  return { class32: head[4] === ELFCLASS32, machine: little ? head.readUInt16LE(18) : head.readUInt16BE(18) };
}

/** True for an i386 ELF file (what CALD_TEST_NO_I386 refuses to start). */
export function isI386(file: string): boolean {
  const m = elfMachine(file);
  return m?.class32 === true && m.machine === EM_386;
}

/** null when `file` can be executed on this host; otherwise the reason, for t.skip. */
export function cannotRun(file: string): string | null {
  const m = elfMachine(file);
  if (m === undefined) return null;
  if (m.class32 && m.machine === EM_386) {
    const why = i386Execution();
    return why === null ? null : `run step skipped: ${why}`;
  }
  if (m.machine !== EM_X86_64 || process.arch !== 'x64') {
    return `run step skipped: ${file} is for ELF machine ${m.machine}, not this host`;
  }
  return null;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

function spawnText(cmd: string, args: string[], input: string) {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stderr: r.stderr ?? '', error: r.error?.message };
}

export interface Skippable {
  skip(message?: string): void;
}

/**
 * Whether `file` can run here. When it cannot, `t` is marked skipped with the reason: the checks
 * the test made before still ran and count, the run step is reported as skipped by name.
 */
export function runnableHere(t: Skippable, file: string): boolean {
  const why = cannotRun(file);
  if (why !== null) t.skip(why);
  return why === null;
}

import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { constants } from 'node:os';
import {
  EI_CLASS,
  EI_DATA,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFMAG,
  EM_AARCH64,
  EM_PPC64,
  EM_RISCV,
  EM_S390,
  EM_X86_64,
  ET_DYN,
  ET_EXEC,
} from '../elf/format/constants.js';
import { fileTypeName } from '../elf/format/names.js';
import { CaldError } from '../errors/index.js';
import { INPUT_OPEN_FLAGS } from '../util/input-file.js';

/** How a child ended: an exit status or the signal that killed it. */
export interface ChildOutcome {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * Signals cald passes on to the child. SIGINT, SIGQUIT and SIGWINCH come from the terminal to
 * the whole foreground process group, which the child shares with cald: they are passed on
 * only when cald is not in its terminal's foreground group (sent with kill(1), or no terminal),
 * so a Ctrl-C reaches the child once, not twice. SIGKILL and SIGSTOP cannot be caught; the job
 * control signals (SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT) reach the whole group from the terminal.
 */
export const FORWARDED: readonly NodeJS.Signals[] = [
  'SIGINT',
  'SIGQUIT',
  'SIGTERM',
  'SIGHUP',
  'SIGUSR1',
  'SIGUSR2',
  'SIGALRM',
  'SIGWINCH',
];
const FROM_TERMINAL = new Set<NodeJS.Signals>(['SIGINT', 'SIGQUIT', 'SIGWINCH']);

/** True when this process is in the foreground process group of a controlling terminal. */
export function inTerminalForeground(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    // pid (comm) state ppid pgrp session tty_nr tpgid ...; comm may hold spaces and ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(f[2]);
    const ttyNr = Number(f[4]);
    const tpgid = Number(f[5]);
    return ttyNr !== 0 && tpgid === pgrp;
  } catch {
    return false;
  }
}

export interface SpawnOptions {
  readonly file: string;
  readonly args: readonly string[];
  readonly argv0: string;
  readonly env: Record<string, string>;
  /**
   * What the ELF engine found wrong with the file, when it could not read it (readProgram's
   * `damage`): said instead of exec's bare EIO, which is how the kernel refuses such a file.
   */
  readonly damage?: string;
}

/** Why an exec failed, in words (node's own message is `spawn FILE EACCES`). */
const EXEC_REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  ENOENT: 'no such file or directory',
  ENOEXEC: 'not an executable format',
  ELOOP: 'too many levels of #! interpreters or symbolic links (a #! line that names the script itself?)',
  E2BIG: 'the arguments and environment are too long for exec',
};

/** e_machine of the programs this process's kernel runs natively, by Node's process.arch. */
const HOST_MACHINE: Readonly<Record<string, { machine: number; elfClass: number }>> = {
  x64: { machine: EM_X86_64, elfClass: ELFCLASS64 },
  arm64: { machine: EM_AARCH64, elfClass: ELFCLASS64 },
  riscv64: { machine: EM_RISCV, elfClass: ELFCLASS64 },
  ppc64: { machine: EM_PPC64, elfClass: ELFCLASS64 },
  s390x: { machine: EM_S390, elfClass: ELFCLASS64 },
};

/**
 * Why the kernel would refuse `file` with ENOEXEC, or undefined. Node's spawn goes through
 * execvp, which hands a file the kernel refused that way to /bin/sh: the bytes of a foreign or
 * damaged ELF program were run as shell commands (garbage on stderr, exit 2). Only the first
 * bytes are read (a FIFO or a device is opened without blocking; what cannot be read is left
 * to exec to report).
 */
function notExecutableFormat(file: string): string | undefined {
  const head = Buffer.alloc(20);
  let n = 0;
  try {
    const fd = openSync(file, INPUT_OPEN_FLAGS);
    try {
      // Not executable: exec's own EACCES says it better.
      if ((fstatSync(fd).mode & 0o111) === 0) return undefined;
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  if (n >= 2 && head[0] === 0x23 && head[1] === 0x21) return undefined; // #!
  if (n < 20 || !head.subarray(0, 4).equals(ELFMAG)) return 'neither an ELF program nor a #! script';
  const host = HOST_MACHINE[process.arch];
  if (host === undefined || head[EI_DATA] !== ELFDATA2LSB) return undefined;
  const machine = head.readUInt16LE(18);
  if (head[EI_CLASS] !== host.elfClass || machine !== host.machine)
    return `an ELF${head[EI_CLASS] === ELFCLASS32 ? '32' : '64'} program for machine ${machine}, not for this one (${process.arch})`;
  // Only executables and shared objects are run (a .o, a core dump or a damaged e_type is not).
  const type = head.readUInt16LE(16);
  if (type !== ET_EXEC && type !== ET_DYN) {
    const named = fileTypeName(type);
    return `an ELF file of type ${named === undefined ? `0x${type.toString(16)}` : `${named.constant} (${named.description})`}, not a program`;
  }
  return undefined;
}

/** The hint for an exec that failed with `code` (`damaged`: the engine found the file damaged). */
function execHint(code: string | undefined, damaged: boolean): string {
  if (code === 'EACCES')
    return 'the file is not executable: chmod +x it, or give it to its interpreter (sh FILE); store objects are imported with mode 0555';
  if (code === 'ELOOP') return "check the file's #! line";
  if (code === 'ENOEXEC') return 'run it on a machine of its kind, or check that the file is a whole program';
  if (damaged) return 'the file is truncated or corrupt';
  if (code === 'EIO')
    return "the kernel could not read it: a disk or file system error, or damaged program headers (cald inspect shows the file's)";
  return 'check that the store has the object and is where CALD_STORE points';
}

/**
 * Runs a program with the standard streams inherited, passes signals on (FORWARDED) and
 * resolves with how it ended. Rejects with RUN_EXEC_FAILED when it cannot be started.
 */
export function spawnForeground(options: SpawnOptions): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    // Handlers go in before the child starts: a signal that arrives while Node is still setting
    // the child up (a few ms, measured) would otherwise kill cald and orphan the child.
    let child: ReturnType<typeof spawn> | undefined;
    const early: NodeJS.Signals[] = [];
    const pass = (sig: NodeJS.Signals) => {
      if (FROM_TERMINAL.has(sig) && inTerminalForeground()) return;
      if (child === undefined) early.push(sig);
      else if (child.pid !== undefined && child.exitCode === null && child.signalCode === null)
        child.kill(sig);
    };
    const handlers = new Map<NodeJS.Signals, () => void>();
    const detach = () => {
      for (const [sig, h] of handlers) process.removeListener(sig, h);
    };
    for (const sig of FORWARDED) {
      const h = () => pass(sig);
      handlers.set(sig, h);
      process.on(sig, h);
    }
    // `reason`: why, in words, when exec's code does not say it well enough.
    const failed = (e: NodeJS.ErrnoException, reason?: string) => {
      detach();
      // exec's EIO for a file it could read: its program headers are damaged (PT_INTERP outside
      // the file, say), as the engine found.
      const damage = e.code === 'EIO' ? options.damage : undefined;
      reject(
        new CaldError(
          'RUN_EXEC_FAILED',
          `cannot run ${options.file}: ${reason ?? damage ?? EXEC_REASONS[e.code ?? ''] ?? e.message}`,
          {
            hint: execHint(e.code, damage !== undefined),
            data: { path: options.file, errno: e.code },
            cause: e,
          },
        ),
      );
    };
    const format = notExecutableFormat(options.file);
    if (format !== undefined) {
      failed(Object.assign(new Error(format), { code: 'ENOEXEC' }), format);
      return;
    }
    try {
      child = spawn(options.file, [...options.args], {
        argv0: options.argv0,
        env: options.env,
        stdio: 'inherit',
      });
    } catch (e) {
      // Some exec failures (ELOOP: a #! line naming the script itself) are thrown, not emitted.
      failed(e as NodeJS.ErrnoException);
      return;
    }
    for (const sig of early.splice(0)) pass(sig);
    child.once('error', failed);
    child.once('exit', (status, signal) => {
      detach();
      resolve({ status, signal });
    });
  });
}

/**
 * Ends this process the way the child ended: the same exit status, or death by the same signal
 * (so a shell sees "Terminated", and `$?` is 128+n). The signal's disposition is reset to the
 * default first: Node ignores SIGPIPE and handles SIGINT/SIGTERM itself. If the signal does not
 * kill (it is blocked or ignored by design, e.g. SIGCHLD), exits with 128+n as a shell would.
 */
export function exitLike(outcome: ChildOutcome): never {
  if (outcome.signal !== null) {
    const sig = outcome.signal;
    // Adding and removing a listener leaves the signal at SIG_DFL (libuv restores the default).
    const noop = () => undefined;
    try {
      process.on(sig, noop);
      process.removeListener(sig, noop);
    } catch {
      // SIGSEGV and similar cannot be listened to; their default is already in place
    }
    process.kill(process.pid, sig);
    process.exit(128 + (constants.signals[sig] ?? 0));
  }
  process.exit(outcome.status ?? 1);
}

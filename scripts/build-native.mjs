// Builds the native parts (native/*.c) with the machine's cc into native/build/. Runs at `npm ci`
// (the package's install script) and before the native tests. No dependencies.
//
//   native/cald-audit.c      -> native/build/libcald-audit.so  (rtld-audit resolver, shared library)
//   native/<other>.c         -> native/build/<other>           (small programs, e.g. cald-sha256sum)
//   native/cald-launch.c     -> native/build/cald-launch       (the installed-command launcher; no libc
//                                                               on x86-64/AArch64, else libc, static
//                                                               when libc.a is there)
//   native/cald-binfmt.c     -> native/build/cald-binfmt       (the binfmt_misc handler for #!cas: scripts:
//                                                               the launcher with another entry point)
//   native/cald-mount.c      -> native/build/cald-mount        (the FUSE server of `cald mount`)
//
// CC overrides the compiler (default cc). One line per artifact; one line and exit 1 on failure.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'native');
const out = join(src, 'build');
const cc = process.env.CC || 'cc';
const warn = ['-O2', '-Wall', '-Wextra'];

/** Shared libraries by source name; every other native/*.c becomes a program. */
const libraries = new Map([['cald-audit.c', 'libcald-audit.so']]);
// The audit library makes its own system calls on these machines and is linked without libc, so a
// second libc is not loaded into its namespace in every audited process (see native/cald-audit.c);
// -z defs proves nothing is left to resolve.
const freestanding = ['x64', 'arm64'].includes(process.arch)
  ? ['-nostdlib', '-fno-stack-protector', '-Wl,-z,defs']
  : [];

/**
 * Extra flags per program, tried in order until one links. The launcher runs before every
 * installed program, so it costs as little as it can: on x86-64 and AArch64 it has no libc and
 * no dynamic loader (-DCALD_NOLIBC: its own _start and system calls, -nostdlib -static, not PIE
 * so nothing needs relocating, stripped, one read-only+code segment); elsewhere it is linked
 * statically against libc when libc.a is there, else dynamically (docs/running.md).
 */
const launcherFlags = ['x64', 'arm64'].includes(process.arch)
  ? [
      [
        '-DCALD_NOLIBC',
        '-nostdlib',
        '-static',
        '-fno-pie',
        '-no-pie',
        '-fno-stack-protector',
        '-fno-asynchronous-unwind-tables',
        '-Wl,--build-id=none',
        '-Wl,-z,noseparate-code',
        '-s',
      ],
    ]
  : [['-static'], []];
const programFlags = new Map([
  ['cald-launch.c', launcherFlags],
  ['cald-binfmt.c', launcherFlags],
  ['cald-mount.c', [['-pthread']]], // the FUSE server's worker threads
]);

function fail(message) {
  console.error(`build-native: ${message}`);
  process.exit(1);
}

const probe = spawnSync(cc, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  fail(`no C compiler: '${cc}' could not be run; install one (Debian: apt-get install gcc) or set CC`);
}

mkdirSync(out, { recursive: true });
const sources = readdirSync(src)
  .filter((f) => f.endsWith('.c'))
  .sort();
for (const file of sources) {
  const lib = libraries.get(file);
  const target = join(out, lib ?? file.slice(0, -2));
  const variants = lib
    ? [['-shared', '-fPIC', ...warn, '-fvisibility=hidden', ...freestanding, '-o', target, join(src, file)]]
    : (programFlags.get(file) ?? [[]]).map((extra) => [...warn, ...extra, '-o', target, join(src, file)]);
  let args = variants[0];
  let r;
  for (args of variants) {
    r = spawnSync(cc, args, { encoding: 'utf8' });
    if (r.status === 0) break;
  }
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    fail(`${cc} ${args.join(' ')} failed (exit ${r.status})`);
  }
  if (r.stderr.trim() !== '') process.stderr.write(r.stderr); // warnings are bugs here: show them
  console.log(`build-native: ${relative(root, target)} (${lib ? 'shared library' : 'program'})`);
}

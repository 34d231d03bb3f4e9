#!/usr/bin/env -S node --no-concurrent-recompilation
// Thin entry: all logic lives in the compiled CLI module. `npm run build` also bundles it into
// dist/bundle/ (scripts/bundle.mjs): a few files to load at start-up instead of ~160. The bundle is
// used only when it is at least as new as the last compile, so a `tsc` alone never runs stale code.
//
// --no-concurrent-recompilation: a `cald gc` in CI hung for good after its work, once at its
// natural exit (in the V8 platform's DrainTasks) and once through process.exit (joining V8's worker
// threads). gdb showed the same cause both times: an optimizing compile job on a worker thread
// waiting for a garbage collection that the exiting main thread never makes (nodejs/node#54918).
// With optimization on the main thread there is no such job (an import of ffmpeg takes the same
// CPU time). The flag must be on node's command line: NODE_OPTIONS refuses it, and
// v8.setFlagsFromString comes too late (the compile dispatcher is made at start-up).
//
// The exit stays natural (no process.exit): stores close, temporary files are removed and queued
// output reaches a slow reader after main() returns.
import { statSync } from 'node:fs';
import v8 from 'node:v8';

// Tiering for a short command: a cald command runs its code over hundreds of files for well under
// a second, and V8's default (optimize a function once it has run ~132 KB of bytecode) spent
// ~250 ms of CPU compiling some 60 engine functions with TurboFan on its worker threads for a
// `cald patchelf` over ffmpeg's closure, more than those functions then saved. Baseline code at
// once (Sparkplug: a cheap compile) and a 4x budget before optimizing cut that to ~50 ms with
// the main thread no slower (docs/benchmarks.md, "Renaming ...", session 5). Both are read when
// V8 decides to compile, so setting them here, before any of cald is loaded, takes effect;
// long-running commands (serve, mount) still optimize their hot code, only later.
v8.setFlagsFromString('--interrupt-budget=524288');
v8.setFlagsFromString('--always-sparkplug');
// Feedback (the inline caches' memory of the shapes seen) from a function's first call, not after
// its eighth: code run a few hundred times spends most of its calls in baseline code, whose
// property loads and calls without feedback take the slow generic path each time. For `cald
// patchelf` over ffmpeg's closure the engine's loop took ~25 % less time (docs/benchmarks.md,
// "Renaming ...", session 6). Read when a function is first called, so setting it here works.
v8.setFlagsFromString('--no-lazy-feedback-allocation');
// The young generation: the same command made 32 scavenges of a few MB; on a busy machine the
// parallel scavenger's waits for its helper threads took them from ~15 to ~140 ms in all. Scavenging
// on the main thread alone, and letting the young space grow faster (11 scavenges), holds them at
// ~10 ms whatever the load. (The young space's starting size is fixed at start-up; these are not.)
v8.setFlagsFromString('--no-parallel-scavenge');
v8.setFlagsFromString('--semi-space-growth-factor=8');

const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundled = mtime('../dist/bundle/main.js');
const fresh =
  bundled >= 0 && bundled >= mtime('../dist/.tsbuildinfo') && bundled >= mtime('../dist/.tsbuildinfo-src');
const args = process.argv.slice(2);

// `cald patchelf` has a bundle file of its own (made with the rest, so as fresh): main() would only
// load it through the shared chunks. Its main returns the exit status and never throws, as main() does.
if (fresh && args[0] === 'patchelf' && mtime('../dist/bundle/patchelf.js') >= bundled) {
  const { patchelfMain } = await import('../dist/bundle/patchelf.js');
  process.exitCode = await patchelfMain(args.slice(1));
} else {
  const { main } = await import(fresh ? '../dist/bundle/main.js' : '../dist/src/cli/main.js');
  process.exitCode = await main(args);
}

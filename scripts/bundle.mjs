// Bundles the compiled CLI (dist/src/cli/main.js, with every module it imports, loaded on demand
// or not) into dist/bundle/: a few files for Node to resolve, read and compile at start-up instead
// of ~160 (an import loads that many modules; docs/benchmarks.md, "Start-up of the CLI: one bundle").
// Packages (SQLite's native binding, commander, zstd) stay outside, loaded from node_modules as before.
// Code split at the CLI's dynamic imports, so each command still loads only its own part.
// Runs after tsc (`npm run build`); bin/cald.js uses the bundle only when it is newer than the last
// compile, so a `tsc` alone never runs stale code. Without esbuild (an install without dev
// dependencies) it says so and leaves the CLI unbundled.
//
//   node scripts/bundle.mjs
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'bundle');

// A bundle of an older compile never stays behind, even when no new one can be made.
rmSync(out, { recursive: true, force: true });
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.log('bundle: esbuild is not installed; bin/cald.js runs dist/src unbundled');
  process.exit(0);
}
await esbuild.build({
  // The verify worker is started by file name (store/verify.ts): it is an entry of its own, beside
  // the chunk that starts it.
  entryPoints: [join(root, 'dist/src/cli/main.js'), join(root, 'dist/src/store/verify-worker.js')],
  outdir: out,
  // Flat: main.js and verify-worker.js beside the chunks.
  entryNames: '[name]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
// `cald patchelf` in one file of its own (bin/cald.js runs it directly): build scripts start it
// once per file, and resolving and loading the dozen shared chunks its path needs cost ~8 ms of
// each start (docs/benchmarks.md, "Renaming ...", session 6). The chunks above stay for the rest.
await esbuild.build({
  entryPoints: [join(root, 'dist/src/cli/patchelf/main.js')],
  outfile: join(out, 'patchelf.js'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
console.log(`bundle: ${out}`);

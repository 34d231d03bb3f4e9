#!/usr/bin/env node
// Thin entry: all logic lives in the compiled CLI module. `npm run build` also bundles it into
// dist/bundle/ (scripts/bundle.mjs): a few files to load at start-up instead of ~160. The bundle is
// used only when it is at least as new as the last compile, so a `tsc` alone never runs stale code.
import { statSync } from 'node:fs';

const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundled = mtime('../dist/bundle/main.js');
const fresh =
  bundled >= 0 && bundled >= mtime('../dist/.tsbuildinfo') && bundled >= mtime('../dist/.tsbuildinfo-src');
const { main } = await import(fresh ? '../dist/bundle/main.js' : '../dist/src/cli/main.js');

process.exitCode = await main(process.argv.slice(2));

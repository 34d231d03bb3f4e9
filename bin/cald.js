#!/usr/bin/env -S node --no-concurrent-recompilation
// --no-concurrent-recompilation: see src/cli/exit.ts (a V8 compile thread can deadlock the exit).
// Thin entry: all logic lives in the compiled CLI module.
import { main } from '../dist/src/cli/main.js';
import { exitWhenWritten } from '../dist/src/cli/exit.js';

await exitWhenWritten(await main(process.argv.slice(2)));

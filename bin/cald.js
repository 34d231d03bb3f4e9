#!/usr/bin/env node
// Thin entry: all logic lives in the compiled CLI module.
import { main } from '../dist/src/cli/main.js';
import { exitWhenWritten } from '../dist/src/cli/exit.js';

await exitWhenWritten(await main(process.argv.slice(2)));

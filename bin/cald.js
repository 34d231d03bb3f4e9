#!/usr/bin/env node
// Thin entry: all logic lives in the compiled CLI module.
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));

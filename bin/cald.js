#!/usr/bin/env node
// Thin entry: all logic lives in the compiled CLI module.
import { main } from '../dist/src/cli/main.js';

// Exit as soon as the command is done (output to files, pipes and terminals is written
// synchronously on Linux): a natural exit waits for V8's background tasks, and Node 20 was seen
// to hang there for good once the event loop was empty (NodePlatform::DrainTasks waiting on a
// JIT task that waits on the main thread: nodejs/node#54918, seen once in CI on a cald gc).
process.exit(await main(process.argv.slice(2)));

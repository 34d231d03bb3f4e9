// `cald patchelf` from the same compiled tree as the tests (bin/cald.js would run dist/, which
// may be another build): node <this file> ARGS... behaves as `cald patchelf ARGS...`.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(['patchelf', ...process.argv.slice(2)]);

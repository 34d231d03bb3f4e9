// cald's version, kept here rather than read from package.json so `cald --version` touches no file.
// test/cli/version.test.ts checks that it matches package.json.
export const CALD_VERSION = '0.1.0';

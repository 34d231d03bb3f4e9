/*
 * cald-binfmt: the binfmt_misc handler for scripts that name their interpreter by content
 * (#!cas:sha256:<hex>[?name=N] ARGS...; docs/scripts.md). It is the launcher (cald-launch.c) with
 * another entry point: the kernel runs it as `cald-binfmt SCRIPT ARGS...`, and it verifies and
 * executes the interpreter object exactly as an installed launcher executes a program (the same
 * store rule, verification cache and execveat of the checked descriptor). `cald system install`
 * copies it, fills its audit slot with the installed audit library, and registers it.
 */
#define CALD_BINFMT 1
#include "cald-launch.c"

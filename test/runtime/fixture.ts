// Fixtures for the runtime tests, built with cc at test time: a library (libword.so) stored as
// an object, and a program whose DT_NEEDED is `cas:sha256:<hash of libword.so>` (linked against a
// stub library with that soname, as test/native/fixture.ts does; no importer involved), carrying
// the cald interpreter note. The program reports its argv, stdin, /proc/self/exe and can exit
// with a status, kill itself or wait for a signal. Everything lives in a real FileStore.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Digest, digestOfFile, FileStore, formatCasName } from '../../src/store/index.js';
import { repoPath } from '../helpers/paths.js';
import { runOk } from '../helpers/run.js';
import type { CleanupOwner } from '../helpers/tmp.js';
import { makeTmp } from '../helpers/tmp.js';

export const NATIVE_DIR = repoPath('native', 'build');
export const HOST_INTERP = '/lib64/ld-linux-x86-64.so.2';

const LIB = `const char *word(void) { return "word-from-libword"; }
`;
const STUB = `const char *word(void) { return 0; }
`;

/** The test program. The note line is replaced per variant. */
function programSource(noteDigest: string | undefined): string {
  const note =
    noteDigest === undefined
      ? ''
      : `struct cald_note { unsigned namesz, descsz, type; char name[8]; char desc[72]; };
__attribute__((section(".note.cald"), used, aligned(4))) static const struct cald_note note =
  {5, ${noteDigest.length}, 1, "cald", "${noteDigest}"};
`;
  return `#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
${note}
const char *word(void);
static void on_signal(int sig) {
  char msg[64];
  int n = snprintf(msg, sizeof msg, "got %s\\n", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "other");
  write(1, msg, (size_t)n);
  _exit(40 + sig);
}
int main(int argc, char **argv) {
  printf("%s argc=%d\\n", word(), argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=[%s]\\n", i, argv[i]);
  fprintf(stderr, "to stderr\\n");
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--cat") == 0) {
      int c;
      while ((c = getchar()) != EOF) putchar(c);
    } else if (strcmp(argv[i], "--exe") == 0) {
      char buf[4096];
      ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
      buf[n < 0 ? 0 : n] = 0;
      printf("exe=%s\\n", buf);
    } else if (strcmp(argv[i], "--env") == 0 && i + 1 < argc) {
      const char *v = getenv(argv[++i]);
      printf("%s=%s\\n", argv[i], v ? v : "(unset)");
    } else if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc) {
      fflush(stdout);
      return atoi(argv[++i]);
    } else if (strcmp(argv[i], "--kill") == 0 && i + 1 < argc) {
      fflush(stdout);
      kill(getpid(), atoi(argv[++i]));
      pause();
    } else if (strcmp(argv[i], "--wait") == 0) {
      signal(SIGINT, on_signal);
      signal(SIGTERM, on_signal);
      printf("ready\\n");
      fflush(stdout);
      for (;;) pause();
    }
  }
  return 0;
}
`;
}

export interface RuntimeFixture {
  dir: string;
  store: string;
  /** libword.so under its own name (for the original program). */
  hostLibDir: string;
  libDigest: Digest;
  /** The program as cc made it, linked against libword.so by its normal name. */
  original: string;
  /** The cas-named program (host loader in its note), as a store object. */
  digest: Digest;
  uri: string;
  object: string;
  /** The name recorded in its root (argv[0] by default). */
  name: string;
  /** A program imported "with another loader": its note names a changed copy of ld.so. */
  otherLoader: { digest: Digest; object: string; loaderDigest: Digest; loader: string; name: string };
  /** A cas-named program with no interpreter note, as a file outside the store. */
  noNote: string;
}

function cc(args: string[]): void {
  runOk('cc', ['-O2', '-w', ...args]);
}

export function buildRuntimeFixture(owner: CleanupOwner): RuntimeFixture {
  const dir = makeTmp(owner, 'runtime');
  const src = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const hostLibDir = join(dir, 'host');
  mkdirSync(hostLibDir);
  const lib = join(hostLibDir, 'libword.so');
  cc(['-shared', '-fPIC', '-Wl,-soname,libword.so', '-o', lib, src('lib.c', LIB)]);

  const storeDir = join(dir, 'store');
  const store = FileStore.open(storeDir, { create: true });
  const libDigest = store.objects.put({ path: lib });
  const casName = formatCasName(libDigest);
  store.names.add(casName);
  const stub = join(dir, 'stub.so');
  cc(['-shared', '-fPIC', `-Wl,-soname,${casName}`, '-o', stub, src('stub.c', STUB)]);

  const hostInterp = digestOfFile(HOST_INTERP);
  const build = (name: string, note: string | undefined, against: string) => {
    const out = join(dir, name);
    cc(['-o', out, src(`${name}.c`, programSource(note)), against]);
    return out;
  };
  const original = build('argv-prog-original', hostInterp.toString(), lib);
  const prog = build('argv-prog', hostInterp.toString(), stub);
  const digest = store.objects.put({ path: prog }, { executable: true });
  store.roots.add({ kind: 'object', target: digest.toString(), note: '/usr/local/bin/argv-prog' });

  // "Another loader": the host's ld.so plus one byte still loads programs, but hashes differently.
  const loaderCopy = join(dir, 'ld-other.so');
  copyFileSync(HOST_INTERP, loaderCopy);
  writeFileSync(loaderCopy, Buffer.concat([readFileSync(loaderCopy), Buffer.from([0])]));
  const loaderDigest = store.objects.put({ path: loaderCopy }, { executable: true });
  const other = build('other-prog', loaderDigest.toString(), stub);
  const otherDigest = store.objects.put({ path: other }, { executable: true });
  store.roots.add({ kind: 'object', target: otherDigest.toString(), note: '/opt/bin/other-prog' });

  const noNote = build('no-note-prog', undefined, stub);
  return {
    dir,
    store: storeDir,
    hostLibDir,
    libDigest,
    original,
    digest,
    uri: formatCasName(digest, 'argv-prog'),
    object: store.pathOf(digest),
    name: 'argv-prog',
    otherLoader: {
      digest: otherDigest,
      object: store.pathOf(otherDigest),
      loaderDigest,
      loader: store.pathOf(loaderDigest),
      name: 'other-prog',
    },
    noNote,
  };
}

/** Environment for the CLI in tests: the native parts of this checkout, this store. */
export function testEnv(store: string): Record<string, string | undefined> {
  return {
    CALD_NATIVE_DIR: NATIVE_DIR,
    CALD_STORE: store,
    CALD_DEBUG: undefined,
    LD_AUDIT: undefined,
    LD_LIBRARY_PATH: undefined,
    CALD_FALLBACK: undefined,
    CALD_STRIP_ENV: undefined,
  };
}

/** Runs the original program with argv[0] set, the way the store copy should behave. */
export function runOriginal(
  f: RuntimeFixture,
  args: readonly string[],
  input?: string,
): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(f.original, [...args], {
    argv0: f.name,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LD_LIBRARY_PATH: f.hostLibDir },
    encoding: 'utf8',
    ...(input === undefined ? {} : { input }),
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

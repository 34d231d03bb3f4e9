/*
 * cald-launch: runs one program from a cald store with no Node.js on the start-up path.
 *
 * `cald install PROGRAM --bin DIR` copies native/build/cald-launch to DIR/NAME and fills the
 * slots below by byte search and replace (docs/running.md, "The launcher"). At run time the
 * launcher:
 *
 *   1. takes the store from CALD_STORE if set and non-empty, else from its store slot;
 *   2. sets CALD_STORE=<store> and LD_AUDIT=<audit library> (prepended to an LD_AUDIT that does
 *      not already name it), and changes nothing else in the environment;
 *   3. execs <store>/objects/sha256/<hex> with its own argv unchanged (argv[0] is kept), or, when
 *      the program was imported with a different ld.so than the host's (the interpreter slots
 *      below), execs the stored copy of that loader: `<loader> --argv0 ARGV0 PROGRAM ARGS...`.
 *
 * It is a plain libc program, linked statically where libc.a exists (no second dynamic load
 * before the program's own): on the normal path it makes one stat and the execve.
 *
 * Slot format: each slot is a 32-byte header (an ASCII marker padded with NULs, unique in the
 * file) followed by a value area of fixed size holding a NUL-terminated string, all NULs in the
 * template. Install finds each header exactly once, writes value + NUL into the value area and
 * zeroes the rest, so the file's size and layout never change. The header stays, so an
 * installed launcher can be read back or filled again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"

#define SLOT_HEADER 32
#define SLOT(name, size)                                                                        \
  struct {                                                                                      \
    char header[SLOT_HEADER];                                                                   \
    char value[size];                                                                           \
  } name

/*
 * Not static and marked used: the compiler must not assume the (never written) values are the
 * template's zeros and fold them away. value() below also hides the address from the optimiser.
 */
__attribute__((used)) SLOT(cald_slot_target, 128) = {"CALD-LAUNCH-SLOT:target:1", {0}};
__attribute__((used)) SLOT(cald_slot_store, 4096) = {"CALD-LAUNCH-SLOT:store:1", {0}};
__attribute__((used)) SLOT(cald_slot_audit, 4096) = {"CALD-LAUNCH-SLOT:audit:1", {0}};
__attribute__((used)) SLOT(cald_slot_interp, 1024) = {"CALD-LAUNCH-SLOT:interp:1", {0}};
__attribute__((used)) SLOT(cald_slot_interp_digest, 128) = {"CALD-LAUNCH-SLOT:interp-digest:1", {0}};
__attribute__((used)) SLOT(cald_slot_interp_sig, 256) = {"CALD-LAUNCH-SLOT:interp-sig:1", {0}};

/* The slot's value as the file holds it (an empty string when install left it empty). */
static const char *value(const char *p) {
  __asm__("" : "+r"(p)); /* the optimiser cannot see through this */
  return p;
}

static int debug;

static void say(const char *what, const char *detail) {
  fprintf(stderr, "cald-launch: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
}

/* malloc'd a + b + c, or exit. */
static char *concat3(const char *a, const char *b, const char *c) {
  size_t na = strlen(a), nb = strlen(b), nc = strlen(c);
  char *s = malloc(na + nb + nc + 1);
  if (!s) {
    say("out of memory", NULL);
    exit(127);
  }
  memcpy(s, a, na);
  memcpy(s + na, b, nb);
  memcpy(s + na + nb, c, nc + 1);
  return s;
}

/* True when the colon-separated list names item as one of its elements. */
static int list_has(const char *list, const char *item) {
  size_t n = strlen(item);
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ':');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && memcmp(p, item, n) == 0) return 1;
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

/*
 * The stat signature the audit library's verification cache uses for a file:
 * dev-ino-size-mtime.ns-ctime.ns. Install records the host loader's signature when its content
 * matched the program's interpreter note, so the usual check is one stat.
 */
static int signature(const char *path, char *out, size_t size) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  snprintf(out, size, "%llu-%llu-%lld-%lld.%09ld-%lld.%09ld", (unsigned long long)st.st_dev,
           (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
           st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  return 0;
}

/* "sha256:<hex>" of a file, or -1. */
static int digest_file(const char *path, char out[72]) {
  static uint8_t chunk[1 << 16];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  sha256_ctx c;
  sha256_select(0);
  sha256_init(&c);
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      close(fd);
      return -1;
    }
    if (r == 0) break;
    sha256_update(&c, chunk, (size_t)r);
  }
  close(fd);
  uint8_t d[32];
  char hex[65];
  sha256_final(&c, d);
  sha256_hex(d, hex);
  snprintf(out, 72, "sha256:%s", hex);
  return 0;
}

/*
 * Whether the host's PT_INTERP file is the loader the program was imported with.
 * No interpreter note: yes (nothing to compare). Same stat signature as at install: yes.
 * Otherwise the file is hashed (about 1 ms for ld.so) and compared.
 */
static int host_loader_matches(const char *interp, const char *want) {
  char sig[256];
  if (!*want) return 1;
  if (signature(interp, sig, sizeof sig) == 0 && strcmp(sig, value(cald_slot_interp_sig.value)) == 0)
    return 1;
  char have[72];
  if (digest_file(interp, have) != 0) return 0;
  if (strcmp(have, want) == 0) {
    if (debug) say("host loader changed on disk but has the same content; cald install again to skip the hash", interp);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv, char **envp) {
  (void)argc;
  const char *target = value(cald_slot_target.value);
  const char *audit = value(cald_slot_audit.value);
  const char *interp = value(cald_slot_interp.value);
  const char *interp_digest = value(cald_slot_interp_digest.value);
  const char *d = getenv("CALD_DEBUG");
  debug = d && strcmp(d, "1") == 0;

  /* target is "<algorithm>:<hex>" */
  const char *colon = strchr(target, ':');
  if (!*target || !colon) {
    say("this launcher has no program in it; make one with: cald install PROGRAM --bin DIR", NULL);
    return 127;
  }
  const char *store = getenv("CALD_STORE");
  if (!store || !*store) store = value(cald_slot_store.value);

  /* <store>/objects/<algorithm>/<hex> */
  char *algorithm = strndup(target, (size_t)(colon - target));
  char *dir = concat3(store, "/objects/", algorithm ? algorithm : "sha256");
  char *program = concat3(dir, "/", colon + 1);

  /* The environment: everything inherited except CALD_STORE and LD_AUDIT, which are set. */
  size_t n = 0;
  while (envp[n]) n++;
  char **env = malloc((n + 3) * sizeof *env);
  if (!env) return 127;
  size_t k = 0;
  const char *old_audit = NULL;
  for (size_t i = 0; i < n; i++) {
    if (strncmp(envp[i], "CALD_STORE=", 11) == 0) continue;
    if (strncmp(envp[i], "LD_AUDIT=", 9) == 0) {
      old_audit = envp[i] + 9;
      continue;
    }
    env[k++] = envp[i];
  }
  env[k++] = concat3("CALD_STORE=", store, "");
  if (old_audit && *old_audit && !list_has(old_audit, audit))
    env[k++] = concat3("LD_AUDIT=", audit, concat3(":", old_audit, ""));
  else if (old_audit && *old_audit)
    env[k++] = concat3("LD_AUDIT=", old_audit, "");
  else
    env[k++] = concat3("LD_AUDIT=", audit, "");
  env[k] = NULL;

  if (host_loader_matches(interp, interp_digest)) {
    if (debug) say("exec", program);
    execve(program, argv, env);
  } else {
    /* ld.so run as a program: /proc/self/exe is then the loader (docs/running.md). */
    const char *hex = strchr(interp_digest, ':') + 1;
    char *loader = concat3(dir, "/", hex);
    if (debug) {
      fprintf(stderr, "cald-launch: host loader %s is not %s (the program's interpreter note); "
              "running the stored loader %s explicitly\n", interp, interp_digest, loader);
    }
    char **args = malloc(((size_t)argc + 4) * sizeof *args);
    if (!args) return 127;
    size_t a = 0;
    args[a++] = loader;
    args[a++] = "--argv0";
    args[a++] = argv[0];
    args[a++] = program;
    for (int i = 1; i < argc; i++) args[a++] = argv[i];
    args[a] = NULL;
    execve(loader, args, env);
    program = loader; /* for the message below */
  }
  int e = errno;
  fprintf(stderr, "cald-launch: cannot run %s: %s%s\n", program, strerror(e),
          e == ENOENT ? " (is CALD_STORE the store the program was installed from?)" : "");
  return e == ENOENT ? 127 : 126;
}

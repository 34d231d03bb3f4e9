/*
 * libcald-audit.so: glibc rtld-audit resolver for content-addressed DT_NEEDED names.
 *
 * Used as LD_AUDIT=/abs/path/libcald-audit.so, or named by DT_AUDIT in a program
 * (-Wl,--audit=...). For every name the loader is about to look up (at start-up
 * and for dlopen) glibc calls la_objsearch(name, cookie, LA_SER_ORIG) before any
 * directory search. A name
 *
 *     cas:sha256:<64 lowercase hex>[?name=<original needed name>]
 *
 * is answered with <store>/objects/sha256/<hex> after checking that the file's
 * sha256 is <hex> (or that a per-user cache proves this file was checked before);
 * every other name is returned untouched. A malformed name, a missing object or a
 * changed object makes one line on stderr and a NULL return: the load fails
 * (exit 127 at start-up, an error from dlopen). Nothing else is ever loaded in
 * its place unless CALD_FALLBACK=hint asks for the hint name to be searched.
 *
 * Environment (all optional; see docs/resolver.md):
 *   CALD_STORE      store root; default $XDG_DATA_HOME/cald/store, then
 *                   $HOME/.local/share/cald/store (HOME from /etc/passwd if unset)
 *   XDG_CACHE_HOME  verification cache in <it>/cald/verified, default ~/.cache/...
 *   CALD_DEBUG=1    one line per resolution on stderr
 *   CALD_FALLBACK=hint  missing or changed object: search the ?name= hint instead
 *   CALD_STRIP_ENV=1    remove LD_AUDIT from the environment before main()
 * In secure-execution mode (setuid programs) the cache and the fallback are off.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <time.h>

#include "sha256.h"

#define PREFIX "cas:"
#define PREFIX_SHA256 "cas:sha256:"
#define HINT "?name="
#define RACY_NS 1000000000LL /* files changed less than 1 s ago are verified but not cached */

static int debug, fallback_hint, secure;
static int store_state;        /* 0: not computed yet, 1: store_root valid, -1: no store */
#define ROOT_MAX (PATH_MAX - 128) /* room left for "/objects/sha256/<hex>" and cache file names */
static char store_root[ROOT_MAX];
static int cache_state;        /* 0: not set up yet, 1: cache_dir usable, -1: hash every time */
static char cache_dir[ROOT_MAX];
static char result[PATH_MAX];  /* returned to ld.so, which copies it at once (under its load lock) */

/* One line on stderr, written with a single write() so lines from processes do not mix. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
  char line[2 * PATH_MAX];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  ssize_t w = write(2, line, (size_t)n);
  (void)w;
}

static int env_is(const char *name, const char *value) {
  const char *v = getenv(name);
  return v != NULL && strcmp(v, value) == 0;
}

/* An absolute, non-empty environment value, or NULL (XDG ignores relative ones). */
static const char *env_abs(const char *name) {
  const char *v = getenv(name);
  return v != NULL && v[0] == '/' ? v : NULL;
}

/* $HOME, or the home field of our uid's line in /etc/passwd (no NSS in the audit namespace). */
static const char *home_dir(void) {
  static char home[PATH_MAX];
  const char *h = env_abs("HOME");
  if (h != NULL) return h;
  if (home[0] != '\0') return home;
  FILE *f = fopen("/etc/passwd", "re");
  if (f == NULL) return NULL;
  char *line = NULL;
  size_t cap = 0;
  char uid[24];
  snprintf(uid, sizeof uid, "%u", (unsigned)getuid());
  while (getline(&line, &cap, f) > 0) { /* name:pw:uid:gid:gecos:home:shell */
    char *field[7] = {line}, *p = line;
    int k = 1;
    for (; *p != '\0' && k < 7; p++)
      if (*p == ':') *p = '\0', field[k++] = p + 1;
    if (k == 7 && strcmp(field[2], uid) == 0 && field[5][0] == '/') {
      snprintf(home, sizeof home, "%s", field[5]);
      break;
    }
  }
  free(line);
  fclose(f);
  return home[0] != '\0' ? home : NULL;
}

/* Computes store_root once: CALD_STORE, else XDG_DATA_HOME/cald/store, else ~/.local/share/cald/store. */
static int store_ready(void) {
  if (store_state != 0) return store_state > 0;
  const char *s = getenv("CALD_STORE"), *d, *h;
  char cwd[PATH_MAX];
  int n = -1;
  if (s != NULL && s[0] == '/') n = snprintf(store_root, sizeof store_root, "%s", s);
  else if (s != NULL && s[0] != '\0' && getcwd(cwd, sizeof cwd) != NULL) /* relative: make it absolute */
    n = snprintf(store_root, sizeof store_root, "%s/%s", cwd, s);
  else if ((d = env_abs("XDG_DATA_HOME")) != NULL) n = snprintf(store_root, sizeof store_root, "%s/cald/store", d);
  else if ((h = home_dir()) != NULL) n = snprintf(store_root, sizeof store_root, "%s/.local/share/cald/store", h);
  store_state = -1;
  if (n <= 0 || (size_t)n >= sizeof store_root) {
    say("cald: no usable store location (set CALD_STORE to the store directory)");
  } else if (strchr(store_root, '$') != NULL) { /* ld.so would expand $ORIGIN etc. in the path we return */
    say("cald: store path %s contains '$', which ld.so would expand; move the store", store_root);
  } else {
    while (n > 1 && store_root[n - 1] == '/') store_root[--n] = '\0';
    store_state = 1;
  }
  return store_state > 0;
}

/* Our own directory: a directory owned by us and writable by nobody else. */
static int dir_is_private(const char *dir) {
  struct stat st;
  return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 022) == 0;
}

/* Sets up <XDG_CACHE_HOME or ~/.cache>/cald/verified once; off in secure mode or when unusable. */
static int cache_ready(void) {
  if (cache_state != 0) return cache_state > 0;
  cache_state = -1;
  if (secure) return 0; /* the invoking user controls the environment: trust no cache */
  const char *base = env_abs("XDG_CACHE_HOME"), *h;
  char parent[ROOT_MAX - 16];
  int n;
  if (base != NULL) n = snprintf(parent, sizeof parent, "%s/cald", base);
  else if ((h = home_dir()) != NULL) n = snprintf(parent, sizeof parent, "%s/.cache/cald", h);
  else return 0;
  if (n <= 0 || (size_t)n >= sizeof parent) return 0;
  snprintf(cache_dir, sizeof cache_dir, "%s/verified", parent);
  if (!dir_is_private(cache_dir)) {
    if (base == NULL) { /* ~/.cache itself may be missing */
      char dotcache[PATH_MAX];
      snprintf(dotcache, sizeof dotcache, "%.*s", n - 5, parent);
      mkdir(dotcache, 0700);
    } else {
      mkdir(base, 0700);
    }
    mkdir(parent, 0700);
    mkdir(cache_dir, 0700);
    if (!dir_is_private(cache_dir)) {
      if (debug) say("cald: verification cache %s unusable (not ours or writable by others); hashing every time",
                     cache_dir);
      return 0;
    }
  }
  cache_state = 1;
  return 1;
}

/* The cache entry's content: the stat signature of a file whose sha256 was <hex>. */
static void signature(char *out, size_t cap, const char *hex, const struct stat *st) {
  snprintf(out, cap, "cald-verified 1 %s %llu %llu %lld %lld.%09ld %lld.%09ld\n", hex,
           (unsigned long long)st->st_dev, (unsigned long long)st->st_ino, (long long)st->st_size,
           (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

/* Does the cache say this exact file (same inode, size, mtime, ctime) had this hash? */
static int cache_hit(const char *hex, const char *sig) {
  char path[PATH_MAX], buf[256];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", cache_dir, hex);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() ? read(fd, buf, sizeof buf - 1)
                                                                                   : -1;
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  return strcmp(buf, sig) == 0;
}

/* Writes the entry atomically (temp file, rename); failure only costs a re-hash next time. */
static void cache_put(const char *hex, const char *sig) {
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", cache_dir, hex);
  snprintf(tmp, sizeof tmp, "%s/.%s.%d.tmp", cache_dir, hex, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return;
  size_t len = strlen(sig);
  int ok = write(fd, sig, len) == (ssize_t)len;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) unlink(tmp);
}

enum outcome { VERIFIED, CACHED, MISSING, MISMATCH, FAILED };

/* Checks that path's content hashes to hex. actual receives the hash computed on MISMATCH, errno text on FAILED. */
static enum outcome verify(const char *path, const char *hex, char actual[65], const char **why) {
  struct stat st, st2;
  char sig[256], sig2[256];
  uint8_t d[32];
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    *why = strerror(errno);
    return errno == ENOENT ? MISSING : FAILED;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *why = "not a regular file";
    close(fd);
    return FAILED;
  }
  signature(sig, sizeof sig, hex, &st);
  int use_cache = cache_ready();
  if (use_cache && cache_hit(hex, sig)) {
    close(fd);
    return CACHED;
  }
  int r = sha256_fd(fd, d);
  *why = strerror(errno);
  int changed = r == 0 && (fstat(fd, &st2) != 0 || (signature(sig2, sizeof sig2, hex, &st2), strcmp(sig, sig2) != 0));
  close(fd);
  if (r != 0) return FAILED;
  if (changed) {
    *why = "the file changed while it was being hashed";
    return FAILED;
  }
  sha256_hex(d, actual);
  if (strcmp(actual, hex) != 0) return MISMATCH;
  /* A file changed within the last second could change again without moving its timestamps
     (coarse clock ticks): verify it, but do not vouch for it in the cache yet. */
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  long long age = (now.tv_sec - st.st_ctim.tv_sec) * 1000000000LL + (now.tv_nsec - st.st_ctim.tv_nsec);
  if (use_cache && age >= RACY_NS) cache_put(hex, sig);
  return VERIFIED;
}

static double ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Maps one cas: name to its verified object path; NULL (after one line on stderr) if it cannot. */
static char *resolve(const char *name) {
  static char hint[NAME_MAX + 1];
  char hex[65], actual[65] = "", path[PATH_MAX];
  const char *why = "";
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);

  /* Parse: cas:sha256:<64 lowercase hex>, then nothing or ?name=<1..255 bytes without '/'>. */
  if (strncmp(name, PREFIX_SHA256, sizeof PREFIX_SHA256 - 1) != 0) {
    say("cald: unsupported content name \"%s\": this resolver knows only cas:sha256:<hex>; "
        "install a newer libcald-audit.so",
        name);
    return NULL;
  }
  const char *h = name + sizeof PREFIX_SHA256 - 1, *rest = h;
  while (rest - h < 64 && ((*rest >= '0' && *rest <= '9') || (*rest >= 'a' && *rest <= 'f'))) rest++;
  const char *hn = rest + sizeof HINT - 1;
  int hint_ok = strncmp(rest, HINT, sizeof HINT - 1) == 0 && hn[0] != '\0' && strlen(hn) <= NAME_MAX &&
                strchr(hn, '/') == NULL;
  if (rest - h != 64 || (*rest != '\0' && !hint_ok)) {
    say("cald: malformed content name \"%s\": expected cas:sha256:<64 lowercase hex> optionally followed by "
        "?name=<file name without '/'>; re-import the program that asks for it",
        name);
    return NULL;
  }
  memcpy(hex, h, 64);
  hex[64] = '\0';
  hint[0] = '\0';
  if (*rest != '\0') snprintf(hint, sizeof hint, "%s", hn);

  enum outcome o = FAILED;
  if (!store_ready()) why = "no store location";
  else {
    snprintf(path, sizeof path, "%s/objects/sha256/%s", store_root, hex);
    o = verify(path, hex, actual, &why);
  }
  if (o == VERIFIED || o == CACHED) {
    if (debug)
      say("cald: %s -> %s (%s, %.2f ms)", name, path, o == CACHED ? "cached verification" : "verified sha256",
          ms_since(&t0));
    snprintf(result, sizeof result, "%s", path);
    return result;
  }
  if (fallback_hint && hint[0] != '\0') { /* opt-in: let ld.so search the original name instead */
    if (o == MISMATCH)
      say("cald: %s: %s has sha256 %s (changed or corrupted); CALD_FALLBACK=hint: searching %s instead", name,
          path, actual, hint);
    else if (debug)
      say("cald: %s: no usable object (%s); CALD_FALLBACK=hint: searching %s", name, why, hint);
    snprintf(result, sizeof result, "%s", hint);
    return result;
  }
  if (store_state < 0)
    say("cald: cannot load %s: no store location; set CALD_STORE to the store directory", name);
  else if (o == MISSING)
    say("cald: cannot load %s: %s does not exist; import the library into this store (cald import) or set "
        "CALD_STORE to the store that has it",
        name, path);
  else if (o == MISMATCH)
    say("cald: refusing %s: %s has sha256 %s, not the hash in its name (changed or corrupted); delete the object "
        "and import the library again",
        name, path, actual);
  else
    say("cald: cannot load %s: %s: %s", name, path, why);
  return NULL;
}

/* Accept the loader's interface version (la_objsearch exists since version 1). */
unsigned int la_version(unsigned int version) {
  secure = getauxval(AT_SECURE) != 0;
  debug = env_is("CALD_DEBUG", "1");
  fallback_hint = !secure && env_is("CALD_FALLBACK", "hint");
  sha256_select(0);
  return version < LAV_CURRENT ? version : LAV_CURRENT;
}

char *la_objsearch(const char *name, uintptr_t *cookie, unsigned int flag) {
  (void)cookie;
  if (flag != LA_SER_ORIG || strncmp(name, PREFIX, sizeof PREFIX - 1) != 0) return (char *)name;
  return resolve(name);
}

/* Called once all start-up objects are loaded, before any constructor of the program runs. */
void la_preinit(uintptr_t *cookie) {
  (void)cookie;
  /* The environment array is shared with the program's libc, and unsetenv edits it in place. */
  if (env_is("CALD_STRIP_ENV", "1")) unsetenv("LD_AUDIT");
}

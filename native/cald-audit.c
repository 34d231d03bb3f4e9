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
 * is answered with <store>/objects/sha256/<hex> (at start-up, at ld.so's first search
 * candidate for it: see la_objsearch) after checking that the file's
 * sha256 is <hex> (or that a per-user cache proves this very file was checked),
 * and only from a store that no one but its owner (the user or root) can write
 * (trust.h, docs/threat-model.md); every other name is returned untouched. A malformed name, a missing object or a
 * changed object makes one line on stderr and a NULL return: the load fails
 * (exit 127 at start-up, an error from dlopen). Nothing else is ever loaded in
 * its place unless CALD_FALLBACK=hint asks for the hint name to be searched. A missing object
 * is first asked of the store's fetch daemon when one is running (fetch.h, lazy fetch), and
 * then verified like any other.
 *
 * Environment (all optional; see docs/resolver.md):
 *   CALD_STORE      store root, an absolute path; default $XDG_DATA_HOME/cald/store, then
 *                   $HOME/.local/share/cald/store (HOME from /etc/passwd if unset)
 *   XDG_CACHE_HOME  verification cache in <it>/cald/verified, default ~/.cache/...
 *   CALD_DEBUG=1    one line per resolution on stderr
 *   CALD_FALLBACK=hint  missing or changed object: search the ?name= hint instead
 *   CALD_STRIP_ENV=1    remove LD_AUDIT from the environment before main()
 * In secure-execution mode (AT_SECURE: setuid, setgid or capabilities) the environment is
 * ignored entirely: the store is the effective user's default one, cache and fallback are off.
 *
 * No C library: an audit library lives in its own link-map namespace, and linking
 * libc would load and initialise a second copy of it in every audited process
 * (measured: +180 us per start-up, 5x the rest of this library's cost). So on
 * x86-64 and AArch64 this file makes its own system calls, reads the environment
 * its constructor is given, and is linked with -nostdlib -Wl,-z,defs. Elsewhere it
 * falls back to libc's syscall().
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#if defined(__x86_64__) || defined(__aarch64__)
#define CALD_NOLIBC /* own system calls; built -nostdlib (scripts/build-native.mjs) */
#endif
#include "nolibc.h"
#include "sha256.h"
#include "trust.h"
#include "verify-cache.h"
#include "run-list.h"
#include "fetch.h"

#define API __attribute__((visibility("default")))
#define PATH_CAP 4096
#define ROOT_CAP (PATH_CAP - 128) /* room for "/objects/sha256/<hex>" and cache file names */

/* ---- system calls (nolibc.h): return the result, or -errno */
static int c_open(const char *p, int fl, int mode) { return (int)sys(SYS_openat, AT_FDCWD, L(p), fl | O_CLOEXEC, mode); }
static long c_read(int fd, void *b, size_t n) { return sys(SYS_read, fd, L(b), L(n), 0); }
static long c_write(int fd, const void *b, size_t n) { return sys(SYS_write, fd, L(b), L(n), 0); }
static void c_close(int fd) { sys(SYS_close, fd, 0, 0, 0); }
static int c_fstat(int fd, struct stat *st) { return (int)sys(SYS_fstat, fd, L(st), 0, 0); }
static int c_lstat(const char *p, struct stat *st) {
  return (int)sys(SYS_newfstatat, AT_FDCWD, L(p), L(st), AT_SYMLINK_NOFOLLOW);
}
/* The uids never change in an audited process's start-up: asked once (cald_init). */
static long uid_real, uid_eff;
static long c_uid(int effective) { return effective ? uid_eff : uid_real; }
static long long c_now_ns(int clock) {
  struct timespec t = {0, 0};
  sys(SYS_clock_gettime, clock, L(&t), 0, 0);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* ---- strings */
static int c_starts(const char *s, const char *prefix) {
  while (*prefix && *s == *prefix) s++, prefix++;
  return *prefix == '\0';
}
static int c_has(const char *s, char c) {
  for (; *s; s++)
    if (*s == c) return 1;
  return 0;
}
#define SAY(...) say(__VA_ARGS__, (const char *)NULL)
/* One line on stderr, in a single write() so lines from several processes do not mix. */
static void say(const char *first, ...) {
  char line[2 * PATH_CAP + 512];
  size_t n = 0;
  va_list ap;
  va_start(ap, first);
  for (const char *s = first; s != NULL; s = va_arg(ap, const char *))
    for (; *s && n < sizeof line - 1; s++) line[n++] = *s;
  va_end(ap);
  line[n++] = '\n';
  c_write(2, line, n);
}

/* ---- environment: the array the constructor is given is the process's own (libc edits it in place) */
static char **environ_;
static int secure, debug, fallback_hint;

static const char *env(const char *name) {
  if (secure) return NULL; /* the invoking user chose the environment */
  size_t n = c_len(name);
  for (char **e = environ_; e != NULL && *e != NULL; e++)
    if (c_starts(*e, name) && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}
static int env_is(const char *name, const char *value) {
  const char *v = env(name);
  return v != NULL && c_eq(v, value);
}
/* An absolute environment value, or NULL (XDG ignores relative ones). */
static const char *env_abs(const char *name) {
  const char *v = env(name);
  return v != NULL && v[0] == '/' ? v : NULL;
}

/*
 * Secure-execution mode, from the kernel's auxiliary vector: /proc/self/auxv when it can be read,
 * else the copy on the stack. The stack copy follows the initial environment, but ld.so removes
 * unsafe variables in secure mode by shifting the array down, which leaves NULL words between
 * the environment's new end and the vector: those are skipped (no auxv entry has type 0 first).
 * Also fills the main program's program headers (AT_PHDR, AT_PHNUM) for main_notes().
 */
static unsigned long at_phdr, at_phnum;

static void read_auxv(char **envp) {
  static ElfW(auxv_t) buf[64];
  ElfW(auxv_t) *a = NULL;
  int fd = c_open("/proc/self/auxv", O_RDONLY, 0);
  if (fd >= 0) {
    long n = c_read(fd, buf, sizeof buf - sizeof *buf);
    c_close(fd);
    if (n > 0) a = buf, buf[n / sizeof *buf].a_type = AT_NULL;
  }
  if (a == NULL && envp != NULL) {
    char **e = envp;
    while (*e) e++;
    while (*e == NULL) e++; /* the NULLs left by removed variables, then the vector */
    a = (ElfW(auxv_t) *)e;
  }
  if (a == NULL) {
    secure = 1; /* cannot tell: assume the worst */
    return;
  }
  for (; a->a_type != AT_NULL; a++) {
    if (a->a_type == AT_SECURE && a->a_un.a_val) secure = 1;
    else if (a->a_type == AT_PHDR) at_phdr = a->a_un.a_val;
    else if (a->a_type == AT_PHNUM) at_phnum = a->a_un.a_val;
  }
}

/* glibc runs an audit library's constructors (with argc, argv, envp) before calling la_version. */
__attribute__((constructor)) static void cald_init(int argc, char **argv, char **envp) {
  (void)argc, (void)argv;
  uid_real = sys(SYS_getuid, 0, 0, 0, 0), uid_eff = sys(SYS_geteuid, 0, 0, 0, 0);
  secure = c_uid(0) != c_uid(1) || sys(SYS_getgid, 0, 0, 0, 0) != sys(SYS_getegid, 0, 0, 0, 0);
  read_auxv(envp);
  environ_ = envp; /* env() reads nothing in secure mode */
  debug = env_is("CALD_DEBUG", "1");
  fallback_hint = env_is("CALD_FALLBACK", "hint");
  sha256_select(0);
}

/* $HOME, or the home field of our uid's line in /etc/passwd (there is no NSS here); in
   secure-execution mode always the effective user's. */
static const char *home_dir(void) {
  static char home[VC_CAP];
  const char *h = env_abs("HOME");
  if (h != NULL || home[0] != '\0') return h != NULL ? h : home;
  return passwd_home((unsigned long long)c_uid(secure), home);
}

/* ---- the store: CALD_STORE, else $XDG_DATA_HOME/cald/store, else ~/.local/share/cald/store */
static int store_state; /* 0: not computed yet, 1: store_root valid, -1: none */
/*
 * objects/sha256, opened for the start-up only (closed at la_preinit, so the program does not
 * inherit it): an object's lstat then looks up one name instead of walking the whole store path,
 * ~0.7 us less per object here (ffmpeg: 209 per start). Not in secure mode (nothing is cached there).
 */
static int objects_fd = -1;
static char store_root[ROOT_CAP];
static size_t store_root_len;
static char store_why[2 * PATH_CAP]; /* why there is no usable store, for the refusal line */

static int store_ready(void) {
  if (store_state != 0) return store_state > 0;
  const char *s = env("CALD_STORE"), *d, *h;
  char given[ROOT_CAP], real[TRUST_PATH_CAP];
  struct trust_problem pb;
  int n = -1;
  store_state = -1;
  if (s != NULL && s[0] != '\0' && s[0] != '/') { /* another directory's store in each child: refuse */
    cat(store_why, sizeof store_why, "CALD_STORE=", s, " is a relative path; set it to an absolute one", NULL);
    return 0;
  }
  if (s != NULL && s[0] == '/') n = cat(given, sizeof given, s, NULL);
  else if ((d = env_abs("XDG_DATA_HOME")) != NULL) n = cat(given, sizeof given, d, "/cald/store", NULL);
  else if ((h = home_dir()) != NULL) n = cat(given, sizeof given, h, "/.local/share/cald/store", NULL);
  if (n <= 0) {
    cat(store_why, sizeof store_why, "no store location; set CALD_STORE to the store directory", NULL);
    return 0;
  }
  int bad = real_dir(given, real, &pb) != 0 || path_trusted(real, "objects/sha256", (unsigned long long)c_uid(1), &pb) != 0;
  if (bad && c_eq(pb.why, "does not exist")) { /* no store (yet): every object is then reported missing */
    bad = 0;
    cat(real, sizeof real, given, NULL);
  }
  if (bad) {
    cat(store_why, sizeof store_why, "the store ", given, " is not trusted: ", pb.path, " ", pb.why, pb.hint, NULL);
    return 0;
  }
  if (c_has(real, '$')) { /* ld.so would expand $ORIGIN etc. in the path we hand back */
    cat(store_why, sizeof store_why, "the store path ", real, " contains '$', which ld.so would expand; move the store", NULL);
    return 0;
  }
  cat(store_root, sizeof store_root, real, NULL);
  store_root_len = c_len(store_root);
  store_state = 1;
  char objects[PATH_CAP];
  if (!secure && cat(objects, sizeof objects, store_root, "/objects/sha256", NULL) > 0)
    objects_fd = (int)sys(SYS_openat, AT_FDCWD, L(objects), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
  return 1;
}

/* ---- the verification cache (verify-cache.h): <XDG_CACHE_HOME or ~/.cache>/cald/verified/ */
static int cache_state; /* 0: not set up yet, 1: cache_dir usable, -1: hash every time */
static char cache_dir[VC_CAP];

static int cache_ready(void) {
  if (cache_state != 0) return cache_state > 0;
  cache_state = -1;
  if (secure) return 0; /* the invoking user controls the environment: trust no cache */
  const char *base = env_abs("XDG_CACHE_HOME");
  const char *why = vc_open(base, base != NULL ? NULL : home_dir(), (unsigned long long)c_uid(1), cache_dir);
  if (why != NULL) {
    if (debug) SAY("cald: verification cache ", why, "; hashing every time");
    return 0;
  }
  cache_state = 1;
  vc_run_load(cache_dir, (unsigned long long)c_uid(1));
  return 1;
}
/* The program's run list first (no system call), then the entry itself (one lstat). */
static int cache_hit(const char *sig, size_t n) {
  const char *line = vc_run_hit(sig, n);
  if (line != NULL) return vc_run_note(line), 1;
  if (!vc_hit(cache_dir, sig, (unsigned long long)c_uid(1))) return 0;
  vc_run_note(vc_run_keep(sig)), vc_run_dirty = 1;
  return 1;
}
static void cache_put(const char *sig) {
  vc_put(cache_dir, sig);
  vc_run_note(vc_run_keep(sig)), vc_run_dirty = 1;
}

/* ---- verification */
enum outcome { VERIFIED, CACHED, MISSING, MISMATCH, UNTRUSTED, FAILED };

static const char *errtext(long e) {
  switch (e) {
  case -ENOENT: return "no such file";
  case -EACCES: return "permission denied";
  case -ENOTDIR: return "a path component is not a directory";
  case -ELOOP: return "too many symbolic links";
  case -EIO: return "input/output error";
  default: return "cannot open or read it";
  }
}

/* Hashes fd with large reads (read, not mmap: a file truncated meanwhile cannot SIGBUS the process). */
static long hash_fd(int fd, uint8_t out[32]) {
  static uint8_t chunk[1 << 18];
  sha256_ctx c;
  sha256_init(&c);
  for (long r; (r = c_read(fd, chunk, sizeof chunk)) != 0;) {
    if (r == -EINTR) continue;
    if (r < 0) return r;
    sha256_update(&c, chunk, (size_t)r);
  }
  sha256_final(&c, out);
  return 0;
}

/* Is path's content the one named by hex? actual gets the computed hash (MISMATCH); why and hint, the reason. */
/* lstat of an object: through objects_fd when path is <store>/objects/sha256/<hex> (in_objects). */
static int object_lstat(const char *path, const char *hex, int in_objects, struct stat *st) {
  if (in_objects && objects_fd >= 0)
    return (int)sys(SYS_newfstatat, objects_fd, L(hex), L(st), AT_SYMLINK_NOFOLLOW);
  return c_lstat(path, st);
}

static enum outcome verify(const char *path, const char *hex, int in_objects, char actual[65], const char **why,
                           const char **hint) {
  static struct trust_problem pb;
  struct stat st, st2;
  char sig[256], sig2[256];
  uint8_t d[32];
  unsigned long long me = (unsigned long long)c_uid(1);
  /*
   * Fast path, two system calls: lstat the object, look for its signature in the cache. Only for
   * a file with no write bits: nobody but root (trusted) can then open it for writing without a
   * chmod, which moves its ctime and so its signature; and an entry is made only when no process
   * had it open for writing (below). So a matching entry means no writer can have been at work.
   */
  int use_cache = cache_ready();
  if (use_cache && object_lstat(path, hex, in_objects, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0222) == 0 &&
      t_check(path, &st, me, 0, 0, &pb) == 0 && cache_hit(sig, vc_signature(sig, hex, &st)))
    return CACHED;
  /* Open once, check that descriptor: the file it names cannot be swapped for the checks. Without
     blocking: a FIFO put in an object's place (no writer) would hold the program at its start for
     good; opened, it is refused by t_check as not a regular file. */
  int fd = c_open(path, O_RDONLY | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK, 0);
  if (fd < 0) {
    *why = fd == -ELOOP ? "is a symbolic link, not an object" : errtext(fd);
    return fd == -ENOENT ? MISSING : fd == -ELOOP ? UNTRUSTED : FAILED;
  }
  if (c_fstat(fd, &st) != 0 || t_check(path, &st, me, 0, 0, &pb) != 0) {
    *why = pb.why, *hint = pb.hint;
    c_close(fd);
    return UNTRUSTED;
  }
  int writers = open_for_writing(fd, &st, (uid_t)me); /* the lease, if granted, lasts until close */
  if (writers > 0) {
    *why = "is open for writing by a process, so its bytes could change after any check; close that writer";
    c_close(fd);
    return UNTRUSTED;
  }
  vc_signature(sig, hex, &st); /* of the file actually hashed */
  long r = hash_fd(fd, d);
  int changed = r == 0 && (c_fstat(fd, &st2) != 0 || (vc_signature(sig2, hex, &st2), !c_eq(sig, sig2)));
  c_close(fd);
  if (r != 0 || changed) {
    *why = r != 0 ? errtext(r) : "the file changed while it was being hashed";
    return FAILED;
  }
  sha256_hex(d, actual);
  if (!c_eq(actual, hex)) return MISMATCH;
  if (use_cache && writers == 0 && vc_may_enter(&st)) cache_put(sig);
  return VERIFIED;
}

/* ---- lazy fetch (fetch.h): an absent object is asked of the store's fetch daemon, then verified */
enum fetched { NOT_ASKED, NO_DAEMON, DAEMON_FAILED, DAEMON_OK };
static enum fetched fetch_state;
static const char *fetch_why = "";
static char fetch_sock[108];

static enum outcome fetch_missing(const char *path, const char *hex, char actual[65], const char **why, const char **hint) {
  fetch_state = NOT_ASKED;
  if (secure) return MISSING; /* the invoking user's environment chose the store: fetch nothing for it */
  enum fetch_result r = fetch_ask(store_root, hex, (unsigned long long)c_uid(1), fetch_sock, &fetch_why);
  fetch_state = r == FETCH_OK ? DAEMON_OK : r == FETCH_NO_DAEMON ? NO_DAEMON : DAEMON_FAILED;
  if (debug) SAY("cald: sha256:", hex, " absent; fetch daemon: ", r == FETCH_OK ? "ok" : fetch_why);
  if (r != FETCH_OK) return MISSING;
  return verify(path, hex, 1, actual, why, hint); /* the daemon's word is not trusted for the bytes */
}

/* ---- resolution */
static char result[PATH_CAP]; /* handed to ld.so, which copies it at once (under its load lock) */
static int answer_is_object;  /* result is a store object's plain path (resolve) */

/* <store>/objects/sha256/<hex> into out (PATH_CAP bytes); 0 if it does not fit. */
static int object_path(char *out, const char *hex) {
  static const char mid[] = "/objects/sha256/";
  if (store_root_len + sizeof mid + 64 > PATH_CAP) return 0;
  char *p = out;
  for (size_t i = 0; i < store_root_len; i++) *p++ = store_root[i];
  for (size_t i = 0; i < sizeof mid - 1; i++) *p++ = mid[i];
  for (int i = 0; i < 64; i++) *p++ = hex[i];
  *p = '\0';
  return 1;
}

/*
 * Trees (docs/trees.md). A program imported in a tree carries a tree note (owner "cald", type
 * NT_CALD_TREE): entries of 64 hex digits (or 64 '-' for the program's own paths) followed by a
 * path inside the tree and a NUL. The tree's root in this process is /proc/self/exe less one of
 * the program's own paths (a checkout anywhere); an object the note lists is then loaded from its
 * place in the checkout, verified like a store object (a hard link is the object's own inode, so
 * the verification cache answers for it), so dladdr, $ORIGIN and /proc/self/maps see the tree.
 */
#define NT_CALD_PATHS 2
#define NT_CALD_TREE 3
static const char *path_note, *tree_note; /* descriptors, in the main program's memory */
static unsigned long path_note_len, tree_note_len;
static void find_notes(void);

/* The next entry of a note at *at: its 64-character field and its path; 0 at the end or on damage. */
static int note_next(const char *note, unsigned long len, unsigned long *at, const char **hex, const char **path) {
  if (note == NULL || *at + 66 > len) return 0;
  const char *h = note + *at, *p = h + 64;
  unsigned long n = 0;
  while (*at + 64 + n < len && p[n] != '\0') n++;
  if (*at + 64 + n >= len) return 0; /* no NUL: a damaged note maps nothing more */
  *hex = h, *path = p, *at += 64 + n + 1;
  return 1;
}
static int is_hex64(const char *h) {
  for (int i = 0; i < 64; i++)
    if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return 0;
  return 1;
}
static int same64(const char *a, const char *b) { return c_same(a, b, 64); }

static int tree_state; /* 0: not looked for, 1: tree_root valid, -1: the program is not run from a tree */
static char tree_root[PATH_CAP];
static size_t tree_root_len;

static int tree_ready(void) {
  if (tree_state != 0) return tree_state > 0;
  tree_state = -1;
  find_notes();
  if (tree_note == NULL) return 0;
  char exe[PATH_CAP];
  long n = sys(SYS_readlinkat, AT_FDCWD, L("/proc/self/exe"), L(exe), sizeof exe - 1);
  if (n <= 0 || exe[0] != '/') return 0;
  exe[n] = '\0';
  const char *hex, *path;
  for (unsigned long at = 0; note_next(tree_note, tree_note_len, &at, &hex, &path);) {
    if (hex[0] != '-') continue;
    size_t len = c_len(path);
    /* The root is never "/" itself: there the tree's paths are the host's own files. */
    if (path[0] != '/' || len >= (size_t)n || !c_eq(exe + n - len, path)) continue;
    tree_root_len = (size_t)n - len;
    for (size_t i = 0; i < tree_root_len; i++) tree_root[i] = exe[i];
    tree_root[tree_root_len] = '\0';
    tree_state = 1;
    if (debug) SAY("cald: running from a tree rooted at ", tree_root);
    return 1;
  }
  return 0;
}

/* Every directory from / down to file's must be writable only by trusted owners (as the store's). */
static int tree_dir_trusted(const char *file, struct trust_problem *pb) {
  static char last_ok[PATH_CAP];
  char dir[PATH_CAP];
  size_t n = c_len(file);
  while (n > 0 && file[n - 1] != '/') n--;
  if (n <= 1 || n >= sizeof dir) return 1;
  for (size_t i = 0; i < n - 1; i++) dir[i] = file[i];
  dir[n - 1] = '\0';
  if (c_eq(dir, last_ok)) return 1;
  if (path_trusted(dir, NULL, (unsigned long long)c_uid(1), pb) != 0) return 0;
  cat(last_ok, sizeof last_ok, dir, NULL);
  return 1;
}

/*
 * Loads `name` from the tree when the tree note lists the object `hex` (at `want`, a path
 * inside the checkout, or at the first path that holds it when want is NULL).
 * 1: result holds the path; 0: not in the tree (use the store); -1: refused, said why.
 */
static int from_tree(const char *name, const char *hex, const char *want) {
  if (!tree_ready()) return 0;
  char file[PATH_CAP], actual[65] = "", us[24];
  const char *h, *path, *why = "", *why_hint = "";
  int found = 0;
  for (unsigned long at = 0; !found && note_next(tree_note, tree_note_len, &at, &h, &path);) {
    if (!is_hex64(h)) continue;
    if (want != NULL ? c_starts(want, tree_root) && c_eq(want + tree_root_len, path) : same64(h, hex))
      found = cat(file, sizeof file, tree_root, path, NULL) > 0;
  }
  if (!found) return 0;
  if (want != NULL) hex = h; /* the object the note names for that path */
  char hexz[65];
  for (int i = 0; i < 64; i++) hexz[i] = hex[i];
  hexz[64] = '\0';
  long long t0 = debug ? c_now_ns(CLOCK_MONOTONIC) : 0;
  struct trust_problem pb;
  enum outcome o;
  if (!tree_dir_trusted(file, &pb)) {
    o = UNTRUSTED, why = pb.why, why_hint = pb.hint;
    SAY("cald: refusing ", name, ": ", pb.path, " ", why, why_hint);
    return -1;
  }
  o = verify(file, hexz, 0, actual, &why, &why_hint);
  if (o == VERIFIED || o == CACHED) {
    if (debug)
      SAY("cald: ", name, " -> ", file, o == CACHED ? " (in the tree, cached verification, " : " (in the tree, verified sha256, ",
          num(us, (unsigned long long)(c_now_ns(CLOCK_MONOTONIC) - t0) / 1000, 1), " us)");
    cat(result, sizeof result, file, NULL);
    return 1;
  }
  if (o == MISSING && want == NULL) return 0; /* a partial checkout: the store has it */
  if (o == MISMATCH)
    SAY("cald: refusing ", name, ": ", file, " has sha256 ", actual, ", not cas:sha256:", hexz,
        " as its tree says (changed in the checkout); check the tree out again");
  else
    SAY("cald: refusing ", name, ": ", file, " ", why, why_hint);
  return -1;
}

/*
 * The path handed to ld.so becomes the object's name (l_name): gdb's `info sharedlibrary`, ldd,
 * dladdr and dl_iterate_phdr show it. A bare objects/sha256/<hex> says nothing of which library it
 * is, so a library loaded by a name with a ?name= hint is shown as the name directory's entry for
 * that name, <store>/names/cas:sha256:<hex>?name=libz.so.1 (a link to the same object).
 *
 * Without a system call per library. At start-up ld.so names the object by the search candidate
 * it opened (show_candidate, below). After it, ld.so opens the object's own path (what was
 * verified), padded with slashes after "objects/sha256/" to the length of the entry's path (the
 * kernel treats "//" as "/"), and copies it into a buffer of its own for l_name; la_objopen, called
 * once the object is mapped, then writes the entry's path over that copy (never longer than it). Handing ld.so the
 * entry itself cost a readlink to check that it is exactly the link to the verified object and a
 * symbolic-link walk in the open: measured 4% of ffmpeg's start-up (209 libraries;
 * docs/benchmarks.md). ld.so's own name matching is unchanged (it matches later requests by the
 * cas: name it keeps as the object's soname list, and by device and inode), and $ORIGIN is the
 * directory of the path ld.so opened. Only names/ itself is checked
 * (once, held to the store rule like objects/); an entry is not opened to show it, so a missing or
 * wrong entry shows a path whose bytes are not the loaded ones: `cald verify` reports such entries.
 */
static int names_state; /* 0: not checked yet, 1: names/ trusted, -1: not used */

#define SHOWN_MAX 2048
static struct { char hex[64]; unsigned int at; } shown[SHOWN_MAX]; /* objects to show by name */
static char shown_names[64 * 1024]; /* their cas: names, NUL-terminated, at shown[i].at */
static unsigned int shown_count, shown_used;

static int names_usable(void) {
  if (names_state == 0) {
    static struct trust_problem pb;
    char dir[PATH_CAP];
    struct stat st;
    int ok = cat(dir, sizeof dir, store_root, "/names", NULL) > 0 && c_lstat(dir, &st) == 0 &&
             t_check(dir, &st, (unsigned long long)c_uid(1), 0, 1, &pb) == 0;
    names_state = ok ? 1 : -1;
  }
  return names_state > 0;
}

/* Writes into result the padded object path for `name` (see above); 0 if it cannot (plain path). */
static int named_path(const char *name, const char *hex) {
  size_t root = c_len(store_root), shown_len = root + 7 + c_len(name), plain = root + 16 + 64;
  size_t pad = shown_len > plain ? shown_len - plain : 0, need = c_len(name) + 1;
  if (!names_usable() || plain + pad + 1 > sizeof result || shown_count == SHOWN_MAX ||
      shown_used + need > sizeof shown_names)
    return 0;
  if (cat(result, sizeof result, store_root, "/objects/sha256/", NULL) <= 0) return 0;
  char *p = result + root + 16;
  for (size_t i = 0; i < pad; i++) *p++ = '/';
  for (int i = 0; i < 64; i++) *p++ = hex[i];
  *p = '\0';
  for (int i = 0; i < 64; i++) shown[shown_count].hex[i] = hex[i];
  shown[shown_count++].at = shown_used;
  for (size_t i = 0; i < need; i++) shown_names[shown_used + i] = name[i];
  shown_used += (unsigned int)need;
  return 1;
}

/* la_objopen's half: an object ld.so opened by a padded path gets its entry's path as its name. */
static void show_by_name(char *l_name) {
  size_t n = c_len(l_name), root = c_len(store_root);
  if (shown_count == 0 || n < root + 16 + 1 + 64 || !c_starts(l_name, store_root) ||
      !c_starts(l_name + root, "/objects/sha256//"))
    return;
  const char *hex = l_name + n - 64;
  for (unsigned int i = shown_count; i-- > 0;) {
    int same = 1;
    for (int k = 0; k < 64 && same; k++) same = shown[i].hex[k] == hex[k];
    if (!same) continue;
    char entry[PATH_CAP];
    if (cat(entry, sizeof entry, store_root, "/names/", shown_names + shown[i].at, NULL) <= 0) return;
    size_t e = c_len(entry);
    if (e > n) return;
    for (size_t k = 0; k <= e; k++) l_name[k] = entry[k];
    return;
  }
}

/*
 * Maps one cas: name to its verified object path; NULL (after one line on stderr) if it cannot.
 * padded: hand back the object path padded for show_by_name (an answer at LA_SER_ORIG), else the
 * plain path (an answer at a search candidate, shown by show_candidate).
 */
static char *resolve(const char *name, int padded) {
  static const char prefix[] = "cas:sha256:", hint_key[] = "?name=";
  char hex[65], actual[65] = "", us[24];
  char *path = result; /* the object's path is built where a store answer is handed back */
  const char *why = "no store location", *why_hint = "";
  long long t0 = debug ? c_now_ns(CLOCK_MONOTONIC) : 0;

  /* Parse: cas:sha256:<64 lowercase hex>, then nothing or ?name=<1..255 bytes without '/'>. */
  if (!c_starts(name, prefix)) {
    SAY("cald: unsupported content name \"", name,
        "\": this resolver knows only cas:sha256:<hex>; install a newer libcald-audit.so");
    return NULL;
  }
  const char *h = name + sizeof prefix - 1, *rest = h;
  while (rest - h < 64 && ((*rest >= '0' && *rest <= '9') || (*rest >= 'a' && *rest <= 'f'))) rest++;
  const char *hint = rest + sizeof hint_key - 1;
  int hint_ok = c_starts(rest, hint_key) && hint[0] != '\0' && c_len(hint) <= 255 && !c_has(hint, '/');
  if (rest - h != 64 || (*rest != '\0' && !hint_ok)) {
    SAY("cald: malformed content name \"", name,
        "\": expected cas:sha256:<64 lowercase hex> optionally followed by ?name=<file name without '/'>;"
        " re-import the program that asks for it");
    return NULL;
  }
  if (*rest == '\0') hint = NULL;
  for (int i = 0; i < 64; i++) hex[i] = h[i];
  hex[64] = '\0';

  answer_is_object = 0;
  path[0] = '\0';
  int t = from_tree(name, hex, NULL);
  if (t != 0) return t > 0 ? result : NULL;
  enum outcome o = FAILED;
  if (store_ready() && object_path(path, hex)) o = verify(path, hex, 1, actual, &why, &why_hint);
  if (o == MISSING) o = fetch_missing(path, hex, actual, &why, &why_hint);
  if (o == VERIFIED || o == CACHED) {
    if (debug)
      SAY("cald: ", name, " -> ", path, o == CACHED ? " (cached verification, " : " (verified sha256, ",
          num(us, (unsigned long long)(c_now_ns(CLOCK_MONOTONIC) - t0) / 1000, 1), " us)");
    if (!padded || hint == NULL || !named_path(name, hex)) answer_is_object = 1; /* result holds path */
    return result;
  }
  if (fallback_hint && hint != NULL) { /* opt-in: let ld.so search the original name instead */
    if (o == MISMATCH)
      SAY("cald: ", name, ": ", path, " has sha256 ", actual, " (changed or corrupted); CALD_FALLBACK=hint: searching ",
          hint, " instead");
    else if (o == UNTRUSTED)
      SAY("cald: ", name, ": ", path, " ", why, "; CALD_FALLBACK=hint: searching ", hint, " instead");
    else if (debug)
      SAY("cald: ", name, ": no usable object (", store_state < 0 ? store_why : why, "); CALD_FALLBACK=hint: searching ",
          hint);
    cat(result, sizeof result, hint, NULL);
    return result;
  }
  if (store_state < 0)
    SAY("cald: refusing ", name, ": ", store_why);
  else if (o == MISSING && fetch_state == DAEMON_FAILED)
    SAY("cald: cannot load ", name, ": ", path, " does not exist and the fetch daemon (", fetch_sock,
        ") could not fetch it: ", fetch_why, "; check the substituters and run the program again");
  else if (o == MISSING && fetch_state == DAEMON_OK)
    SAY("cald: refusing ", name, ": the fetch daemon (", fetch_sock, ") answered ok but ", path,
        " does not exist; the daemon is not working as it should");
  else if (o == MISSING)
    SAY("cald: cannot load ", name, ": ", path, " does not exist; import the library into this store"
        " (cald import) or set CALD_STORE to the store that has it");
  else if (o == MISMATCH)
    SAY("cald: refusing ", name, ": ", path, " has sha256 ", actual, ", not the hash in its name (changed or"
        " corrupted); cald verify --repair restores it from its original file");
  else if (o == UNTRUSTED)
    SAY("cald: refusing ", name, ": ", path, " ", why, why_hint);
  else
    SAY("cald: cannot load ", name, ": ", path, ": ", why);
  return NULL;
}

/* ---- the rtld-audit interface */

/* Accept the loader's interface version (la_objsearch exists since version 1). */
API unsigned int la_version(unsigned int version) { return version < LAV_CURRENT ? version : LAV_CURRENT; }

/*
 * Programs dlopen some files by absolute path (python's extension modules). The importer writes
 * into each imported program a note (owner "cald", type NT_CALD_PATHS) that maps the original
 * paths of the files imported with it to their objects: entries of 64 hex digits followed by the
 * absolute path and a NUL. Such a load is answered with the object, verified like any content
 * name. The note is read from the main program's own mapped image, so the program's hash covers
 * the mapping; a program without the note (a host program that inherits LD_AUDIT, or ld.so run
 * as a program) gets no mapping at all, and paths not in the note load as they are. A program
 * run from a tree checks the files of its tree it loads by path against its tree note instead.
 */

/* Finds the main program's path and tree notes once, from its program headers (AT_PHDR). */
static void find_notes(void) {
  static int done;
  if (done) return;
  done = 1;
  const ElfW(Phdr) *ph = (const ElfW(Phdr) *)at_phdr;
  unsigned long bias = 0;
  int has_phdr = 0, has_interp = 0;
  for (unsigned long i = 0; ph != NULL && i < at_phnum; i++) {
    if (ph[i].p_type == PT_PHDR) bias = at_phdr - ph[i].p_vaddr, has_phdr = 1;
    if (ph[i].p_type == PT_INTERP) has_interp = 1;
  }
  if (!has_phdr || !has_interp) return; /* not a dynamically linked program the kernel started: ld.so itself */
  for (unsigned long i = 0; i < at_phnum; i++) {
    if (ph[i].p_type != PT_NOTE) continue;
    const unsigned char *p = (const unsigned char *)(bias + ph[i].p_vaddr), *end = p + ph[i].p_memsz;
    while (end - p >= 12) {
      const ElfW(Word) *w = (const ElfW(Word) *)p;
      unsigned long namesz = w[0], descsz = w[1], type = w[2];
      unsigned long name_pad = (namesz + 3) & ~3UL, desc_pad = (descsz + 3) & ~3UL;
      if ((unsigned long)(end - p) - 12 < name_pad + desc_pad) break;
      const char *nm = (const char *)p + 12;
      if (namesz == 5 && c_eq(nm, "cald")) {
        if (type == NT_CALD_PATHS && path_note == NULL) path_note = nm + name_pad, path_note_len = descsz;
        if (type == NT_CALD_TREE && tree_note == NULL) tree_note = nm + name_pad, tree_note_len = descsz;
      }
      p += 12 + name_pad + desc_pad;
    }
  }
}

static char *map_path(const char *name) {
  char cas[96];
  const char *hex, *path;
  find_notes();
  for (unsigned long at = 0; note_next(path_note, path_note_len, &at, &hex, &path);) {
    if (!c_eq(path, name)) continue;
    if (!is_hex64(hex)) return (char *)name;
    char *p = cas;
    for (const char *c = "cas:sha256:"; *c; c++) *p++ = *c;
    for (int i = 0; i < 64; i++) *p++ = hex[i];
    *p = '\0';
    if (debug) SAY("cald: ", name, " is imported as ", cas); /* from the program's path note */
    return resolve(cas, 1);
  }
  int t = from_tree(name, NULL, name); /* a file of the program's own tree, loaded by its path */
  return t == 0 ? (char *)name : t > 0 ? result : NULL;
}

/*
 * Start-up loads by content name are answered at ld.so's first search candidate, not at
 * LA_SER_ORIG. A name rewritten at LA_SER_ORIG stays on the object as one more name (glibc keeps
 * the original beside the path it was given), and every later lookup by name and every version
 * check compares against each loaded object's names: with ffmpeg's 209 objects, 67,000 more
 * strcmp calls, 1% of its start-up's instructions (docs/benchmarks.md). So at LA_SER_ORIG the
 * object is verified (a refusal still stops the load there) and the name returned unchanged; ld.so
 * then searches its usual directories, and the first candidate path it tries, <dir>/<the name>,
 * is answered with the verified object's path. Every candidate ending in a cas: name is answered
 * from the store (verified) or refused, never opened where it is, so no search directory can
 * supply one.
 *
 * What changes for the object: ld.so names it by the candidate path (show_candidate puts the name
 * entry or the object path there instead) and derives $ORIGIN from the candidate's directory, a
 * system directory that holds no cas: file, where it was objects/sha256/ before: neither holds
 * anything an $ORIGIN-relative lookup could want. Only at start-up, whose objects are never
 * unloaded (show_candidate may point l_name at this library's memory), and only for a loader that
 * lets ld.so search its default directories (-z nodefaultlib could leave no candidate at all);
 * a dlopen after start-up, the sentinel, a tree's file and the fallback hint are answered at
 * LA_SER_ORIG as before.
 */
static int starting = 1;   /* until la_preinit */
static char deferred[64];  /* the object verified at LA_SER_ORIG, whose path is in result */
static char answered[64];  /* the object last handed to ld.so at a candidate, until la_objopen */
static size_t answered_at; /* where the cas: name starts in that candidate path */

/* Does ld.so search its default directories for this loader's needs (no DF_1_NODEFLIB)? */
static int searches_defaults(const struct link_map *loader) {
  if (loader == NULL || loader->l_ld == NULL) return 0;
  for (const ElfW(Dyn) *d = loader->l_ld; d->d_tag != DT_NULL; d++)
    if (d->d_tag == DT_FLAGS_1) return (d->d_un.d_val & DF_1_NODEFLIB) == 0;
  return 1;
}

/* A search candidate: one ending in a cas: name gets its verified object, or NULL (skipped). */
static char *candidate(const char *path) {
  static char refused[64]; /* said once: ld.so tries the next directory after a NULL */
  const char *name = path;
  for (const char *c = path; *c; c++)
    if (*c == '/') name = c + 1;
  if (!c_starts(name, "cas:")) return (char *)path;
  if (!c_starts(name, "cas:sha256:") || c_len(name) < 11 + 64) return resolve(name, 0); /* refused: malformed */
  const char *hex = name + 11;
  char *r;
  if (same64(hex, deferred) && answer_is_object) r = result; /* verified at LA_SER_ORIG just before */
  else if (same64(hex, refused)) return NULL;
  else r = resolve(name, 0);
  if (r != NULL && answer_is_object) {
    for (int i = 0; i < 64; i++) answered[i] = deferred[i] = hex[i];
    answered_at = (size_t)(name - path);
    return r;
  }
  for (int i = 0; i < 64; i++) refused[i] = hex[i];
  return NULL;
}

/*
 * la_objopen's half for the object opened at the candidate just answered: its name (l_name) is
 * the candidate path, <dir>/cas:sha256:<hex>[?name=...]; it is shown as the name entry (with a
 * hint and a usable names/), else as the object path. Written over ld.so's copy when it fits;
 * otherwise l_name points at a copy kept here (start-up objects are never unloaded, so ld.so never
 * frees it).
 */
static char shown_paths[128 * 1024];
static unsigned int shown_paths_used;
static int show_candidate(struct link_map *map) {
  char *l_name = map->l_name;
  if (answered[0] == '\0') return 0;
  for (size_t i = 0; i < answered_at; i++)
    if (l_name[i] == '\0') return 0;
  const char *name = l_name + answered_at;
  if (!c_starts(name, "cas:sha256:") || !same64(name + 11, answered)) return 0;
  answered[0] = '\0'; /* one object per answer: a file ld.so opened by itself is never renamed */
  static const char names_mid[] = "/names/", objects_mid[] = "/objects/sha256/";
  int hinted = name[11 + 64] != '\0' && names_usable();
  const char *mid = hinted ? names_mid : objects_mid;
  size_t mid_len = hinted ? sizeof names_mid - 1 : sizeof objects_mid - 1;
  size_t tail = hinted ? c_len(name) : 64, from = hinted ? 0 : 11; /* the part of name kept */
  size_t n = store_root_len + mid_len + tail;
  char *to = l_name;
  if (n > answered_at + c_len(name)) { /* longer than ld.so's copy */
    if (!starting || shown_paths_used + n + 1 > sizeof shown_paths) return 1;
    to = shown_paths + shown_paths_used, shown_paths_used += (unsigned int)n + 1;
  }
  /* The kept part first (it may move either way within ld.so's copy), then what goes before it. */
  char *t = to + store_root_len + mid_len;
  const char *src = name + from;
  if (t <= src)
    for (size_t i = 0; i < tail; i++) t[i] = src[i];
  else
    for (size_t i = tail; i-- > 0;) t[i] = src[i];
  t[tail] = '\0';
  for (size_t i = 0; i < store_root_len; i++) to[i] = store_root[i];
  for (size_t i = 0; i < mid_len; i++) to[store_root_len + i] = mid[i];
  map->l_name = to;
  return 1;
}

/*
 * The audit sentinel: the first DT_NEEDED of a program imported with --audit is
 * /proc/needs-libcald-audit.so/cas:sha256:<hex>, naming an empty object (no symbols, no
 * constructors) behind a directory no user can create. Without this library ld.so opens that
 * path directly (a name with '/' is never searched) and stops the program there, before it
 * searches for any cas: name (docs/threat-model.md). Here it resolves like any cas: name.
 */
static const char sentinel_prefix[] = "/proc/needs-libcald-audit.so/";

API char *la_objsearch(const char *name, uintptr_t *cookie, unsigned int flag) {
  if (flag != LA_SER_ORIG) return candidate(name);
  if (c_starts(name, sentinel_prefix)) return resolve(name + sizeof sentinel_prefix - 1, 1);
  if (name[0] == '/') return map_path(name);
  if (!c_starts(name, "cas:")) return (char *)name;
  if (!starting || !searches_defaults((const struct link_map *)*cookie)) return resolve(name, 1);
  char *r = resolve(name, 0);
  if (r == NULL || !answer_is_object) return r; /* refused, a tree's file, or the fallback hint */
  for (int i = 0; i < 64; i++) deferred[i] = name[11 + i];
  return (char *)name; /* answered at the first candidate */
}

/* Called for every object ld.so has mapped, before its relocation; nothing is audited further (0). */
API unsigned int la_objopen(struct link_map *map, Lmid_t lmid, uintptr_t *cookie) {
  (void)lmid, (void)cookie;
  if (map->l_name != NULL && !show_candidate(map)) show_by_name(map->l_name);
  return 0;
}

/* Called once the start-up objects are loaded, before any constructor of the program runs. */
API void la_preinit(uintptr_t *cookie) {
  (void)cookie;
  starting = 0;
  if (cache_state > 0) vc_run_save(cache_dir, sys(SYS_getpid, 0, 0, 0, 0));
  if (objects_fd >= 0) c_close(objects_fd), objects_fd = -1; /* a later dlopen walks the whole path */
  if (!env_is("CALD_STRIP_ENV", "1") || environ_ == NULL) return;
  char **out = environ_; /* remove LD_AUDIT in place: the program's libc reads this same array */
  for (char **e = environ_; *e != NULL; e++)
    if (!c_starts(*e, "LD_AUDIT=")) *out++ = *e;
  *out = NULL;
}

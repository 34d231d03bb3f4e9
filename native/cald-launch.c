/*
 * cald-launch: runs one program from a cald store with no Node.js on the start-up path.
 *
 * `cald install PROGRAM --bin DIR` copies native/build/cald-launch to DIR/NAME and fills the
 * slots below by byte search and replace (docs/running.md, "The launcher"). At run time the
 * launcher:
 *
 *   1. takes the store from its store slot (an inherited CALD_STORE only when installed with
 *      --store-from-env: the flags slot holds "store-env"), and refuses a store that anyone but
 *      its owner (you or root) could write, up to / (trust.h, docs/threat-model.md);
 *   2. refuses to start when its audit library is missing: ld.so would otherwise ignore LD_AUDIT
 *      and search the `cas:` names unverified;
 *   3. opens the program object once, checks that descriptor (owner, mode, no writer) and its
 *      sha256 against the digest in its target slot;
 *   4. sets CALD_STORE=<store> and LD_AUDIT=<audit library> (prepended to an LD_AUDIT that does
 *      not already name it), and changes nothing else in the environment;
 *   5. executes the verified descriptor (execveat) with its own argv (argv[0] is kept; only an
 *      empty or missing one is replaced by the launcher's own path, see exec_name), or, when
 *      the program was imported with a different ld.so than the host's (the interpreter slots
 *      below), the verified descriptor of the stored copy of that loader:
 *      `<loader> --argv0 ARGV0 PROGRAM ARGS...`.
 *
 * The template itself (target slot empty) is also what `cald run` executes, as
 * `cald-launch --cald-exec STORE TARGET LOADER-DIGEST ARGV0 ARGS...`: the same checks and the same
 * execveat, with the environment left exactly as given (cald run prepared it).
 *
 * It runs before every installed program, so it costs as little as it can: on x86-64 and AArch64
 * (CALD_NOLIBC, set by scripts/build-native.mjs) it has no C library and no dynamic loader: it is
 * linked -nostdlib -static, starts at its own _start, makes its own system calls (the technique of
 * native/cald-audit.c) and builds the new environment on its stack. Elsewhere it is the same code
 * on top of libc (main() and syscall()).
 *
 * Slot format: each slot is a 32-byte header (an ASCII marker padded with NULs, unique in the
 * file) followed by a value area of fixed size holding a NUL-terminated string, all NULs in the
 * template. Install finds each header exactly once, writes value + NUL into the value area and
 * zeroes the rest, so the file's size and layout never change. The header stays, so an
 * installed launcher can be read back or filled again.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "nolibc.h"
#include "sha256.h"
#include "trust.h"
#include "verify-cache.h"

#define SLOT_HEADER 32
#define SLOT(name, size)                                                                        \
  struct {                                                                                      \
    char header[SLOT_HEADER];                                                                   \
    char value[size];                                                                           \
  } name

/*
 * Not static and marked used: the compiler must not assume the (never written) values are the
 * template's zeros and fold them away. value() below also hides the address from the optimiser.
 * const: they live in a read-only segment (nothing writes them at run time).
 */
__attribute__((used)) const SLOT(cald_slot_target, 128) = {"CALD-LAUNCH-SLOT:target:1", {0}};
__attribute__((used)) const SLOT(cald_slot_store, 4096) = {"CALD-LAUNCH-SLOT:store:1", {0}};
__attribute__((used)) const SLOT(cald_slot_audit, 4096) = {"CALD-LAUNCH-SLOT:audit:1", {0}};
__attribute__((used)) const SLOT(cald_slot_interp, 1024) = {"CALD-LAUNCH-SLOT:interp:1", {0}};
__attribute__((used)) const SLOT(cald_slot_interp_digest, 128) = {"CALD-LAUNCH-SLOT:interp-digest:1", {0}};
__attribute__((used)) const SLOT(cald_slot_interp_sig, 256) = {"CALD-LAUNCH-SLOT:interp-sig:1", {0}};
__attribute__((used)) const SLOT(cald_slot_flags, 64) = {"CALD-LAUNCH-SLOT:flags:1", {0}};

/* The slot's value as the file holds it (an empty string when install left it empty). */
static const char *value(const char *p) {
  __asm__("" : "+r"(p)); /* the optimiser cannot see through this */
  return p;
}

/* ---- system calls (nolibc.h), and the entry point without libc */
#if defined(CALD_NOLIBC) && defined(__x86_64__)
/* The kernel enters here with the stack as argc, argv..., NULL, envp..., NULL, auxv. */
__asm__(".text\n"
        ".global _start\n"
        ".type _start, @function\n"
        "_start:\n"
        "  xor %ebp, %ebp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call cald_start\n"
        "  hlt\n");
#elif defined(CALD_NOLIBC) && defined(__aarch64__)
__asm__(".text\n"
        ".global _start\n"
        ".type _start, %function\n"
        "_start:\n"
        "  mov x29, #0\n"
        "  mov x30, #0\n"
        "  mov x0, sp\n"
        "  bl cald_start\n"
        "  brk #0\n");
#endif

static long c_write(int fd, const void *b, size_t n) { return sys(SYS_write, fd, L(b), L(n), 0); }
static int c_open(const char *p) { return (int)sys(SYS_openat, AT_FDCWD, L(p), O_RDONLY | O_CLOEXEC, 0); }
static long c_read(int fd, void *b, size_t n) { return sys(SYS_read, fd, L(b), L(n), 0); }
static void c_close(int fd) { sys(SYS_close, fd, 0, 0, 0); }
static int c_stat(const char *p, struct stat *st) { return (int)sys(SYS_newfstatat, AT_FDCWD, L(p), L(st), 0); }

#ifdef CALD_NOLIBC
__attribute__((noreturn)) static void c_exit(int status) {
  for (;;) sys(SYS_exit_group, status, 0, 0, 0);
}

#endif

/* ---- strings */
/* s after prefix, or NULL when s does not start with it. */
static const char *after(const char *s, const char *prefix) {
  while (*prefix && *s == *prefix) s++, prefix++;
  return *prefix == '\0' ? s : NULL;
}
static const char *find(const char *s, char c) {
  for (; *s; s++)
    if (*s == c) return s;
  return NULL;
}
/* Copies s to p (no NUL) and returns the end. */
static char *put(char *p, const char *s) {
  while (*s) *p++ = *s++;
  return p;
}

#ifdef CALD_BINFMT
#define WHO "cald-binfmt: "
#else
#define WHO "cald-launch: "
#endif
#define SAY(...) say(__VA_ARGS__, (const char *)NULL)
/* One line on stderr, WHO and the parts, in a single write() (a VLA: parts may be long). */
static void say(const char *first, ...) {
  va_list ap, ap2;
  va_start(ap, first);
  va_copy(ap2, ap);
  size_t n = sizeof WHO + c_len(first); /* WHO and the newline */
  for (const char *s; (s = va_arg(ap, const char *)) != NULL;) n += c_len(s);
  va_end(ap);
  char line[n];
  char *p = put(put(line, WHO), first);
  for (const char *s; (s = va_arg(ap2, const char *)) != NULL;) p = put(p, s);
  va_end(ap2);
  *p++ = '\n';
  c_write(2, line, (size_t)(p - line));
}

/* glibc's wording for the errors execve can give, so messages read as before. */
static const char *error_text(int e, char buf[40]) {
  switch (e) {
  case ENOENT: return "No such file or directory";
  case EACCES: return "Permission denied";
  case ENOEXEC: return "Exec format error";
  case ENOTDIR: return "Not a directory";
  case ENAMETOOLONG: return "File name too long";
  case ELOOP: return "Too many levels of symbolic links";
  case ETXTBSY: return "Text file busy";
  case ENOMEM: return "Cannot allocate memory";
  case E2BIG: return "Argument list too long";
  case EPERM: return "Operation not permitted";
  case EISDIR: return "Is a directory";
  case EIO: return "Input/output error";
  case ELIBBAD: return "Accessing a corrupted shared library";
  case EINVAL: return "Invalid argument";
  default: {
    char d[24];
    char *p = put(buf, "error ");
    p = put(p, num(d, (unsigned long long)e, 1));
    *p = '\0';
    return buf;
  }
  }
}

/*
 * The stat signature the audit library's verification cache uses for a file:
 * dev-ino-size-mtime.ns-ctime.ns. Install records the host loader's signature when its content
 * matched the program's interpreter note, so the usual check is one stat.
 */
static int signature(const char *path, char out[256]) {
  struct stat st;
  if (c_stat(path, &st) != 0) return -1;
  char a[24], b[24], c[24], d[24], e[24], f[24], g[24];
  const char *parts[] = {num(a, (unsigned long long)st.st_dev, 1),         "-",
                         num(b, (unsigned long long)st.st_ino, 1),         "-",
                         num(c, (unsigned long long)st.st_size, 1),        "-",
                         num(d, (unsigned long long)st.st_mtim.tv_sec, 1), ".",
                         num(e, (unsigned long long)st.st_mtim.tv_nsec, 9), "-",
                         num(f, (unsigned long long)st.st_ctim.tv_sec, 1), ".",
                         num(g, (unsigned long long)st.st_ctim.tv_nsec, 9)};
  char *p = out;
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) p = put(p, parts[i]); /* < 256 */
  *p = '\0';
  return 0;
}

/* sha256 of what fd reads, as 64 hex digits; -1 on a read error. */
static int hash_fd(int fd, char hex[65]) {
  static uint8_t chunk[1 << 16];
  sha256_ctx c;
  sha256_select(0);
  sha256_init(&c);
  for (;;) {
    long r = c_read(fd, chunk, sizeof chunk);
    if (r == -EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    sha256_update(&c, chunk, (size_t)r);
  }
  uint8_t d[32];
  sha256_final(&c, d);
  sha256_hex(d, hex);
  return 0;
}

/* "sha256:<hex>" of a file, or -1. */
static int digest_file(const char *path, char out[72]) {
  int fd = c_open(path);
  if (fd < 0) return -1;
  int r = hash_fd(fd, put(out, "sha256:"));
  c_close(fd);
  return r;
}

/* The verification cache the audit resolver uses (verify-cache.h), found from the environment. */
static const char *cache_dir(char **envp) {
  static char dir[VC_CAP], home[VC_CAP];
  static int state; /* 0: not looked for, 1: dir usable, -1: none */
  if (state != 0) return state > 0 ? dir : NULL;
  const char *base = NULL, *h = NULL, *v;
  for (size_t i = 0; envp[i]; i++)
    if ((v = after(envp[i], "XDG_CACHE_HOME=")) && v[0] == '/' && !base) base = v;
    else if ((v = after(envp[i], "HOME=")) && v[0] == '/' && !h) h = v;
  if (base == NULL && h == NULL) h = passwd_home((unsigned long long)sys(SYS_getuid, 0, 0, 0, 0), home);
  state = vc_open(base, h, (unsigned long long)sys(SYS_geteuid, 0, 0, 0, 0), dir) == NULL ? 1 : -1;
  return state > 0 ? dir : NULL;
}

/*
 * Opens a store object once and checks that descriptor: a regular file that only its owner (you
 * or root) can write, whose sha256 is hex: vouched for by the verification cache (no write bits,
 * same signature), else hashed while no process has it open for writing. Returns the descriptor
 * (close-on-exec) to execute, or after one line naming the file and the reason -2 when it does
 * not exist, -1 otherwise.
 */
static int open_verified(const char *path, const char *hex, const char *what, char **envp) {
  static struct trust_problem pb;
  struct stat st;
  char have[65], sig[256];
  unsigned long long me = (unsigned long long)sys(SYS_geteuid, 0, 0, 0, 0);
  /* Without blocking: a FIFO in the object's place would hold us for good; t_check refuses it. */
  int fd = (int)sys(SYS_openat, AT_FDCWD, L(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) {
    char buf[40];
    SAY("cannot run ", path, ": ", error_text(-fd, buf),
        fd == -ENOENT ? " (is the store the one the program was installed from?)" : "");
    return fd == -ENOENT ? -2 : -1;
  }
  const char *why = NULL, *hint = "", *cache = NULL;
  int writers = -1;
  if (sys(SYS_fstat, fd, L(&st), 0, 0) != 0 || t_check(path, &st, me, 0, 0, &pb) != 0)
    why = pb.why, hint = pb.hint;
  else if ((st.st_mode & 0222) == 0 && (cache = cache_dir(envp)) != NULL &&
           (vc_signature(sig, hex, &st), vc_hit(cache, sig, me)))
    return fd;
  else if ((writers = open_for_writing(fd, &st, (uid_t)me)) > 0)
    why = "is open for writing by a process, so its bytes could change after the check", hint = "; close that writer";
  else if (hash_fd(fd, have) != 0)
    why = "cannot be read";
  else if (!c_eq(have, hex))
    why = "has another sha256 than its name (changed or corrupted)", hint = "; delete it and import the program again";
  if (why == NULL) {
    if (cache != NULL && writers == 0 && vc_may_enter(&st)) vc_put(cache, sig);
    return fd;
  }
  c_close(fd);
  SAY("refusing to run ", what, " ", path, ": it ", why, hint);
  return -1;
}

/*
 * Whether the host's PT_INTERP file is the loader the program was imported with.
 * No interpreter note: yes (nothing to compare). Same stat signature as at install: yes.
 * Otherwise the file is hashed (about 1 ms for ld.so) and compared.
 */
static int host_loader_matches(const char *interp, const char *want, int debug) {
  char sig[256];
  if (!*want) return 1;
  if (signature(interp, sig) == 0 && c_eq(sig, value(cald_slot_interp_sig.value))) return 1;
  char have[72];
  if (digest_file(interp, have) != 0) return 0;
  if (c_eq(have, want)) {
    if (debug) SAY("host loader changed on disk but has the same content; cald install again to skip the hash: ", interp);
    return 1;
  }
  return 0;
}

/* True when the colon-separated list names item as one of its elements. */
static int list_has(const char *list, const char *item) {
  size_t n = c_len(item);
  for (const char *p = list;;) {
    const char *end = find(p, ':');
    size_t len = end ? (size_t)(end - p) : c_len(p);
    if (len == n) {
      size_t i = 0;
      while (i < n && p[i] == item[i]) i++;
      if (i == n) return 1;
    }
    if (!end) return 0;
    p = end + 1;
  }
}

/* How to start: what the slots (or, for `cald run`, the command line) say. */
struct plan {
  const char *store;         /* as given: the slot, CALD_STORE or cald run's argument */
  const char *target;        /* "sha256:<hex>" of the program object */
  const char *interp;        /* the program's PT_INTERP ("" with cald run: it decided already) */
  const char *interp_digest; /* "sha256:<hex>" of the loader the program was imported with, or "" */
  int use_stored_loader;     /* cald run: 1 when it chose the stored loader */
  const char *audit;         /* the audit library to set in LD_AUDIT; NULL: leave the environment */
  const char *argv0;         /* the program's argv[0] */
  char **args;               /* the program's arguments after argv[0] */
  int nargs;
  int debug;
  int in_script; /* running a script's interpreter: it must be a program, not another script */
};

/* The environment: everything inherited except CALD_STORE and LD_AUDIT, which are set. */
static void build_env(char **envp, size_t n, const char *store, const char *audit, const char *old_audit, char **env,
                      char *store_var, char *audit_var) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!after(envp[i], "CALD_STORE=") && !after(envp[i], "LD_AUDIT=")) env[k++] = envp[i];
  *put(put(store_var, "CALD_STORE="), store) = '\0';
  env[k++] = store_var;
  int prepend = old_audit && *old_audit && !list_has(old_audit, audit);
  const char *kept = old_audit && *old_audit ? old_audit : "";
  char *p = put(audit_var, "LD_AUDIT=");
  if (prepend || !*kept) p = put(p, audit);
  if (prepend) *p++ = ':';
  *put(p, kept) = '\0';
  env[k++] = audit_var;
  env[k] = NULL;
}

/* The store, checked (trust.h): its real path in real, or after one line -2 when it does not exist, else -1. */
static int trusted_store(const char *store, char real[TRUST_PATH_CAP]) {
  static struct trust_problem pb;
  if (store[0] != '/') {
    SAY("refusing the store ", store, ": not an absolute path");
    return -1;
  }
  if (real_dir(store, real, &pb) == 0 &&
      path_trusted(real, "objects/sha256", (unsigned long long)sys(SYS_geteuid, 0, 0, 0, 0), &pb) == 0)
    return 0;
  if (c_eq(pb.why, "does not exist")) {
    SAY("cannot run the program: ", pb.path, " does not exist (is the store ", store,
        " the one the program was installed from?)");
    return -2;
  }
  SAY("refusing the store ", store, ": ", pb.path, " ", pb.why, pb.hint);
  return -1;
}

/*
 * Scripts (docs/scripts.md). A script names its interpreter by content on its first line:
 *
 *     #!cas:sha256:<64 hex>[?name=<name>][ ARG...]\n
 *
 * within the first SHEBANG_LIMIT bytes (the kernel's BINPRM_BUF_SIZE since Linux 5.1). The
 * interpreter object is run like a program (the same checks, then executed directly: the host's
 * PT_INTERP loads it; the stored-loader fallback is cald run's only), with
 * argv = <name or object path> ARG... SCRIPT ARGS...: what the kernel gives a #! interpreter,
 * except that ARGs are split on blanks (as env -S does).
 */
#define SHEBANG_LIMIT 256
#define SCRIPT_ARGS 64

struct shebang {
  char line[SHEBANG_LIMIT + 1];
  char target[72]; /* "sha256:<hex>" */
  const char *hint; /* in line, or NULL */
  char *args[SCRIPT_ARGS];
  int nargs;
};

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Parses the #!cas: line in head[0..n); NULL, or why it cannot be run. */
static const char *parse_shebang(const char *head, long n, struct shebang *sb) {
  long end = 0;
  while (end < n && end < SHEBANG_LIMIT && head[end] != '\n') end++;
  if (end >= n || head[end] != '\n') return "its #!cas: line does not end within the first 256 bytes";
  for (long i = 0; i < end; i++) sb->line[i] = head[i] == '\0' ? '\n' : head[i]; /* a NUL is refused below */
  sb->line[end] = '\0';
  const char *h = after(sb->line, "#!cas:sha256:");
  if (h == NULL) return "its #!cas: line does not name cas:sha256:<hex>";
  char *p = put(sb->target, "sha256:");
  int k = 0;
  for (; k < 64 && ((h[k] >= '0' && h[k] <= '9') || (h[k] >= 'a' && h[k] <= 'f')); k++) *p++ = h[k];
  *p = '\0';
  if (k != 64) return "its #!cas: line does not hold 64 lowercase hex digits";
  char *q = sb->line + (h - sb->line) + 64;
  sb->hint = NULL;
  const char *hv = after(q, "?name=");
  if (hv != NULL) {
    sb->hint = hv;
    while (*q && !is_blank(*q)) {
      if (*q == '/' || *q == '\n') return "its #!cas: line has a bad ?name= hint";
      q++;
    }
    if (q == hv) return "its #!cas: line has an empty ?name= hint";
  } else if (*q && !is_blank(*q)) {
    return "its #!cas: line has something other than ?name= after the hex digits";
  }
  sb->nargs = 0;
  while (*q) {
    if (*q == '\r' || *q == '\n') return "its #!cas: line holds a carriage return or NUL";
    if (is_blank(*q)) {
      *q++ = '\0';
      continue;
    }
    if (sb->nargs == SCRIPT_ARGS) return "its #!cas: line has too many arguments";
    sb->args[sb->nargs++] = q;
    while (*q && !is_blank(*q)) q++;
  }
  return NULL;
}

static int run(struct plan *pl, char **envp);

/* Runs the interpreter that the script `path` (whose first bytes are head) names, on it. */
static int run_script(struct plan *pl, const char *path, const char *head, long n, char **envp) {
  static struct shebang sb;
  const char *why = parse_shebang(head, n, &sb);
  if (why != NULL) {
    SAY("cannot run ", path, ": ", why);
    return 126;
  }
  char *args[(size_t)pl->nargs + SCRIPT_ARGS + 2];
  int a = 0;
  for (int i = 0; i < sb.nargs; i++) args[a++] = sb.args[i];
  args[a++] = (char *)path;
  for (int i = 0; i < pl->nargs; i++) args[a++] = pl->args[i];
  args[a] = NULL;
  struct plan in = *pl;
  in.target = sb.target, in.interp = "", in.interp_digest = "", in.use_stored_loader = 0;
  in.argv0 = sb.hint, in.args = args, in.nargs = a, in.in_script = 1; /* no hint: the object's path (run) */
  if (pl->debug) SAY("script ", path, ": interpreter ", sb.target, sb.hint ? " (" : "", sb.hint ? sb.hint : "", sb.hint ? ")" : "");
  return run(&in, envp);
}

static int run(struct plan *pl, char **envp) {
  const char *colon = find(pl->target, ':');
  if (!*pl->target || !colon) {
    SAY("this launcher has no program in it; make one with: cald install PROGRAM --bin DIR");
    return 127;
  }
  if (pl->audit != NULL) { /* fail closed: without it ld.so would search the cas: names unverified */
    struct stat st;
    int e = c_stat(pl->audit, &st);
    if (e != 0 || !S_ISREG(st.st_mode)) {
      char buf[40];
      SAY("refusing to start the program unverified: cannot use the audit library ", pl->audit, ": ",
          e != 0 ? error_text(-e, buf) : "not a regular file", "; reinstall cald, then cald install the command again");
      return 127;
    }
  }
  char store[TRUST_PATH_CAP];
  int bad = trusted_store(pl->store, store);
  if (bad != 0) return bad == -2 ? 127 : 126;

  /* <store>/objects/<algorithm>/<hex>; dir keeps the "<store>/objects/<algorithm>/" prefix. */
  size_t store_len = c_len(store), target_len = c_len(pl->target);
  char program[store_len + target_len + 16];
  char *p = put(program, store);
  p = put(p, "/objects/");
  for (const char *t = pl->target; t < colon; t++) *p++ = *t;
  *p++ = '/';
  size_t dir_len = (size_t)(p - program);
  *put(p, colon + 1) = '\0';

  size_t n = 0;
  const char *old_audit = NULL;
  for (; envp[n]; n++) {
    const char *v = after(envp[n], "LD_AUDIT=");
    if (v) old_audit = v; /* the last, as before */
  }
  char *env_set[n + 3];
  char store_var[store_len + 12];
  char audit_var[(pl->audit ? c_len(pl->audit) : 0) + (old_audit ? c_len(old_audit) : 0) + 11];
  char **env = envp;
  if (pl->audit != NULL) build_env(envp, n, store, pl->audit, old_audit, env = env_set, store_var, audit_var);

  /* The stored loader, <dir>/<hex of the note>, used when the host's is not the noted one. */
  const char *hex = find(pl->interp_digest, ':');
  hex = hex ? hex + 1 : pl->interp_digest;
  char loader[dir_len + c_len(hex) + 1];
  for (size_t i = 0; i < dir_len; i++) loader[i] = program[i];
  *put(loader + dir_len, hex) = '\0';
  int stored = pl->use_stored_loader || (*pl->interp && !host_loader_matches(pl->interp, pl->interp_digest, pl->debug));

  int fd = open_verified(program, colon + 1, "the program", envp);
  if (fd < 0) return fd == -2 ? 127 : 126;
  if (!pl->in_script) { /* a #!cas: script object: run its interpreter object on it */
    char head[SHEBANG_LIMIT];
    long got = sys(SYS_pread64, fd, L(head), sizeof head, 0);
    if (got >= 6 && after(head, "#!cas:") != NULL) {
      c_close(fd);
      return run_script(pl, program, head, got, envp);
    }
  }
  const char *ran = program;
  if (pl->argv0 == NULL) pl->argv0 = program; /* a script's interpreter named without a hint */
  char *args[(size_t)pl->nargs + 5];
  size_t a = 0;
  if (!stored) {
    if (pl->debug) SAY("exec: ", program);
    args[a++] = (char *)pl->argv0;
  } else {
    /* ld.so run as a program: /proc/self/exe is then the loader (docs/running.md). ld.so opens
       the program by path, in a store no one but its owner can write (checked above). */
    c_close(fd);
    if (pl->debug) {
      SAY("host loader ", pl->interp, " is not ", pl->interp_digest,
          " (the program's interpreter note); running the stored loader ", loader, " explicitly");
    }
    if ((fd = open_verified(loader, hex, "the stored loader", envp)) < 0) return fd == -2 ? 127 : 126;
    ran = loader;
    args[a++] = loader;
    args[a++] = "--argv0";
    args[a++] = (char *)pl->argv0;
    args[a++] = program;
  }
  for (int i = 0; i < pl->nargs; i++) args[a++] = pl->args[i];
  args[a] = NULL;
  int e = (int)-sys5(SYS_execveat, fd, L(""), L(args), L(env), AT_EMPTY_PATH);
  char buf[40];
  SAY("cannot run ", ran, ": ", error_text(e, buf));
  return e == ENOENT ? 127 : 126;
}

#ifndef AT_EXECFN
#define AT_EXECFN 31
#endif
/*
 * The path this launcher was exec'd by (AT_EXECFN from the auxiliary vector, which follows the
 * environment's NULL on the initial stack), or "". A multi-call program (busybox) chooses what
 * it does by the basename of argv[0]: when the caller gave no argv[0], or an empty one, the
 * launcher's own path stands in, so the program runs under the launcher's own name.
 */
static const char *exec_name(char **envp) {
  char **p = envp;
  while (*p) p++;
  for (const unsigned long *a = (const unsigned long *)(p + 1); a[0] != 0; a += 2)
    if (a[0] == AT_EXECFN) return (const char *)a[1];
  return "";
}

/* An installed launcher: everything from its slots; argv as given. */
__attribute__((unused)) static int launch(int argc, char **argv, char **envp) {
  struct plan pl = {
      .store = value(cald_slot_store.value),
      .target = value(cald_slot_target.value),
      .interp = value(cald_slot_interp.value),
      .interp_digest = value(cald_slot_interp_digest.value),
      .audit = value(cald_slot_audit.value),
      .argv0 = argc > 0 && argv[0][0] ? argv[0] : exec_name(envp),
      .args = argv + (argc > 0),
      .nargs = argc > 0 ? argc - 1 : 0,
  };
  int store_env = c_eq(value(cald_slot_flags.value), "store-env");
  for (size_t n = 0; envp[n]; n++) {
    const char *v;
    if (store_env && (v = after(envp[n], "CALD_STORE=")) && *v) pl.store = v, store_env = 0; /* the first, as getenv */
    else if ((v = after(envp[n], "CALD_DEBUG=")) && !pl.debug) pl.debug = c_eq(v, "1");
  }
  if (!*pl.target && argc >= 6 && c_eq(argv[1], "--cald-exec")) { /* the template, run by cald run */
    pl.store = argv[2], pl.target = argv[3], pl.interp = "", pl.interp_digest = argv[4];
    pl.use_stored_loader = *argv[4] != '\0', pl.audit = NULL, pl.argv0 = argv[5];
    pl.args = argv + 6, pl.nargs = argc - 6;
  }
  return run(&pl, envp);
}

#ifdef CALD_BINFMT
/*
 * The binfmt_misc handler (native/cald-binfmt.c builds this file with CALD_BINFMT; `cald system
 * install` registers it for files starting with #!cas:). The kernel runs it as
 * `HANDLER SCRIPT ARGS...`, SCRIPT as the caller named it. The store is the caller's, found as the
 * audit library finds it: CALD_STORE (absolute), else $XDG_DATA_HOME/cald/store, else
 * ~/.local/share/cald/store (home from /etc/passwd when HOME is unset); the audit library is the
 * one system install put in the audit slot.
 */
static const char *caller_store(char **envp, char buf[TRUST_PATH_CAP]) {
  const char *store = NULL, *data = NULL, *home = NULL, *v;
  static char pw[VC_CAP];
  for (size_t i = 0; envp[i]; i++)
    if ((v = after(envp[i], "CALD_STORE=")) && *v && !store) store = v;
    else if ((v = after(envp[i], "XDG_DATA_HOME=")) && v[0] == '/' && !data) data = v;
    else if ((v = after(envp[i], "HOME=")) && v[0] == '/' && !home) home = v;
  if (store != NULL) return store; /* a relative one is refused by trusted_store */
  if (home == NULL && data == NULL) home = passwd_home((unsigned long long)sys(SYS_getuid, 0, 0, 0, 0), pw);
  if (data == NULL && home == NULL) return NULL;
  if (c_len(data ? data : home) + 32 > TRUST_PATH_CAP) return NULL;
  *put(put(buf, data ? data : home), data ? "/cald/store" : "/.local/share/cald/store") = '\0';
  return buf;
}

static int binfmt(int argc, char **argv, char **envp) {
  static char store[TRUST_PATH_CAP];
  if (argc < 2) {
    SAY("cald-binfmt is run by the kernel for #!cas: scripts (binfmt_misc): cald-binfmt SCRIPT [ARGS...]");
    return 127;
  }
  const char *script = argv[1];
  char head[SHEBANG_LIMIT], buf[40];
  int fd = c_open(script);
  if (fd < 0) {
    SAY("cannot run ", script, ": ", error_text(-fd, buf));
    return fd == -ENOENT ? 127 : 126;
  }
  long got = c_read(fd, head, sizeof head);
  c_close(fd);
  if (got < 6 || after(head, "#!cas:") == NULL) {
    SAY("cannot run ", script, ": it does not start with #!cas:");
    return 126;
  }
  struct plan pl = {.interp = "", .interp_digest = "", .audit = value(cald_slot_audit.value), .args = argv + 2, .nargs = argc - 2};
  for (size_t n = 0; envp[n]; n++) {
    const char *v = after(envp[n], "CALD_DEBUG=");
    if (v && !pl.debug) pl.debug = c_eq(v, "1");
  }
  pl.store = caller_store(envp, store);
  if (pl.store == NULL) {
    SAY("cannot run ", script, ": no store location; set CALD_STORE to the store directory");
    return 127;
  }
  return run_script(&pl, script, head, got, envp);
}
#define ENTRY binfmt
#else
#define ENTRY launch
#endif

#ifdef CALD_NOLIBC
/* Called by _start with the initial stack pointer. */
__attribute__((used, noreturn)) void cald_start(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  c_exit(ENTRY(argc, argv, argv + argc + 1));
}
#else
int main(int argc, char **argv, char **envp) { return ENTRY(argc, argv, envp); }
#endif

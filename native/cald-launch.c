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
 *   3. execs <store>/objects/sha256/<hex> with its own argv unchanged (argv[0] is kept; only an
 *      empty or missing one is replaced by the launcher's own path, see exec_name), or, when
 *      the program was imported with a different ld.so than the host's (the interpreter slots
 *      below), execs the stored copy of that loader: `<loader> --argv0 ARGV0 PROGRAM ARGS...`.
 *
 * It runs before every installed program, so it costs as little as it can: on x86-64 and AArch64
 * (CALD_NOLIBC, set by scripts/build-native.mjs) it has no C library and no dynamic loader: it is
 * linked -nostdlib -static, starts at its own _start, makes its own system calls (the technique of
 * native/cald-audit.c), builds the new environment on its stack and, on the normal path, makes one
 * stat and the execve. The whole image is a few KB of code plus the slots. Elsewhere it is the same
 * code on top of libc (main() and syscall()).
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
static int c_execve(const char *p, char *const *argv, char *const *envp) {
  return (int)sys(SYS_execve, L(p), L(argv), L(envp), 0);
}

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

#define SAY(...) say(__VA_ARGS__, (const char *)NULL)
/* One line on stderr, "cald-launch: " and the parts, in a single write() (a VLA: parts may be long). */
static void say(const char *first, ...) {
  va_list ap, ap2;
  va_start(ap, first);
  va_copy(ap2, ap);
  size_t n = 14 + c_len(first); /* "cald-launch: " and the newline */
  for (const char *s; (s = va_arg(ap, const char *)) != NULL;) n += c_len(s);
  va_end(ap);
  char line[n];
  char *p = put(put(line, "cald-launch: "), first);
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

/* "sha256:<hex>" of a file, or -1. */
static int digest_file(const char *path, char out[72]) {
  uint8_t chunk[1 << 15];
  int fd = c_open(path);
  if (fd < 0) return -1;
  sha256_ctx c;
  sha256_select(0);
  sha256_init(&c);
  for (;;) {
    long r = c_read(fd, chunk, sizeof chunk);
    if (r == -EINTR) continue;
    if (r < 0) {
      c_close(fd);
      return -1;
    }
    if (r == 0) break;
    sha256_update(&c, chunk, (size_t)r);
  }
  c_close(fd);
  uint8_t d[32];
  sha256_final(&c, d);
  sha256_hex(d, put(out, "sha256:"));
  return 0;
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

/* ---- argv[0] */
#ifndef AT_EXECFN
#define AT_EXECFN 31
#endif
/*
 * The path this launcher was exec'd by (AT_EXECFN from the auxiliary vector, which follows the
 * environment's NULL on the initial stack), or NULL. A multi-call program (busybox) chooses what
 * it does by the basename of argv[0]: when the caller gave no argv[0], or an empty one, the
 * launcher's own path stands in, so the program runs under the launcher's own name.
 */
static const char *exec_name(char **envp) {
  char **p = envp;
  while (*p) p++;
  for (const unsigned long *a = (const unsigned long *)(p + 1); a[0] != 0; a += 2)
    if (a[0] == AT_EXECFN) return (const char *)a[1];
  return NULL;
}

static int launch(int argc, char **argv, char **envp) {
  const char *target = value(cald_slot_target.value);
  const char *audit = value(cald_slot_audit.value);
  const char *interp = value(cald_slot_interp.value);
  const char *interp_digest = value(cald_slot_interp_digest.value);

  /* One pass over the environment: what it sets that we read or replace. */
  const char *store = NULL, *old_audit = NULL;
  int debug = 0;
  size_t n = 0;
  for (; envp[n]; n++) {
    const char *v;
    if (!store && (v = after(envp[n], "CALD_STORE="))) store = v; /* the first, as getenv */
    else if ((v = after(envp[n], "LD_AUDIT="))) old_audit = v;     /* the last, as before */
    else if ((v = after(envp[n], "CALD_DEBUG=")) && !debug) debug = c_eq(v, "1");
  }

  /* target is "<algorithm>:<hex>" */
  const char *colon = find(target, ':');
  if (!*target || !colon) {
    SAY("this launcher has no program in it; make one with: cald install PROGRAM --bin DIR");
    return 127;
  }
  if (!store || !*store) store = value(cald_slot_store.value);

  /* <store>/objects/<algorithm>/<hex>; dir keeps the "<store>/objects/<algorithm>/" prefix. */
  size_t store_len = c_len(store), target_len = c_len(target);
  char program[store_len + target_len + 16];
  char *p = put(program, store);
  p = put(p, "/objects/");
  for (const char *t = target; t < colon; t++) *p++ = *t;
  *p++ = '/';
  size_t dir_len = (size_t)(p - program);
  *put(p, colon + 1) = '\0';

  /* The environment: everything inherited except CALD_STORE and LD_AUDIT, which are set. */
  char *env[n + 3];
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!after(envp[i], "CALD_STORE=") && !after(envp[i], "LD_AUDIT=")) env[k++] = envp[i];
  char store_var[store_len + 12];
  *put(put(store_var, "CALD_STORE="), store) = '\0';
  env[k++] = store_var;
  int prepend = old_audit && *old_audit && !list_has(old_audit, audit);
  const char *kept = old_audit && *old_audit ? old_audit : "";
  char audit_var[c_len(audit) + c_len(kept) + 11];
  p = put(audit_var, "LD_AUDIT=");
  if (prepend || !*kept) p = put(p, audit);
  if (prepend) *p++ = ':';
  *put(p, kept) = '\0';
  env[k++] = audit_var;
  env[k] = NULL;

  /* The stored loader, <dir>/<hex of the note>, used when the host's is not the noted one. */
  const char *hex = find(interp_digest, ':');
  hex = hex ? hex + 1 : interp_digest;
  char loader[dir_len + c_len(hex) + 1];
  for (size_t i = 0; i < dir_len; i++) loader[i] = program[i];
  *put(loader + dir_len, hex) = '\0';

  char *named[2] = {NULL, NULL};
  if (argc == 0 || !argv[0][0]) {
    const char *self = exec_name(envp);
    if (self) {
      if (argc == 0) argv = named, argc = 1; /* kernels before 5.18 allow an empty argv */
      argv[0] = (char *)self;
    }
  }

  const char *ran = program;
  int e;
  if (host_loader_matches(interp, interp_digest, debug)) {
    if (debug) SAY("exec: ", program);
    e = (int)-c_execve(program, argv, env);
  } else {
    /* ld.so run as a program: /proc/self/exe is then the loader (docs/running.md). */
    if (debug) {
      SAY("host loader ", interp, " is not ", interp_digest,
          " (the program's interpreter note); running the stored loader ", loader, " explicitly");
    }
    char *args[(size_t)argc + 4];
    size_t a = 0;
    args[a++] = loader;
    args[a++] = "--argv0";
    args[a++] = argc > 0 ? argv[0] : program;
    args[a++] = program;
    for (int i = 1; i < argc; i++) args[a++] = argv[i];
    args[a] = NULL;
    e = (int)-c_execve(loader, args, env);
    ran = loader;
  }
  char buf[40];
  SAY("cannot run ", ran, ": ", error_text(e, buf),
      e == ENOENT ? " (is CALD_STORE the store the program was installed from?)" : "");
  return e == ENOENT ? 127 : 126;
}

#ifdef CALD_NOLIBC
/* Called by _start with the initial stack pointer. */
__attribute__((used, noreturn)) void cald_start(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  c_exit(launch(argc, argv, argv + argc + 1));
}
#else
int main(int argc, char **argv, char **envp) { return launch(argc, argv, envp); }
#endif

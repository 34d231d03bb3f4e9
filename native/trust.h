/*
 * Whether a directory may be trusted, shared by the audit resolver and the launcher
 * (docs/threat-model.md, "The store rule"). A path is trusted when every directory from / down to
 * it is owned by the user, by root or by an owner the administrator names in
 * /etc/cald/store-owners, and no one else can write it: not writable by group or others, except
 * for a sticky directory above the path itself (like /tmp, where others cannot rename or remove
 * what is not theirs). This is what ssh's StrictModes and sudo check before trusting a file.
 *
 * Symbolic links are followed once, by the kernel: the path is opened and the directory it
 * reached is named again through /proc/self/fd, so the walk checks the real directories (and
 * without /proc, a path with a symbolic link in it is refused). Include after nolibc.h.
 */
#ifndef CALD_TRUST_H
#define CALD_TRUST_H

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define TRUST_PATH_CAP 4096
#define STORE_OWNERS_FILE "/etc/cald/store-owners"

/* What was found wrong, for one line on stderr. */
struct trust_problem {
  char path[TRUST_PATH_CAP]; /* the directory or file at fault */
  const char *why;           /* "is writable by group or others (mode 0777)" etc. */
  char detail[64];           /* storage for the numbers in why */
  const char *hint;          /* what to do, "" when nothing specific */
};

static int t_lstat(const char *p, struct stat *st) {
  return (int)sys(SYS_newfstatat, AT_FDCWD, L(p), L(st), AT_SYMLINK_NOFOLLOW);
}

/* Copies s into out (cap bytes); -1 if it does not fit. */
static int t_copy(char *out, size_t cap, const char *s) {
  size_t n = 0;
  for (; s[n]; n++) {
    if (n + 1 >= cap) return -1;
    out[n] = s[n];
  }
  out[n] = '\0';
  return (int)n;
}

/* One octal digit per 3 bits, 4 digits: 0755. */
static void t_mode(char out[8], unsigned mode) {
  for (int i = 0; i < 3; i++) out[1 + i] = (char)('0' + ((mode >> (3 * (2 - i))) & 7));
  out[0] = (char)('0' + ((mode >> 9) & 7));
  out[4] = '\0';
}

/*
 * Is uid one of the owners the administrator names? The file must itself be root's and written
 * by no one else; one decimal uid per line, '#' starts a comment. Read at most once per process.
 */
static int admin_owner(unsigned long long uid) {
  static int loaded; /* 0: not read, 1: read */
  static unsigned long long owners[32];
  static int count;
  if (!loaded) {
    loaded = 1;
    struct stat st;
    int fd = (int)sys(SYS_openat, AT_FDCWD, L(STORE_OWNERS_FILE), O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
    if (fd < 0) return 0;
    char buf[2048];
    long n = 0;
    if (sys(SYS_fstat, fd, L(&st), 0, 0) == 0 && st.st_uid == 0 && (st.st_mode & 022) == 0 && S_ISREG(st.st_mode))
      n = sys(SYS_read, fd, L(buf), sizeof buf - 1, 0);
    sys(SYS_close, fd, 0, 0, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    unsigned long long v = 0;
    int digits = 0, comment = 0;
    for (long i = 0; i <= n; i++) {
      char c = buf[i];
      if (c == '\n' || c == '\0') {
        if (digits && count < 32) owners[count++] = v;
        v = 0, digits = 0, comment = 0;
      } else if (comment || c == ' ' || c == '\t') {
        continue;
      } else if (c == '#') {
        comment = 1;
      } else if (c >= '0' && c <= '9') {
        v = v * 10 + (unsigned long long)(c - '0'), digits++;
      } else {
        comment = 1, digits = 0; /* a malformed line names no one */
      }
    }
  }
  for (int i = 0; i < count; i++)
    if (owners[i] == uid) return 1;
  return 0;
}

static int owner_trusted(unsigned long long uid, unsigned long long me) {
  return uid == me || uid == 0 || admin_owner(uid);
}

/* Checks one directory or file; 0 when it may be trusted. */
static int t_check(const char *path, const struct stat *st, unsigned long long me, int sticky_ok, int want_dir,
                   struct trust_problem *pb) {
  char d[24], m[8];
  const char *why = NULL;
  pb->hint = "";
  if (S_ISLNK(st->st_mode)) why = "is a symbolic link that cannot be checked (no /proc)";
  else if (want_dir && !S_ISDIR(st->st_mode)) why = "is not a directory";
  else if (!want_dir && !S_ISREG(st->st_mode)) why = "is not a regular file";
  else if (!owner_trusted(st->st_uid, me)) {
    char *p = pb->detail;
    p += t_copy(p, 40, "is owned by uid ");
    t_copy(p, 24, num(d, st->st_uid, 1));
    why = pb->detail;
    pb->hint = "; it must belong to you or root (or an owner named in " STORE_OWNERS_FILE ")";
  } else if ((st->st_mode & 022) != 0 && !(sticky_ok && (st->st_mode & S_ISVTX))) {
    t_mode(m, st->st_mode & 07777);
    char *p = pb->detail;
    p += t_copy(p, 48, "is writable by group or others (mode ");
    p += t_copy(p, 8, m);
    t_copy(p, 4, ")");
    why = pb->detail;
    pb->hint = "; make it writable only by its owner (chmod go-w)";
  }
  if (why == NULL) return 0;
  t_copy(pb->path, sizeof pb->path, path);
  pb->why = why;
  return -1;
}

/*
 * The real path of the directory dir names (symbolic links resolved by the kernel) into out,
 * or a copy of dir when /proc is not there. -1 (pb filled) if dir cannot be opened.
 */
static int real_dir(const char *dir, char out[TRUST_PATH_CAP], struct trust_problem *pb) {
  int fd = (int)sys(SYS_openat, AT_FDCWD, L(dir), O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) {
    t_copy(pb->path, sizeof pb->path, dir);
    pb->hint = "";
    pb->why = fd == -ENOENT ? "does not exist" : fd == -ENOTDIR ? "is not a directory" : "cannot be opened";
    return -1;
  }
  char link[40], d[24];
  char *p = link;
  p += t_copy(p, 16, "/proc/self/fd/");
  t_copy(p, 24, num(d, (unsigned long long)fd, 1));
  long n = sys(SYS_readlinkat, AT_FDCWD, L(link), L(out), TRUST_PATH_CAP - 1);
  sys(SYS_close, fd, 0, 0, 0);
  if (n > 0 && out[0] == '/') out[n] = '\0';
  else if (t_copy(out, TRUST_PATH_CAP, dir) < 0) return -1;
  return 0;
}

/*
 * Checks every directory from / down to dir (a real path), and then dir/sub (if sub is not
 * NULL: each of its components too, e.g. "objects/sha256"). Directories above dir may be sticky
 * and writable by others; dir and below may not. 0 when all may be trusted.
 */
static int path_trusted(const char *dir, const char *sub, unsigned long long me, struct trust_problem *pb) {
  char prefix[TRUST_PATH_CAP];
  struct stat st;
  size_t n = 0, dir_len = c_len(dir);
  const char *s = dir;
  int in_sub = 0;
  for (;;) {
    /* extend prefix by one component (or to "/" at first) */
    if (n == 0) {
      prefix[n++] = '/';
    } else {
      if (*s == '\0') {
        if (sub == NULL || in_sub) return 0;
        s = sub, in_sub = 1;
      }
      while (*s == '/') s++;
      if (*s == '\0') {
        if (sub == NULL || in_sub) return 0;
        continue;
      }
      if (prefix[n - 1] != '/') prefix[n++] = '/';
      while (*s && *s != '/' && n + 1 < sizeof prefix) prefix[n++] = *s++;
    }
    prefix[n] = '\0';
    if (n + 1 >= sizeof prefix) {
      t_copy(pb->path, sizeof pb->path, dir);
      pb->why = "is too long a path";
      pb->hint = "";
      return -1;
    }
    long e = t_lstat(prefix, &st);
    if (e != 0) {
      t_copy(pb->path, sizeof pb->path, prefix);
      pb->why = e == -ENOENT ? "does not exist" : "cannot be examined";
      pb->hint = "";
      return -1;
    }
    int above = !in_sub && n < dir_len;
    if (t_check(prefix, &st, me, above, 1, pb) != 0) return -1;
    if (n == 1) s = dir;
  }
}

/*
 * Does any process have the file open for writing? Then its bytes can change without its stat
 * signature moving (writes through a shared mapping dirtied earlier update no timestamp), so it
 * is refused. A read lease is granted only when no one has the file open for writing. Only the file's owner may take a lease; for a file of another
 * trusted owner that no one else may write (t_check), only that owner could be writing it.
 * The lease is left to the caller's close(), so no writer can open the file while it is checked.
 * Returns 1: open for writing, 0: not (or only by its trusted owner), -1: cannot tell.
 */
static int open_for_writing(int fd, const struct stat *st, uid_t me) {
  /* If a writer opened the file in the moment we hold the lease, its break signal would come to
     this process: make it SIGURG, ignored by default, rather than SIGIO, which kills. */
  sys(SYS_fcntl, fd, F_SETSIG, SIGURG, 0);
  long r = sys(SYS_fcntl, fd, F_SETLEASE, F_RDLCK, 0);
  if (r == 0) return 0; /* held until fd is closed: a writer's open waits for that meanwhile */
  if (r == -EAGAIN) return 1;
  if (r == -EACCES && st->st_uid != me) return 0;
  return -1; /* leases off (fs.leases-enable=0) or not supported here: hash, do not cache */
}

#endif

/*
 * The per-user verification cache, shared by the audit resolver and the launcher
 * (docs/resolver.md, "Verification and the cache"). An entry is an empty file in
 * <XDG_CACHE_HOME or ~/.cache>/cald/verified/ whose *name* is the stat signature of a file that
 * hashed to <hex>:
 *
 *     <hex>-<st_dev>-<st_ino>-<st_size>-<mtime s.ns>-<ctime s.ns>
 *
 * so checking one costs one lstat, and creating one (O_EXCL) is atomic with nothing to tear.
 * The directory is used only when the user owns it, no one else can write it, and every directory
 * above it is writable only by the user or root (trust.h). Include after nolibc.h and trust.h.
 */
#ifndef CALD_VERIFY_CACHE_H
#define CALD_VERIFY_CACHE_H

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#define VC_CAP 4096

/* The home field of uid's line in /etc/passwd into home (files only: no NSS here), or NULL. */
static const char *passwd_home(unsigned long long uid, char home[VC_CAP]) {
  static char buf[8192];
  char uidbuf[24];
  const char *want = num(uidbuf, uid, 1);
  int fd = (int)sys(SYS_openat, AT_FDCWD, L("/etc/passwd"), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return NULL;
  size_t have = 0;
  home[0] = '\0';
  for (int eof = 0; !eof && home[0] == '\0';) {
    long r = sys(SYS_read, fd, L(buf + have), L(sizeof buf - 1 - have), 0);
    if (r <= 0) eof = 1, buf[have++] = '\n';
    else have += (size_t)r;
    size_t start = 0;
    for (size_t i = 0; i < have && home[0] == '\0'; i++) {
      if (buf[i] != '\n') continue;
      buf[i] = '\0'; /* name:pw:uid:gid:gecos:home:shell */
      char *f[7] = {buf + start}, *p = buf + start;
      int k = 1;
      for (; *p && k < 7; p++)
        if (*p == ':') *p = '\0', f[k++] = p + 1;
      if (k == 7 && c_eq(f[2], want) && f[5][0] == '/') cat(home, VC_CAP, f[5], NULL);
      start = i + 1;
    }
    for (size_t i = start; i < have; i++) buf[i - start] = buf[i]; /* keep the partial line */
    have -= start;
    if (have >= sizeof buf - 1) have = 0; /* an overlong line: skip it */
  }
  sys(SYS_close, fd, 0, 0, 0);
  return home[0] != '\0' ? home : NULL;
}

/* Ours alone: a directory we own that nobody else can write, under directories only we or root can write. */
static int vc_private(const char *dir, char real[TRUST_PATH_CAP], unsigned long long me) {
  struct stat st;
  struct trust_problem pb;
  return real_dir(dir, real, &pb) == 0 && t_lstat(real, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == me &&
         (st.st_mode & 022) == 0 && path_trusted(real, NULL, me, &pb) == 0;
}

/*
 * Sets up the cache below base (XDG_CACHE_HOME, absolute) or home/.cache, creating its
 * directories (0700), and puts its real path in dir. NULL when usable, else why not.
 */
static const char *vc_open(const char *base, const char *home, unsigned long long me, char dir[VC_CAP]) {
  static char why[VC_CAP + 128];
  char top[VC_CAP], parent[VC_CAP], want[VC_CAP], real[TRUST_PATH_CAP];
  if (base == NULL && home == NULL) return "unusable (no HOME)";
  if ((base ? cat(top, sizeof top, base, NULL) : cat(top, sizeof top, home, "/.cache", NULL)) < 0 ||
      cat(parent, sizeof parent, top, "/cald", NULL) < 0 || cat(want, sizeof want, parent, "/verified", NULL) < 0)
    return "unusable (path too long)";
  if (!vc_private(want, real, me)) {
    sys(SYS_mkdirat, AT_FDCWD, L(top), 0700, 0);
    sys(SYS_mkdirat, AT_FDCWD, L(parent), 0700, 0);
    sys(SYS_mkdirat, AT_FDCWD, L(want), 0700, 0);
    if (!vc_private(want, real, me)) {
      cat(why, sizeof why, want,
          " unusable (missing, not ours, or it or a directory above it writable by others)", NULL);
      return why;
    }
  }
  return cat(dir, VC_CAP, real, NULL) < 0 ? "unusable (path too long)" : NULL;
}

/* Appends v in decimal, zero-padded to width digits; returns the new end. */
static char *vc_put_num(char *p, unsigned long long v, int width) {
  char tmp[24];
  for (const char *s = num(tmp, v, width); *s;) *p++ = *s++;
  return p;
}

/* The entry name for a file with this stat that hashed to hex (written field by field: the resolver makes one per library). */
static size_t vc_signature(char out[256], const char *hex, const struct stat *st) {
  char *p = out;
  for (int i = 0; i < 64 && hex[i]; i++) *p++ = hex[i];
  *p++ = '-', p = vc_put_num(p, st->st_dev, 1);
  *p++ = '-', p = vc_put_num(p, st->st_ino, 1);
  *p++ = '-', p = vc_put_num(p, (unsigned long long)st->st_size, 1);
  *p++ = '-', p = vc_put_num(p, (unsigned long long)st->st_mtim.tv_sec, 1);
  *p++ = '.', p = vc_put_num(p, (unsigned long long)st->st_mtim.tv_nsec, 9);
  *p++ = '-', p = vc_put_num(p, (unsigned long long)st->st_ctim.tv_sec, 1);
  *p++ = '.', p = vc_put_num(p, (unsigned long long)st->st_ctim.tv_nsec, 9);
  *p = '\0'; /* at most 64 + 7 separators + 5 * 20 + 2 * 9 = 189 bytes */
  return (size_t)(p - out);
}

/* Does the cache say this exact file (same inode, size, mtime and ctime) had this hash? */
static int vc_hit(const char *dir, const char *sig, unsigned long long me) {
  char path[VC_CAP + 256];
  struct stat st;
  return cat(path, sizeof path, dir, "/", sig, NULL) > 0 && t_lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
         st.st_uid == me;
}

/* Records a verified signature; a failure only costs a re-hash next time. */
static void vc_put(const char *dir, const char *sig) {
  char path[VC_CAP + 256];
  if (cat(path, sizeof path, dir, "/", sig, NULL) <= 0) return;
  long fd = sys(SYS_openat, AT_FDCWD, L(path), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) sys(SYS_close, fd, 0, 0, 0);
}

/*
 * May a file with this stat, verified now, be entered in the cache? Only with no write bits (so
 * no one but root can open it for writing without a chmod, which moves its ctime) and a ctime at
 * least a second old (a file changed within the same clock tick could change again unseen).
 */
static int vc_may_enter(const struct stat *st) {
  struct timespec now = {0, 0};
  sys(SYS_clock_gettime, CLOCK_REALTIME, L(&now), 0, 0);
  long long age = ((long long)now.tv_sec - st->st_ctim.tv_sec) * 1000000000LL + (now.tv_nsec - st->st_ctim.tv_nsec);
  return (st->st_mode & 0222) == 0 && age >= 1000000000LL;
}

#endif

/*
 * The run list of the audit resolver (docs/resolver.md, "Verification and the cache"). Include
 * after verify-cache.h; only the resolver uses it (the launcher checks two files, not a closure).
 */
#ifndef CALD_RUN_LIST_H
#define CALD_RUN_LIST_H

/*
 * The run list: the signatures one program's start-up found good, in one file per program,
 *
 *     <dir>/run-<st_dev>-<st_ino>-<mtime s.ns>-<ctime s.ns>   (of /proc/self/exe)
 *
 * one signature per line, so the next start of the same program finds them with one read instead
 * of one lstat per object (ffmpeg: 209). Every line was a cache hit or an entry made (above) in
 * the same private directory, so a line vouches for exactly what its entry would. The file is
 * replaced (temporary file, rename) only when a start-up needed a signature it did not hold. A
 * program run through an explicit loader shares the loader's list: misses, never wrong answers.
 */
#define VC_RUN_CAP (2048 * 160) /* bytes of signatures kept: 2048 objects of ~150 bytes */
#define VC_RUN_SLOTS 4096       /* open-addressing table over the loaded lines, a power of two */

static char vc_run_text[VC_RUN_CAP]; /* the loaded list, lines ending in '\0' */
static unsigned int vc_run_slot[VC_RUN_SLOTS]; /* offset + 1 of a line in vc_run_text, 0: empty */
static unsigned short vc_run_len[VC_RUN_SLOTS]; /* that line's length */
/* This start-up's good signatures: lines of vc_run_text, or copies in vc_run_new (not in the list). */
static const char *vc_run_seen[VC_RUN_SLOTS];
static unsigned int vc_run_seen_count;
static char vc_run_new[VC_RUN_CAP];
static size_t vc_run_new_len;
static int vc_run_dirty; /* a signature was found outside the list: write it anew */
static char vc_run_key[160];

/* The table slot of a signature: its first 16 hex digits are uniformly distributed. */
static unsigned int vc_run_hash(const char *sig) {
  unsigned long long h = 0;
  for (int i = 0; i < 16; i++) h = h << 4 | (unsigned long long)(sig[i] <= '9' ? sig[i] - '0' : sig[i] - 'a' + 10);
  return (unsigned int)(h ^ h >> 32) & (VC_RUN_SLOTS - 1);
}

/* Notes a good signature; line must outlive the start-up (a line of the loaded list, or a vc_run_keep copy). */
static void vc_run_note(const char *line) {
  if (line != NULL && vc_run_seen_count < VC_RUN_SLOTS) vc_run_seen[vc_run_seen_count++] = line;
}

/* A copy of a signature the loaded list lacked, kept for vc_run_save; NULL when full. */
static const char *vc_run_keep(const char *sig) {
  size_t n = c_len(sig);
  if (vc_run_new_len + n + 1 > sizeof vc_run_new) return NULL;
  char *line = vc_run_new + vc_run_new_len;
  for (size_t i = 0; i <= n; i++) line[i] = sig[i];
  vc_run_new_len += n + 1;
  return line;
}

/* Reads the main program's list from dir (once); a missing or foreign file is an empty list. */
static void vc_run_load(const char *dir, unsigned long long me) {
  struct stat st;
  char a[24], b[24], c[24], d[24], e[24], f[24], path[VC_CAP + 200];
  if (sys(SYS_newfstatat, AT_FDCWD, L("/proc/self/exe"), L(&st), 0) != 0) return;
  cat(vc_run_key, sizeof vc_run_key, "run-", num(a, st.st_dev, 1), "-", num(b, st.st_ino, 1), "-",
      num(c, (unsigned long long)st.st_mtim.tv_sec, 1), ".", num(d, (unsigned long long)st.st_mtim.tv_nsec, 9), "-",
      num(e, (unsigned long long)st.st_ctim.tv_sec, 1), ".", num(f, (unsigned long long)st.st_ctim.tv_nsec, 9), NULL);
  if (cat(path, sizeof path, dir, "/", vc_run_key, NULL) <= 0) return;
  long fd = sys(SYS_openat, AT_FDCWD, L(path), O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
  if (fd < 0) return;
  size_t have = 0;
  if (sys(SYS_fstat, fd, L(&st), 0, 0) == 0 && S_ISREG(st.st_mode) && st.st_uid == me && (st.st_mode & 022) == 0)
    for (long r; have < sizeof vc_run_text - 1 &&
                 (r = sys(SYS_read, fd, L(vc_run_text + have), L(sizeof vc_run_text - 1 - have), 0)) > 0;)
      have += (size_t)r;
  sys(SYS_close, fd, 0, 0, 0);
  vc_run_text[have] = '\0';
  /* Index whole lines; a torn last line is dropped. A line is only ever compared whole with a
     signature just made, so a malformed one can match nothing: it is not checked further. */
  for (size_t at = 0, end; at < have; at = end + 1) {
    for (end = at; end < have && vc_run_text[end] != '\n'; end++) {}
    if (end == have) break;
    vc_run_text[end] = '\0';
    if (end - at < 65 || end - at > 255) continue; /* no signature is shorter or longer (vc_signature) */
    unsigned int k = vc_run_hash(vc_run_text + at), tries = 0;
    while (vc_run_slot[k] != 0 && tries++ < VC_RUN_SLOTS) k = (k + 1) & (VC_RUN_SLOTS - 1);
    if (vc_run_slot[k] == 0) vc_run_slot[k] = (unsigned int)at + 1, vc_run_len[k] = (unsigned short)(end - at);
  }
}

/* The loaded list's line equal to sig (n bytes), or NULL. */
static const char *vc_run_hit(const char *sig, size_t n) {
  if (n < 65) return NULL;
  for (unsigned int k = vc_run_hash(sig), tries = 0; vc_run_slot[k] != 0 && tries < VC_RUN_SLOTS;
       k = (k + 1) & (VC_RUN_SLOTS - 1), tries++)
    if (vc_run_len[k] == n && c_same(vc_run_text + vc_run_slot[k] - 1, sig, n)) return vc_run_text + vc_run_slot[k] - 1;
  return NULL;
}

/* Writes this start-up's list when it found a signature the loaded one lacked; failures only cost lstats next time. */
static void vc_run_save(const char *dir, long pid) {
  char path[VC_CAP + 200], tmp[VC_CAP + 240], p[24];
  if (!vc_run_dirty || vc_run_key[0] == '\0' || cat(path, sizeof path, dir, "/", vc_run_key, NULL) <= 0 ||
      cat(tmp, sizeof tmp, dir, "/.", vc_run_key, ".", num(p, (unsigned long long)pid, 1), NULL) <= 0)
    return;
  vc_run_dirty = 0;
  long fd = sys(SYS_openat, AT_FDCWD, L(tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return;
  static char out[VC_RUN_CAP];
  size_t len = 0, done = 0;
  for (unsigned int i = 0; i < vc_run_seen_count; i++) {
    size_t n = c_len(vc_run_seen[i]);
    if (len + n + 1 > sizeof out) break;
    for (size_t k = 0; k < n; k++) out[len + k] = vc_run_seen[i][k];
    out[len + n] = '\n', len += n + 1;
  }
  for (long w; done < len && (w = sys(SYS_write, fd, L(out + done), L(len - done), 0)) > 0;) done += (size_t)w;
  sys(SYS_close, fd, 0, 0, 0);
  if (done != len || sys(SYS_renameat, AT_FDCWD, L(tmp), AT_FDCWD, L(path)) != 0)
    sys(SYS_unlinkat, AT_FDCWD, L(tmp), 0, 0);
}


#endif

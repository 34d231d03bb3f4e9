/*
 * cald-mount: the FUSE server behind `cald mount DIR` (docs/mount.md). A read-only view of a
 * local store, content-addressed:
 *
 *     DIR/objects/sha256/<hex>          every object as a file (r-x when the store marks it so)
 *     DIR/trees/sha256/<hex>/...        a tree object (docs/trees.md) as its directory
 *
 * It speaks the kernel's FUSE protocol over /dev/fuse itself (no libfuse: Debian's 3.14 has no
 * passthrough API), with a few threads: the node table is behind one lock, released while an
 * object is fetched or hashed, so a slow fetch does not stop the rest of the mount. Every object is hashed before it is served (or found in the
 * verification cache the resolver uses, native/verify-cache.h); an absent object is asked of the
 * store's fetch daemon (native/fetch.h) and then verified like any other. With kernel passthrough
 * (FUSE_PASSTHROUGH, Linux 6.9+) reads and mmap go straight to the verified store file; without
 * it, READ requests are answered from the file here.
 *
 *     cald-mount [--no-passthrough] [--foreground] STORE DIR   mount; "ready <mode>" on stdout
 *                                                                 (then the log to fd 3 if open)
 *     cald-mount --unmount [--lazy] DIR                           umount2(2)
 *
 * STORE is the store's real path, already opened and checked by cald (src/api/mount.ts).
 * The protocol's structures and constants are defined here from the protocol (version 7.40).
 */
#define _GNU_SOURCE
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function" /* the shared headers' helpers this one needs not */
#include "nolibc.h"
#include "sha256.h"
#include "trust.h"
#include "fetch.h"
#include "verify-cache.h"
#pragma GCC diagnostic pop

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- the protocol (kernel FUSE ABI 7.40) ---- */

enum {
  OP_LOOKUP = 1, OP_FORGET = 2, OP_GETATTR = 3, OP_READLINK = 5, OP_OPEN = 14, OP_READ = 15,
  OP_STATFS = 17, OP_RELEASE = 18, OP_INIT = 26, OP_OPENDIR = 27, OP_READDIR = 28, OP_RELEASEDIR = 29,
  OP_INTERRUPT = 36, OP_DESTROY = 38, OP_BATCH_FORGET = 42,
};

#define F_ASYNC_READ (1ULL << 0)
#define F_PARALLEL_DIROPS (1ULL << 18)
#define F_MAX_PAGES (1ULL << 22)
#define F_CACHE_SYMLINKS (1ULL << 23)
#define F_INIT_EXT (1ULL << 30)
#define F_PASSTHROUGH (1ULL << 37)

#define FOPEN_KEEP_CACHE (1u << 1)
#define FOPEN_CACHE_DIR (1u << 3)
#define FOPEN_PASSTHROUGH (1u << 7)

struct in_header {
  uint32_t len, opcode;
  uint64_t unique, nodeid;
  uint32_t uid, gid, pid;
  uint16_t total_extlen, padding;
};
struct out_header {
  uint32_t len;
  int32_t error;
  uint64_t unique;
};
struct attr {
  uint64_t ino, size, blocks, atime, mtime, ctime;
  uint32_t atimensec, mtimensec, ctimensec, mode, nlink, uid, gid, rdev, blksize, flags;
};
struct entry_out {
  uint64_t nodeid, generation, entry_valid, attr_valid;
  uint32_t entry_valid_nsec, attr_valid_nsec;
  struct attr attr;
};
struct attr_out {
  uint64_t attr_valid;
  uint32_t attr_valid_nsec, dummy;
  struct attr attr;
};
struct init_in {
  uint32_t major, minor, max_readahead, flags, flags2, unused[11];
};
struct init_out {
  uint32_t major, minor, max_readahead, flags;
  uint16_t max_background, congestion_threshold;
  uint32_t max_write, time_gran;
  uint16_t max_pages, map_alignment;
  uint32_t flags2, max_stack_depth, unused[6];
};
struct open_in {
  uint32_t flags, open_flags;
};
struct open_out {
  uint64_t fh;
  uint32_t open_flags;
  int32_t backing_id;
};
struct read_in {
  uint64_t fh, offset;
  uint32_t size, read_flags;
  uint64_t lock_owner;
  uint32_t flags, padding;
};
struct release_in {
  uint64_t fh;
  uint32_t flags, release_flags;
  uint64_t lock_owner;
};
struct forget_one {
  uint64_t nodeid, nlookup;
};
struct batch_forget_in {
  uint32_t count, dummy;
};
struct dirent_out {
  uint64_t ino, off;
  uint32_t namelen, type;
};
struct kstatfs {
  uint64_t blocks, bfree, bavail, files, ffree;
  uint32_t bsize, namelen, frsize, padding, spare[6];
};
struct backing_map {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
#define DEV_IOC_BACKING_OPEN _IOW(229, 1, struct backing_map)
#define DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

_Static_assert(sizeof(struct in_header) == 40, "fuse_in_header");
_Static_assert(sizeof(struct attr) == 88, "fuse_attr");
_Static_assert(sizeof(struct entry_out) == 128, "fuse_entry_out");
_Static_assert(sizeof(struct init_out) == 64, "fuse_init_out");
_Static_assert(sizeof(struct read_in) == 40, "fuse_read_in");

/* ---- the view ---- */

#define TTL 86400 /* content never changes: a day for entries and attributes */
#define MAX_READ (1u << 20)
#define BUF_SIZE (MAX_READ + 4096)

enum kind { K_FIXED, K_FILE, K_DIR, K_LINK };
enum { ID_ROOT = 1, ID_OBJECTS, ID_OBJECTS_SHA256, ID_TREES, ID_TREES_SHA256 };

struct tentry {
  char kind; /* 'f' file, 'x' exec, 't' tree, 'l' link */
  const char *value, *name; /* value: 64 hex (f x t) or the link target; both NUL-terminated */
  size_t nlen;
  uint64_t size;
};

struct node {
  uint64_t ino; /* also the node id the kernel uses */
  uint64_t lookups;
  enum kind kind;
  uint8_t key[32]; /* what the ino was derived from, to tell a collision from the same node */
  char hex[65];    /* K_FILE: the object; K_DIR: the tree object */
  int exec;
  struct stat st; /* K_FILE, K_DIR: the store file as it was verified */
  char *bytes;    /* K_DIR: the tree object; K_LINK: the target */
  size_t len;
  struct tentry *ents;
  size_t nents;
  struct node *next;
};

static const char *store_root;
static char objects_dir[TRUST_PATH_CAP];
static int fuse_fd = -1;
static int want_passthrough = 1, passthrough;
static uid_t me;
static gid_t my_gid;
static char cache_dir[VC_CAP];
static int use_cache;
static struct timespec started;
static volatile sig_atomic_t stop_requested;
static const char *mount_dir;

#define THREADS 4
/* The node table, the nodes and `passthrough`: held while a request is handled, except around a
   fetch or a hash (open_object), and not at all for READ and RELEASE (they use the fd alone). */
static pthread_mutex_t big = PTHREAD_MUTEX_INITIALIZER;
/* fetch.h's fetch_ask keeps its answer in static storage: one fetch at a time */
static pthread_mutex_t fetch_lock = PTHREAD_MUTEX_INITIALIZER;

#define NBUCKETS 4096
static struct node *buckets[NBUCKETS];

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("cald-mount: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static struct node *find_node(uint64_t ino) {
  for (struct node *n = buckets[ino % NBUCKETS]; n; n = n->next)
    if (n->ino == ino) return n;
  return NULL;
}

static void free_node(struct node *n) {
  struct node **p = &buckets[n->ino % NBUCKETS];
  while (*p != n) p = &(*p)->next;
  *p = n->next;
  free(n->bytes);
  free(n->ents);
  free(n);
}

static int hexval(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
static int is_hex64(const char *s, size_t n) {
  if (n != 64) return 0;
  for (size_t i = 0; i < 64; i++)
    if (hexval((unsigned char)s[i]) < 0) return 0;
  return 1;
}
static void unhex(const char *hex, uint8_t out[32]) {
  for (int i = 0; i < 32; i++) out[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
}

/*
 * Inode numbers (docs/mount.md, "Inode numbers"): the top two bits say what the rest is.
 * 01: a file, the first 61 bits of its object's digest and the executable bit, so the same bytes
 * have the same number wherever they appear (glibc then sees one library); 10: a directory and
 * 11: a symbolic link, from sha256(parent's inode, name), so each has one path and every mount,
 * on any machine, gives the same numbers. 1-5 are the fixed directories.
 */
static uint64_t first64(const uint8_t d[32]) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | d[i];
  return v;
}
static uint64_t file_ino(const uint8_t digest[32], int exec) {
  return (1ULL << 62) | ((first64(digest) >> 3) << 1) | (uint64_t)(exec != 0);
}
static void path_key(uint64_t parent, const char *name, size_t nlen, uint8_t out[32]) {
  uint8_t p[8];
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(parent >> (56 - 8 * i));
  sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, p, 8);
  sha256_update(&c, name, nlen);
  sha256_final(&c, out);
}
static uint64_t keyed_ino(enum kind k, const uint8_t key[32]) {
  return (k == K_DIR ? 2ULL << 62 : 3ULL << 62) | (first64(key) >> 2);
}

/* ---- verified objects ---- */

static int same_file(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Does the open file fd (stat st) hash to hex? Through the cache when it can. */
static int verify_fd(int fd, const struct stat *st, const char *hex) {
  char sig[256];
  vc_signature(sig, hex, st);
  if (use_cache && vc_hit(cache_dir, sig, me)) return 1;
  uint8_t *buf = malloc(1 << 20);
  if (buf == NULL) return 0;
  sha256_ctx c;
  sha256_init(&c);
  off_t off = 0;
  for (;;) {
    ssize_t k = pread(fd, buf, 1 << 20, off);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return free(buf), 0;
    if (k == 0) break;
    sha256_update(&c, buf, (size_t)k);
    off += k;
  }
  free(buf);
  uint8_t d[32];
  char got[65];
  sha256_final(&c, d);
  sha256_hex(d, got);
  if (!c_eq(got, hex)) {
    logf_("objects/sha256/%s does not hash to its name (it hashes to %s): not served", hex, got);
    return 0;
  }
  struct stat now;
  if (use_cache && fstat(fd, &now) == 0 && same_file(st, &now) && vc_may_enter(&now)) vc_put(cache_dir, sig);
  return 1;
}

/*
 * Does the fetch daemon's reason say only that no remote has the object (src/api/fetch-object.ts:
 * "no substituters are configured ...", or "cannot fetch X: A: not there; B: not there")? Then
 * it is absent (ENOENT); anything else, such as a remote that sent other bytes, is EIO.
 */
static int nowhere(const char *why) {
  if (strstr(why, "no substituters are configured") == why) return 1;
  const char *p = strstr(why, ": ");
  if (strncmp(why, "cannot fetch ", 13) != 0 || p == NULL) return 0;
  for (p += 2; *p;) {
    const char *end = strstr(p, "; ");
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n < 11 || memcmp(p + n - 11, ": not there", 11) != 0) return 0;
    p += n + (end ? 2 : 0);
  }
  return 1;
}

/*
 * Opens the object hex, fetching it through the fetch daemon if it is absent, and checks it:
 * a regular file whose bytes hash to hex. The fd (O_RDONLY), or -errno: ENOENT when no one has
 * it, EIO when what is there (or what a remote sent) is not it.
 */
static int open_object_unlocked(const char *hex, struct stat *st, const struct stat *known);

/* open_object_unlocked with the big lock released meanwhile (called with it held). */
static int open_object(const char *hex_in, struct stat *st, const struct stat *known_in) {
  char hex[65];
  struct stat known;
  memcpy(hex, hex_in, 65); /* they may live in a node: copy them before letting go */
  if (known_in != NULL) known = *known_in;
  pthread_mutex_unlock(&big);
  int fd = open_object_unlocked(hex, st, known_in != NULL ? &known : NULL);
  pthread_mutex_lock(&big);
  return fd;
}

static int open_object_unlocked(const char *hex, struct stat *st, const struct stat *known) {
  char path[TRUST_PATH_CAP + 80];
  snprintf(path, sizeof path, "%s/%s", objects_dir, hex);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    char sock[108], why[512];
    const char *said = "";
    pthread_mutex_lock(&fetch_lock);
    enum fetch_result r = fetch_ask(store_root, hex, (unsigned long long)me, sock, &said);
    snprintf(why, sizeof why, "%s", said);
    pthread_mutex_unlock(&fetch_lock);
    if (r == FETCH_NO_DAEMON) return -ENOENT;
    if (r == FETCH_FAILED) {
      logf_("sha256:%s is absent and the fetch daemon did not bring it: %s", hex, why);
      return nowhere(why) ? -ENOENT : -EIO;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  }
  if (fd < 0) return errno == ENOENT ? -ENOENT : -EIO;
  if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    close(fd);
    return -EIO;
  }
  if (known != NULL && same_file(known, st)) return fd; /* verified before, unchanged since */
  if (!verify_fd(fd, st, hex)) {
    close(fd);
    return -EIO;
  }
  return fd;
}

/* ---- trees ---- */

static int parse_size(const char *s, size_t n, uint64_t *out) {
  if (n == 0 || n > 19 || (n > 1 && s[0] == '0')) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 1;
}

static int name_cmp(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  return c != 0 ? c : an < bn ? -1 : an > bn ? 1 : 0;
}

/*
 * Parses a tree object (docs/trees.md) into entries; its bytes are rewritten in place (the
 * spaces after sizes become NULs). 0 when it is not exactly a tree in its one spelling order.
 */
static int parse_tree(char *b, size_t len, struct tentry **out, size_t *count) {
  static const char magic[] = "cald-tree 1\n";
  if (len < sizeof magic - 1 || memcmp(b, magic, sizeof magic - 1) != 0) return 0;
  size_t cap = 16, n = 0, i = sizeof magic - 1;
  struct tentry *e = malloc(cap * sizeof *e);
  if (e == NULL) return 0;
  while (i < len) {
    char *kend = memchr(b + i, ' ', len - i);
    char *vend = kend ? memchr(kend, '\0', len - (size_t)(kend - b)) : NULL;
    char *nend = vend ? memchr(vend + 1, '\0', len - (size_t)(vend + 1 - b)) : NULL;
    if (nend == NULL) goto bad;
    size_t klen = (size_t)(kend - (b + i)), vlen = (size_t)(vend - kend - 1), nlen = (size_t)(nend - vend - 1);
    struct tentry t = {0, kend + 1, vend + 1, nlen, 0};
    const char *k = b + i;
    if (klen == 4 && memcmp(k, "file", 4) == 0) t.kind = 'f';
    else if (klen == 4 && memcmp(k, "exec", 4) == 0) t.kind = 'x';
    else if (klen == 4 && memcmp(k, "tree", 4) == 0) t.kind = 't';
    else if (klen == 4 && memcmp(k, "link", 4) == 0) t.kind = 'l';
    else goto bad;
    if (t.kind == 'l') {
      if (vlen < 1 || vlen > 4095) goto bad;
    } else {
      if (vlen < 71 || memcmp(t.value, "sha256:", 7) != 0 || !is_hex64(t.value + 7, 64)) goto bad;
      if (t.kind == 't' && vlen != 71) goto bad;
      if (t.kind != 't' && (vlen < 73 || t.value[71] != ' ' || !parse_size(t.value + 72, vlen - 72, &t.size))) goto bad;
      ((char *)t.value)[71] = '\0';
      t.value += 7;
    }
    if (nlen < 1 || nlen > 255 || memchr(t.name, '/', nlen) || (nlen == 1 && t.name[0] == '.') ||
        (nlen == 2 && t.name[0] == '.' && t.name[1] == '.'))
      goto bad;
    if (n > 0 && name_cmp(e[n - 1].name, e[n - 1].nlen, t.name, nlen) >= 0) goto bad; /* sorted, once each */
    if (n == cap) {
      struct tentry *m = realloc(e, (cap *= 2) * sizeof *e);
      if (m == NULL) goto bad;
      e = m;
    }
    e[n++] = t;
    i = (size_t)(nend - b) + 1;
  }
  *out = e;
  *count = n;
  return 1;
bad:
  free(e);
  return 0;
}

/* ---- nodes ---- */

static void fill_attr(const struct node *n, struct attr *a) {
  memset(a, 0, sizeof *a);
  a->ino = n->ino;
  a->blksize = 4096;
  a->nlink = 1;
  switch (n->kind) {
  case K_FILE: {
    unsigned perm = n->st.st_mode & 0444; /* the store's read bits: a private object stays private */
    if (n->exec) perm |= perm >> 2;
    a->mode = S_IFREG | perm;
    a->size = (uint64_t)n->st.st_size;
    a->blocks = (uint64_t)n->st.st_blocks;
    a->uid = n->st.st_uid;
    a->gid = n->st.st_gid;
    /* the store file's own times: the resolver's cache keys on them (docs/resolver.md) */
    a->atime = (uint64_t)n->st.st_atim.tv_sec, a->atimensec = (uint32_t)n->st.st_atim.tv_nsec;
    a->mtime = (uint64_t)n->st.st_mtim.tv_sec, a->mtimensec = (uint32_t)n->st.st_mtim.tv_nsec;
    a->ctime = (uint64_t)n->st.st_ctim.tv_sec, a->ctimensec = (uint32_t)n->st.st_ctim.tv_nsec;
    break;
  }
  case K_DIR:
    a->mode = S_IFDIR | 0555;
    a->size = n->nents;
    a->uid = me;
    a->gid = my_gid;
    a->atime = a->mtime = a->ctime = (uint64_t)n->st.st_mtim.tv_sec;
    break;
  case K_LINK:
    a->mode = S_IFLNK | 0777;
    a->size = n->len;
    a->uid = me;
    a->gid = my_gid;
    break;
  case K_FIXED:
    a->mode = S_IFDIR | 0555;
    a->uid = me;
    a->gid = my_gid;
    a->atime = a->mtime = a->ctime = (uint64_t)started.tv_sec;
    break;
  }
}

/*
 * The node with this ino if there is one (*err stays 0), NULL if none; NULL with *err = -EIO if
 * the number is taken by something else (a collision: refused, never served as the other).
 */
static struct node *existing(enum kind k, uint64_t ino, const uint8_t key[32], int *err) {
  struct node *n = find_node(ino);
  *err = 0;
  if (n != NULL && (n->kind != k || memcmp(n->key, key, 32) != 0)) {
    logf_("inode number collision on %llu: refused (EIO)", (unsigned long long)ino);
    *err = -EIO;
    return NULL;
  }
  return n;
}

static struct node *new_node(enum kind k, uint64_t ino, const uint8_t key[32]) {
  struct node *n = calloc(1, sizeof *n);
  if (n == NULL) return NULL;
  n->ino = ino;
  n->kind = k;
  memcpy(n->key, key, 32);
  n->next = buckets[ino % NBUCKETS];
  buckets[ino % NBUCKETS] = n;
  return n;
}

/*
 * The file node for object hex; exec is the tree's word (or -1: the store file's own x bit), size
 * what the tree says (or -1 when it says nothing).
 */
static struct node *file_node(const char *hex, int exec, int64_t size, int *err) {
  uint8_t d[32];
  unhex(hex, d);
  struct node *n = NULL;
  for (int x = exec < 0 ? 1 : exec; n == NULL && *err == 0 && x >= (exec < 0 ? 0 : exec); x--)
    n = existing(K_FILE, file_ino(d, x), d, err);
  if (n != NULL || *err) {
    if (n != NULL && size >= 0 && (int64_t)n->st.st_size != size) *err = -EIO, n = NULL;
    return n;
  }
  struct stat st;
  int fd = open_object(hex, &st, NULL);
  if (fd < 0) return *err = fd, NULL;
  close(fd);
  if (size >= 0 && (int64_t)st.st_size != size) {
    logf_("sha256:%s is %lld bytes, its tree says %lld: not served", hex, (long long)st.st_size, (long long)size);
    return *err = -EIO, NULL;
  }
  if (exec < 0) exec = (st.st_mode & 0100) != 0; /* the store's 0555 / 0500: a program */
  /* another thread may have made it while the lock was released */
  if ((n = existing(K_FILE, file_ino(d, exec), d, err)) != NULL || *err) return n;
  if ((n = new_node(K_FILE, file_ino(d, exec), d)) == NULL) return *err = -ENOMEM, NULL;
  memcpy(n->hex, hex, 65);
  n->exec = exec;
  n->st = st;
  return n;
}

#define TREE_MAX (64u << 20) /* a directory of a million entries is about this big */

/* The directory node for tree object hex; key names its path (see the inode numbers above). */
static struct node *dir_node(const char *hex, const uint8_t key[32], int *err) {
  uint64_t ino = keyed_ino(K_DIR, key);
  struct node *n = existing(K_DIR, ino, key, err);
  if (n != NULL || *err) return n;
  struct stat st;
  int fd = open_object(hex, &st, NULL);
  if (fd < 0) return *err = fd, NULL;
  char *b = NULL;
  struct tentry *ents = NULL;
  size_t count = 0, len = (size_t)st.st_size;
  if (st.st_size > TREE_MAX || (b = malloc(len + 1)) == NULL) goto fail;
  for (size_t got = 0; got < len;) {
    ssize_t k = pread(fd, b + got, len - got, (off_t)got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) goto fail;
    got += (size_t)k;
  }
  close(fd), fd = -1;
  /* verified by open_object, but it may have changed since: hash what was read */
  uint8_t d[32];
  char got[65];
  sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, b, len);
  sha256_final(&c, d);
  sha256_hex(d, got);
  b[len] = '\0';
  if (!c_eq(got, hex)) goto fail;
  if (!parse_tree(b, len, &ents, &count)) {
    /* not a tree: a file object looked up as a directory is simply not there; a tree object
       that breaks the format's rules is an error */
    int looks_like_tree = len >= 12 && memcmp(b, "cald-tree 1\n", 12) == 0;
    if (looks_like_tree) logf_("sha256:%s is not a well-formed tree object: not served", hex);
    free(b);
    return *err = looks_like_tree ? -EIO : -ENOENT, NULL;
  }
  if ((n = existing(K_DIR, ino, key, err)) != NULL || *err) { /* made meanwhile by another thread */
    free(b);
    free(ents);
    return n;
  }
  if ((n = new_node(K_DIR, ino, key)) == NULL) goto fail;
  memcpy(n->hex, hex, 65);
  n->st = st;
  n->bytes = b;
  n->len = len;
  n->ents = ents;
  n->nents = count;
  return n;
fail:
  if (fd >= 0) close(fd);
  free(b);
  free(ents);
  return *err = -EIO, NULL;
}

static struct node *link_node(const char *target, const uint8_t key[32], int *err) {
  uint64_t ino = keyed_ino(K_LINK, key);
  struct node *n = existing(K_LINK, ino, key, err);
  if (n != NULL || *err) return n;
  size_t len = strlen(target);
  char *t = malloc(len + 1);
  if (t == NULL || (n = new_node(K_LINK, ino, key)) == NULL) return free(t), *err = -ENOMEM, NULL;
  memcpy(t, target, len + 1);
  n->bytes = t;
  n->len = len;
  return n;
}

static struct node fixed[6];

static struct node *get_node(uint64_t id) {
  if (id >= ID_ROOT && id <= ID_TREES_SHA256) return &fixed[id];
  return find_node(id);
}

static const struct tentry *tree_find(const struct node *dir, const char *name, size_t nlen) {
  size_t lo = 0, hi = dir->nents;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = name_cmp(dir->ents[mid].name, dir->ents[mid].nlen, name, nlen);
    if (c == 0) return &dir->ents[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

/* The child `name` of parent: a node (its lookup count raised by the caller), or -errno. */
static struct node *lookup(struct node *parent, const char *name, int *err) {
  size_t nlen = strlen(name);
  *err = 0;
  if (parent->ino == ID_ROOT) {
    if (c_eq(name, "objects")) return &fixed[ID_OBJECTS];
    if (c_eq(name, "trees")) return &fixed[ID_TREES];
  } else if (parent->ino == ID_OBJECTS || parent->ino == ID_TREES) {
    if (c_eq(name, "sha256")) return &fixed[parent->ino + 1];
  } else if (parent->ino == ID_OBJECTS_SHA256) {
    if (is_hex64(name, nlen)) {
      return file_node(name, -1, -1, err); /* executable when the store file is (0555, 0500) */
    }
  } else if (parent->ino == ID_TREES_SHA256) {
    if (is_hex64(name, nlen)) {
      uint8_t d[32];
      unhex(name, d);
      return dir_node(name, d, err);
    }
  } else if (parent->kind == K_DIR) {
    const struct tentry *t = tree_find(parent, name, nlen);
    if (t != NULL) {
      uint8_t key[32];
      switch (t->kind) {
      case 'f':
      case 'x':
        return file_node(t->value, t->kind == 'x', (int64_t)t->size, err);
      case 't':
        path_key(parent->ino, name, nlen, key);
        return dir_node(t->value, key, err);
      case 'l':
        path_key(parent->ino, name, nlen, key);
        return link_node(t->value, key, err);
      }
    }
  }
  *err = -ENOENT;
  return NULL;
}

/* ---- requests ---- */

static void reply(uint64_t unique, int error, const void *a, size_t alen, const void *b, size_t blen) {
  struct out_header h = {(uint32_t)(sizeof h + (error ? 0 : alen + blen)), error, unique};
  struct iovec v[3] = {{&h, sizeof h}, {(void *)a, error ? 0 : alen}, {(void *)b, error ? 0 : blen}};
  for (;;) {
    ssize_t w = writev(fuse_fd, v, 3);
    /* ENOENT: the request was interrupted and is gone; nothing to do */
    if (w >= 0 || errno != EINTR) return;
  }
}
static void reply_err(uint64_t unique, int error) { reply(unique, error, NULL, 0, NULL, 0); }

static void reply_entry(uint64_t unique, struct node *n) {
  struct entry_out e;
  memset(&e, 0, sizeof e);
  e.nodeid = n->ino;
  e.entry_valid = e.attr_valid = TTL;
  fill_attr(n, &e.attr);
  if (n->kind != K_FIXED) n->lookups++;
  reply(unique, 0, &e, sizeof e, NULL, 0);
}

static void forget(uint64_t id, uint64_t count) {
  struct node *n = find_node(id);
  if (n == NULL || n->kind == K_FIXED) return;
  n->lookups = n->lookups > count ? n->lookups - count : 0;
  if (n->lookups == 0) free_node(n);
}

static void do_init(uint64_t unique, const struct init_in *in) {
  struct init_out o;
  memset(&o, 0, sizeof o);
  o.major = 7;
  o.minor = 40;
  if (in->major != 7) {
    /* a newer major: answer with ours and wait for the kernel to ask again (the protocol's rule) */
    reply(unique, 0, &o, sizeof o, NULL, 0);
    return;
  }
  uint64_t offered = in->flags | ((in->flags & F_INIT_EXT) ? (uint64_t)in->flags2 << 32 : 0);
  uint64_t want = F_ASYNC_READ | F_PARALLEL_DIROPS | F_MAX_PAGES | F_CACHE_SYMLINKS | F_INIT_EXT;
  if (want_passthrough) want |= F_PASSTHROUGH;
  uint64_t flags = offered & want;
  passthrough = (flags & F_PASSTHROUGH) != 0;
  o.max_readahead = in->max_readahead;
  o.flags = (uint32_t)flags;
  o.flags2 = (uint32_t)(flags >> 32);
  o.max_background = 16;
  o.congestion_threshold = 12;
  o.max_write = 4096;
  o.time_gran = 1;
  o.max_pages = MAX_READ / 4096;
  /* the store may itself be on a stacked file system (overlayfs): allow one level below us */
  if (passthrough) o.max_stack_depth = 2;
  reply(unique, 0, &o, sizeof o, NULL, 0);
}

/* An open file: fh is the fd for READ, or (1 << 32 | backing id) when the kernel reads itself. */
#define FH_BACKING (1ULL << 32)

static void do_open(uint64_t unique, struct node *n, const struct open_in *in) {
  if (n->kind != K_FILE) return reply_err(unique, n->kind == K_LINK ? -ELOOP : -EISDIR);
  if ((in->flags & O_ACCMODE) != O_RDONLY) return reply_err(unique, -EROFS);
  struct stat st;
  int fd = open_object(n->hex, &st, &n->st);
  if (fd < 0) return reply_err(unique, fd == -ENOENT ? -EIO : fd); /* looked up, then gone: EIO */
  n->st = st;
  struct open_out o = {(uint64_t)fd, FOPEN_KEEP_CACHE, 0};
  if (passthrough) {
    struct backing_map m = {fd, 0, 0};
    int id = ioctl(fuse_fd, DEV_IOC_BACKING_OPEN, &m);
    if (id >= 0) {
      close(fd);
      o.fh = FH_BACKING | (uint32_t)id;
      o.open_flags = FOPEN_PASSTHROUGH;
      o.backing_id = id;
    } else {
      logf_("the kernel refused passthrough (%s): reads go through this process from now on", strerror(errno));
      passthrough = 0;
    }
  }
  reply(unique, 0, &o, sizeof o, NULL, 0);
}

static void do_release(uint64_t unique, const struct release_in *in) {
  if (in->fh & FH_BACKING) {
    uint32_t id = (uint32_t)in->fh;
    ioctl(fuse_fd, DEV_IOC_BACKING_CLOSE, &id);
  } else {
    close((int)in->fh);
  }
  reply_err(unique, 0);
}

static void do_read(uint64_t unique, const struct read_in *in) {
  static __thread char data[MAX_READ];
  if (in->fh & FH_BACKING) return reply_err(unique, -EIO);
  size_t size = in->size < MAX_READ ? in->size : MAX_READ;
  size_t got = 0;
  while (got < size) {
    ssize_t k = pread((int)in->fh, data + got, size - got, (off_t)(in->offset + got));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return reply_err(unique, -EIO);
    if (k == 0) break;
    got += (size_t)k;
  }
  reply(unique, 0, data, got, NULL, 0);
}

/* One directory entry into buf at *pos; 0 when it no longer fits. */
static int add_dirent(char *buf, size_t cap, size_t *pos, uint64_t ino, uint64_t off, unsigned type, const char *name,
                      size_t nlen) {
  size_t rec = (sizeof(struct dirent_out) + nlen + 7) & ~(size_t)7;
  if (*pos + rec > cap) return 0;
  struct dirent_out d = {ino, off, (uint32_t)nlen, type};
  memcpy(buf + *pos, &d, sizeof d);
  memcpy(buf + *pos + sizeof d, name, nlen);
  memset(buf + *pos + sizeof d + nlen, 0, rec - sizeof d - nlen);
  *pos += rec;
  return 1;
}

static void do_readdir(uint64_t unique, struct node *n, const struct read_in *in) {
  static __thread char buf[MAX_READ];
  size_t cap = in->size < sizeof buf ? in->size : sizeof buf, pos = 0;
  uint64_t off = in->offset;
  if (off == 0 && !add_dirent(buf, cap, &pos, n->ino, 1, DT_DIR, ".", 1)) goto done;
  if (off <= 1 && !add_dirent(buf, cap, &pos, n->ino, 2, DT_DIR, "..", 2)) goto done;
  if (n->kind == K_FIXED) {
    /* the root lists objects/ and trees/; the sha256/ directories list nothing (lookups by name) */
    static const char *const names[] = {NULL, "objects\0trees\0", "sha256\0", NULL, "sha256\0", NULL};
    const char *p = names[n->ino];
    for (uint64_t i = 0; p != NULL && *p; i++, p += strlen(p) + 1) {
      if (off > i + 2) continue;
      uint64_t child = n->ino == ID_ROOT ? (i == 0 ? ID_OBJECTS : ID_TREES) : n->ino + 1;
      if (!add_dirent(buf, cap, &pos, child, i + 3, DT_DIR, p, strlen(p))) break;
    }
  } else if (n->kind == K_DIR) {
    for (uint64_t i = off > 2 ? off - 2 : 0; i < n->nents; i++) {
      const struct tentry *t = &n->ents[i];
      uint64_t ino;
      unsigned type;
      if (t->kind == 't' || t->kind == 'l') {
        uint8_t key[32];
        path_key(n->ino, t->name, t->nlen, key);
        ino = keyed_ino(t->kind == 't' ? K_DIR : K_LINK, key);
        type = t->kind == 't' ? DT_DIR : DT_LNK;
      } else {
        uint8_t d[32];
        unhex(t->value, d);
        ino = file_ino(d, t->kind == 'x');
        type = DT_REG;
      }
      if (!add_dirent(buf, cap, &pos, ino, i + 3, type, t->name, t->nlen)) break;
    }
  }
done:
  reply(unique, 0, buf, pos, NULL, 0);
}

static void handle_locked(struct in_header *h, void *arg);

static void handle(char *buf, size_t len) {
  struct in_header *h = (struct in_header *)buf;
  if (len < sizeof *h || h->len != len) return;
  void *arg = buf + sizeof *h;
  uint64_t u = h->unique;
  if (h->opcode == OP_FORGET || h->opcode == OP_BATCH_FORGET) {
    pthread_mutex_lock(&big);
    if (h->opcode == OP_FORGET) {
      forget(h->nodeid, *(uint64_t *)arg); /* fuse_forget_in: nlookup */
    } else {
      struct batch_forget_in *b = arg;
      struct forget_one *f = (struct forget_one *)(b + 1);
      for (uint32_t i = 0; i < b->count && (char *)(f + i + 1) <= buf + len; i++) forget(f[i].nodeid, f[i].nlookup);
    }
    pthread_mutex_unlock(&big);
    return;
  }
  if (h->opcode == OP_INTERRUPT) return; /* a fetch or a hash runs to its end (30 s at most) */
  if (h->opcode == OP_INIT) return do_init(u, arg);
  if (h->opcode == OP_DESTROY) return reply_err(u, 0);
  if (h->opcode == OP_STATFS) {
    struct kstatfs s;
    memset(&s, 0, sizeof s);
    s.bsize = s.frsize = 4096;
    s.namelen = 255;
    return reply(u, 0, &s, sizeof s, NULL, 0);
  }
  if (h->opcode == OP_RELEASE) return do_release(u, arg);
  if (h->opcode == OP_READ && !(((struct read_in *)arg)->fh & FH_BACKING) && h->nodeid != 0)
    return do_read(u, arg);
  if (h->opcode == OP_RELEASEDIR) return reply_err(u, 0);
  pthread_mutex_lock(&big);
  handle_locked(h, arg);
  pthread_mutex_unlock(&big);
}

static void handle_locked(struct in_header *h, void *arg) {
  uint64_t u = h->unique;
  struct node *n = get_node(h->nodeid);
  if (n == NULL) return reply_err(u, -ENOENT);
  int err = 0;
  switch (h->opcode) {
  case OP_LOOKUP: {
    if (n->kind != K_FIXED && n->kind != K_DIR) return reply_err(u, -ENOTDIR);
    struct node *c = lookup(n, (const char *)arg, &err);
    return c != NULL ? reply_entry(u, c) : reply_err(u, err);
  }
  case OP_GETATTR: {
    struct attr_out a;
    memset(&a, 0, sizeof a);
    a.attr_valid = TTL;
    fill_attr(n, &a.attr);
    return reply(u, 0, &a, sizeof a, NULL, 0);
  }
  case OP_READLINK:
    if (n->kind != K_LINK) return reply_err(u, -EINVAL);
    return reply(u, 0, n->bytes, n->len, NULL, 0);
  case OP_OPEN:
    return do_open(u, n, arg);
  case OP_OPENDIR: {
    if (n->kind != K_FIXED && n->kind != K_DIR) return reply_err(u, -ENOTDIR);
    struct open_out o = {0, FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR, 0};
    return reply(u, 0, &o, sizeof o, NULL, 0);
  }
  case OP_READDIR:
    return do_readdir(u, n, arg);
  default:
    /* writes never get here (the mount is read-only); xattrs, locks, statx...: not supported */
    return reply_err(u, -ENOSYS);
  }
}

/* ---- mounting ---- */

/*
 * A stop signal detaches the mount from inside the handler (umount2 is a plain system call): the
 * kernel then ends the connection and the blocking read returns ENODEV, so a signal that lands
 * between the loop's check and its read cannot be missed.
 */
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
  umount2(mount_dir, MNT_DETACH);
}

/* One worker: requests until the mount goes away; then the whole process ends (_exit: several
   threads may see it at once, and there is nothing to flush). */
static void *serve(void *unused) {
  (void)unused;
  char *buf = malloc(BUF_SIZE);
  if (buf == NULL) {
    logf_("out of memory");
    _exit(1);
  }
  for (;;) {
    if (stop_requested) {
      umount2(mount_dir, MNT_DETACH);
      _exit(0);
    }
    ssize_t n = read(fuse_fd, buf, BUF_SIZE);
    if (n < 0) {
      if (errno == EINTR || errno == ENOENT || errno == EAGAIN) continue;
      if (errno == ENODEV) _exit(0); /* unmounted */
      logf_("reading /dev/fuse: %s", strerror(errno));
      _exit(1);
    }
    handle(buf, (size_t)n);
  }
}

static int usage(void) {
  fputs("usage: cald-mount [--no-passthrough] [--foreground] STORE DIR | cald-mount --unmount [--lazy] DIR\n", stderr);
  return 2;
}

static int unmount(const char *dir, int lazy) {
  if (umount2(dir, lazy ? MNT_DETACH : 0) == 0) return 0;
  int e = errno;
  if (e == EBUSY) fprintf(stderr, "cald-mount: %s is busy (a process has a file or directory open there); close it, or unmount with --lazy\n", dir);
  else if (e == EINVAL) fprintf(stderr, "cald-mount: %s is not a mount point\n", dir);
  else fprintf(stderr, "cald-mount: cannot unmount %s: %s\n", dir, strerror(e));
  return e == EBUSY ? 3 : 1;
}

int main(int argc, char **argv) {
  int foreground = 0, unmounting = 0, lazy = 0, i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
    if (c_eq(argv[i], "--no-passthrough")) want_passthrough = 0;
    else if (c_eq(argv[i], "--foreground")) foreground = 1;
    else if (c_eq(argv[i], "--unmount")) unmounting = 1;
    else if (c_eq(argv[i], "--lazy")) lazy = 1;
    else return usage();
  }
  if (unmounting) return i + 1 == argc ? unmount(argv[i], lazy) : usage();
  if (i + 2 != argc) return usage();
  store_root = argv[i];
  mount_dir = argv[i + 1];
  if (cat(objects_dir, sizeof objects_dir, store_root, "/objects/sha256", NULL) < 0) return usage();
  /* fd 3, when cald passes one, is the log for after the mount is ready: see it before anything
     here opens a descriptor that could take that number */
  int log_fd = !foreground && fcntl(3, F_GETFD) >= 0 ? 3 : -1;
  if (log_fd >= 0) fcntl(log_fd, F_SETFD, FD_CLOEXEC);
  me = getuid();
  my_gid = getgid();
  clock_gettime(CLOCK_REALTIME, &started);
  sha256_select(0);
  const char *xdg = getenv("XDG_CACHE_HOME");
  char home[VC_CAP];
  const char *h = getenv("HOME");
  if (h == NULL || h[0] != '/') h = passwd_home((unsigned long long)me, home);
  use_cache = vc_open(xdg && xdg[0] == '/' ? xdg : NULL, h, (unsigned long long)me, cache_dir) == NULL;
  for (int k = ID_ROOT; k <= ID_TREES_SHA256; k++) fixed[k].ino = (uint64_t)k, fixed[k].kind = K_FIXED;

  fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fuse_fd < 0) {
    fprintf(stderr, "cald-mount: cannot open /dev/fuse: %s\n", strerror(errno));
    return 1;
  }
  char opts[256];
  snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=%u,group_id=%u,default_permissions,allow_other", fuse_fd,
           (unsigned)me, (unsigned)my_gid);
  if (mount("cald", mount_dir, "fuse.cald", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) != 0) {
    fprintf(stderr, "cald-mount: cannot mount on %s: %s\n", mount_dir, strerror(errno));
    return 1;
  }
  if (chdir("/") != 0) logf_("cannot change to /: %s", strerror(errno)); /* pin no file system */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: the blocking read returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  char *buf = malloc(BUF_SIZE);
  if (buf == NULL) return 1;
  /* FUSE_INIT first, alone; then the mount is ready and the threads share the work */
  for (int ready = 0; !ready;) {
    ssize_t n = read(fuse_fd, buf, BUF_SIZE);
    if (n < 0) {
      if (errno == EINTR || errno == ENOENT || errno == EAGAIN) continue;
      fprintf(stderr, "cald-mount: the kernel ended the mount before it was ready: %s\n", strerror(errno));
      return 1;
    }
    handle(buf, (size_t)n);
    ready = ((struct in_header *)buf)->opcode == OP_INIT;
  }
  free(buf);
  printf("ready %s\n", passthrough ? "passthrough" : "read");
  fflush(stdout);
  if (!foreground) {
    /* cald has what it waited for: from here on, nothing is read from these pipes; the log
       goes to fd 3 when cald gave one (cald mount --log FILE), else nowhere */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) dup2(null, 0), dup2(null, 1), dup2(log_fd >= 0 ? log_fd : null, 2), close(null);
    if (log_fd >= 0) close(log_fd);
    setvbuf(stderr, NULL, _IOLBF, 0);
  }
  for (int i = 1; i < THREADS; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, serve, NULL) != 0) logf_("cannot start a thread: serving with %d", i);
  }
  serve(NULL);
  return 0;
}

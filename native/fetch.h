/*
 * Lazy fetch for the audit resolver (docs/resolver.md, "Lazy fetch"): when an object is absent
 * from the store, ask the store's fetch daemon (`cald fetch-daemon`) to fetch it, over the unix
 * socket <store>/run/fetch.sock. One request line, `fetch sha256:<hex>\n`; one answer line,
 * `ok\n` or `error <why>\n`. The daemon is trusted for nothing but the attempt: the caller opens
 * and hashes the object afterwards exactly as if it had always been there.
 *
 * The socket is used only when it and every directory above it pass the store's owner rules
 * (trust.h): a socket someone else could have bound might make a program wait, so it is not
 * asked. Raw system calls only; include after nolibc.h and trust.h.
 */
#ifndef CALD_FETCH_H
#define CALD_FETCH_H

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#define FETCH_SOCKET "/run/fetch.sock"
#define FETCH_TIMEOUT_S 30 /* one object over a slow link; the loader waits this long at most */

enum fetch_result { FETCH_OK, FETCH_NO_DAEMON, FETCH_FAILED };

static int c_starts_with(const char *s, const char *prefix) {
  while (*prefix && *s == *prefix) s++, prefix++;
  return *prefix == '\0';
}

/*
 * Asks the daemon of the store at root (a real path) for the object hex. FETCH_NO_DAEMON when
 * there is no usable socket (why says why, for CALD_DEBUG), FETCH_FAILED when the daemon could
 * not be reached or said no (why: its reason). sock receives the socket's path.
 */
static enum fetch_result fetch_ask(const char *root, const char *hex, unsigned long long me, char sock[108],
                                   const char **why) {
  static struct trust_problem pb;
  static char reply[512];
  struct sockaddr_un sa;
  struct stat st;
  if (cat(sock, 108, root, FETCH_SOCKET, NULL) < 0) {
    *why = "the socket path would be longer than a unix socket address allows";
    return FETCH_NO_DAEMON;
  }
  long e = sys(SYS_newfstatat, AT_FDCWD, L(sock), L(&st), AT_SYMLINK_NOFOLLOW);
  if (e != 0) {
    *why = "no fetch daemon (no socket)";
    return FETCH_NO_DAEMON;
  }
  if (!S_ISSOCK(st.st_mode) || !owner_trusted(st.st_uid, me) || (st.st_mode & 022) != 0 ||
      path_trusted(root, "run", me, &pb) != 0) {
    *why = "the fetch socket or a directory above it fails the store's owner rules";
    return FETCH_NO_DAEMON;
  }
  long fd = sys(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, 0);
  if (fd < 0) {
    *why = "cannot make a unix socket";
    return FETCH_FAILED;
  }
  struct timeval tv = {FETCH_TIMEOUT_S, 0};
  sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, L(&tv), sizeof tv);
  sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, L(&tv), sizeof tv);
  sa.sun_family = AF_UNIX;
  cat(sa.sun_path, sizeof sa.sun_path, sock, NULL);
  char req[96];
  int n = cat(req, sizeof req, "fetch sha256:", hex, "\n", NULL);
  enum fetch_result r = FETCH_FAILED;
  long got = 0;
  if (sys(SYS_connect, fd, L(&sa), sizeof sa, 0) != 0) {
    *why = "the fetch daemon does not answer on its socket (stopped?)";
  } else if (sys5(SYS_sendto, fd, L(req), n, MSG_NOSIGNAL, 0) != n) { /* no SIGPIPE if it hung up */
    *why = "cannot send the request to the fetch daemon";
  } else {
    struct timespec t0 = {0, 0}, now = {0, 0};
    int line = 0; /* a whole line (ended by '\n') arrived */
    sys(SYS_clock_gettime, CLOCK_MONOTONIC, L(&t0), 0, 0);
    while (!line && got < (long)sizeof reply - 1) {
      /* FETCH_TIMEOUT_S in all: a daemon that trickles a byte at a time gets no longer */
      sys(SYS_clock_gettime, CLOCK_MONOTONIC, L(&now), 0, 0);
      if (now.tv_sec - t0.tv_sec >= FETCH_TIMEOUT_S) break;
      long k = sys(SYS_read, fd, L(reply + got), (long)(sizeof reply - 1 - got), 0);
      if (k == -EINTR) continue;
      if (k <= 0) break;
      for (long i = got; i < got + k && !line; i++)
        if (reply[i] == '\n') line = 1, got = i;
      if (!line) got += k;
    }
    reply[got] = '\0';
    for (long i = 0; i < got; i++) /* printable: it goes to stderr */
      if (reply[i] < ' ' || reply[i] > '~') reply[i] = '?';
    if (!line) *why = "the fetch daemon gave no whole answer (timed out, closed or too long)";
    else if (c_eq(reply, "ok")) r = FETCH_OK;
    else if (c_starts_with(reply, "error ")) *why = reply + 6;
    else *why = "the fetch daemon's answer is not ok or error";
  }
  sys(SYS_close, fd, 0, 0, 0);
  return r;
}

#endif

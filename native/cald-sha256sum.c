/*
 * cald-sha256sum: the resolver's own sha256, as a command, so tests can check it
 * against coreutils and benchmarks can measure it.
 *
 *   cald-sha256sum [--portable] [--bench] FILE...
 *
 * Prints "<hex>  <file>" per file like sha256sum. --portable forces the C block
 * function instead of SHA-NI; --bench adds one line per file on stderr with the
 * implementation and MB/s (10^6 bytes per second, wall clock).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"

/* Hashes everything readable from fd with 256 KiB reads. Returns 0, or -1 with errno set. */
static int sha256_fd(int fd, uint8_t out[32]) {
  static uint8_t chunk[1 << 18];
  sha256_ctx c;
  sha256_init(&c);
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    sha256_update(&c, chunk, (size_t)r);
  }
  sha256_final(&c, out);
  return 0;
}

int main(int argc, char **argv) {
  int portable = 0, bench = 0, status = 0;
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
    if (strcmp(argv[i], "--portable") == 0) portable = 1;
    else if (strcmp(argv[i], "--bench") == 0) bench = 1;
    else if (strcmp(argv[i], "--") == 0) { i++; break; }
    else {
      fprintf(stderr, "cald-sha256sum: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  const char *impl = sha256_select(portable);
  for (; i < argc; i++) {
    int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
    uint8_t d[32];
    char hex[65];
    struct timespec t0, t1;
    struct stat st;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (fd < 0 || fstat(fd, &st) != 0 || sha256_fd(fd, d) != 0) {
      perror(argv[i]);
      status = 1;
      if (fd >= 0) close(fd);
      continue;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(fd);
    sha256_hex(d, hex);
    printf("%s  %s\n", hex, argv[i]);
    if (bench) {
      double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
      fprintf(stderr, "%s %s: %lld bytes in %.3f s = %.0f MB/s\n", impl, argv[i], (long long)st.st_size, s,
              s > 0 ? (double)st.st_size / s / 1e6 : 0.0);
    }
  }
  return status;
}

/*
 * cald-drop-cache: drops the page cache of files cald has just written and synced.
 *
 *   cald-drop-cache FILE...
 *
 * A file written whole with large write()s sits in the page cache in large folios (up to 2 MiB
 * on ext4 with large folios), and a program that maps it gets each folio mapped whole on its
 * first fault: more resident memory than the same library read in from disk, page by page. After
 * POSIX_FADV_DONTNEED the next mapping reads the file back like any other library.
 *
 * Only clean pages are dropped: call it after the data is synced. Best effort: each file that
 * cannot be opened or advised is named on stderr and the exit status is 1; the others are done.
 * Node.js has no posix_fadvise, hence this program (one process for a whole import).
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int status = 0;
  for (int i = 1; i < argc; i++) {
    int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fprintf(stderr, "cald-drop-cache: %s: %s\n", argv[i], strerror(errno));
      status = 1;
      continue;
    }
    int err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (err != 0) {
      fprintf(stderr, "cald-drop-cache: %s: %s\n", argv[i], strerror(err));
      status = 1;
    }
    close(fd);
  }
  return status;
}

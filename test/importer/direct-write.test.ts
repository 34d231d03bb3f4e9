// Objects written with O_DIRECT (src/importer/object-batch.ts, src/util/page-memory.ts): an import
// of a real closure stores the same bytes whichever way they reach the disk. Compared: the direct
// writes themselves (object-batch.test.ts sees with strace that each temp file is opened with
// O_DIRECT), a file system that refuses O_DIRECT when the temp file is opened, and one that
// refuses the first direct write (both simulated by an LD_PRELOAD shim compiled here), and a store
// on tmpfs. Each gives the same digests, sha256sum agrees with every object's name, no object is
// padded, and tmp/ is left empty.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pageAlignedMemory, pagePadded } from '../../src/util/page-memory.js';
import { ENTRY_ARGS } from '../cli/cald.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';

const PROGRAM = '/usr/bin/sqlite3';

/** Fails O_DIRECT the way a file system without it does: at the open (the file made first), or at the first write. */
const SHIM = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static int direct_fd[4096];
static int refuse_open(void) { const char *m = getenv("SHIM_REFUSE"); return m && strcmp(m, "open") == 0; }
static int opened(int fd, int flags) {
  if (fd >= 0 && fd < 4096) direct_fd[fd] = (flags & O_DIRECT) != 0;
  return fd;
}
static int common(int dirfd, const char *path, int flags, mode_t mode) {
  static int (*real)(int, const char *, int, ...);
  if (!real) real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
  if ((flags & O_DIRECT) && refuse_open()) {
    int fd = real(dirfd, path, flags & ~O_DIRECT, mode);
    if (fd >= 0) close(fd);
    errno = EINVAL;
    return -1;
  }
  return opened(real(dirfd, path, flags, mode), flags);
}
int open(const char *p, int f, ...) { va_list a; va_start(a, f); mode_t m = va_arg(a, mode_t); va_end(a); return common(AT_FDCWD, p, f, m); }
int open64(const char *p, int f, ...) { va_list a; va_start(a, f); mode_t m = va_arg(a, mode_t); va_end(a); return common(AT_FDCWD, p, f, m); }
int openat(int d, const char *p, int f, ...) { va_list a; va_start(a, f); mode_t m = va_arg(a, mode_t); va_end(a); return common(d, p, f, m); }
int openat64(int d, const char *p, int f, ...) { va_list a; va_start(a, f); mode_t m = va_arg(a, mode_t); va_end(a); return common(d, p, f, m); }
ssize_t pwrite64(int fd, const void *b, size_t n, off_t o) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real) real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
  if (fd >= 0 && fd < 4096 && direct_fd[fd]) { errno = EINVAL; return -1; }
  return real(fd, b, n, o);
}
ssize_t pwrite(int fd, const void *b, size_t n, off_t o) { return pwrite64(fd, b, n, o); }
`;

interface Imported {
  digests: string[];
  store: string;
}

function importInto(store: string, env: Record<string, string> = {}): Imported {
  const r = run(process.execPath, [...ENTRY_ARGS, 'import', PROGRAM, '--store', store, '--json'], {
    env: { ...process.env, ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  const objects = readdirSync(join(store, 'objects', 'sha256')).sort();
  assert.deepEqual(readdirSync(join(store, 'tmp')), [], 'no temp file left');
  return { digests: objects, store };
}

/** Every object hashes to its name by sha256sum, and holds exactly its bytes (no page padding). */
function checkObjects(imported: Imported): void {
  const dir = join(imported.store, 'objects', 'sha256');
  const r = run(
    'sha256sum',
    imported.digests.map((d) => join(dir, d)),
  );
  assert.equal(r.status, 0, r.stderr);
  for (const line of r.stdout.trim().split('\n')) {
    const [sum, path] = line.split(/\s+/);
    assert.equal(path!.slice(path!.lastIndexOf('/') + 1), sum, `${path} hashes to its name`);
  }
}

function buildShim(dir: string): string | undefined {
  if (!hasTool('cc')) return undefined;
  const src = join(dir, 'shim.c');
  const lib = join(dir, 'shim.so');
  writeFileSync(src, SHIM);
  const r = run('cc', ['-shared', '-fPIC', '-O1', '-o', lib, src, '-ldl']);
  assert.equal(r.status, 0, r.stderr);
  return lib;
}

test('page-aligned memory: whole pages of room, padding only inside the memory lent', () => {
  const ab = pageAlignedMemory(10_000);
  if (ab === undefined) return;
  assert.equal(ab.byteLength % 65536, 0);
  const bytes = Buffer.from(ab, 0, 10_000);
  assert.equal(pagePadded(bytes)?.length, 12_288, 'padded to three pages');
  assert.equal(pagePadded(Buffer.from(ab, 4096, 4096))?.length, 4096, 'a view starting on a page');
  assert.equal(pagePadded(Buffer.from(ab, 100, 50)), undefined, 'a view off a page boundary');
  assert.equal(pagePadded(Buffer.from(ab, ab.byteLength - 4096, 4000))?.length, 4096);
  assert.equal(pagePadded(Buffer.alloc(8192)), undefined, 'ordinary memory');
  assert.equal(pagePadded(Buffer.from(ab, 0, 0)), undefined, 'nothing to write');
});

test('objects written with O_DIRECT, or through the page cache where it is refused, are the same bytes', async (t) => {
  if (!existsSync(PROGRAM)) return t.skip(`needs ${PROGRAM} (Debian package sqlite3)`);
  const dir = makeTmp(t, 'direct-write');
  const direct = importInto(join(dir, 'direct'));
  checkObjects(direct);
  assert.ok(direct.digests.length >= 5, `sqlite3's closure: ${direct.digests.length} objects`);
  for (const d of direct.digests) {
    const size = statSync(join(direct.store, 'objects', 'sha256', d)).size;
    assert.ok(size > 0, `${d} is not empty`);
  }

  const shim = buildShim(dir);
  if (shim === undefined) return t.skip('needs cc for the O_DIRECT-refusing shim');
  for (const refuse of ['open', 'write']) {
    const cached = importInto(join(dir, `refused-at-${refuse}`), { LD_PRELOAD: shim, SHIM_REFUSE: refuse });
    checkObjects(cached);
    assert.deepEqual(cached.digests, direct.digests, `O_DIRECT refused at the ${refuse}: the same objects`);
  }

  if (existsSync('/dev/shm') && statSync('/dev/shm').isDirectory()) {
    const shm = mkdtempSync('/dev/shm/cald-direct-write-');
    t.after(() => rmSync(shm, { recursive: true, force: true }));
    const onTmpfs = importInto(join(shm, 'store'));
    checkObjects(onTmpfs);
    assert.deepEqual(onTmpfs.digests, direct.digests, 'a store on tmpfs: the same objects');
  }
});

test('more than 4 GiB cannot be page-aligned memory, and the next request still is', () => {
  if (pageAlignedMemory(4096) === undefined) return;
  assert.equal(pageAlignedMemory(4 * 1024 ** 3 + 1), undefined, 'past what one Memory holds');
  assert.ok(pageAlignedMemory(4096) !== undefined, 'the next one is aligned again');
});

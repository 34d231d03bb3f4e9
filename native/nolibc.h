/*
 * What cald's native parts share so they can run without a C library: system calls (returning
 * the result or -errno), the two memory functions the compiler may call on its own, and a few
 * string helpers. Define CALD_NOLIBC before including it to make raw system calls (x86-64 and
 * AArch64); otherwise libc's syscall() is used. Header-only: each program includes it once.
 */
#ifndef CALD_NOLIBC_H
#define CALD_NOLIBC_H

#include <errno.h> /* constants only */
#include <stdarg.h>
#include <stddef.h>

#define L(x) ((long)(x))

#if defined(CALD_NOLIBC) && defined(__x86_64__)
static long sys5(long n, long a, long b, long c, long d, long e) {
  register long r10 __asm__("r10") = d, r8 __asm__("r8") = e;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}
#elif defined(CALD_NOLIBC) && defined(__aarch64__)
static long sys5(long n, long a, long b, long c, long d, long e) {
  register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c,
                x3 __asm__("x3") = d, x4 __asm__("x4") = e;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
}
#elif defined(CALD_NOLIBC)
#error "CALD_NOLIBC: no system call stubs for this machine; build without it (libc)"
#else
#include <unistd.h>
static long sys5(long n, long a, long b, long c, long d, long e) {
  long r = syscall(n, a, b, c, d, e);
  return r < 0 ? -errno : r;
}
#endif
static inline long sys(long n, long a, long b, long c, long d) { return sys5(n, a, b, c, d, 0); }

#ifdef CALD_NOLIBC
/* The functions the compiler may call on its own (struct copies, zeroing). */
__attribute__((visibility("hidden"))) void *memcpy(void *d, const void *s, size_t n) {
  volatile unsigned char *dp = d; /* volatile: keep gcc from turning this loop into a memcpy call */
  const unsigned char *sp = s;
  while (n--) *dp++ = *sp++;
  return d;
}
__attribute__((visibility("hidden"))) void *memset(void *d, int c, size_t n) {
  volatile unsigned char *dp = d;
  while (n--) *dp++ = (unsigned char)c;
  return d;
}
#endif

static inline size_t c_len(const char *s) {
  const volatile char *p = s; /* volatile: gcc would turn the loop into a strlen call */
  while (*p) p++;
  return (size_t)(p - s);
}
static inline int c_eq(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}
/* Are the n bytes at a and b the same? Eight at a time (the resolver compares hashes and signatures per library). */
static inline int c_same(const char *a, const char *b, size_t n) {
  size_t i = 0;
  for (unsigned long long x, y; i + 8 <= n; i += 8) {
    __builtin_memcpy(&x, a + i, 8), __builtin_memcpy(&y, b + i, 8);
    if (x != y) return 0;
  }
  for (; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}
/* Concatenates the NULL-terminated list into buf. Returns the length, or -1 if it does not fit. */
static inline int cat(char *buf, size_t cap, ...) {
  va_list ap;
  size_t n = 0;
  int ok = 1;
  va_start(ap, cap);
  for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
    for (; *s; s++)
      if (n + 1 < cap) buf[n++] = *s;
      else ok = 0;
  va_end(ap);
  buf[n] = '\0';
  return ok ? (int)n : -1;
}
/* Decimal, zero-padded to width digits. */
static inline const char *num(char out[24], unsigned long long v, int width) {
  char *p = out + 23;
  *p = '\0';
  do *--p = (char)('0' + v % 10), v /= 10, width--;
  while (v > 0 || width > 0);
  return p;
}

#endif

/*
 * sha256.h: SHA-256 (FIPS 180-4) for cald's native parts, no dependencies.
 *
 * Two block functions share one driver:
 *   - sha256_blocks_ni: the x86 SHA extensions (SHA-NI), 4 rounds per pair of
 *     sha256rnds2 instructions, used when cpuid reports SHA, SSSE3 and SSE4.1;
 *   - sha256_blocks_c: portable C, used everywhere else.
 * Everything is static so each .c file that includes this gets a private copy
 * (the audit library exports only the la_* symbols). It needs no C library: the
 * audit library is built without one, and supplies memcpy/memset itself.
 */
#ifndef CALD_SHA256_H
#define CALD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define CALD_HAVE_SHANI 1
#endif

typedef struct {
  uint32_t h[8];
  uint64_t len;       /* bytes hashed so far */
  uint8_t buf[64];    /* partial block */
  size_t nbuf;
} sha256_ctx;

/* First 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t sha256_ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* Portable compression of n 64-byte blocks. */
static void sha256_blocks_c(uint32_t h[8], const uint8_t *p, size_t n) {
  for (; n > 0; n--, p += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
      w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
             (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
      uint32_t s0 = sha256_ror(w[i - 15], 7) ^ sha256_ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = sha256_ror(w[i - 2], 17) ^ sha256_ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
      uint32_t t1 = hh + (sha256_ror(e, 6) ^ sha256_ror(e, 11) ^ sha256_ror(e, 25)) + ((e & f) ^ (~e & g)) +
                    sha256_k[i] + w[i];
      uint32_t t2 = (sha256_ror(a, 2) ^ sha256_ror(a, 13) ^ sha256_ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
  }
}

#ifdef CALD_HAVE_SHANI
/*
 * SHA-NI compression. The instructions keep the state as two vectors,
 * ABEF and CDGH (lane 3 first); sha256rnds2 does two rounds with the low two
 * lanes of a W+K vector, and sha256msg1/msg2 extend the message schedule four
 * words at a time: W[t..t+3] = msg2(msg1(W[t-16..], W[t-12..]) + W[t-7..t-4], W[t-4..]).
 */
__attribute__((target("sha,sse4.1"))) static void sha256_blocks_ni(uint32_t h[8], const uint8_t *p,
                                                                    size_t n) {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  /* h[0..3] = a,b,c,d and h[4..7] = e,f,g,h  ->  ABEF and CDGH. */
  __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1); /* c d a b */
  __m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B); /* e f g h */
  __m128i s0 = _mm_alignr_epi8(t, s1, 8);                                         /* a b e f */
  s1 = _mm_blend_epi16(s1, t, 0xF0);                                               /* c d g h */

  for (; n > 0; n--, p += 64) {
    __m128i abef = s0, cdgh = s1;
    __m128i m[4];
    for (int i = 0; i < 4; i++) m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
    /* fully unrolled (m[] then lives in registers): about 1.2x faster than the rolled loop at -O2 */
#pragma GCC unroll 16
    for (int r = 0; r < 16; r++) {
      __m128i w;
      if (r < 4) {
        w = m[r];
      } else { /* next four schedule words from the previous sixteen */
        __m128i x = _mm_add_epi32(_mm_sha256msg1_epu32(m[0], m[1]), _mm_alignr_epi8(m[3], m[2], 4));
        w = _mm_sha256msg2_epu32(x, m[3]);
        m[0] = m[1], m[1] = m[2], m[2] = m[3], m[3] = w;
      }
      __m128i wk = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&sha256_k[4 * r]));
      s1 = _mm_sha256rnds2_epu32(s1, s0, wk);                         /* rounds 4r, 4r+1 */
      s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(wk, 0x0E)); /* rounds 4r+2, 4r+3 */
    }
    s0 = _mm_add_epi32(s0, abef);
    s1 = _mm_add_epi32(s1, cdgh);
  }
  /* ABEF, CDGH  ->  a,b,c,d and e,f,g,h */
  t = _mm_shuffle_epi32(s0, 0x1B);  /* f e b a */
  s1 = _mm_shuffle_epi32(s1, 0xB1); /* d c h g */
  _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t, s1, 0xF0));
  _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(s1, t, 8));
}

/* cpuid: leaf 7 EBX bit 29 = SHA; leaf 1 ECX bit 9 = SSSE3, bit 19 = SSE4.1. */
static int sha256_cpu_has_ni(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19))) return 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  return (b >> 29) & 1;
}
#endif

typedef void (*sha256_blocks_fn)(uint32_t h[8], const uint8_t *p, size_t n);

/* The block function in use; sha256_select() picks it once. */
static sha256_blocks_fn sha256_blocks = sha256_blocks_c;

/* Picks SHA-NI when the CPU has it, unless portable is set. Returns its name. */
static const char *sha256_select(int portable) {
#ifdef CALD_HAVE_SHANI
  if (!portable && sha256_cpu_has_ni()) {
    sha256_blocks = sha256_blocks_ni;
    return "sha-ni";
  }
#endif
  (void)portable;
  sha256_blocks = sha256_blocks_c;
  return "portable";
}

static void sha256_init(sha256_ctx *c) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  __builtin_memcpy(c->h, iv, sizeof iv);
  c->len = 0;
  c->nbuf = 0;
}

static void sha256_update(sha256_ctx *c, const void *data, size_t n) {
  const uint8_t *p = data;
  c->len += n;
  if (c->nbuf > 0) { /* top up the partial block first */
    size_t take = 64 - c->nbuf < n ? 64 - c->nbuf : n;
    __builtin_memcpy(c->buf + c->nbuf, p, take);
    c->nbuf += take, p += take, n -= take;
    if (c->nbuf < 64) return;
    sha256_blocks(c->h, c->buf, 1);
    c->nbuf = 0;
  }
  if (n >= 64) { /* whole blocks straight from the caller's buffer */
    sha256_blocks(c->h, p, n / 64);
    p += n & ~(size_t)63, n &= 63;
  }
  __builtin_memcpy(c->buf, p, n);
  c->nbuf = n;
}

/* Pads (0x80, zeros, 64-bit big-endian bit length) and writes 32 bytes. */
static void sha256_final(sha256_ctx *c, uint8_t out[32]) {
  uint64_t bits = c->len * 8;
  uint8_t pad[72] = {0x80};
  size_t padlen = (c->nbuf < 56 ? 56 : 120) - c->nbuf;
  for (int i = 0; i < 8; i++) pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_update(c, pad, padlen + 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(c->h[i] >> 24), out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(c->h[i] >> 8), out[4 * i + 3] = (uint8_t)c->h[i];
  }
}

static void sha256_hex(const uint8_t d[32], char out[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) out[2 * i] = digits[d[i] >> 4], out[2 * i + 1] = digits[d[i] & 15];
  out[64] = '\0';
}

#endif

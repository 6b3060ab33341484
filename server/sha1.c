/* sha1.c - implements SHA-1 as specified in FIPS 180-1: 512-bit blocks,
 * 80 rounds over a 16-word rolling message schedule, big-endian words.
 *
 * Written from the standard; tests/unit/test_sha1.c checks the FIPS vectors. */
#include "sha1.h"

#include <string.h>

/* ============================ Block transform ============================= */

static uint32_t rol32(uint32_t x, unsigned n) {
    return (x << n) | (x >> (32 - n));
}

static uint32_t loadBe32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void storeBe32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Mixes one 64-byte block into the state.  The schedule keeps only 16 words:
 * W[t] = rol1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]) indexes modulo 16. */
static void sha1Block(uint32_t h[5], const unsigned char *blk) {
    uint32_t w[16], a, b, c, d, e, f, k, tmp;
    int t;

    for (t = 0; t < 16; t++) w[t] = loadBe32(blk + 4 * t);
    a = h[0];
    b = h[1];
    c = h[2];
    d = h[3];
    e = h[4];
    for (t = 0; t < 80; t++) {
        if (t >= 16) {
            w[t & 15] = rol32(w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15] ^ w[t & 15], 1);
        }
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999u;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1u;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6u;
        }
        tmp = rol32(a, 5) + f + e + k + w[t & 15];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

/* ============================== Public API =============================== */

void sha1Init(sha1Ctx *ctx) {
    ctx->h[0] = 0x67452301u;
    ctx->h[1] = 0xEFCDAB89u;
    ctx->h[2] = 0x98BADCFEu;
    ctx->h[3] = 0x10325476u;
    ctx->h[4] = 0xC3D2E1F0u;
    ctx->total_bytes = 0;
    ctx->block_len = 0;
}

void sha1Update(sha1Ctx *ctx, const void *data, size_t len) {
    const unsigned char *p = data;

    ctx->total_bytes += len;
    if (ctx->block_len) {
        size_t take = SHA1_BLOCK_BYTES - ctx->block_len;
        if (take > len) take = len;
        memcpy(ctx->block + ctx->block_len, p, take);
        ctx->block_len += take;
        p += take;
        len -= take;
        if (ctx->block_len < SHA1_BLOCK_BYTES) return;
        sha1Block(ctx->h, ctx->block);
        ctx->block_len = 0;
    }
    /* Whole blocks straight from the caller's memory, no copy. */
    while (len >= SHA1_BLOCK_BYTES) {
        sha1Block(ctx->h, p);
        p += SHA1_BLOCK_BYTES;
        len -= SHA1_BLOCK_BYTES;
    }
    if (len) {
        memcpy(ctx->block, p, len);
        ctx->block_len = len;
    }
}

void sha1Final(sha1Ctx *ctx, unsigned char out[SHA1_DIGEST_BYTES]) {
    uint64_t bits = ctx->total_bytes * 8;
    int i;

    /* Padding: 0x80, zeros up to 56 mod 64, then the bit length big-endian. */
    ctx->block[ctx->block_len++] = 0x80;
    if (ctx->block_len > SHA1_BLOCK_BYTES - 8) {
        memset(ctx->block + ctx->block_len, 0, SHA1_BLOCK_BYTES - ctx->block_len);
        sha1Block(ctx->h, ctx->block);
        ctx->block_len = 0;
    }
    memset(ctx->block + ctx->block_len, 0, SHA1_BLOCK_BYTES - 8 - ctx->block_len);
    storeBe32(ctx->block + 56, (uint32_t)(bits >> 32));
    storeBe32(ctx->block + 60, (uint32_t)bits);
    sha1Block(ctx->h, ctx->block);
    for (i = 0; i < 5; i++) storeBe32(out + 4 * i, ctx->h[i]);
    memset(ctx, 0, sizeof(*ctx));
}

void sha1Hex(const void *data, size_t len, char out[41]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[SHA1_DIGEST_BYTES];
    sha1Ctx ctx;
    int i;

    sha1Init(&ctx);
    sha1Update(&ctx, data, len);
    sha1Final(&ctx, digest);
    for (i = 0; i < SHA1_DIGEST_BYTES; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[40] = '\0';
}

/* sha1.h - SHA-1 message digest (FIPS 180-1), streaming and one-shot.
 *
 * Used where Redis uses SHA-1 (script ids, DEBUG DIGEST style checksums); not
 * for anything that needs collision resistance.  Pure code, no allocation:
 * the context lives wherever the caller puts it. */
#ifndef STRATA_SHA1_H
#define STRATA_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_BYTES 20
#define SHA1_BLOCK_BYTES 64

typedef struct sha1Ctx {
    uint32_t h[5];                          /* chaining state */
    uint64_t total_bytes;                   /* message length so far */
    unsigned char block[SHA1_BLOCK_BYTES];  /* partial input block */
    size_t block_len;                       /* bytes used in block */
} sha1Ctx;

void sha1Init(sha1Ctx *ctx);
void sha1Update(sha1Ctx *ctx, const void *data, size_t len);
/* Writes the digest and wipes ctx; call sha1Init() before reusing it. */
void sha1Final(sha1Ctx *ctx, unsigned char out[SHA1_DIGEST_BYTES]);
/* One-shot digest of data as 40 lowercase hex digits plus NUL. */
void sha1Hex(const void *data, size_t len, char out[41]);

#endif

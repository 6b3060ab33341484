/* hll.h - HyperLogLog sketches in Redis 7.0's "HYLL" string format: element
 * hashing, the sparse and dense register encodings, adding, merging and the
 * cardinality estimate.
 *
 * The value of a HyperLogLog key is a plain string that Redis clients can GET,
 * DUMP or SET back, so the bytes must be exactly those redis-server produces
 * for the same commands:
 *
 *   offset 0   "HYLL"                magic
 *   offset 4   encoding              HLL_ENC_DENSE (0) or HLL_ENC_SPARSE (1)
 *   offset 5   3 unused bytes        zero
 *   offset 8   cached cardinality    64 bits little endian; bit 7 of byte 15
 *                                    set = the cache is stale (only that bit
 *                                    is set on invalidation: the other bytes
 *                                    keep the old count)
 *   offset 16  registers             16384 registers of 6 bits, packed least
 *                                    significant bits first (dense), or a
 *                                    run-length opcode stream (sparse):
 *                                      00xxxxxx           ZERO:  x+1 zero registers (1..64)
 *                                      01xxxxxx yyyyyyyy  XZERO: xy+1 zero registers (1..16384)
 *                                      1vvvvvxx           VAL:   x+1 registers of value v+1
 *                                                                (value 1..32, run 1..4)
 *
 * A key starts sparse and turns dense for good when a register needs a value
 * above 32 or the sparse string would grow past hll-sparse-max-bytes.  How the
 * sparse stream is rewritten on an update (which opcodes replace which, the
 * merging of equal neighbours) decides the bytes, so hllSet() follows Redis's
 * rewriting rules step by step.
 *
 * Pure code: no I/O, no server state; the only heap memory is an hllBuf's.
 */
#ifndef STRATA_HLL_H
#define STRATA_HLL_H

#include <stddef.h>
#include <stdint.h>

#define HLL_P 14                               /* index bits of the hash */
#define HLL_Q (64 - HLL_P)                     /* bits left for the run of zeros: 50 */
#define HLL_REGISTERS (1 << HLL_P)             /* 16384 */
#define HLL_REGISTER_BITS 6
#define HLL_REGISTER_MAX 63
#define HLL_HDR_BYTES 16
#define HLL_DENSE_BYTES (HLL_HDR_BYTES + (HLL_REGISTERS * HLL_REGISTER_BITS + 7) / 8) /* 12304 */
#define HLL_ENC_DENSE 0
#define HLL_ENC_SPARSE 1
#define HLL_SPARSE_VAL_MAX 32                  /* largest register value a VAL opcode holds */
#define HLL_SPARSE_MAX_BYTES_DEFAULT 3000      /* hll-sparse-max-bytes */
#define HLL_HASH_SEED 0xadc83b19ULL            /* MurmurHash64A seed Redis uses */

/* A HyperLogLog value a command is changing: `p` holds `len` bytes of the
 * format above, `cap` allocated.  Owned by whoever initialised it
 * (hllNewEmpty / hllFromBytes); released with hllBufFree(). */
typedef struct hllBuf {
    unsigned char *p;
    size_t len;
    size_t cap;
} hllBuf;

/* One opcode of a sparse stream, as hllSparseNext() decodes it. */
#define HLL_OP_ZERO 0
#define HLL_OP_XZERO 1
#define HLL_OP_VAL 2
typedef struct hllSparseOp {
    int kind;     /* HLL_OP_* */
    int value;    /* register value: 0 for ZERO/XZERO, 1..32 for VAL */
    int runlen;   /* registers covered */
} hllSparseOp;

/* ---- Hashing ------------------------------------------------------------ */

/* MurmurHash64A (Austin Appleby), 8-byte blocks read little endian, as Redis
 * hashes HLL elements on every platform. */
uint64_t hllMurmurHash64A(const void *key, size_t len, uint64_t seed);

/* The register an element lands in (*index, 0..16383) and the value it
 * offers: one plus the number of trailing zero bits of the rest of its hash
 * (1..51). */
int hllHashElement(const void *ele, size_t len, uint32_t *index);

/* ---- Reading a value ---------------------------------------------------- */

/* Whether s[0..len) is acceptable as an HLL, by Redis's checks: magic, a
 * known encoding, exactly HLL_DENSE_BYTES when dense.  A sparse stream is
 * only checked when it is used (corruption is reported then). */
int hllIsValid(const void *s, size_t len);
/* HLL_ENC_* of a valid value. */
int hllEncoding(const void *s);
/* The cached cardinality of a valid value: 1 with *card set when the cache is
 * current, 0 when it is stale. */
int hllCachedCount(const void *s, uint64_t *card);
/* Stores card in the header of a valid value and marks the cache current. */
void hllCacheSet(void *s, uint64_t card);
/* Marks the cache stale (sets only the flag bit, as Redis does). */
void hllCacheInvalidate(void *s);

/* Register i of a dense register array (HLL_DENSE_BYTES - HLL_HDR_BYTES bytes). */
int hllDenseGet(const unsigned char *regs, uint32_t i);

/* Decodes the opcode at *p (advancing *p past it).  Returns 1, 0 at end, or
 * -1 when the stream is truncated in the middle of an XZERO. */
int hllSparseNext(const unsigned char **p, const unsigned char *end, hllSparseOp *op);

/* The cardinality estimate of a valid value, recomputed from its registers
 * (the cache is ignored).  Returns 0, or -1 when a sparse stream is corrupt. */
int hllCount(const void *s, size_t len, uint64_t *card);

/* The estimate for a plain array of register values (PFCOUNT of several
 * keys): Otmar Ertl's improved estimator, "New cardinality estimation
 * algorithms for HyperLogLog sketches" (arXiv:1702.01284), with the same
 * floating point steps as Redis so the answers are equal. */
uint64_t hllCountRegisters(const uint8_t regs[HLL_REGISTERS]);

/* max[i] = MAX(max[i], register i of the valid value s).  Returns 0, or -1
 * when a sparse stream is corrupt (max is then partly updated). */
int hllMergeMax(uint8_t max[HLL_REGISTERS], const void *s, size_t len);

/* ---- Changing a value --------------------------------------------------- */

/* The value PFADD creates for a missing key: sparse, one XZERO covering every
 * register, cache current at 0 (18 bytes). */
void hllNewEmpty(hllBuf *h);
/* A private copy of the valid value s[0..len) to change. */
void hllFromBytes(hllBuf *h, const void *s, size_t len);
void hllBufFree(hllBuf *h);

/* Raises register index to count (1..63) if it is lower.  A sparse value is
 * rewritten in place, or turned dense when count exceeds 32 or the rewrite
 * would take it past sparse_max_bytes.  Returns 1 when the register changed
 * (the cache is then marked stale), 0 when it already held count or more,
 * -1 when the sparse stream is corrupt (h may then be partly changed). */
int hllSet(hllBuf *h, uint32_t index, int count, size_t sparse_max_bytes);

/* PFADD of one element: hllSet() with the element's register and value. */
int hllAdd(hllBuf *h, const void *ele, size_t len, size_t sparse_max_bytes);

/* Converts a sparse value to dense (the header, cache included, is kept).
 * Returns 1 when converted, 0 when already dense, -1 when corrupt (h is then
 * unchanged). */
int hllToDense(hllBuf *h);

/* PFMERGE's write of the merged registers into the destination: sets every
 * non-zero max[i] in register order (turning h dense first when to_dense),
 * then marks the cache stale whatever changed.  Returns 0 or -1 (corrupt). */
int hllApplyMax(hllBuf *h, const uint8_t max[HLL_REGISTERS], int to_dense,
                size_t sparse_max_bytes);

/* ---- Self test ---------------------------------------------------------- */

/* PFSELFTEST: dense register packing, sparse and dense agreement over the
 * same adds, and the estimate's error up to 100,000 elements (a few ms).
 * Returns 0, or -1 with a message in err[0..errlen). */
int hllSelfTest(char *err, size_t errlen);

#endif

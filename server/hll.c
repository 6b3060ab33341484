/* hll.c - HyperLogLog in Redis 7.0's "HYLL" string format: MurmurHash64A
 * element hashing, dense and sparse registers, the sparse rewriting rules,
 * merging, and Ertl's cardinality estimator (see hll.h for the format).
 *
 * Byte compatibility is the point of this file: a value must read back from
 * GET exactly as redis-server 7.0 would have left it after the same commands.
 * Three things decide those bytes and are reproduced on purpose:
 *   1. which opcodes replace the one holding a register that changes
 *      (sparseSplitRun), and that a one-register ZERO or VAL is rewritten in
 *      place instead;
 *   2. the merging of equal neighbouring VAL opcodes, which looks at no more
 *      than five opcodes from the one before the change (sparseMergeVals);
 *   3. when the value turns dense: a register above 32, or a rewrite that
 *      would grow the string past hll-sparse-max-bytes (header included).
 * The estimate uses the same floating point operations in the same order as
 * Redis, so PFCOUNT answers are equal, not just close.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hll.h"

#define HDR_ENCODING 4         /* offset of the encoding byte */
#define HDR_CARD 8             /* offset of the cached cardinality */
#define CACHE_STALE_BIT 0x80   /* in the last byte of the cached cardinality */
#define REGISTER_BYTES (HLL_DENSE_BYTES - HLL_HDR_BYTES)
#define SPARSE_ZERO_MAX_RUN 64
#define SPARSE_VAL_MAX_RUN 4
#define SPARSE_MAX_GROWTH_BYTES 3 /* one opcode becomes at most 5 bytes (XZERO, 2) */
#define SPARSE_MERGE_SCAN_OPS 5   /* opcodes sparseMergeVals() looks at */
#define HLL_ALPHA_INF 0.721347520444481703680 /* 1 / (2 ln 2) */

/* ========================== Helpers ======================================= */

static uint64_t load64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void store64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Grows h to hold need bytes.  Aborts on OOM, as stObjNew() does: a command
 * has no sane way to continue without memory. */
static void bufReserve(hllBuf *h, size_t need)
{
    if (h->cap >= need) return;
    size_t cap = h->cap ? h->cap : 64;
    while (cap < need) cap *= 2;
    unsigned char *p = realloc(h->p, cap);
    if (!p) abort();
    h->p = p;
    h->cap = cap;
}

static unsigned char valOpcode(int value, uint64_t runlen)
{
    return (unsigned char)(0x80 | ((value - 1) << 2) | (int)(runlen - 1));
}

static int isXzeroOpcode(unsigned char b)
{
    return (b & 0xc0) == 0x40;
}

static int isZeroOpcode(unsigned char b)
{
    return (b & 0xc0) == 0;
}

static int valOpcodeValue(unsigned char b)
{
    return ((b >> 2) & 31) + 1;
}

static int valOpcodeRun(unsigned char b)
{
    return (b & 3) + 1;
}

/* ========================== Header ======================================== */

int hllIsValid(const void *s, size_t len)
{
    const unsigned char *p = s;
    if (len < HLL_HDR_BYTES || memcmp(p, "HYLL", 4) != 0) return 0;
    if (p[HDR_ENCODING] == HLL_ENC_DENSE) return len == HLL_DENSE_BYTES;
    return p[HDR_ENCODING] == HLL_ENC_SPARSE;
}

int hllEncoding(const void *s)
{
    return ((const unsigned char *)s)[HDR_ENCODING];
}

int hllCachedCount(const void *s, uint64_t *card)
{
    const unsigned char *p = s;
    if (p[HDR_CARD + 7] & CACHE_STALE_BIT) return 0;
    *card = load64le(p + HDR_CARD);
    return 1;
}

void hllCacheSet(void *s, uint64_t card)
{
    /* Estimates stay far below 2^63, so the stale bit ends up clear. */
    store64le((unsigned char *)s + HDR_CARD, card);
}

void hllCacheInvalidate(void *s)
{
    ((unsigned char *)s)[HDR_CARD + 7] |= CACHE_STALE_BIT;
}

/* ========================== Hashing ======================================= */

uint64_t hllMurmurHash64A(const void *key, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    const unsigned char *data = key;
    uint64_t h = seed ^ (len * m);

    for (size_t n = len / 8; n > 0; n--, data += 8) {
        uint64_t k = load64le(data);
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    switch (len & 7) {
    case 7: h ^= (uint64_t)data[6] << 48; /* fall through */
    case 6: h ^= (uint64_t)data[5] << 40; /* fall through */
    case 5: h ^= (uint64_t)data[4] << 32; /* fall through */
    case 4: h ^= (uint64_t)data[3] << 24; /* fall through */
    case 3: h ^= (uint64_t)data[2] << 16; /* fall through */
    case 2: h ^= (uint64_t)data[1] << 8;  /* fall through */
    case 1:
        h ^= (uint64_t)data[0];
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

int hllHashElement(const void *ele, size_t len, uint32_t *index)
{
    uint64_t hash = hllMurmurHash64A(ele, len, HLL_HASH_SEED);
    *index = (uint32_t)(hash & (HLL_REGISTERS - 1));
    /* A sentinel bit bounds the run at HLL_Q zeros, so the value is at most
     * HLL_Q + 1 = 51 and always fits a register. */
    hash = (hash >> HLL_P) | (1ULL << HLL_Q);
    return __builtin_ctzll(hash) + 1;
}

/* ========================== Dense registers =============================== */

/* Register i takes bits 6i..6i+5 of the array, least significant bit first;
 * four registers fill exactly three bytes, which the loops below exploit. */
int hllDenseGet(const unsigned char *regs, uint32_t i)
{
    uint32_t bit = i * HLL_REGISTER_BITS, byte = bit / 8, shift = bit & 7;
    unsigned v = regs[byte] >> shift;
    /* With shift <= 2 the register ends inside this byte; the next byte may
     * be past the array for the last register. */
    if (shift > 2) v |= (unsigned)regs[byte + 1] << (8 - shift);
    return (int)(v & HLL_REGISTER_MAX);
}

static void denseStore(unsigned char *regs, uint32_t i, int val)
{
    uint32_t bit = i * HLL_REGISTER_BITS, byte = bit / 8, shift = bit & 7;
    regs[byte] = (unsigned char)((regs[byte] & ~(HLL_REGISTER_MAX << shift)) | (val << shift));
    if (shift > 2) {
        unsigned rest = 8 - shift;
        regs[byte + 1] = (unsigned char)((regs[byte + 1] & ~(HLL_REGISTER_MAX >> rest)) |
                                         (val >> rest));
    }
}

/* Returns 1 when register i was below val and now holds it. */
static int denseRaise(unsigned char *regs, uint32_t i, int val)
{
    if (hllDenseGet(regs, i) >= val) return 0;
    denseStore(regs, i, val);
    return 1;
}

/* Decodes four registers (three bytes) at a time into out[HLL_REGISTERS]. */
static void denseUnpack(const unsigned char *regs, uint8_t *out)
{
    for (int i = 0; i < HLL_REGISTERS; i += 4, regs += 3) {
        out[i] = regs[0] & 63;
        out[i + 1] = (uint8_t)((regs[0] >> 6) | ((regs[1] & 15) << 2));
        out[i + 2] = (uint8_t)((regs[1] >> 4) | ((regs[2] & 3) << 4));
        out[i + 3] = regs[2] >> 2;
    }
}

/* ========================== Sparse opcodes ================================ */

int hllSparseNext(const unsigned char **pp, const unsigned char *end, hllSparseOp *op)
{
    const unsigned char *p = *pp;
    if (p >= end) return 0;
    unsigned char b = p[0];
    if (b & 0x80) {
        op->kind = HLL_OP_VAL;
        op->value = valOpcodeValue(b);
        op->runlen = valOpcodeRun(b);
        *pp = p + 1;
    } else if (isXzeroOpcode(b)) {
        if (p + 1 >= end) return -1;
        op->kind = HLL_OP_XZERO;
        op->value = 0;
        op->runlen = (((b & 63) << 8) | p[1]) + 1;
        *pp = p + 2;
    } else {
        op->kind = HLL_OP_ZERO;
        op->value = 0;
        op->runlen = (b & 63) + 1;
        *pp = p + 1;
    }
    return 1;
}

/* Calls fn(ud, first, op) for each opcode of a sparse stream; the opcodes
 * must cover exactly HLL_REGISTERS registers.  Returns 0, or -1 when the
 * stream is truncated or covers more or fewer registers. */
static int sparseWalk(const unsigned char *p, const unsigned char *end,
                      void (*fn)(void *ud, uint32_t first, const hllSparseOp *op), void *ud)
{
    hllSparseOp op;
    uint64_t idx = 0;
    int rc;
    while ((rc = hllSparseNext(&p, end, &op)) == 1) {
        if (idx + (uint64_t)op.runlen > HLL_REGISTERS) return -1;
        fn(ud, (uint32_t)idx, &op);
        idx += (uint64_t)op.runlen;
    }
    return rc == 0 && idx == HLL_REGISTERS ? 0 : -1;
}

static void walkHisto(void *ud, uint32_t first, const hllSparseOp *op)
{
    (void)first;
    ((int *)ud)[op->value] += op->runlen;
}

static void walkMax(void *ud, uint32_t first, const hllSparseOp *op)
{
    uint8_t *max = ud;
    if (op->kind != HLL_OP_VAL) return;
    for (uint32_t i = first; i < first + (uint32_t)op->runlen; i++)
        if (max[i] < op->value) max[i] = (uint8_t)op->value;
}

static void walkDense(void *ud, uint32_t first, const hllSparseOp *op)
{
    if (op->kind != HLL_OP_VAL) return;
    for (uint32_t i = first; i < first + (uint32_t)op->runlen; i++) denseStore(ud, i, op->value);
}

/* ========================== Estimation ==================================== */

/* sigma(x) and tau(x) of Ertl's paper, iterated until the sum stops
 * changing, exactly as Redis computes them. */
static double hllSigma(double x)
{
    if (x == 1.) return INFINITY;
    double zPrime, y = 1, z = x;
    do {
        x *= x;
        zPrime = z;
        z += x * y;
        y += y;
    } while (zPrime != z);
    return z;
}

static double hllTau(double x)
{
    if (x == 0. || x == 1.) return 0.;
    double zPrime, y = 1.0, z = 1 - x;
    do {
        x = sqrt(x);
        zPrime = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (zPrime != z);
    return z / 3;
}

/* histo[v] = number of registers holding v.  Registers above HLL_Q + 1
 * (possible only in hand-made dense values) take no part, as in Redis. */
static uint64_t estimateFromHisto(const int histo[HLL_REGISTER_MAX + 1])
{
    double m = HLL_REGISTERS;
    double z = m * hllTau((m - histo[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; --j) {
        z += histo[j];
        z *= 0.5;
    }
    z += m * hllSigma(histo[0] / m);
    return (uint64_t)llroundl(HLL_ALPHA_INF * m * m / z);
}

uint64_t hllCountRegisters(const uint8_t regs[HLL_REGISTERS])
{
    int histo[HLL_REGISTER_MAX + 1] = {0};
    for (int i = 0; i < HLL_REGISTERS; i++) histo[regs[i] & HLL_REGISTER_MAX]++;
    return estimateFromHisto(histo);
}

int hllCount(const void *s, size_t len, uint64_t *card)
{
    const unsigned char *p = s;
    int histo[HLL_REGISTER_MAX + 1] = {0};
    if (p[HDR_ENCODING] == HLL_ENC_DENSE) {
        if (len != HLL_DENSE_BYTES) return -1;
        uint8_t regs[HLL_REGISTERS];
        denseUnpack(p + HLL_HDR_BYTES, regs);
        for (int i = 0; i < HLL_REGISTERS; i++) histo[regs[i]]++;
    } else if (p[HDR_ENCODING] == HLL_ENC_SPARSE) {
        if (sparseWalk(p + HLL_HDR_BYTES, p + len, walkHisto, histo) != 0) return -1;
    } else {
        return -1;
    }
    *card = estimateFromHisto(histo);
    return 0;
}

int hllMergeMax(uint8_t max[HLL_REGISTERS], const void *s, size_t len)
{
    const unsigned char *p = s;
    if (p[HDR_ENCODING] == HLL_ENC_SPARSE)
        return sparseWalk(p + HLL_HDR_BYTES, p + len, walkMax, max);
    if (p[HDR_ENCODING] != HLL_ENC_DENSE || len != HLL_DENSE_BYTES) return -1;
    uint8_t regs[HLL_REGISTERS];
    denseUnpack(p + HLL_HDR_BYTES, regs);
    for (int i = 0; i < HLL_REGISTERS; i++)
        if (regs[i] > max[i]) max[i] = regs[i];
    return 0;
}

/* ========================== Buffers ======================================= */

void hllNewEmpty(hllBuf *h)
{
    memset(h, 0, sizeof(*h));
    bufReserve(h, HLL_HDR_BYTES + 2 + SPARSE_MAX_GROWTH_BYTES);
    memset(h->p, 0, HLL_HDR_BYTES);
    memcpy(h->p, "HYLL", 4);
    h->p[HDR_ENCODING] = HLL_ENC_SPARSE;
    /* One XZERO of 16384 registers: run - 1 = 0x3fff. */
    h->p[HLL_HDR_BYTES] = 0x40 | ((HLL_REGISTERS - 1) >> 8);
    h->p[HLL_HDR_BYTES + 1] = (HLL_REGISTERS - 1) & 0xff;
    h->len = HLL_HDR_BYTES + 2;
}

void hllFromBytes(hllBuf *h, const void *s, size_t len)
{
    memset(h, 0, sizeof(*h));
    bufReserve(h, len + SPARSE_MAX_GROWTH_BYTES);
    memcpy(h->p, s, len);
    h->len = len;
}

void hllBufFree(hllBuf *h)
{
    free(h->p);
    memset(h, 0, sizeof(*h));
}

int hllToDense(hllBuf *h)
{
    if (h->p[HDR_ENCODING] == HLL_ENC_DENSE) return 0;
    unsigned char *d = calloc(1, HLL_DENSE_BYTES);
    if (!d) abort();
    memcpy(d, h->p, HLL_HDR_BYTES); /* the cached cardinality comes along */
    d[HDR_ENCODING] = HLL_ENC_DENSE;
    if (sparseWalk(h->p + HLL_HDR_BYTES, h->p + h->len, walkDense, d + HLL_HDR_BYTES) != 0) {
        free(d);
        return -1;
    }
    free(h->p);
    h->p = d;
    h->len = h->cap = HLL_DENSE_BYTES;
    return 1;
}

/* ========================== Sparse updates ================================ */

/* Where the register being set lies in a sparse stream: the opcode at byte
 * offset `off` (from the value's start; 0 never is an opcode, it is the
 * header) covers registers first..first+op.runlen-1.  prev / prevprev are the
 * two opcodes before it (0 = none), with prev's and prevprev's first
 * registers. */
typedef struct sparseSpot {
    size_t off, prev, prevprev;
    uint64_t first, prevfirst, prevprevfirst;
    size_t oplen;
    hllSparseOp op;
    int from_hint; /* the search started at the hint, not at the first opcode */
} sparseSpot;

/* Where the next search may start (PFMERGE sets registers in increasing
 * order): an opcode at `off` covering registers from `first` that lies
 * strictly before the next register to set.  off 0 = from the start. */
typedef struct sparseHint {
    size_t off;
    uint64_t first;
} sparseHint;

/* Finds the opcode covering register index, from the hint when it lies
 * before it.  Returns 0, or -1 when the stream ends first (corrupt). */
static int sparseLocate(const hllBuf *h, uint32_t index, const sparseHint *hint, sparseSpot *s)
{
    const unsigned char *end = h->p + h->len;
    memset(s, 0, sizeof(*s));
    s->off = HLL_HDR_BYTES;
    if (hint && hint->off && hint->first <= index) {
        s->off = hint->off;
        s->first = hint->first;
        s->from_hint = 1;
    }
    for (;;) {
        const unsigned char *p = h->p + s->off, *q = p;
        if (hllSparseNext(&q, end, &s->op) != 1) return -1;
        s->oplen = (size_t)(q - p);
        if (index < s->first + (uint64_t)s->op.runlen) break;
        s->prevprev = s->prev;
        s->prevprevfirst = s->prevfirst;
        s->prev = s->off;
        s->prevfirst = s->first;
        s->first += (uint64_t)s->op.runlen;
        s->off += s->oplen;
    }
    /* Starting from the hint must find what a scan from the start finds:
     * the hint opcode itself holding the register would leave prev unknown.
     * With registers set in increasing order it does not happen (joins
     * never carry the hint's opcode over the register just raised, which
     * now differs from it); the check keeps any other use byte-exact. */
    if (s->from_hint && s->off == hint->off) return sparseLocate(h, index, NULL, s);
    return 0;
}

/* Encodes a run of registers of one value: a VAL opcode (value > 0, run <= 4)
 * or the shortest zero opcode.  Returns the bytes written (1 or 2). */
static size_t sparsePutRun(unsigned char *out, int value, uint64_t runlen)
{
    if (value) {
        out[0] = valOpcode(value, runlen);
        return 1;
    }
    if (runlen > SPARSE_ZERO_MAX_RUN) {
        out[0] = (unsigned char)(0x40 | ((runlen - 1) >> 8));
        out[1] = (unsigned char)((runlen - 1) & 0xff);
        return 2;
    }
    out[0] = (unsigned char)(runlen - 1);
    return 1;
}

/* The opcodes replacing s's opcode when register index takes count: the run
 * before it, a one-register VAL, the run after it.  Returns the length of
 * seq (at most 5 bytes). */
static size_t sparseSplitRun(const sparseSpot *s, uint32_t index, int count, unsigned char seq[5])
{
    uint64_t last = s->first + (uint64_t)s->op.runlen - 1;
    size_t n = 0;
    if (index > s->first) n += sparsePutRun(seq + n, s->op.value, index - s->first);
    seq[n++] = valOpcode(count, 1);
    if (index < last) n += sparsePutRun(seq + n, s->op.value, last - index);
    return n;
}

/* Joins neighbouring VAL opcodes of equal value whose runs fit one opcode,
 * looking at no more than SPARSE_MERGE_SCAN_OPS opcodes from offset off.
 * After a join the joined opcode is tried again with its right neighbour. */
static void sparseMergeVals(hllBuf *h, size_t off)
{
    unsigned char *q = h->p + off, *end = h->p + h->len;
    for (int budget = SPARSE_MERGE_SCAN_OPS; q < end && budget > 0; budget--) {
        if (isXzeroOpcode(q[0])) {
            q += 2;
            continue;
        }
        if (isZeroOpcode(q[0])) {
            q++;
            continue;
        }
        if (q + 1 < end && (q[1] & 0x80) && valOpcodeValue(q[0]) == valOpcodeValue(q[1])) {
            int run = valOpcodeRun(q[0]) + valOpcodeRun(q[1]);
            if (run <= SPARSE_VAL_MAX_RUN) {
                q[1] = valOpcode(valOpcodeValue(q[0]), (uint64_t)run);
                memmove(q, q + 1, (size_t)(end - q - 1));
                end--;
                h->len--;
                continue;
            }
        }
        q++;
    }
}

/* Turns h dense and sets the register there.  The register was below count
 * (callers checked), so the result is always a change. */
static int sparsePromoteAndSet(hllBuf *h, uint32_t index, int count)
{
    if (hllToDense(h) < 0) return -1;
    denseStore(h->p + HLL_HDR_BYTES, index, count);
    hllCacheInvalidate(h->p);
    return 1;
}

/* hllSet() on a sparse value.  hint (may be NULL) is used and advanced for
 * registers set in increasing order. */
static int sparseSet(hllBuf *h, uint32_t index, int count, size_t max_bytes, sparseHint *hint)
{
    if (count > HLL_SPARSE_VAL_MAX) return sparsePromoteAndSet(h, index, count);
    bufReserve(h, h->len + SPARSE_MAX_GROWTH_BYTES);
    sparseSpot s;
    if (sparseLocate(h, index, hint, &s) != 0) return -1;
    /* The next hint: nothing at or before prevprev changes below (rewrites
     * start at the located opcode, joins at prev and keep prev's offset and
     * first register), and the next register lies beyond prevprev.  One step
     * from the hint leaves prevprev unknown; the hint is then prev itself,
     * which stays valid by the same argument. */
    if (hint && (s.prevprev || !s.from_hint)) {
        hint->off = s.prevprev;
        hint->first = s.prevprevfirst;
    }
    unsigned char *p = h->p + s.off;
    if (s.op.kind == HLL_OP_VAL && s.op.value >= count) return 0;
    if (s.op.runlen == 1 && s.op.kind != HLL_OP_XZERO) {
        *p = valOpcode(count, 1);
    } else {
        unsigned char seq[5];
        size_t n = sparseSplitRun(&s, index, count, seq);
        if (n > s.oplen && h->len + (n - s.oplen) > max_bytes)
            return sparsePromoteAndSet(h, index, count);
        memmove(p + n, p + s.oplen, h->len - (s.off + s.oplen));
        memcpy(p, seq, n);
        h->len = h->len + n - s.oplen;
    }
    sparseMergeVals(h, s.prev ? s.prev : HLL_HDR_BYTES);
    hllCacheInvalidate(h->p);
    return 1;
}

/* ========================== Public updates ================================ */

static int setHinted(hllBuf *h, uint32_t index, int count, size_t max_bytes, sparseHint *hint)
{
    switch (h->p[HDR_ENCODING]) {
    case HLL_ENC_DENSE:
        if (!denseRaise(h->p + HLL_HDR_BYTES, index, count)) return 0;
        hllCacheInvalidate(h->p);
        return 1;
    case HLL_ENC_SPARSE: return sparseSet(h, index, count, max_bytes, hint);
    default: return -1;
    }
}

int hllSet(hllBuf *h, uint32_t index, int count, size_t sparse_max_bytes)
{
    return setHinted(h, index, count, sparse_max_bytes, NULL);
}

int hllAdd(hllBuf *h, const void *ele, size_t len, size_t sparse_max_bytes)
{
    uint32_t index;
    int count = hllHashElement(ele, len, &index);
    return hllSet(h, index, count, sparse_max_bytes);
}

int hllApplyMax(hllBuf *h, const uint8_t max[HLL_REGISTERS], int to_dense,
                size_t sparse_max_bytes)
{
    if (to_dense && hllToDense(h) < 0) return -1;
    sparseHint hint = {0, 0};
    for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
        if (max[i] && setHinted(h, i, max[i], sparse_max_bytes, &hint) < 0) return -1;
    }
    hllCacheInvalidate(h->p);
    return 0;
}

/* ========================== Self test ===================================== */

#define SELFTEST_PACK_ROUNDS 8
#define SELFTEST_SPARSE_ADDS 3000
#define SELFTEST_MAX_CARD 100000

/* xorshift64*: a private generator, so the test neither depends on nor
 * disturbs rand()'s state. */
static uint64_t testRand(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

static int testFail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Random register values written one by one must read back one by one and
 * unpacked four at a time, neighbours untouched. */
static int selfTestPacking(char *err, size_t errlen)
{
    /* On the heap: 44 KB, and PFSELFTEST may run on several threads. */
    unsigned char *regs = malloc(REGISTER_BYTES);
    uint8_t *want = malloc(HLL_REGISTERS), *got = malloc(HLL_REGISTERS);
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    int rc = 0;
    if (!regs || !want || !got) abort();
    for (int round = 0; round < SELFTEST_PACK_ROUNDS && rc == 0; round++) {
        memset(regs, round & 1 ? 0xff : 0, REGISTER_BYTES);
        for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
            want[i] = (uint8_t)(testRand(&state) & HLL_REGISTER_MAX);
            denseStore(regs, i, want[i]);
        }
        denseUnpack(regs, got);
        for (uint32_t i = 0; i < HLL_REGISTERS && rc == 0; i++) {
            if (hllDenseGet(regs, i) != want[i] || got[i] != want[i])
                rc = testFail(err, errlen, "Register error at %u", i);
        }
    }
    free(regs);
    free(want);
    free(got);
    return rc;
}

/* The same elements added to a sparse and a dense value must give the same
 * registers and estimates. */
static int selfTestSparseDense(char *err, size_t errlen)
{
    hllBuf sparse, dense, copy;
    uint64_t c1, c2;
    int rc = 0;
    hllNewEmpty(&sparse);
    hllNewEmpty(&dense);
    hllToDense(&dense);
    for (int i = 1; i <= SELFTEST_SPARSE_ADDS && rc == 0; i++) {
        char ele[32];
        int n = snprintf(ele, sizeof(ele), "selftest:%d", i);
        /* No size limit: the sparse side stays sparse for the comparison. */
        if (hllAdd(&sparse, ele, (size_t)n, (size_t)-1) < 0 || hllAdd(&dense, ele, (size_t)n, 0) < 0)
            rc = testFail(err, errlen, "add failed at element %d", i);
        if (rc || i % 500) continue;
        hllFromBytes(&copy, sparse.p, sparse.len);
        if (hllToDense(&copy) < 0 ||
            memcmp(copy.p + HLL_HDR_BYTES, dense.p + HLL_HDR_BYTES, REGISTER_BYTES) != 0)
            rc = testFail(err, errlen, "sparse and dense registers differ after %d adds", i);
        else if (hllCount(sparse.p, sparse.len, &c1) || hllCount(dense.p, dense.len, &c2) ||
                 c1 != c2)
            rc = testFail(err, errlen, "sparse and dense estimates differ after %d adds", i);
        hllBufFree(&copy);
    }
    hllBufFree(&sparse);
    hllBufFree(&dense);
    return rc;
}

/* Estimates at 10, 100, ... 100,000 distinct elements stay within six
 * standard errors (1.04 / sqrt(m)); one is allowed at 10. */
static int selfTestError(char *err, size_t errlen)
{
    hllBuf h;
    int rc = 0;
    double relerr = 1.04 / sqrt((double)HLL_REGISTERS);
    hllNewEmpty(&h);
    hllToDense(&h);
    for (long j = 1, checkpoint = 10; j <= SELFTEST_MAX_CARD && rc == 0; j++) {
        char ele[32];
        int n = snprintf(ele, sizeof(ele), "card:%ld", j);
        hllAdd(&h, ele, (size_t)n, 0);
        if (j != checkpoint) continue;
        uint64_t card = 0;
        hllCount(h.p, h.len, &card);
        double abserr = fabs((double)card - (double)j);
        double maxerr = j == 10 ? 1 : ceil(relerr * 6 * (double)j);
        if (abserr > maxerr)
            rc = testFail(err, errlen, "Too big error. card:%llu abserr:%f",
                          (unsigned long long)card, abserr);
        checkpoint *= 10;
    }
    hllBufFree(&h);
    return rc;
}

int hllSelfTest(char *err, size_t errlen)
{
    if (selfTestPacking(err, errlen) != 0) return -1;
    if (selfTestSparseDense(err, errlen) != 0) return -1;
    return selfTestError(err, errlen);
}

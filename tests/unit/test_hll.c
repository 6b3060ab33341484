/* test_hll.c - cmocka tests of server/hll.c, the HyperLogLog encoding: the
 * element hash, dense register packing, every sparse rewriting rule, the
 * promotion to dense, merging, the estimator and the header cache.
 *
 * Expected bytes, register positions and estimates are facts obtained from
 * redis-server 7.0.15 (PFDEBUG DECODE, GET, PFCOUNT of the same inputs);
 * long values are compared through their 64-bit FNV-1a digest, computed on
 * the GET output of redis-server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/hll.h"

#define MAX_BYTES_DEFAULT HLL_SPARSE_MAX_BYTES_DEFAULT
#define NO_LIMIT ((size_t)-1)

/* ================================ Helpers ================================= */

static uint64_t fnv1a(const unsigned char *p, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* The 16-byte sparse header with a stale cache of 0, as PFADD leaves it. */
static const unsigned char SPARSE_HDR[HLL_HDR_BYTES] = {'H', 'Y', 'L', 'L', 1, 0, 0, 0,
                                                        0,   0,   0,   0,   0, 0, 0, 0x80};

/* Builds a sparse value from a header and an opcode stream. */
static void makeSparse(hllBuf *h, const unsigned char *ops, size_t n) {
    unsigned char buf[256];
    assert_true(n + HLL_HDR_BYTES <= sizeof(buf));
    memcpy(buf, SPARSE_HDR, HLL_HDR_BYTES);
    memcpy(buf + HLL_HDR_BYTES, ops, n);
    hllFromBytes(h, buf, n + HLL_HDR_BYTES);
}

static void assertOps(const hllBuf *h, const unsigned char *ops, size_t n) {
    assert_int_equal(h->len, HLL_HDR_BYTES + n);
    assert_memory_equal(h->p + HLL_HDR_BYTES, ops, n);
}

/* PFADD of several elements: the cache goes stale when anything changed. */
static int pfadd(hllBuf *h, const char *const *eles, int n, size_t max_bytes) {
    int updated = 0;
    for (int i = 0; i < n; i++) {
        int rc = hllAdd(h, eles[i], strlen(eles[i]), max_bytes);
        assert_true(rc >= 0);
        updated |= rc;
    }
    if (updated) hllCacheInvalidate(h->p);
    return updated;
}

/* PFADD "fmt(from)" .. "fmt(to)" in one command. */
static int pfaddRange(hllBuf *h, const char *fmt, long from, long to, size_t max_bytes) {
    int updated = 0;
    for (long i = from; i <= to; i++) {
        char ele[64];
        int n = snprintf(ele, sizeof(ele), fmt, i);
        int rc = hllAdd(h, ele, (size_t)n, max_bytes);
        assert_true(rc >= 0);
        updated |= rc;
    }
    if (updated) hllCacheInvalidate(h->p);
    return updated;
}

/* Single-key PFCOUNT on a master: recompute a stale cache and store it. */
static uint64_t pfcount(hllBuf *h) {
    uint64_t card;
    if (hllCachedCount(h->p, &card)) return card;
    assert_int_equal(hllCount(h->p, h->len, &card), 0);
    hllCacheSet(h->p, card);
    return card;
}

/* ================================ Hashing ================================= */

/* Register and value of single elements, from PFDEBUG DECODE after one PFADD:
 * "Z:12711 v:2,1 Z:3672" = register 12711 holds 2.  The lengths cover the
 * tail switch (0, 1, 5, 7 bytes) and whole 8-byte blocks (9, 16 bytes). */
static void test_hash_positions(void **state) {
    static const struct {
        const char *ele;
        uint32_t index;
        int count;
    } facts[] = {{"a", 12711, 2},       {"hello", 9216, 1},   {"", 5938, 2},
                 {"0123456789abcdef", 5949, 1}, {"1234567", 10327, 3},
                 {"foobar123", 638, 1}, {"elem:1", 15240, 1}};
    (void)state;
    for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
        uint32_t index;
        int count = hllHashElement(facts[i].ele, strlen(facts[i].ele), &index);
        assert_int_equal(index, facts[i].index);
        assert_int_equal(count, facts[i].count);
    }
}

static void test_hash_value_bounds(void **state) {
    (void)state;
    for (int i = 0; i < 20000; i++) {
        char ele[16];
        uint32_t index;
        int n = snprintf(ele, sizeof(ele), "%d", i);
        int count = hllHashElement(ele, (size_t)n, &index);
        assert_true(index < HLL_REGISTERS);
        assert_true(count >= 1 && count <= HLL_Q + 1);
    }
}

/* ================================ Header ================================== */

static void test_empty_value(void **state) {
    static const unsigned char want[] = {'H', 'Y', 'L', 'L', 1, 0, 0, 0, 0, 0,
                                         0,   0,   0,   0,   0, 0, 0x7f, 0xff};
    hllBuf h;
    uint64_t card = 99;
    (void)state;
    hllNewEmpty(&h);
    assert_int_equal(h.len, sizeof(want));
    assert_memory_equal(h.p, want, sizeof(want));
    assert_true(hllIsValid(h.p, h.len));
    assert_int_equal(hllEncoding(h.p), HLL_ENC_SPARSE);
    assert_int_equal(hllCachedCount(h.p, &card), 1);
    assert_int_equal(card, 0);
    assert_int_equal(hllCount(h.p, h.len, &card), 0);
    assert_int_equal(card, 0);
    hllBufFree(&h);
}

static void test_is_valid(void **state) {
    unsigned char v[HLL_DENSE_BYTES + 1];
    (void)state;
    memset(v, 0, sizeof(v));
    memcpy(v, "HYLL", 4);
    assert_false(hllIsValid(v, HLL_HDR_BYTES - 1));
    v[4] = HLL_ENC_SPARSE;
    assert_true(hllIsValid(v, HLL_HDR_BYTES)); /* streams are checked on use */
    v[4] = HLL_ENC_DENSE;
    assert_true(hllIsValid(v, HLL_DENSE_BYTES));
    assert_false(hllIsValid(v, HLL_DENSE_BYTES - 1));
    assert_false(hllIsValid(v, HLL_DENSE_BYTES + 1));
    v[4] = 2;
    assert_false(hllIsValid(v, HLL_DENSE_BYTES));
    v[4] = HLL_ENC_SPARSE;
    v[3] = 'X';
    assert_false(hllIsValid(v, 18));
}

/* Invalidating sets one bit and keeps the old count's bytes, as Redis. */
static void test_cache_bits(void **state) {
    hllBuf h;
    uint64_t card;
    (void)state;
    hllNewEmpty(&h);
    hllCacheSet(h.p, 0x0102030405060708ULL);
    assert_int_equal(hllCachedCount(h.p, &card), 1);
    assert_int_equal(card, 0x0102030405060708ULL);
    assert_int_equal(h.p[8], 0x08);
    hllCacheInvalidate(h.p);
    assert_int_equal(hllCachedCount(h.p, &card), 0);
    assert_int_equal(h.p[8], 0x08);
    assert_int_equal(h.p[15], 0x81);
    hllBufFree(&h);
}

/* ================================ Dense =================================== */

static void test_dense_packing(void **state) {
    hllBuf h;
    (void)state;
    /* Through hllSet on a dense value: every register, with a pattern that
     * differs between neighbours, and the last register (ends exactly at the
     * array's last byte). */
    hllNewEmpty(&h);
    assert_int_equal(hllToDense(&h), 1);
    assert_int_equal(h.len, HLL_DENSE_BYTES);
    for (uint32_t i = 0; i < HLL_REGISTERS; i++)
        assert_int_equal(hllSet(&h, i, (int)(i * 7 % 63) + 1, 0), 1);
    for (uint32_t i = 0; i < HLL_REGISTERS; i++)
        assert_int_equal(hllDenseGet(h.p + HLL_HDR_BYTES, i), (int)(i * 7 % 63) + 1);
    assert_int_equal(hllSet(&h, HLL_REGISTERS - 1, 63, 0), 1);
    assert_int_equal(h.p[HLL_DENSE_BYTES - 1] >> 2, 63);
    /* Lower or equal values change nothing. */
    assert_int_equal(hllSet(&h, 5, 1, 0), 0);
    assert_int_equal(hllSet(&h, HLL_REGISTERS - 1, 63, 0), 0);
    hllBufFree(&h);
}

/* ================================ Sparse rewriting ======================== */

/* A zero run split around the register: XZERO before, VAL, XZERO after
 * ("a" sets register 12711 to 2). */
static void test_sparse_split_xzero(void **state) {
    static const unsigned char want[] = {0x71, 0xa6, 0x84, 0x4e, 0x57};
    hllBuf h;
    uint64_t card;
    (void)state;
    hllNewEmpty(&h);
    assert_int_equal(hllAdd(&h, "a", 1, MAX_BYTES_DEFAULT), 1);
    assertOps(&h, want, sizeof(want));
    assert_int_equal(hllCachedCount(h.p, &card), 0);
    assert_int_equal(hllAdd(&h, "a", 1, MAX_BYTES_DEFAULT), 0);
    hllBufFree(&h);
}

/* PFADD x y z then PFCOUNT then PFADD w: the GET outputs of redis-server. */
static void test_sparse_sequence_with_cache(void **state) {
    static const char *const xyz[] = {"x", "y", "z"}, *const w[] = {"w"};
    static const unsigned char after_xyz[] = {'H', 'Y', 'L', 'L', 1, 0, 0, 0, 0, 0,
                                              0, 0, 0, 0, 0, 0x80, 0x61, 0x84, 0x80,
                                              0x58, 0xcd, 0x88, 0x45, 0xa0, 0x84, 0x08};
    static const unsigned char after_w[] = {'H', 'Y', 'L', 'L', 1, 0, 0, 0, 3, 0, 0, 0,
                                            0, 0, 0, 0x80, 0x50, 0x47, 0x84, 0x51, 0x3b,
                                            0x80, 0x58, 0xcd, 0x88, 0x45, 0xa0, 0x84, 0x08};
    hllBuf h;
    (void)state;
    hllNewEmpty(&h);
    assert_int_equal(pfadd(&h, xyz, 3, MAX_BYTES_DEFAULT), 1);
    assert_int_equal(h.len, sizeof(after_xyz));
    assert_memory_equal(h.p, after_xyz, sizeof(after_xyz));
    assert_int_equal(pfcount(&h), 3);
    assert_int_equal(h.p[8], 3);
    assert_int_equal(h.p[15], 0);
    assert_int_equal(pfadd(&h, w, 1, MAX_BYTES_DEFAULT), 1);
    assert_int_equal(h.len, sizeof(after_w));
    assert_memory_equal(h.p, after_w, sizeof(after_w));
    hllBufFree(&h);
}

/* Register 12711 set to 2 inside crafted streams (the same PFMERGE on
 * redis-server gave these results). */
static void test_sparse_split_val_run(void **state) {
    /* XZERO(12710) VAL(1,x4) XZERO(3670): register 12711 is the run's second. */
    static const unsigned char in[] = {0x71, 0xa5, 0x83, 0x4e, 0x55};
    static const unsigned char want[] = {0x71, 0xa5, 0x80, 0x84, 0x81, 0x4e, 0x55};
    hllBuf h;
    (void)state;
    makeSparse(&h, in, sizeof(in));
    assert_int_equal(hllSet(&h, 12711, 2, MAX_BYTES_DEFAULT), 1);
    assertOps(&h, want, sizeof(want));
    /* A lower value inside a VAL run changes nothing. */
    assert_int_equal(hllSet(&h, 12710, 1, MAX_BYTES_DEFAULT), 0);
    hllBufFree(&h);
}

static void test_sparse_join_left(void **state) {
    /* VAL(2) ZERO(1) VAL(2): the one-register ZERO becomes VAL(2) in place,
     * then joins its left neighbour, then the right one. */
    static const unsigned char in[] = {0x71, 0xa5, 0x84, 0x00, 0x84, 0x4e, 0x56};
    static const unsigned char want[] = {0x71, 0xa5, 0x86, 0x4e, 0x56};
    hllBuf h;
    (void)state;
    makeSparse(&h, in, sizeof(in));
    assert_int_equal(hllSet(&h, 12711, 2, MAX_BYTES_DEFAULT), 1);
    assertOps(&h, want, sizeof(want));
    hllBufFree(&h);
}

/* Joining looks at five opcodes from the one before the change, a join
 * counting as one: of eight VAL(5) opcodes only four get joined. */
static void test_sparse_join_budget(void **state) {
    static const unsigned char in[] = {0x71, 0xa3, 0x88, 0x84, 0x84, 0x00, 0x90, 0x90, 0x90,
                                       0x90, 0x90, 0x90, 0x90, 0x90, 0x4e, 0x4f};
    static const unsigned char want[] = {0x71, 0xa3, 0x88, 0x84, 0x85, 0x93, 0x90,
                                         0x90, 0x90, 0x90, 0x4e, 0x4f};
    hllBuf h;
    (void)state;
    makeSparse(&h, in, sizeof(in));
    assert_int_equal(hllSet(&h, 12711, 2, MAX_BYTES_DEFAULT), 1);
    assertOps(&h, want, sizeof(want));
    hllBufFree(&h);
}

/* The five include the opcodes skipped: after the join and three ZEROs the
 * scan stops before two VAL(5) opcodes it could have joined. */
static void test_sparse_join_budget_counts_zeros(void **state) {
    static const unsigned char in[] = {0x71, 0xa5, 0x84, 0x00, 0x00, 0x00,
                                       0x00, 0x90, 0x90, 0x4e, 0x52};
    static const unsigned char want[] = {0x71, 0xa5, 0x85, 0x00, 0x00,
                                         0x00, 0x90, 0x90, 0x4e, 0x52};
    hllBuf h;
    (void)state;
    makeSparse(&h, in, sizeof(in));
    assert_int_equal(hllSet(&h, 12711, 2, MAX_BYTES_DEFAULT), 1);
    assertOps(&h, want, sizeof(want));
    hllBufFree(&h);
}

/* A short zero run on either side is a ZERO opcode, a longer one XZERO. */
static void test_sparse_zero_opcode_choice(void **state) {
    static const unsigned char want[] = {0x3f, 0x80, 0x7f, 0xbe};
    hllBuf h;
    (void)state;
    hllNewEmpty(&h);
    assert_int_equal(hllSet(&h, 64, 1, MAX_BYTES_DEFAULT), 1);
    assertOps(&h, want, sizeof(want)); /* ZERO(64) VAL(1) XZERO(16319) */
    hllBufFree(&h);
}

/* ================================ Promotion =============================== */

static void test_promote_on_big_value(void **state) {
    hllBuf h;
    uint64_t card;
    (void)state;
    hllNewEmpty(&h);
    hllCacheSet(h.p, 77);
    assert_int_equal(hllSet(&h, 100, 32, MAX_BYTES_DEFAULT), 1);
    assert_int_equal(hllEncoding(h.p), HLL_ENC_SPARSE);
    assert_int_equal(hllSet(&h, 200, 33, MAX_BYTES_DEFAULT), 1);
    assert_int_equal(hllEncoding(h.p), HLL_ENC_DENSE);
    assert_int_equal(h.len, HLL_DENSE_BYTES);
    assert_int_equal(hllDenseGet(h.p + HLL_HDR_BYTES, 100), 32);
    assert_int_equal(hllDenseGet(h.p + HLL_HDR_BYTES, 200), 33);
    /* The header came along: the old count bytes, now marked stale. */
    assert_int_equal(h.p[8], 77);
    assert_int_equal(hllCachedCount(h.p, &card), 0);
    hllBufFree(&h);
}

/* PFADD elem:1.. in commands of 50 with PFCOUNTs in between: digests of
 * redis-server's values; the value turns dense between 1650 and 1700. */
static void test_growth_matches_redis(void **state) {
    static const struct {
        long n;
        size_t len;
        uint64_t fnv, card, fnv_counted;
    } facts[] = {{50, 158, 0x9910be4c8b7430fcULL, 50, 0x21ebfeb30463a6eeULL},
                 {1650, 2981, 0x694bea7edf4654ebULL, 1655, 0xf841469c387e32b6ULL},
                 {1700, 12304, 0x1b30e2a7e921ff01ULL, 1705, 0xb1d11d6667bcef07ULL},
                 {1750, 12304, 0xfba7cc153759a022ULL, 1751, 0xac9c4d90369e21d8ULL}};
    hllBuf h;
    size_t next = 0;
    (void)state;
    hllNewEmpty(&h);
    for (long n = 50; n <= 1750; n += 50) {
        pfaddRange(&h, "elem:%ld", n - 49, n, MAX_BYTES_DEFAULT);
        if (next < 4 && facts[next].n == n) {
            assert_int_equal(h.len, facts[next].len);
            assert_int_equal(fnv1a(h.p, h.len), facts[next].fnv);
            assert_int_equal(pfcount(&h), facts[next].card);
            assert_int_equal(fnv1a(h.p, h.len), facts[next].fnv_counted);
            next++;
        }
    }
    assert_int_equal(next, 4);
    hllBufFree(&h);
}

/* hll-sparse-max-bytes 100000: "1".."200" stay sparse (508 bytes); with 100
 * the 20 elements x0..x19 still fit (76 bytes) and x20..x39 do not. */
static void test_sparse_max_bytes(void **state) {
    hllBuf h;
    (void)state;
    hllNewEmpty(&h);
    pfaddRange(&h, "%ld", 1, 200, 100000);
    assert_int_equal(h.len, 508);
    assert_int_equal(fnv1a(h.p, h.len), 0x6e98f2ddac7dac6aULL);
    hllBufFree(&h);

    hllNewEmpty(&h);
    pfaddRange(&h, "x%ld", 0, 19, 100);
    assert_int_equal(h.len, 76);
    assert_int_equal(hllEncoding(h.p), HLL_ENC_SPARSE);
    pfaddRange(&h, "x%ld", 20, 39, 100);
    assert_int_equal(hllEncoding(h.p), HLL_ENC_DENSE);
    hllBufFree(&h);

    /* 0: the first growth already promotes. */
    hllNewEmpty(&h);
    assert_int_equal(hllAdd(&h, "a", 1, 0), 1);
    assert_int_equal(hllEncoding(h.p), HLL_ENC_DENSE);
    hllBufFree(&h);
}

static void test_to_dense_keeps_registers(void **state) {
    hllBuf s, d;
    uint64_t c1, c2;
    (void)state;
    hllNewEmpty(&s);
    hllNewEmpty(&d);
    assert_int_equal(hllToDense(&d), 1);
    assert_int_equal(hllToDense(&d), 0);
    pfaddRange(&s, "k%ld", 1, 1000, NO_LIMIT);
    pfaddRange(&d, "k%ld", 1, 1000, 0);
    assert_int_equal(hllEncoding(s.p), HLL_ENC_SPARSE);
    assert_int_equal(hllCount(s.p, s.len, &c1), 0);
    assert_int_equal(hllCount(d.p, d.len, &c2), 0);
    assert_int_equal(c1, c2);
    assert_int_equal(hllToDense(&s), 1);
    assert_memory_equal(s.p, d.p, HLL_DENSE_BYTES);
    hllBufFree(&s);
    hllBufFree(&d);
}

/* ================================ Merging ================================= */

/* PFMERGE m3 m1 m2 of two sparse values: redis-server's bytes. */
static void test_merge_sparse_matches_redis(void **state) {
    uint8_t *max = calloc(1, HLL_REGISTERS);
    hllBuf m1, m2, m3;
    uint64_t card;
    (void)state;
    hllNewEmpty(&m1);
    hllNewEmpty(&m2);
    pfaddRange(&m1, "a%ld", 0, 299, MAX_BYTES_DEFAULT);
    pfaddRange(&m2, "b%ld", 0, 299, MAX_BYTES_DEFAULT);
    assert_int_equal(fnv1a(m1.p, m1.len), 0xaeda727d8f8d1718ULL);
    assert_int_equal(fnv1a(m2.p, m2.len), 0xffded9d50abb0548ULL);
    assert_int_equal(hllMergeMax(max, m1.p, m1.len), 0);
    assert_int_equal(hllMergeMax(max, m2.p, m2.len), 0);
    hllNewEmpty(&m3);
    assert_int_equal(hllApplyMax(&m3, max, 0, MAX_BYTES_DEFAULT), 0);
    assert_int_equal(m3.len, 1218);
    assert_int_equal(fnv1a(m3.p, m3.len), 0x4eb3d9419ba0c43fULL);
    assert_int_equal(hllCachedCount(m3.p, &card), 0);
    assert_int_equal(hllCountRegisters(max), 603);
    hllBufFree(&m1);
    hllBufFree(&m2);
    hllBufFree(&m3);
    free(max);
}

/* hllApplyMax resumes each search where the last one left off; the result
 * must equal setting the registers one by one from the start.  Small values
 * on both sides make many equal neighbours, so joins (which move the opcodes
 * a resumed search starts from) happen all the time. */
static uint64_t lcg(uint64_t *seed) {
    *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return *seed >> 33;
}

static void test_apply_max_equals_plain_sets(void **state) {
    uint8_t *max = calloc(1, HLL_REGISTERS);
    hllBuf a, b;
    uint64_t seed = 42;
    (void)state;
    for (int round = 0; round < 24; round++) {
        int fill = 1 + (int)(lcg(&seed) % 120); /* per mille of registers set */
        int top = 1 + round % 3;                /* values 1..top */
        hllNewEmpty(&a);
        memset(max, 0, HLL_REGISTERS);
        for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
            if ((int)(lcg(&seed) % 1000) < fill)
                assert_true(hllSet(&a, i, 1 + (int)(lcg(&seed) % top), NO_LIMIT) >= 0);
            if ((int)(lcg(&seed) % 1000) < fill) max[i] = (uint8_t)(1 + lcg(&seed) % (top + 1));
        }
        hllFromBytes(&b, a.p, a.len);
        size_t limit = round % 4 ? NO_LIMIT : MAX_BYTES_DEFAULT;
        assert_int_equal(hllApplyMax(&a, max, 0, limit), 0);
        for (uint32_t i = 0; i < HLL_REGISTERS; i++)
            if (max[i]) assert_true(hllSet(&b, i, max[i], limit) >= 0);
        hllCacheInvalidate(b.p);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.p, b.p, a.len);
        hllBufFree(&a);
        hllBufFree(&b);
    }
    free(max);
}

static void test_merge_dense_and_sparse_agree(void **state) {
    uint8_t *m1 = calloc(1, HLL_REGISTERS), *m2 = calloc(1, HLL_REGISTERS);
    hllBuf s;
    (void)state;
    hllNewEmpty(&s);
    pfaddRange(&s, "q%ld", 1, 500, MAX_BYTES_DEFAULT);
    assert_int_equal(hllEncoding(s.p), HLL_ENC_SPARSE);
    assert_int_equal(hllMergeMax(m1, s.p, s.len), 0);
    assert_int_equal(hllToDense(&s), 1);
    assert_int_equal(hllMergeMax(m2, s.p, s.len), 0);
    assert_memory_equal(m1, m2, HLL_REGISTERS);
    hllBufFree(&s);
    free(m1);
    free(m2);
}

/* ================================ Corruption ============================== */

static void test_corrupt_sparse(void **state) {
    static const unsigned char short_run[] = {0x7f, 0xfe};      /* 16383 registers */
    static const unsigned char long_run[] = {0x7f, 0xff, 0x00}; /* 16385 */
    static const unsigned char truncated[] = {0x7f};            /* half an XZERO */
    static const unsigned char val_over[] = {0x7f, 0xfe, 0x83}; /* VAL past the end */
    const unsigned char *bad[] = {short_run, long_run, truncated, val_over};
    size_t lens[] = {sizeof(short_run), sizeof(long_run), sizeof(truncated), sizeof(val_over)};
    uint8_t *max = calloc(1, HLL_REGISTERS);
    (void)state;
    for (int i = 0; i < 4; i++) {
        hllBuf h;
        uint64_t card;
        makeSparse(&h, bad[i], lens[i]);
        assert_int_equal(hllCount(h.p, h.len, &card), -1);
        assert_int_equal(hllMergeMax(max, h.p, h.len), -1);
        assert_int_equal(hllToDense(&h), -1);
        assert_int_equal(hllEncoding(h.p), HLL_ENC_SPARSE); /* unchanged */
        assert_int_equal(hllSet(&h, 16383, 40, MAX_BYTES_DEFAULT), -1);
        hllBufFree(&h);
    }
    /* A register past every opcode cannot be located. */
    hllBuf h;
    makeSparse(&h, short_run, sizeof(short_run));
    assert_int_equal(hllSet(&h, 16383, 1, MAX_BYTES_DEFAULT), -1);
    hllBufFree(&h);
    makeSparse(&h, short_run, 0); /* no opcodes at all */
    assert_int_equal(hllAdd(&h, "a", 1, MAX_BYTES_DEFAULT), -1);
    hllBufFree(&h);
    free(max);
}

static void test_sparse_next(void **state) {
    static const unsigned char ops[] = {0x05, 0x40, 0x40, 0x9b, 0x7f};
    const unsigned char *p = ops, *end = ops + sizeof(ops);
    hllSparseOp op;
    (void)state;
    assert_int_equal(hllSparseNext(&p, end, &op), 1);
    assert_int_equal(op.kind, HLL_OP_ZERO);
    assert_int_equal(op.runlen, 6);
    assert_int_equal(hllSparseNext(&p, end, &op), 1);
    assert_int_equal(op.kind, HLL_OP_XZERO);
    assert_int_equal(op.runlen, 65);
    assert_int_equal(hllSparseNext(&p, end, &op), 1);
    assert_int_equal(op.kind, HLL_OP_VAL);
    assert_int_equal(op.value, 7);
    assert_int_equal(op.runlen, 4);
    assert_int_equal(hllSparseNext(&p, end, &op), -1);
    p = end;
    assert_int_equal(hllSparseNext(&p, end, &op), 0);
}

/* ================================ Estimates =============================== */

/* PFCOUNT after PFADD of "0".."n-1" (added in the steps listed), as
 * redis-server answered. */
static void test_estimates_match_redis(void **state) {
    static const struct {
        long n;
        uint64_t card;
    } facts[] = {{1, 1},         {2, 2},         {3, 3},         {10, 10},
                 {50, 50},       {100, 100},     {200, 201},     {500, 503},
                 {1000, 1001},   {2000, 2007},   {5000, 4985},   {10000, 9987},
                 {20000, 19891}, {50000, 50354}, {100000, 99565}};
    hllBuf h;
    long m = 0;
    (void)state;
    hllNewEmpty(&h);
    for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
        pfaddRange(&h, "%ld", m, facts[i].n - 1, MAX_BYTES_DEFAULT);
        m = facts[i].n;
        assert_int_equal(pfcount(&h), facts[i].card);
    }
    hllBufFree(&h);
}

static void test_count_registers(void **state) {
    uint8_t *regs = calloc(1, HLL_REGISTERS);
    (void)state;
    assert_int_equal(hllCountRegisters(regs), 0);
    regs[0] = 1;
    assert_int_equal(hllCountRegisters(regs), 1);
    /* Values above HLL_Q + 1 only appear in hand-made values: no crash. */
    memset(regs, HLL_REGISTER_MAX, HLL_REGISTERS);
    (void)hllCountRegisters(regs);
    free(regs);
}

static void test_selftest(void **state) {
    char err[256] = "";
    (void)state;
    assert_int_equal(hllSelfTest(err, sizeof(err)), 0);
    assert_string_equal(err, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_positions),
        cmocka_unit_test(test_hash_value_bounds),
        cmocka_unit_test(test_empty_value),
        cmocka_unit_test(test_is_valid),
        cmocka_unit_test(test_cache_bits),
        cmocka_unit_test(test_dense_packing),
        cmocka_unit_test(test_sparse_split_xzero),
        cmocka_unit_test(test_sparse_sequence_with_cache),
        cmocka_unit_test(test_sparse_split_val_run),
        cmocka_unit_test(test_sparse_join_left),
        cmocka_unit_test(test_sparse_join_budget),
        cmocka_unit_test(test_sparse_join_budget_counts_zeros),
        cmocka_unit_test(test_sparse_zero_opcode_choice),
        cmocka_unit_test(test_promote_on_big_value),
        cmocka_unit_test(test_growth_matches_redis),
        cmocka_unit_test(test_sparse_max_bytes),
        cmocka_unit_test(test_to_dense_keeps_registers),
        cmocka_unit_test(test_merge_sparse_matches_redis),
        cmocka_unit_test(test_apply_max_equals_plain_sets),
        cmocka_unit_test(test_merge_dense_and_sparse_agree),
        cmocka_unit_test(test_corrupt_sparse),
        cmocka_unit_test(test_sparse_next),
        cmocka_unit_test(test_estimates_match_redis),
        cmocka_unit_test(test_count_registers),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

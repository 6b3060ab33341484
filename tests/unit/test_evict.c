/* test_evict.c - cmocka tests of the hot set's eviction logic (storage/
 * evict.c): the LFU counter's logarithmic growth and its decay, and the
 * score each maxmemory-policy gives a sampled object (the highest score of
 * a sample leaves RAM). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../storage/st_internal.h"

/* Deterministic uniform doubles in [0, 1) (xorshift64*). */
static double unitRandom(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * UINT64_C(2685821657736338717)) >> 11) / (double)(UINT64_C(1) << 53);
}

static uint8_t hits(uint64_t n, int log_factor) {
    uint64_t seed = 88172645463325252ULL;
    uint8_t c = ST_LFU_INIT;
    for (uint64_t i = 0; i < n; i++) c = lfuIncr(c, log_factor, unitRandom(&seed));
    return c;
}

/* ---- LFU counter ----------------------------------------------------------------- */

static void test_lfu_incr_edges(void **state) {
    (void)state;
    assert_int_equal(lfuIncr(255, 10, 0.0), 255); /* saturates */
    for (int c = 0; c <= ST_LFU_INIT; c++)
        assert_int_equal(lfuIncr((uint8_t)c, 10, 0.999), c + 1); /* up to the initial value: always */
    /* At INIT+10 with factor 10 the chance is 1/101. */
    assert_int_equal(lfuIncr(ST_LFU_INIT + 10, 10, 0.5), ST_LFU_INIT + 10);
    assert_int_equal(lfuIncr(ST_LFU_INIT + 10, 10, 0.009), ST_LFU_INIT + 11);
    /* Factor 0: every access counts. */
    assert_int_equal(lfuIncr(100, 0, 0.999), 101);
}

/* The counter is logarithmic in the number of accesses (Redis documents,
 * for factor 10: ~18 after 1K hits, ~142 after 100K, 255 after 1M). */
static void test_lfu_incr_logarithmic(void **state) {
    (void)state;
    uint8_t k1 = hits(1000, 10), k100 = hits(100000, 10), m1 = hits(1000000, 10);
    assert_in_range(k1, 12, 26);
    assert_in_range(k100, 115, 170);
    assert_in_range(m1, 200, 255);
    assert_true(k1 < k100 && k100 <= m1);
    /* A higher factor slows growth. */
    assert_true(hits(100000, 100) < k100);
}

static void test_lfu_decay(void **state) {
    (void)state;
    uint32_t t0 = 100000;
    assert_int_equal(lfuDecay(50, t0, t0 + 59, 1), 50);        /* under a minute */
    assert_int_equal(lfuDecay(50, t0, t0 + 5 * 60, 1), 45);    /* one per minute */
    assert_int_equal(lfuDecay(50, t0, t0 + 10 * 60, 5), 48);   /* one per 5 minutes */
    assert_int_equal(lfuDecay(3, t0, t0 + 3600, 1), 0);        /* floors at 0 */
    assert_int_equal(lfuDecay(50, t0, t0 + 3600, 0), 50);      /* decay off */
    assert_int_equal(lfuDecay(50, t0 + 10, t0, 1), 50);        /* clock behind */
}

/* ---- Scores ----------------------------------------------------------------------- */

static stObj *obj(uint32_t last_access, uint8_t lfu, uint64_t expire_ms) {
    stMeta m = {0};
    m.type = ST_TYPE_STRING;
    m.expire_ms = expire_ms;
    stObj *o = stObjNew(&m, "v", 1);
    o->lru_clock = last_access;
    o->lfu = lfu;
    return o;
}

static void test_score_lru(void **state) {
    (void)state;
    uint32_t now = 5000;
    stObj *old = obj(now - 100, 5, 0), *recent = obj(now - 1, 5, 0);
    assert_true(evictScoreFor(ST_EVICT_LRU, old, now, 0, 1) >
                evictScoreFor(ST_EVICT_LRU, recent, now, 0, 1));
    stObjRelease(old);
    stObjRelease(recent);
}

static void test_score_lfu(void **state) {
    (void)state;
    uint32_t now = 5000;
    stObj *rare = obj(now, 6, 0), *often = obj(now, 40, 0);
    assert_true(evictScoreFor(ST_EVICT_LFU, rare, now, 0, 1) >
                evictScoreFor(ST_EVICT_LFU, often, now, 0, 1));
    /* A frequent key not used for an hour decays below a rare recent one. */
    stObj *stale = obj(now - 3600, 40, 0);
    assert_true(evictScoreFor(ST_EVICT_LFU, stale, now, 0, 1) >
                evictScoreFor(ST_EVICT_LFU, rare, now, 0, 1));
    stObjRelease(rare);
    stObjRelease(often);
    stObjRelease(stale);
}

static void test_score_ttl_and_volatile(void **state) {
    (void)state;
    uint32_t now = 5000;
    int ttl = ST_EVICT_TTL | ST_EVICT_VOLATILE;
    stObj *soon = obj(now, 5, 1000), *later = obj(now, 5, 900000), *never = obj(now - 999, 5, 0);
    assert_true(evictScoreFor(ttl, soon, now, 0, 1) > evictScoreFor(ttl, later, now, 0, 1));
    assert_true(evictScoreFor(ttl, later, now, 0, 1) > evictScoreFor(ttl, never, now, 0, 1));
    /* volatile-lru: a key with a TTL goes before a far idler key without. */
    int vlru = ST_EVICT_LRU | ST_EVICT_VOLATILE;
    assert_true(evictScoreFor(vlru, later, now, 0, 1) > evictScoreFor(vlru, never, now, 0, 1));
    /* allkeys-lru ignores the TTL. */
    assert_true(evictScoreFor(ST_EVICT_LRU, never, now, 0, 1) >
                evictScoreFor(ST_EVICT_LRU, later, now, 0, 1));
    /* Random: the random draw decides, within the same preference class. */
    int vrnd = ST_EVICT_RANDOM | ST_EVICT_VOLATILE;
    assert_true(evictScoreFor(vrnd, soon, now, 10, 1) < evictScoreFor(vrnd, soon, now, 1000, 1));
    assert_true(evictScoreFor(vrnd, never, now, UINT64_MAX, 1) <
                evictScoreFor(vrnd, soon, now, 0, 1));
    stObjRelease(soon);
    stObjRelease(later);
    stObjRelease(never);
}

static void test_new_object_counter(void **state) {
    (void)state;
    stObj *o = stObjNew(NULL, "x", 1);
    assert_int_equal(stObjFreq(o), ST_LFU_INIT);
    evictTouch(o, stLruClock());
    assert_int_equal(stObjFreq(o), ST_LFU_INIT + 1); /* at INIT an access always counts */
    stObjRelease(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lfu_incr_edges),     cmocka_unit_test(test_lfu_incr_logarithmic),
        cmocka_unit_test(test_lfu_decay),          cmocka_unit_test(test_score_lru),
        cmocka_unit_test(test_score_lfu),          cmocka_unit_test(test_score_ttl_and_volatile),
        cmocka_unit_test(test_new_object_counter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_hlc.c - cmocka tests of the hybrid logical clock (storage/hlc.c):
 * packing, monotonicity, the receive rule and logical counter overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <pthread.h>

#include "../../storage/hlc.h"

/* ---- Packing ----------------------------------------------------------------- */

static void test_pack(void **state) {
    (void)state;
    uint64_t h = hlcMake(1700000000123ULL, 7);
    assert_int_equal(hlcWallMs(h), 1700000000123ULL);
    assert_int_equal(hlcLogical(h), 7);
    assert_int_equal(h, (1700000000123ULL << 16) | 7);
    /* Wall time is truncated to 48 bits. */
    assert_int_equal(hlcWallMs(hlcMake(UINT64_MAX, 0)), HLC_WALL_MS_MAX);
}

/* ---- hlcNow ------------------------------------------------------------------ */

static void test_now_follows_wall_clock(void **state) {
    (void)state;
    hlcClock c = {0};
    uint64_t a = hlcNow(&c, 1000);
    assert_int_equal(a, hlcMake(1000, 0));
    uint64_t b = hlcNow(&c, 2000);
    assert_int_equal(b, hlcMake(2000, 0));
    assert_int_equal(hlcLast(&c), b);
}

static void test_now_monotonic_same_ms(void **state) {
    (void)state;
    hlcClock c = {0};
    uint64_t prev = hlcNow(&c, 5000);
    for (int i = 1; i <= 100; i++) {
        uint64_t t = hlcNow(&c, 5000);
        assert_true(t > prev);
        assert_int_equal(hlcWallMs(t), 5000);
        assert_int_equal(hlcLogical(t), i);
        prev = t;
    }
}

static void test_now_monotonic_when_wall_goes_back(void **state) {
    (void)state;
    hlcClock c = {0};
    uint64_t a = hlcNow(&c, 9000);
    uint64_t b = hlcNow(&c, 4000); /* NTP stepped the clock back */
    assert_true(b > a);
    assert_int_equal(b, a + 1);
    assert_int_equal(hlcWallMs(b), 9000);
    uint64_t d = hlcNow(&c, 9001);
    assert_int_equal(d, hlcMake(9001, 0));
}

static void test_logical_overflow_carries_into_ms(void **state) {
    (void)state;
    hlcClock c = {0};
    c.last = hlcMake(7000, 0xFFFF);
    uint64_t t = hlcNow(&c, 7000);
    assert_int_equal(hlcWallMs(t), 7001);
    assert_int_equal(hlcLogical(t), 0);
    uint64_t u = hlcNow(&c, 7000);
    assert_int_equal(u, hlcMake(7001, 1));
    /* The wall clock catching up resets the counter. */
    assert_int_equal(hlcNow(&c, 7002), hlcMake(7002, 0));
}

/* ---- hlcObserve -------------------------------------------------------------- */

static void test_observe_remote_ahead(void **state) {
    (void)state;
    hlcClock c = {0};
    hlcNow(&c, 1000);
    uint64_t remote = hlcMake(5000, 3);
    uint64_t r = hlcObserve(&c, remote, 1000);
    assert_int_equal(r, hlcMake(5000, 4)); /* max(local, remote) + 1 */
    uint64_t n = hlcNow(&c, 1000);
    assert_true(n > remote);
    assert_int_equal(n, hlcMake(5000, 5));
}

static void test_observe_local_ahead(void **state) {
    (void)state;
    hlcClock c = {0};
    uint64_t l = hlcNow(&c, 8000);
    uint64_t r = hlcObserve(&c, hlcMake(3000, 9), 8000);
    assert_int_equal(r, l + 1);
}

static void test_observe_wall_ahead(void **state) {
    (void)state;
    hlcClock c = {0};
    hlcNow(&c, 1000);
    uint64_t r = hlcObserve(&c, hlcMake(2000, 5), 9000);
    assert_int_equal(r, hlcMake(9000, 0));
}

static void test_observe_saturates(void **state) {
    (void)state;
    hlcClock c = {0};
    assert_int_equal(hlcObserve(&c, UINT64_MAX, 1), UINT64_MAX);
}

/* ---- Concurrency --------------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 20000

static hlcClock shared_clock;
static uint64_t stamps[THREADS][PER_THREAD];

static void *stampThread(void *arg) {
    uint64_t *out = arg;
    for (int i = 0; i < PER_THREAD; i++) out[i] = hlcNow(&shared_clock, 42);
    return NULL;
}

static int cmpU64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_concurrent_unique(void **state) {
    (void)state;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, stampThread, stamps[i]);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        for (int j = 1; j < PER_THREAD; j++) assert_true(stamps[i][j] > stamps[i][j - 1]);
    qsort(stamps, THREADS * PER_THREAD, sizeof(uint64_t), cmpU64);
    uint64_t *all = &stamps[0][0];
    for (int i = 1; i < THREADS * PER_THREAD; i++) assert_true(all[i] > all[i - 1]);
    /* 80,000 events in one ms: the counter carried into the ms bits. */
    assert_int_equal(all[THREADS * PER_THREAD - 1], hlcMake(42, 0) + THREADS * PER_THREAD - 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_now_follows_wall_clock),
        cmocka_unit_test(test_now_monotonic_same_ms),
        cmocka_unit_test(test_now_monotonic_when_wall_goes_back),
        cmocka_unit_test(test_logical_overflow_carries_into_ms),
        cmocka_unit_test(test_observe_remote_ahead),
        cmocka_unit_test(test_observe_local_ahead),
        cmocka_unit_test(test_observe_wall_ahead),
        cmocka_unit_test(test_observe_saturates),
        cmocka_unit_test(test_concurrent_unique),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

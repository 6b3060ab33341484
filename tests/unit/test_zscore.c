/* test_zscore.c - cmocka tests of the sorted-set score encoding
 * (storage/encoding.c encScore / encScoreDecode): exact round trips,
 * negative zero, infinities, and that the byte order of encodings is the
 * numeric order of scores, which the zscore index and its range seeks
 * (storage/coll.c stZsetIterNew: "S + 1") rely on. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../storage/encoding.h"

/* ---- Helpers ------------------------------------------------------------ */

static uint64_t enc(double d) {
    char b[ENC_SCORE_BYTES];
    encScore(b, d);
    return encGetU64(b);
}

static double roundTrip(double d) {
    char b[ENC_SCORE_BYTES];
    encScore(b, d);
    return encScoreDecode(b);
}

static int sameBits(double a, double b) { return memcmp(&a, &b, sizeof(a)) == 0; }

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rngState = 0x9E3779B97F4A7C15ULL;
static uint64_t rng(void) {
    rngState ^= rngState >> 12;
    rngState ^= rngState << 25;
    rngState ^= rngState >> 27;
    return rngState * 2685821657736338717ULL;
}

/* A random non-NaN double: any bit pattern (subnormals, huge, tiny). */
static double rngDouble(void) {
    for (;;) {
        uint64_t bits = rng();
        double d;
        memcpy(&d, &bits, sizeof(d));
        if (!isnan(d)) return d;
    }
}

static int cmpDouble(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- Round trips -------------------------------------------------------- */

static void test_round_trip_special_values(void **state) {
    (void)state;
    const double vals[] = {0.0,       1.0,      -1.0,      0.1,     -0.1,   1e-300, -1e-300,
                           DBL_MIN,   -DBL_MIN, DBL_MAX,   -DBL_MAX, 4.9e-324, -4.9e-324,
                           INFINITY, -INFINITY, 123456789.125, -9007199254740993.0, 1e308};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        assert_true(sameBits(roundTrip(vals[i]), vals[i]));
}

static void test_round_trip_random(void **state) {
    (void)state;
    for (int i = 0; i < 200000; i++) {
        double d = rngDouble();
        if (d == 0) continue; /* -0 is covered below */
        assert_true(sameBits(roundTrip(d), d));
    }
}

static void test_negative_zero_is_zero(void **state) {
    (void)state;
    /* One encoding for -0 and 0: the index orders them as equal (members
     * of both sort by member bytes), and it decodes as +0. */
    assert_true(enc(-0.0) == enc(0.0));
    double d = roundTrip(-0.0);
    assert_true(d == 0 && !signbit(d));
}

/* ---- Order -------------------------------------------------------------- */

static void test_sign_and_infinity_order(void **state) {
    (void)state;
    assert_true(enc(-INFINITY) < enc(-DBL_MAX));
    assert_true(enc(-DBL_MAX) < enc(-1.0));
    assert_true(enc(-4.9e-324) < enc(0.0));
    assert_true(enc(0.0) < enc(4.9e-324));
    assert_true(enc(1.0) < enc(DBL_MAX));
    assert_true(enc(DBL_MAX) < enc(INFINITY));
    /* stZsetIterNew seeks to enc(score) + 1: it must not wrap at +inf. */
    assert_true(enc(INFINITY) < UINT64_MAX);
    /* Negative scores order backwards as bits: -2 < -1. */
    assert_true(enc(-2.0) < enc(-1.0));
}

static void test_byte_order_is_numeric_order(void **state) {
    (void)state;
    enum { N = 100000 };
    double *v = malloc(sizeof(double) * N);
    for (int i = 0; i < N; i++) {
        /* Half any bit pattern, half ordinary magnitudes with ties. */
        v[i] = (i & 1) ? rngDouble() : (double)((int64_t)(rng() % 2001) - 1000) / 8.0;
    }
    v[0] = INFINITY;
    v[1] = -INFINITY;
    v[2] = -0.0;
    v[3] = 0.0;
    qsort(v, N, sizeof(double), cmpDouble);
    for (int i = 1; i < N; i++) {
        char a[ENC_SCORE_BYTES], b[ENC_SCORE_BYTES];
        encScore(a, v[i - 1]);
        encScore(b, v[i]);
        int c = memcmp(a, b, sizeof(a));
        if (v[i - 1] == v[i]) assert_int_equal(c, 0);
        else assert_true(c < 0);
    }
    free(v);
}

static void test_adjacent_doubles_are_adjacent_encodings(void **state) {
    (void)state;
    /* "S + 1" is the first key above every member of score S: adjacent
     * doubles must be adjacent (or, around zero, one gap apart). */
    for (int i = 0; i < 100000; i++) {
        double d = rngDouble();
        if (isinf(d) && d > 0) continue;
        double next = nextafter(d, INFINITY);
        if (d == 0 || next == 0) continue;
        assert_true(enc(next) == enc(d) + 1);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_special_values),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_negative_zero_is_zero),
        cmocka_unit_test(test_sign_and_infinity_order),
        cmocka_unit_test(test_byte_order_is_numeric_order),
        cmocka_unit_test(test_adjacent_doubles_are_adjacent_encodings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

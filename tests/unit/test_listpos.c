/* test_listpos.c - cmocka tests of list position ids (storage/encoding.c:
 * encListPos, encListPosBetween, encListPosDecode): byte order is list
 * order, a position made between two neighbours lies strictly between them
 * (gapped, adjacent and equal ordinals, both near_lo hints), no fraction
 * ends in the digit 0x01, and the ids stay short under 10,000 inserts at
 * one spot in every repeated pattern LINSERT produces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../storage/encoding.h"

#define ORIGIN 0x0102030405060708ULL
#define GROWTH_INSERTS 10000
/* 10,000 inserts at one spot may add at most this many fraction bytes: the
 * patterns below add one byte per 127 to 254 inserts (about 80 bytes). */
#define GROWTH_MAX_FRAC_BYTES 100

/* ---- Helpers ------------------------------------------------------------ */

/* A position in a heap block of exactly its size, so ASan sees any read past
 * the end. */
typedef struct pos {
    char *b;
    size_t n;
} pos;

static int bytesCmp(const char *a, size_t al, const char *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c) return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

static int posCmp(const pos *a, const pos *b) { return bytesCmp(a->b, a->n, b->b, b->n); }

static pos posDup(const char *src, size_t n) {
    pos p = {malloc(n), n};
    memcpy(p.b, src, n);
    return p;
}

static pos ordinal(int64_t o) {
    char buf[ENC_LISTPOS_MIN_BYTES];
    size_t n = encListPos(buf, o, ORIGIN);
    assert_int_equal(n, ENC_LISTPOS_MIN_BYTES);
    return posDup(buf, n);
}

/* A valid position: decodes, and its fraction never ends in 0x01. */
static void assertWellFormed(const pos *p) {
    int64_t o;
    const char *f;
    size_t fl;
    uint64_t origin;
    assert_int_equal(encListPosDecode(p->b, p->n, &o, &f, &fl, &origin), 0);
    assert_true(origin == ORIGIN);
    if (fl) assert_int_not_equal((unsigned char)f[fl - 1], 0x01);
}

static size_t fracLen(const pos *p) { return p->n - ENC_LISTPOS_MIN_BYTES; }

/* encListPosBetween into an exact-size block; n == 0 when nothing fits. */
static pos between(const pos *lo, const pos *hi, int near_lo) {
    char *buf = malloc(ENC_LISTPOS_MAX_BYTES);
    size_t n = encListPosBetween(buf, lo ? lo->b : NULL, lo ? lo->n : 0, hi ? hi->b : NULL,
                                 hi ? hi->n : 0, near_lo, ORIGIN);
    pos p = {NULL, 0};
    if (n) p = posDup(buf, n);
    free(buf);
    return p;
}

/* between() that must succeed, strictly between lo and hi. */
static pos betweenOk(const pos *lo, const pos *hi, int near_lo) {
    pos p = between(lo, hi, near_lo);
    assert_true(p.n > 0);
    assertWellFormed(&p);
    if (lo) assert_true(posCmp(lo, &p) < 0);
    if (hi) assert_true(posCmp(&p, hi) < 0);
    return p;
}

/* A position with an explicit fraction (digits must be 0x01..0xFF). */
static pos withFrac(int64_t o, const char *frac, size_t flen) {
    char buf[ENC_LISTPOS_MAX_BYTES];
    encListPos(buf, o, ORIGIN);
    memmove(buf + 8 + flen, buf + 8, 9);
    memcpy(buf + 8, frac, flen);
    return posDup(buf, ENC_LISTPOS_MIN_BYTES + flen);
}

/* ---- Ordering ---------------------------------------------------------- */

static void test_ordinals_sort_as_integers(void **state) {
    (void)state;
    int64_t ords[] = {INT64_MIN, -1000000, -2, -1, 0, 1, 2, 255, 256, 1000000, INT64_MAX};
    size_t n = sizeof(ords) / sizeof(ords[0]);
    for (size_t i = 0; i + 1 < n; i++) {
        pos a = ordinal(ords[i]), b = ordinal(ords[i + 1]);
        assertWellFormed(&a);
        assert_true(posCmp(&a, &b) < 0);
        int64_t o;
        const char *f;
        size_t fl;
        uint64_t origin;
        assert_int_equal(encListPosDecode(a.b, a.n, &o, &f, &fl, &origin), 0);
        assert_true(o == ords[i]);
        assert_int_equal(fl, 0);
        free(a.b);
        free(b.b);
    }
}

static void test_fraction_orders_within_ordinal(void **state) {
    (void)state;
    /* (0) < (0, 01 80) < (0, 02) < (0, 02 01 80) < (0, 7F) < (0, FF FF) < (1) */
    pos p[] = {ordinal(0),
               withFrac(0, "\x01\x80", 2),
               withFrac(0, "\x02", 1),
               withFrac(0, "\x02\x01\x80", 3),
               withFrac(0, "\x7f", 1),
               withFrac(0, "\xff\xff", 2),
               ordinal(1)};
    size_t n = sizeof(p) / sizeof(p[0]);
    for (size_t i = 0; i < n; i++) {
        assertWellFormed(&p[i]);
        for (size_t j = i + 1; j < n; j++) assert_true(posCmp(&p[i], &p[j]) < 0);
    }
    for (size_t i = 0; i < n; i++) free(p[i].b);
}

static void test_decode_rejects_garbage(void **state) {
    (void)state;
    int64_t o;
    const char *f;
    size_t fl;
    uint64_t origin;
    pos a = ordinal(5);
    assert_int_equal(encListPosDecode(a.b, a.n - 1, &o, &f, &fl, &origin), -1);
    char bad[ENC_LISTPOS_MIN_BYTES + 2];
    memcpy(bad, a.b, 8);
    bad[8] = 0x05;
    bad[9] = 0x00; /* a zero digit inside the fraction */
    bad[10] = 0x00;
    memcpy(bad + 11, a.b + 9, 8);
    assert_int_equal(encListPosDecode(bad, sizeof(bad) - 0, &o, &f, &fl, &origin), -1);
    free(a.b);
}

/* ---- Between two neighbours ------------------------------------------------ */

static void test_gapped_ordinals_take_an_ordinal(void **state) {
    (void)state;
    pos lo = ordinal(10), hi = ordinal(20);
    pos a = betweenOk(&lo, &hi, 1), b = betweenOk(&lo, &hi, 0);
    pos ea = ordinal(11), eb = ordinal(19);
    assert_int_equal(posCmp(&a, &ea), 0); /* just above lo */
    assert_int_equal(posCmp(&b, &eb), 0); /* just below hi */
    free(a.b), free(b.b), free(ea.b), free(eb.b), free(lo.b), free(hi.b);
}

static void test_open_ends_move_the_ordinal(void **state) {
    (void)state;
    pos m = withFrac(7, "\x33", 1);
    pos before = betweenOk(NULL, &m, 0), after = betweenOk(&m, NULL, 1);
    pos e6 = ordinal(6), e8 = ordinal(8);
    assert_int_equal(posCmp(&before, &e6), 0);
    assert_int_equal(posCmp(&after, &e8), 0);
    pos minp = ordinal(INT64_MIN), maxp = ordinal(INT64_MAX);
    assert_int_equal(between(NULL, &minp, 0).n, 0);
    assert_int_equal(between(&maxp, NULL, 0).n, 0);
    assert_int_equal(between(NULL, NULL, 0).n, 0);
    free(m.b), free(before.b), free(after.b), free(e6.b), free(e8.b), free(minp.b), free(maxp.b);
}

static void test_adjacent_ordinals_use_a_fraction(void **state) {
    (void)state;
    for (int near_lo = 0; near_lo <= 1; near_lo++) {
        pos lo = ordinal(3), hi = ordinal(4);
        pos p = betweenOk(&lo, &hi, near_lo);
        int64_t o;
        const char *f;
        size_t fl;
        uint64_t origin;
        assert_int_equal(encListPosDecode(p.b, p.n, &o, &f, &fl, &origin), 0);
        assert_true(o == 3 && fl > 0);
        /* Only lo bounds the fraction: it lands next to lo, whatever the hint. */
        assert_memory_equal(f, "\x01\x80", 2);
        free(p.b), free(lo.b), free(hi.b);
    }
    /* lo with a fraction ending in 0xFF digits still has room above. */
    pos lo = withFrac(3, "\xff\xff", 2), hi = ordinal(4);
    pos p = betweenOk(&lo, &hi, 1);
    free(p.b), free(lo.b), free(hi.b);
}

static void test_equal_ordinals_both_hints(void **state) {
    (void)state;
    struct {
        const char *lo, *hi;
        size_t ll, hl;
    } cases[] = {
        {"", "\x80", 0, 1},          {"\x10", "\x20", 1, 1},      {"\x10", "\x11", 1, 1},
        {"\x10", "\x10\x80", 1, 2},  {"", "\x01\x80", 0, 2},      {"\x05\xff", "\x06", 2, 1},
        {"\x05\xff\xff", "\x06\x01\x80", 3, 3}, {"\x7f", "\x80", 1, 1},
        {"\x01\x01\x80", "\x01\x02", 3, 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int near_lo = 0; near_lo <= 1; near_lo++) {
            pos lo = withFrac(9, cases[i].lo, cases[i].ll), hi = withFrac(9, cases[i].hi, cases[i].hl);
            pos p = betweenOk(&lo, &hi, near_lo);
            free(p.b), free(lo.b), free(hi.b);
        }
    }
    /* Equal lengths: the hint decides the side. */
    pos lo = withFrac(9, "\x10", 1), hi = withFrac(9, "\x20", 1);
    pos a = betweenOk(&lo, &hi, 1), b = betweenOk(&lo, &hi, 0);
    pos ea = withFrac(9, "\x11", 1), eb = withFrac(9, "\x1f", 1);
    assert_int_equal(posCmp(&a, &ea), 0);
    assert_int_equal(posCmp(&b, &eb), 0);
    free(a.b), free(b.b), free(ea.b), free(eb.b), free(lo.b), free(hi.b);
}

static void test_nothing_between_refused(void **state) {
    (void)state;
    pos a = ordinal(5), b = ordinal(4);
    assert_int_equal(between(&a, &b, 1).n, 0);      /* lo > hi */
    assert_int_equal(between(&a, &a, 1).n, 0);      /* equal */
    pos f1 = withFrac(5, "\x20", 1), f0 = withFrac(5, "\x10", 1);
    assert_int_equal(between(&f1, &f0, 0).n, 0);    /* lo > hi on the fraction */
    pos pre = withFrac(5, "\x20\x05", 2);
    assert_int_equal(between(&pre, &f1, 0).n, 0);   /* hi a prefix of lo: hi < lo */
    /* Equal ordinal and fraction, another origin: no room between. */
    pos other = posDup(f1.b, f1.n);
    other.b[other.n - 1] ^= 0x7f;
    pos *l = posCmp(&f1, &other) < 0 ? &f1 : &other, *h = l == &f1 ? &other : &f1;
    assert_int_equal(between(l, h, 1).n, 0);
    free(a.b), free(b.b), free(f1.b), free(f0.b), free(pre.b), free(other.b);
}

/* Random inserts into a growing sorted list of positions: every result is
 * strictly between its neighbours and well formed (never ends in 0x01). */
static void test_random_inserts_stay_ordered(void **state) {
    (void)state;
    enum { N = 3000 };
    pos *list = calloc(N + 2, sizeof(pos));
    size_t n = 0;
    list[n++] = ordinal(0);
    srand(12345);
    for (int i = 0; i < N; i++) {
        size_t at = (size_t)rand() % (n + 1); /* insert before list[at] */
        const pos *lo = at ? &list[at - 1] : NULL, *hi = at < n ? &list[at] : NULL;
        pos p = between(lo, hi, rand() & 1);
        if (!p.n) continue; /* the fraction limit: callers respace */
        assertWellFormed(&p);
        if (lo) assert_true(posCmp(lo, &p) < 0);
        if (hi) assert_true(posCmp(&p, hi) < 0);
        memmove(&list[at + 1], &list[at], (n - at) * sizeof(pos));
        list[at] = p;
        n++;
    }
    for (size_t i = 0; i + 1 < n; i++) assert_true(posCmp(&list[i], &list[i + 1]) < 0);
    for (size_t i = 0; i < n; i++) free(list[i].b);
    free(list);
}

/* ---- Growth under repeated inserts at one spot ------------------------------ */

/* The LINSERT patterns: lo and hi are the neighbours of the spot.  near_lo
 * is what coll.c passes: 1 for BEFORE a pivot, 0 for AFTER. */
enum { SAME_PIVOT_BEFORE, SAME_PIVOT_AFTER, BEFORE_NEWEST, AFTER_NEWEST };

static size_t growth(int pattern, int64_t lo_ord, int64_t hi_ord) {
    pos lo = ordinal(lo_ord), hi = ordinal(hi_ord);
    size_t maxfrac = 0;
    for (int i = 0; i < GROWTH_INSERTS; i++) {
        int near_lo = pattern == SAME_PIVOT_BEFORE || pattern == BEFORE_NEWEST;
        pos p = betweenOk(&lo, &hi, near_lo);
        if (fracLen(&p) > maxfrac) maxfrac = fracLen(&p);
        /* The new element becomes the neighbour on the pivot's far side
         * (same pivot) or the next pivot (newest). */
        if (pattern == SAME_PIVOT_BEFORE || pattern == AFTER_NEWEST) {
            free(lo.b);
            lo = p;
        } else {
            free(hi.b);
            hi = p;
        }
    }
    free(lo.b);
    free(hi.b);
    return maxfrac;
}

static void test_growth_is_bounded(void **state) {
    (void)state;
    for (int pattern = SAME_PIVOT_BEFORE; pattern <= AFTER_NEWEST; pattern++) {
        /* Adjacent ordinals (a list built by pushes) and a wide gap. */
        size_t adj = growth(pattern, 0, 1), gap = growth(pattern, 0, 1000);
        assert_true(adj <= GROWTH_MAX_FRAC_BYTES);
        assert_true(gap <= GROWTH_MAX_FRAC_BYTES);
        print_message("pattern %d: fraction %zu bytes (adjacent), %zu (gap)\n", pattern, adj, gap);
    }
}

/* Bisection towards one side grows a byte per insert: the limit is reached
 * and reported (0), and nothing is written past ENC_LISTPOS_MAX_BYTES. */
static void test_adversarial_growth_hits_the_limit(void **state) {
    (void)state;
    pos lo = ordinal(0), hi = ordinal(1);
    int i, refused = 0;
    for (i = 0; i < 4 * ENC_LISTPOS_MAX_BYTES; i++) {
        /* Always between lo and the newest, alternating which side moves:
         * both neighbours keep the same length. */
        pos p = between(&lo, &hi, i & 1);
        if (!p.n) {
            refused = 1;
            break;
        }
        assert_true(p.n <= ENC_LISTPOS_MAX_BYTES);
        assertWellFormed(&p);
        assert_true(posCmp(&lo, &p) < 0 && posCmp(&p, &hi) < 0);
        if (i & 1) {
            free(lo.b);
            lo = p;
        } else {
            free(hi.b);
            hi = p;
        }
    }
    print_message("adversarial: refused after %d inserts\n", i);
    assert_true(refused);
    free(lo.b);
    free(hi.b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordinals_sort_as_integers),
        cmocka_unit_test(test_fraction_orders_within_ordinal),
        cmocka_unit_test(test_decode_rejects_garbage),
        cmocka_unit_test(test_gapped_ordinals_take_an_ordinal),
        cmocka_unit_test(test_open_ends_move_the_ordinal),
        cmocka_unit_test(test_adjacent_ordinals_use_a_fraction),
        cmocka_unit_test(test_equal_ordinals_both_hints),
        cmocka_unit_test(test_nothing_between_refused),
        cmocka_unit_test(test_random_inserts_stay_ordered),
        cmocka_unit_test(test_growth_is_bounded),
        cmocka_unit_test(test_adversarial_growth_hits_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_sha1.c - cmocka tests for server/sha1.c: the FIPS 180-1 test vectors,
 * padding boundaries, and streaming in arbitrary pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/sha1.h"

/* ================================ Helpers ================================= */

static void digestHex(const unsigned char d[SHA1_DIGEST_BYTES], char out[41]) {
    int i;
    for (i = 0; i < SHA1_DIGEST_BYTES; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void hexEq(const void *data, size_t len, const char *want) {
    char hex[41];
    sha1Hex(data, len, hex);
    assert_string_equal(hex, want);
}

/* ============================= FIPS vectors =============================== */

static void test_fips_abc(void **state) {
    (void)state;
    hexEq("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

static void test_fips_448_bit(void **state) {
    static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    (void)state;
    assert_int_equal(strlen(msg) * 8, 448);
    hexEq(msg, strlen(msg), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

static void test_fips_million_a(void **state) {
    unsigned char d[SHA1_DIGEST_BYTES];
    char hex[41];
    char chunk[1000];
    sha1Ctx ctx;
    int i;
    (void)state;

    memset(chunk, 'a', sizeof(chunk));
    sha1Init(&ctx);
    for (i = 0; i < 1000; i++) sha1Update(&ctx, chunk, sizeof(chunk));
    sha1Final(&ctx, d);
    digestHex(d, hex);
    assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");

    /* The same million bytes one-shot. */
    char *all = malloc(1000000);
    assert_non_null(all);
    memset(all, 'a', 1000000);
    hexEq(all, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(all);
}

static void test_empty_and_896_bit(void **state) {
    static const char msg[] =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
        "klmnopqrlmnopqrsmnopqrstnopqrstu";
    (void)state;
    hexEq("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    hexEq(msg, strlen(msg), "a49b2446a02c645bf419f995b67091253a04a259");
}

/* ======================= Padding and streaming ============================ */

static void test_padding_boundaries(void **state) {
    /* Lengths around the 56-byte padding cut and block edges. */
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {57, "f08f24908d682555111be7ff6f004e78283d989a"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
        {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
        {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
        {128, "ad5b3fdbcb526778c2839d2f151ea753995e26a0"},
    };
    char buf[128];
    size_t i;
    (void)state;
    memset(buf, 'a', sizeof(buf));
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) hexEq(buf, v[i].n, v[i].hex);
}

static void test_streaming_any_split(void **state) {
    unsigned char data[1024], d[SHA1_DIGEST_BYTES];
    char hex[41];
    size_t a, b, i;
    sha1Ctx ctx;
    (void)state;

    for (i = 0; i < sizeof(data); i++) data[i] = (unsigned char)i;
    /* Every 3-way split of the first 200 bytes... */
    char want[41];
    sha1Hex(data, 200, want);
    for (a = 0; a <= 200; a++) {
        for (b = a; b <= 200; b += 7) {
            sha1Init(&ctx);
            sha1Update(&ctx, data, a);
            sha1Update(&ctx, data + a, b - a);
            sha1Update(&ctx, data + b, 200 - b);
            sha1Final(&ctx, d);
            digestHex(d, hex);
            assert_string_equal(hex, want);
        }
    }
    /* ...and byte-at-a-time over all 1024 bytes (0x00..0xff four times). */
    sha1Init(&ctx);
    for (i = 0; i < sizeof(data); i++) sha1Update(&ctx, data + i, 1);
    sha1Final(&ctx, d);
    digestHex(d, hex);
    assert_string_equal(hex, "5b00669c480d5cffbdfa8bdba99561160f2d1b77");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_abc),
        cmocka_unit_test(test_fips_448_bit),
        cmocka_unit_test(test_fips_million_a),
        cmocka_unit_test(test_empty_and_896_bit),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_streaming_any_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

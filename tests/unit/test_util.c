/* test_util.c - cmocka tests for server/util.c: Redis-exact number parsing and
 * formatting, glob matching (including Redis's quirks), strbuf, clocks and
 * bytesToHuman.  Expected values were checked against redis-server 7.0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/util.h"

/* ============================== string2ll ================================= */

static int ll(const char *s, long long *v) {
    return string2ll(s, strlen(s), v);
}

static void test_string2ll_accepts(void **state) {
    long long v = 12345;
    (void)state;
    assert_true(ll("0", &v));
    assert_int_equal(v, 0);
    assert_true(ll("1", &v));
    assert_int_equal(v, 1);
    assert_true(ll("-1", &v));
    assert_int_equal(v, -1);
    assert_true(ll("9223372036854775807", &v));
    assert_true(v == LLONG_MAX);
    assert_true(ll("-9223372036854775808", &v));
    assert_true(v == LLONG_MIN);
    assert_true(ll("1234567890", &v));
    assert_int_equal(v, 1234567890);
    /* Length-delimited: bytes after slen are ignored. */
    assert_true(string2ll("42abc", 2, &v));
    assert_int_equal(v, 42);
    /* NULL out just validates. */
    assert_true(string2ll("7", 1, NULL));
}

static void test_string2ll_rejects(void **state) {
    static const char *bad[] = {
        "", "-", "+", "+1", " 1", "1 ", "01", "00", "-0", "-01", "1a", "a1", "--1",
        "9223372036854775808", "-9223372036854775809", "18446744073709551615",
        "18446744073709551616", "99999999999999999999", "123456789012345678901",
        "0x10", "1e3", "1.0", "\t1",
    };
    long long v = 777;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ll(bad[i], &v)) fail_msg("string2ll accepted \"%s\"", bad[i]);
    }
    assert_int_equal(v, 777); /* untouched on failure */
    assert_false(string2ll("1\0", 2, &v));
}

static void test_string2ull(void **state) {
    unsigned long long v = 0;
    (void)state;
    assert_true(string2ull("18446744073709551615", 20, &v));
    assert_true(v == ULLONG_MAX);
    assert_true(string2ull("0", 1, &v));
    assert_true(v == 0);
    assert_false(string2ull("18446744073709551616", 20, &v));
    assert_false(string2ull("-1", 2, &v));
    assert_false(string2ull("-0", 2, &v));
    assert_false(string2ull("+1", 2, &v));
    assert_false(string2ull(" 1", 2, &v));
    assert_false(string2ull("01", 2, &v));
    assert_false(string2ull("", 0, &v));
}

/* ========================= string2ld / string2d =========================== */

static void test_string2ld(void **state) {
    long double v;
    (void)state;
    assert_true(string2ld("10.5", 4, &v));
    assert_true(v == 10.5L);
    assert_true(string2ld("5.0e3", 5, &v));
    assert_true(v == 5000.0L);
    assert_true(string2ld("-0", 2, &v));
    assert_true(string2ld("inf", 3, &v));
    assert_true(isinf(v));
    assert_true(string2ld("1e4000", 6, &v)); /* fits an x87 long double */
    assert_false(string2ld("nan", 3, &v));
    assert_false(string2ld(" 1", 2, &v));
    assert_false(string2ld("1 ", 2, &v));
    assert_false(string2ld("", 0, &v));
    assert_false(string2ld("abc", 3, &v));
    assert_false(string2ld("1e99999", 7, &v));  /* overflow */
    assert_false(string2ld("1e-99999", 8, &v)); /* underflow to zero */
}

static void test_string2d(void **state) {
    double v;
    char big[300];
    (void)state;
    assert_true(string2d("0.1", 3, &v));
    assert_true(v == 0.1);
    assert_true(string2d("-inf", 4, &v));
    assert_true(isinf(v) && v < 0);
    assert_true(string2d("+1.5", 4, &v)); /* strtod's rules: '+' is fine */
    assert_false(string2d("nan", 3, &v));
    assert_false(string2d("1e400", 5, &v));
    assert_false(string2d("1e-400", 6, &v));
    assert_false(string2d(" 1", 2, &v));
    assert_false(string2d("1x", 2, &v));
    assert_false(string2d("", 0, &v));
    /* Long input takes the heap path and obeys the same rules. */
    memset(big, '0', sizeof(big));
    big[0] = '1';
    assert_true(string2d(big, 200, &v));
    assert_true(v == 1e199);
    big[250] = 'x';
    assert_false(string2d(big, 251, &v));
}

/* ========================== Number formatting ============================= */

static void test_ll2string(void **state) {
    char buf[32];
    (void)state;
    assert_int_equal(ll2string(buf, sizeof(buf), 0), 1);
    assert_string_equal(buf, "0");
    assert_int_equal(ll2string(buf, sizeof(buf), -7), 2);
    assert_string_equal(buf, "-7");
    assert_int_equal(ll2string(buf, sizeof(buf), LLONG_MAX), 19);
    assert_string_equal(buf, "9223372036854775807");
    assert_int_equal(ll2string(buf, sizeof(buf), LLONG_MIN), 20);
    assert_string_equal(buf, "-9223372036854775808");
    assert_int_equal(ll2string(buf, sizeof(buf), 1000000), 7);
    assert_string_equal(buf, "1000000");
    assert_int_equal(ll2string(buf, sizeof(buf), 99), 2);
    assert_string_equal(buf, "99");
    assert_int_equal(ull2string(buf, sizeof(buf), ULLONG_MAX), 20);
    assert_string_equal(buf, "18446744073709551615");
    /* Too small a buffer: 0, nothing half-written past it. */
    assert_int_equal(ll2string(buf, 3, 123), 0);
    assert_int_equal(ll2string(buf, 4, 123), 3);
    assert_int_equal(ll2string(buf, 3, -12), 0);
}

static void test_ll2string_roundtrip(void **state) {
    char buf[32];
    long long v, back;
    int i;
    (void)state;
    srand(1234);
    for (i = 0; i < 100000; i++) {
        v = (long long)(((unsigned long long)rand() << 40) ^ ((unsigned long long)rand() << 20) ^
                        (unsigned long long)rand());
        if (i & 1) v = -v;
        v >>= (i % 60);
        int n = ll2string(buf, sizeof(buf), v);
        assert_true(string2ll(buf, (size_t)n, &back));
        assert_true(back == v);
        char ref[32];
        snprintf(ref, sizeof(ref), "%lld", v);
        assert_string_equal(buf, ref);
    }
}

static void ldEq(long double v, const char *want) {
    char buf[512];
    int n = ld2string(buf, sizeof(buf), v);
    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);
}

static void test_ld2string_incrbyfloat_format(void **state) {
    long double a, b;
    char buf[8];
    (void)state;
    /* The INCRBYFLOAT replies of redis-server 7.0 for the same inputs. */
    assert_true(string2ld("10.5", 4, &a) && string2ld("0.1", 3, &b));
    ldEq(a + b, "10.6");
    assert_true(string2ld("5.0e3", 5, &a));
    ldEq(a, "5000");
    ldEq(3.0L, "3");
    assert_true(string2ld("0.1", 3, &a) && string2ld("0.2", 3, &b));
    ldEq(a + b, "0.3");
    assert_true(string2ld("1.5", 3, &a));
    ldEq(a - 3, "-1.5");
    ldEq(1e20L + 1, "100000000000000000000");
    ldEq(1e-20L, "0");
    ldEq(-1e-20L, "0"); /* "-0" is reported as "0" */
    ldEq(-0.0L, "0");
    ldEq(123456789012345678.0L, "123456789012345678");
    ldEq(0.5L, "0.5");
    ldEq(-2.25L, "-2.25");
    ldEq(INFINITY, "inf");
    ldEq(-INFINITY, "-inf");
    /* Does not fit: returns 0. */
    assert_int_equal(ld2string(buf, sizeof(buf), 1e20L), 0);
    assert_int_equal(ld2string(buf, 4, -INFINITY), 0);
}

static void dEq(double v, const char *want) {
    char buf[64];
    int n = d2string(buf, sizeof(buf), v);
    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);
}

static void test_d2string(void **state) {
    char small[4];
    (void)state;
    /* As redis-server 7.0 replies to ZSCORE over RESP2. */
    dEq(0.1, "0.10000000000000001");
    dEq(1e17, "1e+17");
    dEq(5000, "5000");
    dEq(1.5e-7, "1.4999999999999999e-07");
    dEq(-2.5, "-2.5");
    dEq(4503599627370495.0, "4503599627370495");
    dEq(4503599627370497.0, "4503599627370497");
    dEq(9007199254740993.0, "9007199254740992");
    dEq(0.0, "0");
    dEq(-0.0, "-0");
    dEq(INFINITY, "inf");
    dEq(-INFINITY, "-inf");
    dEq(NAN, "nan");
    dEq(1e300, "1.0000000000000001e+300");
    assert_int_equal(d2string(small, sizeof(small), 0.1), 0);
}

/* ============================= stringmatchlen ============================= */

static int m(const char *p, const char *s) {
    return stringmatchlen(p, strlen(p), s, strlen(s), 0);
}

static int mi(const char *p, const char *s) {
    return stringmatchlen(p, strlen(p), s, strlen(s), 1);
}

static void test_glob_basic(void **state) {
    (void)state;
    assert_true(m("*", "anything"));
    assert_true(m("h?llo", "hello"));
    assert_true(m("h?llo", "hallo"));
    assert_false(m("h?llo", "hllo"));
    assert_true(m("h*llo", "hllo"));
    assert_true(m("h*llo", "heeeello"));
    assert_true(m("h[ae]llo", "hello"));
    assert_false(m("h[ae]llo", "hillo"));
    assert_true(m("h[^e]llo", "hallo"));
    assert_false(m("h[^e]llo", "hello"));
    assert_true(m("h[a-b]llo", "hbllo"));
    assert_false(m("h[a-b]llo", "hcllo"));
    assert_true(m("user:*:name", "user:1000:name"));
    assert_false(m("user:*:name", "user:1000:nam"));
    assert_true(m("a*b*c", "aXbYc"));
    assert_false(m("a*b*c", "aXbY"));
    assert_true(m("abc", "abc"));
    assert_false(m("abc", "abcd"));
    assert_false(m("abcd", "abc"));
    assert_true(m("a**", "a"));
    assert_true(m("", ""));
    assert_false(m("", "a"));
}

static void test_glob_escapes_and_ranges(void **state) {
    (void)state;
    assert_true(m("\\*", "*"));
    assert_false(m("\\*", "a"));
    assert_true(m("a\\?", "a?"));
    assert_false(m("a\\?", "ab"));
    assert_true(m("\\[a]", "[a]"));
    assert_true(m("[\\]]", "]"));
    assert_true(m("[a\\-z]", "-"));
    assert_false(m("[a\\-z]", "m"));
    /* Reversed range is swapped. */
    assert_true(m("[z-a]", "m"));
    assert_true(m("[b-a]", "a"));
    assert_false(m("[z-b]", "a"));
    /* Trailing backslash matches a literal backslash. */
    assert_true(m("a\\", "a\\"));
    assert_false(m("a\\", "a"));
    /* Unterminated class acts as if closed at the end. */
    assert_true(m("[abc", "a"));
    assert_false(m("[abc", "[abc"));
    assert_false(m("[", "["));
    assert_true(m("[^", "x"));
    assert_true(m("[a-", "-"));
    assert_true(m("[a-", "a"));
    /* A '-' at the edge is literal. */
    assert_true(m("[-a]", "-"));
    /* ...but in "[a-]" the ']' is the range end (a..']' swapped, so ']' to
     * 'a') and the class runs to the end of the pattern. */
    assert_false(m("[a-]", "-"));
    assert_true(m("[a-]", "_"));
}

static void test_glob_redis_quirks(void **state) {
    char pat[2200], str[1200];
    int i;
    (void)state;
    /* Empty string never matches a non-empty pattern, not even "**" (checked
     * with KEYS ** on redis-server 7.0; only the KEYS "*" fast path differs). */
    assert_false(m("*", ""));
    assert_false(m("**", ""));
    assert_false(m("?", ""));
    /* Escaped bytes inside a class compare exactly even with nocase. */
    assert_false(mi("[\\A]", "a"));
    assert_true(mi("[A]", "a"));
    /* Nesting: 1001 '*' groups match, 1002 do not (redis-server 7.0.15). */
    memset(str, 'a', 1100);
    str[1100] = '\0';
    for (i = 0; i < 1001; i++) memcpy(pat + 2 * i, "a*", 2);
    pat[2002] = '\0';
    assert_true(m(pat, str));
    memcpy(pat + 2002, "a*", 3);
    assert_false(m(pat, str));
    /* Bytes compare as signed char, as on x86 Redis: [a-\xff] is \xff..a. */
    assert_true(m("[a-\xff]", "A"));
    assert_false(m("[a-\xff]", "z"));
    assert_true(m("[\x80-\xff]", "\x90"));
}

static void test_glob_nocase(void **state) {
    (void)state;
    assert_true(mi("HELLO", "hello"));
    assert_true(mi("h*O", "HellO"));
    assert_true(mi("[A-C]x", "bX"));
    assert_true(mi("[a-c]x", "BX"));
    assert_false(m("HELLO", "hello"));
    assert_false(m("[A-C]", "b"));
}

static void test_glob_pathological_is_fast(void **state) {
    char pat[200], str[5000];
    int i;
    (void)state;
    /* Exponential without the skip-longer-matches cut; must return at once. */
    for (i = 0; i < 40; i++) memcpy(pat + 2 * i, "a*", 2);
    memcpy(pat + 80, "b", 2);
    memset(str, 'a', 4000);
    str[4000] = '\0';
    assert_false(m(pat, str));
    /* Binary data with explicit lengths. */
    assert_true(stringmatchlen("a?c", 3, "a\0c", 3, 0));
    assert_false(stringmatchlen("a*", 2, "b\0", 2, 0));
}

/* ================================= strbuf ================================= */

static void test_strbuf(void **state) {
    strbuf b;
    size_t i, last_cap = 0;
    int cap_changes = 0;
    char big[5000];
    (void)state;

    sbInit(&b);
    assert_null(b.buf);
    assert_int_equal(b.len, 0);
    sbAppendStr(&b, "hello");
    sbAppend(&b, " ", 1);
    sbAppend(&b, "world!!", 5);
    assert_int_equal(b.len, 11);
    assert_string_equal(b.buf, "hello world");
    sbPrintf(&b, " %d-%s", 42, "x");
    assert_string_equal(b.buf, "hello world 42-x");
    /* A printf result larger than the free space. */
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sbPrintf(&b, "%s!", big);
    assert_int_equal(b.len, 16 + 4999 + 1);
    assert_int_equal(b.buf[b.len - 1], '!');
    assert_int_equal(b.buf[b.len], '\0');
    sbClear(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.buf, "");
    assert_true(b.cap > 5000); /* capacity kept */
    sbFree(&b);
    assert_null(b.buf);

    /* Amortised growth: 1M one-byte appends, logarithmically many resizes. */
    sbInit(&b);
    for (i = 0; i < 1000000; i++) {
        char c = (char)('a' + i % 26);
        sbAppend(&b, &c, 1);
        if (b.cap != last_cap) {
            cap_changes++;
            last_cap = b.cap;
        }
        assert_true(b.cap > b.len);
    }
    assert_int_equal(b.len, 1000000);
    assert_true(cap_changes <= 20);
    assert_int_equal(b.buf[999999], 'a' + 999999 % 26);
    assert_int_equal(b.buf[1000000], '\0');
    /* Reserve then write directly. */
    sbClear(&b);
    sbReserve(&b, 10);
    assert_true(b.cap >= 11);
    sbFree(&b);
    sbAppend(&b, "", 0);
    assert_non_null(b.buf);
    assert_string_equal(b.buf, "");
    sbFree(&b);
}

/* ============================= Clocks, human ============================== */

static void test_clocks(void **state) {
    uint64_t us, ms, m1, m2;
    (void)state;
    us = ustime();
    ms = mstime();
    assert_true(us > 1600000000ULL * 1000000ULL); /* after 2020 */
    assert_true(ms >= us / 1000 && ms - us / 1000 < 1000);
    m1 = monotonic_us();
    m2 = monotonic_us();
    assert_true(m2 >= m1);
}

static void humanEq(unsigned long long n, const char *want) {
    char buf[64];
    bytesToHuman(buf, sizeof(buf), n);
    assert_string_equal(buf, want);
}

static void test_bytes_to_human(void **state) {
    char tiny[4];
    (void)state;
    humanEq(0, "0B");
    humanEq(1023, "1023B");
    humanEq(1024, "1.00K");
    humanEq(1536, "1.50K");
    humanEq(1024 * 1024 - 1, "1024.00K");
    humanEq(1024 * 1024, "1.00M");
    humanEq(1024ULL * 1024 * 1024 * 3 / 2, "1.50G");
    humanEq(1ULL << 40, "1.00T");
    humanEq(1ULL << 50, "1.00P");
    humanEq(1ULL << 60, "1152921504606846976B");
    bytesToHuman(tiny, sizeof(tiny), 1ULL << 30); /* truncated, terminated */
    assert_int_equal(strlen(tiny), 3);
}


/* ---- Connection policy ----------------------------------------------------- */

static void test_protected_mode(void **state)
{
    (void)state;
    assert_int_equal(protectedModeRefuses(1, NULL, 0), 1);
    assert_int_equal(protectedModeRefuses(1, "", 0), 1);
    assert_int_equal(protectedModeRefuses(1, "pw", 0), 0);
    assert_int_equal(protectedModeRefuses(0, NULL, 0), 0);
    assert_int_equal(protectedModeRefuses(1, NULL, 1), 0);
}

static void test_loopback_addresses(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    memset(&ss, 0, sizeof(ss));
    v4->sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &v4->sin_addr);
    assert_true(sockaddrIsLoopback(&ss));
    inet_pton(AF_INET, "127.255.0.9", &v4->sin_addr);
    assert_true(sockaddrIsLoopback(&ss));
    inet_pton(AF_INET, "10.0.0.1", &v4->sin_addr);
    assert_false(sockaddrIsLoopback(&ss));
    inet_pton(AF_INET, "128.0.0.1", &v4->sin_addr);
    assert_false(sockaddrIsLoopback(&ss));
    memset(&ss, 0, sizeof(ss));
    v6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::1", &v6->sin6_addr);
    assert_true(sockaddrIsLoopback(&ss));
    inet_pton(AF_INET6, "::ffff:127.0.0.2", &v6->sin6_addr);
    assert_true(sockaddrIsLoopback(&ss));
    inet_pton(AF_INET6, "::ffff:192.168.1.1", &v6->sin6_addr);
    assert_false(sockaddrIsLoopback(&ss));
    inet_pton(AF_INET6, "fe80::1", &v6->sin6_addr);
    assert_false(sockaddrIsLoopback(&ss));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string2ll_accepts),
        cmocka_unit_test(test_string2ll_rejects),
        cmocka_unit_test(test_string2ull),
        cmocka_unit_test(test_string2ld),
        cmocka_unit_test(test_string2d),
        cmocka_unit_test(test_ll2string),
        cmocka_unit_test(test_ll2string_roundtrip),
        cmocka_unit_test(test_ld2string_incrbyfloat_format),
        cmocka_unit_test(test_d2string),
        cmocka_unit_test(test_glob_basic),
        cmocka_unit_test(test_glob_escapes_and_ranges),
        cmocka_unit_test(test_glob_redis_quirks),
        cmocka_unit_test(test_glob_nocase),
        cmocka_unit_test(test_glob_pathological_is_fast),
        cmocka_unit_test(test_strbuf),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_bytes_to_human),
        cmocka_unit_test(test_protected_mode),
        cmocka_unit_test(test_loopback_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_encoding.c - cmocka tests of the on-disk codecs (storage/encoding.c):
 * round trips, byte order of encoded keys, and rejection of truncated or
 * garbage input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../storage/encoding.h"

/* ---- Helpers ------------------------------------------------------------------- */

/* memcmp order of two byte strings, as RocksDB's default comparator. */
static int bytesCmp(const char *a, size_t al, const char *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c) return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

static int sign(int x) { return (x > 0) - (x < 0); }

/* A malloc'd copy, so ASan catches any read past len. */
static char *dupExact(const char *src, size_t len) {
    char *p = malloc(len ? len : 1);
    memcpy(p, src, len);
    return p;
}

/* ---- Integers ---------------------------------------------------------------------- */

static void test_fixed_big_endian(void **state) {
    (void)state;
    char b[8];
    encPutU16(b, 0x1234);
    assert_memory_equal(b, "\x12\x34", 2);
    assert_int_equal(encGetU16(b), 0x1234);
    encPutU32(b, 0xA1B2C3D4u);
    assert_memory_equal(b, "\xA1\xB2\xC3\xD4", 4);
    assert_int_equal(encGetU32(b), 0xA1B2C3D4u);
    encPutU64(b, 0x0102030405060708ULL);
    assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_int_equal(encGetU64(b), 0x0102030405060708ULL);
    encPutU64LE(b, 0x0102030405060708ULL);
    assert_memory_equal(b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_int_equal(encGetU64LE(b), 0x0102030405060708ULL);
}

static void test_varint(void **state) {
    (void)state;
    const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, 1ULL << 35,
                             1700000000000ULL, UINT64_MAX - 1, UINT64_MAX};
    const size_t lens[] = {1, 1, 1, 2, 2, 2, 3, 6, 6, 10, 10};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        char b[ENC_VARINT_MAX_BYTES];
        size_t n = encPutVarint(b, vals[i]);
        assert_int_equal(n, lens[i]);
        uint64_t v = 0;
        assert_int_equal(encGetVarint(b, n, &v), n);
        assert_int_equal(v, vals[i]);
        /* Every truncation is rejected. */
        for (size_t t = 0; t < n; t++) assert_int_equal(encGetVarint(b, t, &v), 0);
    }
    uint64_t v;
    /* Overlong (non-shortest) form. */
    assert_int_equal(encGetVarint("\x80\x00", 2, &v), 0);
    /* 11 continuation bytes / 64-bit overflow in the 10th byte. */
    assert_int_equal(encGetVarint("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, &v), 0);
    assert_int_equal(encGetVarint("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10, &v), 0);
}

/* ---- Meta records -------------------------------------------------------------------- */

static void test_meta_key_roundtrip(void **state) {
    (void)state;
    char b[64];
    size_t n = encMetaKey(b, 513, "hello", 5);
    assert_int_equal(n, 7);
    assert_memory_equal(b, "\x02\x01hello", 7);
    uint16_t pdb;
    const char *k;
    size_t kl;
    assert_int_equal(encMetaKeyDecode(b, n, &pdb, &k, &kl), 0);
    assert_int_equal(pdb, 513);
    assert_int_equal(kl, 5);
    assert_memory_equal(k, "hello", 5);
    /* Empty key. */
    n = encMetaKey(b, 0, "", 0);
    assert_int_equal(encMetaKeyDecode(b, n, &pdb, &k, &kl), 0);
    assert_int_equal(kl, 0);
    assert_int_equal(encMetaKeyDecode(b, 1, &pdb, &k, &kl), -1);
    assert_int_equal(encMetaKeyDecode(b, 0, &pdb, &k, &kl), -1);
}

static void test_meta_key_order(void **state) {
    (void)state;
    /* Sorted by (db, key): encoded order must equal index order. */
    struct { uint16_t db; const char *key; size_t klen; } ks[] = {
        {0, "", 0}, {0, "a", 1}, {0, "ab", 2}, {0, "b", 1}, {0, "\xff", 1},
        {1, "", 0}, {1, "a", 1}, {2, "\x00", 1}, {2, "\x00\x00", 2},
        {255, "z", 1}, {256, "a", 1}, {65534, "zz", 2},
    };
    size_t n = sizeof(ks) / sizeof(ks[0]);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            char a[16], b[16];
            size_t al = encMetaKey(a, ks[i].db, ks[i].key, ks[i].klen);
            size_t bl = encMetaKey(b, ks[j].db, ks[j].key, ks[j].klen);
            assert_int_equal(sign(bytesCmp(a, al, b, bl)), (i > j) - (i < j));
        }
    }
}

static void test_meta_value_roundtrip(void **state) {
    (void)state;
    stMeta in = {.type = ST_TYPE_STRING, .flags = 3, .expire_ms = 1700000000123ULL,
                 .incarnation = 0, .count = 0, .hlc = (1700000000000ULL << 16) | 5,
                 .origin = 0xDEADBEEFCAFEF00DULL};
    char rec[ENC_META_HDR_MAX + 16];
    size_t h = encMetaValueHeader(rec, &in);
    assert_true(h <= ENC_META_HDR_MAX);
    assert_int_equal((unsigned char)rec[0], ENC_META_VERSION);
    memcpy(rec + h, "value", 5);
    char *exact = dupExact(rec, h + 5);
    stMeta out;
    const char *val;
    size_t vlen;
    assert_int_equal(encMetaValueDecode(exact, h + 5, &out, &val, &vlen), 0);
    assert_int_equal(out.type, in.type);
    assert_int_equal(out.flags, in.flags);
    assert_int_equal(out.expire_ms, in.expire_ms);
    assert_int_equal(out.incarnation, in.incarnation);
    assert_int_equal(out.count, in.count);
    assert_int_equal(out.hlc, in.hlc);
    assert_int_equal(out.origin, in.origin);
    assert_int_equal(vlen, 5);
    assert_memory_equal(val, "value", 5);
    /* Every strict prefix that cuts the header is rejected. */
    for (size_t t = 0; t < h; t++)
        assert_int_equal(encMetaValueDecode(exact, t, &out, &val, &vlen), -1);
    free(exact);

    /* Collections: large fields, empty value, max header size. */
    stMeta big = {.type = ST_TYPE_HASH, .expire_ms = UINT64_MAX, .incarnation = UINT64_MAX,
                  .count = UINT64_MAX, .hlc = UINT64_MAX, .origin = 1};
    h = encMetaValueHeader(rec, &big);
    assert_int_equal(h, ENC_META_HDR_MAX);
    assert_int_equal(encMetaValueDecode(rec, h, &out, &val, &vlen), 0);
    assert_int_equal(out.incarnation, UINT64_MAX);
    assert_int_equal(out.count, UINT64_MAX);
    assert_int_equal(vlen, 0);
    /* A plain string without expiry costs 22 bytes of header. */
    stMeta plain = {.type = ST_TYPE_STRING, .hlc = 1, .origin = 2};
    assert_int_equal(encMetaValueHeader(rec, &plain), 22);
}

static void test_meta_value_rejects_garbage(void **state) {
    (void)state;
    stMeta m = {.type = ST_TYPE_STRING, .hlc = 1, .origin = 2};
    char rec[ENC_META_HDR_MAX];
    size_t h = encMetaValueHeader(rec, &m);
    stMeta out;
    const char *val;
    size_t vlen;
    char bad[ENC_META_HDR_MAX];
    memcpy(bad, rec, h);
    bad[0] = 2; /* unknown version */
    assert_int_equal(encMetaValueDecode(bad, h, &out, &val, &vlen), -1);
    memcpy(bad, rec, h);
    bad[1] = 0; /* ST_TYPE_NONE */
    assert_int_equal(encMetaValueDecode(bad, h, &out, &val, &vlen), -1);
    bad[1] = 6; /* unknown type */
    assert_int_equal(encMetaValueDecode(bad, h, &out, &val, &vlen), -1);
    /* Garbage bytes: decode either fails or stays within bounds (ASan). */
    srand(1234);
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(rand() % 40);
        char *g = malloc(len ? len : 1);
        for (size_t j = 0; j < len; j++) g[j] = (char)rand();
        if (len) g[0] = ENC_META_VERSION;
        if (len > 1) g[1] = (char)(1 + rand() % 5);
        if (encMetaValueDecode(g, len, &out, &val, &vlen) == 0)
            assert_true(val >= g && val + vlen == g + len);
        free(g);
    }
}

/* ---- Expire index ---------------------------------------------------------------------- */

static void test_expire_key(void **state) {
    (void)state;
    char b[32];
    size_t n = encExpireKey(b, 1700000000123ULL, 7, "k1", 2);
    assert_int_equal(n, 12);
    char *exact = dupExact(b, n);
    uint64_t exp;
    uint16_t pdb;
    const char *k;
    size_t kl;
    assert_int_equal(encExpireKeyDecode(exact, n, &exp, &pdb, &k, &kl), 0);
    assert_int_equal(exp, 1700000000123ULL);
    assert_int_equal(pdb, 7);
    assert_int_equal(kl, 2);
    assert_memory_equal(k, "k1", 2);
    for (size_t t = 0; t < 10; t++)
        assert_int_equal(encExpireKeyDecode(exact, t, &exp, &pdb, &k, &kl), -1);
    free(exact);
}

static void test_expire_key_time_order(void **state) {
    (void)state;
    /* Sorted by time first, whatever the db and key. */
    struct { uint64_t t; uint16_t db; const char *key; } ks[] = {
        {1, 9, "zzz"}, {255, 0, "a"}, {256, 0, ""}, {1000, 3, "b"}, {1000, 4, "a"},
        {65536, 0, "a"}, {1700000000000ULL, 0, "x"}, {1700000000001ULL, 0, "a"},
        {UINT64_MAX, 0, ""},
    };
    size_t n = sizeof(ks) / sizeof(ks[0]);
    for (size_t i = 0; i + 1 < n; i++) {
        char a[32], b[32];
        size_t al = encExpireKey(a, ks[i].t, ks[i].db, ks[i].key, strlen(ks[i].key));
        size_t bl = encExpireKey(b, ks[i + 1].t, ks[i + 1].db, ks[i + 1].key, strlen(ks[i + 1].key));
        assert_true(bytesCmp(a, al, b, bl) < 0);
    }
    /* The scan's upper bound u64(now + 1) is above every entry due at now. */
    char e[32], bound[8];
    size_t el = encExpireKey(e, 5000, 65534, "\xff\xff", 2);
    encPutU64(bound, 5001);
    assert_true(bytesCmp(e, el, bound, 8) < 0);
    encPutU64(bound, 5000);
    assert_true(bytesCmp(e, el, bound, 8) > 0);
}

/* ---- Sub keys --------------------------------------------------------------------------- */

static void test_sub_key(void **state) {
    (void)state;
    char b[64];
    size_t n = encSubKey(b, 3, "myhash", 6, 42, "field", 5);
    assert_int_equal(n, ENC_SUB_KEY_LEN(6, 5));
    char p[64];
    size_t pn = encSubKeyPrefix(p, 3, "myhash", 6, 42);
    assert_int_equal(pn, ENC_SUB_PREFIX_LEN(6));
    assert_memory_equal(b, p, pn);
    char *exact = dupExact(b, n);
    uint16_t pdb;
    const char *k, *e;
    size_t kl, el;
    uint64_t inc;
    assert_int_equal(encSubKeyDecode(exact, n, &pdb, &k, &kl, &inc, &e, &el), 0);
    assert_int_equal(pdb, 3);
    assert_int_equal(kl, 6);
    assert_memory_equal(k, "myhash", 6);
    assert_int_equal(inc, 42);
    assert_int_equal(el, 5);
    assert_memory_equal(e, "field", 5);
    for (size_t t = 0; t < pn; t++)
        assert_int_equal(encSubKeyDecode(exact, t, &pdb, &k, &kl, &inc, &e, &el), -1);
    free(exact);
    /* A key length larger than the record. */
    memcpy(b, "\x00\x03\xff\xff\xff\xff", 6);
    assert_int_equal(encSubKeyDecode(b, n, &pdb, &k, &kl, &inc, &e, &el), -1);

    /* Key "a" and key "ab" never interleave: the length comes first. */
    char a1[64], a2[64], ab[64];
    size_t l1 = encSubKey(a1, 0, "a", 1, 1, "", 0);
    size_t l2 = encSubKey(a2, 0, "a", 1, 1, "\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9);
    size_t l3 = encSubKey(ab, 0, "ab", 2, 0, "", 0);
    assert_true(bytesCmp(a1, l1, ab, l3) < 0);
    assert_true(bytesCmp(a2, l2, ab, l3) < 0);
    /* Incarnations order numerically. */
    char i1[64], i2[64];
    size_t n1 = encSubKey(i1, 0, "k", 1, 255, "z", 1);
    size_t n2 = encSubKey(i2, 0, "k", 1, 256, "a", 1);
    assert_true(bytesCmp(i1, n1, i2, n2) < 0);
}

/* ---- Log header --------------------------------------------------------------------------- */

static void test_log_header(void **state) {
    (void)state;
    encLogHeader in = {0x1122334455667788ULL, 99, (1700000000000ULL << 16) | 1}, out;
    char b[ENC_LOG_HEADER_BYTES];
    encLogHeaderEncode(b, &in);
    assert_int_equal((unsigned char)b[0], ENC_LOG_HEADER_V1);
    assert_memory_equal(b + 1, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    char *exact = dupExact(b, sizeof(b));
    assert_int_equal(encLogHeaderDecode(exact, sizeof(b), &out), 0);
    assert_int_equal(out.origin, in.origin);
    assert_int_equal(out.seq, in.seq);
    assert_int_equal(out.hlc, in.hlc);
    for (size_t t = 0; t < sizeof(b); t++)
        assert_int_equal(encLogHeaderDecode(exact, t, &out), -1);
    free(exact);
    b[0] = 0x01;
    assert_int_equal(encLogHeaderDecode(b, sizeof(b), &out), -1);
}

/* ---- sys records ---------------------------------------------------------------------------- */

static void test_sys_records(void **state) {
    (void)state;
    char k[ENC_SYS_COUNT_KEY_LEN];
    encSysCountKey(k, 0x0102);
    assert_memory_equal(k, "count:\x01\x02", 8);
    char v[ENC_SYS_VV_KEY_LEN];
    encSysVvKey(v, 0xAABBCCDDEEFF0011ULL);
    assert_memory_equal(v, "vv:\xAA\xBB\xCC\xDD\xEE\xFF\x00\x11", 11);

    uint16_t map[4] = {2, 0, 3, 1}, out[4];
    char buf[8];
    size_t n = encDbMap(buf, map, 4), got = 0;
    assert_int_equal(n, 8);
    assert_int_equal(encDbMapDecode(buf, n, out, 4, &got), 0);
    assert_int_equal(got, 4);
    assert_memory_equal(out, map, sizeof(map));
    assert_int_equal(encDbMapDecode(buf, 7, out, 4, &got), -1); /* odd */
    assert_int_equal(encDbMapDecode(buf, 8, out, 3, &got), -1); /* too many */
    assert_int_equal(encDbMapDecode(buf, 0, out, 4, &got), -1); /* empty */
    uint16_t dup[3] = {0, 1, 1};
    n = encDbMap(buf, dup, 3);
    assert_int_equal(encDbMapDecode(buf, n, out, 4, &got), -1);
    uint16_t range[2] = {0, 2};
    n = encDbMap(buf, range, 2);
    assert_int_equal(encDbMapDecode(buf, n, out, 4, &got), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_big_endian),
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_meta_key_roundtrip),
        cmocka_unit_test(test_meta_key_order),
        cmocka_unit_test(test_meta_value_roundtrip),
        cmocka_unit_test(test_meta_value_rejects_garbage),
        cmocka_unit_test(test_expire_key),
        cmocka_unit_test(test_expire_key_time_order),
        cmocka_unit_test(test_sub_key),
        cmocka_unit_test(test_log_header),
        cmocka_unit_test(test_sys_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

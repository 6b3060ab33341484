/* test_crc32c.c - cmocka tests of storage/crc32c.c: the CRC-32C that takes
 * the place of librocksdb's.  Its values must be exactly RocksDB's (the WAL
 * and blob files on disk, and replicas, depend on them), and the executable
 * must export the symbol, or RocksDB keeps its slow loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dlfcn.h>

#include "../../storage/st_internal.h"

#define ROCKSDB_EXTEND_SYMBOL "_ZN7rocksdb6crc32c6ExtendEjPKcm"

/* RFC 3720 (iSCSI) appendix B.4 vectors and the usual check value. */
static void test_known_values(void **state) {
    (void)state;
    unsigned char buf[32];
    assert_int_equal(stCrc32c(0, "", 0), 0);
    assert_int_equal(stCrc32c(0, "123456789", 9), 0xE3069283u);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(stCrc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(stCrc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)i;
    assert_int_equal(stCrc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)(31 - i);
    assert_int_equal(stCrc32c(0, buf, 32), 0x113FDB5Cu);
    assert_int_equal(stCrc32cSoft(0, "123456789", 9), 0xE3069283u);
}

/* Every length and alignment the 8-byte loop can split differently, and
 * 8 KB values: ours, the byte-table reference and librocksdb's own agree,
 * also when a CRC is extended piece by piece. */
static void test_matches_rocksdb(void **state) {
    (void)state;
    size_t cap = 8192 + 64;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < cap; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; n <= 200; n++) {
            uint32_t want = stCrc32cLibrary(0, buf + off, n);
            assert_int_equal(stCrc32c(0, buf + off, n), want);
            assert_int_equal(stCrc32cSoft(0, buf + off, n), want);
            size_t cut = n / 3;
            assert_int_equal(stCrc32c(stCrc32c(0, buf + off, cut), buf + off + cut, n - cut), want);
        }
        assert_int_equal(stCrc32c(7, buf + off, 8192), stCrc32cLibrary(7, buf + off, 8192));
    }
    free(buf);
}

/* What librocksdb's calls bind to is the definition in this executable (it
 * is exported: Makefile LDFLAGS), not the library's. */
static void test_rocksdb_calls_bind_here(void **state) {
    (void)state;
    void *global = dlsym(RTLD_DEFAULT, ROCKSDB_EXTEND_SYMBOL);
    void *library = dlsym(RTLD_NEXT, ROCKSDB_EXTEND_SYMBOL);
    assert_non_null(global);
    assert_non_null(library);
    assert_ptr_not_equal(global, library);
    Dl_info gi, self;
    assert_true(dladdr(global, &gi));
    assert_true(dladdr((void *)test_rocksdb_calls_bind_here, &self));
    assert_string_equal(gi.dli_fname, self.dli_fname);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_matches_rocksdb),
        cmocka_unit_test(test_rocksdb_calls_bind_here),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

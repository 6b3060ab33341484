/* crc32c.c - CRC-32C (Castagnoli) with the SSE4.2 instruction, for RocksDB.
 *
 * Debian's librocksdb 7.8.3 is built portable, without SSE4.2, and its
 * crc32c::IsFastCrc32Supported() answers "Not supported on x86": every WAL
 * record and every blob record is checksummed by a table-driven loop.  That
 * loop was 21% of the server's CPU under 8 KB SETs (perf, single node), and
 * a replica pays it again for its own WAL.  Block checksums are XXH3 already
 * (engine.c), but the WAL and blob formats fix CRC-32C.
 *
 * The library computes every CRC-32C through rocksdb::crc32c::Extend(), an
 * exported function it calls through its PLT (objdump: 37 call sites), so
 * this executable's definition of the same symbol (exported by the link,
 * Makefile) takes its place for the whole process.  Same function, same
 * values: the files RocksDB writes are bit for bit what its own code would
 * write.  On a CPU without SSE4.2 the library's own Extend() (dlsym
 * RTLD_NEXT) still does the work.  If a future librocksdb stopped calling
 * through the PLT, nothing would break; it would only be slower again.
 *
 * Extend(crc, data, n) continues a CRC: Extend(0, ab) ==
 * Extend(Extend(0, a), b), with the standard pre- and post-inversion, as
 * RocksDB's util/crc32c.h defines it.
 */
#include <dlfcn.h>
#include <nmmintrin.h>
#include <stdint.h>
#include <string.h>

#include "st_internal.h"

#define CRC32C_POLY_REFLECTED 0x82F63B78u
#define ROCKSDB_EXTEND_SYMBOL "_ZN7rocksdb6crc32c6ExtendEjPKcm"

typedef uint32_t (*extendFn)(uint32_t crc, const char *buf, size_t n);

static int haveSse42;
static extendFn libraryExtend;
static uint32_t crcTable[256];

/* One byte at a time: reference and last resort. */
static uint32_t crcSoft(uint32_t crc, const unsigned char *p, size_t n) {
    uint32_t c = ~crc;
    while (n--) c = crcTable[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

__attribute__((target("sse4.2"))) static uint32_t crcHw(uint32_t crc, const unsigned char *p,
                                                        size_t n) {
    uint64_t c = ~crc;
    for (; n && ((uintptr_t)p & 7); n--) c = _mm_crc32_u8((uint32_t)c, *p++);
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        c = _mm_crc32_u64(c, v);
    }
    for (; n; n--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

/* Before main(), so RocksDB's first checksum already finds the choice made. */
__attribute__((constructor)) static void crcInit(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        crcTable[i] = c;
    }
    __builtin_cpu_init();
    haveSse42 = __builtin_cpu_supports("sse4.2");
    libraryExtend = (extendFn)dlsym(RTLD_NEXT, ROCKSDB_EXTEND_SYMBOL);
}

uint32_t stCrc32c(uint32_t crc, const void *buf, size_t n) {
    return haveSse42 ? crcHw(crc, buf, n) : crcSoft(crc, buf, n);
}

uint32_t stCrc32cSoft(uint32_t crc, const void *buf, size_t n) { return crcSoft(crc, buf, n); }

uint32_t stCrc32cLibrary(uint32_t crc, const void *buf, size_t n) {
    return libraryExtend ? libraryExtend(crc, buf, n) : crcSoft(crc, buf, n);
}

/* rocksdb::crc32c::Extend(unsigned int, char const*, unsigned long) */
uint32_t _ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char *buf, size_t n);
uint32_t _ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char *buf, size_t n) {
    if (haveSse42) return crcHw(crc, (const unsigned char *)buf, n);
    return stCrc32cLibrary(crc, buf, n);
}

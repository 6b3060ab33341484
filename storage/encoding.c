/* encoding.c - the versioned big-endian codecs of encoding.h: meta keys and
 * values, expire index keys, collection sub keys, sys records and the batch
 * log header.
 *
 * Every decoder checks the remaining length before each read, so truncated or
 * garbage input yields -1 and never an out-of-bounds access.  The layouts are
 * documented once, in encoding.h.
 */
#include "encoding.h"

#include <string.h>

/* ---- Integers ------------------------------------------------------------ */

void encPutU16(char *dst, uint16_t v) {
    unsigned char *p = (unsigned char *)dst;
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

void encPutU32(char *dst, uint32_t v) {
    unsigned char *p = (unsigned char *)dst;
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

void encPutU64(char *dst, uint64_t v) {
    encPutU32(dst, (uint32_t)(v >> 32));
    encPutU32(dst + 4, (uint32_t)v);
}

void encPutU64LE(char *dst, uint64_t v) {
    unsigned char *p = (unsigned char *)dst;
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

uint16_t encGetU16(const char *src) {
    const unsigned char *p = (const unsigned char *)src;
    return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t encGetU32(const char *src) {
    const unsigned char *p = (const unsigned char *)src;
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

uint64_t encGetU64(const char *src) {
    return ((uint64_t)encGetU32(src) << 32) | encGetU32(src + 4);
}

uint64_t encGetU64LE(const char *src) {
    const unsigned char *p = (const unsigned char *)src;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

size_t encPutVarint(char *dst, uint64_t v) {
    unsigned char *p = (unsigned char *)dst;
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

size_t encGetVarint(const char *src, size_t len, uint64_t *v) {
    const unsigned char *p = (const unsigned char *)src;
    uint64_t r = 0;
    for (size_t i = 0; i < len && i < ENC_VARINT_MAX_BYTES; i++) {
        uint64_t b = p[i];
        /* The 10th byte may only contribute the top bit of a u64. */
        if (i == ENC_VARINT_MAX_BYTES - 1 && b > 1) return 0;
        r |= (b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            /* Shortest form only: a trailing zero byte adds nothing. */
            if (i > 0 && b == 0) return 0;
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

/* ---- Meta records ------------------------------------------------------- */

void encDbPrefix(char dst[ENC_DB_PREFIX_BYTES], uint16_t pdb) {
    encPutU16(dst, pdb);
}

size_t encMetaKey(char *dst, uint16_t pdb, const char *key, size_t klen) {
    encPutU16(dst, pdb);
    if (klen) memcpy(dst + ENC_DB_PREFIX_BYTES, key, klen);
    return ENC_META_KEY_LEN(klen);
}

int encMetaKeyDecode(const char *src, size_t len, uint16_t *pdb,
                     const char **key, size_t *klen) {
    if (len < ENC_DB_PREFIX_BYTES) return -1;
    *pdb = encGetU16(src);
    *key = src + ENC_DB_PREFIX_BYTES;
    *klen = len - ENC_DB_PREFIX_BYTES;
    return 0;
}

size_t encMetaValueHeader(char *dst, const stMeta *m) {
    size_t n = 0;
    dst[n++] = ENC_META_VERSION;
    dst[n++] = (char)m->type;
    dst[n++] = (char)m->flags;
    n += encPutVarint(dst + n, m->expire_ms);
    n += encPutVarint(dst + n, m->incarnation);
    n += encPutVarint(dst + n, m->count);
    encPutU64(dst + n, m->hlc);
    encPutU64(dst + n + 8, m->origin);
    return n + 16;
}

int encMetaValueDecode(const char *src, size_t len, stMeta *m,
                       const char **val, size_t *vlen) {
    size_t n = 3, used;
    if (len < n) return -1;
    if ((unsigned char)src[0] != ENC_META_VERSION) return -1;
    m->type = (uint8_t)src[1];
    m->flags = (uint8_t)src[2];
    if (m->type < ST_TYPE_STRING || m->type > ST_TYPE_HASH) return -1;
    if (!(used = encGetVarint(src + n, len - n, &m->expire_ms))) return -1;
    n += used;
    if (!(used = encGetVarint(src + n, len - n, &m->incarnation))) return -1;
    n += used;
    if (!(used = encGetVarint(src + n, len - n, &m->count))) return -1;
    n += used;
    if (len - n < 16) return -1;
    m->hlc = encGetU64(src + n);
    m->origin = encGetU64(src + n + 8);
    n += 16;
    *val = src + n;
    *vlen = len - n;
    return 0;
}

/* ---- Expire index -------------------------------------------------------- */

size_t encExpireKey(char *dst, uint64_t expire_ms, uint16_t pdb,
                    const char *key, size_t klen) {
    encPutU64(dst, expire_ms);
    encPutU16(dst + 8, pdb);
    if (klen) memcpy(dst + 8 + ENC_DB_PREFIX_BYTES, key, klen);
    return ENC_EXPIRE_KEY_LEN(klen);
}

int encExpireKeyDecode(const char *src, size_t len, uint64_t *expire_ms,
                       uint16_t *pdb, const char **key, size_t *klen) {
    if (len < ENC_EXPIRE_KEY_LEN(0)) return -1;
    *expire_ms = encGetU64(src);
    *pdb = encGetU16(src + 8);
    *key = src + ENC_EXPIRE_KEY_LEN(0);
    *klen = len - ENC_EXPIRE_KEY_LEN(0);
    return 0;
}

/* ---- Collection sub keys ------------------------------------------------ */

size_t encSubKeyPrefix(char *dst, uint16_t pdb, const char *key, size_t klen,
                       uint64_t incarnation) {
    encPutU16(dst, pdb);
    encPutU32(dst + 2, (uint32_t)klen);
    if (klen) memcpy(dst + 6, key, klen);
    encPutU64(dst + 6 + klen, incarnation);
    return ENC_SUB_PREFIX_LEN(klen);
}

size_t encSubKey(char *dst, uint16_t pdb, const char *key, size_t klen,
                 uint64_t incarnation, const char *elem, size_t elen) {
    size_t n = encSubKeyPrefix(dst, pdb, key, klen, incarnation);
    if (elen) memcpy(dst + n, elem, elen);
    return n + elen;
}

int encSubKeyDecode(const char *src, size_t len, uint16_t *pdb,
                    const char **key, size_t *klen, uint64_t *incarnation,
                    const char **elem, size_t *elen) {
    if (len < ENC_SUB_PREFIX_LEN(0)) return -1;
    uint32_t kl = encGetU32(src + 2);
    /* Compare without forming len - prefix - kl, which could wrap. */
    if ((uint64_t)kl > (uint64_t)(len - ENC_SUB_PREFIX_LEN(0))) return -1;
    *pdb = encGetU16(src);
    *key = src + 6;
    *klen = kl;
    *incarnation = encGetU64(src + 6 + kl);
    *elem = src + ENC_SUB_PREFIX_LEN(kl);
    *elen = len - ENC_SUB_PREFIX_LEN(kl);
    return 0;
}

/* ---- Batch log header --------------------------------------------------- */

void encLogHeaderEncode(char dst[ENC_LOG_HEADER_BYTES], const encLogHeader *h) {
    dst[0] = (char)ENC_LOG_HEADER_V1;
    encPutU64(dst + 1, h->origin);
    encPutU64(dst + 9, h->seq);
    encPutU64(dst + 17, h->hlc);
}

int encLogHeaderDecode(const char *src, size_t len, encLogHeader *h) {
    if (len != ENC_LOG_HEADER_BYTES) return -1;
    if ((unsigned char)src[0] != ENC_LOG_HEADER_V1) return -1;
    h->origin = encGetU64(src + 1);
    h->seq = encGetU64(src + 9);
    h->hlc = encGetU64(src + 17);
    return 0;
}

/* ---- sys records -------------------------------------------------------- */

size_t encSysCountKey(char dst[ENC_SYS_COUNT_KEY_LEN], uint16_t pdb) {
    memcpy(dst, ENC_SYS_COUNT_PREFIX, 6);
    encPutU16(dst + 6, pdb);
    return ENC_SYS_COUNT_KEY_LEN;
}

size_t encSysExpiresKey(char dst[ENC_SYS_COUNT_KEY_LEN], uint16_t pdb) {
    memcpy(dst, ENC_SYS_EXPIRES_PREFIX, 6);
    encPutU16(dst + 6, pdb);
    return ENC_SYS_COUNT_KEY_LEN;
}

size_t encSysBytesKey(char dst[ENC_SYS_COUNT_KEY_LEN], uint16_t pdb) {
    memcpy(dst, ENC_SYS_BYTES_PREFIX, 6);
    encPutU16(dst + 6, pdb);
    return ENC_SYS_COUNT_KEY_LEN;
}

size_t encSysVvKey(char dst[ENC_SYS_VV_KEY_LEN], uint64_t origin) {
    memcpy(dst, ENC_SYS_VV_PREFIX, 3);
    encPutU64(dst + 3, origin);
    return ENC_SYS_VV_KEY_LEN;
}

size_t encDbMap(char *dst, const uint16_t *map, size_t n) {
    for (size_t i = 0; i < n; i++) encPutU16(dst + 2 * i, map[i]);
    return 2 * n;
}

int encDbMapDecode(const char *src, size_t len, uint16_t *map, size_t max_n,
                   size_t *n) {
    uint8_t seen[65536 / 8];
    size_t cnt = len / 2;
    if (len % 2 || cnt == 0 || cnt > max_n || cnt > 65536) return -1;
    memset(seen, 0, sizeof(seen));
    for (size_t i = 0; i < cnt; i++) {
        uint16_t p = encGetU16(src + 2 * i);
        if (p >= cnt || (seen[p / 8] & (1u << (p % 8)))) return -1;
        seen[p / 8] |= (uint8_t)(1u << (p % 8));
        map[i] = p;
    }
    *n = cnt;
    return 0;
}

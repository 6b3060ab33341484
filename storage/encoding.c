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

/* ---- Collection elements ------------------------------------------------ */

void encElemHeader(char dst[ENC_ELEM_HDR_BYTES], uint8_t flags, uint64_t hlc, uint64_t origin) {
    dst[0] = (char)flags;
    encPutU64(dst + 1, hlc);
    encPutU64(dst + 9, origin);
}

int encElemDecode(const char *src, size_t len, uint8_t *flags, uint64_t *hlc,
                  uint64_t *origin, const char **payload, size_t *plen) {
    if (len < ENC_ELEM_HDR_BYTES) return -1;
    if (flags) *flags = (uint8_t)src[0];
    if (hlc) *hlc = encGetU64(src + 1);
    if (origin) *origin = encGetU64(src + 9);
    *payload = src + ENC_ELEM_HDR_BYTES;
    *plen = len - ENC_ELEM_HDR_BYTES;
    return 0;
}

void encScore(char dst[ENC_SCORE_BYTES], double score) {
    uint64_t bits;
    if (score == 0) score = 0; /* -0 == 0: one encoding */
    memcpy(&bits, &score, sizeof(bits));
    /* Negative doubles order backwards as integers: flip them all; positive
     * ones only need the sign bit set to sort above the negatives. */
    bits = (bits >> 63) ? ~bits : bits | (1ULL << 63);
    encPutU64(dst, bits);
}

double encScoreDecode(const char *src) {
    uint64_t bits = encGetU64(src);
    bits = (bits >> 63) ? bits & ~(1ULL << 63) : ~bits;
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

size_t encListPos(char *dst, int64_t ordinal, uint64_t origin) {
    encPutU64(dst, (uint64_t)ordinal ^ (1ULL << 63));
    dst[8] = 0;
    encPutU64(dst + 9, origin);
    return ENC_LISTPOS_MIN_BYTES;
}

int encListPosDecode(const char *src, size_t len, int64_t *ordinal,
                     const char **frac, size_t *flen, uint64_t *origin) {
    if (len < ENC_LISTPOS_MIN_BYTES || src[len - 9] != 0) return -1;
    for (size_t i = 8; i < len - 9; i++)
        if (src[i] == 0) return -1;
    *ordinal = (int64_t)(encGetU64(src) ^ (1ULL << 63));
    *frac = src + 8;
    *flen = len - ENC_LISTPOS_MIN_BYTES;
    *origin = encGetU64(src + len - 8);
    return 0;
}

/* Digits strictly between fractions lo and hi (hi NULL: unbounded), read as
 * base-256 fractions padded with zero digits.  Returns the length written
 * (at most max), 0 if none fits.
 *
 * Where to land when a digit has room: next to lo (near_lo) or next to hi.
 * Once only lo bounds the rest (hi NULL, or hi's digit is just above lo's),
 * always next to lo: the room above is a whole digit wide, and a run of
 * inserts after the newest element (which is then lo) keeps counting up
 * that digit instead of adding a 0xFF digit per insert. */
static size_t encFracBetween(unsigned char *out, size_t max, const unsigned char *lo,
                             size_t lolen, const unsigned char *hi, size_t hilen, int near_lo) {
    size_t n = 0;
    int bounded = hi != NULL;
    for (size_t i = 0; n + 2 <= max; i++) {
        int l = i < lolen ? lo[i] : 0;
        int h = bounded ? (i < hilen ? hi[i] : 0) : 256;
        if (h - l >= 2) {
            int m = (near_lo || !bounded) ? l + 1 : h - 1;
            out[n++] = (unsigned char)m;
            if (m == 1) out[n++] = 0x80; /* never end in the lowest digit */
            return n;
        }
        if (h == l) {
            if (l == 0) return 0; /* equal fractions: nothing between */
            out[n++] = (unsigned char)l;
        } else if (h == l + 1 && l > 0) {
            /* Take lo's digit; from here only lo bounds the rest. */
            out[n++] = (unsigned char)l;
            bounded = 0;
        } else if (h == l + 1) {
            /* lo ended, hi has digit 1 here: follow it, stay below its rest. */
            out[n++] = 1;
        } else {
            return 0; /* lo > hi */
        }
    }
    return 0;
}

size_t encListPosBetween(char *dst, const char *lo, size_t lolen, const char *hi,
                         size_t hilen, int near_lo, uint64_t origin) {
    int64_t olo = 0, ohi = 0;
    const char *flo = NULL, *fhi = NULL;
    size_t nlo = 0, nhi = 0;
    uint64_t x;
    if ((!lo && !hi) || (lo && encListPosDecode(lo, lolen, &olo, &flo, &nlo, &x) != 0) ||
        (hi && encListPosDecode(hi, hilen, &ohi, &fhi, &nhi, &x) != 0))
        return 0;
    if (!lo) return ohi == INT64_MIN ? 0 : encListPos(dst, ohi - 1, origin);
    if (!hi) return olo == INT64_MAX ? 0 : encListPos(dst, olo + 1, origin);
    if (olo > ohi) return 0;
    if (olo < ohi && (uint64_t)ohi - (uint64_t)olo >= 2)
        return encListPos(dst, near_lo ? olo + 1 : ohi - 1, origin);
    /* Same ordinal: the neighbour with the longer fraction is, in every
     * repeated pattern (same pivot, or before/after the newest element),
     * the one inserted last; landing next to it leaves the room on the
     * other side for the next insert.  Landing next to the older one
     * instead would add a digit per insert. */
    if (olo == ohi && nlo != nhi) near_lo = nlo > nhi;
    /* Same ordinal, or adjacent ones (then any fraction above lo's fits). */
    size_t f = encFracBetween((unsigned char *)dst + 8, ENC_LISTPOS_MAX_BYTES - ENC_LISTPOS_MIN_BYTES,
                              (const unsigned char *)flo, nlo,
                              olo == ohi ? (const unsigned char *)fhi : NULL, nhi, near_lo);
    if (!f) return 0;
    encPutU64(dst, (uint64_t)olo ^ (1ULL << 63));
    dst[8 + f] = 0;
    encPutU64(dst + 9 + f, origin);
    return ENC_LISTPOS_MIN_BYTES + f;
}

size_t encCollInfo(char *dst, uint64_t elem_bytes, const char *head, size_t hlen,
                   const char *tail, size_t tlen) {
    size_t n = encPutVarint(dst, elem_bytes);
    if (!head) return n;
    n += encPutVarint(dst + n, hlen);
    memcpy(dst + n, head, hlen);
    n += hlen;
    n += encPutVarint(dst + n, tlen);
    memcpy(dst + n, tail, tlen);
    return n + tlen;
}

int encCollInfoDecode(const char *src, size_t len, uint64_t *elem_bytes,
                      const char **head, size_t *hlen, const char **tail, size_t *tlen) {
    size_t n, used;
    uint64_t l;
    *head = *tail = NULL;
    *hlen = *tlen = 0;
    if (!(n = encGetVarint(src, len, elem_bytes))) return -1;
    if (n == len) return 0;
    if (!(used = encGetVarint(src + n, len - n, &l)) || l > len - n - used) return -1;
    *head = src + n + used;
    *hlen = (size_t)l;
    n += used + (size_t)l;
    if (!(used = encGetVarint(src + n, len - n, &l)) || l != len - n - used) return -1;
    *tail = src + n + used;
    *tlen = (size_t)l;
    return 0;
}

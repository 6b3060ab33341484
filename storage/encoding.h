/* encoding.h - the on-disk byte layouts of Strata's RocksDB records: versioned,
 * big-endian codecs for meta keys and values, expire index keys, collection
 * sub keys, `sys` records and the batch log header.
 *
 * Everything here is pure (no I/O, no RocksDB) so cmocka tests it directly.
 * Encoders write into a caller buffer sized with the *_LEN macros / functions
 * and return the number of bytes written.  Decoders never read outside
 * [src, src + len), return 0 on success and -1 on truncated or malformed
 * input; pointers they return (keys, values) point into `src`.
 *
 * Layouts (integers are big-endian unless marked LE; "varint" is unsigned
 * LEB128, at most 10 bytes, shortest form only):
 *
 *   meta key      u16 pdb | key                          pdb = physical db
 *   meta value    u8 version=1 | u8 type | u8 flags | varint expire_ms |
 *                 varint incarnation | varint count | u64 hlc | u64 origin |
 *                 inline value bytes (the rest; strings only)
 *   expire key    u64 expire_ms | u16 pdb | key          value: empty
 *   sub key       u16 pdb | u32 keylen | key | u64 incarnation | element
 *   zscore key    must begin with u16 pdb (FLUSHDB deletes by that prefix)
 *   log header    u8 0xB1 | u64 origin | u64 origin_seq | u64 hlc   (25 bytes)
 *                 origin_seq 0 marks a local housekeeping batch (the node id
 *                 written at first open) that replication must skip
 *   sys records   "node_id"              -> u64 node id
 *                 "dbmap"                -> u16 physical db per logical db
 *                 "count:" u16 pdb       -> u64 LE key count (RocksDB's
 *                                           uint64add merge operator format)
 *                 "expcn:" u16 pdb       -> u64 LE count of keys with a TTL
 *                 "bytes:" u16 pdb       -> u64 LE bytes of keys + values
 *                 "vv:" u64 origin       -> u64 highest origin seq applied
 *
 * Why this shape: big-endian fixed-width prefixes make RocksDB's byte order
 * equal to (db, key) order and to expire-time order, so iteration, range
 * deletes and the expiry scan need no decoding.  The meta value uses varints
 * for the fields that are usually zero or small (expire, incarnation, count)
 * and fixed u64s for the HLC and origin, which are always large: a plain
 * string costs 22 bytes of header.  The u32 key length in sub keys makes one
 * key's sub records a contiguous range that cannot collide with a longer key
 * sharing its prefix.
 */
#ifndef STRATA_ENCODING_H
#define STRATA_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "storage.h"

/* ---- Integers ------------------------------------------------------------ */

#define ENC_VARINT_MAX_BYTES 10

void encPutU16(char *dst, uint16_t v);
void encPutU32(char *dst, uint32_t v);
void encPutU64(char *dst, uint64_t v);
void encPutU64LE(char *dst, uint64_t v);
uint16_t encGetU16(const char *src);
uint32_t encGetU32(const char *src);
uint64_t encGetU64(const char *src);
uint64_t encGetU64LE(const char *src);
/* Writes v as a varint (1..10 bytes), returns its length. */
size_t encPutVarint(char *dst, uint64_t v);
/* Reads a varint from [src, src+len): returns the bytes consumed, or 0 if the
 * input is truncated, longer than 10 bytes, overflows 64 bits or is not in
 * shortest form. */
size_t encGetVarint(const char *src, size_t len, uint64_t *v);

/* ---- Meta records ------------------------------------------------------- */

#define ENC_DB_PREFIX_BYTES 2
#define ENC_META_VERSION 1
/* Largest encoded meta value header: 3 bytes + 3 varints + 2 x u64. */
#define ENC_META_HDR_MAX (3 + 3 * ENC_VARINT_MAX_BYTES + 16)
#define ENC_META_KEY_LEN(klen) (ENC_DB_PREFIX_BYTES + (size_t)(klen))

/* The 2-byte prefix shared by every meta/sub/zscore record of physical db pdb. */
void encDbPrefix(char dst[ENC_DB_PREFIX_BYTES], uint16_t pdb);
/* Meta key; dst holds ENC_META_KEY_LEN(klen) bytes. */
size_t encMetaKey(char *dst, uint16_t pdb, const char *key, size_t klen);
int encMetaKeyDecode(const char *src, size_t len, uint16_t *pdb,
                     const char **key, size_t *klen);
/* The meta value header for m; the inline value bytes follow it in the
 * record.  dst holds ENC_META_HDR_MAX bytes. */
size_t encMetaValueHeader(char *dst, const stMeta *m);
/* Decodes a whole meta value: *m gets the fields, *val / *vlen the inline
 * value (pointing into src, possibly empty).  Rejects unknown versions and
 * types other than ST_TYPE_STRING..ST_TYPE_HASH. */
int encMetaValueDecode(const char *src, size_t len, stMeta *m,
                       const char **val, size_t *vlen);

/* ---- Expire index -------------------------------------------------------- */

#define ENC_EXPIRE_KEY_LEN(klen) (8 + ENC_DB_PREFIX_BYTES + (size_t)(klen))

size_t encExpireKey(char *dst, uint64_t expire_ms, uint16_t pdb,
                    const char *key, size_t klen);
int encExpireKeyDecode(const char *src, size_t len, uint64_t *expire_ms,
                       uint16_t *pdb, const char **key, size_t *klen);

/* ---- Collection sub keys ------------------------------------------------ */

#define ENC_SUB_PREFIX_LEN(klen) (ENC_DB_PREFIX_BYTES + 4 + (size_t)(klen) + 8)
#define ENC_SUB_KEY_LEN(klen, elen) (ENC_SUB_PREFIX_LEN(klen) + (size_t)(elen))

/* The prefix shared by every element of (pdb, key, incarnation): seek to it
 * to iterate one collection.  klen must fit in 32 bits. */
size_t encSubKeyPrefix(char *dst, uint16_t pdb, const char *key, size_t klen,
                       uint64_t incarnation);
size_t encSubKey(char *dst, uint16_t pdb, const char *key, size_t klen,
                 uint64_t incarnation, const char *elem, size_t elen);
int encSubKeyDecode(const char *src, size_t len, uint16_t *pdb,
                    const char **key, size_t *klen, uint64_t *incarnation,
                    const char **elem, size_t *elen);

/* ---- Collection elements ------------------------------------------------ */
/*
 *   element value  u8 flags | u64 hlc | u64 origin | payload
 *                  flags bit 0: tombstone (reserved for multi-master merges;
 *                  classic mode deletes the record instead).  Payload: hash
 *                  field value, list element value, zset score (8 bytes,
 *                  encScore), nothing for sets.
 *   zscore key     sub prefix | u64 encScore(score) | member   value: empty
 *   list position  u64 ordinal (sign flipped) | fraction digits 0x01..0xFF |
 *                  0x00 | u64 origin.  Byte order = list order: the 0x00
 *                  terminator sorts a fraction before its own extensions, so
 *                  (ordinal, fraction, origin) compare as a tuple.  Pushes
 *                  move the ordinal by one; LINSERT between neighbours picks
 *                  a fraction between theirs (encListPosBetween).  A fraction
 *                  never ends in 0x01, so there is always room below it.
 *   collection info (the meta record's inline value for collections)
 *                  varint element bytes | lists: varint len, head position,
 *                  varint len, tail position
 */
#define ENC_ELEM_HDR_BYTES 17
#define ENC_ELEM_TOMBSTONE 0x01
#define ENC_SCORE_BYTES 8
#define ENC_LISTPOS_MIN_BYTES 17 /* ordinal + terminator + origin */
#define ENC_LISTPOS_MAX_BYTES 1024 /* refuse to grow a fraction beyond this */

void encElemHeader(char dst[ENC_ELEM_HDR_BYTES], uint8_t flags, uint64_t hlc, uint64_t origin);
/* Splits an element value; *payload points into src. */
int encElemDecode(const char *src, size_t len, uint8_t *flags, uint64_t *hlc,
                  uint64_t *origin, const char **payload, size_t *plen);

/* Order-preserving encoding of a double (-0 sorts and encodes as +0; NaN is
 * the caller's to refuse). */
void encScore(char dst[ENC_SCORE_BYTES], double score);
double encScoreDecode(const char *src);

/* A list position with the given ordinal, no fraction; dst holds
 * ENC_LISTPOS_MIN_BYTES. */
size_t encListPos(char *dst, int64_t ordinal, uint64_t origin);
/* Parses a position: 0 / -1. *frac points into src. */
int encListPosDecode(const char *src, size_t len, int64_t *ordinal,
                     const char **frac, size_t *flen, uint64_t *origin);
/* A position strictly between lo and hi (either may be NULL: no bound on
 * that side; not both).  near_lo: place it just above lo, leaving the room
 * between it and hi (LINSERT BEFORE the same pivot again lands there); else
 * just below hi (LINSERT AFTER the same pivot again lands between lo and
 * it).  near_lo is only a hint: when lo and hi share their ordinal, the
 * position lands next to the one with the longer fraction (the newer one),
 * and when only lo bounds the fraction it lands next to lo.  So repeated
 * inserts at one spot -- the same pivot, or before / after the element just
 * inserted -- grow the fraction by one byte per 127 to 254 inserts
 * (adversarial patterns can still grow it by a byte per insert: the caller
 * must handle 0).  Writes at most ENC_LISTPOS_MAX_BYTES into dst and
 * returns the length, or 0 when no position fits (lo >= hi, positions equal
 * but for their origin, or the fraction would exceed the maximum). */
size_t encListPosBetween(char *dst, const char *lo, size_t lolen, const char *hi,
                         size_t hilen, int near_lo, uint64_t origin);

/* Collection info: element bytes and, for lists, the head and tail
 * positions (NULL / 0 for other types).  dst holds
 * ENC_VARINT_MAX_BYTES * 3 + hlen + tlen bytes. */
size_t encCollInfo(char *dst, uint64_t elem_bytes, const char *head, size_t hlen,
                   const char *tail, size_t tlen);
int encCollInfoDecode(const char *src, size_t len, uint64_t *elem_bytes,
                      const char **head, size_t *hlen, const char **tail, size_t *tlen);

/* ---- Batch log header --------------------------------------------------- */

/* Every WriteBatch starts with this header as a LogData record. */
#define ENC_LOG_HEADER_V1 0xB1 /* high nibble: Strata batch, low nibble: version */
#define ENC_LOG_HEADER_BYTES 25

typedef struct encLogHeader {
    uint64_t origin; /* node id of the node that made the write */
    uint64_t seq;    /* origin's gap-free sequence number of this batch */
    uint64_t hlc;    /* HLC of the commit on the origin */
} encLogHeader;

void encLogHeaderEncode(char dst[ENC_LOG_HEADER_BYTES], const encLogHeader *h);
/* Rejects anything but a 25-byte version 1 header. */
int encLogHeaderDecode(const char *src, size_t len, encLogHeader *h);

/* ---- sys records -------------------------------------------------------- */

#define ENC_SYS_NODE_ID "node_id"
#define ENC_SYS_DBMAP "dbmap"
#define ENC_SYS_COUNT_PREFIX "count:"
#define ENC_SYS_COUNT_KEY_LEN (6 + 2)
#define ENC_SYS_EXPIRES_PREFIX "expcn:" /* same 8-byte layout as count: */
#define ENC_SYS_BYTES_PREFIX "bytes:"   /* same layout: bytes of keys + values */
#define ENC_SYS_VV_PREFIX "vv:"
#define ENC_SYS_VV_KEY_LEN (3 + 8)

size_t encSysCountKey(char dst[ENC_SYS_COUNT_KEY_LEN], uint16_t pdb);
/* Count of keys with a TTL in a physical db (INFO keyspace expires=). */
size_t encSysExpiresKey(char dst[ENC_SYS_COUNT_KEY_LEN], uint16_t pdb);
/* Bytes of keys and values stored in a physical db (maxstorage). */
size_t encSysBytesKey(char dst[ENC_SYS_COUNT_KEY_LEN], uint16_t pdb);
size_t encSysVvKey(char dst[ENC_SYS_VV_KEY_LEN], uint64_t origin);
/* The dbmap value: n physical db numbers; dst holds 2 * n bytes. */
size_t encDbMap(char *dst, const uint16_t *map, size_t n);
/* Decodes a dbmap value into map[0..*n), which must hold max_n entries.
 * Rejects odd lengths, more than max_n entries, entries >= the entry count
 * and duplicates (the map must be a permutation). */
int encDbMapDecode(const char *src, size_t len, uint16_t *map, size_t max_n,
                   size_t *n);

#endif

/* zset_range.h - what the two sorted-set command files share: score and
 * lex range parsing with Redis 7.0's acceptance rules, the member/score
 * item list results are gathered in, reply emission of members with
 * scores, and storing a result into a destination key.
 *
 * cmd_zset.c implements these; cmd_zset_ops.c (ZUNION ZINTER ZDIFF, their
 * STORE forms, ZINTERCARD) uses them.
 */
#ifndef STRATA_ZSET_RANGE_H
#define STRATA_ZSET_RANGE_H

#include <stddef.h>

#include "server.h"

/* ---- Ranges -------------------------------------------------------------- */

/* A score range: "(" makes a bound exclusive; the numbers are parsed as
 * Redis's zslParseRange does (strtod: leading spaces, hex, "inf" accepted,
 * "" is 0, NaN refused). */
typedef struct zScoreRange {
    double min, max;
    int minex, maxex;
} zScoreRange;

/* One end of a lex range: "[x" inclusive, "(x" exclusive, "-" below every
 * member, "+" above every member (both count as exclusive, as in Redis). */
typedef struct zLexBound {
    const char *s; /* the bytes after the '[' / '(' (points into argv) */
    size_t len;
    int ex;
    int inf; /* 0: finite; -1: "-"; +1: "+" */
} zLexBound;

typedef struct zLexRange {
    zLexBound min, max;
} zLexRange;

/* C_OK, or C_ERR when either bound does not parse (the caller replies "min
 * or max is not a float" / "min or max not valid string range item"). */
int zParseScoreRange(const char *min, size_t minlen, const char *max, size_t maxlen,
                     zScoreRange *r);
int zParseLexRange(const char *min, size_t minlen, const char *max, size_t maxlen, zLexRange *r);
/* Whether no score / member can be inside the range. */
int zScoreRangeEmpty(const zScoreRange *r);
int zLexRangeEmpty(const zLexRange *r);
int zScoreGteMin(double v, const zScoreRange *r);
int zScoreLteMax(double v, const zScoreRange *r);
int zLexGteMin(const char *m, size_t mlen, const zLexRange *r);
int zLexLteMax(const char *m, size_t mlen, const zLexRange *r);

/* ---- Results --------------------------------------------------------------- */

/* A member (heap copy, owned by the list) with its score. */
typedef struct zItem {
    char *m;
    size_t mlen;
    double score;
} zItem;

typedef struct zItems {
    zItem *v;
    size_t n, cap;
} zItems;

void zItemsInit(zItems *l);
void zItemsPush(zItems *l, const char *m, size_t mlen, double score); /* copies m */
void zItemsFree(zItems *l);
/* Sorts by (score, member bytes): the order of a sorted set. */
void zItemsSortByScore(zItems *l);

/* Appends one reply item: the member, and with withscores its score (a
 * [member, score] pair in RESP3). */
void zAppendItem(strbuf *out, int resp, const char *m, size_t mlen, double score,
                 int withscores);
/* Replies the items in their order as Z*RANGE does (flat in RESP2, pairs
 * in RESP3 when withscores). */
void zReplyItems(client *c, const zItems *l, int withscores);

/* The score a sorted set stores: -0 becomes 0 (Redis 7.0's listpack
 * encoding, the one small sorted sets have, keeps no negative zero). */
double zStoredScore(double score);

/* ZRANGESTORE, Z*STORE: replaces dst (whatever its type; its TTL goes) by a
 * sorted set of the items, or deletes it when there are none; replies the
 * count and notifies `event` (or "del").  Frees nothing of items. */
void zStoreResult(client *c, const char *dst, size_t dlen, const zItems *items, const char *event);

#endif

/* cmd_zset.c - the sorted-set commands on one key: ZADD ZINCRBY ZREM ZSCORE
 * ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZRANGE ZRANGESTORE ZRANGEBYSCORE
 * ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREVRANGE ZRANK ZREVRANK
 * ZREMRANGEBYSCORE ZREMRANGEBYRANK ZREMRANGEBYLEX ZPOPMIN ZPOPMAX ZMPOP
 * ZRANDMEMBER ZSCAN, the blocking BZPOPMIN BZPOPMAX BZMPOP (the waiting
 * itself is blocking.c's; every write that can make a sorted set non-empty
 * -- ZADD, ZINCRBY and the *STORE commands through zStoreResult -- signals
 * its key as ready), plus the range parsing and result helpers that
 * cmd_zset_ops.c shares (zset_range.h).
 *
 * A sorted set is a collection (storage.h): one element record per member
 * holding its exact score, and a score index ordered by (score, member)
 * that stZsetIterNew() walks.  Consequences for costs:
 *  - ZSCORE, ZADD, ZREM are point reads/writes;
 *  - score ranges seek the index and walk only the range;
 *  - lex ranges walk the element records, which are in member order; Redis
 *    defines lex ranges only when every score is equal, and then member
 *    order is the index order;
 *  - ranks (ZRANK, ZRANGE by index, ZREMRANGEBYRANK) are O(rank): the index
 *    keeps no skiplist spans, so a rank is found by counting.  Rank ranges
 *    are walked from whichever end is nearer.
 * Replies, error texts and the order of checks follow Redis 7.0; scores are
 * formatted as its addReplyDouble does (%.17g, "inf", "-inf").
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "zset_range.h"

/* ========================== Range parsing ================================= */

/* strtod over the whole argument, as Redis's zslParseRange: anything strtod
 * takes (leading spaces, hex, "inf", "" as 0) except NaN; it stops at an
 * embedded NUL as Redis's C-string parse does. */
static int zParseRangeNumber(const char *s, size_t len, double *out)
{
    char stack[128], *buf = stack, *eptr;
    if (len >= sizeof(stack)) buf = malloc(len + 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    double v = strtod(buf, &eptr);
    int ok = *eptr == '\0' && !isnan(v);
    if (buf != stack) free(buf);
    if (ok) *out = v;
    return ok;
}

static int zParseScoreBound(const char *s, size_t len, double *v, int *ex)
{
    *ex = len > 0 && s[0] == '(';
    if (*ex) {
        s++;
        len--;
    }
    return zParseRangeNumber(s, len, v);
}

int zParseScoreRange(const char *min, size_t minlen, const char *max, size_t maxlen,
                     zScoreRange *r)
{
    if (!zParseScoreBound(min, minlen, &r->min, &r->minex)) return C_ERR;
    if (!zParseScoreBound(max, maxlen, &r->max, &r->maxex)) return C_ERR;
    return C_OK;
}

/* "-" and "+" must stand alone (Redis tests the byte after them against
 * its string terminator, so "+\0..." passes too). */
static int zParseLexBound(const char *s, size_t len, zLexBound *b)
{
    memset(b, 0, sizeof(*b));
    if (len == 0) return C_ERR;
    switch (s[0]) {
    case '+':
    case '-':
        if (len > 1 && s[1] != '\0') return C_ERR;
        b->ex = 1;
        b->inf = s[0] == '+' ? 1 : -1;
        return C_OK;
    case '(':
    case '[':
        b->ex = s[0] == '(';
        b->s = s + 1;
        b->len = len - 1;
        return C_OK;
    default: return C_ERR;
    }
}

int zParseLexRange(const char *min, size_t minlen, const char *max, size_t maxlen, zLexRange *r)
{
    if (zParseLexBound(min, minlen, &r->min) != C_OK) return C_ERR;
    if (zParseLexBound(max, maxlen, &r->max) != C_OK) return C_ERR;
    return C_OK;
}

int zScoreGteMin(double v, const zScoreRange *r)
{
    return r->minex ? v > r->min : v >= r->min;
}

int zScoreLteMax(double v, const zScoreRange *r)
{
    return r->maxex ? v < r->max : v <= r->max;
}

int zScoreRangeEmpty(const zScoreRange *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

static int bytesCmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* Orders a member (never an infinity) against a bound. */
static int zLexCmpMember(const char *m, size_t mlen, const zLexBound *b)
{
    if (b->inf) return -b->inf;
    return bytesCmp(m, mlen, b->s, b->len);
}

int zLexGteMin(const char *m, size_t mlen, const zLexRange *r)
{
    int cmp = zLexCmpMember(m, mlen, &r->min);
    return r->min.ex ? cmp > 0 : cmp >= 0;
}

int zLexLteMax(const char *m, size_t mlen, const zLexRange *r)
{
    int cmp = zLexCmpMember(m, mlen, &r->max);
    return r->max.ex ? cmp < 0 : cmp <= 0;
}

int zLexRangeEmpty(const zLexRange *r)
{
    const zLexBound *a = &r->min, *b = &r->max;
    int cmp;
    if (a->inf && a->inf == b->inf) cmp = 0;
    else if (a->inf == -1 || b->inf == 1) cmp = -1;
    else if (a->inf == 1 || b->inf == -1) cmp = 1;
    else cmp = bytesCmp(a->s, a->len, b->s, b->len);
    return cmp > 0 || (cmp == 0 && (a->ex || b->ex));
}

/* ========================== Results ======================================= */

void zItemsInit(zItems *l)
{
    memset(l, 0, sizeof(*l));
}

void zItemsPush(zItems *l, const char *m, size_t mlen, double score)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof(zItem));
        if (!l->v) serverPanic("out of memory growing a sorted-set result");
    }
    zItem *it = &l->v[l->n++];
    it->m = malloc(mlen ? mlen : 1);
    if (!it->m) serverPanic("out of memory copying a member");
    if (mlen) memcpy(it->m, m, mlen);
    it->mlen = mlen;
    it->score = score;
}

void zItemsFree(zItems *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i].m);
    free(l->v);
    zItemsInit(l);
}

static int zItemCmp(const void *a, const void *b)
{
    const zItem *x = a, *y = b;
    if (x->score < y->score) return -1;
    if (x->score > y->score) return 1;
    return bytesCmp(x->m, x->mlen, y->m, y->mlen);
}

void zItemsSortByScore(zItems *l)
{
    if (l->n > 1) qsort(l->v, l->n, sizeof(zItem), zItemCmp);
}

void zAppendItem(strbuf *out, int resp, const char *m, size_t mlen, double score,
                 int withscores)
{
    if (withscores && resp > 2) respAppendArrayLen(out, 2);
    respAppendBulk(out, m, mlen);
    if (withscores) respAppendDouble(out, score, resp);
}

void zReplyItems(client *c, const zItems *l, int withscores)
{
    strbuf out;
    sbInit(&out);
    for (size_t i = 0; i < l->n; i++)
        zAppendItem(&out, c->resp, l->v[i].m, l->v[i].mlen, l->v[i].score, withscores);
    addReplyArrayLen(c, (long)(withscores && c->resp == 2 ? l->n * 2 : l->n));
    if (out.len) addReplyRaw(c, out.buf, out.len);
    sbFree(&out);
}

double zStoredScore(double score)
{
    return score == 0 ? 0.0 : score;
}

void zStoreResult(client *c, const char *dst, size_t dlen, const zItems *items, const char *event)
{
    stObj *old = lookupKeyWrite(c, dst, dlen);
    if (items->n == 0) {
        int deleted = old && deleteKey(c, c->db, dst, dlen, old) == C_OK;
        int failed = old && !deleted;
        if (old) stObjRelease(old);
        if (failed) return;
        if (deleted) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", dst, dlen, c->db);
        addReplyLongLong(c, 0);
        return;
    }
    stBatch *b = dbBatch(c);
    /* A new incarnation replaces whatever dst held (any type, its TTL). */
    if (old) stBatchDel(b, c->db, dst, dlen, &old->meta);
    stColl *z = collOpenWrite(c, b, dst, dlen, NULL, ST_TYPE_ZSET);
    for (size_t i = 0; i < items->n; i++)
        stZsetAdd(z, items->v[i].m, items->v[i].mlen, zStoredScore(items->v[i].score), NULL);
    uint64_t n = stCollClose(z);
    if (old) stObjRelease(old);
    if (commitOrReply(c, b) != C_OK) return;
    notifyKeyspaceEvent(NOTIFY_ZSET, event, dst, dlen, c->db);
    signalKeyAsReady(c->db, dst, dlen); /* BZPOPMIN & co. */
    addReplyLongLong(c, (long long)n);
}

/* ========================== Handles ======================================= */

/* Looks argv[i] up as a sorted set for reading: C_ERR after a WRONGTYPE
 * reply; *z is NULL when the key does not exist.  Close with zsetCloseRead. */
static int zsetOpenRead(client *c, int i, stColl **z, stObj **o)
{
    *z = NULL;
    if (lookupTypedOrReply(c, c->argv[i], c->argvlen[i], ST_TYPE_ZSET, 0, o) != C_OK)
        return C_ERR;
    if (*o) *z = collOpenRead(c, c->db, c->argv[i], c->argvlen[i], *o, ST_TYPE_ZSET);
    return C_OK;
}

static void zsetCloseRead(stColl *z, stObj *o)
{
    if (z) stCollClose(z);
    if (o) stObjRelease(o);
}

/* A write handle on key argv[i] (o: its object, NULL to create it) in a
 * new batch (*b). */
static stColl *zsetOpenWrite(client *c, int i, stObj *o, stBatch **b)
{
    *b = dbBatch(c);
    return collOpenWrite(c, *b, c->argv[i], c->argvlen[i], o, ST_TYPE_ZSET);
}

/* Closes a write handle and releases o; commits when `changed`, otherwise
 * drops the batch.  C_OK when the caller may reply success. */
static int zsetFinishWrite(client *c, stColl *z, stBatch *b, stObj *o, int changed)
{
    stCollClose(z);
    if (o) stObjRelease(o);
    if (!changed) {
        dbBatchDiscard(c, b);
        return C_OK;
    }
    return commitOrReply(c, b);
}

/* ========================== Range walks =================================== */

/* Every walk calls fn for the members of a range in reply order. */
typedef void zVisitFn(void *ud, const char *m, size_t mlen, double score);

/* Members in score range r (descending with reverse), skipping `offset`
 * of them and visiting at most `limit` (< 0: no limit).  A negative
 * offset selects nothing, as in Redis. */
static void zWalkScore(stColl *z, const zScoreRange *r, int reverse, long long offset,
                       long long limit, zVisitFn *fn, void *ud)
{
    if (!z || zScoreRangeEmpty(r) || offset < 0 || limit == 0) return;
    stCollIter *it = reverse
                         ? stZsetIterNew(z, r->max, ST_ITER_REVERSE | (r->maxex ? ST_ITER_EXCLUSIVE : 0))
                         : stZsetIterNew(z, r->min, r->minex ? ST_ITER_EXCLUSIVE : 0);
    for (; stCollIterValid(it); stCollIterNext(it)) {
        double s = stCollIterScore(it);
        if (reverse ? !zScoreGteMin(s, r) : !zScoreLteMax(s, r)) break;
        if (offset > 0) {
            offset--;
            continue;
        }
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        fn(ud, m, ml, s);
        if (limit > 0 && --limit == 0) break;
    }
    stCollIterFree(it);
}

/* Members in lex range r, in member order (reverse: descending). */
static void zWalkLex(stColl *z, const zLexRange *r, int reverse, long long offset,
                     long long limit, zVisitFn *fn, void *ud)
{
    if (!z || zLexRangeEmpty(r) || offset < 0 || limit == 0) return;
    const zLexBound *from = reverse ? &r->max : &r->min;
    if (from->inf == (reverse ? -1 : 1)) return; /* starts beyond every member */
    int flags = (reverse ? ST_ITER_REVERSE : 0) | (from->inf == 0 && from->ex ? ST_ITER_EXCLUSIVE : 0);
    stCollIter *it = stCollIterNew(z, from->inf ? NULL : from->s, from->len, flags);
    for (; stCollIterValid(it); stCollIterNext(it)) {
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        if (reverse ? !zLexGteMin(m, ml, r) : !zLexLteMax(m, ml, r)) break;
        if (offset > 0) {
            offset--;
            continue;
        }
        fn(ud, m, ml, stCollIterScore(it));
        if (limit > 0 && --limit == 0) break;
    }
    stCollIterFree(it);
}

/* Redis's rank sanitising: negative indexes count from the end; returns 0
 * when the range is empty, else 1 with [*start, *end] inside [0, llen). */
static int zRankClamp(long long llen, long long *start, long long *end)
{
    if (*start < 0) *start += llen;
    if (*end < 0) *end += llen;
    if (*start < 0) *start = 0;
    if (*start > *end || *start >= llen) return 0;
    if (*end >= llen) *end = llen - 1;
    return 1;
}

static void zCollectVisit(void *ud, const char *m, size_t mlen, double score)
{
    zItemsPush(ud, m, mlen, score);
}

/* Ranks [start, end] (Redis semantics; reverse: rank 0 is the highest
 * score).  O(rank): the walk starts from the nearer end of the index, and
 * when that runs against the reply order the range is gathered first and
 * visited backwards. */
static void zWalkRank(stColl *z, long long start, long long end, int reverse, zVisitFn *fn,
                      void *ud)
{
    long long llen = z ? (long long)stCollCount(z) : 0;
    if (!zRankClamp(llen, &start, &end)) return;
    /* Ascending positions [lo, hi] of the range. */
    long long lo = reverse ? llen - 1 - end : start, hi = reverse ? llen - 1 - start : end;
    int from_back = llen - lo < hi + 1;
    long long skip = from_back ? llen - 1 - hi : lo, n = hi - lo + 1;
    stCollIter *it = from_back ? stZsetIterNew(z, INFINITY, ST_ITER_REVERSE)
                               : stZsetIterNew(z, -INFINITY, 0);
    for (; skip > 0 && stCollIterValid(it); skip--) stCollIterNext(it);
    zItems tmp;
    zItemsInit(&tmp);
    int direct = from_back == reverse;
    for (; n > 0 && stCollIterValid(it); n--, stCollIterNext(it)) {
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        if (direct) fn(ud, m, ml, stCollIterScore(it));
        else zItemsPush(&tmp, m, ml, stCollIterScore(it));
    }
    stCollIterFree(it);
    for (size_t i = tmp.n; i > 0; i--) fn(ud, tmp.v[i - 1].m, tmp.v[i - 1].mlen, tmp.v[i - 1].score);
    zItemsFree(&tmp);
}

/* ========================== ZADD ZINCRBY ================================== */

#define ZADD_NX (1 << 0)
#define ZADD_XX (1 << 1)
#define ZADD_GT (1 << 2)
#define ZADD_LT (1 << 3)
#define ZADD_INCR (1 << 4)
#define ZADD_CH (1 << 5)

/* Parses the option words; returns the index of the first score, or -1
 * after an error reply. */
static int zaddParseOptions(client *c, int *flags, long *pairs)
{
    static const struct {
        const char *w;
        int f;
    } words[] = {{"nx", ZADD_NX}, {"xx", ZADD_XX}, {"ch", ZADD_CH},
                 {"incr", ZADD_INCR}, {"gt", ZADD_GT}, {"lt", ZADD_LT}};
    int i = 2;
    for (; i < c->argc; i++) {
        size_t w = 0;
        while (w < sizeof(words) / sizeof(words[0]) && !argIs(c, i, words[w].w)) w++;
        if (w == sizeof(words) / sizeof(words[0])) break;
        *flags |= words[w].f;
    }
    int f = *flags, left = c->argc - i;
    if (left == 0 || left % 2) {
        addReplyErrorSyntax(c);
        return -1;
    }
    *pairs = left / 2;
    if ((f & ZADD_NX) && (f & ZADD_XX)) {
        addReplyError(c, "XX and NX options at the same time are not compatible");
        return -1;
    }
    if (((f & ZADD_GT) && (f & (ZADD_NX | ZADD_LT))) || ((f & ZADD_LT) && (f & ZADD_NX))) {
        addReplyError(c, "GT, LT, and/or NX options at the same time are not compatible");
        return -1;
    }
    if ((f & ZADD_INCR) && *pairs > 1) {
        addReplyError(c, "INCR option supports a single increment-element pair");
        return -1;
    }
    return i;
}

typedef struct zaddResult {
    long long added, updated, processed;
    double score; /* the last member's new score (INCR's reply) */
    int nan;
} zaddResult;

/* Applies one score-member pair with Redis's zsetAdd() rules. */
static void zaddOne(stColl *z, int flags, double score, const char *m, size_t ml, zaddResult *r)
{
    double cur;
    if (stZsetScore(z, m, ml, &cur)) {
        if (flags & ZADD_NX) return;
        if (flags & ZADD_INCR) {
            score += cur;
            if (isnan(score)) {
                r->nan = 1;
                return;
            }
        }
        if (((flags & ZADD_LT) && score >= cur) || ((flags & ZADD_GT) && score <= cur)) return;
        r->processed++;
        r->score = score;
        if (score != cur) {
            stZsetAddKnown(z, m, ml, zStoredScore(score), 1, cur);
            r->updated++;
        }
    } else if (!(flags & ZADD_XX)) {
        stZsetAddKnown(z, m, ml, zStoredScore(score), 0, 0);
        r->added++;
        r->processed++;
        r->score = score;
    }
}

static void zaddGeneric(client *c, int flags)
{
    long pairs;
    int first = zaddParseOptions(c, &flags, &pairs);
    if (first < 0) return;
    double *scores = malloc(sizeof(double) * (size_t)pairs);
    for (long j = 0; j < pairs; j++)
        if (getDoubleOrReply(c, c->argv[first + 2 * j], c->argvlen[first + 2 * j], &scores[j],
                             NULL) != C_OK)
            goto done;
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_ZSET, 1, &o) != C_OK) goto done;
    zaddResult r = {0, 0, 0, 0, 0};
    if (o || !(flags & ZADD_XX)) {
        stBatch *b;
        stColl *z = zsetOpenWrite(c, 1, o, &b);
        for (long j = 0; j < pairs && !r.nan; j++)
            zaddOne(z, flags, scores[j], c->argv[first + 2 * j + 1], c->argvlen[first + 2 * j + 1], &r);
        if (r.nan) {
            /* INCR takes one pair, so nothing was written before it. */
            zsetFinishWrite(c, z, b, o, 0);
            addReplyError(c, "resulting score is not a number (NaN)");
            goto done;
        }
        if (zsetFinishWrite(c, z, b, o, r.added || r.updated) != C_OK) goto done;
        if (r.added || r.updated) {
            notifyKeyspaceEvent(NOTIFY_ZSET, (flags & ZADD_INCR) ? "zincr" : "zadd", c->argv[1],
                                c->argvlen[1], c->db);
            signalKeyAsReady(c->db, c->argv[1], c->argvlen[1]); /* BZPOPMIN & co. */
        }
    }
    if (flags & ZADD_INCR) {
        if (r.processed) addReplyDouble(c, r.score);
        else addReplyNull(c);
    } else {
        addReplyLongLong(c, (flags & ZADD_CH) ? r.added + r.updated : r.added);
    }
done:
    free(scores);
}

void zaddCommand(client *c)
{
    zaddGeneric(c, 0);
}

void zincrbyCommand(client *c)
{
    zaddGeneric(c, ZADD_INCR);
}

/* ========================== ZREM ========================================== */

void zremCommand(client *c)
{
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_ZSET, 1, &o) != C_OK) return;
    if (!o) {
        addReplyLongLong(c, 0);
        return;
    }
    stBatch *b;
    stColl *z = zsetOpenWrite(c, 1, o, &b);
    long long deleted = 0;
    for (int j = 2; j < c->argc && stCollCount(z) > 0; j++)
        deleted += stCollDel(z, c->argv[j], c->argvlen[j]);
    int removed = stCollCount(z) == 0;
    if (zsetFinishWrite(c, z, b, o, deleted > 0) != C_OK) return;
    if (deleted) {
        notifyKeyspaceEvent(NOTIFY_ZSET, "zrem", c->argv[1], c->argvlen[1], c->db);
        if (removed) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
    }
    addReplyLongLong(c, deleted);
}

/* ========================== Point reads =================================== */

void zcardCommand(client *c)
{
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_ZSET, 0, &o) != C_OK) return;
    addReplyLongLong(c, o ? (long long)o->meta.count : 0);
    if (o) stObjRelease(o);
}

void zscoreCommand(client *c)
{
    stColl *z;
    stObj *o;
    if (zsetOpenRead(c, 1, &z, &o) != C_OK) return;
    double s;
    if (z && stZsetScore(z, c->argv[2], c->argvlen[2], &s)) addReplyDouble(c, s);
    else addReplyNull(c);
    zsetCloseRead(z, o);
}

void zmscoreCommand(client *c)
{
    stColl *z;
    stObj *o;
    if (zsetOpenRead(c, 1, &z, &o) != C_OK) return;
    addReplyArrayLen(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double s;
        if (z && stZsetScore(z, c->argv[j], c->argvlen[j], &s)) addReplyDouble(c, s);
        else addReplyNull(c);
    }
    zsetCloseRead(z, o);
}

/* ZRANK / ZREVRANK: O(rank), counted along the index from the asked end. */
static void zrankGeneric(client *c, int reverse)
{
    stColl *z;
    stObj *o;
    if (zsetOpenRead(c, 1, &z, &o) != C_OK) return;
    const char *m = c->argv[2];
    size_t ml = c->argvlen[2];
    double s;
    if (!z || !stZsetScore(z, m, ml, &s)) {
        addReplyNull(c);
        zsetCloseRead(z, o);
        return;
    }
    stCollIter *it = reverse ? stZsetIterNew(z, INFINITY, ST_ITER_REVERSE)
                             : stZsetIterNew(z, -INFINITY, 0);
    long long rank = 0;
    for (; stCollIterValid(it); stCollIterNext(it), rank++) {
        size_t el;
        const char *e = stCollIterElem(it, &el);
        if (el == ml && memcmp(e, m, ml) == 0) break;
    }
    if (stCollIterValid(it)) addReplyLongLong(c, rank);
    else addReplyNull(c);
    stCollIterFree(it);
    zsetCloseRead(z, o);
}

void zrankCommand(client *c)
{
    zrankGeneric(c, 0);
}

void zrevrankCommand(client *c)
{
    zrankGeneric(c, 1);
}

static void zCountVisit(void *ud, const char *m, size_t mlen, double score)
{
    (void)m;
    (void)mlen;
    (void)score;
    (*(long long *)ud)++;
}

void zcountCommand(client *c)
{
    zScoreRange r;
    if (zParseScoreRange(c->argv[2], c->argvlen[2], c->argv[3], c->argvlen[3], &r) != C_OK) {
        addReplyError(c, "min or max is not a float");
        return;
    }
    stColl *z;
    stObj *o;
    if (zsetOpenRead(c, 1, &z, &o) != C_OK) return;
    long long n = 0;
    zWalkScore(z, &r, 0, 0, -1, zCountVisit, &n);
    addReplyLongLong(c, n);
    zsetCloseRead(z, o);
}

void zlexcountCommand(client *c)
{
    zLexRange r;
    if (zParseLexRange(c->argv[2], c->argvlen[2], c->argv[3], c->argvlen[3], &r) != C_OK) {
        addReplyError(c, "min or max not valid string range item");
        return;
    }
    stColl *z;
    stObj *o;
    if (zsetOpenRead(c, 1, &z, &o) != C_OK) return;
    long long n = 0;
    zWalkLex(z, &r, 0, 0, -1, zCountVisit, &n);
    addReplyLongLong(c, n);
    zsetCloseRead(z, o);
}

/* ========================== ZRANGE family ================================= */

#define ZR_AUTO 0
#define ZR_RANK 1
#define ZR_SCORE 2
#define ZR_LEX 3
#define ZR_DIR_AUTO (-1)

/* A parsed ZRANGE-family request (Redis's zrangeGenericCommand). */
typedef struct zrangeReq {
    int type, reverse, withscores;
    long long start, end;     /* ZR_RANK */
    zScoreRange score;        /* ZR_SCORE */
    zLexRange lex;            /* ZR_LEX */
    long long offset, limit;  /* LIMIT; limit -1: none */
} zrangeReq;

/* Parses the options after <src> <min> <max> and the range, in Redis's
 * order of checks.  store: ZRANGESTORE (no WITHSCORES).  C_ERR after an
 * error reply. */
static int zrangeParse(client *c, int keyidx, int store, int type, int dir, zrangeReq *q)
{
    memset(q, 0, sizeof(*q));
    q->limit = -1;
    for (int j = keyidx + 3; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (!store && argIs(c, j, "withscores")) {
            q->withscores = 1;
        } else if (argIs(c, j, "limit") && left >= 2) {
            if (getLongLongOrReply(c, c->argv[j + 1], c->argvlen[j + 1], &q->offset, NULL) != C_OK ||
                getLongLongOrReply(c, c->argv[j + 2], c->argvlen[j + 2], &q->limit, NULL) != C_OK)
                return C_ERR;
            j += 2;
        } else if (dir == ZR_DIR_AUTO && argIs(c, j, "rev")) {
            dir = 1;
        } else if (type == ZR_AUTO && argIs(c, j, "bylex")) {
            type = ZR_LEX;
        } else if (type == ZR_AUTO && argIs(c, j, "byscore")) {
            type = ZR_SCORE;
        } else {
            addReplyErrorSyntax(c);
            return C_ERR;
        }
    }
    q->reverse = dir == 1;
    q->type = type == ZR_AUTO ? ZR_RANK : type;
    if (q->limit != -1 && q->type == ZR_RANK) {
        addReplyError(c, "syntax error, LIMIT is only supported in combination with either "
                         "BYSCORE or BYLEX");
        return C_ERR;
    }
    if (q->withscores && q->type == ZR_LEX) {
        addReplyError(c, "syntax error, WITHSCORES not supported in combination with BYLEX");
        return C_ERR;
    }
    /* Reversed score and lex ranges are given as <max> <min>. */
    int minidx = keyidx + 1, maxidx = keyidx + 2;
    if (q->reverse && q->type != ZR_RANK) {
        minidx = keyidx + 2;
        maxidx = keyidx + 1;
    }
    const char *mn = c->argv[minidx], *mx = c->argv[maxidx];
    size_t mnl = c->argvlen[minidx], mxl = c->argvlen[maxidx];
    if (q->type == ZR_RANK) {
        if (getLongLongOrReply(c, mn, mnl, &q->start, NULL) != C_OK ||
            getLongLongOrReply(c, mx, mxl, &q->end, NULL) != C_OK)
            return C_ERR;
    } else if (q->type == ZR_SCORE) {
        if (zParseScoreRange(mn, mnl, mx, mxl, &q->score) != C_OK) {
            addReplyError(c, "min or max is not a float");
            return C_ERR;
        }
    } else if (zParseLexRange(mn, mnl, mx, mxl, &q->lex) != C_OK) {
        addReplyError(c, "min or max not valid string range item");
        return C_ERR;
    }
    return C_OK;
}

static void zrangeWalk(stColl *z, const zrangeReq *q, zVisitFn *fn, void *ud)
{
    if (!z) return;
    /* An offset past the end selects nothing (Redis's early return). */
    if (q->type != ZR_RANK && q->offset > 0 && (uint64_t)q->offset >= stCollCount(z)) return;
    if (q->type == ZR_RANK) zWalkRank(z, q->start, q->end, q->reverse, fn, ud);
    else if (q->type == ZR_SCORE) zWalkScore(z, &q->score, q->reverse, q->offset, q->limit, fn, ud);
    else zWalkLex(z, &q->lex, q->reverse, q->offset, q->limit, fn, ud);
}

/* Reply items gathered as RESP: counted, appended. */
typedef struct zReplyBuf {
    strbuf out;
    long n;
    int resp, withscores;
} zReplyBuf;

static void zReplyVisit(void *ud, const char *m, size_t mlen, double score)
{
    zReplyBuf *r = ud;
    zAppendItem(&r->out, r->resp, m, mlen, score, r->withscores);
    r->n++;
}

/* keyidx: the source key's argument; store: ZRANGESTORE, whose destination
 * is argv[1] (otherwise the range is replied).  type / dir: what the
 * command fixes (ZR_AUTO / ZR_DIR_AUTO: left to the options). */
static void zrangeGeneric(client *c, int keyidx, int store, int type, int dir)
{
    zrangeReq q;
    if (zrangeParse(c, keyidx, store, type, dir, &q) != C_OK) return;
    stColl *z;
    stObj *o;
    if (zsetOpenRead(c, keyidx, &z, &o) != C_OK) return;
    if (store) {
        zItems items;
        zItemsInit(&items);
        zrangeWalk(z, &q, zCollectVisit, &items);
        zsetCloseRead(z, o);
        zStoreResult(c, c->argv[1], c->argvlen[1], &items, "zrangestore");
        zItemsFree(&items);
        return;
    }
    zReplyBuf r = {.n = 0, .resp = c->resp, .withscores = q.withscores};
    sbInit(&r.out);
    zrangeWalk(z, &q, zReplyVisit, &r);
    zsetCloseRead(z, o);
    addReplyArrayLen(c, q.withscores && c->resp == 2 ? r.n * 2 : r.n);
    if (r.out.len) addReplyRaw(c, r.out.buf, r.out.len);
    sbFree(&r.out);
}

void zrangeCommand(client *c)
{
    zrangeGeneric(c, 1, 0, ZR_AUTO, ZR_DIR_AUTO);
}

void zrangestoreCommand(client *c)
{
    zrangeGeneric(c, 2, 1, ZR_AUTO, ZR_DIR_AUTO);
}

void zrevrangeCommand(client *c)
{
    zrangeGeneric(c, 1, 0, ZR_RANK, 1);
}

void zrangebyscoreCommand(client *c)
{
    zrangeGeneric(c, 1, 0, ZR_SCORE, 0);
}

void zrevrangebyscoreCommand(client *c)
{
    zrangeGeneric(c, 1, 0, ZR_SCORE, 1);
}

void zrangebylexCommand(client *c)
{
    zrangeGeneric(c, 1, 0, ZR_LEX, 0);
}

void zrevrangebylexCommand(client *c)
{
    zrangeGeneric(c, 1, 0, ZR_LEX, 1);
}

/* ========================== ZREMRANGEBY* ================================== */

static void zremrangeGeneric(client *c, int type)
{
    static const char *const events[] = {"", "zremrangebyrank", "zremrangebyscore",
                                         "zremrangebylex"};
    long long start = 0, end = 0;
    zScoreRange sr;
    zLexRange lr;
    if (type == ZR_RANK) {
        if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &start, NULL) != C_OK ||
            getLongLongOrReply(c, c->argv[3], c->argvlen[3], &end, NULL) != C_OK)
            return;
    } else if (type == ZR_SCORE) {
        if (zParseScoreRange(c->argv[2], c->argvlen[2], c->argv[3], c->argvlen[3], &sr) != C_OK) {
            addReplyError(c, "min or max is not a float");
            return;
        }
    } else if (zParseLexRange(c->argv[2], c->argvlen[2], c->argv[3], c->argvlen[3], &lr) != C_OK) {
        addReplyError(c, "min or max not valid string range item");
        return;
    }
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_ZSET, 1, &o) != C_OK) return;
    if (!o) {
        addReplyLongLong(c, 0);
        return;
    }
    stBatch *b;
    stColl *z = zsetOpenWrite(c, 1, o, &b);
    /* Gather first: the index is not written while an iterator walks it. */
    zItems gone;
    zItemsInit(&gone);
    if (type == ZR_RANK) zWalkRank(z, start, end, 0, zCollectVisit, &gone);
    else if (type == ZR_SCORE) zWalkScore(z, &sr, 0, 0, -1, zCollectVisit, &gone);
    else zWalkLex(z, &lr, 0, 0, -1, zCollectVisit, &gone);
    long long deleted = 0;
    /* Each was just seen by the walk, with its score: no read per delete. */
    for (size_t i = 0; i < gone.n; i++) stCollDelSeen(z, gone.v[i].m, gone.v[i].mlen, 0, gone.v[i].score);
    deleted = (long long)gone.n;
    zItemsFree(&gone);
    int removed = stCollCount(z) == 0;
    if (zsetFinishWrite(c, z, b, o, deleted > 0) != C_OK) return;
    if (deleted) {
        notifyKeyspaceEvent(NOTIFY_ZSET, events[type], c->argv[1], c->argvlen[1], c->db);
        if (removed) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
    }
    addReplyLongLong(c, deleted);
}

void zremrangebyrankCommand(client *c)
{
    zremrangeGeneric(c, ZR_RANK);
}

void zremrangebyscoreCommand(client *c)
{
    zremrangeGeneric(c, ZR_SCORE);
}

void zremrangebylexCommand(client *c)
{
    zremrangeGeneric(c, ZR_LEX);
}

/* ========================== ZPOPMIN ZPOPMAX ZMPOP ========================= */

/* Pops up to count members of key (o: its object) from the low end (max:
 * the high end) into out, in pop order; notifies "zpopmin"/"zpopmax" and
 * "del" when the key is emptied.  Consumes o.  C_ERR after an error reply
 * (storage failure: nothing popped). */
static int zpopKey(client *c, const char *key, size_t klen, stObj *o, int max, long long count,
                   zItems *out)
{
    stBatch *b = dbBatch(c);
    stColl *z = collOpenWrite(c, b, key, klen, o, ST_TYPE_ZSET);
    stCollIter *it = max ? stZsetIterNew(z, INFINITY, ST_ITER_REVERSE) : stZsetIterNew(z, -INFINITY, 0);
    /* No step past the last pop: the next pop seeks back to it (the end
     * hint), where the reused iterator then already is (coll.c). */
    while (stCollIterValid(it) && (long long)out->n < count) {
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        zItemsPush(out, m, ml, stCollIterScore(it));
        if ((long long)out->n < count) stCollIterNext(it);
    }
    stCollIterFree(it);
    for (size_t i = 0; i < out->n; i++) stCollDelSeen(z, out->v[i].m, out->v[i].mlen, 0, out->v[i].score);
    int removed = stCollCount(z) == 0;
    if (zsetFinishWrite(c, z, b, o, out->n > 0) != C_OK) return C_ERR;
    if (out->n) {
        notifyKeyspaceEvent(NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", key, klen, c->db);
        if (removed) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", key, klen, c->db);
    }
    return C_OK;
}

/* Popped members with their scores: a flat array, or with `nested` an
 * array of [member, score] pairs (whatever the protocol). */
static void zReplyPopped(client *c, const zItems *l, int nested)
{
    addReplyArrayLen(c, (long)(nested ? l->n : l->n * 2));
    for (size_t i = 0; i < l->n; i++) {
        if (nested) addReplyArrayLen(c, 2);
        addReplyBulk(c, l->v[i].m, l->v[i].mlen);
        addReplyDouble(c, l->v[i].score);
    }
}

/* ZPOPMIN / ZPOPMAX key [count]: a flat array (pairs in RESP3 when a count
 * was given); empty when the key does not exist. */
static void zpopMinMax(client *c, int max)
{
    if (c->argc > 3) {
        addReplyErrorSyntax(c);
        return;
    }
    long long count = -1;
    if (c->argc == 3 &&
        getRangeLongOrReply(c, c->argv[2], c->argvlen[2], 0, LLONG_MAX, &count,
                            "value is out of range, must be positive") != C_OK)
        return;
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_ZSET, 1, &o) != C_OK) return;
    if (!o || count == 0) {
        if (o) stObjRelease(o);
        addReplyArrayLen(c, 0);
        return;
    }
    zItems items;
    zItemsInit(&items);
    if (zpopKey(c, c->argv[1], c->argvlen[1], o, max, count < 0 ? 1 : count, &items) == C_OK)
        zReplyPopped(c, &items, c->resp > 2 && count != -1);
    zItemsFree(&items);
}

void zpopminCommand(client *c)
{
    zpopMinMax(c, 0);
}

void zpopmaxCommand(client *c)
{
    zpopMinMax(c, 1);
}

/* ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: parses the arguments
 * into *first (the first key), *nkeys, *max, *count.  C_ERR after an
 * error reply.  numkeys_idx: where numkeys is (1 for ZMPOP, 2 for BZMPOP). */
static int zmpopParse(client *c, int numkeys_idx, int *first, long long *nkeys, int *max,
                      long long *count)
{
    if (getRangeLongOrReply(c, c->argv[numkeys_idx], c->argvlen[numkeys_idx], 1, LONG_MAX, nkeys,
                            "numkeys should be greater than 0") != C_OK)
        return C_ERR;
    /* The MIN|MAX word must follow the keys (compared without overflow:
     * numkeys may be LONG_MAX). */
    if (*nkeys > c->argc - numkeys_idx - 2) {
        addReplyErrorSyntax(c);
        return C_ERR;
    }
    long long where = numkeys_idx + *nkeys + 1;
    if (!(argIs(c, (int)where, "min") || argIs(c, (int)where, "max"))) {
        addReplyErrorSyntax(c);
        return C_ERR;
    }
    *max = argIs(c, (int)where, "max");
    *count = -1;
    for (int j = (int)where + 1; j < c->argc; j++) {
        if (*count == -1 && argIs(c, j, "count") && j + 1 < c->argc) {
            j++;
            if (getRangeLongOrReply(c, c->argv[j], c->argvlen[j], 1, LONG_MAX, count,
                                    "count should be greater than 0") != C_OK)
                return C_ERR;
        } else {
            addReplyErrorSyntax(c);
            return C_ERR;
        }
    }
    if (*count == -1) *count = 1;
    *first = numkeys_idx + 1;
    return C_OK;
}

void zmpopCommand(client *c)
{
    int first, max;
    long long nkeys, count;
    if (zmpopParse(c, 1, &first, &nkeys, &max, &count) != C_OK) return;
    /* The first key that exists is popped; a wrong type before it fails. */
    for (long long k = 0; k < nkeys; k++) {
        int i = first + (int)k;
        stObj *o;
        if (lookupTypedOrReply(c, c->argv[i], c->argvlen[i], ST_TYPE_ZSET, 1, &o) != C_OK) return;
        if (!o) continue;
        zItems items;
        zItemsInit(&items);
        if (zpopKey(c, c->argv[i], c->argvlen[i], o, max, count, &items) == C_OK) {
            addReplyArrayLen(c, 2);
            addReplyBulk(c, c->argv[i], c->argvlen[i]);
            zReplyPopped(c, &items, 1);
        }
        zItemsFree(&items);
        return;
    }
    addReplyNullArray(c);
}

/* ========================== BZPOPMIN BZPOPMAX BZMPOP ====================== */

static int zsetServe(client *c, const char *key, size_t klen);

/* Pops up to count members of key (o: its object, a sorted set; consumed)
 * for a blocking pop and replies [key, member, score] (BZPOPMIN/BZPOPMAX)
 * or, with `mpop`, [key, [[member, score], ...]] (BZMPOP).  Scores are
 * doubles in RESP3, as Redis 7.0 sends them.  Also the serve path of a
 * blocked client. */
static void zbpopReply(client *c, const char *key, size_t klen, stObj *o, int max,
                       long long count, int mpop)
{
    zItems items;
    zItemsInit(&items);
    if (zpopKey(c, key, klen, o, max, count, &items) == C_OK) {
        if (items.n == 0) { /* cannot happen: an emptied set has no key */
            addReplyNullArray(c);
        } else {
            addReplyArrayLen(c, mpop ? 2 : 3);
            addReplyBulk(c, key, klen);
            if (mpop) {
                zReplyPopped(c, &items, 1);
            } else {
                addReplyBulk(c, items.v[0].m, items.v[0].mlen);
                addReplyDouble(c, items.v[0].score);
            }
        }
    }
    zItemsFree(&items);
}

/* The keys are argv[first .. first+nkeys): the first that exists is popped
 * at once (WRONGTYPE when one before it, or it, holds another type, as
 * Redis checks only keys that exist now).  None: block until one is made
 * ready (blocking.c calls zsetServe), or a null array where blocking is
 * not allowed (MULTI/EXEC, scripts). */
static void zbpopGeneric(client *c, int first, int nkeys, int max, long long count, int mpop,
                         uint64_t deadline)
{
    for (int i = first; i < first + nkeys; i++) {
        stObj *o;
        if (lookupTypedOrReply(c, c->argv[i], c->argvlen[i], ST_TYPE_ZSET, 1, &o) != C_OK) return;
        if (o) {
            zbpopReply(c, c->argv[i], c->argvlen[i], o, max, count, mpop);
            return;
        }
    }
    if (blockingAllowed(c))
        blockForKeys(c, nkeys, c->argv + first, c->argvlen + first, deadline, zsetServe, NULL, 0);
    else
        addReplyNullArray(c);
}

/* BZPOPMIN / BZPOPMAX key [key ...] timeout */
static void bzpopMinMax(client *c, int max)
{
    uint64_t deadline;
    int last = c->argc - 1;
    if (getBlockTimeoutOrReply(c, c->argv[last], c->argvlen[last], &deadline) != C_OK) return;
    zbpopGeneric(c, 1, last - 1, max, 1, 0, deadline);
}

void bzpopminCommand(client *c)
{
    bzpopMinMax(c, 0);
}

void bzpopmaxCommand(client *c)
{
    bzpopMinMax(c, 1);
}

/* BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: the
 * arguments are checked before the timeout, as Redis 7.0 does. */
void bzmpopCommand(client *c)
{
    int first, max;
    long long nkeys, count;
    uint64_t deadline;
    if (zmpopParse(c, 2, &first, &nkeys, &max, &count) != C_OK) return;
    if (getBlockTimeoutOrReply(c, c->argv[1], c->argvlen[1], &deadline) != C_OK) return;
    zbpopGeneric(c, first, (int)nkeys, max, count, 1, deadline);
}

/* Serves a client blocked by one of the commands above when key may have
 * members (blocking.c): c is a proxy carrying the blocked command.  A key
 * of another type is left to the next waiter (a BLPOP may want it). */
static int zsetServe(client *c, const char *key, size_t klen)
{
    stObj *o = lookupKeyWrite(c, key, klen);
    if (!o) return BLOCK_STOP;
    if (o->meta.type != ST_TYPE_ZSET) {
        stObjRelease(o);
        return BLOCK_SKIP;
    }
    if (c->cmd->proc == bzmpopCommand) {
        int first, max;
        long long nkeys, count;
        if (zmpopParse(c, 2, &first, &nkeys, &max, &count) != C_OK) { /* checked before */
            stObjRelease(o);
            return BLOCK_SERVED;
        }
        zbpopReply(c, key, klen, o, max, count, 1);
    } else {
        zbpopReply(c, key, klen, o, c->cmd->proc == bzpopmaxCommand, 1, 0);
    }
    return BLOCK_SERVED;
}

/* ========================== ZRANDMEMBER =================================== */

#define ZRAND_CHUNK 65536 /* draws sorted and served per pass over the set */

/* One draw: which rank, and where it goes in the reply. */
typedef struct zDraw {
    uint64_t rank;
    long slot;
} zDraw;

static int zDrawCmp(const void *a, const void *b)
{
    uint64_t x = ((const zDraw *)a)->rank, y = ((const zDraw *)b)->rank;
    return (x > y) - (x < y);
}

/* Fills items[slot] with the reply item of each draw (sorted by rank): one
 * pass over the members in member order. */
static void zrandCollect(client *c, stColl *z, const zDraw *d, long n, int withscores,
                         strbuf *items)
{
    stCollIter *it = stCollIterNew(z, NULL, 0, 0);
    uint64_t pos = 0;
    for (long i = 0; i < n; i++) {
        for (; pos < d[i].rank && stCollIterValid(it); pos++) stCollIterNext(it);
        if (!stCollIterValid(it)) {
            respAppendNullBulk(&items[d[i].slot], c->resp);
            continue;
        }
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        zAppendItem(&items[d[i].slot], c->resp, m, ml, stCollIterScore(it), withscores);
    }
    stCollIterFree(it);
}

/* Serves n draws: with `distinct`, n distinct ranks by selection sampling
 * (Knuth's algorithm S) shown in shuffled order; otherwise n independent
 * draws.  Appends the items to out. */
static void zrandServe(client *c, stColl *z, long n, int distinct, int withscores, strbuf *out)
{
    uint64_t size = stCollCount(z);
    zDraw *d = malloc(sizeof(*d) * (size_t)n);
    if (distinct) {
        long k = 0;
        for (uint64_t r = 0; r < size && k < n; r++)
            if (rngBelow(size - r) < (uint64_t)(n - k)) {
                d[k] = (zDraw){r, k};
                k++;
            }
        /* Ranks come out sorted; shuffle where each one goes in the reply
         * (Fisher-Yates over the slots), as Redis's order is random too. */
        for (long i = n - 1; i > 0; i--) {
            long j = (long)rngBelow((uint64_t)i + 1), t = d[i].slot;
            d[i].slot = d[j].slot;
            d[j].slot = t;
        }
    } else {
        for (long i = 0; i < n; i++) d[i] = (zDraw){rngBelow(size), i};
        qsort(d, (size_t)n, sizeof(*d), zDrawCmp);
    }
    strbuf *items = calloc((size_t)n, sizeof(strbuf));
    zrandCollect(c, z, d, n, withscores, items);
    for (long i = 0; i < n; i++) {
        sbAppend(out, items[i].buf, items[i].len);
        sbFree(&items[i]);
    }
    free(items);
    free(d);
}

static void zrandmemberWithCount(client *c, long long count, int withscores)
{
    stColl *z;
    stObj *o;
    if (zsetOpenRead(c, 1, &z, &o) != C_OK) return;
    if (!z || count == 0) {
        addReplyArrayLen(c, 0);
        zsetCloseRead(z, o);
        return;
    }
    uint64_t size = stCollCount(z);
    long long n = count < 0 ? -count : ((uint64_t)count < size ? count : (long long)size);
    strbuf out;
    sbInit(&out);
    if (count > 0 && (uint64_t)count >= size) {
        /* The whole set, in member order. */
        stCollIter *it = stCollIterNew(z, NULL, 0, 0);
        for (; stCollIterValid(it); stCollIterNext(it)) {
            size_t ml;
            const char *m = stCollIterElem(it, &ml);
            zAppendItem(&out, c->resp, m, ml, stCollIterScore(it), withscores);
        }
        stCollIterFree(it);
    } else if (count > 0) {
        zrandServe(c, z, (long)n, 1, withscores, &out);
    } else {
        /* Independent draws, in chunks so the draw table stays small. */
        for (long long done = 0; done < n; done += ZRAND_CHUNK)
            zrandServe(c, z, (long)(n - done < ZRAND_CHUNK ? n - done : ZRAND_CHUNK), 0,
                       withscores, &out);
    }
    addReplyArrayLen(c, (long)(withscores && c->resp == 2 ? n * 2 : n));
    if (out.len) addReplyRaw(c, out.buf, out.len);
    sbFree(&out);
    zsetCloseRead(z, o);
}

void zrandmemberCommand(client *c)
{
    if (c->argc >= 3) {
        long long count;
        if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &count, NULL) != C_OK) return;
        if (c->argc > 4 || (c->argc == 4 && !argIs(c, 3, "withscores"))) {
            addReplyErrorSyntax(c);
            return;
        }
        /* Redis 7.0 checks this only WITHSCORES (and hangs on a huge
         * negative count without it); later Redis refuses both. */
        if (count < -LONG_MAX / 2 || count > LONG_MAX / 2) {
            addReplyError(c, "value is out of range");
            return;
        }
        zrandmemberWithCount(c, count, c->argc == 4);
        return;
    }
    stColl *z;
    stObj *o;
    if (zsetOpenRead(c, 1, &z, &o) != C_OK) return;
    if (!z) {
        addReplyNull(c);
        return;
    }
    zDraw d = {rngBelow(stCollCount(z)), 0};
    strbuf item;
    sbInit(&item);
    zrandCollect(c, z, &d, 1, 0, &item);
    addReplyRaw(c, item.buf, item.len);
    sbFree(&item);
    zsetCloseRead(z, o);
}

/* ========================== ZSCAN ========================================= */

void zscanCommand(client *c)
{
    collScanGeneric(c, ST_TYPE_ZSET);
}

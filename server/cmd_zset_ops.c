/* cmd_zset_ops.c - sorted-set algebra over several keys: ZUNION ZINTER
 * ZDIFF, their STORE forms ZUNIONSTORE ZINTERSTORE ZDIFFSTORE, and
 * ZINTERCARD.
 *
 * Inputs may be sorted sets or plain sets (a set member scores 1), as in
 * Redis.  Every input's element records are in member byte order
 * (storage.h), which shapes the algorithms:
 *  - union is a k-way merge of the inputs' member-ordered iterators: no
 *    hash table, O(total members x inputs) comparisons;
 *  - intersection walks the smallest input and looks each member up in the
 *    others (point reads), stopping at the first miss, as Redis does;
 *  - difference walks the first input and looks each member up in the rest.
 * Scores aggregate in Redis's order (inputs sorted by ascending size for
 * union and intersection), so floating-point sums come out bit-identical.
 * The result is gathered in memory (member copies), then replied in score
 * order or written to the destination in one batch (zset_range.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "zset_range.h"

#define ZOP_UNION 0
#define ZOP_INTER 1
#define ZOP_DIFF 2

#define ZAGG_SUM 0
#define ZAGG_MIN 1
#define ZAGG_MAX 2

/* One input key. */
typedef struct zSrc {
    int argi;      /* its argument index (the same key named twice is one set) */
    int order;     /* position among the inputs, for a stable sort */
    stObj *o;      /* NULL: no such key (an empty input) */
    stColl *h;     /* read handle, NULL with o */
    int type;      /* ST_TYPE_ZSET or ST_TYPE_SET */
    uint64_t card;
    double weight;
} zSrc;

/* A parsed request. */
typedef struct zOpReq {
    int op, agg, withscores, cardonly;
    long long limit; /* ZINTERCARD LIMIT; 0 = none */
    int nsrc;
    zSrc *src;
} zOpReq;

/* ========================== Inputs ======================================== */

static void zSrcCloseAll(zOpReq *q)
{
    for (int i = 0; i < q->nsrc; i++) {
        if (q->src[i].h) stCollClose(q->src[i].h);
        if (q->src[i].o) stObjRelease(q->src[i].o);
    }
    free(q->src);
    q->src = NULL;
    q->nsrc = 0;
}

/* Opens the nsrc input keys from argument `first` on.  C_ERR after a
 * WRONGTYPE reply (for any key that is neither a sorted set nor a set). */
static int zSrcOpenAll(client *c, zOpReq *q, int first, int nsrc)
{
    q->src = calloc((size_t)nsrc, sizeof(zSrc));
    for (int i = 0; i < nsrc; i++) {
        zSrc *s = &q->src[i];
        s->argi = first + i;
        s->order = i;
        s->weight = 1.0;
        q->nsrc = i + 1;
        s->o = lookupKeyRead(c, c->argv[s->argi], c->argvlen[s->argi]);
        if (!s->o) continue;
        s->type = s->o->meta.type;
        if (s->type != ST_TYPE_ZSET && s->type != ST_TYPE_SET) {
            addReplyErrorWrongType(c);
            zSrcCloseAll(q);
            return C_ERR;
        }
        s->h = collOpenRead(c, c->db, c->argv[s->argi], c->argvlen[s->argi], s->o, s->type);
        s->card = stCollCount(s->h);
    }
    return C_OK;
}

static int zSrcSameKey(client *c, const zSrc *a, const zSrc *b)
{
    return c->argvlen[a->argi] == c->argvlen[b->argi] &&
           memcmp(c->argv[a->argi], c->argv[b->argi], c->argvlen[a->argi]) == 0;
}

static double zSrcIterScore(const zSrc *s, const stCollIter *it)
{
    return s->type == ST_TYPE_SET ? 1.0 : stCollIterScore(it);
}

/* The member's score in input s: 1 when present. */
static int zSrcFind(zSrc *s, const char *m, size_t ml, double *score)
{
    if (!s->h) return 0;
    if (s->type == ST_TYPE_ZSET) return stZsetScore(s->h, m, ml, score);
    if (!stCollGet(s->h, m, ml, NULL, NULL)) return 0;
    *score = 1.0;
    return 1;
}

static int zSrcCmpCard(const void *a, const void *b)
{
    const zSrc *x = a, *y = b;
    if (x->card != y->card) return x->card < y->card ? -1 : 1;
    return x->order - y->order;
}

/* ========================== Options ======================================= */

/* Parses WEIGHTS / AGGREGATE / WITHSCORES / LIMIT from argument j on, with
 * Redis's rules of which command takes which.  store: a destination. */
static int zOpParseOptions(client *c, zOpReq *q, int j, int store)
{
    while (j < c->argc) {
        int left = c->argc - j;
        int algebra = q->op != ZOP_DIFF && !q->cardonly;
        if (algebra && left >= q->nsrc + 1 && argIs(c, j, "weights")) {
            j++;
            for (int i = 0; i < q->nsrc; i++, j++)
                if (getDoubleOrReply(c, c->argv[j], c->argvlen[j], &q->src[i].weight,
                                     "weight value is not a float") != C_OK)
                    return C_ERR;
        } else if (algebra && left >= 2 && argIs(c, j, "aggregate")) {
            j++;
            if (argIs(c, j, "sum")) q->agg = ZAGG_SUM;
            else if (argIs(c, j, "min")) q->agg = ZAGG_MIN;
            else if (argIs(c, j, "max")) q->agg = ZAGG_MAX;
            else goto syntax;
            j++;
        } else if (!store && !q->cardonly && argIs(c, j, "withscores")) {
            j++;
            q->withscores = 1;
        } else if (q->cardonly && left >= 2 && argIs(c, j, "limit")) {
            if (getPositiveLongOrReply(c, c->argv[j + 1], c->argvlen[j + 1], &q->limit,
                                       "LIMIT can't be negative") != C_OK)
                return C_ERR;
            j += 2;
        } else {
            goto syntax;
        }
    }
    return C_OK;
syntax:
    addReplyErrorSyntax(c);
    return C_ERR;
}

/* ========================== Algorithms ==================================== */

static void zAggregate(double *target, double val, int agg)
{
    if (agg == ZAGG_SUM) {
        *target += val;
        /* inf + -inf: Redis's convention is 0. */
        if (isnan(*target)) *target = 0.0;
    } else if (agg == ZAGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

static double zWeighted(const zSrc *s, double score)
{
    double v = s->weight * score;
    return isnan(v) ? 0 : v;
}

static int zSameBytes(const char *a, size_t al, const char *b, size_t bl)
{
    return al == bl && memcmp(a, b, al) == 0;
}

/* The smallest current member of the valid cursors, copied into *buf. */
static int zUnionNextMin(stCollIter **its, int n, char **buf, size_t *cap, size_t *len)
{
    const char *min = NULL;
    size_t minl = 0;
    for (int i = 0; i < n; i++) {
        if (!stCollIterValid(its[i])) continue;
        size_t el;
        const char *e = stCollIterElem(its[i], &el);
        if (min) {
            int cmp = memcmp(e, min, el < minl ? el : minl);
            if (cmp > 0 || (cmp == 0 && el >= minl)) continue;
        }
        min = e;
        minl = el;
    }
    if (!min) return 0;
    if (minl + 1 > *cap) {
        *cap = minl + 1;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf, min, minl);
    *len = minl;
    return 1;
}

/* Union: a merge of member-ordered cursors; each member's score is the
 * aggregate over the inputs holding it, in input order. */
static void zUnion(zOpReq *q, zItems *out)
{
    stCollIter **its = calloc((size_t)q->nsrc, sizeof(*its));
    for (int i = 0; i < q->nsrc; i++)
        its[i] = q->src[i].h ? stCollIterNew(q->src[i].h, NULL, 0, 0) : NULL;
    char *m = NULL;
    size_t cap = 0, ml;
    while (zUnionNextMin(its, q->nsrc, &m, &cap, &ml)) {
        double score = 0;
        int first = 1;
        for (int i = 0; i < q->nsrc; i++) {
            if (!stCollIterValid(its[i])) continue;
            size_t el;
            const char *e = stCollIterElem(its[i], &el);
            if (!zSameBytes(e, el, m, ml)) continue;
            double v = zWeighted(&q->src[i], zSrcIterScore(&q->src[i], its[i]));
            if (first) score = v;
            else zAggregate(&score, v, q->agg);
            first = 0;
            stCollIterNext(its[i]);
        }
        zItemsPush(out, m, ml, score);
    }
    free(m);
    for (int i = 0; i < q->nsrc; i++) stCollIterFree(its[i]);
    free(its);
}

/* Intersection: the smallest input (src[0] after sorting) walked, each
 * member looked up in the others.  With cardonly only *card counts,
 * stopping at the LIMIT. */
static void zInter(client *c, zOpReq *q, zItems *out, long long *card)
{
    zSrc *s0 = &q->src[0];
    if (!s0->h || s0->card == 0) return;
    stCollIter *it = stCollIterNew(s0->h, NULL, 0, 0);
    for (; stCollIterValid(it); stCollIterNext(it)) {
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        double raw = zSrcIterScore(s0, it), score = zWeighted(s0, raw), v;
        int j = 1;
        for (; j < q->nsrc; j++) {
            zSrc *s = &q->src[j];
            if (zSrcSameKey(c, s, s0)) v = raw * s->weight;
            else if (zSrcFind(s, m, ml, &v)) v *= s->weight;
            else break;
            zAggregate(&score, v, q->agg);
        }
        if (j < q->nsrc) continue;
        if (!q->cardonly) {
            zItemsPush(out, m, ml, score);
        } else if (++*card == q->limit) {
            break;
        }
    }
    stCollIterFree(it);
}

/* Difference: members of the first input found in no other one, with
 * their scores in the first. */
static void zDiff(client *c, zOpReq *q, zItems *out)
{
    zSrc *s0 = &q->src[0];
    if (!s0->h) return;
    for (int j = 1; j < q->nsrc; j++)
        if (zSrcSameKey(c, &q->src[j], s0)) return; /* everything is removed */
    stCollIter *it = stCollIterNew(s0->h, NULL, 0, 0);
    for (; stCollIterValid(it); stCollIterNext(it)) {
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        double v;
        int j = 1;
        while (j < q->nsrc && !zSrcFind(&q->src[j], m, ml, &v)) j++;
        if (j == q->nsrc) zItemsPush(out, m, ml, zSrcIterScore(s0, it));
    }
    stCollIterFree(it);
}

/* ========================== Commands ====================================== */

/* dst: the destination's argument index, 0 when the result is replied.
 * numkeys_idx: where numkeys is. */
static void zopGeneric(client *c, int dst, int numkeys_idx, int op, int cardonly)
{
    static const char *const events[] = {"zunionstore", "zinterstore", "zdiffstore"};
    long long nsrc;
    if (getLongLongOrReply(c, c->argv[numkeys_idx], c->argvlen[numkeys_idx], &nsrc, NULL) != C_OK)
        return;
    if (nsrc < 1) {
        addReplyErrorFormat(c, "at least 1 input key is needed for '%s' command", c->cmd->name);
        return;
    }
    if (nsrc > c->argc - (numkeys_idx + 1)) {
        addReplyErrorSyntax(c);
        return;
    }
    zOpReq q = {.op = op, .agg = ZAGG_SUM, .cardonly = cardonly};
    /* Redis checks the inputs' types before the options. */
    if (zSrcOpenAll(c, &q, numkeys_idx + 1, (int)nsrc) != C_OK) return;
    if (zOpParseOptions(c, &q, numkeys_idx + 1 + (int)nsrc, dst != 0) != C_OK) {
        zSrcCloseAll(&q);
        return;
    }
    if (op != ZOP_DIFF) qsort(q.src, (size_t)q.nsrc, sizeof(zSrc), zSrcCmpCard);
    zItems items;
    zItemsInit(&items);
    long long card = 0;
    if (op == ZOP_UNION) zUnion(&q, &items);
    else if (op == ZOP_INTER) zInter(c, &q, &items, &card);
    else zDiff(c, &q, &items);
    int withscores = q.withscores;
    zSrcCloseAll(&q);
    if (dst) {
        zStoreResult(c, c->argv[dst], c->argvlen[dst], &items, events[op]);
    } else if (cardonly) {
        addReplyLongLong(c, card);
    } else {
        zItemsSortByScore(&items);
        zReplyItems(c, &items, withscores);
    }
    zItemsFree(&items);
}

void zunionstoreCommand(client *c)
{
    zopGeneric(c, 1, 2, ZOP_UNION, 0);
}

void zinterstoreCommand(client *c)
{
    zopGeneric(c, 1, 2, ZOP_INTER, 0);
}

void zdiffstoreCommand(client *c)
{
    zopGeneric(c, 1, 2, ZOP_DIFF, 0);
}

void zunionCommand(client *c)
{
    zopGeneric(c, 0, 1, ZOP_UNION, 0);
}

void zinterCommand(client *c)
{
    zopGeneric(c, 0, 1, ZOP_INTER, 0);
}

void zdiffCommand(client *c)
{
    zopGeneric(c, 0, 1, ZOP_DIFF, 0);
}

void zintercardCommand(client *c)
{
    zopGeneric(c, 0, 1, ZOP_INTER, 1);
}

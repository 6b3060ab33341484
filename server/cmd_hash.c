/* cmd_hash.c - the hash commands: HSET HSETNX HMSET HGET HMGET HDEL HEXISTS
 * HLEN HSTRLEN HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN.
 *
 * A hash is a collection (storage.h): one record per field, so a hash larger
 * than RAM works and HGET reads one field.  Replies and error strings follow
 * Redis 7.0; fields come back in byte order (Redis's order is unspecified).
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* ========================== Helpers ======================================= */

/* Looks up a hash for writing and opens a write handle in a new batch.
 * Replies and returns NULL on WRONGTYPE. */
static stColl *hashOpenWrite(client *c, stBatch **b, stObj **o)
{
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_HASH, 1, o) != C_OK) return NULL;
    *b = dbBatch(c);
    return collOpenWrite(c, *b, c->argv[1], c->argvlen[1], *o, ST_TYPE_HASH);
}

/* Closes a write handle and commits; replies nothing on success. */
static int hashCommit(client *c, stColl *h, stBatch *b, stObj *o)
{
    stCollClose(h);
    if (o) stObjRelease(o);
    return commitOrReply(c, b);
}

/* Drops a write handle whose command failed before writing anything: the
 * handle is closed with nothing queued, the batch discarded. */
static void hashAbort(client *c, stColl *h, stBatch *b, stObj *o)
{
    stCollClose(h);
    dbBatchDiscard(c, b);
    if (o) stObjRelease(o);
}

/* Looks up a hash for reading: C_ERR after a WRONGTYPE reply; *h is NULL
 * when the key does not exist. */
static int hashOpenRead(client *c, stColl **h, stObj **o)
{
    *h = NULL;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_HASH, 0, o) != C_OK) return C_ERR;
    if (*o) *h = collOpenRead(c, c->db, c->argv[1], c->argvlen[1], *o, ST_TYPE_HASH);
    return C_OK;
}

static void hashCloseRead(stColl *h, stObj *o)
{
    if (h) stCollClose(h);
    if (o) stObjRelease(o);
}

/* ========================== Writes ======================================== */

static void hsetGeneric(client *c, int reply_ok)
{
    if (c->argc % 2 != 0) {
        addReplyErrorArity(c);
        return;
    }
    stBatch *b;
    stObj *o;
    stColl *h = hashOpenWrite(c, &b, &o);
    if (!h) return;
    long long added = 0;
    for (int j = 2; j < c->argc; j += 2)
        added += stCollPut(h, c->argv[j], c->argvlen[j], c->argv[j + 1], c->argvlen[j + 1]);
    if (hashCommit(c, h, b, o) != C_OK) return;
    notifyKeyspaceEvent(NOTIFY_HASH, "hset", c->argv[1], c->argvlen[1], c->db);
    if (reply_ok) addReplyOk(c);
    else addReplyLongLong(c, added);
}

void hsetCommand(client *c)
{
    hsetGeneric(c, 0);
}

void hmsetCommand(client *c)
{
    hsetGeneric(c, 1);
}

void hsetnxCommand(client *c)
{
    stBatch *b;
    stObj *o;
    stColl *h = hashOpenWrite(c, &b, &o);
    if (!h) return;
    int added = 0;
    if (!stCollGet(h, c->argv[2], c->argvlen[2], NULL, NULL))
        added = stCollPut(h, c->argv[2], c->argvlen[2], c->argv[3], c->argvlen[3]);
    if (hashCommit(c, h, b, o) != C_OK) return;
    if (added) notifyKeyspaceEvent(NOTIFY_HASH, "hset", c->argv[1], c->argvlen[1], c->db);
    addReplyLongLong(c, added);
}

void hdelCommand(client *c)
{
    stBatch *b;
    stObj *o;
    stColl *h = hashOpenWrite(c, &b, &o);
    if (!h) return;
    long long removed = 0;
    for (int j = 2; j < c->argc; j++) removed += stCollDel(h, c->argv[j], c->argvlen[j]);
    int emptied = removed && stCollCount(h) == 0;
    if (hashCommit(c, h, b, o) != C_OK) return;
    if (removed) notifyKeyspaceEvent(NOTIFY_HASH, "hdel", c->argv[1], c->argvlen[1], c->db);
    if (emptied) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
    addReplyLongLong(c, removed);
}

void hincrbyCommand(client *c)
{
    long long incr, value = 0;
    if (getLongLongOrReply(c, c->argv[3], c->argvlen[3], &incr, NULL) != C_OK) return;
    stBatch *b;
    stObj *o;
    stColl *h = hashOpenWrite(c, &b, &o);
    if (!h) return;
    char *cur;
    size_t curlen;
    if (stCollGet(h, c->argv[2], c->argvlen[2], &cur, &curlen)) {
        int ok = string2ll(cur, curlen, &value);
        free(cur);
        if (!ok) {
            addReplyError(c, "hash value is not an integer");
            goto fail;
        }
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        addReplyError(c, "increment or decrement would overflow");
        goto fail;
    }
    value += incr;
    char buf[32];
    int len = ll2string(buf, sizeof(buf), value);
    stCollPut(h, c->argv[2], c->argvlen[2], buf, (size_t)len);
    if (hashCommit(c, h, b, o) != C_OK) return;
    notifyKeyspaceEvent(NOTIFY_HASH, "hincrby", c->argv[1], c->argvlen[1], c->db);
    addReplyLongLong(c, value);
    return;
fail:
    hashAbort(c, h, b, o);
}

void hincrbyfloatCommand(client *c)
{
    long double incr, value = 0;
    if (!string2ld(c->argv[3], c->argvlen[3], &incr)) {
        addReplyError(c, "value is not a valid float");
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        addReplyError(c, "value is NaN or Infinity");
        return;
    }
    stBatch *b;
    stObj *o;
    stColl *h = hashOpenWrite(c, &b, &o);
    if (!h) return;
    char *cur;
    size_t curlen;
    if (stCollGet(h, c->argv[2], c->argvlen[2], &cur, &curlen)) {
        int ok = string2ld(cur, curlen, &value);
        free(cur);
        if (!ok) {
            addReplyError(c, "hash value is not a float");
            goto fail;
        }
    }
    value += incr;
    char buf[5120];
    int len;
    if (isnan(value) || isinf(value) || (len = ld2string(buf, sizeof(buf), value)) == 0) {
        addReplyError(c, "increment would produce NaN or Infinity");
        goto fail;
    }
    stCollPut(h, c->argv[2], c->argvlen[2], buf, (size_t)len);
    if (hashCommit(c, h, b, o) != C_OK) return;
    notifyKeyspaceEvent(NOTIFY_HASH, "hincrbyfloat", c->argv[1], c->argvlen[1], c->db);
    addReplyBulk(c, buf, (size_t)len);
    return;
fail:
    hashAbort(c, h, b, o);
}

/* ========================== Reads ========================================= */

void hgetCommand(client *c)
{
    stColl *h;
    stObj *o;
    if (hashOpenRead(c, &h, &o) != C_OK) return;
    char *v;
    size_t vlen;
    if (h && stCollGet(h, c->argv[2], c->argvlen[2], &v, &vlen)) {
        addReplyBulk(c, v, vlen);
        free(v);
    } else {
        addReplyNull(c);
    }
    hashCloseRead(h, o);
}

void hmgetCommand(client *c)
{
    stColl *h;
    stObj *o;
    if (hashOpenRead(c, &h, &o) != C_OK) return;
    addReplyArrayLen(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        char *v;
        size_t vlen;
        if (h && stCollGet(h, c->argv[j], c->argvlen[j], &v, &vlen)) {
            addReplyBulk(c, v, vlen);
            free(v);
        } else {
            addReplyNull(c);
        }
    }
    hashCloseRead(h, o);
}

void hexistsCommand(client *c)
{
    stColl *h;
    stObj *o;
    if (hashOpenRead(c, &h, &o) != C_OK) return;
    addReplyLongLong(c, h && stCollGet(h, c->argv[2], c->argvlen[2], NULL, NULL));
    hashCloseRead(h, o);
}

void hlenCommand(client *c)
{
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_HASH, 0, &o) != C_OK) return;
    addReplyLongLong(c, o ? (long long)o->meta.count : 0);
    if (o) stObjRelease(o);
}

void hstrlenCommand(client *c)
{
    stColl *h;
    stObj *o;
    if (hashOpenRead(c, &h, &o) != C_OK) return;
    char *v;
    size_t vlen = 0;
    if (h && stCollGet(h, c->argv[2], c->argvlen[2], &v, &vlen)) free(v);
    addReplyLongLong(c, (long long)vlen);
    hashCloseRead(h, o);
}

#define HASH_KEYS 1
#define HASH_VALS 2

static void hgetallGeneric(client *c, int what)
{
    stColl *h;
    stObj *o;
    if (hashOpenRead(c, &h, &o) != C_OK) return;
    long long n = h ? (long long)stCollCount(h) : 0;
    if (what == (HASH_KEYS | HASH_VALS)) addReplyMapLen(c, n);
    else addReplyArrayLen(c, n);
    long long sent = 0;
    stCollIter *it = h ? stCollIterNew(h, NULL, 0, 0) : NULL;
    for (; it && stCollIterValid(it) && sent < n; stCollIterNext(it), sent++) {
        size_t el, vl;
        const char *e = stCollIterElem(it, &el), *v = stCollIterVal(it, &vl);
        if (what & HASH_KEYS) addReplyBulk(c, e, el);
        if (what & HASH_VALS) addReplyBulk(c, v, vl);
    }
    stCollIterFree(it);
    /* The count in meta is exact (coll.c invariant 1); pad defensively so a
     * damaged record cannot desynchronise the protocol. */
    for (; sent < n; sent++) {
        if (what & HASH_KEYS) addReplyNull(c);
        if (what & HASH_VALS) addReplyNull(c);
    }
    hashCloseRead(h, o);
}

void hkeysCommand(client *c)
{
    hgetallGeneric(c, HASH_KEYS);
}

void hvalsCommand(client *c)
{
    hgetallGeneric(c, HASH_VALS);
}

void hgetallCommand(client *c)
{
    hgetallGeneric(c, HASH_KEYS | HASH_VALS);
}

/* ========================== HRANDFIELD ==================================== */

/* One draw of a negative-count HRANDFIELD: which rank, and where it goes in
 * the reply. */
typedef struct randDraw {
    uint64_t rank;
    long slot;
} randDraw;

static int cmpDraw(const void *a, const void *b)
{
    uint64_t x = ((const randDraw *)a)->rank, y = ((const randDraw *)b)->rank;
    return (x > y) - (x < y);
}

/* Appends the reply items of the n draws (sorted by rank) into items[slot]:
 * one ordered pass over the hash whatever the draws. */
static void hrandCollect(client *c, stColl *h, const randDraw *d, long n, int withvalues,
                         strbuf *items)
{
    stCollIter *it = stCollIterNew(h, NULL, 0, 0);
    uint64_t pos = 0;
    for (long i = 0; i < n; i++) {
        while (pos < d[i].rank && stCollIterValid(it)) {
            stCollIterNext(it);
            pos++;
        }
        strbuf *out = &items[d[i].slot];
        if (!stCollIterValid(it)) {
            respAppendNullBulk(out, c->resp);
            continue;
        }
        size_t el, vl;
        const char *e = stCollIterElem(it, &el), *v = stCollIterVal(it, &vl);
        if (withvalues && c->resp > 2) respAppendArrayLen(out, 2);
        respAppendBulk(out, e, el);
        if (withvalues) respAppendBulk(out, v, vl);
    }
    stCollIterFree(it);
}

/* Draws (sorted by rank) for n reply slots: |count| independent ranks for
 * a negative count; for a positive one distinct ranks by selection sampling
 * (Knuth's algorithm S: one pass, ranks come out sorted). */
static randDraw *hrandDraws(uint64_t size, long n, int distinct)
{
    randDraw *d = malloc(sizeof(*d) * (size_t)n);
    if (!d) abort();
    if (!distinct) {
        for (long i = 0; i < n; i++) {
            d[i].rank = rngBelow(size);
            d[i].slot = i;
        }
        qsort(d, (size_t)n, sizeof(*d), cmpDraw);
        return d;
    }
    long k = 0;
    for (uint64_t r = 0; r < size && k < n; r++) {
        if (rngBelow(size - r) < (uint64_t)(n - k)) {
            d[k].rank = r;
            d[k].slot = k;
            k++;
        }
    }
    return d;
}

/* Replies n items (one pass over the hash per call). */
static void hrandServe(client *c, stColl *h, long n, int distinct, int withvalues)
{
    randDraw *d = hrandDraws(stCollCount(h), n, distinct);
    strbuf *items = calloc((size_t)n, sizeof(strbuf));
    if (!items) abort();
    for (long i = 0; i < n; i++) sbInit(&items[i]);
    hrandCollect(c, h, d, n, withvalues, items);
    for (long i = 0; i < n; i++) {
        addReplyRaw(c, items[i].buf, items[i].len);
        sbFree(&items[i]);
    }
    free(items);
    free(d);
}

#define HRAND_CHUNK 1024            /* independent draws handled per pass */
#define HRAND_MAX_REPLY 2147483647LL /* items one reply may hold */

void hrandfieldCommand(client *c)
{
    long long count = 1;
    int has_count = c->argc >= 3, withvalues = c->argc == 4;
    if (c->argc > 4 || (c->argc == 4 && !argIs(c, 3, "withvalues"))) {
        addReplyErrorSyntax(c);
        return;
    }
    if (has_count) {
        if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &count, NULL) != C_OK) return;
        /* Redis 7.0.15 hangs on counts it cannot answer; later Redis refuses
         * beyond +-LONG_MAX/2, and a reply of more than 2^31 items could
         * never be sent either. */
        if (count < -HRAND_MAX_REPLY || count > LONG_MAX / 2) {
            addReplyError(c, "value is out of range");
            return;
        }
    }
    stColl *h;
    stObj *o;
    if (hashOpenRead(c, &h, &o) != C_OK) return;
    if (!h || count == 0) {
        if (has_count) addReplyArrayLen(c, 0);
        else addReplyNull(c);
        hashCloseRead(h, o);
        return;
    }
    uint64_t size = stCollCount(h);
    long long n = count < 0 ? -count : ((uint64_t)count < size ? count : (long long)size);
    if (has_count) addReplyArrayLen(c, (long)(withvalues && c->resp == 2 ? n * 2 : n));
    if (count < 0) {
        /* Independent draws in chunks: the draw table stays small. */
        for (long long done = 0; done < n; done += HRAND_CHUNK)
            hrandServe(c, h, (long)(n - done < HRAND_CHUNK ? n - done : HRAND_CHUNK), 0,
                       withvalues);
    } else {
        hrandServe(c, h, (long)n, 1, withvalues);
    }
    hashCloseRead(h, o);
}

/* ========================== HSCAN ========================================= */

void hscanCommand(client *c)
{
    collScanGeneric(c, ST_TYPE_HASH);
}

/* cmd_list.c - the list commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN
 * LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP, and the
 * blocking BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP (the waiting itself is
 * blocking.c's).
 *
 * A list is a collection (storage.h) whose elements are opaque position ids
 * in list order: a push or pop at either end is a seek, not a rewrite, and
 * a list larger than RAM works.  There is no index: LINDEX, LSET, LRANGE and
 * friends walk an iterator from the nearer end, using the exact count kept
 * in the key's meta.  Replies, error strings, argument checking order and
 * keyspace events follow Redis 7.0.15.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define LIST_HEAD 0
#define LIST_TAIL 1

static int listServe(client *c, const char *key, size_t klen);

/* ========================== Helpers ======================================= */

/* LEFT / RIGHT of LMOVE, BLMOVE, LMPOP: LIST_HEAD / LIST_TAIL, or -1. */
static int listWhere(client *c, int i)
{
    if (argIs(c, i, "left")) return LIST_HEAD;
    if (argIs(c, i, "right")) return LIST_TAIL;
    return -1;
}

static const char *popEvent(int where)
{
    return where == LIST_HEAD ? "lpop" : "rpop";
}

static const char *pushEvent(int where)
{
    return where == LIST_HEAD ? "lpush" : "rpush";
}

/* An iterator standing on element idx (0 <= idx < count), reached from the
 * nearer end.  *rev: it walks towards the head.  Caller frees. */
static stCollIter *listIterAt(stColl *h, uint64_t idx, int *rev)
{
    uint64_t n = stCollCount(h);
    *rev = n - 1 - idx < idx;
    uint64_t steps = *rev ? n - 1 - idx : idx;
    stCollIter *it = stCollIterNew(h, NULL, 0, *rev ? ST_ITER_REVERSE : 0);
    for (uint64_t i = 0; i < steps && stCollIterValid(it); i++) stCollIterNext(it);
    return it;
}

/* Removes n (1 <= n <= count) elements from one end of the list (h, key;
 * o its object), appending their bulk replies to out in pop order.  All of
 * them: the key is deleted at once (O(1), coll.c) after reading them.
 * Returns 1 when the list is now empty. */
static int listPopInto(client *c, stBatch *b, stColl *h, const stObj *o, const char *key,
                       size_t klen, int where, uint64_t n, strbuf *out)
{
    uint64_t len = stCollCount(h);
    if (n == 1 && len > 1) {
        char *v;
        size_t vl;
        if (stListPop(h, where, &v, &vl)) {
            respAppendBulk(out, v, vl);
            free(v);
        }
        return 0;
    }
    int all = n >= len;
    stCollIter *it = stCollIterNew(h, NULL, 0, where == LIST_TAIL ? ST_ITER_REVERSE : 0);
    for (uint64_t i = 0; i < n && stCollIterValid(it); i++, stCollIterNext(it)) {
        size_t el, vl;
        const char *e = stCollIterElem(it, &el), *v = stCollIterVal(it, &vl);
        respAppendBulk(out, v, vl);
        if (!all) stCollDelSeen(h, e, el, vl, 0);
    }
    stCollIterFree(it);
    if (all) stBatchDel(b, c->db, key, klen, &o->meta);
    return all;
}

/* Pops up to count elements of key (o: its object, a list; the reference
 * is consumed) and replies [key, element] (BLPOP) or [key, [elements]]
 * (mpop: LMPOP, BLMPOP).  Also the serve path of a blocked client. */
static void listPopReply(client *c, stObj *o, const char *key, size_t klen, int where,
                         long long count, int mpop)
{
    uint64_t n = (uint64_t)count < o->meta.count ? (uint64_t)count : o->meta.count;
    stBatch *b = dbBatch(c);
    stColl *h = collOpenWrite(c, b, key, klen, o, ST_TYPE_LIST);
    strbuf out;
    sbInit(&out);
    int emptied = listPopInto(c, b, h, o, key, klen, where, n, &out);
    stCollClose(h);
    stObjRelease(o);
    if (commitOrReply(c, b) == C_OK) {
        addReplyArrayLen(c, 2);
        addReplyBulk(c, key, klen);
        if (mpop) addReplyArrayLen(c, (long)n);
        addReplyRaw(c, out.buf, out.len);
        notifyKeyspaceEvent(NOTIFY_LIST, popEvent(where), key, klen, c->db);
        if (emptied) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", key, klen, c->db);
    }
    sbFree(&out);
}

/* Moves one element from the `from` end of src (sobj: its object, a
 * non-empty list; consumed) to the `to` end of dst and replies it: LMOVE,
 * RPOPLPUSH and the blocking variants.  WRONGTYPE when dst holds another
 * type (checked only now, as Redis). */
static void listMoveReply(client *c, stObj *sobj, const char *src, size_t slen, const char *dst,
                          size_t dlen, int from, int to)
{
    int same = slen == dlen && memcmp(src, dst, slen) == 0;
    stObj *dobj = NULL;
    if (!same && lookupTypedOrReply(c, dst, dlen, ST_TYPE_LIST, 1, &dobj) != C_OK) {
        stObjRelease(sobj);
        return;
    }
    stBatch *b = dbBatch(c);
    stColl *hs = collOpenWrite(c, b, src, slen, sobj, ST_TYPE_LIST);
    char *v = NULL;
    size_t vl = 0;
    stListPop(hs, from, &v, &vl);
    if (same) {
        stListPush(hs, to, v, vl);
    } else {
        stColl *hd = collOpenWrite(c, b, dst, dlen, dobj, ST_TYPE_LIST);
        stListPush(hd, to, v, vl);
        stCollClose(hd);
    }
    uint64_t left = stCollClose(hs);
    stObjRelease(sobj);
    if (dobj) stObjRelease(dobj);
    if (commitOrReply(c, b) == C_OK) {
        addReplyBulk(c, v, vl);
        notifyKeyspaceEvent(NOTIFY_LIST, pushEvent(to), dst, dlen, c->db);
        notifyKeyspaceEvent(NOTIFY_LIST, popEvent(from), src, slen, c->db);
        if (!left) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", src, slen, c->db);
        signalKeyAsReady(c->db, dst, dlen);
    }
    free(v);
}

/* ========================== Push ========================================== */

static void pushGeneric(client *c, int where, int only_existing)
{
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 1, &o) != C_OK) return;
    if (only_existing && !o) {
        addReplyLongLong(c, 0);
        return;
    }
    stBatch *b = dbBatch(c);
    stColl *h = collOpenWrite(c, b, c->argv[1], c->argvlen[1], o, ST_TYPE_LIST);
    for (int j = 2; j < c->argc; j++) stListPush(h, where, c->argv[j], c->argvlen[j]);
    uint64_t len = stCollClose(h);
    if (o) stObjRelease(o);
    if (commitOrReply(c, b) != C_OK) return;
    addReplyLongLong(c, (long long)len);
    notifyKeyspaceEvent(NOTIFY_LIST, pushEvent(where), c->argv[1], c->argvlen[1], c->db);
    signalKeyAsReady(c->db, c->argv[1], c->argvlen[1]);
}

void lpushCommand(client *c)
{
    pushGeneric(c, LIST_HEAD, 0);
}

void rpushCommand(client *c)
{
    pushGeneric(c, LIST_TAIL, 0);
}

void lpushxCommand(client *c)
{
    pushGeneric(c, LIST_HEAD, 1);
}

void rpushxCommand(client *c)
{
    pushGeneric(c, LIST_TAIL, 1);
}

/* ========================== Pop =========================================== */

/* LPOP / RPOP key [count] */
static void popGeneric(client *c, int where)
{
    long long count = 1;
    int has_count = c->argc == 3;
    if (c->argc > 3) {
        addReplyErrorArity(c);
        return;
    }
    if (has_count && getPositiveLongOrReply(c, c->argv[2], c->argvlen[2], &count,
                                            "value is out of range, must be positive") != C_OK)
        return;
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 1, &o) != C_OK) return;
    if (!o) {
        if (has_count) addReplyNullArray(c);
        else addReplyNull(c);
        return;
    }
    if (count == 0) { /* LPOP key 0 on a list: an empty array, nothing popped */
        addReplyArrayLen(c, 0);
        stObjRelease(o);
        return;
    }
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    uint64_t n = (uint64_t)count < o->meta.count ? (uint64_t)count : o->meta.count;
    stBatch *b = dbBatch(c);
    stColl *h = collOpenWrite(c, b, key, klen, o, ST_TYPE_LIST);
    strbuf out;
    sbInit(&out);
    int emptied = listPopInto(c, b, h, o, key, klen, where, n, &out);
    stCollClose(h);
    stObjRelease(o);
    if (commitOrReply(c, b) == C_OK) {
        if (has_count) addReplyArrayLen(c, (long)n);
        addReplyRaw(c, out.buf, out.len);
        notifyKeyspaceEvent(NOTIFY_LIST, popEvent(where), key, klen, c->db);
        if (emptied) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", key, klen, c->db);
    }
    sbFree(&out);
}

void lpopCommand(client *c)
{
    popGeneric(c, LIST_HEAD);
}

void rpopCommand(client *c)
{
    popGeneric(c, LIST_TAIL);
}

/* [B]LMPOP: numkeys at argument `at`, then the keys, LEFT|RIGHT and an
 * optional COUNT.  Replies and returns C_ERR on a bad argument. */
static int mpopParseOrReply(client *c, int at, long long *numkeys, int *where, long long *count)
{
    if (getRangeLongOrReply(c, c->argv[at], c->argvlen[at], 1, LONG_MAX, numkeys,
                            "numkeys should be greater than 0") != C_OK)
        return C_ERR;
    if (*numkeys > c->argc - at - 2) goto syntax;
    int w = at + 1 + (int)*numkeys;
    if ((*where = listWhere(c, w)) < 0) goto syntax;
    *count = 1;
    int seen = 0;
    for (int j = w + 1; j < c->argc; j++) {
        if (!argIs(c, j, "count") || j + 1 >= c->argc || seen) goto syntax;
        if (getRangeLongOrReply(c, c->argv[j + 1], c->argvlen[j + 1], 1, LONG_MAX, count,
                                "count should be greater than 0") != C_OK)
            return C_ERR;
        seen = 1;
        j++;
    }
    return C_OK;
syntax:
    addReplyErrorSyntax(c);
    return C_ERR;
}

/* LMPOP (at = 1) and BLMPOP (timeout first, at = 2). */
static void mpopGeneric(client *c, int at, int blocking)
{
    long long numkeys, count;
    int where;
    uint64_t deadline = 0;
    if (mpopParseOrReply(c, at, &numkeys, &where, &count) != C_OK) return;
    if (blocking && getBlockTimeoutOrReply(c, c->argv[1], c->argvlen[1], &deadline) != C_OK) return;
    for (int j = at + 1; j <= at + numkeys; j++) {
        stObj *o;
        if (lookupTypedOrReply(c, c->argv[j], c->argvlen[j], ST_TYPE_LIST, 1, &o) != C_OK) return;
        if (o) {
            listPopReply(c, o, c->argv[j], c->argvlen[j], where, count, 1);
            return;
        }
    }
    if (blocking && blockingAllowed(c))
        blockForKeys(c, (int)numkeys, c->argv + at + 1, c->argvlen + at + 1, deadline, listServe,
                     NULL, 0);
    else
        addReplyNullArray(c);
}

void lmpopCommand(client *c)
{
    mpopGeneric(c, 1, 0);
}

void blmpopCommand(client *c)
{
    mpopGeneric(c, 2, 1);
}

/* BLPOP / BRPOP key [key ...] timeout */
static void bpopGeneric(client *c, int where)
{
    uint64_t deadline;
    int last = c->argc - 1;
    if (getBlockTimeoutOrReply(c, c->argv[last], c->argvlen[last], &deadline) != C_OK) return;
    for (int j = 1; j < last; j++) {
        stObj *o;
        if (lookupTypedOrReply(c, c->argv[j], c->argvlen[j], ST_TYPE_LIST, 1, &o) != C_OK) return;
        if (o) {
            listPopReply(c, o, c->argv[j], c->argvlen[j], where, 1, 0);
            return;
        }
    }
    if (blockingAllowed(c))
        blockForKeys(c, last - 1, c->argv + 1, c->argvlen + 1, deadline, listServe, NULL, 0);
    else
        addReplyNullArray(c);
}

void blpopCommand(client *c)
{
    bpopGeneric(c, LIST_HEAD);
}

void brpopCommand(client *c)
{
    bpopGeneric(c, LIST_TAIL);
}

/* ========================== Move ========================================== */

static void lmoveGeneric(client *c, int from, int to)
{
    stObj *sobj;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 1, &sobj) != C_OK) return;
    if (!sobj) {
        addReplyNull(c);
        return;
    }
    listMoveReply(c, sobj, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], from, to);
}

void lmoveCommand(client *c)
{
    int from = listWhere(c, 3), to = listWhere(c, 4);
    if (from < 0 || to < 0) {
        addReplyErrorSyntax(c);
        return;
    }
    lmoveGeneric(c, from, to);
}

void rpoplpushCommand(client *c)
{
    lmoveGeneric(c, LIST_TAIL, LIST_HEAD);
}

/* BLMOVE / BRPOPLPUSH: the timeout is argument `tpos`. */
static void blmoveGeneric(client *c, int from, int to, int tpos)
{
    uint64_t deadline;
    if (getBlockTimeoutOrReply(c, c->argv[tpos], c->argvlen[tpos], &deadline) != C_OK) return;
    stObj *sobj;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 1, &sobj) != C_OK) return;
    if (sobj) {
        listMoveReply(c, sobj, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], from, to);
    } else if (blockingAllowed(c)) {
        blockForKeys(c, 1, c->argv + 1, c->argvlen + 1, deadline, listServe, c->argv[2],
                     c->argvlen[2]);
    } else {
        addReplyNull(c); /* Redis 7.0: a null bulk here, a null array on timeout */
    }
}

void blmoveCommand(client *c)
{
    int from = listWhere(c, 3), to = listWhere(c, 4);
    if (from < 0 || to < 0) {
        addReplyErrorSyntax(c);
        return;
    }
    blmoveGeneric(c, from, to, 5);
}

void brpoplpushCommand(client *c)
{
    blmoveGeneric(c, LIST_TAIL, LIST_HEAD, 3);
}

/* Serves a client blocked by one of the commands above when key may have
 * elements (blocking.c): c is a proxy carrying the blocked command. */
static int listServe(client *c, const char *key, size_t klen)
{
    stObj *o = lookupKeyWrite(c, key, klen);
    if (!o) return BLOCK_STOP;
    if (o->meta.type != ST_TYPE_LIST) {
        stObjRelease(o);
        return BLOCK_SKIP;
    }
    commandProc *p = c->cmd->proc;
    if (p == blpopCommand || p == brpopCommand) {
        listPopReply(c, o, key, klen, p == blpopCommand ? LIST_HEAD : LIST_TAIL, 1, 0);
    } else if (p == blmpopCommand) {
        long long numkeys, count;
        int where;
        if (mpopParseOrReply(c, 2, &numkeys, &where, &count) != C_OK) { /* checked before */
            stObjRelease(o);
            return BLOCK_SERVED;
        }
        listPopReply(c, o, key, klen, where, count, 1);
    } else { /* BLMOVE, BRPOPLPUSH */
        int from = LIST_TAIL, to = LIST_HEAD;
        if (p == blmoveCommand) {
            from = listWhere(c, 3);
            to = listWhere(c, 4);
        }
        listMoveReply(c, o, key, klen, c->argv[2], c->argvlen[2], from, to);
    }
    return BLOCK_SERVED;
}

/* ========================== Reads ========================================= */

void llenCommand(client *c)
{
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 0, &o) != C_OK) return;
    addReplyLongLong(c, o ? (long long)o->meta.count : 0);
    if (o) stObjRelease(o);
}

void lindexCommand(client *c)
{
    stObj *o;
    long long idx;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 0, &o) != C_OK) return;
    if (!o) {
        addReplyNull(c);
        return;
    }
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &idx, NULL) != C_OK) goto done;
    long long len = (long long)o->meta.count;
    if (idx < 0) idx += len;
    if (idx < 0 || idx >= len) {
        addReplyNull(c);
        goto done;
    }
    stColl *h = collOpenRead(c, c->db, c->argv[1], c->argvlen[1], o, ST_TYPE_LIST);
    int rev;
    stCollIter *it = listIterAt(h, (uint64_t)idx, &rev);
    if (stCollIterValid(it)) {
        size_t vl;
        const char *v = stCollIterVal(it, &vl);
        addReplyBulk(c, v, vl);
    } else {
        addReplyNull(c);
    }
    stCollIterFree(it);
    stCollClose(h);
done:
    stObjRelease(o);
}

/* Redis's LRANGE/LTRIM normalisation of start and end against len: 1 with
 * the inclusive range in *start, *end, 0 when it is empty. */
static int listRange(long long len, long long *start, long long *end)
{
    if (*start < 0) *start += len;
    if (*end < 0) *end += len;
    if (*start < 0) *start = 0;
    if (*start > *end || *start >= len) return 0;
    if (*end >= len) *end = len - 1;
    return 1;
}

/* Replies elements [start, start + n) walking backwards from the tail:
 * collected, then sent in list order. */
static long long lrangeFromTail(client *c, stColl *h, long long skip, long long n)
{
    strbuf b;
    sbInit(&b);
    size_t *offs = malloc(sizeof(size_t) * (size_t)(n + 1));
    long long got = 0;
    stCollIter *it = stCollIterNew(h, NULL, 0, ST_ITER_REVERSE);
    for (long long i = 0; i < skip && stCollIterValid(it); i++) stCollIterNext(it);
    for (; got < n && stCollIterValid(it); got++, stCollIterNext(it)) {
        size_t vl;
        const char *v = stCollIterVal(it, &vl);
        offs[got] = b.len;
        respAppendBulk(&b, v, vl);
    }
    offs[got] = b.len;
    stCollIterFree(it);
    for (long long i = got - 1; i >= 0; i--) addReplyRaw(c, b.buf + offs[i], offs[i + 1] - offs[i]);
    free(offs);
    sbFree(&b);
    return got;
}

void lrangeCommand(client *c)
{
    long long start, end;
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &start, NULL) != C_OK ||
        getLongLongOrReply(c, c->argv[3], c->argvlen[3], &end, NULL) != C_OK)
        return;
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 0, &o) != C_OK) return;
    long long len = o ? (long long)o->meta.count : 0;
    if (!o || !listRange(len, &start, &end)) {
        addReplyArrayLen(c, 0);
        if (o) stObjRelease(o);
        return;
    }
    long long n = end - start + 1, sent = 0;
    stColl *h = collOpenRead(c, c->db, c->argv[1], c->argvlen[1], o, ST_TYPE_LIST);
    addReplyArrayLen(c, n);
    if (start <= len - 1 - end) {
        stCollIter *it = stCollIterNew(h, NULL, 0, 0);
        for (long long i = 0; i < start && stCollIterValid(it); i++) stCollIterNext(it);
        for (; sent < n && stCollIterValid(it); sent++, stCollIterNext(it)) {
            size_t vl;
            const char *v = stCollIterVal(it, &vl);
            addReplyBulk(c, v, vl);
        }
        stCollIterFree(it);
    } else {
        sent = lrangeFromTail(c, h, len - 1 - end, n);
    }
    /* The count in meta is exact (coll.c invariant 1); pad defensively so a
     * damaged record cannot desynchronise the protocol. */
    for (; sent < n; sent++) addReplyNull(c);
    stCollClose(h);
    stObjRelease(o);
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
void lposCommand(client *c)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < c->argc; j++) {
        int more = j + 1 < c->argc;
        if (argIs(c, j, "rank") && more) {
            j++;
            /* Redis 7.0.15 takes LLONG_MIN and misbehaves; later Redis
             * refuses it with this range error. */
            if (getRangeLongOrReply(c, c->argv[j], c->argvlen[j], -LLONG_MAX, LLONG_MAX, &rank,
                                    NULL) != C_OK)
                return;
            if (rank == 0) {
                addReplyError(c, "RANK can't be zero: use 1 to start from the first match, 2 from "
                                 "the second ... or use negative to start from the end of the list");
                return;
            }
        } else if (argIs(c, j, "count") && more) {
            j++;
            if (getPositiveLongOrReply(c, c->argv[j], c->argvlen[j], &count,
                                       "COUNT can't be negative") != C_OK)
                return;
        } else if (argIs(c, j, "maxlen") && more) {
            j++;
            if (getPositiveLongOrReply(c, c->argv[j], c->argvlen[j], &maxlen,
                                       "MAXLEN can't be negative") != C_OK)
                return;
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 0, &o) != C_OK) return;
    if (!o) {
        if (count != -1) addReplyArrayLen(c, 0);
        else addReplyNull(c);
        return;
    }
    int rev = rank < 0;
    if (rev) rank = -rank;
    long long len = (long long)o->meta.count, idx = 0, matches = 0, found = -1;
    strbuf out;
    sbInit(&out);
    long long nout = 0;
    stColl *h = collOpenRead(c, c->db, c->argv[1], c->argvlen[1], o, ST_TYPE_LIST);
    stCollIter *it = stCollIterNew(h, NULL, 0, rev ? ST_ITER_REVERSE : 0);
    for (; stCollIterValid(it) && (maxlen == 0 || idx < maxlen); stCollIterNext(it), idx++) {
        size_t vl;
        const char *v = stCollIterVal(it, &vl);
        if (vl != c->argvlen[2] || memcmp(v, c->argv[2], vl) != 0) continue;
        if (++matches < rank) continue;
        long long at = rev ? len - idx - 1 : idx;
        if (count == -1) {
            found = at;
            break;
        }
        respAppendInteger(&out, at);
        nout++;
        if (count && matches - rank + 1 >= count) break;
    }
    stCollIterFree(it);
    stCollClose(h);
    stObjRelease(o);
    if (count != -1) {
        addReplyArrayLen(c, nout);
        addReplyRaw(c, out.buf, out.len);
    } else if (found >= 0) {
        addReplyLongLong(c, found);
    } else {
        addReplyNull(c);
    }
    sbFree(&out);
}

/* ========================== Updates ======================================= */

void lsetCommand(client *c)
{
    stObj *o;
    long long idx;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 1, &o) != C_OK) return;
    if (!o) {
        addReplyError(c, "no such key");
        return;
    }
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &idx, NULL) != C_OK) {
        stObjRelease(o);
        return;
    }
    long long len = (long long)o->meta.count;
    if (idx < 0) idx += len;
    if (idx < 0 || idx >= len) {
        addReplyError(c, "index out of range");
        stObjRelease(o);
        return;
    }
    stBatch *b = dbBatch(c);
    stColl *h = collOpenWrite(c, b, c->argv[1], c->argvlen[1], o, ST_TYPE_LIST);
    int rev;
    stCollIter *it = listIterAt(h, (uint64_t)idx, &rev);
    char *pos = NULL;
    size_t plen = 0;
    if (stCollIterValid(it)) {
        const char *e = stCollIterElem(it, &plen);
        pos = malloc(plen ? plen : 1);
        memcpy(pos, e, plen);
    }
    stCollIterFree(it);
    if (pos) stCollPut(h, pos, plen, c->argv[3], c->argvlen[3]);
    free(pos);
    stCollClose(h);
    stObjRelease(o);
    if (commitOrReply(c, b) != C_OK) return;
    addReplyOk(c);
    notifyKeyspaceEvent(NOTIFY_LIST, "lset", c->argv[1], c->argvlen[1], c->db);
}

/* LINSERT key BEFORE|AFTER pivot element: the first pivot from the head. */
void linsertCommand(client *c)
{
    int after;
    if (argIs(c, 2, "after")) after = 1;
    else if (argIs(c, 2, "before")) after = 0;
    else {
        addReplyErrorSyntax(c);
        return;
    }
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 1, &o) != C_OK) return;
    if (!o) {
        addReplyLongLong(c, 0);
        return;
    }
    stBatch *b = dbBatch(c);
    stColl *h = collOpenWrite(c, b, c->argv[1], c->argvlen[1], o, ST_TYPE_LIST);
    char *pos = NULL;
    size_t plen = 0;
    stCollIter *it = stCollIterNew(h, NULL, 0, 0);
    for (; stCollIterValid(it); stCollIterNext(it)) {
        size_t vl;
        const char *v = stCollIterVal(it, &vl);
        if (vl != c->argvlen[3] || memcmp(v, c->argv[3], vl) != 0) continue;
        const char *e = stCollIterElem(it, &plen);
        pos = malloc(plen ? plen : 1);
        memcpy(pos, e, plen);
        break;
    }
    stCollIterFree(it);
    int ok = pos && stListInsert(h, pos, plen, after, c->argv[4], c->argvlen[4]) == C_OK;
    free(pos);
    uint64_t len = stCollClose(h);
    stObjRelease(o);
    if (!ok) {
        dbBatchDiscard(c, b);
        addReplyLongLong(c, -1);
        return;
    }
    if (commitOrReply(c, b) != C_OK) return;
    addReplyLongLong(c, (long long)len);
    notifyKeyspaceEvent(NOTIFY_LIST, "linsert", c->argv[1], c->argvlen[1], c->db);
    signalKeyAsReady(c->db, c->argv[1], c->argvlen[1]);
}

/* LREM key count element: count > 0 from the head, < 0 from the tail, 0 all. */
void lremCommand(client *c)
{
    long long count;
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &count, NULL) != C_OK) return;
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 1, &o) != C_OK) return;
    if (!o) {
        addReplyLongLong(c, 0);
        return;
    }
    /* |LLONG_MIN| does not fit: any count beyond the length is "all". */
    unsigned long long limit = count < 0 ? 0ULL - (unsigned long long)count : (unsigned long long)count;
    stBatch *b = dbBatch(c);
    stColl *h = collOpenWrite(c, b, c->argv[1], c->argvlen[1], o, ST_TYPE_LIST);
    long long removed = 0;
    stCollIter *it = stCollIterNew(h, NULL, 0, count < 0 ? ST_ITER_REVERSE : 0);
    for (; stCollIterValid(it); stCollIterNext(it)) {
        size_t vl, el;
        const char *v = stCollIterVal(it, &vl);
        if (vl != c->argvlen[3] || memcmp(v, c->argv[3], vl) != 0) continue;
        const char *e = stCollIterElem(it, &el);
        stCollDelSeen(h, e, el, vl, 0);
        removed++;
        if (limit && (unsigned long long)removed >= limit) break;
    }
    stCollIterFree(it);
    uint64_t left = stCollClose(h);
    stObjRelease(o);
    if (!removed) {
        dbBatchDiscard(c, b);
        addReplyLongLong(c, 0);
        return;
    }
    if (commitOrReply(c, b) != C_OK) return;
    addReplyLongLong(c, removed);
    notifyKeyspaceEvent(NOTIFY_LIST, "lrem", c->argv[1], c->argvlen[1], c->db);
    if (!left) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
}

/* Deletes n elements from one end through one iterator (coll.c finds the
 * new end once, at close). */
static void listDropEnd(stColl *h, int where, long long n)
{
    stCollIter *it = stCollIterNew(h, NULL, 0, where == LIST_TAIL ? ST_ITER_REVERSE : 0);
    for (long long i = 0; i < n && stCollIterValid(it); i++, stCollIterNext(it)) {
        size_t el, vl;
        const char *e = stCollIterElem(it, &el);
        stCollIterVal(it, &vl);
        stCollDelSeen(h, e, el, vl, 0);
    }
    stCollIterFree(it);
}

/* LTRIM keeping fewer elements than it drops: the kept elements (after
 * ltrim from the head, before rtrim from the tail) are copied into a new
 * incarnation of the key and the old one is deleted whole (O(1), coll.c),
 * so trimming a million-element list to a hundred writes a hundred
 * elements, not a million deletes.  The walk starts at the nearer end. */
static void listRebuild(client *c, stBatch *b, const stObj *o, long long ltrim, long long rtrim,
                        long long n)
{
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    stColl *src = stCollOpen(server.st, b, c->db, key, klen, o, ST_TYPE_LIST, 0);
    stBatchDel(b, c->db, key, klen, &o->meta);
    stColl *dst = stCollOpen(server.st, b, c->db, key, klen, NULL, ST_TYPE_LIST, 1);
    int rev = rtrim < ltrim;
    stCollIter *it = stCollIterNew(src, NULL, 0, rev ? ST_ITER_REVERSE : 0);
    for (long long i = 0; i < (rev ? rtrim : ltrim) && stCollIterValid(it); i++) stCollIterNext(it);
    for (long long i = 0; i < n && stCollIterValid(it); i++, stCollIterNext(it)) {
        size_t vl;
        const char *v = stCollIterVal(it, &vl);
        stListPush(dst, rev ? LIST_HEAD : LIST_TAIL, v, vl);
    }
    stCollIterFree(it);
    if (o->meta.expire_ms) stCollSetExpire(dst, o->meta.expire_ms);
    stCollClose(dst);
    stCollClose(src);
}

void ltrimCommand(client *c)
{
    long long start, end;
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &start, NULL) != C_OK ||
        getLongLongOrReply(c, c->argv[3], c->argvlen[3], &end, NULL) != C_OK)
        return;
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_LIST, 1, &o) != C_OK) return;
    if (!o) {
        addReplyOk(c);
        return;
    }
    long long len = (long long)o->meta.count, ltrim, rtrim;
    if (listRange(len, &start, &end)) {
        ltrim = start;
        rtrim = len - end - 1;
    } else {
        ltrim = len; /* nothing left */
        rtrim = 0;
    }
    int emptied = ltrim + rtrim >= len;
    if (emptied) {
        if (deleteKey(c, c->db, c->argv[1], c->argvlen[1], o) != C_OK) goto done;
    } else if (ltrim || rtrim) {
        stBatch *b = dbBatch(c);
        long long kept = len - ltrim - rtrim;
        if (kept < ltrim + rtrim) {
            listRebuild(c, b, o, ltrim, rtrim, kept);
        } else {
            stColl *h = collOpenWrite(c, b, c->argv[1], c->argvlen[1], o, ST_TYPE_LIST);
            listDropEnd(h, LIST_HEAD, ltrim);
            listDropEnd(h, LIST_TAIL, rtrim);
            stCollClose(h);
        }
        if (commitOrReply(c, b) != C_OK) goto done;
    }
    addReplyOk(c);
    notifyKeyspaceEvent(NOTIFY_LIST, "ltrim", c->argv[1], c->argvlen[1], c->db);
    if (emptied) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
done:
    stObjRelease(o);
}

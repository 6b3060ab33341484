/* db.c - the keyspace API used by commands: lookups with lazy expiry and
 * hit/miss accounting, committing a command's batch, database selection, and
 * the active expire cycle.
 *
 * Active expire cycle (one background thread):
 *
 *   sleeping --(100 ms)--> expireCycle() --scan `expire` index up to now-->
 *       for each due entry: lock keyspace (shared) + key stripe,
 *       expireEntry(): key gone or TTL changed -> drop stale index entry
 *                      still due               -> delete key (expired_keys++)
 *   --> sleeping
 *
 * Invariants:
 *  1. The index may hold stale entries; meta is the truth, so a stale entry
 *     can never delete a live key.
 *  2. The cycle takes the same key stripe as commands, so a command never sees
 *     a key half-expired.
 *  3. A pass is bounded in keys and time so it cannot starve commands.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../replication/repl.h"
#include "server.h"

/* ========================== Lookups ======================================= */

int keyIsExpired(const stObj *o, uint64_t now_ms)
{
    return o->meta.expire_ms != 0 && o->meta.expire_ms <= now_ms;
}

/* Deletes a key found expired.  The caller holds the key's stripe.  Inside a
 * write group the delete joins the group's batch (commands.c). */
void dbDeleteExpired(int db, const char *key, size_t klen, const stObj *o)
{
    stBatch *g = callGroupBatch();
    if (g) {
        stBatchDel(g, db, key, klen, &o->meta);
        atomic_fetch_add_explicit(&server.stat_expiredkeys, 1, memory_order_relaxed);
        notifyKeyspaceEvent(NOTIFY_EXPIRED, "expired", key, klen, db);
        return;
    }
    stBatch *b = stBatchNew(server.st);
    char *err = NULL;
    stBatchDel(b, db, key, klen, &o->meta);
    if (stBatchCommit(b, &err) != C_OK) {
        serverLog(LL_WARNING, "Deleting an expired key failed: %s", err);
        free(err);
        return;
    }
    atomic_fetch_add_explicit(&server.stat_expiredkeys, 1, memory_order_relaxed);
    notifyKeyspaceEvent(NOTIFY_EXPIRED, "expired", key, klen, db);
}

/* Returns the key's object (caller releases) or NULL when absent or expired;
 * an expired key is deleted on the way.  Caller holds the key's stripe. */
stObj *lookupKeyDb(client *c, int db, const char *key, size_t klen, int flags)
{
    stObj *o;
    stBatch *g = callGroupBatch();
    /* Inside a write group, the group's queued writes are the newest state. */
    if (!g || !stBatchGet(g, db, key, klen, &o))
        o = (flags & LOOKUP_NOTOUCH) ? stPeek(server.st, db, key, klen)
                                     : stGet(server.st, db, key, klen);
    uint64_t now = c ? c->cmd_time_ms : mstime();
    if (o && keyIsExpired(o, now)) {
        /* A replica hides expired keys but leaves deleting them to its
         * master, whose deletes it applies; a write on a writable replica
         * deletes (its count must stay exact). */
        if (!replIsReplica() || (flags & LOOKUP_WRITE)) dbDeleteExpired(db, key, klen, o);
        stObjRelease(o);
        o = NULL;
    }
    if (!(flags & LOOKUP_NOTOUCH)) {
        if (o) atomic_fetch_add_explicit(&server.stat_keyspace_hits, 1, memory_order_relaxed);
        else atomic_fetch_add_explicit(&server.stat_keyspace_misses, 1, memory_order_relaxed);
    }
    return o;
}

stObj *lookupKeyRead(client *c, const char *key, size_t klen)
{
    return lookupKeyDb(c, c->db, key, klen, LOOKUP_NONE);
}

stObj *lookupKeyWrite(client *c, const char *key, size_t klen)
{
    return lookupKeyDb(c, c->db, key, klen, LOOKUP_NOTOUCH | LOOKUP_WRITE);
}

/* The batch a command writes into: the thread's open write group (group
 * commit, commands.c) or a new batch of its own.  Either way the command ends
 * with commitOrReply() or dbBatchDiscard(), never with stBatch* calls. */
stBatch *dbBatch(client *c)
{
    (void)c;
    stBatch *g = callGroupBatch();
    return g ? g : stBatchNew(server.st);
}

/* Drops a batch from dbBatch() that the command decided not to write.  A
 * group's batch is left alone: the command queued nothing into it. */
void dbBatchDiscard(client *c, stBatch *b)
{
    (void)c;
    if (b != callGroupBatch()) stBatchDiscard(b);
}

/* Commits b (freeing it).  On failure replies with the storage error and
 * returns C_ERR; nothing was written then.  A group's batch commits later,
 * before any reply is sent (commands.c). */
int commitOrReply(client *c, stBatch *b)
{
    char *err = NULL;
    if (b == callGroupBatch()) {
        atomic_fetch_add_explicit(&server.dirty, 1, memory_order_relaxed);
        return C_OK;
    }
    if (stBatchCommit(b, &err) != C_OK) {
        serverLog(LL_WARNING, "Write failed: %s", err ? err : "?");
        addReplyErrorFormat(c, "storage write failed: %s", err ? err : "unknown error");
        free(err);
        return C_ERR;
    }
    atomic_fetch_add_explicit(&server.dirty, 1, memory_order_relaxed);
    return C_OK;
}

int selectDbOrReply(client *c, const char *arg, size_t len, int *db)
{
    long long id;
    if (!string2ll(arg, len, &id)) {
        addReplyErrorNotInt(c);
        return C_ERR;
    }
    if (id < 0 || id >= cfg.databases) {
        addReplyError(c, "DB index is out of range");
        return C_ERR;
    }
    *db = (int)id;
    return C_OK;
}

/* Parses an expire argument as Redis does.  unit_seconds: the value is in
 * seconds; relative: add the command's "now"; positive_only: zero and negative
 * values are invalid (SET EX, SETEX, GETEX).  On success *at_ms is an absolute
 * unix time in ms, possibly in the past (the caller then deletes the key). */
int getExpireAtOrReply(client *c, const char *arg, size_t len, int unit_seconds, int relative,
                       int positive_only, long long *at_ms)
{
    long long v;
    if (getLongLongOrReply(c, arg, len, &v, NULL) != C_OK) return C_ERR;
    if (positive_only && v <= 0) goto invalid;
    if (unit_seconds) {
        if (v > LLONG_MAX / 1000 || v < LLONG_MIN / 1000) goto invalid;
        v *= 1000;
    }
    if (relative) {
        long long now = (long long)c->cmd_time_ms;
        if (v > 0 && v > LLONG_MAX - now) goto invalid;
        v += now;
    }
    *at_ms = v;
    return C_OK;
invalid:
    addReplyErrorFormat(c, "invalid expire time in '%s' command", c->cmd->name);
    return C_ERR;
}

stObj *newStringObj(const char *val, size_t vlen, uint64_t expire_ms, uint8_t flags)
{
    stMeta m;
    memset(&m, 0, sizeof(m));
    m.type = ST_TYPE_STRING;
    m.flags = flags;
    m.expire_ms = expire_ms;
    return stObjNew(&m, val, vlen);
}

/* Writes obj as key's value in one batch (consumes the caller's reference to
 * obj).  old is the key's current object or NULL.  Replies on failure. */
int writeKey(client *c, int db, const char *key, size_t klen, const stObj *old, stObj *obj)
{
    stBatch *b = dbBatch(c);
    stBatchPut(b, db, key, klen, old ? &old->meta : NULL, obj);
    stObjRelease(obj);
    return commitOrReply(c, b);
}

/* Deletes key (old is its current object) in one batch.  Replies on failure. */
int deleteKey(client *c, int db, const char *key, size_t klen, const stObj *old)
{
    stBatch *b = dbBatch(c);
    stBatchDel(b, db, key, klen, &old->meta);
    return commitOrReply(c, b);
}

const char *typeName(int type)
{
    switch (type) {
    case ST_TYPE_STRING: return "string";
    case ST_TYPE_LIST: return "list";
    case ST_TYPE_SET: return "set";
    case ST_TYPE_ZSET: return "zset";
    case ST_TYPE_HASH: return "hash";
    default: return "none";
    }
}

/* ========================== Collections =================================== */

/* Looks key up for a command on a collection of `type` (write: as a write,
 * LOOKUP_WRITE).  Replies WRONGTYPE and returns C_ERR when the key holds
 * another type; otherwise *out is its object (caller releases) or NULL. */
int lookupTypedOrReply(client *c, const char *key, size_t klen, int type, int write,
                       stObj **out)
{
    stObj *o = write ? lookupKeyWrite(c, key, klen) : lookupKeyRead(c, key, klen);
    if (o && o->meta.type != type) {
        stObjRelease(o);
        addReplyErrorWrongType(c);
        return C_ERR;
    }
    *out = o;
    return C_OK;
}

/* A read handle on key (o its object, NULL when absent) that sees the
 * writes of the thread's open write group.  Caller closes it. */
stColl *collOpenRead(client *c, int db, const char *key, size_t klen, const stObj *o, int type)
{
    (void)c;
    return stCollOpen(server.st, callGroupBatch(), db, key, klen, o, type, 0);
}

/* A write handle on key in batch b (from dbBatch()). */
stColl *collOpenWrite(client *c, stBatch *b, const char *key, size_t klen, const stObj *o,
                      int type)
{
    return stCollOpen(server.st, b, c->db, key, klen, o, type, 1);
}

/* Queues in b a copy of the collection src (srcdb/skey) as dkey of dstdb,
 * with src's expire time.  dkey must not exist in the batch's view (the
 * caller deleted it first).  Element positions of lists are new; order,
 * members and scores are the same. */
void dbCopyCollection(stBatch *b, const stObj *src, int srcdb, const char *skey, size_t sklen,
                      int dstdb, const char *dkey, size_t dklen)
{
    int type = src->meta.type;
    stColl *s = stCollOpen(server.st, b, srcdb, skey, sklen, src, type, 0);
    stColl *d = stCollOpen(server.st, b, dstdb, dkey, dklen, NULL, type, 1);
    stCollIter *it = stCollIterNew(s, NULL, 0, 0);
    for (; stCollIterValid(it); stCollIterNext(it)) {
        size_t el, vl;
        const char *e = stCollIterElem(it, &el), *v = stCollIterVal(it, &vl);
        if (type == ST_TYPE_ZSET) stZsetAdd(d, e, el, stCollIterScore(it), NULL);
        else if (type == ST_TYPE_LIST) stListPush(d, 1, v, vl);
        else stCollPut(d, e, el, v, vl);
    }
    stCollIterFree(it);
    if (src->meta.expire_ms) stCollSetExpire(d, src->meta.expire_ms);
    stCollClose(d);
    stCollClose(s);
    signalKeyAsReady(dstdb, dkey, dklen); /* a list or zset clients may block on */
}

/* ========================== Active expire cycle =========================== */

/* One pass makes a single scan of the index, bounded by these.  A scan starts
 * with a seek that has to step over the tombstones of every entry removed
 * since the last flush of the memtable, so restarting the scan every few
 * hundred entries made a pass quadratic in the number of keys due at once
 * (50,000 keys took minutes to expire).  The time budget starts at the first
 * entry: the seek holds no lock, and charging it to the budget let a pass
 * stop after a single key. */
#define EXPIRE_PASS_MAX_ENTRIES (EXPIRE_CYCLE_KEYS * 100)
#define EXPIRE_PASS_BUDGET_US 25000

static pthread_mutex_t expireMutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t expireCond = PTHREAD_COND_INITIALIZER;
static int expireStop;

typedef struct expirePass {
    uint64_t now_ms;
    uint64_t deadline_us; /* 0 until the first entry */
    size_t expired;
} expirePass;

static int expireEntry(void *ud, int db, const char *key, size_t klen, uint64_t expire_ms)
{
    expirePass *p = ud;
    if (!p->deadline_us) p->deadline_us = monotonic_us() + EXPIRE_PASS_BUDGET_US;
    pthread_rwlock_rdlock(&server.keyspace_lock);
    lockKeyStripe(key, klen, 1);
    stObj *o = stPeek(server.st, db, key, klen); /* expiring is not an access */
    if (!o || o->meta.expire_ms != expire_ms) {
        stBatch *b = stBatchNew(server.st);
        char *err = NULL;
        stBatchDelExpireIndex(b, db, key, klen, expire_ms);
        if (stBatchCommit(b, &err) != C_OK) free(err);
    } else if (keyIsExpired(o, p->now_ms)) {
        dbDeleteExpired(db, key, klen, o);
        p->expired++;
    }
    if (o) stObjRelease(o);
    lockKeyStripe(key, klen, 0);
    pthread_rwlock_unlock(&server.keyspace_lock);
    return monotonic_us() > p->deadline_us;
}

/* One pass: expire what is due, at most ~25 ms of work under key locks. */
static void expireCycle(void)
{
    expirePass p = {mstime(), 0, 0};
    stExpireScan(server.st, p.now_ms, EXPIRE_PASS_MAX_ENTRIES, expireEntry, &p);
}

static void *expireThreadMain(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&expireMutex);
    while (!expireStop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += CRON_INTERVAL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&expireCond, &expireMutex, &ts);
        if (expireStop) break;
        pthread_mutex_unlock(&expireMutex);
        /* Replicas do not expire keys on their own (the master's deletes
         * replicate). */
        if (atomic_load(&server.active_expire_enabled) && !replIsReplica()) expireCycle();
        pthread_mutex_lock(&expireMutex);
    }
    pthread_mutex_unlock(&expireMutex);
    return NULL;
}

void expireStartThread(void)
{
    atomic_store(&server.active_expire_enabled, 1);
    pthread_create(&server.expire_tid, NULL, expireThreadMain, NULL);
}

void expireStopThread(void)
{
    pthread_mutex_lock(&expireMutex);
    expireStop = 1;
    pthread_cond_signal(&expireCond);
    pthread_mutex_unlock(&expireMutex);
    pthread_join(server.expire_tid, NULL);
}

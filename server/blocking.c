/* blocking.c - clients blocked on keys (BLPOP BRPOP BLMOVE BRPOPLPUSH
 * BLMPOP; any later blocking command plugs in the same way): the waiter
 * queues per (db, key), the ready keys a write signals, serving waiters in
 * arrival order from whatever thread made the key ready, timeouts, CLIENT
 * UNBLOCK, and clients that go away while blocked.
 *
 * The API (server.h, "blocking.c")
 * --------------------------------
 * A blocking command that finds nothing to pop calls blockForKeys() (only
 * when blockingAllowed(): scripts and EXEC never block) and replies nothing.
 * The client's thread then runs none of its pipelined commands until it is
 * unblocked.  A command that may have made a key non-empty -- a push, LMOVE
 * or LINSERT, a collection copied by RENAME/COPY/MOVE, later ZADD for
 * BZPOPMIN -- calls signalKeyAsReady(db, key, klen) after queueing its write:
 * "key of db may be ready".  It is cheap (one atomic load when nobody is
 * blocked), may be called for any type of key, inside scripts and EXEC too,
 * and only records the key (SWAPDB calls signalDbAsReady() for a whole
 * db).  At the end of the top-level command (call()
 * calls blockingHandleReady()), the thread commits its write group and, for
 * each ready key, offers it to the key's waiters in the order they blocked:
 * each waiter's serve function (given to blockForKeys) runs on a proxy
 * client holding the blocked command's arguments, under the key's stripe,
 * and pops and replies (BLOCK_SERVED), or finds the key of another type
 * (BLOCK_SKIP: the next waiter may want it) or empty (BLOCK_STOP).  The
 * reply is posted to the waiter's own thread, which resumes the client's
 * pipeline (networking.c, CLIENT_UNBLOCKED, as for WAIT).  So, as in Redis,
 * by the time the pushing client gets its reply every waiter that could be
 * served has been, on any thread.
 *
 * Waiter states (blockState.state, under blockLock):
 *
 *   (none) --blockForKeys(), in the command, owner thread--> BLOCKED
 *   BLOCKED --serveKey(): the server holds the stripes, claims it--> SERVING
 *   SERVING --serve function: SKIP / STOP--> BLOCKED (keeps its place)
 *   SERVING --serve function: SERVED; reply posted, CLIENT_UNBLOCKED--> DONE
 *   BLOCKED --onTimeout() (owner) / blockUnblockClient() (any thread):
 *             null or error posted, CLIENT_UNBLOCKED--> DONE
 *   DONE --blockClientResumed(): owner resumes the pipeline--> freed
 *   BLOCKED | DONE --blockClientFree(): connection gone (owner)--> freed
 *
 * Invariants:
 *  1. Lock order: keyspace lock (shared) -> key stripes, ascending ->
 *     blockLock -> a client's xlock -> its thread's xlock.  blockLock is
 *     never held while waiting for a stripe or the keyspace lock.
 *  2. A waiter is claimed (SERVING) only by a thread that already holds the
 *     keyspace lock and the stripes of every key its serve function touches
 *     (the ready key and blockState.extra).  So the element it pops cannot
 *     be taken by anyone else in between, and a waiter is served at most
 *     once: no element is lost or handed out twice.
 *  3. Only the owner thread frees a waiter (timer, resume, disconnect).  It
 *     first waits out a SERVING state; that cannot deadlock, because a
 *     SERVING thread already holds all its stripes and the keyspace lock
 *     and needs only blockLock, client xlocks, the pub/sub registry (events)
 *     and RocksDB to finish, none of which the owner holds when it waits
 *     (in a timer callback or freeClient()), even with its write group open.
 *  4. Each key's queue is in arrival order (seq); serveKey() offers the key
 *     to waiters in that order, so the first client blocked on a key gets
 *     the first element.
 *  5. Serving happens only at the end of a top-level command, after the
 *     thread's write group committed and every lock it held was released:
 *     never inside a script, EXEC or a nested call, so a woken client sees
 *     the committed push.  If the keyspace lock is held by a busy script,
 *     serving waits for it in slices and, once the script is busy (or this
 *     thread runs it), gives up and retries from a timer.
 *  6. blockedCount counts waiters in BLOCKED or SERVING; each is linked in
 *     the queue of every distinct key it named.  The key table is freed
 *     when it holds no key.
 *  7. A finished waiter's reply is posted before CLIENT_UNBLOCKED is set,
 *     and its thread is woken after (waiterFinish()): the reply precedes
 *     those of the commands the client pipelined behind the blocked one.
 */
#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

#define BS_BLOCKED 0
#define BS_SERVING 1
#define BS_DONE 2

#define READY_RETRY_MS 10          /* retry serving after a busy script refused the lock */
#define KEYSPACE_WAIT_SLICE_MS 10  /* as commands.c: how often a waiting thread checks -BUSY */
#define BLOCK_TABLE_MIN_SLOTS 64

typedef struct bkey bkey;
typedef struct blockState blockState;

/* One waiter's place in one key's queue. */
typedef struct blink {
    struct blink *next, *prev;
    blockState *w;
    bkey *k;
} blink;

/* A key somebody is blocked on: its FIFO of waiters. */
struct bkey {
    int db;
    char *key;
    size_t klen;
    uint64_t hash;
    blink *head, *tail;
    bkey *hnext;
};

struct blockState {
    client *c;
    uint64_t seq;           /* arrival order (invariant 4) */
    int state;              /* BS_*, under blockLock */
    int db, resp;
    int reply_skip;         /* CLIENT REPLY OFF/SKIP was on for the command */
    blockServeProc *serve;
    redisCommand *cmd;
    int argc;               /* the blocked command, for the serve function */
    char **argv;
    size_t *argvlen;
    char *extra;            /* another key the serve function writes, or NULL */
    size_t elen;
    int nlinks;
    blink *links;
    uint64_t deadline_ms;   /* 0: forever */
    struct event *timer;    /* owner thread's base; NULL without a deadline */
};

static pthread_mutex_t blockLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t blockCond = PTHREAD_COND_INITIALIZER; /* a SERVING waiter settled */
static bkey **table;       /* under blockLock */
static size_t tableSlots, tableKeys;
static uint64_t nextSeq;
static _Atomic int blockedCount, timeoutCount;

/* This thread's ready keys (signalKeyAsReady), in signalling order. */
typedef struct readyKey {
    int db;
    char *key;
    size_t klen;
} readyKey;

static __thread readyKey *ready;
static __thread int nready, readyCap;
static __thread int readyDone;       /* ready[0..readyDone) are served and freed */
static __thread int handling;        /* blockingHandleReady() is running */
static __thread struct event_base *retryBase;
static __thread int retryArmed;

/* ========================== Allocation ==================================== */

/* Out of memory is fatal, as everywhere in the server. */
static void *blockAlloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) serverPanic("out of memory (%zu bytes) blocking a client", n);
    return p;
}

static void *blockCalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) serverPanic("out of memory (%zu bytes) blocking a client", n);
    return p;
}

static void *blockRealloc(void *old, size_t n)
{
    void *p = realloc(old, n);
    if (!p) serverPanic("out of memory (%zu bytes) blocking a client", n);
    return p;
}

/* ========================== The key table ================================= */

static uint64_t keyHash(int db, const char *key, size_t klen)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)db;
    for (size_t i = 0; i < klen; i++) h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    return h ^ (h >> 31);
}

/* Caller holds blockLock. */
static bkey *tableFind(int db, const char *key, size_t klen)
{
    if (!tableSlots) return NULL;
    uint64_t h = keyHash(db, key, klen);
    for (bkey *k = table[h & (tableSlots - 1)]; k; k = k->hnext)
        if (k->hash == h && k->db == db && k->klen == klen && !memcmp(k->key, key, klen)) return k;
    return NULL;
}

static void tableGrow(void)
{
    size_t slots = tableSlots ? tableSlots * 2 : BLOCK_TABLE_MIN_SLOTS;
    bkey **t = blockCalloc(slots * sizeof(*t));
    for (size_t i = 0; i < tableSlots; i++) {
        bkey *k = table[i];
        while (k) {
            bkey *next = k->hnext;
            k->hnext = t[k->hash & (slots - 1)];
            t[k->hash & (slots - 1)] = k;
            k = next;
        }
    }
    free(table);
    table = t;
    tableSlots = slots;
}

static bkey *tableGetOrAdd(int db, const char *key, size_t klen)
{
    bkey *k = tableFind(db, key, klen);
    if (k) return k;
    if (tableKeys >= tableSlots) tableGrow();
    k = blockCalloc(sizeof(*k));
    k->db = db;
    k->key = blockAlloc(klen ? klen : 1);
    memcpy(k->key, key, klen);
    k->klen = klen;
    k->hash = keyHash(db, key, klen);
    k->hnext = table[k->hash & (tableSlots - 1)];
    table[k->hash & (tableSlots - 1)] = k;
    tableKeys++;
    return k;
}

static void tableRemove(bkey *k)
{
    bkey **pp = &table[k->hash & (tableSlots - 1)];
    while (*pp != k) pp = &(*pp)->hnext;
    *pp = k->hnext;
    free(k->key);
    free(k);
    if (--tableKeys == 0) { /* invariant 6 */
        free(table);
        table = NULL;
        tableSlots = 0;
    }
}

/* ========================== Waiters ======================================= */

/* Unlinks w from every key queue; caller holds blockLock.  Counts drop. */
static void waiterDequeue(blockState *w)
{
    for (int i = 0; i < w->nlinks; i++) {
        blink *l = &w->links[i];
        bkey *k = l->k;
        if (l->prev) l->prev->next = l->next;
        else k->head = l->next;
        if (l->next) l->next->prev = l->prev;
        else k->tail = l->prev;
        if (!k->head) tableRemove(k);
    }
    w->nlinks = 0;
    atomic_fetch_sub(&blockedCount, 1);
    if (w->deadline_ms) atomic_fetch_sub(&timeoutCount, 1);
}

/* Hands w its final reply (NULL: none) and lets its thread resume it:
 * BLOCKED/SERVING -> DONE.  Caller holds blockLock (invariant 1 allows the
 * xlocks clientPostReply() takes).  The reply is posted before
 * CLIENT_UNBLOCKED is set: once the flag is up the owner may run the
 * client's next commands, whose replies must come after it.  The wake-up
 * after the flag makes the owner look at it even if it already drained the
 * reply (or there was none: skipped, REPLY OFF, a closing client). */
static void waiterFinish(blockState *w, const char *reply, size_t len)
{
    client *c = w->c;
    waiterDequeue(w);
    w->state = BS_DONE;
    if (reply && len && !w->reply_skip) clientPostReply(c, reply, len);
    atomic_fetch_or(&c->flags, CLIENT_UNBLOCKED);
    eventWakeThread(c->thread);
}

/* Frees a dequeued waiter.  Owner thread (the timer lives on its base). */
static void waiterFree(blockState *w)
{
    if (w->timer) event_free(w->timer);
    for (int i = 0; i < w->argc; i++) free(w->argv[i]);
    free(w->argv);
    free(w->argvlen);
    free(w->extra);
    free(w->links);
    free(w);
}

/* Waits until w is not being served (invariant 3).  Holds blockLock. */
static void waiterSettle(blockState *w)
{
    while (w->state == BS_SERVING) pthread_cond_wait(&blockCond, &blockLock);
}

/* The blocked command timed out: reply as Redis (a null array). */
static void onTimeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    blockState *w = arg;
    pthread_mutex_lock(&blockLock);
    waiterSettle(w);
    if (w->state == BS_BLOCKED) {
        strbuf b;
        sbInit(&b);
        respAppendNullArray(&b, w->resp);
        waiterFinish(w, b.buf, b.len);
        sbFree(&b);
    }
    pthread_mutex_unlock(&blockLock);
}

/* ========================== Serving ======================================= */

/* The keyspace lock, shared, as call() takes it: C_ERR when a busy script
 * holds it, or this very thread does (a script serving connections from
 * its hook): the caller retries later (invariant 5). */
static int keyspaceLockShared(void)
{
    pthread_rwlock_t *l = &server.keyspace_lock;
    if (pthread_rwlock_tryrdlock(l) == 0) return C_OK;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += KEYSPACE_WAIT_SLICE_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int rc = pthread_rwlock_timedrdlock(l, &ts);
        if (rc == 0) return C_OK;
        if (rc != ETIMEDOUT) return C_ERR; /* EDEADLK: this thread holds it */
        if (scriptIsBusy()) return C_ERR;
    }
}

/* The first waiter of (db, key) arrived after seq `after` and still blocked:
 * its seq, and a copy of its extra key (caller frees).  0 when none.
 * Caller holds blockLock. */
static uint64_t nextWaiter(int db, const char *key, size_t klen, uint64_t after, char **extra,
                           size_t *elen)
{
    bkey *k = tableFind(db, key, klen);
    for (blink *l = k ? k->head : NULL; l; l = l->next) {
        blockState *w = l->w;
        if (w->seq <= after || w->state != BS_BLOCKED) continue;
        *extra = NULL;
        *elen = w->elen;
        if (w->extra) {
            *extra = blockAlloc(w->elen ? w->elen : 1);
            memcpy(*extra, w->extra, w->elen);
        }
        return w->seq;
    }
    return 0;
}

/* Claims the waiter `seq` of (db, key) if it is still there and blocked
 * (invariant 2): BLOCKED -> SERVING.  Caller holds blockLock. */
static blockState *claimWaiter(int db, const char *key, size_t klen, uint64_t seq)
{
    bkey *k = tableFind(db, key, klen);
    for (blink *l = k ? k->head : NULL; l; l = l->next) {
        if (l->w->seq != seq) continue;
        if (l->w->state != BS_BLOCKED) return NULL;
        l->w->state = BS_SERVING;
        return l->w;
    }
    return NULL;
}

/* Runs w's serve function on a proxy client that carries the blocked
 * command (the real client belongs to its own thread); the reply it built
 * is left in *out.  w is SERVING: its fields are stable (invariant 3). */
static int serveWaiter(blockState *w, const char *key, size_t klen, strbuf *out)
{
    client proxy;
    memset(&proxy, 0, sizeof(proxy));
    proxy.id = w->c->id;
    proxy.fd = -1;
    proxy.thread = w->c->thread;
    proxy.db = w->db;
    proxy.resp = w->resp;
    proxy.authenticated = 1;
    proxy.argc = w->argc;
    proxy.argv = w->argv;
    proxy.argvlen = w->argvlen;
    proxy.cmd = w->cmd;
    proxy.cmd_time_ms = mstime();
    sbInit(&proxy.out);
    int r = w->serve(&proxy, key, klen);
    *out = proxy.out;
    return r;
}

/* Offers (db, key) to its waiters in arrival order until one says STOP or
 * every waiter was offered it.  C_ERR: the keyspace lock is not available
 * now (invariant 5); nothing was done. */
static int serveKey(int db, const char *key, size_t klen)
{
    if (keyspaceLockShared() != C_OK) return C_ERR;
    uint64_t after = 0;
    for (;;) {
        char *extra;
        size_t elen;
        pthread_mutex_lock(&blockLock);
        uint64_t seq = nextWaiter(db, key, klen, after, &extra, &elen);
        pthread_mutex_unlock(&blockLock);
        if (!seq) break;
        const char *keys[2] = {key, extra};
        size_t lens[2] = {klen, elen};
        int nkeys = extra ? 2 : 1;
        lockKeyStripes(keys, lens, nkeys, 1);
        pthread_mutex_lock(&blockLock);
        blockState *w = claimWaiter(db, key, klen, seq);
        pthread_mutex_unlock(&blockLock);
        int r = BLOCK_SKIP;
        strbuf out;
        sbInit(&out);
        if (w) r = serveWaiter(w, key, klen, &out);
        if (w) {
            pthread_mutex_lock(&blockLock);
            if (r == BLOCK_SERVED) waiterFinish(w, out.buf, out.len);
            else w->state = BS_BLOCKED;
            pthread_cond_broadcast(&blockCond);
            pthread_mutex_unlock(&blockLock);
        }
        lockKeyStripes(keys, lens, nkeys, 0);
        sbFree(&out);
        free(extra);
        after = seq;
        if (r == BLOCK_STOP) break;
    }
    pthread_rwlock_unlock(&server.keyspace_lock);
    return C_OK;
}

static void onRetry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    retryArmed = 0;
    blockingHandleReady(NULL);
}

/* ========================== Public API ==================================== */

int blockingAllowed(client *c)
{
    return !(atomic_load(&c->flags) & (CLIENT_SCRIPT | CLIENT_IN_EXEC));
}

int getBlockTimeoutOrReply(client *c, const char *arg, size_t len, uint64_t *deadline_ms)
{
    long double secs;
    if (!string2ld(arg, len, &secs)) {
        addReplyError(c, "timeout is not a float or out of range");
        return C_ERR;
    }
    /* Redis 7.0 rounds up to whole milliseconds (0.0001 waits 1 ms, -0.0001
     * is 0: forever) and converts to a 64-bit integer; on x86 what does not
     * fit (inf, 1e300) becomes the most negative value: "negative". */
    long double ms = ceill(secs * 1000.0L);
    if (ms < 0 || !(ms < 9223372036854775808.0L)) {
        addReplyError(c, "timeout is negative");
        return C_ERR;
    }
    uint64_t v = (uint64_t)ms, now = c->cmd_time_ms ? c->cmd_time_ms : mstime();
    /* Redis's sum wraps past 2^63 and the client then never times out. */
    *deadline_ms = v == 0 || v > (uint64_t)INT64_MAX - now ? 0 : v + now;
    return C_OK;
}

void blockForKeys(client *c, int nkeys, char *const *keys, const size_t *klens,
                  uint64_t deadline_ms, blockServeProc *serve, const char *extra, size_t elen)
{
    blockState *w = blockCalloc(sizeof(*w));
    w->c = c;
    w->db = c->db;
    w->resp = c->resp;
    w->reply_skip = (atomic_load(&c->flags) & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) != 0;
    w->serve = serve;
    w->cmd = c->cmd;
    w->argc = c->argc;
    w->argv = blockAlloc(sizeof(char *) * (size_t)c->argc);
    w->argvlen = blockAlloc(sizeof(size_t) * (size_t)c->argc);
    for (int i = 0; i < c->argc; i++) {
        w->argv[i] = blockAlloc(c->argvlen[i] + 1);
        memcpy(w->argv[i], c->argv[i], c->argvlen[i]);
        w->argv[i][c->argvlen[i]] = '\0';
        w->argvlen[i] = c->argvlen[i];
    }
    if (extra) {
        w->extra = blockAlloc(elen ? elen : 1);
        memcpy(w->extra, extra, elen);
        w->elen = elen;
    }
    w->deadline_ms = deadline_ms;
    w->links = blockCalloc(sizeof(blink) * (size_t)nkeys);
    pthread_mutex_lock(&blockLock);
    w->seq = ++nextSeq;
    for (int i = 0; i < nkeys; i++) {
        int dup = 0; /* BLPOP k k 0 waits once on k */
        for (int j = 0; j < i && !dup; j++)
            dup = klens[j] == klens[i] && !memcmp(keys[j], keys[i], klens[i]);
        if (dup) continue;
        blink *l = &w->links[w->nlinks++];
        bkey *k = tableGetOrAdd(c->db, keys[i], klens[i]);
        l->w = w;
        l->k = k;
        l->prev = k->tail;
        if (k->tail) k->tail->next = l;
        else k->head = l;
        k->tail = l;
    }
    w->state = BS_BLOCKED;
    c->bstate = w;
    atomic_fetch_add(&blockedCount, 1);
    if (deadline_ms) atomic_fetch_add(&timeoutCount, 1);
    pthread_mutex_unlock(&blockLock);
    if (deadline_ms) {
        uint64_t now = mstime(), left = deadline_ms > now ? deadline_ms - now : 0;
        struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
        w->timer = event_new(c->thread->base, -1, 0, onTimeout, w);
        event_add(w->timer, &tv);
    }
    atomic_fetch_or(&c->flags, CLIENT_BLOCKED);
}

void signalKeyAsReady(int db, const char *key, size_t klen)
{
    if (!atomic_load_explicit(&blockedCount, memory_order_relaxed)) return;
    pthread_mutex_lock(&blockLock);
    bkey *k = tableFind(db, key, klen);
    int waiters = k && k->head;
    pthread_mutex_unlock(&blockLock);
    if (!waiters) return;
    for (int i = readyDone; i < nready; i++)
        if (ready[i].db == db && ready[i].klen == klen && !memcmp(ready[i].key, key, klen)) return;
    if (nready == readyCap) {
        readyCap = readyCap ? readyCap * 2 : 8;
        ready = blockRealloc(ready, sizeof(*ready) * (size_t)readyCap);
    }
    readyKey *r = &ready[nready++];
    r->db = db;
    r->key = blockAlloc(klen ? klen : 1);
    memcpy(r->key, key, klen);
    r->klen = klen;
}

void signalDbAsReady(int db)
{
    if (!atomic_load_explicit(&blockedCount, memory_order_relaxed)) return;
    /* Copied out first: signalKeyAsReady() takes blockLock itself. */
    readyKey *keys = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&blockLock);
    for (size_t i = 0; i < tableSlots; i++) {
        for (bkey *k = table[i]; k; k = k->hnext) {
            if (k->db != db) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                keys = blockRealloc(keys, sizeof(*keys) * cap);
            }
            keys[n].db = db;
            keys[n].key = blockAlloc(k->klen ? k->klen : 1);
            memcpy(keys[n].key, k->key, k->klen);
            keys[n++].klen = k->klen;
        }
    }
    pthread_mutex_unlock(&blockLock);
    for (size_t i = 0; i < n; i++) {
        signalKeyAsReady(db, keys[i].key, keys[i].klen);
        free(keys[i].key);
    }
    free(keys);
}

void blockingHandleReady(client *c)
{
    if (c) retryBase = c->thread ? c->thread->base : NULL;
    if (!nready || handling) return;
    handling = 1;
    callFlushGroup(); /* invariant 5: the pushes are committed, no lock held */
    readyDone = 0;
    while (readyDone < nready) { /* serving may signal more keys (BLMOVE) */
        readyKey r = ready[readyDone]; /* ready may move: serving appends */
        if (serveKey(r.db, r.key, r.klen) != C_OK) break;
        free(r.key);
        readyDone++;
    }
    memmove(ready, ready + readyDone, sizeof(*ready) * (size_t)(nready - readyDone));
    nready -= readyDone;
    readyDone = 0;
    if (nready && retryBase && !retryArmed) {
        struct timeval tv = {0, READY_RETRY_MS * 1000};
        retryArmed = event_base_once(retryBase, -1, EV_TIMEOUT, onRetry, NULL, &tv) == 0;
    }
    if (!nready) {
        free(ready);
        ready = NULL;
        readyCap = 0;
    }
    handling = 0;
}

void blockClientResumed(client *c)
{
    blockState *w = c->bstate;
    if (!w) return;
    pthread_mutex_lock(&blockLock);
    c->bstate = NULL;
    pthread_mutex_unlock(&blockLock);
    waiterFree(w);
}

void blockClientFree(client *c)
{
    blockState *w = c->bstate;
    if (!w) return;
    pthread_mutex_lock(&blockLock);
    waiterSettle(w);
    if (w->state == BS_BLOCKED) waiterDequeue(w);
    w->state = BS_DONE;
    c->bstate = NULL;
    pthread_mutex_unlock(&blockLock);
    waiterFree(w);
}

int blockUnblockClient(client *c, int error)
{
    int done = 0;
    pthread_mutex_lock(&blockLock);
    blockState *w = c->bstate;
    /* A waiter being served right now gets its element instead. */
    if (w && w->state == BS_BLOCKED) {
        strbuf b;
        sbInit(&b);
        static const char msg[] = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
        if (error) respAppendError(&b, msg, sizeof(msg) - 1);
        else respAppendNullArray(&b, w->resp);
        waiterFinish(w, b.buf, b.len);
        sbFree(&b);
        done = 1;
    }
    pthread_mutex_unlock(&blockLock);
    return done;
}

int blockedClients(int *with_timeout)
{
    if (with_timeout) *with_timeout = atomic_load(&timeoutCount);
    return atomic_load(&blockedCount);
}

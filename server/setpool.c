/* setpool.c - SPOP's pools: a uniformly random subset of a big set's
 * members, drawn in one ordered walk and popped in random order.
 *
 * A single pick from a set on disk costs a descent of about nine seeks
 * (cmd_set.c, "Random members"); SPOP on a big set paid it per call, about
 * seven times Redis's cost.  A pool is K members chosen by selection
 * sampling (Knuth's Algorithm S) during one walk of the set, K as many as
 * fit SETPOOL_MAX_BYTES (the whole set when it fits), so the walks cost a
 * few steps per pop.
 *
 * Exactness: the pool is a uniformly random K-subset and SPOP takes a
 * uniformly random member of what is left of it.  Given the members popped
 * so far, every subset of the set's remaining members that has the pool's
 * remaining size is equally likely to be the rest of the pool, so each pop
 * is uniform over the set's remaining members: the sequence of pops has
 * exactly the distribution of independent uniform SPOPs (a uniformly random
 * permutation), better than the descent's near-uniform picks.  When a set
 * gets a pool at all is cmd_set.c's choice (SET_POOL_DESCENT_STEPS).
 *
 * Invariants:
 *  1. A pool holds members of the set as its meta record described it when
 *     the pool was stored: (incarnation, HLC and origin of the last write,
 *     count).  Every write of a set rewrites its meta record with a new HLC
 *     (storage.h), so a pool is used only while no other write touched the
 *     set since; SPOP stores it back under the meta record of its own write.
 *  2. A pool is owned by one command at a time: setPoolTake() removes it
 *     from the table, setPoolPut() or setPoolFree() ends the ownership.  The
 *     key's lock stripe already serialises SPOPs of one key.
 *  3. At most SETPOOL_SLOTS sets are tracked, the least recently stored
 *     go first; a pool holds about SETPOOL_MAX_BYTES at most, all pools
 *     together SETPOOL_TOTAL_BYTES (the oldest pools are dropped first).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "setpool.h"

#define SETPOOL_SLOTS 16
#define SETPOOL_MIN_MEMBERS 64
/* 2 MB holds 91,000 of redis-benchmark's members ("element:NNNNNN"): its
 * 100,000-member set popped to the end is walked twice, not five times. */
#define SETPOOL_MAX_BYTES (2048 * 1024)  /* one pool */
#define SETPOOL_TOTAL_BYTES (4096 * 1024) /* all pools */

struct setPool {
    size_t n;        /* members left */
    uint32_t *off;   /* member i: buf[off[i] .. off[i] + len[i]) */
    uint32_t *len;
    char *buf;
    size_t used, cap; /* bytes of buf */
    size_t bytes;     /* what the pool holds in RAM */
};

typedef struct poolSlot {
    int used;
    setPool *pool; /* NULL: only the count of pops is kept */
    uint64_t pops; /* SPOPs in a row that led to this state of the set */
    int db;
    char *key;
    size_t klen;
    uint64_t incarnation, hlc, origin, count;
    uint64_t stamp; /* when stored: the oldest goes first */
} poolSlot;

static pthread_mutex_t poolMu = PTHREAD_MUTEX_INITIALIZER;
static poolSlot slots[SETPOOL_SLOTS];
static uint64_t poolClock;

/* ---- Helpers --------------------------------------------------------------- */

static void *poolAlloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) serverPanic("setpool: out of memory (%zu bytes)", n);
    return p;
}

static int slotIs(const poolSlot *s, int db, const char *key, size_t klen)
{
    return s->used && s->db == db && s->klen == klen && !memcmp(s->key, key, klen);
}

static int slotMatches(const poolSlot *s, const stMeta *m)
{
    return s->incarnation == m->incarnation && s->hlc == m->hlc && s->origin == m->origin &&
           s->count == m->count && (!s->pool || s->pool->n <= m->count);
}

static void slotClear(poolSlot *s)
{
    free(s->key);
    memset(s, 0, sizeof(*s));
}

static void poolAppend(setPool *p, const char *m, size_t ml)
{
    if (p->used + ml > p->cap) {
        p->cap = (p->used + ml) * 2;
        char *nb = realloc(p->buf, p->cap);
        if (!nb) serverPanic("setpool: out of memory (%zu bytes)", p->cap);
        p->buf = nb;
    }
    if (ml) memcpy(p->buf + p->used, m, ml);
    p->off[p->n] = (uint32_t)p->used;
    p->len[p->n] = (uint32_t)ml;
    p->used += ml;
    p->n++;
}

/* ---- API --------------------------------------------------------------------- */

size_t setPoolSizeFor(uint64_t count, uint64_t bytes)
{
    uint64_t per = (count ? bytes / count : 0) + 2 * sizeof(uint32_t) + 1;
    uint64_t k = SETPOOL_MAX_BYTES / per;
    if (k > count) k = count;
    /* A small set's pool is the whole set; a small pool of a big set is not
     * worth its walk. */
    return k < SETPOOL_MIN_MEMBERS && k < count ? 0 : (size_t)k;
}

setPool *setPoolBuild(stColl *h, size_t k)
{
    uint64_t n = stCollCount(h);
    if (!k || !n) return NULL;
    setPool *p = poolAlloc(sizeof(*p));
    p->n = 0;
    p->off = poolAlloc(sizeof(*p->off) * k);
    p->len = poolAlloc(sizeof(*p->len) * k);
    p->cap = 0;
    p->used = 0;
    p->buf = NULL;
    stCollIter *it = stCollIterNew(h, NULL, 0, 0);
    /* Algorithm S: member i (of n) is chosen with probability
     * (k - chosen) / (n - i), which yields every k-subset equally often. */
    for (uint64_t i = 0; i < n && p->n < k && stCollIterValid(it); i++, stCollIterNext(it)) {
        if (rngBelow(n - i) >= k - p->n) continue;
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        if (p->used + ml > 2 * SETPOOL_MAX_BYTES) break; /* far above the average */
        poolAppend(p, m, ml);
    }
    stCollIterFree(it);
    p->bytes = sizeof(*p) + p->cap + k * 2 * sizeof(uint32_t);
    /* A short pool would not be uniform, so none is better: the walk and
     * the count disagree only if storage is inconsistent, and members far
     * longer than the set's average would take too much RAM. */
    if (p->n != k) {
        setPoolFree(p);
        return NULL;
    }
    return p;
}

char *setPoolPop(setPool *p, size_t *ml)
{
    if (!p || !p->n) return NULL;
    size_t i = (size_t)rngBelow(p->n);
    *ml = p->len[i];
    char *m = poolAlloc(*ml);
    if (*ml) memcpy(m, p->buf + p->off[i], *ml);
    p->n--;
    p->off[i] = p->off[p->n];
    p->len[i] = p->len[p->n];
    return m;
}

setPool *setPoolTake(int db, const char *key, size_t klen, const stMeta *m, uint64_t *pops)
{
    setPool *p = NULL;
    *pops = 0;
    pthread_mutex_lock(&poolMu);
    for (int i = 0; i < SETPOOL_SLOTS; i++) {
        poolSlot *s = &slots[i];
        if (!slotIs(s, db, key, klen)) continue;
        if (slotMatches(s, m)) {
            p = s->pool;
            *pops = s->pops;
        } else {
            setPoolFree(s->pool);
        }
        slotClear(s);
        break;
    }
    pthread_mutex_unlock(&poolMu);
    return p;
}

void setPoolPut(setPool *p, uint64_t pops, int db, const char *key, size_t klen, const stMeta *m)
{
    if (!m) {
        setPoolFree(p);
        return;
    }
    if (p && !p->n) {
        setPoolFree(p);
        p = NULL;
    }
    pthread_mutex_lock(&poolMu);
    /* The key's own slot (stored meanwhile), else a free one, else the
     * oldest. */
    poolSlot *s = NULL;
    for (int i = 0; i < SETPOOL_SLOTS && !(s && slotIs(s, db, key, klen)); i++) {
        poolSlot *t = &slots[i];
        if (slotIs(t, db, key, klen) || !s || (s->used && (!t->used || t->stamp < s->stamp)))
            s = t;
    }
    if (s->used) {
        setPoolFree(s->pool);
        slotClear(s);
    }
    s->used = 1;
    s->pool = p;
    s->pops = pops;
    s->db = db;
    s->key = poolAlloc(klen);
    if (klen) memcpy(s->key, key, klen);
    s->klen = klen;
    s->incarnation = m->incarnation;
    s->hlc = m->hlc;
    s->origin = m->origin;
    s->count = m->count;
    s->stamp = ++poolClock;
    /* Within the total: the pools stored longest ago go first. */
    for (;;) {
        size_t total = 0;
        poolSlot *old = NULL;
        for (int i = 0; i < SETPOOL_SLOTS; i++) {
            poolSlot *t = &slots[i];
            if (!t->pool) continue;
            total += t->pool->bytes;
            if (t != s && (!old || t->stamp < old->stamp)) old = t;
        }
        if (total <= SETPOOL_TOTAL_BYTES || !old) break;
        setPoolFree(old->pool);
        old->pool = NULL;
    }
    pthread_mutex_unlock(&poolMu);
}

void setPoolFree(setPool *p)
{
    if (!p) return;
    free(p->off);
    free(p->len);
    free(p->buf);
    free(p);
}

/* ccache.c - the hot set's cache of small collections, whole: every element
 * record of a collection of at most CCACHE_MAX_ELEMENTS elements and
 * CCACHE_MAX_BYTES bytes, read once from RocksDB and then served from RAM
 * to the handles of coll.c (point reads and element-order iterators).
 *
 * An entry is identified by (pdb, key, incarnation, HLC of the meta record
 * it was read under).  Every write of a collection rewrites its meta record
 * with a new HLC (coll.c: a handle that changed an element always does), so
 * an entry never needs invalidating: after a write no lookup names it any
 * more and it ages out of the LRU.  That is also why entries are built only
 * from committed state (a handle whose batch queued element writes neither
 * uses nor builds one).
 *
 * Invariants:
 *  1. An entry is immutable once inserted and reference counted; a handle
 *     holds one reference for its life.
 *  2. Entries hold the records exactly as RocksDB returns them (whole sub
 *     keys, values with their element header), sorted by key, so readers
 *     treat an entry like a RocksDB iterator's view of the same range.
 *  3. The table's bytes stay under its budget (a quarter of the hot set's,
 *     stSetHotsetMaxBytes); the least recently used entries go first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

#define CCACHE_SLOTS 4096 /* hash buckets (power of two) */

struct ccache {
    pthread_mutex_t mu;
    ccEntry *slots[CCACHE_SLOTS];
    ccEntry lru; /* sentinel: lru.lnext is the most recently used */
    size_t bytes, budget, entries;
};

/* ---- Helpers ------------------------------------------------------------ */

/* Over (pdb, key, incarnation) only: the versions of one collection share a
 * bucket, so a new one replaces the old at once. */
static uint64_t ccHash(uint16_t pdb, const char *key, size_t klen, uint64_t inc) {
    uint64_t h = 1469598103934665603ULL ^ pdb ^ (inc * 0x9E3779B97F4A7C15ULL);
    for (size_t i = 0; i < klen; i++) h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    return h ^ (h >> 31);
}

static void ccUnlink(ccache *cc, ccEntry *e) {
    e->lprev->lnext = e->lnext;
    e->lnext->lprev = e->lprev;
    ccEntry **pp = &cc->slots[e->hash & (CCACHE_SLOTS - 1)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    cc->bytes -= e->bytes;
    cc->entries--;
}

static void ccPushFront(ccache *cc, ccEntry *e) {
    e->lnext = cc->lru.lnext;
    e->lprev = &cc->lru;
    cc->lru.lnext->lprev = e;
    cc->lru.lnext = e;
}

static int ccSame(const ccEntry *e, uint64_t h, uint16_t pdb, const char *key, size_t klen,
                  uint64_t inc, uint64_t hlc) {
    return e->hash == h && e->pdb == pdb && e->inc == inc && e->hlc == hlc && e->klen == klen &&
           memcmp(e->key, key, klen) == 0;
}

/* Drops least recently used entries until the table fits its budget. */
static void ccTrim(ccache *cc) {
    while (cc->bytes > cc->budget && cc->lru.lprev != &cc->lru) {
        ccEntry *e = cc->lru.lprev;
        ccUnlink(cc, e);
        ccRelease(e);
    }
}

/* ---- API (st_internal.h) -------------------------------------------------- */

ccache *ccacheNew(size_t budget) {
    ccache *cc = calloc(1, sizeof(*cc));
    if (!cc) abort();
    pthread_mutex_init(&cc->mu, NULL);
    cc->lru.lnext = cc->lru.lprev = &cc->lru;
    cc->budget = budget;
    return cc;
}

void ccacheFree(ccache *cc) {
    if (!cc) return;
    while (cc->lru.lnext != &cc->lru) {
        ccEntry *e = cc->lru.lnext;
        ccUnlink(cc, e);
        ccRelease(e);
    }
    pthread_mutex_destroy(&cc->mu);
    free(cc);
}

void ccacheSetBudget(ccache *cc, size_t budget) {
    pthread_mutex_lock(&cc->mu);
    __atomic_store_n(&cc->budget, budget, __ATOMIC_RELAXED);
    ccTrim(cc);
    pthread_mutex_unlock(&cc->mu);
}

/* Read on every collection open: a relaxed load, no lock (the budget is
 * written under mu, and a stale value only delays a decision). */
size_t ccacheBudget(ccache *cc) {
    return __atomic_load_n(&cc->budget, __ATOMIC_RELAXED);
}

void ccacheStats(ccache *cc, uint64_t *entries, uint64_t *bytes) {
    pthread_mutex_lock(&cc->mu);
    *entries = cc->entries;
    *bytes = cc->bytes;
    pthread_mutex_unlock(&cc->mu);
}

ccEntry *ccacheGet(ccache *cc, uint16_t pdb, const char *key, size_t klen, uint64_t inc,
                   uint64_t hlc) {
    uint64_t h = ccHash(pdb, key, klen, inc);
    pthread_mutex_lock(&cc->mu);
    ccEntry *e = cc->slots[h & (CCACHE_SLOTS - 1)];
    while (e && !ccSame(e, h, pdb, key, klen, inc, hlc)) e = e->hnext;
    if (e) {
        e->lprev->lnext = e->lnext;
        e->lnext->lprev = e->lprev;
        ccPushFront(cc, e);
        __atomic_add_fetch(&e->refcount, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&cc->mu);
    return e;
}

ccEntry *ccacheBuild(ccache *cc, stEngine *st, uint16_t pdb, const char *key, size_t klen,
                     uint64_t inc, uint64_t hlc, const char *lower, const char *upper,
                     size_t blen, size_t max_elements) {
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_lower_bound(ro, lower, blen);
    rocksdb_readoptions_set_iterate_upper_bound(ro, upper, blen);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, ro, st->cf[ST_CF_SUB]);
    size_t n = 0, data = 0, cap = 16;
    size_t *kl = malloc(cap * sizeof(size_t)), *vl = malloc(cap * sizeof(size_t));
    char **kp = malloc(cap * sizeof(char *)), **vp = malloc(cap * sizeof(char *));
    if (!kl || !vl || !kp || !vp) abort();
    int ok = 1;
    for (rocksdb_iter_seek(it, lower, blen); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        if (n == max_elements) {
            ok = 0; /* bigger than the caller expected: not a small collection */
            break;
        }
        if (n == cap) {
            cap *= 2;
            kl = realloc(kl, cap * sizeof(size_t));
            vl = realloc(vl, cap * sizeof(size_t));
            kp = realloc(kp, cap * sizeof(char *));
            vp = realloc(vp, cap * sizeof(char *));
            if (!kl || !vl || !kp || !vp) abort();
        }
        const char *k = rocksdb_iter_key(it, &kl[n]), *v = rocksdb_iter_value(it, &vl[n]);
        kp[n] = malloc(kl[n] + vl[n] + 1);
        if (!kp[n]) abort();
        memcpy(kp[n], k, kl[n]);
        memcpy(kp[n] + kl[n], v, vl[n]);
        vp[n] = kp[n] + kl[n];
        data += kl[n] + vl[n];
        n++;
    }
    char *rerr = NULL;
    rocksdb_iter_get_error(it, &rerr);
    if (rerr) {
        ok = 0;
        rocksdb_free(rerr);
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    ccEntry *e = NULL;
    if (ok) {
        size_t bytes = sizeof(*e) + klen + n * sizeof(ccRec) + data;
        e = calloc(1, bytes);
        if (!e) abort();
        e->bytes = bytes;
        e->refcount = 1; /* the caller's */
        e->pdb = pdb;
        e->inc = inc;
        e->hlc = hlc;
        e->klen = klen;
        e->n = n;
        e->recs = (ccRec *)(e + 1);
        e->key = (char *)(e->recs + n);
        memcpy(e->key, key, klen);
        char *p = e->key + klen;
        for (size_t i = 0; i < n; i++) {
            e->recs[i].k = p;
            e->recs[i].kn = kl[i];
            memcpy(p, kp[i], kl[i] + vl[i]);
            e->recs[i].v = p + kl[i];
            e->recs[i].vn = vl[i];
            p += kl[i] + vl[i];
        }
        e->hash = ccHash(pdb, key, klen, inc);
    }
    for (size_t i = 0; i < n; i++) free(kp[i]);
    free(kl);
    free(vl);
    free(kp);
    free(vp);
    if (!e) return NULL;
    pthread_mutex_lock(&cc->mu);
    if (e->bytes <= cc->budget) {
        /* Older versions of the collection are dead: drop them now. */
        ccEntry **pp = &cc->slots[e->hash & (CCACHE_SLOTS - 1)];
        for (ccEntry *o = *pp, *next; o; o = next) {
            next = o->hnext;
            if (ccSame(o, e->hash, pdb, key, klen, inc, o->hlc)) {
                ccUnlink(cc, o);
                ccRelease(o);
            }
        }
        pp = &cc->slots[e->hash & (CCACHE_SLOTS - 1)];
        e->hnext = *pp;
        *pp = e;
        ccPushFront(cc, e);
        cc->bytes += e->bytes;
        cc->entries++;
        e->refcount++; /* the table's */
        ccTrim(cc);
    }
    pthread_mutex_unlock(&cc->mu);
    return e;
}

void ccRelease(ccEntry *e) {
    if (e && __atomic_sub_fetch(&e->refcount, 1, __ATOMIC_ACQ_REL) == 0) free(e);
}

size_t ccFind(const ccEntry *e, const char *key, size_t klen) {
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ccRec *r = &e->recs[mid];
        int c = memcmp(r->k, key, r->kn < klen ? r->kn : klen);
        if (c == 0) c = (r->kn > klen) - (r->kn < klen);
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

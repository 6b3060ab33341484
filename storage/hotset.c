/* hotset.c - the hot set: a sharded hash table from (physical db, key) to the
 * key's current stObj, bounded by a byte budget and evicted by sampled LRU.
 *
 * The hot set is a cache of RocksDB, never the source of truth: evicting an
 * entry loses nothing.  64 shards, each a mutex and a chained hash table,
 * keep lock contention low; the byte count and budget are global.
 *
 * Invariants:
 *  1. Every entry holds exactly one reference to its object; removing the
 *     entry releases it.
 *  2. An entry's object is the key's value as of the last committed write:
 *     the write path calls hotsetPut()/hotsetDel() after the RocksDB write,
 *     with the key's lock stripe held (storage.h), so writes to one key reach
 *     the hot set in commit order.
 *  3. A reader that missed fills the cache with hotsetAdmit() only if no write
 *     touched the shard since it took hotsetEpoch() before its RocksDB read;
 *     so a stale read can never overwrite a newer value (invariant 2).
 *  4. hs->bytes is the sum of the entries' `bytes`, each counted as entry +
 *     key + object header + value + NUL.  After any insert the inserting
 *     thread evicts until bytes <= max_bytes.
 *  5. An object larger than max_bytes / HS_MAX_ENTRY_FRACTION is not cached:
 *     one huge value must not flush the whole hot set.
 *
 * Life of one key in the hot set:
 *
 *            hotsetAdmit() (read miss) / hotsetPut() (write)
 *   ABSENT ---------------------------------------------------> CACHED
 *     ^                                                          |  ^
 *     |  hotsetDel() (DEL), hotsetDropDb() (FLUSHDB),            |  | hotsetPut()
 *     |  hotsetEvictOne() (over budget), hotsetPut() of an       |  | (new value)
 *     |  object too large to cache                               |  |
 *     +----------------------------------------------------------+--+
 *
 * Eviction (hotsetEvictOne): pick the next shard round-robin, sample
 * maxmemory-samples entries from a random bucket onwards, drop the one with
 * the highest score under maxmemory-policy (evict.c: idle time, LFU counter,
 * TTL or random).  Like Redis's approximated LRU/LFU, with one sample pool
 * per shard.  lru_clock (seconds; set when the object is created, refreshed
 * by hits that are accesses, i.e. stGet and not stPeek) and the LFU counter
 * are read and written with relaxed atomics: OBJECT IDLETIME/FREQ read them
 * without a shard lock.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

#define HS_SHARDS 64
#define HS_SHARD_BITS 6
#define HS_DOOR_SLOTS 65536 /* power of two */
#define HS_EVICT_SHARDS 4    /* shards sampled per eviction */
#define HS_MIN_BUCKETS 16
#define HS_MAX_ENTRY_FRACTION 8

typedef struct hsEntry {
    struct hsEntry *next;
    uint64_t hash;
    stObj *obj;   /* one reference, owned by the entry */
    size_t bytes; /* accounted size, see invariant 4 */
    size_t klen;
    evictStamp stamp; /* obj's, copied whenever it changes (hsStamp) */
    uint16_t pdb;
    char key[];
} hsEntry;

typedef struct hsShard {
    pthread_mutex_t mu;
    hsEntry **buckets; /* nbuckets chains */
    size_t nbuckets;   /* power of two */
    size_t count;
    _Atomic uint64_t epoch; /* bumped by every write (invariant 3) */
    uint64_t hits, misses;
} __attribute__((aligned(64))) hsShard;

struct hotset {
    hsShard shards[HS_SHARDS];
    _Atomic uint32_t door[HS_DOOR_SLOTS]; /* admission doorkeeper (hsDoorkeeperAdmits) */
    _Atomic size_t bytes;
    _Atomic size_t max_bytes;
    _Atomic unsigned evict_cursor;
};

/* ---- Helpers: hashing ------------------------------------ */

static inline uint64_t hsRotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t hsFmix(uint64_t h) {
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

static inline hsShard *hsShardOf(hotset *hs, uint64_t hash) {
    return &hs->shards[hash >> (64 - HS_SHARD_BITS)];
}

static inline size_t hsEntryBytes(size_t klen, const stObj *o) {
    return sizeof(hsEntry) + klen + sizeof(stObj) + o->vlen + 1;
}

size_t hotsetEntryBytes(size_t klen, const stObj *o) { return hsEntryBytes(klen, o); }

size_t stObjMemoryUsage(const stObj *o, size_t klen) { return hsEntryBytes(klen, o); }

/* ---- Helpers: one shard's table (caller holds s->mu) -------------------- */

static hsEntry **hsFindSlot(hsShard *s, uint16_t pdb, const char *key,
                            size_t klen, uint64_t hash) {
    hsEntry **pp = &s->buckets[hash & (s->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        hsEntry *e = *pp;
        if (e->hash == hash && e->pdb == pdb && e->klen == klen &&
            memcmp(e->key, key, klen) == 0)
            return pp;
    }
    return pp; /* points at the terminating NULL */
}

/* Rehashes the shard into nb buckets; keeps the old table if malloc fails. */
static void hsResize(hsShard *s, size_t nb) {
    hsEntry **nt = calloc(nb, sizeof(*nt));
    if (!nt) return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        hsEntry *e = s->buckets[i];
        while (e) {
            hsEntry *next = e->next;
            size_t j = e->hash & (nb - 1);
            e->next = nt[j];
            nt[j] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = nt;
    s->nbuckets = nb;
}

/* Unlinks *pp, fixes the counters and frees the entry and its reference. */
static void hsRemove(hotset *hs, hsShard *s, hsEntry **pp) {
    hsEntry *e = *pp;
    *pp = e->next;
    s->count--;
    atomic_fetch_sub(&hs->bytes, e->bytes);
    stObjRelease(e->obj);
    free(e);
}

/* Shrinks a sparse table so sampling never walks long runs of empty buckets. */
static void hsMaybeShrink(hsShard *s) {
    if (s->nbuckets > HS_MIN_BUCKETS && s->count * 8 < s->nbuckets) {
        size_t nb = s->nbuckets;
        while (nb > HS_MIN_BUCKETS && s->count * 2 < nb) nb /= 2;
        hsResize(s, nb);
    }
}

/* Copies the object's eviction inputs into its entry (caller holds the
 * shard lock): after an insert and after every access or replacement, the
 * only times they change while the object is cached. */
static void hsStamp(hsEntry *e) {
    e->stamp.expire_ms = e->obj->meta.expire_ms;
    e->stamp.lru_clock = __atomic_load_n(&e->obj->lru_clock, __ATOMIC_RELAXED);
    e->stamp.lfu = __atomic_load_n(&e->obj->lfu, __ATOMIC_RELAXED);
}

/* Links a new entry for (pdb, key) -> obj at *slot (from hsFindSlot) and
 * retains obj. */
static void hsInsert(hotset *hs, hsShard *s, hsEntry **slot, uint16_t pdb,
                     const char *key, size_t klen, uint64_t hash, stObj *obj,
                     size_t bytes) {
    hsEntry *e = malloc(sizeof(*e) + klen);
    if (!e) return; /* a cache may always decline */
    e->next = NULL;
    e->hash = hash;
    e->obj = obj;
    e->bytes = bytes;
    e->klen = klen;
    e->pdb = pdb;
    if (klen) memcpy(e->key, key, klen);
    hsStamp(e);
    stObjRetain(obj);
    *slot = e;
    s->count++;
    atomic_fetch_add(&hs->bytes, bytes);
    if (s->count > s->nbuckets) hsResize(s, s->nbuckets * 2);
}

/* True if an object of this size may be cached under the current budget
 * (invariant 5). */
static int hsCacheable(hotset *hs, size_t bytes) {
    size_t max = atomic_load_explicit(&hs->max_bytes, memory_order_relaxed);
    return max > 0 && bytes <= max / HS_MAX_ENTRY_FRACTION;
}

/* ---- Helpers: eviction --------------------------------------------------- */

/* The best victim among maxmemory-samples entries of shard s from a random
 * bucket on (caller holds s->mu); *score gets its score.  NULL if empty. */
static hsEntry *hsSampleShard(hsShard *s, uint32_t now, uint64_t *score) {
    hsEntry *victim = NULL;
    int found = 0, samples = evictSamples();
    size_t b = stRandom64() & (s->nbuckets - 1);
    for (size_t i = 0; i < s->nbuckets && found < samples; i++) {
        for (hsEntry *e = s->buckets[(b + i) & (s->nbuckets - 1)]; e && found < samples;
             e = e->next, found++) {
            uint64_t sc = evictScore(&e->stamp, now);
            if (!victim || sc > *score) {
                victim = e;
                *score = sc;
            }
        }
    }
    return victim;
}

/* Evicts the best of the samples of HS_EVICT_SHARDS non-empty shards.  One
 * shard alone is not enough once the hot set is small: a shard holding only
 * a few keys would have to give up keys the policy wants kept.  The chosen
 * entry is looked up again under its shard's lock (it may have gone).
 * Returns 1 if it evicted something, 0 if the hot set is empty. */
static int hotsetEvictOne(hotset *hs) {
    unsigned start = atomic_fetch_add(&hs->evict_cursor, HS_EVICT_SHARDS);
    uint32_t now = stLruClock();
    int best_shard = -1, sampled = 0;
    uint64_t best = 0, best_hash = 0;
    uint16_t best_pdb = 0;
    char keybuf[256], *best_key = keybuf;
    size_t best_klen = 0, cap = sizeof(keybuf);
    for (unsigned t = 0; t < HS_SHARDS && sampled < HS_EVICT_SHARDS; t++) {
        int si = (int)((start + t) % HS_SHARDS);
        hsShard *s = &hs->shards[si];
        pthread_mutex_lock(&s->mu);
        uint64_t score = 0;
        hsEntry *e = s->count ? hsSampleShard(s, now, &score) : NULL;
        if (e && (best_shard < 0 || score > best)) {
            if (e->klen > cap) {
                char *k = malloc(e->klen);
                if (!k) abort();
                if (best_key != keybuf) free(best_key);
                best_key = k;
                cap = e->klen;
            }
            if (e->klen) memcpy(best_key, e->key, e->klen);
            best_klen = e->klen;
            best_hash = e->hash;
            best_pdb = e->pdb;
            best = score;
            best_shard = si;
        }
        if (e) sampled++;
        pthread_mutex_unlock(&s->mu);
    }
    if (best_shard < 0) return 0;
    hsShard *s = &hs->shards[best_shard];
    pthread_mutex_lock(&s->mu);
    hsEntry **pp = hsFindSlot(s, best_pdb, best_key, best_klen, best_hash);
    if (*pp) {
        hsRemove(hs, s, pp);
        hsMaybeShrink(s);
    }
    pthread_mutex_unlock(&s->mu);
    if (best_key != keybuf) free(best_key);
    return 1;
}

/* Evicts until the byte count fits the budget (invariant 4).  Called with no
 * shard lock held. */
static void hotsetEnforceBudget(hotset *hs) {
    while (atomic_load(&hs->bytes) > atomic_load(&hs->max_bytes)) {
        if (!hotsetEvictOne(hs)) break;
    }
}

/* ---- Public API --------------------------------------------------------- */

hotset *hotsetNew(size_t max_bytes) {
    size_t sz = (sizeof(hotset) + 63) & ~(size_t)63;
    hotset *hs = aligned_alloc(64, sz);
    if (!hs) abort();
    memset(hs, 0, sizeof(*hs));
    for (int i = 0; i < HS_SHARDS; i++) {
        hsShard *s = &hs->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        s->buckets = calloc(HS_MIN_BUCKETS, sizeof(*s->buckets));
        if (!s->buckets) abort();
        s->nbuckets = HS_MIN_BUCKETS;
    }
    atomic_store(&hs->max_bytes, max_bytes);
    return hs;
}

void hotsetFree(hotset *hs) {
    if (!hs) return;
    hotsetDropDb(hs, -1);
    for (int i = 0; i < HS_SHARDS; i++) {
        free(hs->shards[i].buckets);
        pthread_mutex_destroy(&hs->shards[i].mu);
    }
    free(hs);
}

uint64_t hotsetHash(uint16_t pdb, const char *key, size_t klen) {
    const uint64_t c1 = UINT64_C(0x87c37b91114253d5);
    const uint64_t c2 = UINT64_C(0x4cf5ad432745937f);
    uint64_t h = ((uint64_t)pdb << 48) ^ (klen * c1);
    const unsigned char *p = (const unsigned char *)key;
    size_t n = klen;
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        k *= c1;
        k = hsRotl(k, 31);
        k *= c2;
        h ^= k;
        h = hsRotl(h, 27) * 5 + 0x52dce729;
        p += 8;
        n -= 8;
    }
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) k |= (uint64_t)p[i] << (8 * i);
    k *= c1;
    k = hsRotl(k, 31);
    k *= c2;
    h ^= k;
    return hsFmix(h);
}

stObj *hotsetGet(hotset *hs, uint16_t pdb, const char *key, size_t klen,
                 uint64_t hash, int touch) {
    hsShard *s = hsShardOf(hs, hash);
    stObj *o = NULL;
    pthread_mutex_lock(&s->mu);
    hsEntry *e = *hsFindSlot(s, pdb, key, klen, hash);
    if (e) {
        o = e->obj;
        stObjRetain(o);
        if (touch > 0) {
            evictTouch(o, stLruClock());
            hsStamp(e);
        }
        if (touch >= 0) s->hits++;
    } else if (touch >= 0) {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return o;
}

int hotsetContains(hotset *hs, uint16_t pdb, const char *key, size_t klen,
                   uint64_t hash) {
    hsShard *s = hsShardOf(hs, hash);
    pthread_mutex_lock(&s->mu);
    int found = *hsFindSlot(s, pdb, key, klen, hash) != NULL;
    pthread_mutex_unlock(&s->mu);
    return found;
}

uint64_t hotsetEpoch(hotset *hs, uint64_t hash) {
    return atomic_load(&hsShardOf(hs, hash)->epoch);
}

/* Scan resistance: once the hot set is half full, a key read from RocksDB
 * is admitted only on its second miss in a while (a doorkeeper table of
 * hash fingerprints, TinyLFU's idea), so a one-off scan (SCAN + GET over
 * everything, DEBUG DIGEST) passes through without flushing the hot keys. */
static int hsDoorkeeperAdmits(hotset *hs, uint64_t hash) {
    if (atomic_load(&hs->bytes) < atomic_load(&hs->max_bytes) / 2) return 1;
    uint32_t fp = (uint32_t)hash | 1;
    _Atomic uint32_t *slot = &hs->door[(hash >> 24) & (HS_DOOR_SLOTS - 1)];
    if (atomic_load_explicit(slot, memory_order_relaxed) == fp) {
        atomic_store_explicit(slot, 0, memory_order_relaxed);
        return 1;
    }
    atomic_store_explicit(slot, fp, memory_order_relaxed);
    return 0;
}

void hotsetAdmit(hotset *hs, uint16_t pdb, const char *key, size_t klen,
                 uint64_t hash, stObj *obj, uint64_t epoch) {
    size_t bytes = hsEntryBytes(klen, obj);
    if (!hsCacheable(hs, bytes) || !hsDoorkeeperAdmits(hs, hash)) return;
    hsShard *s = hsShardOf(hs, hash);
    pthread_mutex_lock(&s->mu);
    if (atomic_load(&s->epoch) == epoch) {
        hsEntry **slot = hsFindSlot(s, pdb, key, klen, hash);
        if (!*slot) hsInsert(hs, s, slot, pdb, key, klen, hash, obj, bytes);
    }
    pthread_mutex_unlock(&s->mu);
    hotsetEnforceBudget(hs);
}

void hotsetPut(hotset *hs, uint16_t pdb, const char *key, size_t klen,
               uint64_t hash, stObj *obj) {
    size_t bytes = hsEntryBytes(klen, obj);
    int cacheable = hsCacheable(hs, bytes);
    hsShard *s = hsShardOf(hs, hash);
    pthread_mutex_lock(&s->mu);
    atomic_fetch_add(&s->epoch, 1);
    hsEntry **slot = hsFindSlot(s, pdb, key, klen, hash);
    if (*slot && cacheable) {
        hsEntry *e = *slot;
        stObj *old = e->obj;
        /* A write is an access: the new value inherits the key's counter,
         * as Redis keeps it on overwrite. */
        __atomic_store_n(&obj->lfu, __atomic_load_n(&old->lfu, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
        __atomic_store_n(&obj->lru_clock, __atomic_load_n(&old->lru_clock, __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
        evictTouch(obj, stLruClock());
        stObjRetain(obj);
        e->obj = obj;
        hsStamp(e);
        atomic_fetch_add(&hs->bytes, bytes);
        atomic_fetch_sub(&hs->bytes, e->bytes);
        e->bytes = bytes;
        stObjRelease(old);
    } else if (*slot) {
        hsRemove(hs, s, slot);
    } else if (cacheable) {
        hsInsert(hs, s, slot, pdb, key, klen, hash, obj, bytes);
    }
    pthread_mutex_unlock(&s->mu);
    if (cacheable) hotsetEnforceBudget(hs);
}

void hotsetDel(hotset *hs, uint16_t pdb, const char *key, size_t klen,
               uint64_t hash) {
    hsShard *s = hsShardOf(hs, hash);
    pthread_mutex_lock(&s->mu);
    atomic_fetch_add(&s->epoch, 1);
    hsEntry **slot = hsFindSlot(s, pdb, key, klen, hash);
    if (*slot) {
        hsRemove(hs, s, slot);
        hsMaybeShrink(s);
    }
    pthread_mutex_unlock(&s->mu);
}

void hotsetDropDb(hotset *hs, int pdb) {
    for (int i = 0; i < HS_SHARDS; i++) {
        hsShard *s = &hs->shards[i];
        pthread_mutex_lock(&s->mu);
        atomic_fetch_add(&s->epoch, 1);
        for (size_t b = 0; b < s->nbuckets; b++) {
            hsEntry **pp = &s->buckets[b];
            while (*pp) {
                if (pdb < 0 || (*pp)->pdb == pdb)
                    hsRemove(hs, s, pp);
                else
                    pp = &(*pp)->next;
            }
        }
        hsMaybeShrink(s);
        pthread_mutex_unlock(&s->mu);
    }
}

void hotsetSetMaxBytes(hotset *hs, size_t max_bytes) {
    atomic_store(&hs->max_bytes, max_bytes);
    if (max_bytes == 0)
        hotsetDropDb(hs, -1);
    else
        hotsetEnforceBudget(hs);
}

void hotsetStats(hotset *hs, uint64_t *keys, uint64_t *bytes, uint64_t *hits,
                 uint64_t *misses) {
    uint64_t k = 0, h = 0, m = 0;
    for (int i = 0; i < HS_SHARDS; i++) {
        hsShard *s = &hs->shards[i];
        pthread_mutex_lock(&s->mu);
        k += s->count;
        h += s->hits;
        m += s->misses;
        pthread_mutex_unlock(&s->mu);
    }
    *keys = k;
    *bytes = atomic_load(&hs->bytes);
    *hits = h;
    *misses = m;
}

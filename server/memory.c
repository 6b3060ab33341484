/* memory.c - the process's memory figures (jemalloc statistics) and the
 * memory keeper: a thread that holds the process under maxmemory even when
 * no command runs.
 *
 * RocksDB's share of maxmemory is fixed when storage opens (block cache and
 * memtable sizes, main.c); what moves is everything else: iterators and
 * snapshots pinned by replication links and scans, connection buffers,
 * allocator slack.  So the keeper steers the one elastic consumer, the hot
 * set: every KEEPER_INTERVAL_MS it compares jemalloc's resident bytes with
 * maxmemory and shrinks the hot set's budget by the excess (evicting from
 * RAM only: nothing is deleted), or grows it back toward its share when
 * there is room.  Writes never wait for this: the hot set also evicts
 * inline when an insert passes the budget (hotset.c invariant 4).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef STRATA_NO_JEMALLOC
#include <jemalloc/jemalloc.h>
/* Return freed memory to the OS within a quarter second, in the background,
 * so RSS follows the hot set's budget instead of the allocator's high-water
 * mark (with 1 s, a 1 KB SET load kept ~20 MB of dirty pages at 32mb). */
const char *malloc_conf = "background_thread:true,dirty_decay_ms:250,muzzy_decay_ms:0";
#endif

#include "../replication/repl.h"
#include "server.h"

#define KEEPER_INTERVAL_MS 100
#define KEEPER_BUSY_INTERVAL_MS 5 /* between eviction passes while past maxstorage */
#define KEEPER_HEADROOM_PCT 5   /* grow the hot set only below 95% of maxmemory */
#define KEEPER_MIN_HOTSET (1ULL << 20)
/* After a cut, the next one waits this long unless the excess grew by a
 * sixteenth of maxmemory: freed objects leave the allocator's resident count
 * only as its caches and decay return pages, and cutting on every 100 ms step
 * meanwhile spiralled the budget down to its floor while the process was
 * only ~2 MB over. */
#define KEEPER_SETTLE_MS 500
#define EVICT_PASS_BUDGET_US 25000 /* storage eviction work per keeper pass */
#define EVICT_MAX_TRIES 16         /* random dbs tried per sample */
#define EVICT_SAMPLE_MAX 256
#define EVICT_BATCH_MAX 256        /* keys deleted per batch */
#define EVICT_RUN 128              /* keys read per sample */

static _Atomic size_t peakMemory;
static _Atomic size_t hotsetTarget; /* the hot set's share of maxmemory */
static _Atomic size_t hotsetBudget; /* what the keeper gives it now */
static pthread_t keeperTid;
static pthread_mutex_t keeperMu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t keeperCond = PTHREAD_COND_INITIALIZER;
static int keeperStop, keeperStarted;

size_t memRss(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    unsigned long pages = 0, rss = 0;
    if (!fp) return 0;
    if (fscanf(fp, "%lu %lu", &pages, &rss) != 2) rss = 0;
    fclose(fp);
    return rss * (size_t)sysconf(_SC_PAGESIZE);
}

size_t memAllocated(size_t *resident)
{
#ifndef STRATA_NO_JEMALLOC
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t allocated = 0, res = 0;
    sz = sizeof(size_t);
    mallctl("stats.allocated", &allocated, &sz, NULL, 0);
    sz = sizeof(size_t);
    mallctl("stats.resident", &res, &sz, NULL, 0);
    if (resident) *resident = res;
    return allocated;
#else
    size_t rss = memRss();
    if (resident) *resident = rss;
    return rss;
#endif
}

size_t memPeak(size_t used)
{
    size_t peak = atomic_load(&peakMemory);
    while (used > peak && !atomic_compare_exchange_weak(&peakMemory, &peak, used)) {
    }
    return used > peak ? used : peak;
}

int memPurge(void)
{
#ifndef STRATA_NO_JEMALLOC
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "arena.%d.purge", 4096); /* MALLCTL_ARENAS_ALL */
    return mallctl(cmd, NULL, NULL, NULL, 0) == 0 ? C_OK : C_ERR;
#else
    return C_OK;
#endif
}

size_t memHotsetBudget(void) { return atomic_load(&hotsetBudget); }

/* How maxmemory is shared out (keydb.conf documents it): 15% RocksDB block
 * cache, 10% memtables (at least 4 MB; two can be alive while one flushes),
 * a reserve of 10% (at least 8 MB: code, connections, replication windows,
 * iterators, allocator slack), and the hot set gets the rest (55% of a large
 * maxmemory).  The block cache must hold the index and filter partitions of
 * the data (about 0.25% of it with delta-encoded index blocks, engine.c) or
 * every miss reads them too; beyond that it caches 4 KB data blocks, a worse
 * use of RAM than whole hot values: zipf GETs over 2.2 GB at 64mb went 135k
 * -> 181k rps from 30% hot set / 30% block cache to 55/15 (bench/RESULTS.md).
 * The keeper still shrinks the hot set whenever the process would pass
 * maxmemory; the share is what it grows back to. */
#define MEM_BLOCK_CACHE_PCT 15
#define MEM_WRITE_BUFFER_PCT 10
#define MEM_WRITE_BUFFER_MIN (4ULL << 20)
#define MEM_RESERVE_PCT 10
#define MEM_RESERVE_MIN (8ULL << 20)
#define MEM_NO_MAXMEMORY_HOTSET (256ULL << 20)

static size_t storageFixedBytes; /* block cache + two memtable budgets, as opened */

void memStorageSizes(size_t *block_cache, size_t *write_buffer)
{
    size_t bc = 0, wb = 0;
    if (cfg.maxmemory) {
        bc = cfg.maxmemory * MEM_BLOCK_CACHE_PCT / 100;
        wb = cfg.maxmemory * MEM_WRITE_BUFFER_PCT / 100;
        if (wb < MEM_WRITE_BUFFER_MIN) wb = MEM_WRITE_BUFFER_MIN;
    }
    if (cfg.rocksdb_block_cache_size) bc = cfg.rocksdb_block_cache_size;
    if (cfg.rocksdb_write_buffer_size) wb = cfg.rocksdb_write_buffer_size;
    /* What storage will really use, so that a maxmemory set later with
     * CONFIG SET leaves room for storage's defaults too. */
    size_t dbc, dwb;
    stDefaultCacheSizes(&dbc, &dwb);
    storageFixedBytes = (bc ? bc : dbc) + 2 * (wb ? wb : dwb);
    *block_cache = bc;
    *write_buffer = wb;
}

size_t memHotsetShare(void)
{
    if (!cfg.maxmemory) return MEM_NO_MAXMEMORY_HOTSET;
    size_t reserve = cfg.maxmemory * MEM_RESERVE_PCT / 100;
    if (reserve < MEM_RESERVE_MIN) reserve = MEM_RESERVE_MIN;
    size_t fixed = storageFixedBytes + reserve;
    return cfg.maxmemory > fixed + KEEPER_MIN_HOTSET ? cfg.maxmemory - fixed : KEEPER_MIN_HOTSET;
}

void memApplySettings(void)
{
    size_t share = memHotsetShare();
    atomic_store(&hotsetTarget, share);
    atomic_store(&hotsetBudget, share);
    stSetHotsetMaxBytes(server.st, share);
    static const int policy[] = {
        [MAXMEM_NOEVICTION] = ST_EVICT_LRU,
        [MAXMEM_ALLKEYS_LRU] = ST_EVICT_LRU,
        [MAXMEM_ALLKEYS_LFU] = ST_EVICT_LFU,
        [MAXMEM_ALLKEYS_RANDOM] = ST_EVICT_RANDOM,
        [MAXMEM_VOLATILE_LRU] = ST_EVICT_LRU | ST_EVICT_VOLATILE,
        [MAXMEM_VOLATILE_LFU] = ST_EVICT_LFU | ST_EVICT_VOLATILE,
        [MAXMEM_VOLATILE_RANDOM] = ST_EVICT_RANDOM | ST_EVICT_VOLATILE,
        [MAXMEM_VOLATILE_TTL] = ST_EVICT_TTL | ST_EVICT_VOLATILE,
    };
    stSetEvictionPolicy(server.st, policy[cfg.maxmemory_policy & 7], cfg.maxmemory_samples,
                        cfg.lfu_log_factor, cfg.lfu_decay_time);
}

/* One step: shrink the hot set's budget by what the process uses above
 * maxmemory, or give back up to its share while below the headroom. */
static void keeperStep(void)
{
    if (!cfg.maxmemory) return;
    /* Steer by what the allocator holds from the OS (resident), not only by
     * what is allocated: RSS is what maxmemory promises to bound. */
    size_t resident = 0, allocated = memAllocated(&resident);
    memPeak(allocated);
    size_t used = resident > allocated ? resident : allocated;
    if (used > cfg.maxmemory) {
        /* Resident still counts pages freed in the last decay period: give
         * them back first, or every cut would free pages that make the next
         * measurement look over again (the budget fell to its floor under a
         * read-only load). */
        memPurge();
        allocated = memAllocated(&resident);
        used = resident > allocated ? resident : allocated;
    }
    size_t max = cfg.maxmemory, target = atomic_load(&hotsetTarget);
    size_t budget = atomic_load(&hotsetBudget), nb = budget;
    stStats ss;
    stGetStats(server.st, &ss);
    static uint64_t lastCutMs;
    static size_t lastCutExcess;
    uint64_t now = monotonic_us() / 1000;
    if (used > max) {
        size_t excess = used - max;
        size_t in_use = ss.hotset_bytes < budget ? ss.hotset_bytes : budget;
        if (now - lastCutMs >= KEEPER_SETTLE_MS || excess > lastCutExcess + max / 16) {
            nb = in_use > excess + KEEPER_MIN_HOTSET ? in_use - excess : KEEPER_MIN_HOTSET;
            lastCutMs = now;
            lastCutExcess = excess;
        }
    } else {
        size_t room = max - max * KEEPER_HEADROOM_PCT / 100;
        if (used < room && budget < target) {
            nb = budget + (room - used);
            if (nb > target) nb = target;
        }
    }
    if (nb != budget) {
        atomic_store(&hotsetBudget, nb);
        stSetHotsetMaxBytes(server.st, nb);
    }
}

/* ---- maxstorage: deleting keys, as a cache does ---------------------------- */

int memStorageRefuses(void)
{
    if (!cfg.maxstorage || replIsReplica()) return 0;
    if (cfg.maxmemory_policy == MAXMEM_NOEVICTION) return stDataBytes(server.st) > cfg.maxstorage;
    return atomic_load_explicit(&server.storage_oom, memory_order_relaxed);
}

static int volatilePolicy(void) { return cfg.maxmemory_policy >= MAXMEM_VOLATILE_LRU; }

/* Higher = deleted first, under maxmemory-policy.  Keys that are not in the
 * hot set report being idle since the engine opened (stPeek), which is what
 * they are to an LRU: not used since. */
static uint64_t storageScore(const stObj *o)
{
    switch (cfg.maxmemory_policy) {
    case MAXMEM_ALLKEYS_LFU:
    case MAXMEM_VOLATILE_LFU:
        return 255 - stObjFreq(o);
    case MAXMEM_VOLATILE_TTL:
        return UINT64_MAX - o->meta.expire_ms;
    case MAXMEM_ALLKEYS_RANDOM:
    case MAXMEM_VOLATILE_RANDOM:
        return 0;
    default:
        return stObjIdleSeconds(o);
    }
}

typedef struct evictCand {
    char *key;
    size_t klen;
    uint64_t score;
    uint64_t size; /* key + value bytes */
} evictCand;

static int candCmp(const void *a, const void *b)
{
    const evictCand *x = a, *y = b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

/* Where the next sample of each db starts: samples walk the keyspace in
 * order and wrap around, like a clock hand, so every key is looked at
 * periodically and each sample costs one seek (a uniform random key costs
 * a descent of many seeks, stRandomKey).  Keeper thread only. */
typedef struct evictCursor {
    char *key;
    size_t klen;
} evictCursor;
static evictCursor *cursors;
static int ncursors;

/* Reads up to n keys of a non-empty db from its cursor on, keeps the ones
 * the policy may delete, and returns them best victim first.  *db gets the
 * db. */
static int storageSample(evictCand *out, int n, int *db)
{
    if (ncursors != cfg.databases) {
        for (int i = 0; i < ncursors; i++) free(cursors[i].key);
        free(cursors);
        cursors = calloc((size_t)cfg.databases, sizeof(*cursors));
        if (!cursors) abort();
        ncursors = cfg.databases;
    }
    for (int tries = 0; tries < EVICT_MAX_TRIES; tries++) {
        /* A random non-empty db (most setups use only db 0). */
        int first = rand() % cfg.databases, i;
        for (i = 0; i < cfg.databases; i++)
            if (stKeyCount(server.st, (first + i) % cfg.databases)) break;
        if (i == cfg.databases) return 0;
        *db = (first + i) % cfg.databases;
        evictCursor *cur = &cursors[*db];
        int got = 0, seen = 0, wrapped = cur->key == NULL;
        stIter *it = stIterNew(server.st, *db, cur->key, cur->klen);
        for (; seen < n; stIterNext(it), seen++) {
            if (!stIterValid(it)) {
                /* The end of the db: wrap around, so that a sample is a
                 * full run (a short run of only hot keys would lose some). */
                stIterFree(it);
                if (wrapped) {
                    it = NULL;
                    break;
                }
                wrapped = 1;
                it = stIterNew(server.st, *db, NULL, 0);
                if (!stIterValid(it)) break;
            }
            if (wrapped && cur->key && seen) {
                size_t kl;
                const char *k = stIterKey(it, &kl);
                /* Back at the sample's first key: the db is smaller than n. */
                if (kl == cur->klen && !memcmp(k, cur->key, kl)) break;
            }
            size_t klen;
            const char *k = stIterKey(it, &klen);
            stObj *o = stIterObj(it);
            if (!o) continue;
            if (!volatilePolicy() || o->meta.expire_ms) {
                /* Access times live in the hot set: a key not cached there
                 * has not been used since it left RAM, an old access. */
                stObj *hot = stCached(server.st, *db, k, klen);
                if (hot) {
                    stObjRelease(o);
                    o = hot;
                } else {
                    o->lru_clock = 0; /* ours alone: idle since the clock began */
                    o->lfu = 0;
                }
                out[got].key = malloc(klen ? klen : 1);
                if (!out[got].key) abort();
                memcpy(out[got].key, k, klen);
                out[got].klen = klen;
                out[got].score = storageScore(o);
                out[got].size = klen + o->meta.size;
                got++;
            }
            stObjRelease(o);
        }
        /* The next sample starts after this run (at the start if it ended). */
        free(cur->key);
        cur->key = NULL;
        cur->klen = 0;
        if (it && stIterValid(it)) {
            size_t klen;
            const char *k = stIterKey(it, &klen);
            cur->key = malloc(klen ? klen : 1);
            if (!cur->key) abort();
            memcpy(cur->key, k, klen);
            cur->klen = klen;
        }
        if (it) stIterFree(it);
        if (got) {
            if (cfg.maxmemory_policy == MAXMEM_ALLKEYS_RANDOM ||
                cfg.maxmemory_policy == MAXMEM_VOLATILE_RANDOM) {
                for (int j = 0; j < got; j++) out[j].score = (uint64_t)rand();
            }
            qsort(out, (size_t)got, sizeof(*out), candCmp);
            return got;
        }
    }
    return 0;
}

typedef struct evictVictim {
    int db;
    char *key;
    size_t klen;
    int deleted; /* set by storageDeleteAll */
} evictVictim;

/* Deletes the victims in one batch with the keyspace locked exclusively for
 * that one commit (a few ms at most): no per-key stripe dance, and keys a
 * command deleted meanwhile, or listed twice, are skipped.  Returns the
 * number deleted. */
static int storageDeleteAll(evictVictim *v, int n)
{
    int deleted = 0;
    pthread_rwlock_wrlock(&server.keyspace_lock);
    stBatch *b = stBatchNew(server.st);
    for (int i = 0; i < n; i++) {
        stObj *q = NULL;
        if (stBatchGet(b, v[i].db, v[i].key, v[i].klen, &q)) {
            if (q) stObjRelease(q);
            continue;
        }
        stObj *o = stPeek(server.st, v[i].db, v[i].key, v[i].klen);
        if (!o) continue;
        stBatchDel(b, v[i].db, v[i].key, v[i].klen, &o->meta);
        stObjRelease(o);
        v[i].deleted = 1;
        deleted++;
    }
    char *err = NULL;
    if (stBatchCommit(b, &err) != C_OK) {
        serverLog(LL_WARNING, "Deleting keys past maxstorage failed: %s", err);
        free(err);
        deleted = 0;
    }
    for (int i = 0; i < n && deleted; i++)
        if (v[i].deleted) notifyKeyspaceEvent(NOTIFY_EVICTED, "evicted", v[i].key, v[i].klen, v[i].db);
    pthread_rwlock_unlock(&server.keyspace_lock);
    return deleted;
}

/* Deletes keys until the data fits maxstorage, for at most one pass's
 * budget (the next pass continues); writes go on meanwhile. */
static void storageEvict(void)
{
    if (!cfg.maxstorage || replIsReplica() || cfg.maxmemory_policy == MAXMEM_NOEVICTION) {
        atomic_store(&server.storage_oom, 0);
        return;
    }
    uint64_t deadline = monotonic_us() + EVICT_PASS_BUDGET_US;
    evictCand cand[EVICT_SAMPLE_MAX];
    evictVictim victims[EVICT_BATCH_MAX];
    /* Runs of neighbours are cheap once positioned (the random pick and
     * the iterator cost most), so each sample reads a long run and the best
     * quarter goes: maxmemory-samples sets the floor of the run. */
    int run = cfg.maxmemory_samples * 4 > EVICT_RUN ? cfg.maxmemory_samples * 4 : EVICT_RUN;
    if (run > EVICT_SAMPLE_MAX) run = EVICT_SAMPLE_MAX;
    while (stDataBytes(server.st) > cfg.maxstorage && monotonic_us() < deadline) {
        uint64_t excess = stDataBytes(server.st) - cfg.maxstorage, planned = 0;
        int nv = 0;
        /* Enough victims for the excess (a batch at most): the best
         * quarter of each sample. */
        while (nv < EVICT_BATCH_MAX && planned < excess) {
            int db = 0, got = storageSample(cand, run, &db);
            if (!got) break;
            int take = got / 4 ? got / 4 : 1;
            for (int i = 0; i < got; i++) {
                if (i < take && nv < EVICT_BATCH_MAX) {
                    victims[nv].db = db;
                    victims[nv].key = cand[i].key;
                    victims[nv].klen = cand[i].klen;
                    victims[nv].deleted = 0;
                    planned += cand[i].size;
                    nv++;
                } else {
                    free(cand[i].key);
                }
            }
        }
        if (!nv) {
            atomic_store(&server.storage_oom, 1); /* e.g. volatile-* without TTL keys */
            return;
        }
        atomic_fetch_add_explicit(&server.stat_evictedkeys, storageDeleteAll(victims, nv),
                                  memory_order_relaxed);
        for (int i = 0; i < nv; i++) free(victims[i].key);
    }
    atomic_store(&server.storage_oom, 0);
}

static void *keeperMain(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&keeperMu);
    while (!keeperStop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        /* Past maxstorage under an eviction policy: continue soon. */
        int busy = cfg.maxstorage && cfg.maxmemory_policy != MAXMEM_NOEVICTION &&
                   !atomic_load(&server.storage_oom) && stDataBytes(server.st) > cfg.maxstorage;
        ts.tv_nsec += (busy ? KEEPER_BUSY_INTERVAL_MS : KEEPER_INTERVAL_MS) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&keeperCond, &keeperMu, &ts);
        if (keeperStop) break;
        pthread_mutex_unlock(&keeperMu);
        keeperStep();
        storageEvict();
        pthread_mutex_lock(&keeperMu);
    }
    pthread_mutex_unlock(&keeperMu);
    return NULL;
}

void memStartKeeper(void)
{
    memApplySettings();
    if (pthread_create(&keeperTid, NULL, keeperMain, NULL) == 0) keeperStarted = 1;
}

void memStopKeeper(void)
{
    if (!keeperStarted) return;
    pthread_mutex_lock(&keeperMu);
    keeperStop = 1;
    pthread_cond_signal(&keeperCond);
    pthread_mutex_unlock(&keeperMu);
    pthread_join(keeperTid, NULL);
    keeperStarted = 0;
    for (int i = 0; i < ncursors; i++) free(cursors[i].key);
    free(cursors);
    cursors = NULL;
    ncursors = 0;
}

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

#include "server.h"

#define KEEPER_INTERVAL_MS 100
#define KEEPER_HEADROOM_PCT 5   /* grow the hot set only below 95% of maxmemory */
#define KEEPER_MIN_HOTSET (1ULL << 20)

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

/* The share of maxmemory the hot set gets when nothing else grows. */
size_t memHotsetShare(void)
{
    return cfg.maxmemory ? cfg.maxmemory * 35 / 100 : 256ULL * 1024 * 1024;
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
    size_t max = cfg.maxmemory, target = atomic_load(&hotsetTarget);
    size_t budget = atomic_load(&hotsetBudget), nb = budget;
    stStats ss;
    stGetStats(server.st, &ss);
    if (used > max) {
        size_t excess = used - max;
        size_t in_use = ss.hotset_bytes < budget ? ss.hotset_bytes : budget;
        nb = in_use > excess + KEEPER_MIN_HOTSET ? in_use - excess : KEEPER_MIN_HOTSET;
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

static void *keeperMain(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&keeperMu);
    while (!keeperStop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += KEEPER_INTERVAL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&keeperCond, &keeperMu, &ts);
        if (keeperStop) break;
        pthread_mutex_unlock(&keeperMu);
        keeperStep();
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
}

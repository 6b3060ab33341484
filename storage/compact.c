/* compact.c - tombstone collection: a storage thread that compacts the key
 * ranges deletes left mostly tombstones, so that iterators (SCAN, KEYS,
 * RANDOMKEY, the expiry scan) stop stepping over them.
 *
 * Why: RocksDB drops a tombstone only when a compaction carries it to the
 * last level, and memtables flush only when full, so on a server that goes
 * quiet after a mass expiry, DEL or FLUSHDB the tombstones stay in front of
 * every seek: after 100,000 keys expired, SCAN 0 on the one key left cost
 * ~30 ms.  Range deletes (FLUSHDB) are worse: RocksDB steps over the keys
 * they cover one by one, and backwards (RANDOMKEY's seek to the db's last
 * key) each step searches the range tombstones: after 50 FLUSHALLs of 100
 * keys, one RANDOMKEY on the 100 keys left cost 5 ms.
 *
 * What is compacted, checked every COMPACT_INTERVAL_MS against estimates
 * batch.c keeps (st->dead[pdb]: existing keys deleted, a FLUSHDB counting
 * every key it hid; st->flushed[pdb]: a FLUSHDB hid keys; st->expire_dead:
 * expire index entries deleted):
 *   - the meta range of a physical db (its 2-byte prefix), when its estimate
 *     reaches max(COMPACT_MIN_DEAD, live keys) and has stopped growing since
 *     the last check, or reached twice that; after a FLUSHDB, at the next
 *     check as long as the estimate is at least the live keys, and then the
 *     db's sub and zscore ranges too (a FLUSHDB wakes the thread at once);
 *   - the expire index below the highest point an expiry scan got to, which
 *     holds the tombstones of the entries it removed (iter.c), when its
 *     estimate reaches COMPACT_MIN_DEAD and has stopped growing, or
 *     COMPACT_EXPIRE_FORCE_DEAD.
 *
 * Invariants:
 *  1. Compacting never changes what a read returns; only its cost.
 *  2. A compaction costs at most about twice the deletes that made it due:
 *     it waits until the dead records are at least the live ones.
 *  3. Waiting for the deletes to stop keeps a mass expiry from being
 *     compacted halfway and its remainder (below the threshold) kept for
 *     good; the force thresholds bound the wait when deletes never stop,
 *     and a range compacted by force is compacted once more when its
 *     deletes stop, whatever their number (compactTail).
 *  4. A compaction subtracts the estimate it acted on (and clears `flushed`)
 *     before it starts, so deletes racing with it count toward the next one.
 *  5. Estimates start at 0 on open: tombstones from before a restart are
 *     left to RocksDB's own compactions.
 *
 * Life cycle:
 *
 *   stOpen() --stCompactStart()--> WAITING --COMPACT_INTERVAL_MS--> CHECKING
 *   CHECKING --compactRun(): compactions due, if any--> WAITING
 *   WAITING / CHECKING --stCompactStop(): compact_stop = 1, running manual
 *       compaction cancelled (rocksdb_disable_manual_compaction), join--> gone
 *
 * stClose() calls stCompactStop() before it closes the column families.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "st_internal.h"

#define COMPACT_INTERVAL_MS 1000
/* Records deleted before a range is worth compacting: 10,000 tombstones left
 * after a mass expiry still cost SCAN 0 ~3 ms. */
#define COMPACT_MIN_DEAD 1000
/* The expiry scan skips the expire index's tombstones (iter.c) except when it
 * starts over, every ~10 s: while deletes go on, compact it only this late. */
#define COMPACT_EXPIRE_FORCE_DEAD 100000
/* BottommostLevelCompaction::kForceOptimized (rocksdb/options.h; the C API
 * takes the enum's value). */
#define COMPACT_BOTTOMMOST_FORCE_OPTIMIZED 3

/* ---- Helpers ------------------------------------------------------------ */

static int compactStopping(stEngine *st) {
    pthread_mutex_lock(&st->compact_mu);
    int stop = st->compact_stop;
    pthread_mutex_unlock(&st->compact_mu);
    return stop;
}

/* Compacts [lo, hi) of one column family (lo NULL: from the start); RocksDB
 * flushes the memtable first when it overlaps the range.  Blocks until done
 * or cancelled. */
static void compactRange(stEngine *st, int cf, const char *lo, size_t lolen, const char *hi,
                         size_t hilen) {
    rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();
    /* Automatic compactions (and so writers waiting on them) go on meanwhile. */
    rocksdb_compactoptions_set_exclusive_manual_compaction(co, 0);
    /* The default skips last-level files, and a flushed file of tombstones
     * can reach the last level by a trivial move: measured, it kept all of
     * them.  Force rewriting the last level (once). */
    rocksdb_compactoptions_set_bottommost_level_compaction(co, COMPACT_BOTTOMMOST_FORCE_OPTIMIZED);
    rocksdb_compact_range_cf_opt(st->db, st->cf[cf], co, lo, lolen, hi, hilen);
    rocksdb_compactoptions_destroy(co);
}

/* Whether a range whose estimate is `dead` (`prev` at the last check) should
 * be compacted now: at least `min` dead records, and the deletes are over
 * (compacting in the middle of a mass expiry left the rest of it behind) or
 * reached `force`. */
static int compactDue(int64_t dead, int64_t prev, int64_t min, int64_t force) {
    return dead >= min && (dead == prev || dead >= force);
}

/* After a compaction forced while deletes went on (invariant 3), the rest of
 * those deletes, once they stop, however few: a mass expiry compacted
 * halfway left up to COMPACT_MIN_DEAD tombstones for good otherwise (a
 * unit test saw a scan still skip hundreds of them). */
static int compactTail(int tail, int64_t dead, int64_t prev) {
    return tail && dead > 0 && dead == prev;
}

/* One check: the compactions the estimates call for. */
static void compactRun(stEngine *st) {
    for (int p = 0; p < st->npdb && !compactStopping(st); p++) {
        int64_t dead = atomic_load_explicit(&st->dead[p], memory_order_relaxed);
        int64_t live = atomic_load_explicit(&st->counts[p], memory_order_relaxed);
        int64_t prev = st->dead_prev[p];
        st->dead_prev[p] = dead;
        int64_t min = live > COMPACT_MIN_DEAD ? live : COMPACT_MIN_DEAD;
        int flushed = atomic_load(&st->flushed[p]);
        if (flushed ? dead < live : !compactDue(dead, prev, min, 2 * min) && !compactTail(st->dead_tail[p], dead, prev))
            continue;
        st->dead_tail[p] = !flushed && dead != prev; /* invariant 3: a tail may follow */
        /* Cleared before the compaction starts: a FLUSHDB after this point
         * is either covered by it or flags the db again. */
        atomic_store(&st->flushed[p], 0);
        atomic_fetch_sub(&st->dead[p], dead);
        st->dead_prev[p] = 0;
        char lo[ENC_DB_PREFIX_BYTES], hi[ENC_DB_PREFIX_BYTES];
        encDbPrefix(lo, (uint16_t)p);
        encDbPrefix(hi, (uint16_t)(p + 1)); /* p < 0xFFFF: pdb 0xFFFF is never used */
        compactRange(st, ST_CF_META, lo, sizeof(lo), hi, sizeof(hi));
        if (flushed) {
            /* The collections' elements were hidden by range deletes too.
             * Until these leave the memtable, a reverse step of an iterator
             * over a collection written since searched them: 3,000 LINSERT
             * BEFORE after a FLUSHALL took 15 s instead of 0.05 s. */
            compactRange(st, ST_CF_SUB, lo, sizeof(lo), hi, sizeof(hi));
            compactRange(st, ST_CF_ZSCORE, lo, sizeof(lo), hi, sizeof(hi));
        }
    }
    uint64_t edead = atomic_load_explicit(&st->expire_dead, memory_order_relaxed);
    uint64_t eprev = st->expire_dead_prev;
    st->expire_dead_prev = edead;
    if ((compactDue((int64_t)edead, (int64_t)eprev, COMPACT_MIN_DEAD, COMPACT_EXPIRE_FORCE_DEAD) ||
         compactTail(st->expire_tail, (int64_t)edead, (int64_t)eprev)) &&
        !compactStopping(st)) {
        st->expire_tail = edead != eprev;
        /* Not the cursor: a backdated entry or a clock going back may have
         * pulled it down, and the range to compact is what scans drained. */
        pthread_mutex_lock(&st->commit_mu);
        uint64_t done = st->expire_done_ms;
        pthread_mutex_unlock(&st->commit_mu);
        atomic_fetch_sub(&st->expire_dead, edead);
        st->expire_dead_prev = 0;
        char hi[8];
        encPutU64(hi, done);
        compactRange(st, ST_CF_EXPIRE, NULL, 0, hi, sizeof(hi));
    }
}

/* ---- Blob garbage collection ------------------------------------------------ */

/* RocksDB's blob GC relocates the live values of the oldest blob files
 * whenever a compaction meets them, whether or not those files hold garbage.
 * On a load that only adds keys it is pure cost: 8 KB unique-key SETs on two
 * cores ran at 10k/s with it, 16k/s without (stalled on L0 files while
 * compactions moved live blobs).  So GC is switched on only while the blob
 * files of a column family hold enough garbage (overwritten or deleted
 * values) to be worth reclaiming, with hysteresis. */
#define BLOB_GC_ON_RATIO 0.25
#define BLOB_GC_OFF_RATIO 0.10

static void blobGcTune(stEngine *st) {
    static const int cfs[] = {ST_CF_META, ST_CF_SUB};
    for (size_t i = 0; i < sizeof(cfs) / sizeof(cfs[0]); i++) {
        int cf = cfs[i];
        uint64_t live = 0, garbage = 0;
        if (rocksdb_property_int_cf(st->db, st->cf[cf], "rocksdb.live-blob-file-size", &live) != 0 ||
            rocksdb_property_int_cf(st->db, st->cf[cf], "rocksdb.live-blob-file-garbage-size",
                                    &garbage) != 0 ||
            live == 0)
            continue;
        double ratio = (double)garbage / (double)live;
        int on = atomic_load(&st->blob_gc_on[cf]);
        if (on == (ratio > (on ? BLOB_GC_OFF_RATIO : BLOB_GC_ON_RATIO))) continue;
        const char *keys[] = {"enable_blob_garbage_collection"};
        const char *vals[] = {on ? "false" : "true"};
        char *err = NULL;
        rocksdb_set_options_cf(st->db, st->cf[cf], 1, keys, vals, &err);
        if (err) {
            stLogError("switching blob garbage collection", err);
            rocksdb_free(err);
            continue;
        }
        atomic_store(&st->blob_gc_on[cf], !on);
    }
}

/* Compacts the ranges of big collections deleted since the last check, so
 * the garbage filter (gc.c) removes their records now rather than whenever
 * RocksDB would next rewrite those files. */
static void compactDeadCollections(stEngine *st) {
    gcRange *r;
    while (!compactStopping(st) && (r = gcTakeRange(st)) != NULL) {
        size_t plen = ENC_SUB_PREFIX_LEN(r->klen);
        char *lo = malloc(plen), *hi = malloc(plen);
        if (lo && hi) {
            encSubKeyPrefix(lo, r->pdb, r->key, r->klen, r->inc);
            encSubKeyPrefix(hi, r->pdb, r->key, r->klen, r->inc + 1);
            compactRange(st, ST_CF_SUB, lo, plen, hi, plen);
            compactRange(st, ST_CF_ZSCORE, lo, plen, hi, plen);
            atomic_fetch_add_explicit(&st->gc_ranges_compacted, 1, memory_order_relaxed);
        }
        free(lo);
        free(hi);
        free(r);
    }
}

static void *compactThreadMain(void *arg) {
    stEngine *st = arg;
    pthread_mutex_lock(&st->compact_mu);
    while (!st->compact_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += COMPACT_INTERVAL_MS / 1000;
        ts.tv_nsec += (long)(COMPACT_INTERVAL_MS % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&st->compact_cond, &st->compact_mu, &ts);
        if (st->compact_stop) break;
        pthread_mutex_unlock(&st->compact_mu);
        blobGcTune(st);
        compactRun(st);
        compactDeadCollections(st);
        pthread_mutex_lock(&st->compact_mu);
    }
    pthread_mutex_unlock(&st->compact_mu);
    return NULL;
}

/* ---- Internal API (st_internal.h) ----------------------------------------- */

int stCompactStart(stEngine *st, char **err) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->compact_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&st->compact_mu, NULL);
    int rc = pthread_create(&st->compact_thread, NULL, compactThreadMain, st);
    if (rc != 0) {
        pthread_cond_destroy(&st->compact_cond);
        pthread_mutex_destroy(&st->compact_mu);
        if (err) *err = stErrDup("starting the compaction thread", strerror(rc));
        return C_ERR;
    }
    st->compact_started = 1;
    return C_OK;
}

void stCompactWake(stEngine *st) {
    if (!st->compact_started) return;
    pthread_mutex_lock(&st->compact_mu);
    pthread_cond_signal(&st->compact_cond);
    pthread_mutex_unlock(&st->compact_mu);
}

void stCompactStop(stEngine *st) {
    if (!st->compact_started) return;
    pthread_mutex_lock(&st->compact_mu);
    st->compact_stop = 1;
    pthread_cond_signal(&st->compact_cond);
    pthread_mutex_unlock(&st->compact_mu);
    /* A manual compaction in progress returns early (the db closes next). */
    rocksdb_disable_manual_compaction(st->db);
    pthread_join(st->compact_thread, NULL);
    pthread_cond_destroy(&st->compact_cond);
    pthread_mutex_destroy(&st->compact_mu);
    st->compact_started = 0;
}

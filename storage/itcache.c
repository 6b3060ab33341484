/* itcache.c - RocksDB iterators reused within one pass of a server thread's
 * loop.
 *
 * Creating a RocksDB iterator (a merging iterator over every memtable and
 * every L0 file plus one per level, readahead state, a SuperVersion
 * reference) cost more than the seek that follows it: LPOP, ZPOPMIN and
 * ZRANGEBYSCORE spent most of their RocksDB time building iterators they
 * used for one seek.  A pass of a thread's loop often runs many commands on
 * the same collection (every client that was ready), so an iterator is kept
 * after use and handed to the next request for the same column family and
 * bounds.
 *
 * Invariants:
 *  1. A cached iterator is only handed out while the database's latest
 *     sequence number equals the one it was created at: no write became
 *     visible since, so it reads exactly what a new iterator would.  (The
 *     thread's own uncommitted group writes are not in RocksDB either way;
 *     the caller's overlay supplies them.)
 *  2. Only threads that called stThreadInit(1) cache, and they drop every
 *     cached iterator in stThreadIdle() before they sleep, so no iterator
 *     pins memtables or SST files while its thread waits (and none outlives
 *     its engine: the server closes storage after its loops end).
 *  3. A slot owns its bound buffers: the read options point at them
 *     (RocksDB does not copy bounds).
 */
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

#define ITC_SLOTS 4
#define PERF_LEVEL_DISABLE 1 /* rocksdb::PerfLevel::kDisable */

typedef struct itSlot itSlot;
struct itSlot {
    rocksdb_iterator_t *it; /* NULL: slot free */
    rocksdb_readoptions_t *ro;
    stEngine *st;
    int cf, busy;
    uint64_t seq;
    char *lower, *upper;
    size_t lolen, uplen;
    uint64_t used; /* LRU clock of the last release */
    int owned; /* not a slot: malloc'd for one use (no caching) */
};

static __thread int itcEnabled;
static __thread uint64_t itcClock;
static __thread itSlot itcSlots[ITC_SLOTS];

void stThreadInit(int cache_iterators) {
    /* RocksDB's default level counts into a thread-local perf context on
     * every memtable and block access; nothing reads those counters. */
    rocksdb_set_perf_level(PERF_LEVEL_DISABLE);
    itcEnabled = cache_iterators;
}

static void slotDrop(itSlot *s) {
    rocksdb_iter_destroy(s->it); /* before the options and bounds it uses */
    rocksdb_readoptions_destroy(s->ro);
    free(s->lower);
    free(s->upper);
    memset(s, 0, sizeof(*s));
}

void stThreadIdle(void) {
    for (int i = 0; i < ITC_SLOTS; i++)
        if (itcSlots[i].it && !itcSlots[i].busy) slotDrop(&itcSlots[i]);
}

static char *dupBytes(const char *p, size_t n) {
    char *d = malloc(n ? n : 1);
    if (!d) abort();
    memcpy(d, p, n);
    return d;
}

static int sameBytes(const char *a, size_t an, const char *b, size_t bn) {
    return an == bn && memcmp(a, b, an) == 0;
}

static void slotFill(itSlot *s, stEngine *st, int cf, uint64_t seq, const char *lower,
                     size_t lolen, const char *upper, size_t uplen) {
    s->st = st;
    s->cf = cf;
    s->seq = seq;
    s->lower = dupBytes(lower, lolen);
    s->upper = dupBytes(upper, uplen);
    s->lolen = lolen;
    s->uplen = uplen;
    s->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_lower_bound(s->ro, s->lower, lolen);
    rocksdb_readoptions_set_iterate_upper_bound(s->ro, s->upper, uplen);
    s->it = rocksdb_create_iterator_cf(st->db, s->ro, st->cf[cf]);
    s->busy = 1;
}

/* An iterator for one use, not cached (itcRelease() frees it). */
static itSlot *ownedIter(stEngine *st, int cf, const char *lower, size_t lolen,
                         const char *upper, size_t uplen) {
    itSlot *own = calloc(1, sizeof(*own));
    if (!own) abort();
    slotFill(own, st, cf, 0, lower, lolen, upper, uplen);
    own->owned = 1;
    return own;
}

itcHandle *itcAcquire(stEngine *st, int cf, const char *lower, size_t lolen,
                      const char *upper, size_t uplen) {
    if (!itcEnabled) return ownedIter(st, cf, lower, lolen, upper, uplen);
    uint64_t seq = rocksdb_get_latest_sequence_number(st->db);
    itSlot *victim = NULL;
    for (int i = 0; i < ITC_SLOTS; i++) {
        itSlot *s = &itcSlots[i];
        if (s->busy) continue;
        if (s->it && s->st == st && s->seq != seq) slotDrop(s); /* invariant 1 */
        if (s->it && s->st == st && s->cf == cf && sameBytes(s->lower, s->lolen, lower, lolen) &&
            sameBytes(s->upper, s->uplen, upper, uplen)) {
            s->busy = 1;
            return s;
        }
        if (!victim || !s->it || (victim->it && s->used < victim->used)) victim = s;
    }
    /* Every slot busy (nested iterators), or the victim belongs to another
     * engine, which is only dropped with its own stThreadIdle(). */
    if (!victim || (victim->it && victim->st != st))
        return ownedIter(st, cf, lower, lolen, upper, uplen);
    if (victim->it) slotDrop(victim);
    slotFill(victim, st, cf, seq, lower, lolen, upper, uplen);
    return victim;
}

rocksdb_iterator_t *itcIter(itcHandle *h) {
    return h->it;
}

void itcRelease(itcHandle *h) {
    if (!h) return;
    if (h->owned) {
        slotDrop(h);
        free(h);
        return;
    }
    h->busy = 0;
    h->used = ++itcClock;
}

/* gc.c - garbage of deleted collections: the compaction filter that drops
 * the element and score-index records of dead incarnations, and the queue
 * of big deleted collections whose ranges the compaction thread compacts so
 * that the filter runs over them soon.
 *
 * Deleting or overwriting a collection removes only its meta record (O(1),
 * coll.c invariant 2); its sub and zscore records stay under the old
 * incarnation.  A record is garbage when the meta record of its key is
 * absent or has another incarnation (or is a string).  RocksDB calls the
 * filter for every record a compaction rewrites, so garbage disappears with
 * ordinary compactions; a large collection deleted in a quiet part of the
 * key space would wait forever for one, hence the queue.  The queue also
 * takes live collections that accumulated many element tombstones
 * (SPOP, SREM, HDEL ...): until a compaction removes them, every seek into
 * the collection steps over them (SPOP of a 60,000-member set slowed to
 * 3,000 pops a second with a 300 ms p99).
 *
 * Invariants:
 *  1. A record is dropped only if it is garbage in the latest state, and no
 *     snapshot could still need it: RocksDB's filter ignores snapshots, so
 *     gc_holds counts open full-sync snapshots and the filter keeps
 *     everything while it is non-zero.  The filter reads the meta record
 *     first and gc_holds second, and stSnapOpen() raises gc_holds before it
 *     takes its snapshot: a meta the filter found absent was deleted before
 *     any snapshot taken later, which sees it absent too.
 *  2. A key's records are written in the same batch as its meta record, so
 *     a record the filter sees (flushed, hence committed) never lacks a
 *     meta record that is merely not written yet.  A full sync's receiver
 *     loads meta before sub and zscore (snapshot.c order).
 *  3. Dead incarnations never come back (new incarnations are fresh HLC
 *     values), so a per-thread cache of the last key's verdict stays valid.
 */
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

#define GC_QUEUE_MAX 1024          /* queued ranges; more wait for natural compactions */
#define GC_COMPACT_MIN_ELEMENTS 1000 /* smaller collections wait for natural compactions */
#define GC_DEL_SLOTS 64              /* collections whose deletes are being counted */
#define GC_DEL_TRIGGER 1024          /* tombstones of one collection worth a compaction,
                                      * and at least a quarter of its live elements */

/* Deletes counted for one incarnation (a small direct-mapped table: a
 * collision restarts the count, which only delays a compaction). */
struct gcDelSlot {
    uint64_t hash, inc, dels;
};

/* The last key a compaction thread asked about (invariant 3). */
static __thread struct {
    stEngine *st;
    uint16_t pdb;
    uint64_t inc;
    size_t klen;
    int dead;
    char key[256];
} gcLast;

/* ---- The filter ----------------------------------------------------------- */

/* Whether incarnation inc of (pdb, key) is dead in the latest state. */
static int gcIncarnationDead(stEngine *st, uint16_t pdb, const char *key, size_t klen,
                             uint64_t inc) {
    if (gcLast.st == st && gcLast.pdb == pdb && gcLast.inc == inc && gcLast.klen == klen &&
        klen <= sizeof(gcLast.key) && memcmp(gcLast.key, key, klen) == 0)
        return gcLast.dead;
    char buf[ST_KEYBUF_BYTES], *err = NULL;
    size_t mklen;
    char *mk = stMetaKeyBuf(buf, sizeof(buf), pdb, key, klen, &mklen);
    if (!mk) return 0;
    int dead = 0;
    rocksdb_pinnableslice_t *ps =
        rocksdb_get_pinned_cf(st->db, st->ropts, st->cf[ST_CF_META], mk, mklen, &err);
    if (err) {
        rocksdb_free(err);
        dead = -1; /* unknown: keep */
    } else if (!ps) {
        dead = 1;
    } else {
        size_t vl, ilen;
        const char *v = rocksdb_pinnableslice_value(ps, &vl), *inl;
        stMeta m;
        dead = encMetaValueDecode(v, vl, &m, &inl, &ilen) != 0
                   ? -1
                   : (m.type == ST_TYPE_STRING || m.incarnation != inc);
        rocksdb_pinnableslice_destroy(ps);
    }
    if (mk != buf) free(mk);
    if (dead < 0) return 0;
    if (klen <= sizeof(gcLast.key)) {
        gcLast.st = st;
        gcLast.pdb = pdb;
        gcLast.inc = inc;
        gcLast.klen = klen;
        gcLast.dead = dead;
        memcpy(gcLast.key, key, klen);
    }
    return dead;
}

static unsigned char gcFilter(void *state, int level, const char *key, size_t klen,
                              const char *val, size_t vlen, char **nv, size_t *nvlen,
                              unsigned char *changed) {
    (void)level;
    (void)val;
    (void)vlen;
    (void)nv;
    (void)nvlen;
    *changed = 0;
    stEngine *st = state;
    if (!atomic_load(&st->gc_ready)) return 0;
    uint16_t pdb;
    const char *k, *elem;
    size_t kl, el;
    uint64_t inc;
    if (encSubKeyDecode(key, klen, &pdb, &k, &kl, &inc, &elem, &el) != 0) return 0;
    if (!gcIncarnationDead(st, pdb, k, kl, inc)) return 0;
    if (atomic_load(&st->gc_holds) > 0) return 0; /* invariant 1: after the meta read */
    atomic_fetch_add_explicit(&st->gc_dropped, 1, memory_order_relaxed);
    return 1;
}

/* RocksDB's C wrapper calls the destructor unconditionally; the state is
 * the engine, which outlives the filter. */
static void gcNoDestructor(void *state) { (void)state; }

static const char *gcName(void *state) {
    (void)state;
    return "strata.dead-incarnations";
}

static void gcQueueRange(stEngine *st, int pdb, const char *key, size_t klen, uint64_t inc);

/* ---- Internal API (st_internal.h) ----------------------------------------- */

rocksdb_compactionfilter_t *gcFilterNew(stEngine *st) {
    return rocksdb_compactionfilter_create(st, gcNoDestructor, gcFilter, gcName);
}

void gcNoteDeadCollection(stEngine *st, int pdb, const char *key, size_t klen,
                          const stMeta *old) {
    if (old->type == ST_TYPE_STRING || old->count < GC_COMPACT_MIN_ELEMENTS) return;
    gcQueueRange(st, pdb, key, klen, old->incarnation);
}

/* Queues [prefix(inc), prefix(inc + 1)) of (pdb, key) for compaction. */
static void gcQueueRange(stEngine *st, int pdb, const char *key, size_t klen, uint64_t inc) {
    gcRange *r = malloc(sizeof(*r) + klen);
    if (!r) return;
    r->pdb = (uint16_t)pdb;
    r->inc = inc;
    r->klen = klen;
    memcpy(r->key, key, klen);
    r->next = NULL;
    pthread_mutex_lock(&st->gc_mu);
    if (st->gc_queued >= GC_QUEUE_MAX) {
        pthread_mutex_unlock(&st->gc_mu);
        free(r);
        return;
    }
    if (st->gc_tail) st->gc_tail->next = r;
    else st->gc_head = r;
    st->gc_tail = r;
    st->gc_queued++;
    pthread_mutex_unlock(&st->gc_mu);
}

void gcNoteDeletes(stEngine *st, int pdb, const char *key, size_t klen, uint64_t inc,
                   uint64_t dels, uint64_t live) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)pdb;
    for (size_t i = 0; i < klen; i++) h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    int due = 0;
    pthread_mutex_lock(&st->gc_mu);
    if (!st->gc_dels) st->gc_dels = calloc(GC_DEL_SLOTS, sizeof(*st->gc_dels));
    if (st->gc_dels) {
        struct gcDelSlot *s = &st->gc_dels[h % GC_DEL_SLOTS];
        if (s->hash != h || s->inc != inc) {
            s->hash = h;
            s->inc = inc;
            s->dels = 0;
        }
        s->dels += dels;
        /* A compaction rewrites the live elements too: wait for a quarter of
         * them in tombstones, so its cost per delete stays bounded. */
        if (s->dels >= GC_DEL_TRIGGER && s->dels >= live / 4) {
            s->dels = 0;
            due = 1;
        }
    }
    pthread_mutex_unlock(&st->gc_mu);
    if (due) gcQueueRange(st, pdb, key, klen, inc);
}

gcRange *gcTakeRange(stEngine *st) {
    pthread_mutex_lock(&st->gc_mu);
    gcRange *r = st->gc_head;
    if (r) {
        st->gc_head = r->next;
        if (!st->gc_head) st->gc_tail = NULL;
        st->gc_queued--;
    }
    pthread_mutex_unlock(&st->gc_mu);
    return r;
}

void gcFreeQueue(stEngine *st) {
    gcRange *r;
    while ((r = gcTakeRange(st)) != NULL) free(r);
    free(st->gc_dels);
    st->gc_dels = NULL;
}

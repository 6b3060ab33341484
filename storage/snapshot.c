/* snapshot.c - the sending side of a full sync: every record of a consistent
 * RocksDB snapshot, streamed one column family at a time in key order, in
 * chunks the caller bounds.  Nothing is materialised: an open iterator pins
 * the SST files and memtables of the snapshot, not a copy of the data.
 *
 * The snapshot's sequence number is not exposed by RocksDB's C API, so it is
 * read as the latest sequence while commit_mu is held: every write of the
 * node takes commit_mu (batch.c, stReplPut), so none can land in between.
 */
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

/* sys first: the receiver learns the db map and counts before the data. */
static const int snap_cfs[] = {ST_CF_SYS, ST_CF_META, ST_CF_SUB, ST_CF_ZSCORE, ST_CF_EXPIRE,
                               ST_CF_DEFAULT};
#define SNAP_NCF ((int)(sizeof(snap_cfs) / sizeof(snap_cfs[0])))

struct stSnap {
    stEngine *st;
    const rocksdb_snapshot_t *snap;
    rocksdb_readoptions_t *ro;
    rocksdb_iterator_t *it; /* over snap_cfs[idx] */
    int idx;
};

static void snapOpenIter(stSnap *s) {
    s->it = rocksdb_create_iterator_cf(s->st->db, s->ro, s->st->cf[snap_cfs[s->idx]]);
    rocksdb_iter_seek_to_first(s->it);
}

stSnap *stSnapOpen(stEngine *st, uint64_t *seq) {
    stSnap *s = calloc(1, sizeof(*s));
    if (!s) abort();
    s->st = st;
    /* Before the snapshot: the garbage filter must not drop what it will
     * need (gc.c invariant 1). */
    atomic_fetch_add(&st->gc_holds, 1);
    pthread_mutex_lock(&st->commit_mu);
    s->snap = rocksdb_create_snapshot(st->db);
    *seq = rocksdb_get_latest_sequence_number(st->db);
    pthread_mutex_unlock(&st->commit_mu);
    s->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_snapshot(s->ro, s->snap);
    rocksdb_readoptions_set_fill_cache(s->ro, 0); /* a full scan must not flush the cache */
    snapOpenIter(s);
    return s;
}

static void snapReserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t nc = *cap ? *cap : 4096;
    while (nc < need) nc *= 2;
    char *n = realloc(*buf, nc);
    if (!n) abort();
    *buf = n;
    *cap = nc;
}

int stSnapFill(stSnap *s, char **buf, size_t *len, size_t *cap, size_t limit) {
    int appended = 0;
    while (s->it) {
        if (!rocksdb_iter_valid(s->it)) {
            rocksdb_iter_destroy(s->it);
            s->it = NULL;
            if (++s->idx < SNAP_NCF) snapOpenIter(s);
            continue;
        }
        if (appended && *len >= limit) return 1;
        int cf = snap_cfs[s->idx];
        size_t kl, vl;
        const char *k = rocksdb_iter_key(s->it, &kl);
        if (!(cf == ST_CF_SYS && stSysKeyIsPrivate(k, kl))) {
            const char *v = rocksdb_iter_value(s->it, &vl);
            snapReserve(buf, cap, *len + 1 + 2 * ENC_VARINT_MAX_BYTES + kl + vl);
            char *p = *buf + *len;
            *p++ = (char)cf;
            p += encPutVarint(p, kl);
            memcpy(p, k, kl);
            p += kl;
            p += encPutVarint(p, vl);
            memcpy(p, v, vl);
            p += vl;
            *len = (size_t)(p - *buf);
            appended = 1;
        }
        rocksdb_iter_next(s->it);
    }
    return 0;
}

void stSnapClose(stSnap *s) {
    if (!s) return;
    if (s->it) rocksdb_iter_destroy(s->it);
    rocksdb_readoptions_destroy(s->ro);
    rocksdb_release_snapshot(s->st->db, s->snap);
    atomic_fetch_sub(&s->st->gc_holds, 1);
    free(s);
}

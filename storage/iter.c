/* iter.c - ordered reads over RocksDB: stIter (the keys of one database in
 * byte order, over the implicit snapshot every RocksDB iterator pins at
 * creation), stRandomKey and stExpireScan (due entries of the expire index).
 *
 * RocksDB does not copy iterate bounds: each iterator owns its bound buffers
 * and its read options and frees them after the iterator itself.
 *
 * The expiry scan resumes where the previous one ended.  Every visited entry
 * is removed by the caller (the key expired, or the entry was stale), so the
 * front of the expire index is a run of tombstones; seeking to the first
 * entry walked all of them on every pass (100,000 expirations: ~20% of a
 * core on an idle server).  Instead each scan starts at a cursor,
 * st->expire_cursor_ms:
 *
 *   scan from cursor (or 0) --drained: no entry <= now_ms left--> cursor = now_ms + 1
 *                           --stopped by cb or max-------------> cursor = last expire-at visited
 *   batchWrite() inserting an entry below the cursor ---------> cursor = that expire-at
 *
 * Invariants:
 *  1. Every live entry of the index below the cursor was visited by a scan
 *     (and so, by the callback contract, removed or left on purpose): a scan
 *     only moves the cursor over entries it visited or entries that were
 *     absent from its snapshot, and everything inserted below the final
 *     cursor since the scan read it is folded in (expire_low_ms, batch.c
 *     invariant 4).
 *  2. A scan never reads below its start: RocksDB's lower bound and seek skip
 *     the tombstones there.  compact.c compacts the range below the highest
 *     point a scan got to (expire_done_ms) as well, so restarts stay cheap.
 *  3. A scan starts from 0 when the cursor is past now_ms (the caller's clock
 *     went back) and every ITER_EXPIRE_RESTART_PASSES scans, so an entry a
 *     callback left in place (its delete failed) is retried.
 *  4. Scans are serialised (expire_scan_mu); the cursor fields are under
 *     commit_mu.
 */
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

#define ITER_RANDOM_EXACT_MAX 64       /* up to this many keys RANDOMKEY is exact */
#define ITER_RANDOM_MAX_DESCENTS 16    /* trie descents one RANDOMKEY tries at most */
#define ITER_RANDOM_MAX_DEPTH 64       /* branching trie levels one descent goes down */
#define ITER_EXPIRE_RESTART_PASSES 100 /* expiry scans between two from the start */

struct stIter {
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ro; /* holds pointers to lower/upper below */
    char upper[ENC_DB_PREFIX_BYTES];
    size_t lower_len;
    char lower[]; /* db prefix + start */
};

/* ---- Helpers --------------------------------------------------------------- */

/* Iterator over the meta records of physical db pdb starting at key >= start.
 * Owned by the caller (iterFree). */
static stIter *iterOpen(stEngine *st, int pdb, const char *start, size_t slen,
                        int fill_cache) {
    stIter *it = malloc(sizeof(*it) + ENC_DB_PREFIX_BYTES + slen);
    if (!it) return NULL;
    it->lower_len = encMetaKey(it->lower, (uint16_t)pdb, start, slen);
    /* Physical dbs are < 0xFFFF; pdb 0xFFFF asks for an empty range
     * (upper == lower). */
    encDbPrefix(it->upper, (uint16_t)(pdb < 0xFFFF ? pdb + 1 : pdb));
    it->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(it->ro, (unsigned char)fill_cache);
    rocksdb_readoptions_set_iterate_lower_bound(it->ro, it->lower, ENC_DB_PREFIX_BYTES);
    rocksdb_readoptions_set_iterate_upper_bound(it->ro, it->upper, sizeof(it->upper));
    it->it = rocksdb_create_iterator_cf(st->db, it->ro, st->cf[ST_CF_META]);
    rocksdb_iter_seek(it->it, it->lower, it->lower_len);
    return it;
}

/* Logs an iterator error, if any (an invalid iterator is either at its end or
 * failed). */
static void iterCheck(rocksdb_iterator_t *it) {
    char *rerr = NULL;
    rocksdb_iter_get_error(it, &rerr);
    if (rerr) {
        stLogError("iterating", rerr);
        rocksdb_free(rerr);
    }
}

/* ---- Public API: iteration --------------------------------------------------- */

stIter *stIterNew(stEngine *st, int db, const char *start, size_t slen) {
    int pdb = stPhysDb(st, db);
    if (pdb < 0) {
        /* An empty iterator keeps callers simple. */
        pdb = 0xFFFF;
        start = NULL;
        slen = 0;
    }
    /* Scans (KEYS, SCAN, DEBUG DIGEST) must not evict the working set from
     * the block cache. */
    return iterOpen(st, pdb, start, slen, 0);
}

int stIterValid(const stIter *it) {
    return it && rocksdb_iter_valid(it->it);
}

void stIterNext(stIter *it) {
    rocksdb_iter_next(it->it);
    if (!rocksdb_iter_valid(it->it)) iterCheck(it->it);
}

const char *stIterKey(const stIter *it, size_t *klen) {
    size_t n;
    const char *k = rocksdb_iter_key(it->it, &n);
    *klen = n - ENC_DB_PREFIX_BYTES;
    return k + ENC_DB_PREFIX_BYTES;
}

stObj *stIterObj(const stIter *it) {
    size_t vl, vlen;
    const char *v = rocksdb_iter_value(it->it, &vl), *val;
    stMeta m;
    if (encMetaValueDecode(v, vl, &m, &val, &vlen) != 0) return NULL;
    return stObjFromRecord(&m, val, vlen);
}

void stIterFree(stIter *it) {
    if (!it) return;
    rocksdb_iter_destroy(it->it); /* before the options and bounds it uses */
    rocksdb_readoptions_destroy(it->ro);
    free(it);
}

/* ---- Helpers: random key ---------------------------------------------------- */

/* RANDOMKEY has no index to pick "the i-th key" from, so it samples the key
 * trie.  A descent that picks uniformly among a node's children
 * (iterRandomDescend) reaches key x with probability 1 / w(x), w(x) being
 * the product of the fan-outs along its path.  Rejection sampling turns that
 * into a uniform pick: accept x with probability w(x) / W, W >= every w; on
 * average W / n descents (n keys).  W is learned per physical db
 * (st->random_wmax): raised to any larger w seen, halved when a call gives
 * up after ITER_RANDOM_MAX_DESCENTS descents (the db changed shape); such a
 * call falls back to one of its descents picked in proportion to w.  For
 * "user:0000".."user:9999" every w is equal, so one descent and exactly
 * uniform; 1000 keys "k0".."k999" take ~1.2 descents and draw ~865 distinct
 * keys in 2000 draws, as uniform sampling does.  Seeking to a random byte
 * string instead would favour keys after big gaps in byte space ("k2" over
 * "k1999"), and the plain descent gave "k0" 10% of the draws. */

/* A growable byte string. */
typedef struct iterBuf {
    char *p;
    size_t len, cap;
} iterBuf;

static int iterBufSet(iterBuf *b, const char *s, size_t n) {
    if (n > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < n) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) return C_ERR;
        b->p = np;
        b->cap = nc;
    }
    if (n) memmove(b->p, s, n);
    b->len = n;
    return C_OK;
}

/* Copies the iterator's current key into b.  C_ERR if it is not valid. */
static int iterBufSetKey(iterBuf *b, rocksdb_iterator_t *ri) {
    size_t n;
    if (!rocksdb_iter_valid(ri)) return C_ERR;
    const char *k = rocksdb_iter_key(ri, &n);
    return iterBufSet(b, k, n);
}

/* The byte at position p of the iterator's current key, -1 if the key ends
 * at p, or -2 if the iterator is not on a key starting with prefix[0..p). */
static int iterByteAt(rocksdb_iterator_t *ri, const char *prefix, size_t p) {
    size_t kl;
    if (!rocksdb_iter_valid(ri)) return -2;
    const char *k = rocksdb_iter_key(ri, &kl);
    if (kl < p || memcmp(k, prefix, p) != 0) return -2;
    return kl > p ? (unsigned char)k[p] : -1;
}

/* One random descent of the key trie from the subtree of all keys between
 * lo and hi (its first and last key, inclusive).  At each branching node
 * (p = the first position where lo and hi differ) it lists the node's
 * children: the distinct bytes at p, plus -1 when lo ends at p (the shared
 * prefix is itself a key).  Each child costs a Next or a seek; it picks one
 * uniformly and narrows lo / hi to that child's keys (two seeks), until one
 * key is left.  On C_OK lo holds the key reached and *weight the product of
 * the fan-outs (the inverse of the probability of reaching it).  A path of
 * more than ITER_RANDOM_MAX_DEPTH branching nodes stops at its subtree's
 * first key.  C_ERR on OOM or an iterator error (the data cannot change
 * under the descent: the iterator reads a snapshot). */
static int iterRandomDescend(rocksdb_iterator_t *ri, iterBuf *lo, iterBuf *hi,
                             iterBuf *probe, double *weight) {
    int child[257];
    *weight = 1;
    for (int depth = 0; depth < ITER_RANDOM_MAX_DEPTH; depth++) {
        if (lo->len == hi->len && memcmp(lo->p, hi->p, lo->len) == 0) return C_OK;
        size_t p = 0;
        while (p < lo->len && p < hi->len && lo->p[p] == hi->p[p]) p++;
        /* lo < hi, so hi has a byte at p and lo only may end there. */
        int last = (unsigned char)hi->p[p];
        if (iterBufSet(probe, hi->p, p + 1) != C_OK) return C_ERR;
        rocksdb_iter_seek(ri, lo->p, lo->len);
        int cur = lo->len > p ? (unsigned char)lo->p[p] : -1, n = 0, use_next = 1;
        child[n++] = cur;
        while (cur != last) {
            /* The next child: one Next away when the children are single
             * keys, else one seek past the current child's keys (and no more
             * Nexts at this node once one missed). */
            int b = cur;
            if (use_next) {
                rocksdb_iter_next(ri);
                b = iterByteAt(ri, probe->p, p);
                use_next = b != cur;
            }
            if (b == cur) {
                probe->p[p] = (char)(cur + 1); /* cur < last <= 255 */
                rocksdb_iter_seek(ri, probe->p, p + 1);
                b = iterByteAt(ri, probe->p, p);
            }
            if (b <= cur) return C_ERR; /* hi has the prefix: impossible */
            cur = b;
            child[n++] = cur;
        }
        int c = child[stRandom64() % (uint64_t)n];
        *weight *= n;
        if (c < 0) return iterBufSet(hi, lo->p, lo->len); /* the prefix itself */
        if (c != child[0]) {
            probe->p[p] = (char)c;
            rocksdb_iter_seek(ri, probe->p, p + 1);
            if (iterBufSetKey(lo, ri) != C_OK) return C_ERR;
        }
        if (c != last) {
            /* The last key below prefix + (c + 1). */
            probe->p[p] = (char)(c + 1);
            rocksdb_iter_seek_for_prev(ri, probe->p, p + 1);
            if (iterByteAt(ri, probe->p, p) == c + 1) rocksdb_iter_prev(ri);
            if (iterBufSetKey(hi, ri) != C_OK) return C_ERR;
        }
    }
    return C_OK;
}

/* A uniform double in [0, 1) from 53 random bits. */
static double iterRandomUnit(void) {
    return (double)(stRandom64() >> 11) * (1.0 / 9007199254740992.0);
}

/* Leaves a random key of the iterator's range (db prefix included) in *out,
 * by rejection sampling (see above).  C_OK / C_ERR. */
static int iterRandomSample(stEngine *st, int pdb, rocksdb_iterator_t *ri, iterBuf *out) {
    iterBuf first = {0}, last = {0}, lo = {0}, hi = {0}, probe = {0};
    int rc = C_ERR;
    uint64_t bits = atomic_load_explicit(&st->random_wmax[pdb], memory_order_relaxed);
    double wmax, total = 0, seen = 0;
    memcpy(&wmax, &bits, sizeof(wmax));
    rocksdb_iter_seek_to_last(ri);
    if (iterBufSetKey(&last, ri) != C_OK) goto done;
    rocksdb_iter_seek_to_first(ri);
    if (iterBufSetKey(&first, ri) != C_OK) goto done;
    int accepted = 0;
    for (int i = 0; i < ITER_RANDOM_MAX_DESCENTS && !accepted; i++) {
        double w;
        if (iterBufSet(&lo, first.p, first.len) != C_OK ||
            iterBufSet(&hi, last.p, last.len) != C_OK ||
            iterRandomDescend(ri, &lo, &hi, &probe, &w) != C_OK)
            goto done;
        if (w > seen) seen = w;
        if (w >= wmax) {
            wmax = w; /* W was too low: this key is taken at once */
            accepted = 1;
        } else {
            accepted = iterRandomUnit() * wmax < w;
        }
        /* The fallback: one descent in proportion to w (a weighted
         * reservoir of one). */
        total += w;
        if (accepted || i == 0 || iterRandomUnit() * total < w) {
            if (iterBufSet(out, lo.p, lo.len) != C_OK) goto done;
        }
    }
    if (!accepted) wmax = wmax / 2 > seen ? wmax / 2 : seen;
    memcpy(&bits, &wmax, sizeof(bits));
    atomic_store_explicit(&st->random_wmax[pdb], bits, memory_order_relaxed);
    rc = C_OK;
done:
    free(first.p);
    free(last.p);
    free(lo.p);
    free(hi.p);
    free(probe.p);
    return rc;
}

/* ---- Public API: random key -------------------------------------------------- */

char *stRandomKey(stEngine *st, int db, size_t *klen) {
    int pdb = stPhysDb(st, db);
    if (pdb < 0) return NULL;
    uint64_t count = stKeyCount(st, db);
    stIter *it = iterOpen(st, pdb, NULL, 0, 1);
    iterBuf pick = {0};
    char *out = NULL;
    if (!it) return NULL;
    rocksdb_iterator_t *ri = it->it;
    if (!rocksdb_iter_valid(ri)) goto done; /* empty */

    if (count <= ITER_RANDOM_EXACT_MAX) {
        /* Small db: walk to a uniformly random index, exactly. */
        uint64_t steps = count ? stRandom64() % count : 0;
        for (uint64_t i = 0; i < steps && rocksdb_iter_valid(ri); i++) rocksdb_iter_next(ri);
        if (!rocksdb_iter_valid(ri)) rocksdb_iter_seek_to_first(ri);
        if (iterBufSetKey(&pick, ri) != C_OK) goto fail;
    } else if (iterRandomSample(st, pdb, ri, &pick) != C_OK) {
        rocksdb_iter_seek_to_first(ri);
        if (iterBufSetKey(&pick, ri) != C_OK) goto fail;
    }
    size_t n = pick.len - ENC_DB_PREFIX_BYTES;
    out = malloc(n + 1);
    if (!out) goto done;
    memcpy(out, pick.p + ENC_DB_PREFIX_BYTES, n);
    out[n] = '\0';
    *klen = n;
    goto done;
fail:
    iterCheck(ri);
done:
    free(pick.p);
    stIterFree(it);
    return out;
}

/* ---- Public API: expire index scan --------------------------------------------- */

size_t stExpireScan(stEngine *st, uint64_t now_ms, size_t max,
                    int (*cb)(void *ud, int db, const char *key, size_t klen,
                              uint64_t expire_ms),
                    void *ud) {
    char lower[8], upper[8];
    size_t visited = 0;
    int stopped = 0;
    uint64_t last_exp = 0;

    pthread_mutex_lock(&st->expire_scan_mu);
    pthread_mutex_lock(&st->commit_mu);
    uint64_t from = st->expire_cursor_ms;
    if (from > now_ms || ++st->expire_passes >= ITER_EXPIRE_RESTART_PASSES) {
        from = 0; /* invariant 3 */
        st->expire_passes = 0;
    }
    st->expire_low_ms = UINT64_MAX;
    pthread_mutex_unlock(&st->commit_mu);

    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    /* The lower bound lets RocksDB seek straight past the tombstones of the
     * entries earlier passes removed (invariant 2). */
    encPutU64(lower, from);
    rocksdb_readoptions_set_iterate_lower_bound(ro, lower, sizeof(lower));
    /* Entries with expire_ms <= now_ms sort before u64 BE (now_ms + 1). */
    if (now_ms != UINT64_MAX) {
        encPutU64(upper, now_ms + 1);
        rocksdb_readoptions_set_iterate_upper_bound(ro, upper, sizeof(upper));
    }
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, ro, st->cf[ST_CF_EXPIRE]);
    for (rocksdb_iter_seek(it, lower, sizeof(lower)); rocksdb_iter_valid(it) && visited < max;
         rocksdb_iter_next(it)) {
        size_t rl, klen;
        const char *rk = rocksdb_iter_key(it, &rl), *key;
        uint64_t exp;
        uint16_t pdb;
        if (encExpireKeyDecode(rk, rl, &exp, &pdb, &key, &klen) != 0) continue;
        visited++;
        last_exp = exp;
        /* Entries of a physical db no logical db maps to (the `databases`
         * setting shrank) are unreachable: skip them. */
        int db = pdb < st->npdb ? atomic_load(&st->p2l[pdb]) : -1;
        if (db < 0) continue;
        if (cb(ud, db, key, klen, exp)) {
            stopped = 1;
            break;
        }
    }
    char *rerr = NULL;
    rocksdb_iter_get_error(it, &rerr);
    uint64_t next;
    if (rerr) {
        stLogError("scanning the expire index", rerr);
        rocksdb_free(rerr);
        next = from;
    } else if (stopped || visited >= max) {
        next = visited ? last_exp : from; /* entries sharing this ms may be left */
    } else {
        next = now_ms == UINT64_MAX ? now_ms : now_ms + 1; /* drained */
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);

    pthread_mutex_lock(&st->commit_mu);
    /* Invariant 1: what was inserted below `next` since the scan started. */
    st->expire_cursor_ms = next < st->expire_low_ms ? next : st->expire_low_ms;
    if (next > st->expire_done_ms) st->expire_done_ms = next;
    pthread_mutex_unlock(&st->commit_mu);
    pthread_mutex_unlock(&st->expire_scan_mu);
    return visited;
}

/* iter.c - ordered reads over RocksDB: stIter (the keys of one database in
 * byte order, over the implicit snapshot every RocksDB iterator pins at
 * creation), stRandomKey and stExpireScan (due entries of the expire index).
 *
 * RocksDB does not copy iterate bounds: each iterator owns its bound buffers
 * and its read options and frees them after the iterator itself.
 */
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

#define ITER_RANDOM_EXACT_MAX 64  /* up to this many keys RANDOMKEY is exact */
#define ITER_RANDOM_MAX_DEPTH 64  /* trie levels RANDOMKEY descends at most */

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
    return stObjNew(&m, val, vlen);
}

void stIterFree(stIter *it) {
    if (!it) return;
    rocksdb_iter_destroy(it->it); /* before the options and bounds it uses */
    rocksdb_readoptions_destroy(it->ro);
    free(it);
}

/* ---- Public API: random key -------------------------------------------------- */

/* A copy of the iterator's current key in a growable buffer.  C_OK / C_ERR. */
static int iterCopyKey(rocksdb_iterator_t *ri, char **buf, size_t *cap, size_t *len) {
    size_t n;
    const char *k = rocksdb_iter_key(ri, &n);
    if (n > *cap) {
        char *nb = realloc(*buf, n);
        if (!nb) return C_ERR;
        *buf = nb;
        *cap = n;
    }
    memcpy(*buf, k, n);
    *len = n;
    return C_OK;
}

/* Walks down the key trie from the root: at the first byte where the
 * interval's first and last keys differ, picks a byte value uniformly between
 * theirs and narrows the interval to the keys with that prefix (two seeks),
 * until one key is left.  For keys like "user:0000".."user:9999" this is
 * close to uniform; like Redis's RANDOMKEY it is not exactly uniform in
 * general.  On return the iterator is on the chosen key.  C_OK / C_ERR. */
static int iterRandomDescend(rocksdb_iterator_t *ri) {
    char *lo = NULL, *hi = NULL, *probe = NULL;
    size_t locap = 0, hicap = 0, lolen, hilen;
    int rc = C_ERR;
    rocksdb_iter_seek_to_last(ri);
    if (!rocksdb_iter_valid(ri) || iterCopyKey(ri, &hi, &hicap, &hilen) != C_OK) goto done;
    rocksdb_iter_seek_to_first(ri);
    if (!rocksdb_iter_valid(ri) || iterCopyKey(ri, &lo, &locap, &lolen) != C_OK) goto done;
    for (int depth = 0; depth < ITER_RANDOM_MAX_DEPTH; depth++) {
        if (lolen == hilen && memcmp(lo, hi, lolen) == 0) break; /* one key */
        size_t p = 0;
        while (p < lolen && p < hilen && lo[p] == hi[p]) p++;
        /* lo < hi, so hi has a byte at p; lo may end at p (it is a prefix of
         * every key in the interval): that is choice -1. */
        int lob = p < lolen ? (unsigned char)lo[p] : -1;
        int hib = (unsigned char)hi[p];
        int b = lob + (int)(stRandom64() % (uint64_t)(hib - lob + 1));
        if (b < 0) break; /* lo itself (the shared prefix) */
        char *np = realloc(probe, p + 1);
        if (!np) goto done;
        probe = np;
        memcpy(probe, hi, p);
        probe[p] = (char)b;
        rocksdb_iter_seek(ri, probe, p + 1);
        if (!rocksdb_iter_valid(ri)) goto done; /* impossible: hi >= probe */
        size_t kl;
        const char *k = rocksdb_iter_key(ri, &kl);
        if (kl <= p || memcmp(k, probe, p + 1) != 0) {
            rc = C_OK; /* no key has this byte here: take the next key */
            goto done;
        }
        if (iterCopyKey(ri, &lo, &locap, &lolen) != C_OK) goto done;
        if (b < hib) {
            /* The last key below prefix + (b + 1). */
            probe[p] = (char)(b + 1);
            rocksdb_iter_seek_for_prev(ri, probe, p + 1);
            if (!rocksdb_iter_valid(ri)) goto done; /* impossible: lo < probe */
            k = rocksdb_iter_key(ri, &kl);
            if (kl == p + 1 && memcmp(k, probe, p + 1) == 0) rocksdb_iter_prev(ri);
            if (!rocksdb_iter_valid(ri) || iterCopyKey(ri, &hi, &hicap, &hilen) != C_OK)
                goto done;
        } /* else b == hib: hi already has this prefix */
        rocksdb_iter_seek(ri, lo, lolen);
    }
    rocksdb_iter_seek(ri, lo, lolen);
    rc = rocksdb_iter_valid(ri) ? C_OK : C_ERR;
done:
    free(lo);
    free(hi);
    free(probe);
    return rc;
}

char *stRandomKey(stEngine *st, int db, size_t *klen) {
    int pdb = stPhysDb(st, db);
    if (pdb < 0) return NULL;
    uint64_t count = stKeyCount(st, db);
    stIter *it = iterOpen(st, pdb, NULL, 0, 1);
    char *out = NULL;
    if (!it) return NULL;
    rocksdb_iterator_t *ri = it->it;
    if (!rocksdb_iter_valid(ri)) goto done; /* empty */

    if (count <= ITER_RANDOM_EXACT_MAX) {
        /* Small db: walk to a uniformly random index, exactly. */
        uint64_t steps = count ? stRandom64() % count : 0;
        for (uint64_t i = 0; i < steps && rocksdb_iter_valid(ri); i++) rocksdb_iter_next(ri);
        if (!rocksdb_iter_valid(ri)) rocksdb_iter_seek_to_first(ri);
    } else if (iterRandomDescend(ri) != C_OK) {
        rocksdb_iter_seek_to_first(ri);
    }
    if (!rocksdb_iter_valid(ri)) {
        iterCheck(ri);
        goto done;
    }
    size_t n;
    const char *k = stIterKey(it, &n);
    out = malloc(n + 1);
    if (!out) goto done;
    memcpy(out, k, n);
    out[n] = '\0';
    *klen = n;
done:
    stIterFree(it);
    return out;
}

/* ---- Public API: expire index scan --------------------------------------------- */

size_t stExpireScan(stEngine *st, uint64_t now_ms, size_t max,
                    int (*cb)(void *ud, int db, const char *key, size_t klen,
                              uint64_t expire_ms),
                    void *ud) {
    char upper[8];
    size_t visited = 0;
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    /* Entries with expire_ms <= now_ms sort before u64 BE (now_ms + 1). */
    if (now_ms != UINT64_MAX) {
        encPutU64(upper, now_ms + 1);
        rocksdb_readoptions_set_iterate_upper_bound(ro, upper, sizeof(upper));
    }
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, ro, st->cf[ST_CF_EXPIRE]);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it) && visited < max;
         rocksdb_iter_next(it)) {
        size_t rl, klen;
        const char *rk = rocksdb_iter_key(it, &rl), *key;
        uint64_t exp;
        uint16_t pdb;
        if (encExpireKeyDecode(rk, rl, &exp, &pdb, &key, &klen) != 0) continue;
        visited++;
        /* Entries of a physical db no logical db maps to (the `databases`
         * setting shrank) are unreachable: skip them. */
        int db = pdb < st->npdb ? atomic_load(&st->p2l[pdb]) : -1;
        if (db < 0) continue;
        if (cb(ud, db, key, klen, exp)) break;
    }
    iterCheck(it);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return visited;
}

/* coll.c - collections (hashes, sets, sorted sets, lists) on the meta/sub/
 * zscore layout: the handle commands work through (storage.h), element
 * reads that see the batch's queued writes, the zset score index, list
 * positions and the ordered iterators.
 *
 * Records of one collection (encoding.h):
 *
 *   meta    pdb | key                     -> type, count, incarnation, expiry,
 *                                            info: element bytes, list ends
 *   sub     pdb | klen | key | inc | elem -> flags | hlc | origin | payload
 *   zscore  pdb | klen | key | inc | score | member -> (empty)
 *
 * Invariants:
 *  1. A collection that exists has count >= 1 and exactly `count` sub
 *     records under its incarnation; a zset has one zscore record per member,
 *     for its current score.  Handles keep these while they write, and
 *     stCollClose() writes the count (or deletes the key at 0) in the same
 *     batch as the elements.
 *  2. A new collection gets a fresh incarnation (an HLC value: unique and
 *     above every incarnation this node has seen), so records of a deleted
 *     incarnation are never read again, whatever garbage is left on disk.
 *  3. A list's info holds the positions of its first and last elements;
 *     pushes need no read of the elements.
 *  4. Reads look at the batch's overlay first (overlay.c), then RocksDB: a
 *     handle sees every write queued in its batch, its own included.
 *  6. A sorted set's info may hold end hints (the head/tail fields): no
 *     live index entry is below the low hint or above the high one.  Pops
 *     leave tombstones at an end of the index, and a seek from that end
 *     would step over all of them (ZPOPMIN went quadratic: 100,000 pops of
 *     a 100,000-member set did not finish in 10 minutes); iterators from an
 *     end start at its hint instead.  A hint moves inwards only when the
 *     entry an end iterator saw first is deleted (nothing was below it),
 *     and outwards when an entry beyond it is added.
 *  5. A list end that stCollDel() removed is found again lazily
 *     (collListEnds(), before the next push, pop, insert or close), seeking
 *     from the removed position: a command deleting many elements from one
 *     end (LTRIM, LREM, LPOP with a count) costs one iterator, not one per
 *     element (each would collect the whole overlay).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

struct stColl {
    stEngine *st;
    stBatch *b;
    int write, db, pdb, type;
    char *key;
    size_t klen;
    int existed;
    stMeta old; /* the key's meta when opened (existed) */
    uint64_t expire_ms, incarnation, count, bytes;
    int dirty;  /* an element changed: the meta must be rewritten */
    uint64_t dels; /* elements this handle deleted (gc.c counts tombstones) */
    int fresh;  /* a new incarnation: RocksDB holds none of its records */
    uint64_t hlc, origin; /* stamp of this handle's element writes; 0 = not yet */
    char *head, *tail;    /* lists: end positions (heap), NULL when empty */
    size_t hlen, tlen;
    char *zfirst[2];      /* zsets: first index entry (score | member) an
                           * iterator from the low / high end saw (6) */
    size_t zfirstlen[2];
    int hstale, tstale;   /* lists: that end was deleted; the field holds the
                           * deleted position, where the search resumes (5) */
    char *prefix; /* sub key prefix of this incarnation */
    size_t plen;
    ccEntry *cache; /* the collection's records cached whole (ccache.c), or NULL */
    char *kbuf; /* scratch for record keys */
    size_t kcap;
};

struct stCollIter {
    stColl *c;
    int cf, reverse;
    rocksdb_iterator_t *it; /* itcIter(h) */
    itcHandle *h;
    char *lower, *upper;
    size_t lolen, uplen;
    uint32_t *ov; /* sorted overlay entries in range */
    size_t ovn;
    long ovi;     /* next overlay candidate */
    int src;      /* current entry from: 0 none, 1 RocksDB (or ce), 2 overlay */
    ccEntry *ce;  /* cf sub of a cached collection: the records, instead of it->it */
    long ci;      /* position in ce */
    const char *k, *v;
    size_t kn, vn;
    char sbuf[ENC_SCORE_BYTES];
};

/* ---- Helpers: keys and records ------------------------------------------- */

static void *collAlloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "strata storage: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

static char *collDup(const char *p, size_t n) {
    char *d = collAlloc(n + 1);
    if (n) memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/* prefix | parts...: the record key in c->kbuf (valid until the next call). */
static const char *collKey(stColl *c, const char *a, size_t alen, const char *b2, size_t blen,
                           size_t *klen) {
    size_t need = c->plen + alen + blen;
    if (need > c->kcap) {
        free(c->kbuf);
        c->kcap = need * 2;
        c->kbuf = collAlloc(c->kcap);
    }
    memcpy(c->kbuf, c->prefix, c->plen);
    if (alen) memcpy(c->kbuf + c->plen, a, alen);
    if (blen) memcpy(c->kbuf + c->plen + alen, b2, blen);
    *klen = need;
    return c->kbuf;
}

/* Reads a record through the overlay, then RocksDB.  1 with *val (heap,
 * caller frees) holding the value, 0 when absent. */
static int collRead(stColl *c, int cf, const char *key, size_t klen, char **val, size_t *vlen) {
    const char *ov;
    size_t ovlen;
    int r = ovGet(stBatchOverlay(c->b), cf, key, klen, &ov, &ovlen);
    if (r < 0) return 0;
    if (r > 0) {
        *val = collDup(ov, ovlen);
        *vlen = ovlen;
        return 1;
    }
    if (c->fresh) return 0; /* a new incarnation lives in the overlay only */
    if (c->cache && cf == ST_CF_SUB) {
        size_t i = ccFind(c->cache, key, klen);
        const ccRec *r = &c->cache->recs[i];
        if (i == c->cache->n || r->kn != klen || memcmp(r->k, key, klen) != 0) return 0;
        *val = collDup(r->v, r->vn);
        *vlen = r->vn;
        return 1;
    }
    char *err = NULL;
    rocksdb_pinnableslice_t *ps =
        rocksdb_get_pinned_cf(c->st->db, c->st->ropts, c->st->cf[cf], key, klen, &err);
    if (err) {
        stLogError("reading an element", err);
        rocksdb_free(err);
        return 0;
    }
    if (!ps) return 0;
    size_t n;
    const char *v = rocksdb_pinnableslice_value(ps, &n);
    *val = collDup(v, n);
    *vlen = n;
    rocksdb_pinnableslice_destroy(ps);
    return 1;
}

/* The element's sub record: 1 with *payload / *plen (heap block in *blk,
 * caller frees), 0 when absent or unreadable. */
static int collReadElem(stColl *c, const char *elem, size_t elen, char **blk,
                        const char **payload, size_t *plen) {
    size_t klen, vlen;
    const char *k = collKey(c, elem, elen, NULL, 0, &klen);
    if (!collRead(c, ST_CF_SUB, k, klen, blk, &vlen)) return 0;
    uint8_t flags;
    if (encElemDecode(*blk, vlen, &flags, NULL, NULL, payload, plen) != 0 ||
        (flags & ENC_ELEM_TOMBSTONE)) {
        free(*blk);
        *blk = NULL;
        return 0;
    }
    return 1;
}

static void collStamp(stColl *c) {
    if (c->hlc) return;
    c->hlc = hlcNow(&c->st->hlc, stWallMs());
    c->origin = c->st->node_id;
}

static void collWriteElem(stColl *c, const char *elem, size_t elen, const char *payload,
                          size_t plen) {
    char hdr[ENC_ELEM_HDR_BYTES];
    size_t klen;
    collStamp(c);
    encElemHeader(hdr, 0, c->hlc, c->origin);
    const char *k = collKey(c, elem, elen, NULL, 0, &klen);
    stBatchElemWrite(c->b, ST_CF_SUB, k, klen, hdr, sizeof(hdr), payload, plen, 0);
    c->dirty = 1;
}

static void collDelElem(stColl *c, const char *elem, size_t elen) {
    size_t klen;
    const char *k = collKey(c, elem, elen, NULL, 0, &klen);
    stBatchElemWrite(c->b, ST_CF_SUB, k, klen, NULL, 0, NULL, 0, 1);
    c->dirty = 1;
}

static void collScoreIndex(stColl *c, double score, const char *m, size_t mlen, int del) {
    char sc[ENC_SCORE_BYTES];
    size_t klen;
    encScore(sc, score);
    const char *k = collKey(c, sc, sizeof(sc), m, mlen, &klen);
    stBatchElemWrite(c->b, ST_CF_ZSCORE, k, klen, NULL, 0, NULL, 0, del);
}

/* Bytes an element counts for maxstorage. */
static uint64_t collElemBytes(const stColl *c, size_t elen, size_t plen) {
    switch (c->type) {
    case ST_TYPE_LIST: return plen;
    case ST_TYPE_SET: return elen;
    default: return elen + plen;
    }
}

static void rawScore(char dst[8], double d) {
    uint64_t bits;
    memcpy(&bits, &d, 8);
    encPutU64(dst, bits);
}

static double rawScoreDecode(const char *src) {
    uint64_t bits = encGetU64(src);
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

static void collSetEnd(char **end, size_t *len, const char *pos, size_t plen) {
    free(*end);
    *end = pos ? collDup(pos, plen) : NULL;
    *len = pos ? plen : 0;
}

static void collListEnds(stColl *c);
static void collZsetHintDeleted(stColl *c, double score, const char *m, size_t ml);

/* ---- Handles --------------------------------------------------------------- */

/* Small collections are read whole, once, and served from the cache: when
 * the handle's batch has queued no element write (the cache holds
 * committed records only, ccache.c).  Read handles build a missing entry;
 * write handles only use one (they are about to change the collection). */
static void collAttachCache(stColl *c, const stObj *o) {
    if (!o || !c->count || o->meta.count > CCACHE_MAX_ELEMENTS ||
        o->meta.size > CCACHE_MAX_BYTES || stBatchOverlay(c->b) || !ccacheBudget(c->st->cc))
        return;
    c->cache = ccacheGet(c->st->cc, (uint16_t)c->pdb, c->key, c->klen, c->incarnation, o->meta.hlc);
    if (c->cache || c->write) return;
    char *lower = collDup(c->prefix, c->plen), *upper = collAlloc(c->plen);
    encSubKeyPrefix(upper, (uint16_t)c->pdb, c->key, c->klen, c->incarnation + 1);
    c->cache = ccacheBuild(c->st->cc, c->st, (uint16_t)c->pdb, c->key, c->klen, c->incarnation,
                           o->meta.hlc, lower, upper, c->plen, CCACHE_MAX_ELEMENTS);
    free(lower);
    free(upper);
}


stColl *stCollOpen(stEngine *st, stBatch *b, int db, const char *key, size_t klen,
                   const stObj *o, int type, int write) {
    int pdb = stPhysDb(st, db);
    if (pdb < 0) return NULL;
    stColl *c = calloc(1, sizeof(*c));
    if (!c) abort();
    c->st = st;
    c->b = b;
    c->write = write;
    c->db = db;
    c->pdb = pdb;
    c->type = type;
    c->key = collDup(key, klen);
    c->klen = klen;
    if (o) {
        c->existed = 1;
        c->old = o->meta;
        c->expire_ms = o->meta.expire_ms;
        c->incarnation = o->meta.incarnation;
        c->count = o->meta.count;
        const char *h, *t;
        size_t hl, tl;
        if (encCollInfoDecode(o->val, o->vlen, &c->bytes, &h, &hl, &t, &tl) == 0 && h) {
            /* A sorted set's empty hint means none (6). */
            if (hl || type == ST_TYPE_LIST) collSetEnd(&c->head, &c->hlen, h, hl);
            if (tl || type == ST_TYPE_LIST) collSetEnd(&c->tail, &c->tlen, t, tl);
        }
    } else if (write) {
        /* Invariant 2. */
        c->incarnation = hlcNow(&st->hlc, stWallMs());
        c->fresh = 1;
    }
    c->plen = ENC_SUB_PREFIX_LEN(klen);
    c->prefix = collAlloc(c->plen);
    encSubKeyPrefix(c->prefix, (uint16_t)pdb, key, klen, c->incarnation);
    collAttachCache(c, o);
    return c;
}

uint64_t stCollClose(stColl *c) {
    if (!c) return 0;
    uint64_t count = c->count;
    /* Lists seek to exact positions and never step over their tombstones. */
    if (c->write && c->dels && count && c->type != ST_TYPE_LIST)
        gcNoteDeletes(c->st, c->pdb, c->key, c->klen, c->incarnation, c->dels, count);
    if (c->type == ST_TYPE_LIST) collListEnds(c);
    if (c->write && c->dirty) {
        if (count == 0) {
            if (c->existed) stBatchDel(c->b, c->db, c->key, c->klen, &c->old);
        } else {
            char *info = collAlloc(3 * ENC_VARINT_MAX_BYTES + c->hlen + c->tlen);
            /* Lists: their ends; sorted sets: their end hints (6). */
            int ends = c->type == ST_TYPE_LIST || (c->type == ST_TYPE_ZSET && (c->head || c->tail));
            size_t ilen = encCollInfo(info, c->bytes, ends ? (c->head ? c->head : "") : NULL,
                                      c->hlen, c->tail ? c->tail : "", c->tlen);
            stMeta m = {0};
            m.type = (uint8_t)c->type;
            m.expire_ms = c->expire_ms;
            m.incarnation = c->incarnation;
            m.count = count;
            stObj *o = stObjNew(&m, info, ilen);
            o->meta.size = c->bytes;
            stBatchPut(c->b, c->db, c->key, c->klen, c->existed ? &c->old : NULL, o);
            stObjRelease(o);
            free(info);
        }
    }
    ccRelease(c->cache);
    free(c->key);
    free(c->head);
    free(c->tail);
    free(c->zfirst[0]);
    free(c->zfirst[1]);
    free(c->prefix);
    free(c->kbuf);
    free(c);
    return count;
}

uint64_t stCollCount(const stColl *c) { return c ? c->count : 0; }

int stCollWrote(const stColl *c) { return c && c->dirty; }

void stCollSetExpire(stColl *c, uint64_t expire_ms) {
    c->expire_ms = expire_ms;
    c->dirty = 1;
}

/* ---- Elements -------------------------------------------------------------- */

int stCollGet(stColl *c, const char *elem, size_t elen, char **val, size_t *vlen) {
    if (!c->count) return 0;
    char *blk;
    const char *p;
    size_t n;
    if (!collReadElem(c, elem, elen, &blk, &p, &n)) return 0;
    if (val) {
        *val = collDup(p, n);
        if (vlen) *vlen = n;
    }
    free(blk);
    return 1;
}

/* Sets an element.  The same value again is written only with merge writes
 * on: a rewrite costs a memtable insert (a skiplist descent, 1.5-3.5 us in a
 * big memtable) for a record equal to the one it shadows, and SADD -P 16 of
 * redis-benchmark's members, nine in ten already there, spent a quarter of
 * its time on such inserts.  `touch_same`: an unchanged element still marks
 * the collection written (its meta record gets a new HLC, which WATCH sees). */
static int collPut(stColl *c, const char *elem, size_t elen, const char *val, size_t vlen,
                   int touch_same) {
    char *blk = NULL;
    const char *p;
    size_t n;
    int existed = c->count && collReadElem(c, elem, elen, &blk, &p, &n);
    if (existed) {
        int same = n == vlen && (!vlen || memcmp(p, val, vlen) == 0);
        free(blk);
        if (same && !atomic_load_explicit(&c->st->merge_writes, memory_order_relaxed)) {
            if (touch_same) c->dirty = 1;
            return 0;
        }
        c->bytes -= collElemBytes(c, elen, n);
    } else {
        c->count++;
    }
    c->bytes += collElemBytes(c, elen, vlen);
    collWriteElem(c, elem, elen, val, vlen);
    return !existed;
}

int stCollPut(stColl *c, const char *elem, size_t elen, const char *val, size_t vlen) {
    return collPut(c, elem, elen, val, vlen, 1);
}

int stCollAdd(stColl *c, const char *elem, size_t elen) { return collPut(c, elem, elen, "", 0, 0); }

/* Moves a list end off the deleted position `pos`: the next live element
 * inwards becomes the end. */
static void collListFixEnd(stColl *c, int tail) {
    const char *pos = tail ? c->tail : c->head;
    size_t plen = tail ? c->tlen : c->hlen;
    stCollIter *it = stCollIterNew(c, pos, plen, ST_ITER_EXCLUSIVE | (tail ? ST_ITER_REVERSE : 0));
    const char *np = NULL;
    size_t nl = 0;
    if (stCollIterValid(it)) np = stCollIterElem(it, &nl);
    if (tail) collSetEnd(&c->tail, &c->tlen, np, nl);
    else collSetEnd(&c->head, &c->hlen, np, nl);
    stCollIterFree(it);
}

/* Invariant 5: finds the ends that deletions left stale. */
static void collListEnds(stColl *c) {
    if (c->hstale && c->count) collListFixEnd(c, 0);
    if (c->tstale && c->count) collListFixEnd(c, 1);
    c->hstale = c->tstale = 0;
}

/* Deletes an element known to exist with payload length n; zset: with its
 * score index entry unless the record was unreadable (no score). */
static void collDelKnown(stColl *c, const char *elem, size_t elen, size_t n, int has_score,
                         double score) {
    if (c->type == ST_TYPE_ZSET && has_score) {
        collScoreIndex(c, score, elem, elen, 1);
        collZsetHintDeleted(c, score, elem, elen);
    }
    c->bytes -= collElemBytes(c, elen, n);
    c->count--;
    c->dels++;
    collDelElem(c, elem, elen);
    if (c->type == ST_TYPE_LIST) {
        if (!c->count) {
            collSetEnd(&c->head, &c->hlen, NULL, 0);
            collSetEnd(&c->tail, &c->tlen, NULL, 0);
            c->hstale = c->tstale = 0;
        } else {
            /* Invariant 5: a stale end already holds an earlier deleted
             * position to resume from. */
            if (!c->hstale && c->hlen == elen && memcmp(c->head, elem, elen) == 0) c->hstale = 1;
            if (!c->tstale && c->tlen == elen && memcmp(c->tail, elem, elen) == 0) c->tstale = 1;
        }
    }
}

int stCollDel(stColl *c, const char *elem, size_t elen) {
    char *blk;
    const char *p;
    size_t n;
    if (!c->count || !collReadElem(c, elem, elen, &blk, &p, &n)) return 0;
    int zs = c->type == ST_TYPE_ZSET && n == 8;
    collDelKnown(c, elem, elen, n, zs, zs ? rawScoreDecode(p) : 0);
    free(blk);
    return 1;
}

void stCollDelSeen(stColl *c, const char *elem, size_t elen, size_t plen, double score) {
    int zs = c->type == ST_TYPE_ZSET;
    collDelKnown(c, elem, elen, zs ? 8 : plen, zs, score);
}

/* ---- Sorted sets ----------------------------------------------------------- */

/* The index suffix (score | member) of a member, in a heap block. */
static char *collZsetSuffix(double score, const char *m, size_t ml, size_t *len) {
    char *s = collAlloc(ENC_SCORE_BYTES + ml);
    encScore(s, score);
    if (ml) memcpy(s + ENC_SCORE_BYTES, m, ml);
    *len = ENC_SCORE_BYTES + ml;
    return s;
}

static int collBytesCmp(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* Invariant 6, deletion: the entry an end iterator saw first becomes that
 * end's hint. */
static void collZsetHintDeleted(stColl *c, double score, const char *m, size_t ml) {
    size_t sl;
    char *suf = NULL;
    for (int end = 0; end < 2; end++) {
        if (!c->zfirst[end]) continue;
        if (!suf) suf = collZsetSuffix(score, m, ml, &sl);
        if (collBytesCmp(suf, sl, c->zfirst[end], c->zfirstlen[end]) != 0) continue;
        if (end == 0) collSetEnd(&c->head, &c->hlen, suf, sl);
        else collSetEnd(&c->tail, &c->tlen, suf, sl);
        free(c->zfirst[end]);
        c->zfirst[end] = NULL;
    }
    free(suf);
}

/* Invariant 6, insertion: an entry beyond a hint moves the hint out, and
 * one beyond what an end iterator saw first makes that sighting useless. */
static void collZsetHintAdded(stColl *c, double score, const char *m, size_t ml) {
    size_t sl;
    char *suf = collZsetSuffix(score, m, ml, &sl);
    if (c->head && collBytesCmp(suf, sl, c->head, c->hlen) < 0) collSetEnd(&c->head, &c->hlen, suf, sl);
    if (c->tail && collBytesCmp(suf, sl, c->tail, c->tlen) > 0) collSetEnd(&c->tail, &c->tlen, suf, sl);
    if (c->zfirst[0] && collBytesCmp(suf, sl, c->zfirst[0], c->zfirstlen[0]) < 0) {
        free(c->zfirst[0]);
        c->zfirst[0] = NULL;
    }
    if (c->zfirst[1] && collBytesCmp(suf, sl, c->zfirst[1], c->zfirstlen[1]) > 0) {
        free(c->zfirst[1]);
        c->zfirst[1] = NULL;
    }
    free(suf);
}

int stZsetScore(stColl *c, const char *member, size_t mlen, double *score) {
    char *blk;
    const char *p;
    size_t n;
    if (!c->count || !collReadElem(c, member, mlen, &blk, &p, &n)) return 0;
    int ok = n == 8;
    if (ok) *score = rawScoreDecode(p);
    free(blk);
    return ok;
}

int stZsetAdd(stColl *c, const char *member, size_t mlen, double score, double *old) {
    double prev = 0;
    int existed = stZsetScore(c, member, mlen, &prev);
    if (existed && old) *old = prev;
    stZsetAddKnown(c, member, mlen, score, existed, prev);
    return !existed;
}

void stZsetAddKnown(stColl *c, const char *member, size_t mlen, double score, int existed,
                    double prev) {
    if (existed) {
        /* The index orders -0 as 0: only a different order needs a move. */
        char a[ENC_SCORE_BYTES], b2[ENC_SCORE_BYTES];
        encScore(a, prev);
        encScore(b2, score);
        if (memcmp(a, b2, sizeof(a)) != 0) {
            collScoreIndex(c, prev, member, mlen, 1);
            collScoreIndex(c, score, member, mlen, 0);
            collZsetHintAdded(c, score, member, mlen);
        }
    } else {
        c->count++;
        c->bytes += collElemBytes(c, mlen, 8);
        collScoreIndex(c, score, member, mlen, 0);
        collZsetHintAdded(c, score, member, mlen);
    }
    char raw[8];
    rawScore(raw, score);
    collWriteElem(c, member, mlen, raw, sizeof(raw));
}

/* ---- Lists ------------------------------------------------------------------ */

void stListPush(stColl *c, int tail, const char *val, size_t vlen) {
    char pos[ENC_LISTPOS_MIN_BYTES];
    size_t plen;
    collListEnds(c);
    collStamp(c);
    if (!c->count) plen = encListPos(pos, 0, c->origin);
    else if (tail) plen = encListPosBetween(pos, c->tail, c->tlen, NULL, 0, 0, c->origin);
    else plen = encListPosBetween(pos, NULL, 0, c->head, c->hlen, 0, c->origin);
    if (!plen) {
        /* 2^63 pushes at one end: restart the ordinals there.  Not reachable
         * in practice; refuse rather than corrupt the order. */
        fprintf(stderr, "strata storage: list position space exhausted\n");
        abort();
    }
    c->count++;
    c->bytes += vlen;
    collWriteElem(c, pos, plen, val, vlen);
    if (c->count == 1 || !tail) collSetEnd(&c->head, &c->hlen, pos, plen);
    if (c->count == 1 || tail) collSetEnd(&c->tail, &c->tlen, pos, plen);
}

/* One iterator reads the end element and finds the next one inwards: no
 * point reads (a queue pops at the rate of one seek per element). */
int stListPop(stColl *c, int tail, char **val, size_t *vlen) {
    if (!c->count) return 0;
    collListEnds(c);
    const char *pos = tail ? c->tail : c->head;
    size_t plen = tail ? c->tlen : c->hlen;
    stCollIter *it = stCollIterNew(c, pos, plen, tail ? ST_ITER_REVERSE : 0);
    size_t el = 0, pl = 0;
    const char *e = stCollIterValid(it) ? stCollIterElem(it, &el) : NULL;
    if (!e || el != plen || memcmp(e, pos, plen) != 0) {
        /* The recorded end is not where the iterator starts: the info is
         * stale (a bug or a damaged record); read it the slow way. */
        stCollIterFree(it);
        char *p = collDup(pos, plen);
        int ok = stCollGet(c, p, plen, val, vlen) && stCollDel(c, p, plen);
        free(p);
        return ok;
    }
    const char *payload = stCollIterVal(it, &pl);
    *val = collDup(payload, pl);
    *vlen = pl;
    char *p = collDup(pos, plen);
    stCollIterNext(it);
    size_t nl = 0;
    const char *np = stCollIterValid(it) ? stCollIterElem(it, &nl) : NULL;
    c->bytes -= collElemBytes(c, plen, pl);
    c->count--;
    c->dels++;
    collDelElem(c, p, plen);
    if (!c->count) {
        collSetEnd(&c->head, &c->hlen, NULL, 0);
        collSetEnd(&c->tail, &c->tlen, NULL, 0);
    } else if (tail) {
        collSetEnd(&c->tail, &c->tlen, np, nl);
    } else {
        collSetEnd(&c->head, &c->hlen, np, nl);
    }
    stCollIterFree(it);
    free(p);
    return 1;
}

/* No position fits next to the pivot (a fraction reached
 * ENC_LISTPOS_MAX_BYTES: about a thousand inserts into one gap in an
 * adversarial order, or 130,000+ in a repeated one): every element gets a
 * fresh position, ordinals counting up from above the tail's so that no new
 * position equals an old one still to be deleted, and val goes next to the
 * pivot.  O(elements), once in a long while: afterwards no fraction is left.
 * C_ERR (nothing written) only if the ordinals would overflow. */
static int collListRewrite(stColl *c, const char *pivot, size_t plen, int after,
                           const char *val, size_t vlen) {
    int64_t next;
    const char *f;
    size_t fl;
    uint64_t org;
    if (encListPosDecode(c->tail, c->tlen, &next, &f, &fl, &org) != 0 ||
        next > INT64_MAX - (int64_t)c->count - 2)
        return C_ERR;
    char *piv = collDup(pivot, plen), np[ENC_LISTPOS_MIN_BYTES];
    size_t n = 0;
    int placed = 0;
    stCollIter *it = stCollIterNew(c, NULL, 0, 0);
    for (; stCollIterValid(it); stCollIterNext(it)) {
        size_t el, vl;
        const char *e = stCollIterElem(it, &el), *v = stCollIterVal(it, &vl);
        int at = el == plen && memcmp(e, piv, plen) == 0;
        placed |= at;
        if (at && !after) {
            n = encListPos(np, ++next, c->origin);
            collWriteElem(c, np, n, val, vlen);
        }
        collDelElem(c, e, el);
        n = encListPos(np, ++next, c->origin);
        collWriteElem(c, np, n, v, vl);
        if (at && after) {
            n = encListPos(np, ++next, c->origin);
            collWriteElem(c, np, n, val, vlen);
        }
    }
    stCollIterFree(it);
    free(piv);
    if (!placed) { /* the pivot vanished (not the caller's contract): append */
        n = encListPos(np, ++next, c->origin);
        collWriteElem(c, np, n, val, vlen);
    }
    int64_t first = next - (int64_t)c->count; /* the count before val */
    n = encListPos(np, first, c->origin);
    collSetEnd(&c->head, &c->hlen, np, n);
    n = encListPos(np, next, c->origin);
    collSetEnd(&c->tail, &c->tlen, np, n);
    c->count++;
    c->bytes += vlen;
    return C_OK;
}

int stListInsert(stColl *c, const char *pos, size_t plen, int after, const char *val,
                 size_t vlen) {
    collListEnds(c);
    stCollIter *it = stCollIterNew(c, pos, plen, ST_ITER_EXCLUSIVE | (after ? 0 : ST_ITER_REVERSE));
    const char *nb = NULL;
    size_t nl = 0;
    if (stCollIterValid(it)) nb = stCollIterElem(it, &nl);
    char np[ENC_LISTPOS_MAX_BYTES];
    collStamp(c);
    size_t n = after ? encListPosBetween(np, pos, plen, nb, nl, 0, c->origin)
                     : encListPosBetween(np, nb, nl, pos, plen, 1, c->origin);
    stCollIterFree(it);
    if (!n) return collListRewrite(c, pos, plen, after, val, vlen);
    c->count++;
    c->bytes += vlen;
    collWriteElem(c, np, n, val, vlen);
    if (!nb && after) collSetEnd(&c->tail, &c->tlen, np, n);
    if (!nb && !after) collSetEnd(&c->head, &c->hlen, np, n);
    return C_OK;
}

/* ---- Iterators ------------------------------------------------------------- */

static int iterCmp(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static stCollIter *iterOpenCached(stCollIter *it, const char *seek, size_t slen, int flags);

/* The first of the n overlay entries idx[] (sorted) whose key is above seek
 * (after != 0) or at least seek.  A binary search: a group that pops 800
 * elements off one list walked all earlier pops' entries on every pop. */
static size_t ovSeekIndex(const overlay *ov, const uint32_t *idx, size_t n, const char *seek,
                          size_t slen, int after) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, kn, vn;
        const char *k, *v;
        int del;
        ovEntryAt(ov, idx[mid], &k, &kn, &v, &vn, &del);
        int cmp = iterCmp(k, kn, seek, slen);
        if (cmp < 0 || (cmp == 0 && after)) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Places the iterator's overlay cursor on the first entry it->ov holds at
 * or past seek in its direction (past it with excl); no seek: an end. */
static void iterOverlayStart(stCollIter *it, const overlay *ov, const char *seek, size_t slen,
                             int excl) {
    if (!it->reverse)
        it->ovi = seek ? (long)ovSeekIndex(ov, it->ov, it->ovn, seek, slen, excl) : 0;
    else
        it->ovi = (seek ? (long)ovSeekIndex(ov, it->ov, it->ovn, seek, slen, !excl)
                        : (long)it->ovn) - 1;
}

/* The committed side of an iterator: RocksDB's iterator, or the records of
 * a cached collection (ccache.c invariant 2: the same records). */
static int iterDbValid(const stCollIter *it) {
    if (it->ce) return it->ci >= 0 && (size_t)it->ci < it->ce->n;
    return it->it && rocksdb_iter_valid(it->it);
}

static const char *iterDbKey(const stCollIter *it, size_t *n) {
    if (it->ce) {
        *n = it->ce->recs[it->ci].kn;
        return it->ce->recs[it->ci].k;
    }
    return rocksdb_iter_key(it->it, n);
}

static const char *iterDbVal(const stCollIter *it, size_t *n) {
    if (it->ce) {
        *n = it->ce->recs[it->ci].vn;
        return it->ce->recs[it->ci].v;
    }
    return rocksdb_iter_value(it->it, n);
}

static void iterDbStep(stCollIter *it) {
    if (it->ce) it->ci += it->reverse ? -1 : 1;
    else if (it->reverse) rocksdb_iter_prev(it->it);
    else rocksdb_iter_next(it->it);
}

/* Picks the current entry from the RocksDB iterator and the overlay,
 * skipping RocksDB entries the overlay shadows and overlay deletes. */
static void iterSettle(stCollIter *it) {
    const overlay *ov = stBatchOverlay(it->c->b);
    int dir = it->reverse ? -1 : 1;
    for (;;) {
        const char *dk = NULL, *ok = NULL, *ovv;
        size_t dn = 0, on = 0, ovn;
        int del = 0;
        int dv = iterDbValid(it);
        int ovalid = it->ovi >= 0 && (size_t)it->ovi < it->ovn;
        if (dv) dk = iterDbKey(it, &dn);
        if (ovalid) ovEntryAt(ov, it->ov[it->ovi], &ok, &on, &ovv, &ovn, &del);
        if (!dv && !ovalid) {
            it->src = 0;
            return;
        }
        int cmp = !dv ? 1 : !ovalid ? -1 : iterCmp(dk, dn, ok, on) * dir;
        if (cmp < 0) {
            it->src = 1;
            it->k = dk;
            it->kn = dn;
            it->v = iterDbVal(it, &it->vn);
            return;
        }
        if (cmp == 0) iterDbStep(it); /* shadowed by the overlay */
        if (del) {
            it->ovi += dir;
            continue;
        }
        it->src = 2;
        it->k = ok;
        it->kn = on;
        it->v = ovv;
        it->vn = ovn;
        return;
    }
}

/* A reused iterator (itcache.c) left on exactly the seek key: seeking there
 * again, forward or backward, would land on the same entry, because the
 * data it reads has not changed.  Pops resume where the previous one
 * stopped, so this skips their seek through every level. */
static int iterAlreadyAt(rocksdb_iterator_t *ri, const char *seek, size_t slen) {
    if (!rocksdb_iter_valid(ri)) return 0;
    size_t kn;
    const char *k = rocksdb_iter_key(ri, &kn);
    return kn == slen && memcmp(k, seek, slen) == 0;
}

/* An iterator over cf records in [lower, upper), positioned at `seek`. */
static stCollIter *iterOpen(stColl *c, int cf, char *lower, size_t lolen, char *upper,
                            size_t uplen, const char *seek, size_t slen, int flags) {
    stCollIter *it = calloc(1, sizeof(*it));
    if (!it) abort();
    it->c = c;
    it->cf = cf;
    it->reverse = flags & ST_ITER_REVERSE;
    it->lower = lower;
    it->lolen = lolen;
    it->upper = upper;
    it->uplen = uplen;
    if (!c->count) return it; /* nothing to read (src stays 0) */
    if (c->cache && cf == ST_CF_SUB) return iterOpenCached(it, seek, slen, flags);
    it->h = itcAcquire(c->st, cf, lower, lolen, upper, uplen);
    it->it = itcIter(it->h);
    it->ovn = ovRange(stBatchOverlay(c->b), cf, lower, lolen, upper, uplen, &it->ov);
    const overlay *ov = stBatchOverlay(c->b);
    int excl = (flags & ST_ITER_EXCLUSIVE) && seek;
    if (!it->reverse) {
        if (seek && !iterAlreadyAt(it->it, seek, slen)) rocksdb_iter_seek(it->it, seek, slen);
        else if (!seek) rocksdb_iter_seek_to_first(it->it);
        if (excl && rocksdb_iter_valid(it->it)) {
            size_t kn;
            const char *k = rocksdb_iter_key(it->it, &kn);
            if (iterCmp(k, kn, seek, slen) == 0) rocksdb_iter_next(it->it);
        }
    } else {
        if (seek && !iterAlreadyAt(it->it, seek, slen)) rocksdb_iter_seek_for_prev(it->it, seek, slen);
        else if (!seek) rocksdb_iter_seek_to_last(it->it);
        if (excl && rocksdb_iter_valid(it->it)) {
            size_t kn;
            const char *k = rocksdb_iter_key(it->it, &kn);
            if (iterCmp(k, kn, seek, slen) == 0) rocksdb_iter_prev(it->it);
        }
    }
    iterOverlayStart(it, ov, seek, slen, excl);
    iterSettle(it);
    return it;
}

/* iterOpen for the sub records of a cached collection: positions a cursor
 * in the cached records (the same seek rules as RocksDB's) and merges the
 * overlay as usual. */
static stCollIter *iterOpenCached(stCollIter *it, const char *seek, size_t slen, int flags) {
    stColl *c = it->c;
    const overlay *ov = stBatchOverlay(c->b);
    __atomic_add_fetch(&c->cache->refcount, 1, __ATOMIC_RELAXED);
    it->ce = c->cache;
    size_t n = it->ce->n, i = seek ? ccFind(it->ce, seek, slen) : 0;
    int excl = (flags & ST_ITER_EXCLUSIVE) && seek;
    int at = seek && i < n && it->ce->recs[i].kn == slen &&
             memcmp(it->ce->recs[i].k, seek, slen) == 0;
    if (!it->reverse) it->ci = (long)i + (at && excl ? 1 : 0);
    else it->ci = !seek ? (long)n - 1 : (at && !excl ? (long)i : (long)i - 1);
    it->ovn = ovRange(ov, ST_CF_SUB, it->lower, it->lolen, it->upper, it->uplen, &it->ov);
    iterOverlayStart(it, ov, seek, slen, excl);
    iterSettle(it);
    return it;
}

/* Bounds of every record of the handle's incarnation in a column family:
 * [prefix, prefix of the next incarnation). */
static void iterBounds(stColl *c, char **lower, char **upper, size_t *len) {
    *len = c->plen;
    *lower = collDup(c->prefix, c->plen);
    *upper = collAlloc(c->plen);
    encSubKeyPrefix(*upper, (uint16_t)c->pdb, c->key, c->klen, c->incarnation + 1);
}

stCollIter *stCollIterNew(stColl *c, const char *start, size_t slen, int flags) {
    char *lower, *upper;
    size_t blen, klen;
    iterBounds(c, &lower, &upper, &blen);
    const char *seek = start ? collKey(c, start, slen, NULL, 0, &klen) : NULL;
    return iterOpen(c, ST_CF_SUB, lower, blen, upper, blen, seek, start ? klen : 0, flags);
}

stCollIter *stZsetIterNew(stColl *c, double min, int flags) {
    char *lower, *upper, sc[ENC_SCORE_BYTES];
    size_t blen, klen;
    iterBounds(c, &lower, &upper, &blen);
    /* Members of one score follow its 8 bytes, so with S = the score's
     * encoding: score >= min starts at S; > min at S + 1; <= min is the last
     * key below S + 1; < min the last key below S.  S + 1 never overflows:
     * +inf encodes below the NaN patterns. */
    int excl = flags & ST_ITER_EXCLUSIVE, rev = flags & ST_ITER_REVERSE;
    encScore(sc, min);
    if (rev != 0 ? !excl : excl) encPutU64(sc, encGetU64(sc) + 1);
    const char *seek = collKey(c, sc, sizeof(sc), NULL, 0, &klen);
    /* A key equal to the seek key is a bare score (the empty member): it
     * belongs to the range going forward, never in reverse. */
    int iflags = rev ? (flags | ST_ITER_EXCLUSIVE) : (flags & ~ST_ITER_EXCLUSIVE);
    /* Invariant 6: start no further out than the end's hint (inclusive: the
     * hint may be a live entry). */
    const char *hint = rev ? c->tail : c->head;
    size_t hlen = rev ? c->tlen : c->hlen;
    char *hk = NULL;
    if (hint) {
        hk = collAlloc(c->plen + hlen);
        memcpy(hk, c->prefix, c->plen);
        memcpy(hk + c->plen, hint, hlen);
        int beyond = collBytesCmp(hk, c->plen + hlen, seek, klen);
        if (rev ? beyond < 0 : beyond > 0) {
            seek = hk;
            klen = c->plen + hlen;
            iflags &= ~ST_ITER_EXCLUSIVE;
        }
    }
    stCollIter *it = iterOpen(c, ST_CF_ZSCORE, lower, blen, upper, blen, seek, klen, iflags);
    free(hk); /* a seek key is only used while positioning */
    /* An iterator from an end remembers the entry it found there (6). */
    if (isinf(min) && (rev ? min > 0 : min < 0) && !excl && stCollIterValid(it) && c->write) {
        int end = rev ? 1 : 0;
        free(c->zfirst[end]);
        c->zfirstlen[end] = it->kn - c->plen;
        c->zfirst[end] = collDup(it->k + c->plen, c->zfirstlen[end]);
    }
    return it;
}

int stCollIterValid(const stCollIter *it) { return it && it->src != 0; }

void stCollIterNext(stCollIter *it) {
    if (!it->src) return;
    if (it->src == 1) {
        iterDbStep(it);
    } else {
        it->ovi += it->reverse ? -1 : 1;
    }
    iterSettle(it);
}

const char *stCollIterElem(const stCollIter *it, size_t *len) {
    size_t skip = it->c->plen + (it->cf == ST_CF_ZSCORE ? ENC_SCORE_BYTES : 0);
    *len = it->kn - skip;
    return it->k + skip;
}

const char *stCollIterVal(const stCollIter *it, size_t *len) {
    const char *p;
    if (it->cf == ST_CF_ZSCORE || encElemDecode(it->v, it->vn, NULL, NULL, NULL, &p, len) != 0) {
        *len = 0;
        return "";
    }
    return p;
}

double stCollIterScore(const stCollIter *it) {
    if (it->cf == ST_CF_ZSCORE) {
        double d = encScoreDecode(it->k + it->c->plen);
        /* The index keeps -0 as 0; the member's record has the exact value,
         * which only differs for -0. */
        return d;
    }
    size_t n;
    const char *p = stCollIterVal(it, &n);
    return n == 8 ? rawScoreDecode(p) : 0;
}

void stCollIterFree(stCollIter *it) {
    if (!it) return;
    itcRelease(it->h);
    ccRelease(it->ce);
    free(it->lower);
    free(it->upper);
    free(it->ov);
    free(it);
}

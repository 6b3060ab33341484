/* batch.c - stBatch, the write path: one RocksDB WriteBatch per commit that
 * starts with the origin/HLC log header and carries the data records, the
 * expire index, the key count deltas and this node's version vector entry;
 * after the write, the in-memory key counts and the hot set follow.
 *
 * Layout of a committed WriteBatch:
 *
 *   LogData   log header: origin = node id, origin seq, HLC   (encoding.h)
 *   ...       the effects, in call order: meta Put/Delete, expire index
 *             Put/Delete, DeleteRange on meta/sub/zscore (FLUSHDB), sys dbmap
 *   Merge     sys count:<pdb> += delta   (Put of the absolute value after a
 *             FLUSHDB of that db), one per db touched
 *   Put       sys vv:<node id> = origin seq
 *
 * Invariants:
 *  1. Origin seqs are gap free and appear in the WAL in increasing order:
 *     stBatchCommit() assigns seq = last + 1 and writes under commit_mu, and
 *     only advances `last` when RocksDB accepted the write.
 *  2. Key counts are exact and crash safe: each batch carries the count
 *     changes of its own effects, so the persisted counts always match the
 *     persisted data, and opening reads them without scanning (engine.c).
 *  3. The hot set is touched only after RocksDB accepted the batch, in effect
 *     order (hotset.c invariants 2 and 3).
 *  4. The expiry scan's resume cursor never passes a live expire entry
 *     (iter.c): a batch that inserts an entry below the cursor lowers the
 *     cursor under commit_mu right after the write, so no scan can start
 *     from the old cursor once the entry is readable.
 *  5. Meta Puts of small values are held back and appended at the commit,
 *     one per key: a group of 20 HSETs to one hash wrote its meta record 20
 *     times, each a memtable insert and WAL bytes, where only the last
 *     survives.  Order stays right because a held Put is dropped when a
 *     later Del or Put of its key supersedes it, and every held Put is
 *     appended before a range delete (FLUSHDB) and before the commit; only
 *     records of the same key in the same column family order against
 *     each other, and a batch is applied atomically.
 *
 * The header's seq and HLC are only known under commit_mu, but the header
 * must be the batch's first record: stBatchNew() writes a placeholder header
 * and stBatchCommit() copies the batch's rep and fills the header in the
 * copy (WriteBatch rep: 12 bytes seq + count, then the LogData record as tag
 * 0x03, varint32 length 25, header bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "st_internal.h"

#define BATCH_REP_HEADER_BYTES 12 /* WriteBatch rep: u64 seq, u32 count */
#define BATCH_LOGDATA_TAG 0x03    /* kTypeLogData */
#define BATCH_HDR_OFFSET (BATCH_REP_HEADER_BYTES + 2) /* tag + 1-byte length */
#define BATCH_INLINE_OPS 4
#define BATCH_INLINE_DBS 4
#define BATCH_INLINE_KEY_BYTES 256
#define BATCH_STACK_REP_BYTES 4096
#define BATCH_PEND_MAX 32          /* deferred meta Puts per batch (linear lookup) */
#define BATCH_PEND_VALUE_BYTES 512 /* bigger values are written at once */

/* A hot set update to apply after the write (invariant 3). */
enum { HSOP_PUT, HSOP_DEL, HSOP_FLUSHDB };
typedef struct batchHsOp {
    int kind;    /* HSOP_* */
    int pdb;     /* HSOP_FLUSHDB: -1 = every db */
    size_t koff; /* key bytes at b->keys + koff */
    size_t klen;
    stObj *obj; /* HSOP_PUT: one reference owned by the batch */
} batchHsOp;

/* A meta Put held back until the commit (invariant 5): prefixed key and
 * encoded value at pbuf + off. */
typedef struct batchPending {
    size_t off, klen, vlen;
} batchPending;

/* Key count change of one physical db. */
typedef struct batchDbDelta {
    int pdb;
    int absolute; /* a FLUSHDB reset the count: persist with Put, not Merge */
    int64_t delta;
    int64_t edelta; /* change in the count of keys with a TTL */
    int64_t bdelta; /* change in the bytes of keys and values */
    int64_t dels;   /* existing keys deleted (tombstone accounting, compact.c) */
} batchDbDelta;

struct stBatch {
    stEngine *st;
    rocksdb_writebatch_t *wb; /* starts with the placeholder header */
    size_t effects;
    const char *bad; /* static message: a caller error seen while queueing */

    batchHsOp *ops;
    size_t nops, capops;
    char *keys; /* copies of the keys the hot set ops refer to */
    size_t keylen, keycap;
    batchDbDelta *dbs;
    size_t ndbs, capdbs;
    uint16_t *newmap; /* stSwapDb: db map to install after the write */
    uint64_t min_new_expire; /* lowest expire-at the batch inserts (invariant 4) */
    uint64_t expire_dels;    /* expire index entries the batch deletes */
    int flushes_expire;      /* FLUSHALL: the whole expire index is deleted */
    int raw;                 /* wb is a complete batch from another node (apply.c) */
    overlay *ov;             /* element writes, for reads through the batch */
    batchPending *pend;      /* deferred meta Puts (invariant 5) */
    size_t npend, cappend;
    char *pbuf;              /* their keys and values */
    size_t pbuflen, pbufcap;

    batchHsOp ops_inline[BATCH_INLINE_OPS];
    batchDbDelta dbs_inline[BATCH_INLINE_DBS];
    char keys_inline[BATCH_INLINE_KEY_BYTES];
};

/* ---- Helpers: bookkeeping --------------------------------------------------- */

/* Grows an inline-first array: *arr is either `inl` or heap memory. */
static void *batchGrow(void *arr, void *inl, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return arr;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *n = arr == inl ? malloc(nc * elem) : realloc(arr, nc * elem);
    if (!n) {
        fprintf(stderr, "strata storage: out of memory growing a batch\n");
        abort();
    }
    if (arr == inl && inl) memcpy(n, inl, *cap * elem);
    *cap = nc;
    return n;
}

static void batchAddOp(stBatch *b, int kind, int pdb, const char *key,
                       size_t klen, stObj *obj) {
    b->ops = batchGrow(b->ops, b->ops_inline, &b->capops, b->nops + 1, sizeof(*b->ops));
    b->keys = batchGrow(b->keys, b->keys_inline, &b->keycap, b->keylen + klen, 1);
    batchHsOp *op = &b->ops[b->nops++];
    op->kind = kind;
    op->pdb = pdb;
    op->koff = b->keylen;
    op->klen = klen;
    op->obj = obj;
    if (klen) memcpy(b->keys + b->keylen, key, klen);
    b->keylen += klen;
}

static batchDbDelta *batchDb(stBatch *b, int pdb) {
    for (size_t i = 0; i < b->ndbs; i++)
        if (b->dbs[i].pdb == pdb) return &b->dbs[i];
    b->dbs = batchGrow(b->dbs, b->dbs_inline, &b->capdbs, b->ndbs + 1, sizeof(*b->dbs));
    batchDbDelta *d = &b->dbs[b->ndbs++];
    d->pdb = pdb;
    d->absolute = 0;
    d->delta = 0;
    d->edelta = 0;
    d->bdelta = 0;
    d->dels = 0;
    return d;
}

/* Physical db of a logical one; marks the batch bad if out of range. */
static int batchPhysDb(stBatch *b, int db) {
    int pdb = stPhysDb(b->st, db);
    if (pdb < 0 && !b->bad) b->bad = "ERR DB index is out of range";
    return pdb;
}

static void batchPutExpire(stBatch *b, int pdb, const char *key, size_t klen,
                           uint64_t expire_ms, int del) {
    char pfx[ENC_EXPIRE_KEY_LEN(0)];
    encExpireKey(pfx, expire_ms, (uint16_t)pdb, NULL, 0);
    const char *parts[2] = {pfx, key};
    size_t lens[2] = {sizeof(pfx), klen};
    rocksdb_column_family_handle_t *cf = b->st->cf[ST_CF_EXPIRE];
    if (del) {
        rocksdb_writebatch_deletev_cf(b->wb, cf, 2, parts, lens);
        b->expire_dels++;
    } else {
        rocksdb_writebatch_putv_cf(b->wb, cf, 2, parts, lens, 0, NULL, NULL);
        if (expire_ms < b->min_new_expire) b->min_new_expire = expire_ms;
    }
}

/* The held Put of this prefixed meta key, or -1. */
static long batchPendFind(const stBatch *b, const char *k, size_t klen) {
    for (size_t i = 0; i < b->npend; i++) {
        const batchPending *p = &b->pend[i];
        if (p->klen == klen && memcmp(b->pbuf + p->off, k, klen) == 0) return (long)i;
    }
    return -1;
}

static void batchPendDrop(stBatch *b, long i) {
    if (i >= 0) b->pend[i] = b->pend[--b->npend];
}

/* Appends every held Put to the WriteBatch (invariant 5). */
static void batchPendFlush(stBatch *b) {
    rocksdb_column_family_handle_t *cf = b->st->cf[ST_CF_META];
    for (size_t i = 0; i < b->npend; i++) {
        const batchPending *p = &b->pend[i];
        const char *k = b->pbuf + p->off;
        rocksdb_writebatch_put_cf(b->wb, cf, k, p->klen, k + p->klen, p->vlen);
    }
    b->npend = 0;
    b->pbuflen = 0;
}

/* Holds the Put of key parts (kp, kl) with value parts (vp, vl), replacing
 * a held Put of the same key.  0 when it cannot be held (too big, too many
 * held): the caller writes it, after dropping any held Put of the key. */
static int batchPendPut(stBatch *b, const char *const *kp, const size_t *kl,
                        const char *const *vp, const size_t *vl) {
    size_t klen = kl[0] + kl[1], vlen = vl[0] + vl[1];
    char kbuf[ST_KEYBUF_BYTES];
    if (klen > sizeof(kbuf)) return 0;
    memcpy(kbuf, kp[0], kl[0]);
    memcpy(kbuf + kl[0], kp[1], kl[1]);
    long i = batchPendFind(b, kbuf, klen);
    if (vlen > BATCH_PEND_VALUE_BYTES || (i < 0 && b->npend == BATCH_PEND_MAX)) {
        batchPendDrop(b, i);
        return 0;
    }
    b->pbuf = batchGrow(b->pbuf, NULL, &b->pbufcap, b->pbuflen + klen + vlen, 1);
    char *d = b->pbuf + b->pbuflen;
    memcpy(d, kbuf, klen);
    memcpy(d + klen, vp[0], vl[0]);
    memcpy(d + klen + vl[0], vp[1], vl[1]);
    if (i < 0) {
        b->pend = batchGrow(b->pend, NULL, &b->cappend, b->npend + 1, sizeof(*b->pend));
        i = (long)b->npend++;
    }
    b->pend[i] = (batchPending){b->pbuflen, klen, vlen};
    b->pbuflen += klen + vlen;
    return 1;
}

/* Appends the count records (invariant 2) for every db the batch touched. */
static void batchAddCountRecords(stBatch *b) {
    for (size_t i = 0; i < b->ndbs; i++) {
        batchDbDelta *d = &b->dbs[i];
        for (int which = 0; which < 3; which++) {
            int64_t delta = which == 0 ? d->delta : which == 1 ? d->edelta : d->bdelta;
            if (!d->absolute && delta == 0) continue;
            char key[ENC_SYS_COUNT_KEY_LEN], val[8];
            if (which == 0) encSysCountKey(key, (uint16_t)d->pdb);
            else if (which == 1) encSysExpiresKey(key, (uint16_t)d->pdb);
            else encSysBytesKey(key, (uint16_t)d->pdb);
            /* Two's complement: the u64 add of a negative delta wraps correctly. */
            encPutU64LE(val, (uint64_t)delta);
            if (d->absolute)
                rocksdb_writebatch_put_cf(b->wb, b->st->cf[ST_CF_SYS], key, sizeof(key), val, 8);
            else
                rocksdb_writebatch_merge_cf(b->wb, b->st->cf[ST_CF_SYS], key, sizeof(key), val, 8);
        }
    }
}

/* Writes the batch with its final header under commit_mu (invariant 1).
 * C_OK, or C_ERR with *err set (heap string, caller frees). */
static int batchWrite(stBatch *b, char **err) {
    stEngine *st = b->st;
    char stackrep[BATCH_STACK_REP_BYTES], *rep = stackrep, *rerr = NULL;
    int rc = C_ERR;
    void (*hook)(void *) = NULL;
    void *hook_ud = NULL;

    batchPendFlush(b); /* invariant 5: every held Put goes in */
    pthread_mutex_lock(&st->commit_mu);
    int mode = atomic_load(&st->fsync_mode);
    if (b->raw) {
        /* A batch replicated from another node keeps its own header. */
        rocksdb_write(st->db, mode == ST_FSYNC_ALWAYS ? st->wopts_sync : st->wopts, b->wb, &rerr);
        if (rerr) {
            if (err) *err = stErrDup("ERR write failed", rerr);
            rocksdb_free(rerr);
            goto done;
        }
        goto written;
    }
    uint64_t seq = st->seq + 1;
    char vvkey[ENC_SYS_VV_KEY_LEN], vvval[8];
    encSysVvKey(vvkey, st->node_id);
    encPutU64(vvval, seq);
    rocksdb_writebatch_put_cf(b->wb, st->cf[ST_CF_SYS], vvkey, sizeof(vvkey), vvval, 8);

    size_t len;
    const char *data = rocksdb_writebatch_data(b->wb, &len); /* points into wb */
    if (len < BATCH_HDR_OFFSET + ENC_LOG_HEADER_BYTES ||
        (unsigned char)data[BATCH_REP_HEADER_BYTES] != BATCH_LOGDATA_TAG ||
        (unsigned char)data[BATCH_REP_HEADER_BYTES + 1] != ENC_LOG_HEADER_BYTES) {
        if (err) *err = strdup("ERR internal: unexpected WriteBatch layout");
        goto done;
    }
    if (len > sizeof(stackrep) && !(rep = malloc(len))) {
        if (err) *err = strdup("ERR out of memory");
        goto done;
    }
    memcpy(rep, data, len);
    encLogHeader h = {st->node_id, seq, hlcNow(&st->hlc, stWallMs())};
    encLogHeaderEncode(rep + BATCH_HDR_OFFSET, &h);
    rocksdb_writebatch_t *final = rocksdb_writebatch_create_from(rep, len);
    rocksdb_write(st->db, mode == ST_FSYNC_ALWAYS ? st->wopts_sync : st->wopts, final, &rerr);
    rocksdb_writebatch_destroy(final);
    if (rerr) {
        if (err) *err = stErrDup("ERR write failed", rerr);
        rocksdb_free(rerr);
        goto done;
    }
    st->seq = seq;
written:
    /* Invariant 4: an entry the expiry scan's cursor has passed pulls the
     * cursor back, before any scan can read it (both under commit_mu). */
    if (b->min_new_expire < st->expire_cursor_ms) st->expire_cursor_ms = b->min_new_expire;
    if (b->min_new_expire < st->expire_low_ms) st->expire_low_ms = b->min_new_expire;
    hook = st->commit_hook;
    hook_ud = st->commit_hook_ud;
    uint64_t n = atomic_fetch_add(&st->batches, 1) + 1;
    if (mode == ST_FSYNC_ALWAYS) {
        atomic_store(&st->synced_batches, n);
        atomic_store(&st->last_sync_unix, (uint64_t)time(NULL));
    }
    rc = C_OK;
done:
    pthread_mutex_unlock(&st->commit_mu);
    if (rep != stackrep) free(rep);
    if (hook) hook(hook_ud);
    return rc;
}

/* After a successful write: counts, tombstone estimates (compact.c), db map,
 * then the hot set in effect order. */
static void batchApply(stBatch *b) {
    stEngine *st = b->st;
    uint64_t expire_dead = b->expire_dels;
    int wake = 0;
    for (size_t i = 0; i < b->ndbs; i++) {
        batchDbDelta *d = &b->dbs[i];
        int64_t dead = d->dels;
        if (d->absolute) {
            /* A FLUSHDB's range delete hides every key the db had. */
            int64_t had = atomic_exchange(&st->counts[d->pdb], d->delta);
            dead += had;
            if (had > 0) {
                atomic_store(&st->flushed[d->pdb], 1);
                wake = 1;
            }
            int64_t had_ttl = atomic_exchange(&st->expires[d->pdb], d->edelta);
            atomic_store(&st->bytes[d->pdb], d->bdelta);
            if (b->flushes_expire && had_ttl > 0) expire_dead += (uint64_t)had_ttl;
        } else {
            if (d->delta) atomic_fetch_add(&st->counts[d->pdb], d->delta);
            if (d->edelta) atomic_fetch_add(&st->expires[d->pdb], d->edelta);
            if (d->bdelta) atomic_fetch_add(&st->bytes[d->pdb], d->bdelta);
        }
        if (dead > 0) atomic_fetch_add_explicit(&st->dead[d->pdb], dead, memory_order_relaxed);
    }
    if (expire_dead) atomic_fetch_add_explicit(&st->expire_dead, expire_dead, memory_order_relaxed);
    if (wake) stCompactWake(st); /* compact.c: the hidden ranges go now */
    if (b->newmap) {
        for (int i = 0; i < st->npdb; i++) {
            atomic_store(&st->l2p[i], b->newmap[i]);
            atomic_store(&st->p2l[b->newmap[i]], i < st->databases ? i : -1);
        }
    }
    for (size_t i = 0; i < b->nops; i++) {
        batchHsOp *op = &b->ops[i];
        const char *key = b->keys + op->koff;
        if (op->kind == HSOP_FLUSHDB) {
            hotsetDropDb(st->hs, op->pdb);
            continue;
        }
        uint64_t h = hotsetHash((uint16_t)op->pdb, key, op->klen);
        if (op->kind == HSOP_PUT)
            hotsetPut(st->hs, (uint16_t)op->pdb, key, op->klen, h, op->obj);
        else
            hotsetDel(st->hs, (uint16_t)op->pdb, key, op->klen, h);
    }
}

/* ---- Public API ------------------------------------------------------------- */

stBatch *stBatchNew(stEngine *st) {
    stBatch *b = malloc(sizeof(*b));
    if (!b) {
        fprintf(stderr, "strata storage: out of memory allocating a batch\n");
        abort();
    }
    b->st = st;
    b->effects = 0;
    b->bad = NULL;
    b->ops = b->ops_inline;
    b->nops = 0;
    b->capops = BATCH_INLINE_OPS;
    b->keys = b->keys_inline;
    b->keylen = 0;
    b->keycap = BATCH_INLINE_KEY_BYTES;
    b->dbs = b->dbs_inline;
    b->ndbs = 0;
    b->capdbs = BATCH_INLINE_DBS;
    b->newmap = NULL;
    b->min_new_expire = UINT64_MAX;
    b->expire_dels = 0;
    b->flushes_expire = 0;
    b->raw = 0;
    b->ov = NULL;
    b->pend = NULL;
    b->npend = b->cappend = 0;
    b->pbuf = NULL;
    b->pbuflen = b->pbufcap = 0;
    b->wb = rocksdb_writebatch_create();
    char placeholder[ENC_LOG_HEADER_BYTES] = {0};
    rocksdb_writebatch_put_log_data(b->wb, placeholder, sizeof(placeholder));
    return b;
}

void stBatchPut(stBatch *b, int db, const char *key, size_t klen,
                const stMeta *old, stObj *obj) {
    int pdb = batchPhysDb(b, db);
    if (pdb < 0) return;
    stEngine *st = b->st;
    /* Stamped now, with the key's lock held, so one key's HLCs increase in
     * commit order even when batches are created in another order. */
    obj->meta.hlc = hlcNow(&st->hlc, stWallMs());
    obj->meta.origin = st->node_id;

    char pfx[ENC_DB_PREFIX_BYTES], hdr[ENC_META_HDR_MAX];
    encDbPrefix(pfx, (uint16_t)pdb);
    size_t hlen = encMetaValueHeader(hdr, &obj->meta);
    const char *kparts[2] = {pfx, key};
    size_t klens[2] = {sizeof(pfx), klen};
    const char *vparts[2] = {hdr, obj->val};
    size_t vlens[2] = {hlen, obj->vlen};
    if (!batchPendPut(b, kparts, klens, vparts, vlens))
        rocksdb_writebatch_putv_cf(b->wb, st->cf[ST_CF_META], 2, kparts, klens, 2, vparts, vlens);

    uint64_t oexp = old ? old->expire_ms : 0, nexp = obj->meta.expire_ms;
    if (oexp && oexp != nexp) batchPutExpire(b, pdb, key, klen, oexp, 1);
    if (nexp && nexp != oexp) batchPutExpire(b, pdb, key, klen, nexp, 0);
    if (!old) batchDb(b, pdb)->delta++;
    if (old && old->type != ST_TYPE_STRING && old->incarnation != obj->meta.incarnation)
        gcNoteDeadCollection(st, pdb, key, klen, old);
    if (!oexp != !nexp) batchDb(b, pdb)->edelta += nexp ? 1 : -1;
    batchDb(b, pdb)->bdelta += (int64_t)(klen + obj->meta.size) - (old ? (int64_t)(klen + old->size) : 0);

    stObjRetain(obj);
    batchAddOp(b, HSOP_PUT, pdb, key, klen, obj);
    b->effects++;
}

void stBatchDel(stBatch *b, int db, const char *key, size_t klen, const stMeta *old) {
    int pdb = batchPhysDb(b, db);
    if (pdb < 0) return;
    char pfx[ENC_DB_PREFIX_BYTES];
    encDbPrefix(pfx, (uint16_t)pdb);
    const char *kparts[2] = {pfx, key};
    size_t klens[2] = {sizeof(pfx), klen};
    if (b->npend && klen + sizeof(pfx) <= ST_KEYBUF_BYTES) {
        char kbuf[ST_KEYBUF_BYTES];
        memcpy(kbuf, pfx, sizeof(pfx));
        memcpy(kbuf + sizeof(pfx), key, klen);
        batchPendDrop(b, batchPendFind(b, kbuf, klen + sizeof(pfx)));
    }
    rocksdb_writebatch_deletev_cf(b->wb, b->st->cf[ST_CF_META], 2, kparts, klens);
    /* Collections: the sub records of this incarnation become garbage; a
     * later write of the key uses a new incarnation. */
    if (old && old->expire_ms) batchPutExpire(b, pdb, key, klen, old->expire_ms, 1);
    if (old) {
        gcNoteDeadCollection(b->st, pdb, key, klen, old);
        batchDbDelta *d = batchDb(b, pdb);
        d->delta--;
        d->dels++;
        if (old->expire_ms) d->edelta--;
        d->bdelta -= (int64_t)(klen + old->size);
    }
    batchAddOp(b, HSOP_DEL, pdb, key, klen, NULL);
    b->effects++;
}

void stBatchDelExpireIndex(stBatch *b, int db, const char *key, size_t klen,
                           uint64_t expire_ms) {
    int pdb = batchPhysDb(b, db);
    if (pdb < 0) return;
    batchPutExpire(b, pdb, key, klen, expire_ms, 1);
    b->effects++;
}

void stBatchFlushDb(stBatch *b, int db) {
    stEngine *st = b->st;
    int pdb = -1, first, last; /* physical range [first, last) */
    if (db == -1) {
        first = 0;
        last = st->npdb;
    } else {
        if ((pdb = batchPhysDb(b, db)) < 0) return;
        first = pdb;
        last = pdb + 1;
    }
    char lo[ENC_DB_PREFIX_BYTES], hi[ENC_DB_PREFIX_BYTES];
    encDbPrefix(lo, (uint16_t)first);
    encDbPrefix(hi, (uint16_t)last); /* last <= 65535: pdb 0xFFFF is never used */
    batchPendFlush(b); /* invariant 5: before the range delete */
    static const int cfs[] = {ST_CF_META, ST_CF_SUB, ST_CF_ZSCORE};
    for (size_t i = 0; i < sizeof(cfs) / sizeof(cfs[0]); i++)
        rocksdb_writebatch_delete_range_cf(b->wb, st->cf[cfs[i]], lo, sizeof(lo), hi, sizeof(hi));
    if (db == -1) {
        /* Every expire entry is stale now.  After a one-db flush the db's
         * entries stay; the expiry cycle drops them (stExpireScan). */
        static const char end[ENC_EXPIRE_KEY_LEN(0)] = {
            '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff'};
        rocksdb_writebatch_delete_range_cf(b->wb, st->cf[ST_CF_EXPIRE], "", 0, end, sizeof(end));
        b->flushes_expire = 1;
    }
    for (int p = first; p < last; p++) {
        batchDbDelta *d = batchDb(b, p);
        d->absolute = 1;
        d->delta = 0;
        d->edelta = 0;
        d->bdelta = 0;
    }
    batchAddOp(b, HSOP_FLUSHDB, pdb, NULL, 0, NULL);
    b->effects++;
}

size_t stBatchSize(const stBatch *b) { return b->effects; }

void stBatchElemWrite(stBatch *b, int cf, const char *key, size_t klen, const char *v1,
                      size_t v1len, const char *v2, size_t v2len, int del) {
    rocksdb_column_family_handle_t *h = b->st->cf[cf];
    if (del) {
        rocksdb_writebatch_delete_cf(b->wb, h, key, klen);
    } else {
        const char *parts[2] = {v1, v2};
        size_t lens[2] = {v1len, v2len};
        rocksdb_writebatch_putv_cf(b->wb, h, 1, &key, &klen, 2, parts, lens);
    }
    if (!b->ov) b->ov = ovNew();
    ovAdd(b->ov, cf, key, klen, v1, v1len, v2, v2len, del);
    b->effects++;
}

const overlay *stBatchOverlay(const stBatch *b) { return b ? b->ov : NULL; }

int stBatchGet(const stBatch *b, int db, const char *key, size_t klen, stObj **obj) {
    *obj = NULL;
    int pdb = stPhysDb(b->st, db);
    if (pdb < 0) return 0;
    /* Newest effect first: the last one queued for the key is its state. */
    for (size_t i = b->nops; i-- > 0;) {
        const batchHsOp *op = &b->ops[i];
        if (op->kind == HSOP_FLUSHDB) {
            if (op->pdb == -1 || op->pdb == pdb) return 1;
            continue;
        }
        if (op->pdb != pdb || op->klen != klen || memcmp(b->keys + op->koff, key, klen)) continue;
        if (op->kind == HSOP_PUT) {
            stObjRetain(op->obj);
            *obj = op->obj;
        }
        return 1;
    }
    return 0;
}

int stBatchCommit(stBatch *b, char **err) {
    int rc = C_OK;
    if (err) *err = NULL;
    if (b->bad) {
        if (err) *err = strdup(b->bad);
        rc = C_ERR;
    } else if (b->effects > 0) {
        if (!b->raw) batchAddCountRecords(b);
        rc = batchWrite(b, err);
        if (rc == C_OK) batchApply(b);
    }
    stBatchDiscard(b);
    return rc;
}

void stBatchDiscard(stBatch *b) {
    if (!b) return;
    for (size_t i = 0; i < b->nops; i++)
        if (b->ops[i].obj) stObjRelease(b->ops[i].obj);
    if (b->ops != b->ops_inline) free(b->ops);
    if (b->keys != b->keys_inline) free(b->keys);
    if (b->dbs != b->dbs_inline) free(b->dbs);
    free(b->newmap);
    free(b->pend);
    free(b->pbuf);
    ovFree(b->ov);
    rocksdb_writebatch_destroy(b->wb);
    free(b);
}

int stSwapDb(stEngine *st, int a, int b) {
    if (a < 0 || b < 0 || a >= st->databases || b >= st->databases) return C_ERR;
    if (a == b) return C_OK;
    uint16_t *map = malloc(sizeof(*map) * st->npdb);
    char *val = malloc(2 * (size_t)st->npdb);
    if (!map || !val) goto err;
    for (int i = 0; i < st->npdb; i++) map[i] = (uint16_t)atomic_load(&st->l2p[i]);
    uint16_t t = map[a];
    map[a] = map[b];
    map[b] = t;
    size_t vlen = encDbMap(val, map, (size_t)st->npdb);

    stBatch *batch = stBatchNew(st);
    rocksdb_writebatch_put_cf(batch->wb, st->cf[ST_CF_SYS], ENC_SYS_DBMAP,
                              strlen(ENC_SYS_DBMAP), val, vlen);
    batch->effects++;
    batch->newmap = map; /* owned by the batch from here on */
    map = NULL;
    free(val);
    char *cerr = NULL;
    if (stBatchCommit(batch, &cerr) != C_OK) {
        stLogError("SWAPDB", cerr);
        free(cerr);
        return C_ERR;
    }
    return C_OK;
err:
    free(map);
    free(val);
    return C_ERR;
}

/* ---- Batches of other nodes (apply.c) ------------------------------------ */

stBatch *stBatchNewRaw(stEngine *st) {
    stBatch *b = stBatchNew(st);
    rocksdb_writebatch_clear(b->wb); /* no placeholder: the caller copies a header */
    b->raw = 1;
    return b;
}

rocksdb_writebatch_t *stBatchRawWb(stBatch *b) {
    b->effects++;
    return b->wb;
}

void stBatchRawForget(stBatch *b, int pdb, const char *key, size_t klen, int dead) {
    batchAddOp(b, HSOP_DEL, pdb, key, klen, NULL);
    if (dead) batchDb(b, pdb)->dels++;
}

void stBatchRawDropDb(stBatch *b, int pdb) { batchAddOp(b, HSOP_FLUSHDB, pdb, NULL, 0, NULL); }

void stBatchRawCount(stBatch *b, int pdb, int which, int absolute, int64_t v) {
    batchDbDelta *d = batchDb(b, pdb);
    int64_t *f = which == 0 ? &d->delta : which == 1 ? &d->edelta : &d->bdelta;
    /* Absolute: a FLUSHDB, whose counters were all Put in the same batch. */
    if (absolute) d->absolute = 1;
    *f = absolute ? v : *f + v;
}

void stBatchRawExpire(stBatch *b, uint64_t expire_ms, int del) {
    if (del) b->expire_dels++;
    else if (expire_ms < b->min_new_expire) b->min_new_expire = expire_ms;
}

void stBatchRawFlushesExpire(stBatch *b) { b->flushes_expire = 1; }

void stBatchRawDbMap(stBatch *b, uint16_t *map) {
    free(b->newmap);
    b->newmap = map;
}

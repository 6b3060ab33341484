/* apply.c - writing what another node sent: batches read from its WAL and
 * the chunks of a full sync.
 *
 * A replicated batch is rebuilt record by record rather than written as the
 * sender's bytes, for three reasons: column family ids are per node (the
 * sender's ids are mapped through its stCfIds() string); sys records that
 * belong to one node (its node id, its own origin seq, its replication
 * state) must not overwrite ours; and the hot set, key counts and db map of
 * this node must follow the write, so every record is looked at anyway.
 * The sender's log header is kept as the batch's first record, so this
 * node's WAL can feed its own replicas.
 *
 * Invariants:
 *  1. The replication state passed with a batch is written in the same
 *     WriteBatch as its data: after a crash the state names exactly the
 *     batches that are on disk.
 *  2. A full sync first deletes the replication state, so a crash during the
 *     sync leaves a node that asks for a full sync again, never one that
 *     continues from a half-loaded snapshot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

#define APPLY_MAX_CF_ID 64
#define REPL_KEY_PREFIX "repl:"

struct stRemote {
    stEngine *st;
    int cf_of_id[APPLY_MAX_CF_ID]; /* sender's cf id -> ST_CF_*, -1 unknown */
};

void stCfIds(stEngine *st, char *buf, size_t cap) {
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < ST_CF_COUNT && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%u", i ? "," : "",
                                rocksdb_column_family_handle_get_id(st->cf[i]));
}

stRemote *stRemoteNew(stEngine *st, const char *cf_ids, char **err) {
    stRemote *r = calloc(1, sizeof(*r));
    if (!r) abort();
    r->st = st;
    for (int i = 0; i < APPLY_MAX_CF_ID; i++) r->cf_of_id[i] = -1;
    const char *p = cf_ids;
    for (int i = 0; i < ST_CF_COUNT; i++) {
        char *end;
        unsigned long id = strtoul(p, &end, 10);
        int last = i == ST_CF_COUNT - 1;
        if (end == p || *p < '0' || *p > '9' || id >= APPLY_MAX_CF_ID ||
            r->cf_of_id[id] != -1 || *end != (last ? '\0' : ',')) {
            if (err) *err = strdup("malformed column family ids from the sender");
            free(r);
            return NULL;
        }
        r->cf_of_id[id] = i;
        p = end + 1;
    }
    return r;
}

void stRemoteFree(stRemote *r) { free(r); }

/* ---- Replicated batches ---------------------------------------------------- */

static int applyBad(char **err, const char *why) {
    if (err) *err = stErrDup("ERR replicated batch rejected", why);
    return C_ERR;
}

/* Notes what a sys record does to the in-memory counts and db map. */
static int applySysRecord(stBatch *b, stEngine *st, const stRepRec *rec, char **err) {
    size_t cplen = strlen(ENC_SYS_COUNT_PREFIX);
    int is_count = rec->klen == ENC_SYS_COUNT_KEY_LEN && !memcmp(rec->key, ENC_SYS_COUNT_PREFIX, cplen);
    int is_exp = rec->klen == ENC_SYS_COUNT_KEY_LEN &&
                 !memcmp(rec->key, ENC_SYS_EXPIRES_PREFIX, strlen(ENC_SYS_EXPIRES_PREFIX));
    int is_bytes = rec->klen == ENC_SYS_COUNT_KEY_LEN &&
                   !memcmp(rec->key, ENC_SYS_BYTES_PREFIX, strlen(ENC_SYS_BYTES_PREFIX));
    if (is_count || is_exp || is_bytes) {
        int pdb = encGetU16(rec->key + cplen), which = is_count ? 0 : is_exp ? 1 : 2;
        if (pdb >= st->npdb) return applyBad(err, "count of a database this node does not have");
        if (rec->tag == REP_TAG_CF_DELETE) {
            stBatchRawCount(b, pdb, which, 1, 0);
        } else if (rec->vlen == 8) {
            stBatchRawCount(b, pdb, which, rec->tag == REP_TAG_CF_PUT,
                            (int64_t)encGetU64LE(rec->val));
        }
        return C_OK;
    }
    if (rec->klen == strlen(ENC_SYS_DBMAP) && !memcmp(rec->key, ENC_SYS_DBMAP, rec->klen) &&
        rec->tag == REP_TAG_CF_PUT) {
        uint16_t *map = malloc(sizeof(uint16_t) * ST_MAX_DATABASES);
        size_t n = 0;
        if (!map) abort();
        if (encDbMapDecode(rec->val, rec->vlen, map, ST_MAX_DATABASES, &n) != 0 ||
            n > (size_t)st->npdb) {
            free(map);
            return applyBad(err, "db map does not fit this node's databases");
        }
        for (size_t i = n; i < (size_t)st->npdb; i++) map[i] = (uint16_t)i;
        stBatchRawDbMap(b, map);
    }
    return C_OK;
}

/* Notes the hot set and expiry effects of a data record. */
static int applyDataRecord(stBatch *b, stEngine *st, int cf, const stRepRec *rec, char **err) {
    uint16_t pdb;
    const char *key, *elem;
    size_t klen, elen;
    uint64_t ms, inc;
    if (rec->tag == REP_TAG_CF_RANGE_DELETE) {
        if (cf == ST_CF_EXPIRE) {
            stBatchRawFlushesExpire(b);
        } else if (cf == ST_CF_META) {
            int lo = rec->klen >= 2 ? encGetU16(rec->key) : 0;
            int hi = rec->vlen >= 2 ? encGetU16(rec->val) : st->npdb;
            if (lo == 0 && hi >= st->npdb) stBatchRawDropDb(b, -1);
            else
                for (int p = lo; p < hi && p < st->npdb; p++) stBatchRawDropDb(b, p);
        }
        return C_OK;
    }
    int del = rec->tag == REP_TAG_CF_DELETE;
    switch (cf) {
    case ST_CF_META:
        if (encMetaKeyDecode(rec->key, rec->klen, &pdb, &key, &klen) != 0 || pdb >= st->npdb)
            return applyBad(err, "meta key of a database this node does not have");
        stBatchRawForget(b, pdb, key, klen, del);
        if (del) {
            /* A big collection deleted on the master is garbage here too:
             * queue its targeted compaction (gc.c), as stBatchDel does. */
            stObj *old = stReadObj(st, pdb, key, klen);
            if (old) {
                gcNoteDeadCollection(st, pdb, key, klen, &old->meta);
                stObjRelease(old);
            }
        }
        break;
    case ST_CF_SUB:
        if (encSubKeyDecode(rec->key, rec->klen, &pdb, &key, &klen, &inc, &elem, &elen) == 0 &&
            pdb < st->npdb)
            stBatchRawForget(b, pdb, key, klen, 0);
        break;
    case ST_CF_EXPIRE:
        if (encExpireKeyDecode(rec->key, rec->klen, &ms, &pdb, &key, &klen) == 0)
            stBatchRawExpire(b, ms, del);
        break;
    default:
        break;
    }
    return C_OK;
}

int stApplyBatch(stRemote *r, const char *rep, size_t len, const char *state, size_t slen,
                 char **err) {
    stEngine *st = r->st;
    if (err) *err = NULL;
    if (len < REP_HEADER_BYTES) return applyBad(err, "truncated WriteBatch");
    /* The rep's record count (LogData not counted) guards against a batch
     * cut at a record boundary. */
    uint32_t want = (uint32_t)(unsigned char)rep[8] | (uint32_t)(unsigned char)rep[9] << 8 |
                    (uint32_t)(unsigned char)rep[10] << 16 | (uint32_t)(unsigned char)rep[11] << 24;
    uint32_t seen = 0;
    stBatch *b = stBatchNewRaw(st);
    rocksdb_writebatch_t *wb = stBatchRawWb(b);
    size_t pos = 0;
    stRepRec rec;
    int rc;
    while ((rc = stRepNext(rep, len, &pos, &rec)) == 1) {
        if (rec.tag != REP_TAG_LOGDATA) seen++;
        if (rec.tag == REP_TAG_LOGDATA) {
            encLogHeader h;
            if (encLogHeaderDecode(rec.val, rec.vlen, &h) == 0) hlcObserve(&st->hlc, h.hlc, stWallMs());
            rocksdb_writebatch_put_log_data(wb, rec.val, rec.vlen);
            continue;
        }
        int cf = rec.cf < APPLY_MAX_CF_ID ? r->cf_of_id[rec.cf] : -1;
        if (cf < 0) {
            stBatchDiscard(b);
            return applyBad(err, "unknown column family");
        }
        int ok = cf == ST_CF_SYS ? applySysRecord(b, st, &rec, err)
                                 : applyDataRecord(b, st, cf, &rec, err);
        if (ok != C_OK) {
            stBatchDiscard(b);
            return C_ERR;
        }
        if (cf == ST_CF_SYS && stSysKeyIsLocal(st, rec.key, rec.klen)) continue;
        rocksdb_column_family_handle_t *h = st->cf[cf];
        switch (rec.tag) {
        case REP_TAG_CF_PUT:
            rocksdb_writebatch_put_cf(wb, h, rec.key, rec.klen, rec.val, rec.vlen);
            break;
        case REP_TAG_CF_DELETE:
            rocksdb_writebatch_delete_cf(wb, h, rec.key, rec.klen);
            break;
        case REP_TAG_CF_MERGE:
            rocksdb_writebatch_merge_cf(wb, h, rec.key, rec.klen, rec.val, rec.vlen);
            break;
        case REP_TAG_CF_RANGE_DELETE:
            rocksdb_writebatch_delete_range_cf(wb, h, rec.key, rec.klen, rec.val, rec.vlen);
            break;
        }
    }
    if (rc < 0 || seen != want) {
        stBatchDiscard(b);
        return applyBad(err, rc < 0 ? "malformed WriteBatch" : "WriteBatch record count mismatch");
    }
    /* Invariant 1. */
    rocksdb_writebatch_put_cf(wb, st->cf[ST_CF_SYS], REPL_KEY_PREFIX "state",
                              strlen(REPL_KEY_PREFIX "state"), state, slen);
    return stBatchCommit(b, err);
}

/* ---- Full sync, receiving side ---------------------------------------------- */

int stSyncBegin(stRemote *r, char **err) {
    stEngine *st = r->st;
    stBatch *b = stBatchNewRaw(st);
    rocksdb_writebatch_t *wb = stBatchRawWb(b);
    static const char lo[ENC_DB_PREFIX_BYTES] = {0, 0};
    static const char hi[ENC_DB_PREFIX_BYTES] = {'\xff', '\xff'};
    static const int data_cfs[] = {ST_CF_META, ST_CF_SUB, ST_CF_ZSCORE};
    for (size_t i = 0; i < sizeof(data_cfs) / sizeof(data_cfs[0]); i++)
        rocksdb_writebatch_delete_range_cf(wb, st->cf[data_cfs[i]], lo, sizeof(lo), hi, sizeof(hi));
    char end[ENC_EXPIRE_KEY_LEN(0) + 1];
    memset(end, 0xff, sizeof(end));
    rocksdb_writebatch_delete_range_cf(wb, st->cf[ST_CF_EXPIRE], "", 0, end, sizeof(end));
    rocksdb_writebatch_delete_range_cf(wb, st->cf[ST_CF_DEFAULT], "", 0, end, sizeof(end));
    /* sys: everything that came from other nodes, and the replication state
     * (invariant 2); the node id and this node's origin seq stay. */
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, st->ropts, st->cf[ST_CF_SYS]);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl;
        const char *k = rocksdb_iter_key(it, &kl);
        int keep = stSysKeyIsLocal(st, k, kl) && !(kl >= 5 && !memcmp(k, REPL_KEY_PREFIX, 5));
        if (!keep) rocksdb_writebatch_delete_cf(wb, st->cf[ST_CF_SYS], k, kl);
    }
    rocksdb_iter_destroy(it);
    stBatchRawDropDb(b, -1);
    stBatchRawFlushesExpire(b);
    for (int p = 0; p < st->npdb; p++) {
        for (int which = 0; which < 3; which++) stBatchRawCount(b, p, which, 1, 0);
    }
    uint16_t *map = malloc(sizeof(uint16_t) * (size_t)st->npdb);
    if (!map) abort();
    for (int p = 0; p < st->npdb; p++) map[p] = (uint16_t)p;
    stBatchRawDbMap(b, map);
    return stBatchCommit(b, err);
}

/* Chunk record: u8 ST_CF_* | varint klen | key | varint vlen | value. */
int stSyncLoad(stRemote *r, const char *chunk, size_t len, char **err) {
    stEngine *st = r->st;
    stBatch *b = stBatchNewRaw(st);
    rocksdb_writebatch_t *wb = stBatchRawWb(b);
    size_t pos = 0;
    while (pos < len) {
        int cf = (unsigned char)chunk[pos++];
        uint64_t kl, vl;
        size_t n = encGetVarint(chunk + pos, len - pos, &kl);
        if (!n || cf >= ST_CF_COUNT || kl > len - pos - n) goto bad;
        const char *key = chunk + pos + n;
        pos += n + kl;
        if (!(n = encGetVarint(chunk + pos, len - pos, &vl)) || vl > len - pos - n) goto bad;
        const char *val = chunk + pos + n;
        pos += n + vl;
        if (cf == ST_CF_SYS && stSysKeyIsLocal(st, key, kl)) continue;
        rocksdb_writebatch_put_cf(wb, st->cf[cf], key, kl, val, vl);
    }
    return stBatchCommit(b, err);
bad:
    stBatchDiscard(b);
    if (err) *err = strdup("ERR malformed full sync chunk");
    return C_ERR;
}

/* Reads the db map and every count back from disk after a full sync. */
static int syncReload(stEngine *st, uint16_t *map, char **err) {
    char *v = NULL;
    size_t vl = 0, n = 0;
    if (stSysGet(st, ENC_SYS_DBMAP, strlen(ENC_SYS_DBMAP), &v, &vl, err) != C_OK) return C_ERR;
    if (v) {
        int rc = encDbMapDecode(v, vl, map, ST_MAX_DATABASES, &n);
        rocksdb_free(v);
        if (rc != 0 || n > (size_t)st->npdb) {
            if (err) *err = strdup("ERR the master's db map does not fit this node's databases");
            return C_ERR;
        }
    }
    for (size_t i = n; i < (size_t)st->npdb; i++) map[i] = (uint16_t)i;
    return stReadCounts(st, err);
}

int stSyncEnd(stRemote *r, const char *state, size_t slen, char **err) {
    stEngine *st = r->st;
    stBatch *b = stBatchNewRaw(st);
    rocksdb_writebatch_t *wb = stBatchRawWb(b);
    rocksdb_writebatch_put_cf(wb, st->cf[ST_CF_SYS], REPL_KEY_PREFIX "state",
                              strlen(REPL_KEY_PREFIX "state"), state, slen);
    if (stBatchCommit(b, err) != C_OK) return C_ERR;
    uint16_t *map = malloc(sizeof(uint16_t) * ST_MAX_DATABASES);
    if (!map) abort();
    int rc = syncReload(st, map, err);
    if (rc == C_OK) {
        for (int i = 0; i < st->npdb; i++) {
            atomic_store(&st->l2p[i], map[i]);
            atomic_store(&st->p2l[map[i]], i < st->databases ? i : -1);
            atomic_store(&st->random_wmax[i], 0);
        }
    }
    free(map);
    hotsetDropDb(st->hs, -1);
    /* The expire index was replaced wholesale: the next scan starts over. */
    pthread_mutex_lock(&st->commit_mu);
    st->expire_cursor_ms = 0;
    pthread_mutex_unlock(&st->commit_mu);
    return rc;
}

/* ---- The replication layer's own records ------------------------------------ */

char *stReplGet(stEngine *st, const char *name, size_t *len) {
    char key[64], *v = NULL, *err = NULL;
    size_t vl = 0;
    int kl = snprintf(key, sizeof(key), REPL_KEY_PREFIX "%s", name);
    if (stSysGet(st, key, (size_t)kl, &v, &vl, &err) != C_OK) {
        stLogError("reading replication state", err);
        free(err);
        return NULL;
    }
    if (!v) return NULL;
    char *out = malloc(vl + 1);
    if (!out) abort();
    memcpy(out, v, vl);
    out[vl] = '\0';
    rocksdb_free(v);
    *len = vl;
    return out;
}

int stReplPut(stEngine *st, const char *name, const char *val, size_t len) {
    char key[64], *rerr = NULL;
    int kl = snprintf(key, sizeof(key), REPL_KEY_PREFIX "%s", name);
    /* Under commit_mu like every write (stSnapOpen reads the latest
     * sequence under it). */
    pthread_mutex_lock(&st->commit_mu);
    rocksdb_put_cf(st->db, st->wopts_sync, st->cf[ST_CF_SYS], key, (size_t)kl, val, len, &rerr);
    pthread_mutex_unlock(&st->commit_mu);
    if (rerr) {
        stLogError("writing replication state", rerr);
        rocksdb_free(rerr);
        return C_ERR;
    }
    return C_OK;
}

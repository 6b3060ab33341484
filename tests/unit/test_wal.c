/* test_wal.c - cmocka tests of storage's replication entry points (storage.h,
 * "Replication"): the tailing WAL reader, applying another node's batches,
 * the full sync (snapshot chunks on the sender, Begin/Load/End on the
 * receiver), rejection of malformed input and the WAL gap after retention.
 *
 * Every test runs two real engines in two mkdtemp directories: A, the
 * sender, and B, the receiver.  The fixture owns both (it closes them and
 * removes the directories even when a test fails).  "Same data" is checked
 * three ways: per-db key and TTL counts, a full iteration of every logical
 * db (key, value and the whole meta, hlc and origin included), and point
 * reads through B's hot set (a stale cached object shows up there).
 *
 * The last three tests pin down defects found while writing these tests
 * (and fixed in storage/): truncated reps, loose column family id lists,
 * and a purged position reported as "caught up" while the WAL was empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <ftw.h>
#include <time.h>
#include <unistd.h>

/* Internal header: stWalPurge (the retention routine) and the rep parser. */
#include "../../storage/st_internal.h"

#define NDB 16                  /* logical databases of every engine here */
#define PUMP_MAX 256            /* batches one walPump records */
#define SNAP_CHUNK_BYTES 512    /* small chunks, so a full sync takes many */
#define GAP_WAIT_MS 10000       /* bound on waiting for WAL files to move */
#define GAP_ROUNDS 4            /* flushed rounds of writes before the purge */
#define GAP_KEYS 50             /* keys per round */
#define GAP_VAL_BYTES 8192      /* incompressible value bytes per key */
#define FAR_FUTURE_MS (stWallMs() + 3600 * 1000)

/* ---- Fixture ------------------------------------------------------------------ */

typedef struct walFixture {
    char dir_a[64], dir_b[64];
    stEngine *a, *b; /* closed by the teardown if still open */
    stSnap *snap;    /* likewise: RocksDB aborts closing a db with a live snapshot */
} walFixture;

static int rmOne(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static void rmTree(const char *dir) { nftw(dir, rmOne, 16, FTW_DEPTH | FTW_PHYS); }

static int setupPair(void **state) {
    walFixture *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    snprintf(f->dir_a, sizeof(f->dir_a), "/tmp/strata-test-wal-A-XXXXXX");
    snprintf(f->dir_b, sizeof(f->dir_b), "/tmp/strata-test-wal-B-XXXXXX");
    *state = f;
    if (mkdtemp(f->dir_a) && mkdtemp(f->dir_b)) return 0;
    rmTree(f->dir_a);
    free(f);
    return -1;
}

static int teardownPair(void **state) {
    walFixture *f = *state;
    stSnapClose(f->snap);
    stClose(f->a);
    stClose(f->b);
    rmTree(f->dir_a);
    rmTree(f->dir_b);
    int left = access(f->dir_a, F_OK) == 0 || access(f->dir_b, F_OK) == 0;
    free(f);
    return left ? -1 : 0;
}

/* ---- Helpers: engines and writes ----------------------------------------------- */

static void sleepMs(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static stEngine *openAt(const char *dir, uint64_t wal_limit_mb, uint64_t wal_ttl_s) {
    stOptions o = {.dir = dir, .databases = NDB, .fsync_mode = ST_FSYNC_NO,
                   .hotset_max_bytes = 1 << 20, .wal_ttl_seconds = wal_ttl_s,
                   .wal_size_limit_mb = wal_limit_mb};
    char *err = NULL;
    stEngine *st = stOpen(&o, &err);
    if (!st) fail_msg("stOpen %s: %s", dir, err ? err : "?");
    assert_null(err);
    return st;
}

static stEngine *openDefault(const char *dir) { return openAt(dir, 64, 3600); }

/* Creates a RocksDB in dir with one extra column family before Strata ever
 * opens it, so Strata's own column families get other ids there than on a
 * fresh node (and other than their ST_CF_* index): the sender's ids must
 * then really be mapped. */
static void precreateExtraCf(const char *dir) {
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, dir, &err);
    assert_null(err);
    rocksdb_column_family_handle_t *h = rocksdb_create_column_family(db, o, "test_extra", &err);
    assert_null(err);
    rocksdb_column_family_handle_destroy(h);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
}

static stMeta strMeta(uint64_t expire_ms) {
    stMeta m = {.type = ST_TYPE_STRING, .expire_ms = expire_ms};
    return m;
}

/* Sets key (binary, klen bytes) to val in its own batch, passing the
 * current meta as `old` the way a command does. */
static void setKeyN(stEngine *st, int db, const char *key, size_t klen, const char *val,
                    size_t vlen, uint64_t expire_ms) {
    stObj *cur = stGet(st, db, key, klen);
    stMeta m = strMeta(expire_ms);
    stObj *o = stObjNew(&m, val, vlen);
    stBatch *b = stBatchNew(st);
    stBatchPut(b, db, key, klen, cur ? &cur->meta : NULL, o);
    char *err = NULL;
    if (stBatchCommit(b, &err) != C_OK) fail_msg("commit: %s", err);
    stObjRelease(o);
    if (cur) stObjRelease(cur);
}

static void setKey(stEngine *st, int db, const char *key, const char *val, uint64_t expire_ms) {
    setKeyN(st, db, key, strlen(key), val, strlen(val), expire_ms);
}

static void delKey(stEngine *st, int db, const char *key) {
    stObj *cur = stGet(st, db, key, strlen(key));
    assert_non_null(cur);
    stBatch *b = stBatchNew(st);
    stBatchDel(b, db, key, strlen(key), &cur->meta);
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    stObjRelease(cur);
}

static void flushDb(stEngine *st, int db) {
    stBatch *b = stBatchNew(st);
    stBatchFlushDb(b, db);
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
}

static void assertValue(stEngine *st, int db, const char *key, const char *val) {
    stObj *o = stGet(st, db, key, strlen(key));
    if (!o) fail_msg("db %d key %s: missing, expected \"%s\"", db, key, val);
    assert_int_equal(o->vlen, strlen(val));
    assert_string_equal(o->val, val);
    stObjRelease(o);
}

static void assertAbsent(stEngine *st, int db, const char *key) {
    stObj *o = stGet(st, db, key, strlen(key));
    if (o) {
        stObjRelease(o);
        fail_msg("db %d key %s: present, expected absent", db, key);
    }
}

/* ---- Helpers: comparing two engines --------------------------------------------- */

typedef struct dumpEntry {
    int db;
    char *key, *val; /* heap copies */
    size_t klen, vlen;
    stMeta meta;
} dumpEntry;

typedef struct dump {
    dumpEntry *e;
    size_t n, cap;
    uint64_t counts[NDB], expires[NDB];
} dump;

static char *memDup(const char *p, size_t n) {
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Every key of every logical db, in (db, key) order, plus the counts.  The
 * iteration must agree with the exact counts. */
static void dumpTake(stEngine *st, dump *d) {
    memset(d, 0, sizeof(*d));
    for (int db = 0; db < NDB; db++) {
        d->counts[db] = stKeyCount(st, db);
        d->expires[db] = stExpiresCount(st, db);
        uint64_t keys = 0, ttls = 0;
        stIter *it = stIterNew(st, db, NULL, 0);
        assert_non_null(it);
        for (; stIterValid(it); stIterNext(it)) {
            if (d->n == d->cap) {
                d->cap = d->cap ? d->cap * 2 : 64;
                d->e = realloc(d->e, d->cap * sizeof(*d->e));
                assert_non_null(d->e);
            }
            dumpEntry *e = &d->e[d->n++];
            size_t kl;
            const char *k = stIterKey(it, &kl);
            stObj *o = stIterObj(it);
            assert_non_null(o);
            e->db = db;
            e->key = memDup(k, kl);
            e->klen = kl;
            e->val = memDup(o->val, o->vlen);
            e->vlen = o->vlen;
            e->meta = o->meta;
            keys++;
            ttls += o->meta.expire_ms != 0;
            stObjRelease(o);
        }
        stIterFree(it);
        if (keys != d->counts[db] || ttls != d->expires[db])
            fail_msg("db %d: iterated %llu keys (%llu with TTL), counts say %llu (%llu)", db,
                     (unsigned long long)keys, (unsigned long long)ttls,
                     (unsigned long long)d->counts[db], (unsigned long long)d->expires[db]);
    }
}

static void dumpFree(dump *d) {
    for (size_t i = 0; i < d->n; i++) {
        free(d->e[i].key);
        free(d->e[i].val);
    }
    free(d->e);
    memset(d, 0, sizeof(*d));
}

static void assertMetaEqual(const stMeta *x, const stMeta *y, const char *key) {
    if (x->type != y->type || x->flags != y->flags || x->expire_ms != y->expire_ms ||
        x->incarnation != y->incarnation || x->count != y->count || x->hlc != y->hlc ||
        x->origin != y->origin)
        fail_msg("key %s: meta differs (expire %llu/%llu hlc %llx/%llx origin %llx/%llx)", key,
                 (unsigned long long)x->expire_ms, (unsigned long long)y->expire_ms,
                 (unsigned long long)x->hlc, (unsigned long long)y->hlc,
                 (unsigned long long)x->origin, (unsigned long long)y->origin);
}

static void assertDumpsEqual(const dump *x, const dump *y) {
    for (int db = 0; db < NDB; db++) {
        if (x->counts[db] != y->counts[db] || x->expires[db] != y->expires[db])
            fail_msg("db %d: %llu keys / %llu with TTL vs %llu / %llu", db,
                     (unsigned long long)x->counts[db], (unsigned long long)x->expires[db],
                     (unsigned long long)y->counts[db], (unsigned long long)y->expires[db]);
    }
    for (size_t i = 0; i < x->n && i < y->n; i++) {
        const dumpEntry *p = &x->e[i], *q = &y->e[i];
        if (p->db != q->db || p->klen != q->klen || memcmp(p->key, q->key, p->klen))
            fail_msg("entry %zu: db %d key %s vs db %d key %s", i, p->db, p->key, q->db, q->key);
        if (p->vlen != q->vlen || memcmp(p->val, q->val, p->vlen))
            fail_msg("db %d key %s: value \"%s\" vs \"%s\"", p->db, p->key, p->val, q->val);
        assertMetaEqual(&p->meta, &q->meta, p->key);
    }
    assert_int_equal(x->n, y->n);
}

/* Point reads of every key of `want` on st (hot set first, then RocksDB). */
static void assertReadsMatch(stEngine *st, const dump *want) {
    for (size_t i = 0; i < want->n; i++) {
        const dumpEntry *e = &want->e[i];
        stObj *o = stGet(st, e->db, e->key, e->klen);
        if (!o) fail_msg("db %d key %s: missing on point read", e->db, e->key);
        if (o->vlen != e->vlen || memcmp(o->val, e->val, e->vlen))
            fail_msg("db %d key %s: point read \"%s\", expected \"%s\"", e->db, e->key, o->val,
                     e->val);
        assertMetaEqual(&o->meta, &e->meta, e->key);
        stObjRelease(o);
    }
}

/* The whole visible state of b equals a's: counts, iteration, point reads. */
static void assertSameData(stEngine *a, stEngine *b) {
    dump da, dbb;
    dumpTake(a, &da);
    dumpTake(b, &dbb);
    assertDumpsEqual(&da, &dbb);
    assertReadsMatch(b, &da);
    dumpFree(&da);
    dumpFree(&dbb);
}

/* The expire index as text lines "db key expire_ms", sorted as scanned. */
typedef struct expList {
    char lines[1024][96];
    size_t n;
} expList;

static int expCollect(void *ud, int db, const char *key, size_t klen, uint64_t expire_ms) {
    expList *l = ud;
    if (l->n < sizeof(l->lines) / sizeof(l->lines[0]))
        snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%d %.*s %llu", db, (int)klen, key,
                 (unsigned long long)expire_ms);
    return 0;
}

/* Both expire indexes hold the same entries (stale ones included) from
 * each engine's scan cursor on: call at most once per engine opening, when
 * nothing is due (a scan moves the cursor past what it visited). */
static void assertSameExpireIndex(stEngine *a, stEngine *b) {
    expList *la = calloc(1, sizeof(*la)), *lb = calloc(1, sizeof(*lb));
    assert_non_null(la);
    assert_non_null(lb);
    stExpireScan(a, UINT64_MAX, 1024, expCollect, la);
    stExpireScan(b, UINT64_MAX, 1024, expCollect, lb);
    for (size_t i = 0; i < la->n && i < lb->n; i++)
        if (strcmp(la->lines[i], lb->lines[i]))
            fail_msg("expire index entry %zu: \"%s\" vs \"%s\"", i, la->lines[i], lb->lines[i]);
    assert_int_equal(la->n, lb->n);
    free(la);
    free(lb);
}

static void assertState(stEngine *st, const char *want) {
    size_t len = 0;
    char *s = stReplGet(st, "state", &len);
    if (!want) {
        if (s) fail_msg("state is \"%s\", expected none", s);
        return;
    }
    if (!s) fail_msg("no state, expected \"%s\"", want);
    assert_int_equal(len, strlen(want));
    assert_string_equal(s, want);
    free(s);
}

/* ---- Helpers: reading a WAL and applying it -------------------------------------- */

typedef struct walSeen {
    uint64_t seq, next;
    int has_header;
    uint64_t origin, origin_seq, hlc;
} walSeen;

/* Reads batches until ST_WAL_END (a gap fails the test); checks each
 * batch's rep against its position.  Returns how many were stored in out. */
static size_t walReadAll(stWalIter *w, walSeen *out, size_t max) {
    stWalBatch b;
    size_t n = 0;
    int rc;
    while ((rc = stWalNext(w, &b)) == ST_WAL_BATCH) {
        assert_true(b.len >= REP_HEADER_BYTES);
        assert_int_equal(encGetU64LE(b.rep), b.seq); /* the rep's own sequence */
        assert_true(b.next > b.seq);
        assert_true(n < max);
        out[n++] = (walSeen){b.seq, b.next, b.has_header, b.origin, b.origin_seq, b.hlc};
    }
    assert_int_equal(rc, ST_WAL_END);
    return n;
}

/* Positions are contiguous and the Strata batches (origin_seq > 0) of
 * `origin` carry origin seqs first_oseq, first_oseq + 1, ... with rising
 * HLCs.  Batches before the first of them may lack a header or be the
 * node-id housekeeping batch (origin_seq 0).  Returns the last origin seq. */
static uint64_t assertWalRun(const walSeen *s, size_t n, uint64_t origin, uint64_t first_oseq) {
    uint64_t want = first_oseq, last_hlc = 0;
    int started = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && s[i].seq != s[i - 1].next)
            fail_msg("batch %zu starts at %llu, the previous one ended at %llu", i,
                     (unsigned long long)s[i].seq, (unsigned long long)s[i - 1].next);
        if (!started && (!s[i].has_header || s[i].origin_seq == 0)) continue;
        started = 1;
        assert_true(s[i].has_header);
        assert_int_equal(s[i].origin, origin);
        assert_int_equal(s[i].origin_seq, want);
        assert_true(s[i].hlc > last_hlc);
        last_hlc = s[i].hlc;
        want++;
    }
    return want - 1;
}

/* A's WAL applied to B batch by batch, the way the replication receiver
 * does it, but every batch: also the node-id batch and the headerless
 * ones of stReplPut, which the real sender skips. */
typedef struct walPump {
    stWalIter *w;
    stRemote *r;
    uint64_t origin;  /* A's node id */
    char state[64];   /* the last state passed to stApplyBatch */
    size_t n;         /* batches applied */
    int has_header[PUMP_MAX];               /* theirs, in order */
    uint64_t oseq[PUMP_MAX], hlc[PUMP_MAX]; /* their headers (if any) */
} walPump;

static size_t pumpAll(walPump *p) {
    stWalBatch b;
    size_t n = 0;
    int rc;
    while ((rc = stWalNext(p->w, &b)) == ST_WAL_BATCH) {
        if (b.has_header) assert_int_equal(b.origin, p->origin);
        snprintf(p->state, sizeof(p->state), "next=%llu", (unsigned long long)b.next);
        char *err = NULL;
        if (stApplyBatch(p->r, b.rep, b.len, p->state, strlen(p->state), &err) != C_OK)
            fail_msg("stApplyBatch of [%llu, %llu): %s", (unsigned long long)b.seq,
                     (unsigned long long)b.next, err ? err : "?");
        assert_null(err);
        assert_true(p->n < PUMP_MAX);
        p->has_header[p->n] = b.has_header;
        p->oseq[p->n] = b.has_header ? b.origin_seq : 0;
        p->hlc[p->n] = b.has_header ? b.hlc : 0;
        p->n++;
        n++;
    }
    assert_int_equal(rc, ST_WAL_END);
    return n;
}

static stRemote *remoteFor(stEngine *sender, stEngine *receiver) {
    char ids[128], *err = NULL;
    stCfIds(sender, ids, sizeof(ids));
    stRemote *r = stRemoteNew(receiver, ids, &err);
    if (!r) fail_msg("stRemoteNew(\"%s\"): %s", ids, err ? err : "?");
    assert_null(err);
    return r;
}

/* ---- 1. WAL tailing ---------------------------------------------------------------- */

static void test_wal_tail(void **state) {
    walFixture *f = *state;
    stEngine *a = f->a = openDefault(f->dir_a);
    uint64_t node = stNodeId(a);
    char k[32];
    for (int i = 1; i <= 5; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        setKey(a, 0, k, "v", 0);
    }
    assert_int_equal(stOriginSeq(a), 5);

    walSeen s[64];
    stWalIter *w = stWalOpen(a, 1);
    size_t n = walReadAll(w, s, 64);
    assert_true(n >= 5);
    assert_int_equal(s[0].seq, 1);
    assert_int_equal(s[n - 1].next, stLatestSeq(a) + 1);
    assert_int_equal(assertWalRun(s, n, node, 1), 5);
    walSeen last = s[n - 1];

    /* Caught up: END again, then the same iterator follows new commits. */
    stWalBatch b;
    assert_int_equal(stWalNext(w, &b), ST_WAL_END);
    for (int i = 6; i <= 8; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        setKey(a, i % 2, k, "v", 0);
    }
    n = walReadAll(w, s + 1, 63);
    s[0] = last;
    assert_int_equal(n, 3);
    assert_int_equal(assertWalRun(s, n + 1, node, 5), 8);
    last = s[n];

    /* The WAL moves to a new file (flush): the same iterator still follows. */
    assert_int_equal(stFlushToDisk(a), C_OK);
    setKey(a, 0, "after-flush-1", "v", 0);
    setKey(a, 0, "after-flush-2", "v", 0);
    n = walReadAll(w, s + 1, 63);
    s[0] = last;
    assert_int_equal(n, 2);
    assert_int_equal(assertWalRun(s, n + 1, node, 8), 10);
    assert_int_equal(s[n].next, stLatestSeq(a) + 1);
    assert_int_equal(stWalNext(w, &b), ST_WAL_END);
    stWalClose(w);

    /* Opening past the end: END, then the next commit. */
    uint64_t from = stLatestSeq(a) + 1;
    w = stWalOpen(a, from);
    assert_int_equal(stWalNext(w, &b), ST_WAL_END);
    assert_int_equal(stWalNext(w, &b), ST_WAL_END);
    setKey(a, 3, "late", "v", 0);
    assert_int_equal(stWalNext(w, &b), ST_WAL_BATCH);
    assert_int_equal(b.seq, from);
    assert_int_equal(b.origin_seq, 11);
    assert_int_equal(stWalNext(w, &b), ST_WAL_END);
    stWalClose(w);

    /* Opening at a batch's first sequence (even one in an archived file)
     * starts with that batch. */
    w = stWalOpen(a, 1);
    n = walReadAll(w, s, 64);
    stWalClose(w);
    for (size_t i = 0; i < n; i++) {
        stWalIter *w2 = stWalOpen(a, s[i].seq);
        assert_int_equal(stWalNext(w2, &b), ST_WAL_BATCH);
        assert_int_equal(b.seq, s[i].seq);
        assert_int_equal(b.next, s[i].next);
        assert_int_equal(b.origin_seq, s[i].origin_seq);
        stWalClose(w2);
    }
    stWalClose(NULL);
}

/* ---- 2. Applying batches ------------------------------------------------------------- */

static void test_apply_converges(void **state) {
    walFixture *f = *state;
    precreateExtraCf(f->dir_a);
    stEngine *a = f->a = openDefault(f->dir_a);
    stEngine *b = f->b = openDefault(f->dir_b);
    char ida[128], idb[128];
    stCfIds(a, ida, sizeof(ida));
    stCfIds(b, idb, sizeof(idb));
    assert_string_not_equal(ida, idb); /* the mapping is not the identity */
    uint64_t node_b = stNodeId(b);
    /* Each node's own replication records: A's are in its WAL (headerless
     * batches) and must not reach B. */
    assert_int_equal(stReplPut(b, "id", "B-id", 4), C_OK);
    assert_int_equal(stReplPut(a, "id", "A-id", 4), C_OK);
    assert_int_equal(stReplPut(a, "state", "A-state", 7), C_OK);
    uint64_t b_from = stLatestSeq(b) + 1; /* B's WAL from here on: applied batches */

    walPump p = {.w = stWalOpen(a, 1), .r = remoteFor(a, b), .origin = stNodeId(a)};
    char k[32];

    /* Writes in two dbs. */
    for (int i = 1; i <= 5; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        setKey(a, 0, k, "v", 0);
    }
    for (int i = 1; i <= 3; i++) {
        snprintf(k, sizeof(k), "x%d", i);
        setKey(a, 1, k, "in-db1", 0);
    }
    setKeyN(a, 1, "bin\0key", 7, "", 0, 0);
    assert_true(pumpAll(&p) >= 9);
    assertSameData(a, b); /* also caches B's keys in its hot set */
    assertState(b, p.state);

    /* Overwrite (B's cached object must go), delete, keys with a TTL. */
    setKey(a, 0, "k1", "v1-new", 0);
    delKey(a, 0, "k2");
    uint64_t exp0 = FAR_FUTURE_MS, exp1 = FAR_FUTURE_MS + 1000;
    setKey(a, 0, "ttl", "t", exp0);
    setKey(a, 1, "ttl1", "t1", exp1);
    setKey(a, 0, "ttl-gone", "t", exp0);
    setKey(a, 0, "ttl-gone", "persisted", 0); /* TTL removed */
    assert_int_equal(pumpAll(&p), 6);
    assertSameData(a, b);
    assertValue(b, 0, "k1", "v1-new");
    assertAbsent(b, 0, "k2");
    stObj *o = stGet(b, 1, "ttl1", 4);
    assert_non_null(o);
    assert_int_equal(o->meta.expire_ms, exp1);
    stObjRelease(o);
    assert_int_equal(stExpiresCount(b, 0), 1);
    assert_int_equal(stExpiresCount(b, 1), 1);
    assertState(b, p.state);

    /* FLUSHDB of db 1, then a write into it. */
    flushDb(a, 1);
    setKey(a, 1, "y1", "after-flush", 0);
    assert_int_equal(pumpAll(&p), 2);
    assertSameData(a, b);
    assertAbsent(b, 1, "x1");
    assert_int_equal(stKeyCount(b, 1), 1);
    assert_int_equal(stExpiresCount(b, 1), 0);

    /* SWAPDB 0 2. */
    setKey(a, 2, "z1", "in-db2", 0);
    setKey(a, 2, "z2", "in-db2", 0);
    assert_int_equal(pumpAll(&p), 2);
    assertSameData(a, b); /* caches z1, z2 and the k* keys on B */
    assert_int_equal(stSwapDb(a, 0, 2), C_OK);
    assert_int_equal(pumpAll(&p), 1);
    assertSameData(a, b);
    assertValue(b, 0, "z1", "in-db2");
    assertValue(b, 2, "k1", "v1-new");
    assertAbsent(b, 0, "k1");
    assertAbsent(b, 2, "z1");
    assert_int_equal(stKeyCount(b, 0), 2);
    assert_int_equal(stExpiresCount(b, 2), 1);

    /* An applied entry below B's expiry scan cursor is still scanned
     * (batch.c invariant 4, for replicated batches). */
    expList *due = calloc(1, sizeof(*due));
    assert_non_null(due);
    uint64_t t0 = stWallMs();
    assert_int_equal(stExpireScan(b, t0, 1024, expCollect, due), 0); /* cursor: t0 + 1 */
    setKey(a, 0, "expired", "x", 1000); /* long past: below B's cursor */
    assert_int_equal(pumpAll(&p), 1);
    /* A later "now", or the scan restarts from 0 anyway (iter.c invariant 3). */
    while (stWallMs() <= t0 + 1) sleepMs(1);
    assert_int_equal(stExpireScan(b, stWallMs(), 1024, expCollect, due), 1);
    assert_string_equal(due->lines[0], "0 expired 1000");
    free(due);
    delKey(a, 0, "expired");

    /* Writes through the swapped map. */
    setKey(a, 0, "after-swap", "v", 0);
    delKey(a, 2, "k3");
    assert_int_equal(pumpAll(&p), 3);
    assertSameData(a, b);
    assertSameExpireIndex(a, b);
    assertState(b, p.state);
    assert_int_equal(stOriginSeq(b), 0); /* B never wrote on its own */
    size_t len = 0;
    char *id = stReplGet(b, "id", &len);
    assert_non_null(id);
    assert_string_equal(id, "B-id");
    free(id);

    /* B's WAL holds the applied batches, one for one, with A's headers. */
    walSeen *s = calloc(PUMP_MAX + 8, sizeof(*s));
    assert_non_null(s);
    stWalIter *wb = stWalOpen(b, b_from);
    size_t n = walReadAll(wb, s, PUMP_MAX + 8);
    stWalClose(wb);
    assert_int_equal(n, p.n);
    assert_int_equal(s[0].seq, b_from);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(s[i].has_header, p.has_header[i]);
        if (!s[i].has_header) continue;
        assert_int_equal(s[i].origin, stNodeId(a));
        assert_int_equal(s[i].origin_seq, p.oseq[i]);
        assert_int_equal(s[i].hlc, p.hlc[i]);
    }
    free(s);
    stRemoteFree(p.r);

    /* Everything (counts, db map, state) was persisted with the data, and
     * B kept its own node id and replication id. */
    stClose(b);
    b = f->b = openDefault(f->dir_b);
    assertSameData(a, b);
    assertState(b, p.state);
    assertValue(b, 0, "z1", "in-db2");
    assert_int_equal(stNodeId(b), node_b);
    id = stReplGet(b, "id", &len);
    assert_non_null(id);
    assert_string_equal(id, "B-id");
    free(id);

    /* B comes back (a new stRemote) and follows a FLUSHALL. */
    p.r = remoteFor(a, b);
    flushDb(a, -1);
    setKey(a, 5, "after-flushall", "v", FAR_FUTURE_MS);
    assert_int_equal(pumpAll(&p), 2);
    assertSameData(a, b);
    for (int db = 0; db < NDB; db++) assert_int_equal(stKeyCount(b, db), db == 5);
    assert_int_equal(stExpiresCount(b, 5), 1);
    assertAbsent(b, 0, "z1");
    assertState(b, p.state);
    stWalClose(p.w);
    stRemoteFree(p.r);
}

/* ---- 3. Full sync ------------------------------------------------------------------- */

static void test_full_sync(void **state) {
    walFixture *f = *state;
    stEngine *a = f->a = openDefault(f->dir_a);
    stEngine *b = f->b = openDefault(f->dir_b);
    char k[32], v[128];
    uint64_t exp = FAR_FUTURE_MS;

    /* A: 300 keys over two dbs, some with a TTL; then SWAPDB 3 4, so the
     * snapshot carries a db map that is not the identity. */
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof(k), "a:%d", i);
        int vl = snprintf(v, sizeof(v), "val-%d-%.*s", i, i % 60,
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        setKeyN(a, 0, k, strlen(k), v, (size_t)vl, i % 7 == 0 ? exp + i : 0);
    }
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof(k), "b:%d", i);
        snprintf(v, sizeof(v), "bee-%d", i);
        setKey(a, 3, k, v, i % 5 == 0 ? exp + 1000 + i : 0);
    }
    assert_int_equal(stSwapDb(a, 3, 4), C_OK);
    assert_int_equal(stReplPut(a, "id", "A-id", 4), C_OK);

    /* B: its own unrelated data, its own swap, its own state. */
    for (int i = 0; i < 10; i++) {
        snprintf(k, sizeof(k), "mine:%d", i);
        setKey(b, 0, k, "b-own", 0);
    }
    setKey(b, 0, "a:1", "b-own-version", 0);
    setKey(b, 5, "m5", "b-own", exp);
    assert_int_equal(stSwapDb(b, 0, 1), C_OK);
    assert_int_equal(stReplPut(b, "state", "old-state", 9), C_OK);
    assertValue(b, 1, "mine:1", "b-own"); /* cached in B's hot set */
    uint64_t node_b = stNodeId(b), oseq_b = stOriginSeq(b);
    assert_int_equal(oseq_b, 13); /* 12 sets and the swap */

    /* Snapshot, then writes on A the snapshot must not contain. */
    uint64_t seq = 0;
    stSnap *snap = f->snap = stSnapOpen(a, &seq);
    assert_non_null(snap);
    assert_int_equal(seq, stLatestSeq(a));
    dump want;
    dumpTake(a, &want); /* nothing else writes A: this is the snapshot */
    assert_int_equal(want.n, 300);
    setKey(a, 0, "late", "after-snapshot", 0);
    setKey(a, 0, "a:0", "changed-after-snapshot", 0);
    delKey(a, 0, "a:2");
    setKey(a, 4, "b:0", "changed-after-snapshot", 0);

    /* Receiver. */
    stRemote *r = remoteFor(a, b);
    char *err = NULL;
    assert_int_equal(stSyncBegin(r, &err), C_OK);
    assert_null(err);
    assertState(b, NULL); /* invariant 2: a crash now asks for a full sync again */
    assertAbsent(b, 1, "mine:1");
    assert_int_equal(stKeyCount(b, 0), 0);
    assert_int_equal(stKeyCount(b, 1), 0);
    assert_int_equal(stExpiresCount(b, 5), 0);

    char *buf = NULL;
    size_t cap = 0, chunks = 0, bytes = 0;
    int more;
    do {
        size_t len = 0;
        more = stSnapFill(snap, &buf, &len, &cap, SNAP_CHUNK_BYTES);
        if (!more && len == 0) break;
        assert_true(len > 0);
        assert_true(len < SNAP_CHUNK_BYTES + 256); /* no record here is longer */
        if (stSyncLoad(r, buf, len, &err) != C_OK) fail_msg("stSyncLoad: %s", err);
        chunks++;
        bytes += len;
    } while (more);
    stSnapClose(snap);
    f->snap = NULL;
    free(buf);
    assert_true(chunks >= 20);
    assert_int_equal(stSyncEnd(r, "snap-state", 10, &err), C_OK);
    assert_null(err);

    /* B is exactly A at the snapshot. */
    dump got;
    dumpTake(b, &got);
    assertDumpsEqual(&want, &got);
    assertReadsMatch(b, &want);
    dumpFree(&got);
    assertState(b, "snap-state");
    assert_int_equal(stNodeId(b), node_b);
    assert_int_equal(stOriginSeq(b), oseq_b);
    assertAbsent(b, 0, "late");
    assertAbsent(b, 0, "mine:1");
    assertAbsent(b, 1, "mine:1");
    assertAbsent(b, 5, "m5");
    assertValue(b, 0, "a:1", "val-1-x");
    assertValue(b, 4, "b:1", "bee-1"); /* A's swap came with the snapshot */
    assertAbsent(b, 3, "b:1");
    size_t idlen = 0;
    char *id = stReplGet(b, "id", &idlen); /* A's own record stayed on A */
    if (id && !strcmp(id, "A-id")) fail_msg("B took A's replication id");
    free(id);

    /* The writes after the snapshot are A's WAL from seq + 1 on. */
    walPump p = {.w = stWalOpen(a, seq + 1), .r = r, .origin = stNodeId(a)};
    stWalBatch first;
    stWalIter *peek = stWalOpen(a, seq + 1);
    assert_int_equal(stWalNext(peek, &first), ST_WAL_BATCH);
    assert_int_equal(first.seq, seq + 1);
    assert_int_equal(first.origin_seq, 302); /* 300 sets and the swap came first */
    stWalClose(peek);
    assert_int_equal(pumpAll(&p), 4);
    for (size_t i = 0; i < p.n; i++) assert_int_equal(p.oseq[i], 302 + i);
    stWalClose(p.w);
    stRemoteFree(r);
    assertSameData(a, b);
    assertSameExpireIndex(a, b); /* B's own TTL entry went with the sync */
    assertState(b, p.state);
    dumpFree(&want);

    /* After a restart B keeps A's data, its own identity and its own seq. */
    stClose(b);
    b = f->b = openDefault(f->dir_b);
    assertSameData(a, b);
    assert_int_equal(stNodeId(b), node_b);
    assert_int_equal(stOriginSeq(b), oseq_b);
    setKey(b, 7, "own-write", "v", 0);
    assert_int_equal(stOriginSeq(b), oseq_b + 1);
    assert_int_equal(stKeyCount(b, 7), 1);
}

/* ---- 4. Malformed input ------------------------------------------------------------- */

/* Writes v as RocksDB's varint32 (LEB128); returns its length. */
static size_t repVarint(char *p, uint32_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (char)v;
    return n;
}

/* Appends one rep record (a Put or, with val NULL, a Delete) to buf. */
static void repAppend(char *buf, size_t *len, uint32_t cf, const char *key, size_t klen,
                      const char *val, size_t vlen) {
    char *p = buf + *len;
    *p++ = (char)(val ? REP_TAG_CF_PUT : REP_TAG_CF_DELETE);
    p += repVarint(p, cf);
    p += repVarint(p, (uint32_t)klen);
    memcpy(p, key, klen);
    p += klen;
    if (val) {
        p += repVarint(p, (uint32_t)vlen);
        memcpy(p, val, vlen);
        p += vlen;
    }
    *len = (size_t)(p - buf);
}

/* A rep header: sequence 0 and the record count. */
static size_t repHeader(char *buf, uint32_t count) {
    memset(buf, 0, REP_HEADER_BYTES);
    memcpy(buf + 8, &count, 4); /* little endian on every host we build on */
    return REP_HEADER_BYTES;
}

/* Column family id (on A) of ST_CF_* index i, from A's stCfIds() text. */
static uint32_t cfIdOf(stEngine *st, int i) {
    char ids[128];
    stCfIds(st, ids, sizeof(ids));
    const char *p = ids;
    for (int j = 0; j < i; j++) p = strchr(p, ',') + 1;
    return (uint32_t)strtoul(p, NULL, 10);
}

typedef struct bSnapshot {
    dump d;
    uint64_t latest;
} bSnapshot;

static void assertApplyRejected(stRemote *r, stEngine *b, const bSnapshot *before,
                                const char *rep, size_t len, const char *what) {
    char *err = NULL;
    int rc = stApplyBatch(r, rep, len, "bad-state", 9, &err);
    if (rc != C_ERR) fail_msg("%s (%zu bytes): accepted", what, len);
    if (!err) fail_msg("%s: no error message", what);
    free(err);
    assert_int_equal(stLatestSeq(b), before->latest); /* nothing written */
    dump now;
    dumpTake(b, &now);
    assertDumpsEqual(&before->d, &now);
    dumpFree(&now);
    assertState(b, "good");
}

/* Record boundaries of rep (offsets after each record). */
static size_t repBoundaries(const char *rep, size_t len, size_t *out, size_t max) {
    size_t pos = 0, n = 0;
    stRepRec rec;
    while (n < max && stRepNext(rep, len, &pos, &rec) == 1) out[n++] = pos;
    return n;
}

/* The last batch of A's WAL, copied into a heap buffer. */
static char *lastBatch(stEngine *a, size_t *len) {
    stWalIter *w = stWalOpen(a, stLatestSeq(a));
    stWalBatch wb;
    assert_int_equal(stWalNext(w, &wb), ST_WAL_BATCH);
    char *rep = memDup(wb.rep, wb.len);
    *len = wb.len;
    stWalClose(w);
    return rep;
}

static void test_malformed_input(void **state) {
    walFixture *f = *state;
    stEngine *a = f->a = openDefault(f->dir_a);
    stEngine *b = f->b = openDefault(f->dir_b);
    stRemote *r = remoteFor(a, b);
    char *err = NULL;

    /* Baseline: B applied one good batch. */
    setKey(a, 0, "base", "v", 0);
    size_t glen;
    char *good = lastBatch(a, &glen);
    assert_int_equal(stApplyBatch(r, good, glen, "good", 4, &err), C_OK);
    free(good);
    assertValue(b, 0, "base", "v");

    /* A batch of three keys on A, then its rep cut at every byte that is
     * not a record boundary. */
    stMeta m = strMeta(FAR_FUTURE_MS);
    stBatch *ab = stBatchNew(a);
    stObj *objs[3];
    for (int i = 0; i < 3; i++) {
        char k[16];
        snprintf(k, sizeof(k), "t%d", i);
        objs[i] = stObjNew(&m, "value", 5);
        stBatchPut(ab, 0, k, 2, NULL, objs[i]);
    }
    assert_int_equal(stBatchCommit(ab, NULL), C_OK);
    for (int i = 0; i < 3; i++) stObjRelease(objs[i]);
    size_t len;
    char *rep = lastBatch(a, &len);

    bSnapshot before;
    dumpTake(b, &before.d);
    before.latest = stLatestSeq(b);
    size_t bounds[32];
    size_t nb = repBoundaries(rep, len, bounds, 32);
    assert_true(nb >= 5); /* header, 3 puts, expire entries, counts, vv */
    assert_int_equal(bounds[nb - 1], len);
    for (size_t cut = REP_HEADER_BYTES + 1; cut < len; cut++) {
        int boundary = 0;
        for (size_t i = 0; i < nb; i++) boundary |= bounds[i] == cut;
        if (!boundary) assertApplyRejected(r, b, &before, rep, cut, "truncated rep");
    }

    /* Garbage: an unknown record type, then a key length past the end. */
    char g[64];
    size_t gl = repHeader(g, 1);
    memcpy(g + gl, "\xde\xad\xbe\xef\xde\xad\xbe\xef", 8);
    assertApplyRejected(r, b, &before, g, gl + 8, "unknown record type");
    gl = repHeader(g, 1);
    memcpy(g + gl, "\x05\x01\xff\xff\xff\xff\x0f", 7);
    assertApplyRejected(r, b, &before, g, gl + 7, "key length past the end");
    /* Well formed, but a column family A does not have. */
    gl = repHeader(g, 1);
    repAppend(g, &gl, 40, "k", 1, "v", 1);
    assertApplyRejected(r, b, &before, g, gl, "unknown column family");
    /* Well formed, but a database B does not have (pdb 100 of 16). */
    gl = repHeader(g, 1);
    repAppend(g, &gl, cfIdOf(a, ST_CF_META), "\x00\x64k", 3, "v", 1);
    assertApplyRejected(r, b, &before, g, gl, "database out of range");
    /* The first records good, the last one cut: none of it is applied. */
    assertApplyRejected(r, b, &before, rep, len - 1, "last record cut");

    /* Full sync chunks: truncated, and an unknown column family index. */
    char c[16] = {ST_CF_META, 3, 0, 0, 'k', 5};
    assert_int_equal(stSyncLoad(r, c, 6, &err), C_ERR);
    assert_non_null(err);
    free(err);
    c[0] = ST_CF_COUNT;
    memcpy(c + 6, "hello", 5);
    assert_int_equal(stSyncLoad(r, c, 11, &err), C_ERR);
    assert_non_null(err);
    free(err);
    assert_int_equal(stLatestSeq(b), before.latest);

    /* B is still usable: the uncut rep applies. */
    assert_int_equal(stApplyBatch(r, rep, len, "whole", 5, &err), C_OK);
    free(rep);
    assertValue(b, 0, "t1", "value");
    assert_int_equal(stKeyCount(b, 0), 4);
    assert_int_equal(stExpiresCount(b, 0), 3);
    assertState(b, "whole");

    /* Malformed column family id lists. */
    static const char *const bad_ids[] = {
        "", "1,2,3", "a,b,c,d,e,f", "1,2,3,4,5,99", "1,2,3,4,5,", ",1,2,3,4,5", "1;2;3;4;5;6",
    };
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        err = NULL;
        stRemote *x = stRemoteNew(b, bad_ids[i], &err);
        if (x) {
            stRemoteFree(x);
            fail_msg("stRemoteNew(\"%s\") accepted", bad_ids[i]);
        }
        if (!err) fail_msg("stRemoteNew(\"%s\"): no error message", bad_ids[i]);
        free(err);
    }
    dumpFree(&before.d);
    stRemoteFree(r);
}

/* ---- 5. WAL gap after retention ------------------------------------------------------ */

/* Number of *.log (WAL) files in dir, or in dir/archive. */
static int walFiles(const char *dir, int archived) {
    char path[128];
    snprintf(path, sizeof(path), archived ? "%s/archive" : "%s", dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        n += l > 4 && !strcmp(e->d_name + l - 4, ".log");
    }
    closedir(d);
    return n;
}

/* Opens A with a 1 MB / 1 s WAL retention and writes four rounds of ~400 KB
 * of incompressible values (the WAL is zstd compressed), each flushed so
 * its WAL file is archived.  RocksDB archives the obsolete files after the
 * flush and the retention routine (also run by the sync thread each
 * second) deletes them: by size at once, by age once older than 1 s.
 * Returns once a purge happened and only the live WAL file is left (bounded
 * wait): nothing moves any more then (no flush is due), and the live WAL
 * holds no batch.  (The sync thread may purge before we look: wal_purges
 * counts its deletions too.) */
static stEngine *openPurged(walFixture *f) {
    stEngine *a = f->a = openAt(f->dir_a, 1, 1);
    char *val = malloc(GAP_VAL_BYTES);
    assert_non_null(val);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < GAP_ROUNDS; round++) {
        for (int i = 0; i < GAP_KEYS; i++) {
            for (int j = 0; j < GAP_VAL_BYTES; j++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                val[j] = (char)x;
            }
            char k[32];
            snprintf(k, sizeof(k), "big:%d:%d", round, i);
            setKeyN(a, 0, k, strlen(k), val, GAP_VAL_BYTES, 0);
        }
        assert_int_equal(stFlushToDisk(a), C_OK);
    }
    free(val);
    int waited = 0, live = 0, archived = 0;
    uint64_t purges = 0;
    for (; waited < GAP_WAIT_MS; waited += 100) {
        stWalPurge(a);
        live = walFiles(f->dir_a, 0);
        archived = walFiles(f->dir_a, 1);
        purges = atomic_load(&a->wal_purges);
        if (purges > 0 && live == 1 && archived == 0) break;
        sleepMs(100);
    }
    if (waited >= GAP_WAIT_MS)
        fail_msg("after %d ms: %llu WAL files purged, %d live and %d archived left", GAP_WAIT_MS,
                 (unsigned long long)purges, live, archived);
    return a;
}

static void test_wal_gap(void **state) {
    walFixture *f = *state;
    stEngine *a = openPurged(f);
    uint64_t recent = stLatestSeq(a) + 1;
    setKey(a, 1, "recent-1", "v", 0);
    setKey(a, 1, "recent-2", "v", 0);
    uint64_t first = 0, bytes = 0;
    stWalRetained(a, &first, &bytes);
    assert_int_equal(first, recent); /* the live WAL holds only these two */
    assert_true(bytes > 0);

    /* The start of history is gone: a reader from 1 needs a full sync, and
     * so does one from just before the oldest retained batch. */
    stWalBatch b;
    stWalIter *w = stWalOpen(a, 1);
    assert_int_equal(stWalNext(w, &b), ST_WAL_GAP);
    stWalClose(w);
    w = stWalOpen(a, first - 1);
    assert_int_equal(stWalNext(w, &b), ST_WAL_GAP);
    stWalClose(w);

    /* What is retained still reads, and the reader follows new commits. */
    w = stWalOpen(a, recent);
    walSeen s[4];
    size_t n = walReadAll(w, s, 4);
    assert_int_equal(n, 2);
    assert_int_equal(s[0].seq, recent);
    uint64_t base = GAP_ROUNDS * GAP_KEYS;
    assert_int_equal(assertWalRun(s, n, stNodeId(a), base + 1), base + 2);
    setKey(a, 1, "recent-3", "v", 0);
    assert_int_equal(stWalNext(w, &b), ST_WAL_BATCH);
    assert_int_equal(b.origin_seq, base + 3);
    stWalClose(w);
}

/* ---- Regressions of defects found by these tests ------------------------------------------ */

/* Was: stApplyBatch did not check the rep's record count (bytes 8..11), so
 * a rep cut exactly at a record boundary, or shorter than its 12-byte
 * header, was accepted: part of the sender's batch (or nothing) was written
 * together with the replication state, and the key counts diverged (the
 * count records come last in the batch). */
static void test_apply_rejects_truncated_rep(void **state) {
    walFixture *f = *state;
    stEngine *a = f->a = openDefault(f->dir_a);
    stEngine *b = f->b = openDefault(f->dir_b);
    stRemote *r = remoteFor(a, b);
    char *err = NULL;
    setKey(a, 0, "base", "v", 0);
    size_t glen;
    char *good = lastBatch(a, &glen);
    assert_int_equal(stApplyBatch(r, good, glen, "good", 4, &err), C_OK);
    free(good);

    stMeta m = strMeta(0);
    stBatch *ab = stBatchNew(a);
    stObj *o1 = stObjNew(&m, "one", 3), *o2 = stObjNew(&m, "two", 3);
    stBatchPut(ab, 0, "k1", 2, NULL, o1);
    stBatchPut(ab, 0, "k2", 2, NULL, o2);
    assert_int_equal(stBatchCommit(ab, NULL), C_OK);
    stObjRelease(o1);
    stObjRelease(o2);
    size_t len;
    char *rep = lastBatch(a, &len);
    size_t bounds[16];
    size_t nb = repBoundaries(rep, len, bounds, 16);
    assert_true(nb >= 3);

    bSnapshot before;
    dumpTake(b, &before.d);
    before.latest = stLatestSeq(b);
    /* Header record and the first Put only: expected C_ERR; today C_OK,
     * and B then holds k1 while stKeyCount(b, 0) still says 1. */
    assertApplyRejected(r, b, &before, rep, bounds[1], "rep cut after its first Put");
    /* Shorter than the rep header: expected C_ERR; today C_OK and only
     * the state is written. */
    assertApplyRejected(r, b, &before, "abc", 3, "3-byte rep");
    assertApplyRejected(r, b, &before, rep, REP_HEADER_BYTES, "rep header only");
    dumpFree(&before.d);
    free(rep);
    stRemoteFree(r);
}

/* Was: stRemoteNew accepted id lists it should reject: more than
 * ST_CF_COUNT ids (the rest is ignored) and duplicate ids (two of the
 * sender's column families mapped through one id, the others unknown). */
static void test_remote_rejects_bad_cf_ids(void **state) {
    walFixture *f = *state;
    stEngine *b = f->b = openDefault(f->dir_b);
    static const char *const bad_ids[] = {"0,1,2,3,4,5,6", "0,1,2,3,4,5,junk", "1,1,1,1,1,1"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        char *err = NULL;
        stRemote *x = stRemoteNew(b, bad_ids[i], &err);
        if (x) {
            stRemoteFree(x);
            fail_msg("stRemoteNew(\"%s\") accepted", bad_ids[i]);
        }
        free(err);
    }
}

/* Was: a reader whose position was purged got ST_WAL_END ("caught up")
 * instead of ST_WAL_GAP while the live WAL holds no batch (right after a
 * flush, before the next write): walFailure() sees no first sequence
 * (walFirstSeq() = 0) and no purge since the reader opened (purges_seen is
 * taken in stWalOpen), so it calls the failure transient; only the 200th
 * call, or the next write, reports the gap.  Measured: 199 ENDs, then GAP. */
static void test_wal_gap_when_wal_empty(void **state) {
    walFixture *f = *state;
    stEngine *a = openPurged(f);
    assert_true(stLatestSeq(a) > 1);
    stWalIter *w = stWalOpen(a, 1);
    stWalBatch b;
    int rc = stWalNext(w, &b), calls = 1;
    while (rc == ST_WAL_END && calls < 1000) {
        rc = stWalNext(w, &b);
        calls++;
    }
    stWalClose(w);
    if (calls != 1) fail_msg("stWalNext from purged seq 1: END %d times before %d", calls - 1, rc);
    assert_int_equal(rc, ST_WAL_GAP);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wal_tail, setupPair, teardownPair),
        cmocka_unit_test_setup_teardown(test_apply_converges, setupPair, teardownPair),
        cmocka_unit_test_setup_teardown(test_full_sync, setupPair, teardownPair),
        cmocka_unit_test_setup_teardown(test_malformed_input, setupPair, teardownPair),
        cmocka_unit_test_setup_teardown(test_wal_gap, setupPair, teardownPair),
        cmocka_unit_test_setup_teardown(test_apply_rejects_truncated_rep, setupPair,
                                        teardownPair),
        cmocka_unit_test_setup_teardown(test_remote_rejects_bad_cf_ids, setupPair,
                                        teardownPair),
        cmocka_unit_test_setup_teardown(test_wal_gap_when_wal_empty,
                                        setupPair, teardownPair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_storage.c - cmocka tests of the storage engine (all of storage/)
 * against a real RocksDB in a temporary directory: reads and writes, exact
 * persisted key counts, node id, expire index, SWAPDB, iteration, RANDOMKEY,
 * the hot set, the batch log header and concurrent writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "../../storage/st_internal.h"

static char tmpdir[256];

/* ---- Helpers ------------------------------------------------------------------ */

static int rmOne(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static void rmTree(const char *dir) { nftw(dir, rmOne, 16, FTW_DEPTH | FTW_PHYS); }

static stEngine *openEngine(const char *sub, size_t hotset_bytes, int fsync_mode) {
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", tmpdir, sub);
    stOptions o = {.dir = dir, .databases = 16, .fsync_mode = fsync_mode,
                   .hotset_max_bytes = hotset_bytes, .wal_ttl_seconds = 3600,
                   .wal_size_limit_mb = 64};
    char *err = NULL;
    stEngine *st = stOpen(&o, &err);
    if (!st) fprintf(stderr, "stOpen: %s\n", err ? err : "?");
    assert_non_null(st);
    assert_null(err);
    return st;
}

static stMeta strMeta(uint64_t expire_ms) {
    stMeta m = {.type = ST_TYPE_STRING, .expire_ms = expire_ms};
    return m;
}

/* Sets key to val (expire_ms 0 = none) in its own batch, passing the current
 * meta as `old` the way a command does. */
static void setKey(stEngine *st, int db, const char *key, const char *val, uint64_t expire_ms) {
    stObj *cur = stGet(st, db, key, strlen(key));
    stMeta m = strMeta(expire_ms);
    stObj *o = stObjNew(&m, val, strlen(val));
    stBatch *b = stBatchNew(st);
    stBatchPut(b, db, key, strlen(key), cur ? &cur->meta : NULL, o);
    char *err = NULL;
    assert_int_equal(stBatchCommit(b, &err), C_OK);
    assert_null(err);
    stObjRelease(o);
    stObjRelease(cur);
}

static int delKey(stEngine *st, int db, const char *key) {
    stObj *cur = stGet(st, db, key, strlen(key));
    if (!cur) return 0;
    stBatch *b = stBatchNew(st);
    stBatchDel(b, db, key, strlen(key), &cur->meta);
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    stObjRelease(cur);
    return 1;
}

static void flushDb(stEngine *st, int db) {
    stBatch *b = stBatchNew(st);
    stBatchFlushDb(b, db);
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
}

static void assertValue(stEngine *st, int db, const char *key, const char *val) {
    stObj *o = stGet(st, db, key, strlen(key));
    assert_non_null(o);
    assert_int_equal(o->vlen, strlen(val));
    assert_string_equal(o->val, val); /* also checks the NUL terminator */
    assert_int_equal(o->meta.type, ST_TYPE_STRING);
    stObjRelease(o);
}

/* ---- Basic reads and writes -------------------------------------------------------- */

static void test_put_get_delete(void **state) {
    (void)state;
    stEngine *st = openEngine("basic", 1 << 20, ST_FSYNC_NO);
    assert_null(stGet(st, 0, "k", 1));
    assert_int_equal(stExists(st, 0, "k", 1), 0);
    setKey(st, 0, "k", "v1", 0);
    assertValue(st, 0, "k", "v1");
    assert_int_equal(stExists(st, 0, "k", 1), 1);
    assert_int_equal(stKeyCount(st, 0), 1);
    setKey(st, 0, "k", "value-two", 0); /* overwrite: count unchanged */
    assertValue(st, 0, "k", "value-two");
    assert_int_equal(stKeyCount(st, 0), 1);
    /* The write stamped hlc and origin. */
    stObj *o = stGet(st, 0, "k", 1);
    assert_int_equal(o->meta.origin, stNodeId(st));
    assert_true(hlcWallMs(o->meta.hlc) >= stWallMs() - 60000);
    stObjRelease(o);
    /* Binary key with NUL, empty value, other db. */
    stMeta m = strMeta(0);
    stObj *e = stObjNew(&m, "", 0);
    stBatch *b = stBatchNew(st);
    stBatchPut(b, 3, "a\0b", 3, NULL, e);
    assert_int_equal(stBatchSize(b), 1);
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    stObjRelease(e);
    o = stGet(st, 3, "a\0b", 3);
    assert_non_null(o);
    assert_int_equal(o->vlen, 0);
    stObjRelease(o);
    assert_null(stGet(st, 3, "a", 1));
    assert_null(stGet(st, 0, "a\0b", 3));
    assert_int_equal(stKeyCount(st, 3), 1);

    assert_int_equal(delKey(st, 0, "k"), 1);
    assert_null(stGet(st, 0, "k", 1));
    assert_int_equal(stExists(st, 0, "k", 1), 0);
    assert_int_equal(stKeyCount(st, 0), 0);
    /* Out-of-range db: reads are empty, writes fail without effect. */
    assert_null(stGet(st, 16, "k", 1));
    assert_null(stGet(st, -1, "k", 1));
    o = stObjNew(&m, "x", 1);
    b = stBatchNew(st);
    stBatchPut(b, 16, "k", 1, NULL, o);
    char *err = NULL;
    assert_int_equal(stBatchCommit(b, &err), C_ERR);
    assert_non_null(err);
    free(err);
    stObjRelease(o);
    /* An empty batch commits as a no-op. */
    stStats s1, s2;
    stGetStats(st, &s1);
    assert_int_equal(stBatchCommit(stBatchNew(st), NULL), C_OK);
    stGetStats(st, &s2);
    assert_int_equal(s1.batches_committed, s2.batches_committed);
    stBatchDiscard(stBatchNew(st));
    stClose(st);
}

static void test_values_survive_reopen(void **state) {
    (void)state;
    stEngine *st = openEngine("reopen", 1 << 20, ST_FSYNC_ALWAYS);
    char big[10000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    setKey(st, 0, "big", big, 0);
    setKey(st, 1, "small", "s", 0);
    stClose(st);
    st = openEngine("reopen", 1 << 20, ST_FSYNC_ALWAYS);
    assertValue(st, 0, "big", big);
    assertValue(st, 1, "small", "s");
    /* Same again after the memtables went to SST files. */
    assert_int_equal(stFlushToDisk(st), C_OK);
    assert_int_equal(stSyncWal(st), C_OK);
    stClose(st);
    st = openEngine("reopen", 0, ST_FSYNC_NO);
    assertValue(st, 0, "big", big);
    stStats s;
    stGetStats(st, &s);
    assert_true(s.disk_bytes > 0);
    assert_true(s.last_seq > 0);
    stClose(st);
}

/* ---- Key counts and node id ----------------------------------------------------------- */

static void test_counts_persist(void **state) {
    (void)state;
    stEngine *st = openEngine("counts", 1 << 20, ST_FSYNC_NO);
    uint64_t node = stNodeId(st);
    assert_true(node != 0);
    char k[32];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        setKey(st, 0, k, "v", 0);
    }
    for (int i = 0; i < 30; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        setKey(st, 0, k, "again", 0); /* overwrites */
    }
    for (int i = 0; i < 10; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        assert_int_equal(delKey(st, 0, k), 1);
    }
    for (int i = 0; i < 7; i++) {
        snprintf(k, sizeof(k), "other:%d", i);
        setKey(st, 5, k, "v", 0);
    }
    assert_int_equal(stKeyCount(st, 0), 90);
    assert_int_equal(stKeyCount(st, 5), 7);
    stClose(st);

    st = openEngine("counts", 1 << 20, ST_FSYNC_NO);
    assert_int_equal(stNodeId(st), node);
    assert_int_equal(stKeyCount(st, 0), 90);
    assert_int_equal(stKeyCount(st, 5), 7);
    assert_int_equal(stKeyCount(st, 1), 0);
    /* FLUSHDB resets the count with an absolute record; later writes add. */
    flushDb(st, 0);
    assert_int_equal(stKeyCount(st, 0), 0);
    assert_null(stGet(st, 0, "key:50", 6));
    setKey(st, 0, "after", "flush", 0);
    assert_int_equal(stKeyCount(st, 0), 1);
    assert_int_equal(stKeyCount(st, 5), 7);
    stClose(st);

    st = openEngine("counts", 1 << 20, ST_FSYNC_NO);
    assert_int_equal(stKeyCount(st, 0), 1);
    assert_int_equal(stKeyCount(st, 5), 7);
    assertValue(st, 0, "after", "flush");
    assert_null(stGet(st, 0, "key:50", 6));
    /* A batch that puts, flushes and puts again in the same db. */
    stMeta m = strMeta(0);
    stObj *a = stObjNew(&m, "a", 1), *c = stObjNew(&m, "c", 1);
    stBatch *b = stBatchNew(st);
    stBatchPut(b, 5, "pre", 3, NULL, a);
    stBatchFlushDb(b, 5);
    stBatchPut(b, 5, "post", 4, NULL, c);
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    stObjRelease(a);
    stObjRelease(c);
    assert_int_equal(stKeyCount(st, 5), 1);
    assert_null(stGet(st, 5, "pre", 3));
    assertValue(st, 5, "post", "c");
    /* FLUSHALL. */
    flushDb(st, -1);
    for (int db = 0; db < 16; db++) assert_int_equal(stKeyCount(st, db), 0);
    assert_null(stGet(st, 5, "post", 4));
    setKey(st, 2, "x", "y", 0);
    stClose(st);

    st = openEngine("counts", 1 << 20, ST_FSYNC_NO);
    assert_int_equal(stNodeId(st), node);
    assert_int_equal(stKeyCount(st, 0), 0);
    assert_int_equal(stKeyCount(st, 5), 0);
    assert_int_equal(stKeyCount(st, 2), 1);
    stClose(st);
}

static void test_node_ids_differ(void **state) {
    (void)state;
    stEngine *a = openEngine("node-a", 0, ST_FSYNC_NO);
    stEngine *b = openEngine("node-b", 0, ST_FSYNC_NO);
    assert_true(stNodeId(a) != stNodeId(b));
    stClose(a);
    stClose(b);
}

/* ---- Expire index --------------------------------------------------------------------------- */

typedef struct expSeen {
    int n;
    int db[16];
    char key[16][32];
    uint64_t exp[16];
    int stop_after;
} expSeen;

static int expCollect(void *ud, int db, const char *key, size_t klen, uint64_t expire_ms) {
    expSeen *s = ud;
    s->db[s->n] = db;
    snprintf(s->key[s->n], sizeof(s->key[0]), "%.*s", (int)klen, key);
    s->exp[s->n] = expire_ms;
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

/* The expiry cycle's check: drop entries whose key is gone or whose TTL
 * changed; returns how many it dropped. */
typedef struct expCtx { stEngine *st; int dropped; } expCtx;
static int expDropStale(void *ud, int db, const char *key, size_t klen, uint64_t expire_ms) {
    expCtx *c = ud;
    stObj *o = stGet(c->st, db, key, klen);
    if (!o || o->meta.expire_ms != expire_ms) {
        stBatch *b = stBatchNew(c->st);
        stBatchDelExpireIndex(b, db, key, klen, expire_ms);
        assert_int_equal(stBatchCommit(b, NULL), C_OK);
        c->dropped++;
    }
    stObjRelease(o);
    return 0;
}

/* A scan at time 0 finds nothing due and is below any cursor, so the next
 * scan starts from the oldest entry again. */
static void expRewind(stEngine *st) {
    expSeen s = {0};
    assert_int_equal(stExpireScan(st, 0, 100, expCollect, &s), 0);
}

static void test_expire_index(void **state) {
    (void)state;
    stEngine *st = openEngine("expire", 1 << 20, ST_FSYNC_NO);
    setKey(st, 0, "late", "v", 3000);
    setKey(st, 0, "early", "v", 1000);
    setKey(st, 2, "mid", "v", 2000);
    setKey(st, 0, "never", "v", 0);

    expSeen s = {0};
    assert_int_equal(stExpireScan(st, 999, 100, expCollect, &s), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, 2000, 100, expCollect, &s), 2);
    assert_string_equal(s.key[0], "early");
    assert_int_equal(s.exp[0], 1000);
    assert_int_equal(s.db[0], 0);
    assert_string_equal(s.key[1], "mid");
    assert_int_equal(s.db[1], 2);
    /* The next scan resumes after what this one showed: expCollect left both
     * entries in place, they are not shown again... */
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, 2500, 100, expCollect, &s), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, UINT64_MAX, 100, expCollect, &s), 1);
    assert_string_equal(s.key[0], "late");
    /* ...until a scan starts over (now_ms went back). */
    expRewind(st);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, UINT64_MAX, 100, expCollect, &s), 3);
    assert_string_equal(s.key[2], "late");
    /* max and early stop: the next scan resumes at the last entry shown. */
    expRewind(st);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, UINT64_MAX, 2, expCollect, &s), 2);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, UINT64_MAX, 100, expCollect, &s), 2);
    assert_string_equal(s.key[0], "mid");
    assert_string_equal(s.key[1], "late");
    expRewind(st);
    memset(&s, 0, sizeof(s));
    s.stop_after = 1;
    assert_int_equal(stExpireScan(st, UINT64_MAX, 100, expCollect, &s), 1);

    /* Changing a TTL moves the entry; removing it (PERSIST) drops it. */
    setKey(st, 0, "early", "v", 5000);
    setKey(st, 0, "late", "v", 0);
    expRewind(st);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, 4000, 100, expCollect, &s), 1);
    assert_string_equal(s.key[0], "mid");
    expRewind(st);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, 5000, 100, expCollect, &s), 2);
    assert_string_equal(s.key[1], "early");
    assert_int_equal(s.exp[1], 5000);

    /* DEL removes the entry. */
    assert_int_equal(delKey(st, 2, "mid"), 1);
    expRewind(st);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, 5000, 100, expCollect, &s), 1);

    /* FLUSHDB of one db leaves stale entries: the scan shows them and the
     * callback drops them. */
    setKey(st, 1, "gone", "v", 1500);
    flushDb(st, 1);
    setKey(st, 1, "gone", "v", 7000); /* same key, new TTL: old entry is stale */
    expCtx c = {st, 0};
    expRewind(st);
    assert_int_equal(stExpireScan(st, 5000, 100, expDropStale, &c), 2);
    assert_int_equal(c.dropped, 1);
    expRewind(st);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, 6000, 100, expCollect, &s), 1);
    assert_string_equal(s.key[0], "early");
    expRewind(st);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, 7000, 100, expCollect, &s), 2);
    assert_string_equal(s.key[1], "gone");
    assert_int_equal(s.db[1], 1);

    /* FLUSHALL clears the whole index. */
    flushDb(st, -1);
    expRewind(st);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, UINT64_MAX, 100, expCollect, &s), 0);
    stClose(st);
}

/* The expiry cycle's work: delete the key when its entry is current, drop
 * the entry when stale.  Counts what it removed. */
static int expRemove(void *ud, int db, const char *key, size_t klen, uint64_t expire_ms) {
    expCtx *c = ud;
    stObj *o = stGet(c->st, db, key, klen);
    stBatch *b = stBatchNew(c->st);
    if (o && o->meta.expire_ms == expire_ms)
        stBatchDel(b, db, key, klen, &o->meta);
    else
        stBatchDelExpireIndex(b, db, key, klen, expire_ms);
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    stObjRelease(o);
    c->dropped++;
    return 0;
}

/* Tombstones and other hidden records a RocksDB read stepped over on this
 * thread since the last call. */
static rocksdb_perfcontext_t *perf;
static uint64_t perfSkipped(void) {
    if (!perf) {
        rocksdb_set_perf_level(rocksdb_enable_count);
        perf = rocksdb_perfcontext_create();
    }
    uint64_t n = rocksdb_perfcontext_metric(perf, rocksdb_internal_delete_skipped_count) +
                 rocksdb_perfcontext_metric(perf, rocksdb_internal_key_skipped_count);
    rocksdb_perfcontext_reset(perf);
    return n;
}

/* Leaves the entry it is shown and inserts key "inserted" due 50 ms before
 * it. */
static int expInsertBehind(void *ud, int db, const char *key, size_t klen, uint64_t expire_ms) {
    (void)key;
    (void)klen;
    setKey(ud, db, "inserted", "v", expire_ms - 50);
    return 0;
}

#define EXP_MANY 20000

/* Sets EXP_MANY keys "m<i>" in db with expire-at base + i / 10, one batch. */
static void setMany(stEngine *st, int db, uint64_t base) {
    stBatch *b = stBatchNew(st);
    char key[32];
    for (int i = 0; i < EXP_MANY; i++) {
        snprintf(key, sizeof(key), "m%d", i);
        stMeta m = strMeta(base ? base + (uint64_t)i / 10 : 0);
        stObj *o = stObjNew(&m, "v", 1);
        stBatchPut(b, db, key, strlen(key), NULL, o);
        stObjRelease(o);
    }
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
}

static void test_expire_scan_resume(void **state) {
    (void)state;
    stEngine *st = openEngine("expire-resume", 1 << 20, ST_FSYNC_NO);
    /* After mass expiry a pass starts past the tombstones of what earlier
     * passes removed (it used to step over all of them every time). */
    setMany(st, 0, 10000);
    expCtx c = {st, 0};
    uint64_t now = 10000 + EXP_MANY / 10;
    while (stExpireScan(st, now, 1000, expRemove, &c) > 0) {}
    assert_int_equal(c.dropped, EXP_MANY);
    assert_int_equal(stKeyCount(st, 0), 0);
    setKey(st, 0, "due-later", "v", now + 500);
    perfSkipped();
    expSeen s = {0};
    assert_int_equal(stExpireScan(st, now + 100, 100, expCollect, &s), 0);
    assert_true(perfSkipped() < 100);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, now + 500, 100, expCollect, &s), 1);
    assert_string_equal(s.key[0], "due-later");

    /* An entry inserted behind the cursor is still found (the scan goes
     * over "due-later" again on the way, as expCollect left it). */
    setKey(st, 3, "backdated", "v", 1500);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, now + 600, 100, expCollect, &s), 2);
    assert_string_equal(s.key[0], "backdated");
    assert_int_equal(s.db[0], 3);
    assert_string_equal(s.key[1], "due-later");

    /* So is one inserted behind the scan's position while it runs (above
     * the cursor the scan started from, absent from its snapshot). */
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, now + 1000, 100, expCollect, &s), 0);
    setKey(st, 0, "c", "v", now + 1100);
    assert_int_equal(stExpireScan(st, now + 1100, 100, expInsertBehind, st), 1);
    memset(&s, 0, sizeof(s));
    assert_int_equal(stExpireScan(st, now + 1200, 100, expCollect, &s), 2);
    assert_string_equal(s.key[0], "inserted");
    assert_string_equal(s.key[1], "c");

    /* An entry a callback left in place comes back within 100 scans. */
    int seen_again = 0;
    for (int i = 0; i < 101 && !seen_again; i++) {
        memset(&s, 0, sizeof(s));
        stExpireScan(st, now + 1300 + (uint64_t)i, 100, expCollect, &s);
        seen_again = s.n > 0;
    }
    assert_true(seen_again);
    assert_int_equal(s.n, 4); /* everything expCollect left, oldest first */
    assert_string_equal(s.key[0], "backdated");
    assert_string_equal(s.key[1], "due-later");
    assert_string_equal(s.key[2], "inserted");
    assert_string_equal(s.key[3], "c");
    stClose(st);
}

/* Records hidden by deletes that iterating db stepped over. */
static uint64_t iterSkipped(stEngine *st, int db, int *live) {
    perfSkipped();
    stIter *it = stIterNew(st, db, NULL, 0);
    int n = 0;
    for (; stIterValid(it); stIterNext(it)) n++;
    stIterFree(it);
    if (live) *live = n;
    return perfSkipped();
}

/* Polls for up to 10 s until iterating db skips fewer than 100 records. */
static int waitIterCheap(stEngine *st, int db) {
    for (int i = 0; i < 200; i++) {
        if (iterSkipped(st, db, NULL) < 100) return 1;
        usleep(50 * 1000);
    }
    return 0;
}

/* Mass deletes, FLUSHDB and mass expiry leave tombstones that every scan of
 * the db (and every restarted expiry scan) stepped over until RocksDB
 * happened to compact them; the compaction thread removes them. */
static void test_tombstone_compaction(void **state) {
    (void)state;
    stEngine *st = openEngine("tombstones", 1 << 20, ST_FSYNC_NO);
    char key[32];
    int live;
    /* DEL of every key but one. */
    setMany(st, 0, 0);
    setKey(st, 0, "keep", "v", 0);
    stBatch *b = stBatchNew(st);
    stMeta m = strMeta(0);
    for (int i = 0; i < EXP_MANY; i++) {
        snprintf(key, sizeof(key), "m%d", i);
        stBatchDel(b, 0, key, strlen(key), &m);
    }
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    assert_true(waitIterCheap(st, 0));
    iterSkipped(st, 0, &live);
    assert_int_equal(live, 1);
    /* A db mostly alive is left alone (its estimate stays): compacting it
     * would cost more than its tombstones do. */
    setMany(st, 2, 0);
    setKey(st, 2, "a", "v", 0);
    assert_int_equal(delKey(st, 2, "a"), 1);
    /* FLUSHDB. */
    setMany(st, 1, 0);
    flushDb(st, 1);
    setKey(st, 1, "after", "v", 0);
    assert_true(waitIterCheap(st, 1));
    iterSkipped(st, 1, &live);
    assert_int_equal(live, 1);
    assert_int_equal(stKeyCount(st, 2), EXP_MANY);
    assert_int_equal(atomic_load(&st->dead[2]), 1);
    assertValue(st, 1, "after", "v");
    assertValue(st, 0, "keep", "v");
    /* Mass expiry: even a scan from the oldest entry is cheap again. */
    setMany(st, 3, 10000);
    expCtx c = {st, 0};
    uint64_t now = 10000 + EXP_MANY / 10;
    while (stExpireScan(st, now, 1000, expRemove, &c) > 0) {}
    assert_int_equal(c.dropped, EXP_MANY);
    assert_true(waitIterCheap(st, 3));
    int cheap = 0;
    for (int i = 0; i < 200 && !cheap; i++) {
        expRewind(st);
        perfSkipped();
        expSeen s = {0};
        assert_int_equal(stExpireScan(st, now, 100, expCollect, &s), 0);
        cheap = perfSkipped() < 100;
        if (!cheap) usleep(50 * 1000);
    }
    assert_true(cheap);
    stClose(st);
}

static void delRange(stEngine *st, int db, int from, int to) {
    stBatch *b = stBatchNew(st);
    stMeta m = strMeta(0);
    char key[32];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof(key), "m%d", i);
        stBatchDel(b, db, key, strlen(key), &m);
    }
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
}

/* Polls for up to 10 s until iterating db steps over fewer than 100 records
 * besides its live keys (RocksDB counts one skip per live key too). */
static int waitFewTombstones(stEngine *st, int db) {
    for (int i = 0; i < 200; i++) {
        int live;
        if (iterSkipped(st, db, &live) < (uint64_t)live + 100) return 1;
        usleep(50 * 1000);
    }
    return 0;
}

/* compact.c invariant 3: deletes that go on after a range was compacted by
 * force are compacted too once they stop, however few they are. */
static void test_tombstone_tail_compaction(void **state) {
    (void)state;
    stEngine *st = openEngine("tail", 1 << 20, ST_FSYNC_NO);
    setMany(st, 4, 0);
    delRange(st, 4, 0, EXP_MANY - 1000);
    assert_true(waitFewTombstones(st, 4));
    delRange(st, 4, EXP_MANY - 1000, EXP_MANY - 400); /* below COMPACT_MIN_DEAD */
    assert_true(waitFewTombstones(st, 4));
    int live;
    iterSkipped(st, 4, &live);
    assert_int_equal(live, 400);
    stClose(st);
}

/* ---- SWAPDB ------------------------------------------------------------------------------------ */

static void test_swapdb(void **state) {
    (void)state;
    stEngine *st = openEngine("swap", 1 << 20, ST_FSYNC_NO);
    setKey(st, 0, "a", "in-zero", 0);
    setKey(st, 1, "b", "in-one", 0);
    setKey(st, 1, "c", "in-one", 4000);
    assertValue(st, 0, "a", "in-zero"); /* cached in the hot set */
    assert_int_equal(stSwapDb(st, 0, 1), C_OK);
    assertValue(st, 1, "a", "in-zero");
    assertValue(st, 0, "b", "in-one");
    assert_null(stGet(st, 0, "a", 1));
    assert_null(stGet(st, 1, "b", 1));
    assert_int_equal(stKeyCount(st, 0), 2);
    assert_int_equal(stKeyCount(st, 1), 1);
    /* The expire index reports logical dbs. */
    expSeen s = {0};
    assert_int_equal(stExpireScan(st, 5000, 100, expCollect, &s), 1);
    assert_int_equal(s.db[0], 0);
    assert_int_equal(stSwapDb(st, 0, 16), C_ERR);
    assert_int_equal(stSwapDb(st, 2, 2), C_OK);
    stClose(st);

    st = openEngine("swap", 1 << 20, ST_FSYNC_NO);
    assertValue(st, 1, "a", "in-zero");
    assertValue(st, 0, "b", "in-one");
    assert_int_equal(stKeyCount(st, 0), 2);
    assert_int_equal(stKeyCount(st, 1), 1);
    /* FLUSHDB follows the mapping. */
    flushDb(st, 0);
    assert_null(stGet(st, 0, "b", 1));
    assertValue(st, 1, "a", "in-zero");
    assert_int_equal(stSwapDb(st, 1, 0), C_OK); /* back to identity */
    assertValue(st, 0, "a", "in-zero");
    assert_int_equal(stKeyCount(st, 0), 1);
    assert_int_equal(stKeyCount(st, 1), 0);
    stClose(st);
    st = openEngine("swap", 1 << 20, ST_FSYNC_NO);
    assertValue(st, 0, "a", "in-zero");
    stClose(st);
}

/* ---- Iteration and RANDOMKEY ----------------------------------------------------------------- */

static void test_iteration(void **state) {
    (void)state;
    stEngine *st = openEngine("iter", 1 << 20, ST_FSYNC_NO);
    const char *keys[] = {"b", "a", "ab", "c\xff", "", "aa"};
    const char *sorted[] = {"", "a", "aa", "ab", "b", "c\xff"};
    for (int i = 0; i < 6; i++) setKey(st, 4, keys[i], keys[i], 0);
    setKey(st, 3, "zz-below", "v", 0);
    setKey(st, 5, "0-above", "v", 0);

    stIter *it = stIterNew(st, 4, NULL, 0);
    int n = 0;
    for (; stIterValid(it); stIterNext(it), n++) {
        size_t kl;
        const char *k = stIterKey(it, &kl);
        assert_true(n < 6);
        assert_int_equal(kl, strlen(sorted[n]));
        assert_memory_equal(k, sorted[n], kl);
        stObj *o = stIterObj(it);
        assert_non_null(o);
        assert_string_equal(o->val, sorted[n]);
        assert_int_equal(o->meta.origin, stNodeId(st));
        stObjRelease(o);
    }
    assert_int_equal(n, 6);
    stIterFree(it);

    /* Start key, and a snapshot that ignores later writes. */
    it = stIterNew(st, 4, "ab", 2);
    setKey(st, 4, "b2", "later", 0);
    n = 0;
    for (; stIterValid(it); stIterNext(it)) n++;
    assert_int_equal(n, 3); /* ab b c\xff */
    stIterFree(it);
    /* Empty db, out-of-range db. */
    it = stIterNew(st, 6, NULL, 0);
    assert_false(stIterValid(it));
    stIterFree(it);
    it = stIterNew(st, 99, NULL, 0);
    assert_false(stIterValid(it));
    stIterFree(it);
    stClose(st);
}

static void test_random_key(void **state) {
    (void)state;
    stEngine *st = openEngine("random", 1 << 20, ST_FSYNC_NO);
    size_t kl = 0;
    assert_null(stRandomKey(st, 0, &kl));
    setKey(st, 0, "only", "v", 0);
    setKey(st, 1, "elsewhere", "v", 0);
    for (int i = 0; i < 10; i++) {
        char *k = stRandomKey(st, 0, &kl);
        assert_non_null(k);
        assert_int_equal(kl, 4);
        assert_string_equal(k, "only");
        free(k);
    }
    /* Small db: exact; every key shows up. */
    char buf[32];
    for (int i = 0; i < 20; i++) {
        snprintf(buf, sizeof(buf), "s%02d", i);
        setKey(st, 2, buf, "v", 0);
    }
    int seen[20] = {0};
    for (int i = 0; i < 2000; i++) {
        char *k = stRandomKey(st, 2, &kl);
        assert_non_null(k);
        int idx = atoi(k + 1);
        assert_true(k[0] == 's' && idx >= 0 && idx < 20);
        seen[idx]++;
        free(k);
    }
    for (int i = 0; i < 20; i++) assert_true(seen[i] > 0);
    /* Large db: always an existing key of that db, reasonably spread. */
    stBatch *b = stBatchNew(st);
    stMeta m = strMeta(0);
    for (int i = 0; i < 1000; i++) {
        snprintf(buf, sizeof(buf), "user:%04d", i);
        stObj *o = stObjNew(&m, "v", 1);
        stBatchPut(b, 3, buf, strlen(buf), NULL, o);
        stObjRelease(o);
    }
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    static int hits[1000];
    int distinct = 0;
    for (int i = 0; i < 3000; i++) {
        char *k = stRandomKey(st, 3, &kl);
        assert_non_null(k);
        assert_int_equal(kl, 9);
        assert_memory_equal(k, "user:", 5);
        int idx = atoi(k + 5);
        assert_true(idx >= 0 && idx < 1000);
        if (!hits[idx]++) distinct++;
        free(k);
    }
    assert_true(distinct > 850); /* uniform: ~950 of 1000 */

    /* Keys of different lengths: "k0".."k999" (the trie descent used to
     * give "k0" 10% of the draws and ~110 distinct keys in 1000 draws). */
    b = stBatchNew(st);
    for (int i = 0; i < 1000; i++) {
        snprintf(buf, sizeof(buf), "k%d", i);
        stObj *o = stObjNew(&m, "v", 1);
        stBatchPut(b, 4, buf, strlen(buf), NULL, o);
        stObjRelease(o);
    }
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    memset(hits, 0, sizeof(hits));
    distinct = 0;
    int most = 0;
    for (int i = 0; i < 2000; i++) {
        char *k = stRandomKey(st, 4, &kl);
        assert_non_null(k);
        assert_true(k[0] == 'k' && kl >= 2 && kl <= 4);
        int idx = atoi(k + 1);
        assert_true(idx >= 0 && idx < 1000);
        if (!hits[idx]++) distinct++;
        if (hits[idx] > most) most = hits[idx];
        free(k);
    }
    /* Uniform: ~865 distinct, the most drawn key ~8 times. */
    assert_true(distinct >= 500);
    assert_true(most < 30);

    /* Mixed shapes: 1 short key, 200 numeric ids, 200 long hex ids, one
     * binary key.  Each group gets about its share of the draws. */
    b = stBatchNew(st);
    const char *one[] = {"x", "\0\xff"};
    for (int i = 0; i < 2; i++) {
        stObj *o = stObjNew(&m, "v", 1);
        stBatchPut(b, 5, one[i], i ? 2 : 1, NULL, o);
        stObjRelease(o);
    }
    for (int i = 0; i < 200; i++) {
        stObj *o = stObjNew(&m, "v", 1);
        snprintf(buf, sizeof(buf), "user:%d", i * 7);
        stBatchPut(b, 5, buf, strlen(buf), NULL, o);
        snprintf(buf, sizeof(buf), "sess:%016llx",
                 (unsigned long long)(stRandom64() | 1));
        stBatchPut(b, 5, buf, strlen(buf), NULL, o);
        stObjRelease(o);
    }
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    int groups[4] = {0};
    for (int i = 0; i < 2000; i++) {
        char *k = stRandomKey(st, 5, &kl);
        assert_non_null(k);
        if (kl == 1) groups[0]++;
        else if (kl == 2) groups[1]++;
        else if (k[0] == 'u') groups[2]++;
        else groups[3]++;
        free(k);
    }
    /* Expected 5, 5, 995, 995. */
    assert_true(groups[0] < 40 && groups[1] < 40);
    assert_true(groups[2] > 700 && groups[3] > 700);
    stClose(st);
}

/* ---- Hot set ----------------------------------------------------------------------------------- */

static void test_hotset_hits_misses(void **state) {
    (void)state;
    stEngine *st = openEngine("hot", 1 << 20, ST_FSYNC_NO);
    stStats s;
    setKey(st, 0, "k", "v", 0); /* setKey's own stGet: one miss */
    stGetStats(st, &s);
    assert_int_equal(s.hotset_keys, 1); /* writes fill the hot set */
    assert_int_equal(s.hotset_misses, 1);
    assert_int_equal(s.hotset_hits, 0);
    stObj *a = stGet(st, 0, "k", 1), *b = stGet(st, 0, "k", 1);
    assert_ptr_equal(a, b); /* the cached object, shared */
    stObjRelease(a);
    stObjRelease(b);
    stGetStats(st, &s);
    assert_int_equal(s.hotset_hits, 2);
    assert_true(s.hotset_bytes >= sizeof(stObj) + 2);
    assert_null(stGet(st, 0, "absent", 6));
    stGetStats(st, &s);
    assert_int_equal(s.hotset_misses, 2);
    stClose(st);

    /* After reopen the hot set is cold: a miss, then admission, then a hit. */
    st = openEngine("hot", 1 << 20, ST_FSYNC_NO);
    assertValue(st, 0, "k", "v");
    assertValue(st, 0, "k", "v");
    stGetStats(st, &s);
    assert_int_equal(s.hotset_misses, 1);
    assert_int_equal(s.hotset_hits, 1);
    assert_int_equal(s.hotset_keys, 1);
    /* DEL and FLUSHDB drop cached keys. */
    delKey(st, 0, "k");
    stGetStats(st, &s);
    assert_int_equal(s.hotset_keys, 0);
    assert_int_equal(s.hotset_bytes, 0);
    setKey(st, 1, "x", "y", 0);
    setKey(st, 2, "x", "y", 0);
    flushDb(st, 1);
    stGetStats(st, &s);
    assert_int_equal(s.hotset_keys, 1);
    assert_null(stGet(st, 1, "x", 1));
    assertValue(st, 2, "x", "y");
    /* Budget 0 disables caching. */
    stSetHotsetMaxBytes(st, 0);
    stGetStats(st, &s);
    assert_int_equal(s.hotset_keys, 0);
    assertValue(st, 2, "x", "y");
    stGetStats(st, &s);
    assert_int_equal(s.hotset_keys, 0);
    stClose(st);
}

static void test_hotset_budget(void **state) {
    (void)state;
    const size_t budget = 64 * 1024;
    stEngine *st = openEngine("budget", budget, ST_FSYNC_NO);
    char key[32], val[600];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "key:%03d", i);
        memset(val, 'a' + i % 26, sizeof(val) - 1);
        val[sizeof(val) - 1] = '\0';
        setKey(st, 0, key, val, 0);
        stStats s;
        stGetStats(st, &s);
        assert_true(s.hotset_bytes <= budget);
    }
    stStats s;
    stGetStats(st, &s);
    assert_true(s.hotset_keys > 0);
    assert_true(s.hotset_keys < 500); /* ~700 bytes each: about 90 fit */
    assert_true(s.hotset_bytes > budget / 2);
    /* Every value is still readable: eviction only drops the RAM copy. */
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "key:%03d", i);
        memset(val, 'a' + i % 26, sizeof(val) - 1);
        val[sizeof(val) - 1] = '\0';
        assertValue(st, 0, key, val);
    }
    assert_int_equal(stKeyCount(st, 0), 500);
    stGetStats(st, &s);
    assert_true(s.hotset_bytes <= budget);
    /* A recently read key survives a burst of other reads better than
     * nothing: at least it is readable and the budget holds after shrinking. */
    stSetHotsetMaxBytes(st, budget / 4);
    stGetStats(st, &s);
    assert_true(s.hotset_bytes <= budget / 4);
    /* Values too large for the budget are served but never cached. */
    char *huge = malloc(budget);
    memset(huge, 'h', budget - 1);
    huge[budget - 1] = '\0';
    setKey(st, 0, "huge", huge, 0);
    assertValue(st, 0, "huge", huge);
    stObj *o = stGet(st, 0, "huge", 4), *o2 = stGet(st, 0, "huge", 4);
    assert_ptr_not_equal(o, o2);
    stObjRelease(o);
    stObjRelease(o2);
    free(huge);
    stClose(st);
}

/* stGet is an access of the key (it refreshes lru_clock), stPeek is not
 * (OBJECT IDLETIME used to read 0 because its own lookup refreshed it). */
static void test_peek_keeps_idle_time(void **state) {
    (void)state;
    stEngine *st = openEngine("peek", 1 << 20, ST_FSYNC_NO);
    setKey(st, 0, "k", "v", 0);
    stObj *o = stGet(st, 0, "k", 1);
    assert_true(stObjIdleSeconds(o) <= 1);
    __atomic_store_n(&o->lru_clock, stLruClock() - 100, __ATOMIC_RELAXED); /* used 100 s ago */
    stObjRelease(o);
    stObj *p = stPeek(st, 0, "k", 1);
    assert_non_null(p);
    assert_string_equal(p->val, "v");
    assert_true(stObjIdleSeconds(p) >= 100);
    stObjRelease(p);
    p = stPeek(st, 0, "k", 1);
    assert_true(stObjIdleSeconds(p) >= 100);
    stObjRelease(p);
    o = stGet(st, 0, "k", 1);
    assert_true(stObjIdleSeconds(o) <= 1);
    stObjRelease(o);
    assert_null(stPeek(st, 0, "absent", 6));
    assert_null(stPeek(st, 99, "k", 1));
    stClose(st);

    /* Read from disk: a peek reports the key idle since the engine opened
     * (and caches it so), a read that is an access reports it used now. */
    st = openEngine("peek", 1 << 20, ST_FSYNC_NO);
    st->open_lru_clock = stLruClock() - 50; /* as if opened 50 s ago */
    p = stPeek(st, 0, "k", 1);
    assert_non_null(p);
    assert_true(stObjIdleSeconds(p) >= 50);
    stObj *p2 = stPeek(st, 0, "k", 1);
    assert_ptr_equal(p, p2); /* admitted */
    stObjRelease(p);
    stObjRelease(p2);
    stStats s;
    stGetStats(st, &s);
    assert_int_equal(s.hotset_keys, 1);
    o = stGet(st, 0, "k", 1);
    assert_true(stObjIdleSeconds(o) <= 1);
    stObjRelease(o);
    stClose(st);
    st = openEngine("peek", 1 << 20, ST_FSYNC_NO);
    st->open_lru_clock = stLruClock() - 50;
    o = stGet(st, 0, "k", 1);
    assert_true(stObjIdleSeconds(o) <= 1);
    stObjRelease(o);
    /* Not cacheable (budget 0): every peek reads the disk, same answer. */
    stSetHotsetMaxBytes(st, 0);
    p = stPeek(st, 0, "k", 1);
    assert_true(stObjIdleSeconds(p) >= 50);
    stObjRelease(p);
    stClose(st);
}

/* ---- Batches and the log header ----------------------------------------------------------------- */

static void test_big_batch(void **state) {
    (void)state;
    stEngine *st = openEngine("bigbatch", 1 << 20, ST_FSYNC_EVERYSEC);
    stBatch *b = stBatchNew(st);
    stMeta m = strMeta(0);
    char key[32], val[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "k%05d", i);
        snprintf(val, sizeof(val), "v%d", i);
        stObj *o = stObjNew(&m, val, strlen(val));
        stBatchPut(b, 7, key, strlen(key), NULL, o);
        stObjRelease(o);
    }
    assert_int_equal(stBatchSize(b), 10000);
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    assert_int_equal(stKeyCount(st, 7), 10000);
    assertValue(st, 7, "k00000", "v0");
    assertValue(st, 7, "k09999", "v9999");
    stIter *it = stIterNew(st, 7, NULL, 0);
    int n = 0;
    for (; stIterValid(it); stIterNext(it)) n++;
    stIterFree(it);
    assert_int_equal(n, 10000);
    /* The everysec thread syncs within a bounded wait. */
    int synced = 0;
    for (int i = 0; i < 300 && !synced; i++) {
        synced = atomic_load(&st->synced_batches) == atomic_load(&st->batches);
        if (!synced) usleep(10 * 1000);
    }
    assert_true(synced);
    stClose(st);
    st = openEngine("bigbatch", 1 << 20, ST_FSYNC_NO);
    assert_int_equal(stKeyCount(st, 7), 10000);
    assertValue(st, 7, "k05000", "v5000");
    stClose(st);
}

/* Reads the log headers of every batch in the WAL from RocksDB sequence 1. */
static int readHeaders(stEngine *st, encLogHeader *out, int max) {
    char *err = NULL;
    rocksdb_wal_iterator_t *it = rocksdb_get_updates_since(st->db, 1, NULL, &err);
    assert_null(err);
    int n = 0;
    for (; rocksdb_wal_iter_valid(it) && n < max; rocksdb_wal_iter_next(it)) {
        uint64_t seq;
        rocksdb_writebatch_t *wb = rocksdb_wal_iter_get_batch(it, &seq);
        size_t len;
        const char *rep = rocksdb_writebatch_data(wb, &len);
        assert_true(len >= 14 + ENC_LOG_HEADER_BYTES);
        assert_int_equal((unsigned char)rep[12], 0x03);
        assert_int_equal((unsigned char)rep[13], ENC_LOG_HEADER_BYTES);
        assert_int_equal(encLogHeaderDecode(rep + 14, ENC_LOG_HEADER_BYTES, &out[n]), 0);
        n++;
        rocksdb_writebatch_destroy(wb);
    }
    rocksdb_wal_iter_destroy(it);
    return n;
}

static void test_log_header_and_seq(void **state) {
    (void)state;
    stEngine *st = openEngine("wal", 1 << 20, ST_FSYNC_NO);
    for (int i = 0; i < 5; i++) setKey(st, 0, "k", "v", 0);
    stClose(st);
    st = openEngine("wal", 1 << 20, ST_FSYNC_NO);
    setKey(st, 0, "k2", "v", 0);
    assert_int_equal(stSwapDb(st, 0, 1), C_OK);
    delKey(st, 1, "k2");
    encLogHeader h[16];
    int n = readHeaders(st, h, 16);
    /* Node id creation (seq 0), then 5 + 1 sets, the swap and the delete. */
    assert_int_equal(n, 9);
    assert_int_equal(h[0].seq, 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(h[i].origin, stNodeId(st));
        if (i > 0) {
            assert_int_equal(h[i].seq, (uint64_t)i); /* gap free across reopen */
            assert_true(h[i].hlc > h[i - 1].hlc);
        }
    }
    /* The last put's HLC is below its batch's header HLC. */
    stObj *o = stGet(st, 0, "k", 1);
    assert_null(o); /* swapped away */
    o = stGet(st, 1, "k", 1);
    assert_non_null(o);
    assert_true(o->meta.hlc < h[5].hlc);
    assert_true(o->meta.hlc > h[4].hlc);
    stObjRelease(o);
    stClose(st);
}

/* ---- Concurrency --------------------------------------------------------------------------------- */

#define CW_THREADS 4
#define CW_KEYS 1500

typedef struct cwArg { stEngine *st; int id; } cwArg;

/* Each thread owns its keys (the caller-side lock stripes of the real server
 * are not needed): set every key twice, delete every third. */
static void *cwWriter(void *p) {
    cwArg *a = p;
    char key[32], val[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < CW_KEYS; i++) {
            snprintf(key, sizeof(key), "t%d:%d", a->id, i);
            snprintf(val, sizeof(val), "r%d:%d", round, i);
            setKey(a->st, 0, key, val, 0);
        }
    }
    for (int i = 0; i < CW_KEYS; i += 3) {
        snprintf(key, sizeof(key), "t%d:%d", a->id, i);
        delKey(a->st, 0, key);
    }
    return NULL;
}

static void test_concurrent_writers(void **state) {
    (void)state;
    stEngine *st = openEngine("concurrent", 256 * 1024, ST_FSYNC_NO);
    pthread_t t[CW_THREADS];
    cwArg args[CW_THREADS];
    for (int i = 0; i < CW_THREADS; i++) {
        args[i] = (cwArg){st, i};
        pthread_create(&t[i], NULL, cwWriter, &args[i]);
    }
    for (int i = 0; i < CW_THREADS; i++) pthread_join(t[i], NULL);
    uint64_t expect = CW_THREADS * (CW_KEYS - (CW_KEYS + 2) / 3);
    assert_int_equal(stKeyCount(st, 0), expect);
    char key[32];
    for (int id = 0; id < CW_THREADS; id++) {
        for (int i = 0; i < CW_KEYS; i++) {
            snprintf(key, sizeof(key), "t%d:%d", id, i);
            stObj *o = stGet(st, 0, key, strlen(key));
            if (i % 3 == 0) {
                assert_null(o);
            } else {
                assert_non_null(o);
                char want[32];
                snprintf(want, sizeof(want), "r1:%d", i);
                assert_string_equal(o->val, want);
            }
            stObjRelease(o);
        }
    }
    /* Origin seqs are gap free and in WAL order despite concurrent commits. */
    int nb = CW_THREADS * (2 * CW_KEYS + (CW_KEYS + 2) / 3) + 1;
    encLogHeader *h = malloc(sizeof(*h) * (nb + 1));
    assert_int_equal(readHeaders(st, h, nb + 1), nb);
    for (int i = 0; i < nb; i++) assert_int_equal(h[i].seq, (uint64_t)i);
    free(h);
    stClose(st);
    st = openEngine("concurrent", 0, ST_FSYNC_NO);
    assert_int_equal(stKeyCount(st, 0), expect);
    stClose(st);
}

/* ---- Fixture ----------------------------------------------------------------------------------- */

static int setupAll(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/strata-test-storage-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardownAll(void **state) {
    (void)state;
    rmTree(tmpdir);
    return access(tmpdir, F_OK) == 0 ? -1 : 0;
}


/* ---- Staged reads and TTL counts ------------------------------------------------ */

/* A batch shared by several commands (group commit) answers for its own
 * queued effects, newest first, and counts keys with a TTL exactly. */
/* Put a key's value in an open batch (old: its state before this put). */
static void batchSet(stBatch *b, int db, const char *key, const char *val, const stMeta *old) {
    stMeta m = strMeta(0);
    stObj *o = stObjNew(&m, val, strlen(val));
    stBatchPut(b, db, key, strlen(key), old, o);
    stObjRelease(o);
}

/* batch.c invariant 5: held-back meta Puts keep the order of every key's
 * effects; checked after a reopen, so RocksDB's records and not the hot set
 * answer. */
static void test_held_meta_puts(void **state) {
    (void)state;
    stEngine *st = openEngine("held", 1 << 20, ST_FSYNC_NO);
    setKey(st, 0, "b", "old", 0);
    setKey(st, 0, "c", "old", 0);
    stObj *b0 = stGet(st, 0, "b", 1), *c0 = stGet(st, 0, "c", 1);
    stMeta sm = strMeta(0);
    char big[700];
    memset(big, 'B', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    stBatch *b = stBatchNew(st);
    batchSet(b, 0, "a", "v1", NULL);
    batchSet(b, 0, "a", "v2", &sm);
    batchSet(b, 0, "a", "v3", &sm);
    batchSet(b, 0, "b", "new", &b0->meta);
    stBatchDel(b, 0, "b", 1, &sm);
    stBatchDel(b, 0, "c", 1, &c0->meta);
    batchSet(b, 0, "c", "again", NULL);
    batchSet(b, 0, "d", "small", NULL);
    batchSet(b, 0, "d", big, &sm);
    batchSet(b, 0, "e", big, NULL);
    batchSet(b, 0, "e", "small", &sm);
    batchSet(b, 1, "f", "flushed", NULL);
    stBatchFlushDb(b, 1);
    batchSet(b, 1, "g", "after", NULL);
    batchSet(b, 1, "g", "after2", &sm);
    char k[16];
    for (int i = 0; i < 40; i++) { /* more keys than are held */
        snprintf(k, sizeof(k), "k%d", i);
        batchSet(b, 2, k, k, NULL);
        batchSet(b, 2, k, k + 1, &sm);
    }
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    stObjRelease(b0);
    stObjRelease(c0);
    stClose(st);

    st = openEngine("held", 1 << 20, ST_FSYNC_NO);
    assertValue(st, 0, "a", "v3");
    assert_null(stGet(st, 0, "b", 1));
    assertValue(st, 0, "c", "again");
    assertValue(st, 0, "d", big);
    assertValue(st, 0, "e", "small");
    assert_null(stGet(st, 1, "f", 1));
    assertValue(st, 1, "g", "after2");
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        assertValue(st, 2, k, k + 1);
    }
    assert_int_equal(stKeyCount(st, 0), 4);
    assert_int_equal(stKeyCount(st, 1), 1);
    assert_int_equal(stKeyCount(st, 2), 40);
    stClose(st);
}

static void test_batch_get_and_expires_count(void **state) {
    (void)state;
    stEngine *st = openEngine("staged", 1 << 20, ST_FSYNC_NO);
    setKey(st, 0, "a", "old", 0);
    stBatch *b = stBatchNew(st);
    stObj *got = (stObj *)1;
    assert_int_equal(stBatchGet(b, 0, "a", 1, &got), 0);
    assert_null(got);
    stMeta m = strMeta(0);
    stObj *v1 = stObjNew(&m, "v1", 2);
    stObj *cur = stGet(st, 0, "a", 1);
    stBatchPut(b, 0, "a", 1, &cur->meta, v1);
    assert_int_equal(stBatchGet(b, 0, "a", 1, &got), 1);
    assert_ptr_equal(got, v1);
    stObjRelease(got);
    assert_int_equal(stBatchGet(b, 1, "a", 1, &got), 0); /* other db */
    stBatchDel(b, 0, "a", 1, &v1->meta);
    assert_int_equal(stBatchGet(b, 0, "a", 1, &got), 1);
    assert_null(got);
    stMeta mt = strMeta(stWallMs() + 100000);
    stObj *t = stObjNew(&mt, "t", 1);
    stBatchPut(b, 0, "t", 1, NULL, t);
    /* Nothing is visible outside the batch before the commit. */
    stObj *outside = stGet(st, 0, "a", 1);
    assert_non_null(outside);
    stObjRelease(outside);
    assert_int_equal(stExpiresCount(st, 0), 0);
    assert_int_equal(stBatchCommit(b, NULL), C_OK);
    assert_null(stGet(st, 0, "a", 1));
    assert_int_equal(stKeyCount(st, 0), 1);
    assert_int_equal(stExpiresCount(st, 0), 1);
    /* TTL removed, then set again, then the key deleted. */
    setKey(st, 0, "t", "t2", 0);
    assert_int_equal(stExpiresCount(st, 0), 0);
    setKey(st, 0, "t", "t3", stWallMs() + 50000);
    setKey(st, 0, "u", "u", stWallMs() + 50000);
    assert_int_equal(stExpiresCount(st, 0), 2);
    assert_int_equal(delKey(st, 0, "t"), 1);
    assert_int_equal(stExpiresCount(st, 0), 1);
    stClose(st);
    st = openEngine("staged", 1 << 20, ST_FSYNC_NO);
    assert_int_equal(stExpiresCount(st, 0), 1);
    flushDb(st, 0);
    assert_int_equal(stExpiresCount(st, 0), 0);
    stObjRelease(cur);
    stObjRelease(v1);
    stObjRelease(t);
    stClose(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_delete),
        cmocka_unit_test(test_values_survive_reopen),
        cmocka_unit_test(test_counts_persist),
        cmocka_unit_test(test_node_ids_differ),
        cmocka_unit_test(test_expire_index),
        cmocka_unit_test(test_expire_scan_resume),
        cmocka_unit_test(test_tombstone_compaction),
        cmocka_unit_test(test_tombstone_tail_compaction),
        cmocka_unit_test(test_swapdb),
        cmocka_unit_test(test_iteration),
        cmocka_unit_test(test_random_key),
        cmocka_unit_test(test_hotset_hits_misses),
        cmocka_unit_test(test_hotset_budget),
        cmocka_unit_test(test_peek_keeps_idle_time),
        cmocka_unit_test(test_big_batch),
        cmocka_unit_test(test_log_header_and_seq),
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_batch_get_and_expires_count),
        cmocka_unit_test(test_held_meta_puts),
    };
    return cmocka_run_group_tests(tests, setupAll, teardownAll);
}

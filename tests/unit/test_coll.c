/* test_coll.c - cmocka tests of collections (storage/coll.c, overlay.c,
 * gc.c) against a real RocksDB in a temporary directory: element records and
 * counts, the empty collection disappearing, reads through a batch that
 * holds queued element writes (point reads and merged iterators), the zset
 * score index and its bounds, list ends, incarnations, and the garbage
 * collection of a deleted collection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "../../storage/st_internal.h"

static char tmpdir[256];

/* ---- Helpers ------------------------------------------------------------------ */

static int rmOne(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static int setupAll(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/strata-test-coll-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardownAll(void **state) {
    (void)state;
    nftw(tmpdir, rmOne, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static stEngine *openEngine(const char *sub) {
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", tmpdir, sub);
    stOptions o = {.dir = dir, .databases = 16, .fsync_mode = ST_FSYNC_NO,
                   .hotset_max_bytes = 1 << 20};
    char *err = NULL;
    stEngine *st = stOpen(&o, &err);
    assert_non_null(st);
    return st;
}

static void commit(stBatch *b) {
    char *err = NULL;
    assert_int_equal(stBatchCommit(b, &err), C_OK);
}

/* A write handle on key in a new batch (the key's object, as a command
 * looks it up, in *o). */
static stColl *openW(stEngine *st, stBatch **b, const char *key, int type, stObj **o) {
    *b = stBatchNew(st);
    *o = stGet(st, 0, key, strlen(key));
    return stCollOpen(st, *b, 0, key, strlen(key), *o, type, 1);
}

static void closeW(stColl *c, stBatch *b, stObj *o) {
    stCollClose(c);
    commit(b);
    if (o) stObjRelease(o);
}

static void hset(stEngine *st, const char *key, const char *f, const char *v) {
    stBatch *b;
    stObj *o;
    stColl *c = openW(st, &b, key, ST_TYPE_HASH, &o);
    stCollPut(c, f, strlen(f), v, strlen(v));
    closeW(c, b, o);
}

/* Elements of a handle's iterator joined as "e=v," (or "e," without v). */
static void joinIter(stCollIter *it, int vals, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (; stCollIterValid(it); stCollIterNext(it)) {
        size_t el, vl;
        const char *e = stCollIterElem(it, &el), *v = stCollIterVal(it, &vl);
        n += (size_t)snprintf(out + n, cap - n, "%.*s%s%.*s,", (int)el, e, vals ? "=" : "",
                              vals ? (int)vl : 0, v);
    }
    stCollIterFree(it);
}

/* ---- Tests -------------------------------------------------------------------- */

static int countIter(stCollIter *it, char *last, size_t cap) {
    int n = 0;
    for (; stCollIterValid(it); stCollIterNext(it), n++) {
        size_t el;
        const char *e = stCollIterElem(it, &el);
        snprintf(last, cap, "%.*s", (int)el, e);
    }
    stCollIterFree(it);
    return n;
}

/* itcache.c invariant 1: an iterator kept for reuse is never handed out
 * after a write became visible, and more open iterators than slots work. */
static void test_iterator_reuse(void **state) {
    (void)state;
    stEngine *st = openEngine("itcache");
    char f[16], last[32];
    stBatch *b;
    stObj *o;
    stColl *c = openW(st, &b, "big", ST_TYPE_HASH, &o);
    for (int i = 0; i < 200; i++) { /* past the collection cache's limit */
        snprintf(f, sizeof(f), "f%03d", i);
        stCollPut(c, f, strlen(f), "v", 1);
    }
    closeW(c, b, o);
    stThreadInit(1);
    for (int round = 0; round < 3; round++) {
        o = stGet(st, 0, "big", 3);
        stColl *r = stCollOpen(st, NULL, 0, "big", 3, o, ST_TYPE_HASH, 0);
        assert_int_equal(countIter(stCollIterNew(r, NULL, 0, 0), last, sizeof(last)), 200 + round);
        assert_int_equal(countIter(stCollIterNew(r, "f100", 4, 0), last, sizeof(last)), 100 + round);
        stCollIter *open[6];
        for (int i = 0; i < 6; i++) open[i] = stCollIterNew(r, NULL, 0, 0);
        for (int i = 0; i < 6; i++) assert_int_equal(countIter(open[i], last, sizeof(last)), 200 + round);
        stCollClose(r);
        stObjRelease(o);
        snprintf(f, sizeof(f), "z%d", round);
        hset(st, "big", f, "new"); /* must be seen by the next round */
    }
    o = stGet(st, 0, "big", 3);
    stColl *r = stCollOpen(st, NULL, 0, "big", 3, o, ST_TYPE_HASH, 0);
    assert_int_equal(countIter(stCollIterNew(r, NULL, 0, 0), last, sizeof(last)), 203);
    assert_string_equal(last, "z2");
    /* A reused iterator left on the seek key: every kind of open still
     * starts where a fresh one would. */
    stCollIter *it = stCollIterNew(r, "f100", 4, 0);
    stCollIterFree(it); /* cached, positioned on f100 */
    it = stCollIterNew(r, "f100", 4, ST_ITER_EXCLUSIVE);
    size_t el;
    const char *e = stCollIterElem(it, &el);
    assert_true(el == 4 && memcmp(e, "f101", 4) == 0);
    stCollIterFree(it);
    it = stCollIterNew(r, "f101", 4, ST_ITER_REVERSE | ST_ITER_EXCLUSIVE);
    e = stCollIterElem(it, &el);
    assert_true(el == 4 && memcmp(e, "f100", 4) == 0);
    stCollIterFree(it);
    it = stCollIterNew(r, "f100", 4, ST_ITER_REVERSE);
    e = stCollIterElem(it, &el);
    assert_true(el == 4 && memcmp(e, "f100", 4) == 0);
    stCollIterNext(it);
    e = stCollIterElem(it, &el);
    assert_true(el == 4 && memcmp(e, "f099", 4) == 0);
    stCollIterFree(it);
    stCollClose(r);
    stObjRelease(o);
    stThreadIdle();
    stThreadInit(0);
    stClose(st);
}

static uint64_t activeMemEntries(stEngine *st, int cf) {
    uint64_t n = 0;
    assert_int_equal(rocksdb_property_int_cf(st->db, st->cf[cf], "rocksdb.num-entries-active-mem-table", &n), 0);
    return n;
}

/* compact.c: a FLUSHDB's range delete does not stay in the sub memtable, where
 * reverse steps over a collection written after it searched the keys it
 * hides (LINSERT BEFORE after a FLUSHALL: 300x slower).  The compaction
 * thread is woken and flushes it out within a bounded wait. */
static void test_flushdb_leaves_no_range_delete_in_memtables(void **state) {
    (void)state;
    stEngine *st = openEngine("flushdb");
    stBatch *b;
    stObj *o;
    stColl *c = openW(st, &b, "h", ST_TYPE_HASH, &o);
    char f[16];
    for (int i = 0; i < 200; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        stCollPut(c, f, strlen(f), "v", 1);
    }
    closeW(c, b, o);
    assert_true(activeMemEntries(st, ST_CF_SUB) >= 200);
    b = stBatchNew(st);
    stBatchFlushDb(b, 0);
    commit(b);
    int ms = 0;
    while (activeMemEntries(st, ST_CF_SUB) > 0 && ms < 10000) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        ms += 20;
    }
    assert_int_equal(activeMemEntries(st, ST_CF_SUB), 0);
    assert_null(stGet(st, 0, "h", 1));
    stClose(st);
}

static void test_element_encodings(void **state) {
    (void)state;
    char hdr[ENC_ELEM_HDR_BYTES + 3];
    encElemHeader(hdr, ENC_ELEM_TOMBSTONE, 0x1122334455667788ULL, 42);
    memcpy(hdr + ENC_ELEM_HDR_BYTES, "abc", 3);
    uint8_t fl;
    uint64_t hlc, origin;
    const char *p;
    size_t pl;
    assert_int_equal(encElemDecode(hdr, sizeof(hdr), &fl, &hlc, &origin, &p, &pl), 0);
    assert_int_equal(fl, ENC_ELEM_TOMBSTONE);
    assert_true(hlc == 0x1122334455667788ULL && origin == 42);
    assert_int_equal(pl, 3);
    assert_memory_equal(p, "abc", 3);
    assert_int_equal(encElemDecode(hdr, ENC_ELEM_HDR_BYTES - 1, &fl, &hlc, &origin, &p, &pl), -1);

    char info[64];
    const char *h, *t;
    size_t hl, tl;
    uint64_t bytes;
    size_t n = encCollInfo(info, 300, NULL, 0, NULL, 0);
    assert_int_equal(encCollInfoDecode(info, n, &bytes, &h, &hl, &t, &tl), 0);
    assert_true(bytes == 300 && h == NULL && t == NULL);
    n = encCollInfo(info, 7, "head", 4, "tail!", 5);
    assert_int_equal(encCollInfoDecode(info, n, &bytes, &h, &hl, &t, &tl), 0);
    assert_true(bytes == 7 && hl == 4 && tl == 5);
    assert_memory_equal(h, "head", 4);
    assert_memory_equal(t, "tail!", 5);
    assert_int_equal(encCollInfoDecode(info, n - 1, &bytes, &h, &hl, &t, &tl), -1);
    assert_int_equal(encCollInfoDecode(info, n + 0, &bytes, &h, &hl, &t, &tl), 0);
}

static void test_count_bytes_and_empty_key(void **state) {
    (void)state;
    stEngine *st = openEngine("count");
    hset(st, "h", "a", "1");
    hset(st, "h", "b", "22");
    hset(st, "h", "a", "333");
    stObj *o = stGet(st, 0, "h", 1);
    assert_non_null(o);
    assert_int_equal(o->meta.type, ST_TYPE_HASH);
    assert_int_equal(o->meta.count, 2);
    assert_int_equal(o->meta.size, 1 + 3 + 1 + 2); /* field + value bytes */
    assert_int_equal(stKeyCount(st, 0), 1);
    assert_int_equal(stDataBytes(st), 1 + 7);
    stObjRelease(o);
    stBatch *b;
    stColl *c = openW(st, &b, "h", ST_TYPE_HASH, &o);
    assert_int_equal(stCollDel(c, "a", 1), 1);
    assert_int_equal(stCollDel(c, "a", 1), 0);
    assert_int_equal(stCollDel(c, "b", 1), 1);
    assert_int_equal(stCollClose(c), 0);
    commit(b);
    stObjRelease(o);
    assert_null(stGet(st, 0, "h", 1));
    assert_int_equal(stKeyCount(st, 0), 0);
    assert_int_equal(stDataBytes(st), 0);
    stClose(st);
}

static void test_reads_through_batch(void **state) {
    (void)state;
    stEngine *st = openEngine("overlay");
    for (char f = 'a'; f <= 'f'; f++) {
        char fs[2] = {f, 0};
        hset(st, "h", fs, "db");
    }
    stBatch *b;
    stObj *o;
    stColl *c = openW(st, &b, "h", ST_TYPE_HASH, &o);
    stCollPut(c, "c", 1, "ov", 2);   /* shadows a committed record */
    stCollDel(c, "d", 1);            /* hides one */
    stCollPut(c, "bb", 2, "new", 3); /* between committed ones */
    stCollPut(c, "z", 1, "end", 3);
    char *v;
    size_t vl;
    assert_int_equal(stCollGet(c, "c", 1, &v, &vl), 1);
    assert_memory_equal(v, "ov", 2);
    free(v);
    assert_int_equal(stCollGet(c, "d", 1, NULL, NULL), 0);
    assert_int_equal(stCollCount(c), 7);
    char out[256];
    joinIter(stCollIterNew(c, NULL, 0, 0), 1, out, sizeof(out));
    assert_string_equal(out, "a=db,b=db,bb=new,c=ov,e=db,f=db,z=end,");
    joinIter(stCollIterNew(c, NULL, 0, ST_ITER_REVERSE), 0, out, sizeof(out));
    assert_string_equal(out, "z,f,e,c,bb,b,a,");
    joinIter(stCollIterNew(c, "c", 1, ST_ITER_EXCLUSIVE), 0, out, sizeof(out));
    assert_string_equal(out, "e,f,z,");
    joinIter(stCollIterNew(c, "d", 1, ST_ITER_REVERSE), 0, out, sizeof(out));
    assert_string_equal(out, "c,bb,b,a,");
    /* A second (read) handle on the same batch sees the same, as a later
     * command of a write group would. */
    stCollClose(c);
    stObj *q = NULL;
    assert_int_equal(stBatchGet(b, 0, "h", 1, &q), 1);
    stColl *r = stCollOpen(st, b, 0, "h", 1, q, ST_TYPE_HASH, 0);
    joinIter(stCollIterNew(r, "b", 1, 0), 0, out, sizeof(out));
    assert_string_equal(out, "b,bb,c,e,f,z,");
    stCollClose(r);
    stObjRelease(q);
    commit(b);
    stObjRelease(o);
    o = stGet(st, 0, "h", 1);
    r = stCollOpen(st, NULL, 0, "h", 1, o, ST_TYPE_HASH, 0);
    joinIter(stCollIterNew(r, NULL, 0, 0), 1, out, sizeof(out));
    assert_string_equal(out, "a=db,b=db,bb=new,c=ov,e=db,f=db,z=end,");
    stCollClose(r);
    stObjRelease(o);
    stClose(st);
}

/* Seeks through a batch's overlay, against a model: committed fields and a
 * batch that adds, rewrites and deletes some, then every seek key (each
 * field, keys between and around them) in all four directions.  The overlay
 * entries are found by binary search (coll.c ovSeekIndex); this pins its
 * boundaries: exclusive or not, forward or reverse, seek on an overlay
 * entry, on a committed record, on neither. */
static void test_overlay_seeks_match_model(void **state) {
    (void)state;
    enum { NF = 40 };
    stEngine *st = openEngine("ovseek");
    int live[NF] = {0};
    char f[16];
    for (int i = 0; i < NF; i += 2) { /* committed: the even fields */
        snprintf(f, sizeof(f), "f%02d", i);
        hset(st, "h", f, "db");
        live[i] = 1;
    }
    stBatch *b;
    stObj *o;
    stColl *c = openW(st, &b, "h", ST_TYPE_HASH, &o);
    for (int i = 0; i < NF; i++) {
        snprintf(f, sizeof(f), "f%02d", i);
        if (i % 3 == 0) { /* overlay puts: new (odd) and rewritten (even) fields */
            stCollPut(c, f, 3, "ov", 2);
            live[i] = 1;
        } else if (i % 4 == 0) { /* overlay deletes of committed fields */
            stCollDel(c, f, 3);
            live[i] = 0;
        }
    }
    char out[1024], want[1024];
    for (int s = -1; s <= 2 * NF; s++) {
        /* Seek keys: "f" (before all), each field, and field + "x" (between). */
        char seek[16];
        size_t sl;
        if (s < 0) sl = (size_t)snprintf(seek, sizeof(seek), "f");
        else sl = (size_t)snprintf(seek, sizeof(seek), "f%02d%s", s / 2, s % 2 ? "x" : "");
        for (int flags = 0; flags < 4; flags++) {
            int rev = flags & 1, excl = flags & 2;
            size_t n = 0;
            want[0] = '\0';
            for (int k = 0; k < NF; k++) {
                int i = rev ? NF - 1 - k : k;
                if (!live[i]) continue;
                snprintf(f, sizeof(f), "f%02d", i);
                int cmp = strcmp(f, seek);
                if (rev ? (cmp > 0 || (cmp == 0 && excl)) : (cmp < 0 || (cmp == 0 && excl)))
                    continue;
                n += (size_t)snprintf(want + n, sizeof(want) - n, "%s,", f);
            }
            joinIter(stCollIterNew(c, seek, sl,
                                   (rev ? ST_ITER_REVERSE : 0) | (excl ? ST_ITER_EXCLUSIVE : 0)),
                     0, out, sizeof(out));
            if (strcmp(out, want) != 0)
                fail_msg("seek %s rev %d excl %d: got %s want %s", seek, rev, excl, out, want);
        }
    }
    stCollClose(c);
    stBatchDiscard(b);
    stObjRelease(o);
    stClose(st);
}

static void test_zset_score_index(void **state) {
    (void)state;
    stEngine *st = openEngine("zset");
    stBatch *b;
    stObj *o;
    stColl *c = openW(st, &b, "z", ST_TYPE_ZSET, &o);
    struct { const char *m; double s; } in[] = {
        {"inf", INFINITY}, {"neg", -2.5}, {"zero", 0.0}, {"negzero", -0.0}, {"ninf", -INFINITY},
        {"one", 1.0}, {"", 1.0}, {"big", 1e300}, {"tiny", 1e-300}};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
        assert_int_equal(stZsetAdd(c, in[i].m, strlen(in[i].m), in[i].s, NULL), 1);
    double old;
    assert_int_equal(stZsetAdd(c, "neg", 3, -3.5, &old), 0);
    assert_true(old == -2.5);
    closeW(c, b, o);
    o = stGet(st, 0, "z", 1);
    c = stCollOpen(st, NULL, 0, "z", 1, o, ST_TYPE_ZSET, 0);
    char out[256];
    joinIter(stZsetIterNew(c, -INFINITY, 0), 0, out, sizeof(out));
    /* -0 and 0 share a place, ordered by member; "" sorts first at 1. */
    assert_string_equal(out, "ninf,neg,negzero,zero,tiny,,one,big,inf,");
    joinIter(stZsetIterNew(c, 1.0, 0), 0, out, sizeof(out));
    assert_string_equal(out, ",one,big,inf,");
    joinIter(stZsetIterNew(c, 1.0, ST_ITER_EXCLUSIVE), 0, out, sizeof(out));
    assert_string_equal(out, "big,inf,");
    joinIter(stZsetIterNew(c, 1.0, ST_ITER_REVERSE), 0, out, sizeof(out));
    assert_string_equal(out, "one,,tiny,zero,negzero,neg,ninf,");
    joinIter(stZsetIterNew(c, 1.0, ST_ITER_REVERSE | ST_ITER_EXCLUSIVE), 0, out, sizeof(out));
    assert_string_equal(out, "tiny,zero,negzero,neg,ninf,");
    joinIter(stZsetIterNew(c, INFINITY, ST_ITER_REVERSE), 0, out, sizeof(out));
    assert_string_equal(out, "inf,big,one,,tiny,zero,negzero,neg,ninf,");
    double sc;
    assert_int_equal(stZsetScore(c, "negzero", 7, &sc), 1);
    assert_true(sc == 0 && signbit(sc)); /* the member keeps its exact score */
    stCollClose(c);
    stObjRelease(o);
    stClose(st);
}

static void test_list_ends(void **state) {
    (void)state;
    stEngine *st = openEngine("list");
    stBatch *b;
    stObj *o;
    stColl *c = openW(st, &b, "l", ST_TYPE_LIST, &o);
    stListPush(c, 1, "b", 1);
    stListPush(c, 1, "c", 1);
    stListPush(c, 0, "a", 1);
    closeW(c, b, o);
    c = openW(st, &b, "l", ST_TYPE_LIST, &o);
    /* Insert after the head ("a") and before the tail ("c"). */
    stCollIter *it = stCollIterNew(c, NULL, 0, 0);
    size_t hl;
    const char *hp = stCollIterElem(it, &hl);
    char head[ENC_LISTPOS_MAX_BYTES];
    memcpy(head, hp, hl);
    stCollIterFree(it);
    assert_int_equal(stListInsert(c, head, hl, 1, "a2", 2), C_OK);
    assert_int_equal(stListInsert(c, head, hl, 0, "a0", 2), C_OK);
    char out[256];
    size_t n = 0;
    for (it = stCollIterNew(c, NULL, 0, 0); stCollIterValid(it); stCollIterNext(it)) {
        size_t vl;
        const char *v = stCollIterVal(it, &vl);
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%.*s,", (int)vl, v);
    }
    stCollIterFree(it);
    assert_string_equal(out, "a0,a,a2,b,c,");
    char *v;
    size_t vl;
    assert_int_equal(stListPop(c, 0, &v, &vl), 1);
    assert_memory_equal(v, "a0", 2);
    free(v);
    assert_int_equal(stListPop(c, 1, &v, &vl), 1);
    assert_memory_equal(v, "c", 1);
    free(v);
    assert_int_equal(stListPop(c, 0, &v, &vl), 1);
    assert_memory_equal(v, "a", 1);
    free(v);
    assert_int_equal(stCollCount(c), 2);
    closeW(c, b, o);
    c = openW(st, &b, "l", ST_TYPE_LIST, &o);
    assert_int_equal(stListPop(c, 1, &v, &vl), 1);
    assert_memory_equal(v, "b", 1);
    free(v);
    assert_int_equal(stListPop(c, 1, &v, &vl), 1);
    assert_memory_equal(v, "a2", 2);
    free(v);
    assert_int_equal(stListPop(c, 1, &v, &vl), 0);
    closeW(c, b, o);
    assert_null(stGet(st, 0, "l", 1));
    stClose(st);
}

static void test_incarnations_isolate(void **state) {
    (void)state;
    stEngine *st = openEngine("incarnation");
    hset(st, "h", "old", "1");
    stObj *o = stGet(st, 0, "h", 1);
    uint64_t inc = o->meta.incarnation;
    stBatch *b = stBatchNew(st);
    stBatchDel(b, 0, "h", 1, &o->meta); /* O(1): the element stays on disk */
    commit(b);
    stObjRelease(o);
    hset(st, "h", "new", "2");
    o = stGet(st, 0, "h", 1);
    assert_true(o->meta.incarnation > inc);
    assert_int_equal(o->meta.count, 1);
    stColl *c = stCollOpen(st, NULL, 0, "h", 1, o, ST_TYPE_HASH, 0);
    assert_int_equal(stCollGet(c, "old", 3, NULL, NULL), 0);
    char out[64];
    joinIter(stCollIterNew(c, NULL, 0, 0), 0, out, sizeof(out));
    assert_string_equal(out, "new,");
    stCollClose(c);
    stObjRelease(o);
    stClose(st);
}

static void test_garbage_is_collected(void **state) {
    (void)state;
    stEngine *st = openEngine("gc");
    stBatch *b;
    stObj *o;
    stColl *c = openW(st, &b, "big", ST_TYPE_HASH, &o);
    for (int i = 0; i < 5000; i++) {
        char f[16];
        int n = snprintf(f, sizeof(f), "f%d", i);
        stCollPut(c, f, (size_t)n, "v", 1);
    }
    closeW(c, b, o);
    hset(st, "keep", "f", "v");
    o = stGet(st, 0, "big", 3);
    b = stBatchNew(st);
    stBatchDel(b, 0, "big", 3, &o->meta);
    commit(b);
    stObjRelease(o);
    /* The compaction thread compacts the dead range within a few seconds. */
    for (int i = 0; i < 200 && atomic_load(&st->gc_dropped) < 5000; i++) usleep(50000);
    assert_true(atomic_load(&st->gc_dropped) >= 5000);
    o = stGet(st, 0, "keep", 4);
    c = stCollOpen(st, NULL, 0, "keep", 4, o, ST_TYPE_HASH, 0);
    assert_int_equal(stCollGet(c, "f", 1, NULL, NULL), 1);
    stCollClose(c);
    stObjRelease(o);
    stClose(st);
}

static void test_tombstones_trigger_compaction(void **state) {
    (void)state;
    stEngine *st = openEngine("tombstones");
    stBatch *b;
    stObj *o;
    stColl *c = openW(st, &b, "s", ST_TYPE_SET, &o);
    for (int i = 0; i < 3000; i++) {
        char m[16];
        int n = snprintf(m, sizeof(m), "m%d", i);
        stCollPut(c, m, (size_t)n, "", 0);
    }
    closeW(c, b, o);
    uint64_t before = atomic_load(&st->gc_ranges_compacted);
    /* Deletes spread over many commands (handles), as SPOPs are. */
    for (int i = 0; i < 2000; i += 100) {
        c = openW(st, &b, "s", ST_TYPE_SET, &o);
        for (int j = i; j < i + 100; j++) {
            char m[16];
            int n = snprintf(m, sizeof(m), "m%d", j);
            assert_int_equal(stCollDel(c, m, (size_t)n), 1);
        }
        closeW(c, b, o);
    }
    for (int i = 0; i < 200 && atomic_load(&st->gc_ranges_compacted) == before; i++)
        usleep(50000);
    assert_true(atomic_load(&st->gc_ranges_compacted) > before);
    o = stGet(st, 0, "s", 1);
    assert_int_equal(o->meta.count, 1000);
    c = stCollOpen(st, NULL, 0, "s", 1, o, ST_TYPE_SET, 0);
    assert_int_equal(stCollGet(c, "m2500", 5, NULL, NULL), 1);
    assert_int_equal(stCollGet(c, "m1500", 5, NULL, NULL), 0);
    stCollClose(c);
    stObjRelease(o);
    stClose(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_element_encodings),
        cmocka_unit_test(test_count_bytes_and_empty_key),
        cmocka_unit_test(test_reads_through_batch),
        cmocka_unit_test(test_overlay_seeks_match_model),
        cmocka_unit_test(test_zset_score_index),
        cmocka_unit_test(test_list_ends),
        cmocka_unit_test(test_incarnations_isolate),
        cmocka_unit_test(test_garbage_is_collected),
        cmocka_unit_test(test_tombstones_trigger_compaction),
        cmocka_unit_test(test_iterator_reuse),
        cmocka_unit_test(test_flushdb_leaves_no_range_delete_in_memtables),
    };
    return cmocka_run_group_tests(tests, setupAll, teardownAll);
}

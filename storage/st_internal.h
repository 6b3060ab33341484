/* st_internal.h - private declarations shared by the storage/ sources: the
 * engine struct, column family indexes, the hot set API and small helpers.
 * Upper layers include storage.h only, never this file.
 */
#ifndef STRATA_ST_INTERNAL_H
#define STRATA_ST_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <rocksdb/c.h>

#include "encoding.h"
#include "hlc.h"
#include "storage.h"

/* ---- Column families ----------------------------------------------------- */

/* Index of each column family in stEngine.cf[]; the order of st_cf_names[]. */
enum {
    ST_CF_DEFAULT = 0,
    ST_CF_META,
    ST_CF_SUB,
    ST_CF_ZSCORE,
    ST_CF_EXPIRE,
    ST_CF_SYS,
    ST_CF_COUNT
};
extern const char *const st_cf_names[ST_CF_COUNT];

#define ST_MAX_DATABASES 65535 /* physical db numbers are u16; 0xFFFF unused */
#define ST_KEYBUF_BYTES 256    /* stack buffer for encoded keys; longer keys malloc */

/* ---- CRC-32C for RocksDB (crc32c.c) --------------------------------------- */

/* Extend a CRC-32C (RocksDB's crc32c::Extend semantics): the process's
 * implementation (SSE4.2 when the CPU has it), a byte-table reference, and
 * the one inside librocksdb that crc32c.c takes the place of. */
uint32_t stCrc32c(uint32_t crc, const void *buf, size_t n);
uint32_t stCrc32cSoft(uint32_t crc, const void *buf, size_t n);
uint32_t stCrc32cLibrary(uint32_t crc, const void *buf, size_t n);

/* ---- Iterator reuse (itcache.c) ------------------------------------------ */

typedef struct itSlot itcHandle;
/* A RocksDB iterator over cf within [lower, upper) that reads what a new one
 * would (a cached one when this thread caches and nothing was written since
 * it was made).  Unpositioned: seek it.  Give it back with itcRelease(). */
itcHandle *itcAcquire(stEngine *st, int cf, const char *lower, size_t lolen,
                      const char *upper, size_t uplen);
rocksdb_iterator_t *itcIter(itcHandle *h);
void itcRelease(itcHandle *h);

/* ---- Hot set (hotset.c) -------------------------------------------------- */

typedef struct hotset hotset;

/* New empty hot set of the given budget.  Never NULL.  Free with hotsetFree(),
 * which releases every cached object. */
hotset *hotsetNew(size_t max_bytes);
void hotsetFree(hotset *hs);
uint64_t hotsetHash(uint16_t pdb, const char *key, size_t klen);
/* The cached object with one new reference for the caller (stObjRelease()),
 * or NULL.  Counts a hit or a miss.  touch > 0: the read is an access and
 * refreshes the object's lru_clock (stGet); 0 leaves it (stPeek); < 0 also
 * counts no hit or miss (stCached). */
stObj *hotsetGet(hotset *hs, uint16_t pdb, const char *key, size_t klen,
                 uint64_t hash, int touch);
/* Only checks presence (no reference, no hit/miss count). */
int hotsetContains(hotset *hs, uint16_t pdb, const char *key, size_t klen,
                   uint64_t hash);
/* Write epoch of the key's shard.  A reader takes it before reading RocksDB
 * and passes it to hotsetAdmit(), which refuses to insert if a writer touched
 * the shard in between (the value read may be stale). */
uint64_t hotsetEpoch(hotset *hs, uint64_t hash);
/* Read-miss admission: inserts obj (taking its own reference) unless the key
 * is cached already or the shard's epoch moved past `epoch`. */
void hotsetAdmit(hotset *hs, uint16_t pdb, const char *key, size_t klen,
                 uint64_t hash, stObj *obj, uint64_t epoch);
/* Write path, after the RocksDB write: caches obj as the key's value (taking
 * its own reference), replacing any older object. */
void hotsetPut(hotset *hs, uint16_t pdb, const char *key, size_t klen,
               uint64_t hash, stObj *obj);
/* Write path: forgets the key. */
void hotsetDel(hotset *hs, uint16_t pdb, const char *key, size_t klen,
               uint64_t hash);
/* Forgets every key of physical db pdb (pdb < 0: every key). */
void hotsetDropDb(hotset *hs, int pdb);
/* Changes the budget and evicts down to it at once. */
void hotsetSetMaxBytes(hotset *hs, size_t max_bytes);
void hotsetStats(hotset *hs, uint64_t *keys, uint64_t *bytes, uint64_t *hits,
                 uint64_t *misses);

/* ---- Eviction scores and LFU counters (evict.c) ------------------------- */

int evictSamples(void);
/* The counter after the decay periods elapsed since the last access. */
uint8_t lfuDecay(uint8_t counter, uint32_t last_access_s, uint32_t now_s, int decay_minutes);
/* The counter after one access; r is uniform in [0, 1). */
uint8_t lfuIncr(uint8_t counter, int log_factor, double r);
/* Records an access of a cached object: LFU counter, then lru_clock. */
void evictTouch(stObj *o, uint32_t now_s);
/* What an eviction score depends on: an object's expire-at, last access and
 * LFU counter.  The hot set keeps a copy in each entry, so sampling does not
 * touch the objects (a cache miss each: 7% of the server thread under 8 KB
 * SETs, 20 samples per eviction). */
typedef struct evictStamp {
    uint64_t expire_ms;
    uint32_t lru_clock;
    uint8_t lfu;
} evictStamp;
/* Eviction score under the current policy: the highest of a sample goes. */
uint64_t evictScore(const evictStamp *e, uint32_t now_s);
uint64_t evictScoreStamp(int policy, const evictStamp *e, uint32_t now_s, uint64_t rnd,
                         int decay_minutes);
uint64_t evictScoreFor(int policy, const stObj *o, uint32_t now_s, uint64_t rnd,
                       int decay_minutes);
/* Accounted size of a cached entry (hotset.c). */
size_t hotsetEntryBytes(size_t klen, const stObj *o);

/* ---- Small collections cached whole (ccache.c) --------------------------- */

#define CCACHE_MAX_ELEMENTS 128 /* collections up to this many elements ... */
#define CCACHE_MAX_BYTES 8192   /* ... and this many element bytes are cached */

typedef struct ccRec {
    const char *k, *v; /* a whole sub record: key and value as in RocksDB */
    size_t kn, vn;
} ccRec;

typedef struct ccEntry {
    struct ccEntry *hnext, *lnext, *lprev;
    uint64_t hash;
    int refcount; /* atomic */
    size_t bytes;
    uint16_t pdb;
    uint64_t inc, hlc;
    char *key;
    size_t klen;
    size_t n;   /* records, sorted by key */
    ccRec *recs;
} ccEntry;

typedef struct ccache ccache;
ccache *ccacheNew(size_t budget);
void ccacheFree(ccache *cc);
void ccacheSetBudget(ccache *cc, size_t budget);
size_t ccacheBudget(ccache *cc);
void ccacheStats(ccache *cc, uint64_t *entries, uint64_t *bytes);
/* The entry of (pdb, key, incarnation, meta HLC) with a new reference, or
 * NULL. */
ccEntry *ccacheGet(ccache *cc, uint16_t pdb, const char *key, size_t klen, uint64_t inc,
                   uint64_t hlc);
/* Reads the sub records in [lower, upper) from RocksDB into a new entry,
 * caches it and returns it with a reference for the caller; NULL if there
 * are more than max_elements or the read failed. */
ccEntry *ccacheBuild(ccache *cc, stEngine *st, uint16_t pdb, const char *key, size_t klen,
                     uint64_t inc, uint64_t hlc, const char *lower, const char *upper,
                     size_t blen, size_t max_elements);
void ccRelease(ccEntry *e);
/* Index of the first record >= key (e->n if none). */
size_t ccFind(const ccEntry *e, const char *key, size_t klen);

/* ---- Garbage of deleted collections (gc.c) -------------------------------- */

/* The records of one dead incarnation, queued for a targeted compaction. */
typedef struct gcRange {
    struct gcRange *next;
    uint16_t pdb;
    uint64_t inc;
    size_t klen;
    char key[];
} gcRange;

/* ---- Engine --------------------------------------------------------------- */

struct stEngine {
    rocksdb_t *db;
    rocksdb_options_t *dbopt;
    rocksdb_options_t *cfopt[ST_CF_COUNT];
    rocksdb_column_family_handle_t *cf[ST_CF_COUNT];
    rocksdb_column_family_handle_t **extra_cf; /* unknown CFs found on disk */
    rocksdb_options_t *extra_opt;
    int extra_ncf;
    rocksdb_cache_t *block_cache;
    rocksdb_readoptions_t *ropts;       /* point reads; shared, read-only */
    rocksdb_writeoptions_t *wopts;      /* sync = 0 */
    rocksdb_writeoptions_t *wopts_sync; /* sync = 1 (appendfsync always) */
    char *dir;

    /* Databases.  l2p maps logical -> physical, p2l the inverse (-1 for a
     * physical db no logical db points at, when `databases` shrank).  Entries
     * only change in stSwapDb (GLOBAL), atomics keep background readers
     * (expiry) well defined. */
    int databases; /* logical dbs */
    int npdb;      /* physical dbs: max(databases, persisted map size) */
    _Atomic int *l2p;
    _Atomic int *p2l;
    _Atomic int64_t *counts; /* exact key count per physical db */
    _Atomic int64_t *expires; /* exact count of keys with a TTL per physical db */
    _Atomic int64_t *bytes;   /* exact bytes of keys + values per physical db */
    /* RANDOMKEY's rejection bound per physical db: the bits of a double
     * (iter.c); 0 (= 0.0) until learned. */
    _Atomic uint64_t *random_wmax;

    uint64_t node_id;
    hlcClock hlc;
    pthread_mutex_t commit_mu; /* orders origin seqs with WAL order */
    uint64_t seq;              /* last committed origin seq; under commit_mu */

    hotset *hs;
    ccache *cc; /* small collections whole (ccache.c); budget: a quarter of hs's */
    uint32_t open_lru_clock; /* stLruClock() at open: last access of peeked cold keys */

    _Atomic int fsync_mode;
    _Atomic int merge_writes; /* stSetMergeWrites() */
    _Atomic uint64_t batches;        /* batches committed */
    _Atomic uint64_t synced_batches; /* value of `batches` at the last sync */
    _Atomic uint64_t last_sync_unix;

    /* appendfsync everysec thread (engine.c). */
    pthread_t sync_thread;
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cond;
    int sync_stop;    /* under sync_mu */
    int sync_started; /* thread was created; join it on close */

    /* Expiry scan resume point (iter.c, invariants there); under commit_mu,
     * which every batch that inserts expire entries holds anyway.  Scans are
     * serialised by expire_scan_mu. */
    pthread_mutex_t expire_scan_mu;
    uint64_t expire_cursor_ms; /* the next scan starts at this expire-at */
    uint64_t expire_low_ms;    /* lowest expire-at inserted since a scan started */
    unsigned expire_passes;    /* scans since the last one from the start */
    uint64_t expire_done_ms;   /* highest point a scan got to: below it the
                                * index is mostly tombstones (compact.c) */

    /* Tombstone compaction (compact.c).  Counters are estimates of records
     * deleted since the range was last compacted, kept by batch.c. */
    _Atomic int64_t *dead;            /* meta records deleted, per physical db */
    _Atomic int *flushed;             /* a FLUSHDB hid keys of the db (range delete) */
    _Atomic uint64_t expire_dead;     /* expire index entries deleted */
    int64_t *dead_prev;               /* dead[] at the last check (thread only) */
    uint8_t *dead_tail;               /* compacted while deletes went on (thread only) */
    uint64_t expire_dead_prev;        /* expire_dead at the last check (thread only) */
    int expire_tail;                  /* same, for the expire index (thread only) */
    pthread_t compact_thread;
    pthread_mutex_t compact_mu;
    pthread_cond_t compact_cond;
    int compact_stop;    /* under compact_mu */
    int compact_started; /* thread was created; join it on close */

    /* Called after every committed batch (replication wakes idle links);
     * set under commit_mu, read by committers under it. */
    void (*commit_hook)(void *ud);
    void *commit_hook_ud;

    /* WAL retention for replication (wal.c, stWalPurge): archived WAL files
     * older than this many seconds (0 = no age limit) or beyond this many
     * bytes of WAL in total are deleted. */
    _Atomic uint64_t wal_ttl_s;
    _Atomic uint64_t wal_limit_bytes;
    _Atomic uint64_t wal_purges;       /* WAL files deleted so far */
    _Atomic int blob_gc_on[ST_CF_COUNT]; /* blob GC switched on (compact.c) */

    /* Dead incarnations (gc.c). */
    rocksdb_compactionfilter_t *gc_filter; /* on sub and zscore; freed after close */
    _Atomic int gc_ready;      /* the filter may read the db (open, not closing) */
    _Atomic int gc_holds;      /* open snapshots the filter must not undercut */
    _Atomic uint64_t gc_dropped; /* garbage records dropped so far */
    pthread_mutex_t gc_mu;     /* guards the queue below */
    gcRange *gc_head, *gc_tail;
    int gc_queued;
    struct gcDelSlot *gc_dels; /* GC_DEL_SLOTS counters of recent deletes */
    _Atomic uint64_t gc_ranges_compacted; /* queued ranges compacted (compact.c) */
};

/* Encodes a meta key into buf if it fits, else into a malloc'd buffer the
 * caller frees (when the result differs from buf).  NULL on OOM (engine.c). */
char *stMetaKeyBuf(char *buf, size_t bufsize, int pdb, const char *key, size_t klen,
                   size_t *outlen);
/* The meta record of (physical db, key) read from RocksDB, bypassing the hot
 * set: a new object (caller releases) or NULL (engine.c). */
stObj *stReadObj(stEngine *st, int pdb, const char *key, size_t klen);
/* The compaction filter (owned by the engine, not by the options). */
rocksdb_compactionfilter_t *gcFilterNew(stEngine *st);
/* Queues the ranges of a collection that a batch deleted or replaced (old is
 * its meta) for a targeted compaction, if it is big enough to matter. */
void gcNoteDeadCollection(stEngine *st, int pdb, const char *key, size_t klen,
                          const stMeta *old);
/* Counts element deletes of a live collection (`live` elements left): once
 * its tombstones reach a threshold, its range is queued for a targeted
 * compaction as well (seeks into a set that SPOP emptied step over every
 * tombstone until then). */
void gcNoteDeletes(stEngine *st, int pdb, const char *key, size_t klen, uint64_t inc,
                   uint64_t dels, uint64_t live);
/* The next queued range (caller frees), or NULL. */
gcRange *gcTakeRange(stEngine *st);
void gcFreeQueue(stEngine *st);

/* Bytes of WAL files (*.log) in dir (engine.c). */
uint64_t stWalDirBytes(const char *dir);
/* Deletes archived WAL files past the retention limits (sync thread, once a
 * second). */
void stWalPurge(stEngine *st);

/* ---- Element writes queued in a batch (overlay.c) ------------------------ */

typedef struct overlay overlay;
overlay *ovNew(void);
void ovFree(overlay *ov);
/* Records a write of (cf, key): value v1 + v2 (copied), or a delete. */
void ovAdd(overlay *ov, int cf, const char *key, size_t klen, const char *v1, size_t v1len,
           const char *v2, size_t v2len, int del);
/* 1: the newest queued write of (cf, key) puts *val (valid until ovFree);
 * -1: it deletes; 0: nothing queued for it (or ov is NULL). */
int ovGet(const overlay *ov, int cf, const char *key, size_t klen, const char **val,
          size_t *vlen);
/* The newest entry of every key of cf in [lo, hi), sorted by key: *out is a
 * heap array of entry indexes (caller frees), the return value its length. */
size_t ovRange(const overlay *ov, int cf, const char *lo, size_t lolen, const char *hi,
               size_t hilen, uint32_t **out);
void ovEntryAt(const overlay *ov, uint32_t i, const char **key, size_t *klen, const char **val,
               size_t *vlen, int *del);

/* Element writes through a batch (batch.c): queues a put (value v1 + v2) or
 * delete of a sub / zscore record in the WriteBatch and in the batch's
 * overlay, and counts an effect. */
void stBatchElemWrite(stBatch *b, int cf, const char *key, size_t klen, const char *v1,
                      size_t v1len, const char *v2, size_t v2len, int del);
/* The batch's overlay, NULL when it queued no element write. */
const overlay *stBatchOverlay(const stBatch *b);
/* An object from a decoded meta record: for collections, meta.size is the
 * element bytes kept in the collection info (object.c). */
stObj *stObjFromRecord(const stMeta *m, const char *val, size_t vlen);

/* ---- Raw batches: batches of other nodes (batch.c, used by apply.c) ------- */

/* A batch whose WriteBatch the caller fills with a complete batch of another
 * node (header included); stBatchCommit() writes it as is and then runs the
 * bookkeeping the caller noted with the functions below. */
stBatch *stBatchNewRaw(stEngine *st);
/* The WriteBatch to fill; counts as one effect. */
rocksdb_writebatch_t *stBatchRawWb(stBatch *b);
/* The batch writes or deletes key: the hot set forgets it after the write
 * (dead: an existing record was deleted, for the compaction estimates). */
void stBatchRawForget(stBatch *b, int pdb, const char *key, size_t klen, int dead);
/* The batch range-deletes physical db pdb (-1: every db). */
void stBatchRawDropDb(stBatch *b, int pdb);
/* A counter record of pdb: which = 0 key count, 1 TTL count, 2 bytes;
 * absolute = a Put of v, else a merge adding v. */
void stBatchRawCount(stBatch *b, int pdb, int which, int absolute, int64_t v);
/* An expire index entry is inserted (del = 0) or deleted. */
void stBatchRawExpire(stBatch *b, uint64_t expire_ms, int del);
/* The batch range-deletes the whole expire index. */
void stBatchRawFlushesExpire(stBatch *b);
/* The batch writes the db map; map (npdb entries, heap) is owned by b. */
void stBatchRawDbMap(stBatch *b, uint16_t *map);

/* ---- WriteBatch reps (wal.c) --------------------------------------------- */

/* Record tags of RocksDB's WriteBatch rep that Strata writes. */
#define REP_TAG_LOGDATA 0x03
#define REP_TAG_CF_DELETE 0x04
#define REP_TAG_CF_PUT 0x05
#define REP_TAG_CF_MERGE 0x06
#define REP_TAG_CF_RANGE_DELETE 0x0E
#define REP_HEADER_BYTES 12 /* u64 LE sequence, u32 LE record count */

typedef struct stRepRec {
    int tag;     /* REP_TAG_* */
    uint32_t cf; /* column family id on the writing node */
    const char *key, *val; /* val: Put/Merge value, RangeDelete end key, LogData blob */
    size_t klen, vlen;
} stRepRec;

/* Reads the record at *pos of rep [rep, rep+len): 1 and advances *pos,
 * 0 at the end, -1 on a malformed or unsupported record. */
int stRepNext(const char *rep, size_t len, size_t *pos, stRepRec *r);

/* sys records no other node may receive: the node id and the replication
 * layer's records (a snapshot leaves them out). */
int stSysKeyIsPrivate(const char *key, size_t klen);
/* sys records a receiver keeps its own value of: the private ones and its
 * own origin seq (vv:<self>). */
int stSysKeyIsLocal(stEngine *st, const char *key, size_t klen);
/* (Re)reads every db's key and TTL counts from sys into st->counts /
 * st->expires (engine.c). */
int stReadCounts(stEngine *st, char **err);
/* Point read of a sys record (rocksdb_free() the value). */
int stSysGet(stEngine *st, const char *key, size_t klen, char **val, size_t *vlen, char **err);

/* ---- Tombstone compaction (compact.c) ------------------------------------ */

/* Starts the compaction thread.  C_OK, or C_ERR with *err set (heap string). */
int stCompactStart(stEngine *st, char **err);
/* Stops it (a running compaction is cancelled) and joins it.  Call before
 * closing the db; harmless if it never started. */
/* Runs a check now (a FLUSHDB just hid keys). */
void stCompactWake(stEngine *st);
void stCompactStop(stEngine *st);

/* Physical db of logical db, or -1 if out of range. */
static inline int stPhysDb(const stEngine *st, int db) {
    if (db < 0 || db >= st->databases) return -1;
    return atomic_load_explicit(&st->l2p[db], memory_order_relaxed);
}

/* Unix time in ms (CLOCK_REALTIME). */
uint64_t stWallMs(void);
/* 64 bits from a per-thread xorshift generator (sampling, RANDOMKEY; not
 * for secrets). */
uint64_t stRandom64(void);
/* Reports a storage error on stderr (storage has no logger of its own). */
void stLogError(const char *what, const char *err);
/* Heap copy of "prefix: msg" for an *err out-parameter; caller frees. */
char *stErrDup(const char *prefix, const char *msg);

#endif

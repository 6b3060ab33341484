/* storage.h - the storage API: the only storage header that upper layers include.
 *
 * Strata keeps every key in RocksDB (the source of truth) and a bounded set of
 * decoded objects in RAM (the hot set).  This header is the whole contract
 * between commands (server/) and the disk layout (storage/): commands read
 * immutable, reference-counted objects and describe their writes as a batch of
 * effects; storage turns those into one RocksDB WriteBatch (with the origin/HLC
 * log header), keeps the per-database key counts and keeps the hot set in step.
 *
 * Concurrency contract: storage is thread safe, but it does not serialise
 * writers of the same key.  Callers hold the key's lock stripe from the read
 * that produced `old` until stBatchCommit() returns, so `old` is exact.
 * Operations marked GLOBAL require that no other command runs (the caller holds
 * the keyspace lock exclusively).
 *
 * Database numbers in this API are logical (what SELECT uses).  SWAPDB swaps a
 * persisted logical->physical mapping, so it is O(1) and nothing is rewritten.
 */
#ifndef STRATA_STORAGE_H
#define STRATA_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#ifndef C_OK
#define C_OK 0
#define C_ERR -1
#endif

/* Key types as stored in meta.  Values are persisted: never renumber. */
#define ST_TYPE_NONE 0
#define ST_TYPE_STRING 1
#define ST_TYPE_LIST 2
#define ST_TYPE_SET 3
#define ST_TYPE_ZSET 4
#define ST_TYPE_HASH 5

/* Durability of a committed batch (appendfsync). */
#define ST_FSYNC_NO 0       /* WAL written to the OS on every batch, synced by the OS */
#define ST_FSYNC_EVERYSEC 1 /* a storage thread syncs the WAL once a second */
#define ST_FSYNC_ALWAYS 2   /* every batch is synced before commit returns */

/* Metadata of one key.  `hlc` and `origin` are stamped by stBatchPut(); callers
 * leave them zero. */
typedef struct stMeta {
    uint8_t type;         /* ST_TYPE_* */
    uint8_t flags;        /* reserved for encodings (counter, ...), 0 today */
    uint64_t expire_ms;   /* absolute unix time in ms; 0 = no expiry */
    uint64_t incarnation; /* collections: generation of the key's sub records */
    uint64_t count;       /* collections: element count; 0 for strings */
    uint64_t hlc;         /* hybrid logical clock of the last write */
    uint64_t origin;      /* node id that made the last write */
    uint64_t size;        /* bytes of the value (strings: its length); kept by
                           * storage, not persisted: maxstorage accounting */
} stMeta;

/* An immutable, reference-counted value of one key.  Once handed to
 * stBatchPut() or returned by stGet() it must not be modified.  `val` is NUL
 * terminated (not counted in vlen) so numeric parsing can use it directly. */
typedef struct stObj {
    stMeta meta;
    int refcount;          /* atomic; owners call stObjRelease() */
    uint32_t lru_clock;    /* last access, stLruClock() seconds: set at creation,
                            * refreshed by stGet (not stPeek) while cached; other
                            * threads may update it, read it through
                            * stObjIdleSeconds() */
    uint8_t lfu;           /* LFU log counter (evict.c); like lru_clock, updated
                            * by accesses while cached, with relaxed atomics */
    size_t vlen;
    char val[];
} stObj;

typedef struct stEngine stEngine;
typedef struct stBatch stBatch;
typedef struct stIter stIter;

typedef struct stOptions {
    const char *dir;          /* RocksDB directory; created if missing */
    int databases;            /* logical databases (SELECT 0..databases-1) */
    int fsync_mode;           /* ST_FSYNC_* */
    size_t hotset_max_bytes;  /* RAM budget for cached objects; 0 = no caching */
    size_t block_cache_bytes; /* RocksDB block cache; 0 = storage default */
    size_t write_buffer_bytes;/* RocksDB memtable budget; 0 = storage default */
    uint64_t wal_ttl_seconds; /* WAL retention for replication (repl-backlog-ttl), 0 = none */
    uint64_t wal_size_limit_mb; /* WAL retention by size (repl-backlog-size) */
} stOptions;

/* ---- Engine life cycle ------------------------------------------------- */

/* Opens (creating if needed) the data directory.  Returns NULL and sets *err
 * (heap string, caller frees with free()) on failure.  Opening does not scan the
 * data: it costs milliseconds whatever the data size. */
stEngine *stOpen(const stOptions *opt, char **err);
/* Flushes nothing extra (the WAL already holds every batch), closes, frees. */
void stClose(stEngine *st);
/* Flushes memtables to SST files (SHUTDOWN SAVE, SAVE).  C_OK / C_ERR. */
int stFlushToDisk(stEngine *st);
/* Syncs the WAL to disk now.  C_OK / C_ERR. */
int stSyncWal(stEngine *st);
/* Changes the fsync mode at run time (CONFIG SET appendfsync). */
void stSetFsyncMode(stEngine *st, int mode);
/* With merge writes on (active-replica, multi-master), a write that leaves
 * an element as it was (SADD of a present member, HSET of the same value)
 * still rewrites it with a new timestamp, so it wins over an older
 * concurrent remove from another node (last writer wins, ../DESIGN.md).
 * Off (classic master/replica, no concurrent writer), it writes nothing. */
void stSetMergeWrites(stEngine *st, int on);
/* Changes the hot set budget at run time; shrinks at once if needed. */
void stSetHotsetMaxBytes(stEngine *st, size_t bytes);
/* The block cache and memtable budget stOpen() uses when the options leave
 * them 0. */
void stDefaultCacheSizes(size_t *block_cache, size_t *write_buffer);

/* Per-thread set-up for a thread that reads or writes: with
 * cache_iterators, the thread reuses RocksDB iterators between the commands
 * of one pass of its loop and must call stThreadIdle() before it sleeps. */
void stThreadInit(int cache_iterators);
/* Releases what the thread cached for its pass (itcache.c invariant 2). */
void stThreadIdle(void);

/* This node's 64-bit id, created at first open and persisted in `sys`. */
uint64_t stNodeId(const stEngine *st);

/* ---- Objects ----------------------------------------------------------- */

/* New object with refcount 1, copying val.  Never NULL (aborts on OOM). */
stObj *stObjNew(const stMeta *meta, const char *val, size_t vlen);
/* New object of vlen bytes, uninitialised value (caller fills val[0..vlen),
 * the terminating NUL is set here). */
stObj *stObjNewRaw(const stMeta *meta, size_t vlen);
void stObjRetain(stObj *o);
void stObjRelease(stObj *o);

/* ---- Eviction from RAM (maxmemory-policy) ------------------------------ */

/* Which cached objects leave the hot set first.  Leaving RAM never deletes
 * data.  ST_EVICT_VOLATILE: prefer keys with a TTL (others only when a
 * sample holds none, so the RAM bound always holds). */
#define ST_EVICT_LRU 0
#define ST_EVICT_LFU 1
#define ST_EVICT_RANDOM 2
#define ST_EVICT_TTL 3
#define ST_EVICT_VOLATILE 0x10
#define ST_LFU_INIT 5 /* a new object's LFU counter, as Redis's LFU_INIT_VAL */

/* Policy (ST_EVICT_*), entries sampled per eviction (maxmemory-samples),
 * lfu-log-factor and lfu-decay-time (minutes). */
void stSetEvictionPolicy(stEngine *st, int policy, int samples, int lfu_log_factor,
                         int lfu_decay_minutes);
/* The object's LFU counter, decayed to now (OBJECT FREQ). */
uint8_t stObjFreq(const stObj *o);
/* Bytes the object takes in the hot set with its key (MEMORY USAGE). */
size_t stObjMemoryUsage(const stObj *o, size_t klen);

/* ---- Reads ------------------------------------------------------------- */

/* The key's current object, from the hot set or from RocksDB (and maybe then
 * admitted to the hot set), or NULL if absent.  No expiry logic: an expired key
 * is returned with its expire_ms; callers decide.  The caller owns one
 * reference and calls stObjRelease().  `db` is logical.  The read counts as an
 * access of the key: it refreshes the object's lru_clock. */
stObj *stGet(stEngine *st, int db, const char *key, size_t klen);
/* Like stGet, but the read is not an access of the key (OBJECT, DEBUG OBJECT,
 * TTL-style introspection, Redis's LOOKUP_NOTOUCH): a cached object keeps its
 * lru_clock.  A key read from RocksDB is admitted like stGet does, stamped as
 * last accessed when the engine opened: storage does not persist access times,
 * so a key that is not in the hot set reports being idle since the engine
 * opened (see stObjIdleSeconds).  Same ownership as stGet. */
stObj *stPeek(stEngine *st, int db, const char *key, size_t klen);
/* The key's object if it is in the hot set now, else NULL: no RocksDB read,
 * no admission, not an access, not a hit or miss (eviction sampling). */
stObj *stCached(stEngine *st, int db, const char *key, size_t klen);
/* Seconds since the object's key was last accessed (OBJECT IDLETIME), on the
 * clock of stLruClock(). */
uint64_t stObjIdleSeconds(const stObj *o);
/* The clock stObj.lru_clock is on: seconds of a coarse monotonic clock (not
 * unix time). */
uint32_t stLruClock(void);
/* Like stGet but returns only whether the key exists (meta record present). */
int stExists(stEngine *st, int db, const char *key, size_t klen);

/* Exact number of keys in the logical db (including expired keys that were
 * not removed yet, as Redis counts them). */
uint64_t stKeyCount(stEngine *st, int db);

/* Exact number of keys with a TTL in the logical db (INFO keyspace expires=). */
uint64_t stExpiresCount(stEngine *st, int db);
/* Bytes of keys and values stored, all dbs (maxstorage compares this: it
 * moves with every write, where disk usage lags behind compactions). */
uint64_t stDataBytes(stEngine *st);

/* ---- Writes ------------------------------------------------------------ */

/* A batch of effects, committed atomically in one RocksDB WriteBatch that
 * starts with the origin/HLC log header.  All keys touched must be locked by
 * the caller (see the concurrency contract above). */
stBatch *stBatchNew(stEngine *st);
/* Stores obj as key's new value.  `old` is the key's current meta (NULL if the
 * key does not exist); it keeps key counts and the expire index exact.  The
 * batch takes its own reference to obj and stamps obj->meta.hlc/origin, so obj
 * must not be shared yet. */
void stBatchPut(stBatch *b, int db, const char *key, size_t klen,
                const stMeta *old, stObj *obj);
/* Deletes key; old is its current meta (must not be NULL). */
void stBatchDel(stBatch *b, int db, const char *key, size_t klen, const stMeta *old);
/* Removes one stale entry of the expire index (see stExpireScan). */
void stBatchDelExpireIndex(stBatch *b, int db, const char *key, size_t klen,
                           uint64_t expire_ms);
/* GLOBAL: removes every key of logical db (db = -1: every db). */
void stBatchFlushDb(stBatch *b, int db);
/* Number of effects queued. */
size_t stBatchSize(const stBatch *b);
/* The state a queued (not yet committed) batch gives key: returns 0 when the
 * batch holds no effect for it; 1 when it does, with *obj set to a new
 * reference to the queued object (caller releases), or NULL when the batch
 * deletes or flushes the key.  Lets a group of commands that share one batch
 * read their own writes before the group commits.  O(effects queued). */
int stBatchGet(const stBatch *b, int db, const char *key, size_t klen, stObj **obj);
/* Writes the batch (durability per fsync mode), then updates the hot set and
 * key counts.  Returns C_OK, or C_ERR with *err set (heap string, caller frees)
 * when RocksDB refused the write; nothing is applied then.  Frees the batch in
 * both cases. */
int stBatchCommit(stBatch *b, char **err);
/* Frees a batch without writing it. */
void stBatchDiscard(stBatch *b);

/* GLOBAL: swaps two logical databases (persisted, O(1)).  C_OK / C_ERR. */
int stSwapDb(stEngine *st, int a, int b);

/* ---- Collections (coll.c) ---------------------------------------------- */
/* A hash, set, sorted set or list is its meta record (type, element count,
 * incarnation, expiry: the stObj that stGet returns, whose value bytes are
 * storage's own bookkeeping) plus one record per element.  Commands work on
 * a handle: they look the key up as usual (stGet, or through a batch with
 * stBatchGet), check its type, open a handle and read, add, remove and
 * iterate elements by their own bytes (hash fields, set and zset members,
 * list positions).  Storage keeps the count, the bytes, the list's ends and
 * the zset score index, and a write handle's close queues the key's new meta
 * record, or its deletion when the collection became empty (a collection
 * emptied by a command disappears, as in Redis).  Deleting a collection key
 * (stBatchDel) is O(1): its elements become garbage of an old incarnation.
 *
 * Reads through a handle see the writes queued in its batch (a group of
 * commands sharing one batch reads its own writes), then RocksDB.  The
 * concurrency contract of stBatchPut holds: the caller holds the key's
 * stripe from the lookup until the batch commits. */
typedef struct stColl stColl;
typedef struct stCollIter stCollIter;

/* Opens `key` (logical db) of type `type`.  `o` is the key's current object
 * as the caller looked it up, NULL when the key does not exist (a write
 * handle then creates it with its first element; o's type must be `type`).
 * `b`: the batch that writes go to and whose queued writes reads see;
 * read-only handles pass the open batch of their group, or NULL.  `write`:
 * whether elements will be written (b must not be NULL then).  Returns NULL
 * when db is out of range.  Free with stCollClose(). */
stColl *stCollOpen(stEngine *st, stBatch *b, int db, const char *key, size_t klen,
                   const stObj *o, int type, int write);
/* Queues the meta update of a write handle (nothing if no element changed;
 * the key's deletion if it has no element left) and frees the handle.
 * Returns the element count after. */
uint64_t stCollClose(stColl *c);
uint64_t stCollCount(const stColl *c);
/* Write handles: the expire-at the key gets on close (RENAME, COPY); a new
 * key has none, an existing one keeps its own unless this is called. */
void stCollSetExpire(stColl *c, uint64_t expire_ms);

/* The element's payload (hash value, list value, zset score as 8 raw bytes,
 * empty for sets): 1 with *val a heap copy (NUL terminated, caller frees;
 * val may be NULL to test existence), 0 when absent. */
int stCollGet(stColl *c, const char *elem, size_t elen, char **val, size_t *vlen);
/* Sets the element (hash field, set member; list position: LSET).  Returns
 * 1 when it is new, 0 when it replaced a value.  The same value again is
 * not rewritten unless merge writes are on (stSetMergeWrites); the meta
 * record still is, so WATCH sees the write as Redis's does. */
int stCollPut(stColl *c, const char *elem, size_t elen, const char *val, size_t vlen);
/* Adds a set member: 1 when it is new; 0 when it was there, and then
 * nothing is written unless merge writes are on (Redis neither modifies the
 * key nor notifies; ZADD of an unchanged score writes nothing either). */
int stCollAdd(stColl *c, const char *elem, size_t elen);
/* True once c queued any write (an element or its meta record). */
int stCollWrote(const stColl *c);
/* Removes the element (for a zset, with its score index entry).  Returns 1
 * when it existed. */
int stCollDel(stColl *c, const char *elem, size_t elen);
/* Deletes an element the caller just saw through this handle (an iterator
 * of it, or a read since its last write): payload length plen (ignored for
 * zsets), zsets: its score.  Skips stCollDel's read of the element. */
void stCollDelSeen(stColl *c, const char *elem, size_t elen, size_t plen, double score);

/* Sorted sets.  Scores are never NaN (the caller refuses them). */
int stZsetScore(stColl *c, const char *member, size_t mlen, double *score);
/* Adds or updates a member.  Returns 1 when it is new, 0 when it existed
 * (*old, if not NULL, gets its previous score). */
int stZsetAdd(stColl *c, const char *member, size_t mlen, double score, double *old);
/* stZsetAdd for a caller that just read the member (stZsetScore): existed
 * and prev are what it found, which saves reading it again. */
void stZsetAddKnown(stColl *c, const char *member, size_t mlen, double score, int existed,
                    double prev);

/* Lists.  Positions are opaque ordered byte strings (the elements of a list
 * iterator); head = first element.  Push and pop at either end: tail != 0
 * is the right end. */
void stListPush(stColl *c, int tail, const char *val, size_t vlen);
/* 1 with *val (heap, caller frees) and *vlen, or 0 when the list is empty. */
int stListPop(stColl *c, int tail, char **val, size_t *vlen);
/* Inserts val just after (after != 0) or before the element at position
 * pos.  When no position fits there any more (a fraction at its length
 * limit), every element of the list gets a new position first: O(elements),
 * rare (encoding.h).  C_OK; C_ERR (nothing written) only if the ordinals
 * would overflow.  Positions an iterator returned before the call are stale
 * after it. */
int stListInsert(stColl *c, const char *pos, size_t plen, int after, const char *val,
                 size_t vlen);

/* Iterators over a snapshot of the collection taken when they are created
 * (writes through the handle after that are not seen).  Element order is
 * byte order of the element (list order for lists).  `start` NULL: from the
 * first element (last with ST_ITER_REVERSE); otherwise from the first
 * element >= start (<= start in reverse; ST_ITER_EXCLUSIVE: > and <). */
#define ST_ITER_REVERSE 1
#define ST_ITER_EXCLUSIVE 2
stCollIter *stCollIterNew(stColl *c, const char *start, size_t slen, int flags);
/* Sorted sets in score order (ties by member bytes), from the first member
 * with score >= min (> min with ST_ITER_EXCLUSIVE; in reverse, the last
 * with score <= min, or < min).  Use -inf / +inf for the ends. */
stCollIter *stZsetIterNew(stColl *c, double min, int flags);
int stCollIterValid(const stCollIter *it);
void stCollIterNext(stCollIter *it);
/* The current element's bytes and payload; valid until the next call. */
const char *stCollIterElem(const stCollIter *it, size_t *len);
const char *stCollIterVal(const stCollIter *it, size_t *len);
/* The current member's score (sorted set iterators of both kinds). */
double stCollIterScore(const stCollIter *it);
void stCollIterFree(stCollIter *it);

/* ---- Iteration --------------------------------------------------------- */

/* Iterates the keys of logical db in byte order, from the first key >= start
 * (start may be NULL), over a consistent snapshot taken now.  Free with
 * stIterFree(). */
stIter *stIterNew(stEngine *st, int db, const char *start, size_t slen);
int stIterValid(const stIter *it);
void stIterNext(stIter *it);
/* Key bytes of the current entry; valid until the next stIterNext(). */
const char *stIterKey(const stIter *it, size_t *klen);
/* Decodes the current entry into a new object (caller releases), or NULL if
 * the record is unreadable. */
stObj *stIterObj(const stIter *it);
void stIterFree(stIter *it);

/* A random existing key of logical db: copies it into a heap buffer the caller
 * frees with free(), or returns NULL if the db is empty. */
char *stRandomKey(stEngine *st, int db, size_t *klen);

/* Calls cb for up to `max` entries of the expire index with expire-at <= now_ms,
 * oldest first.  The index may hold stale entries (the key was deleted or its
 * TTL changed); the callback must check the key's meta and, when it does not
 * match, drop the entry with stBatchDelExpireIndex().  Returns the number of
 * entries visited.  cb returns 0 to continue, non-zero to stop.
 * A scan resumes where the previous one ended (so the tombstones of removed
 * entries are not walked again): the callback is expected to remove every
 * entry it is shown (delete the expired key or drop the stale entry).  An
 * entry it leaves is shown again only by a scan that starts from the oldest
 * entry, which happens when now_ms is below the previous scan's end and
 * every 100 scans.  Entries inserted at any time, with any expire-at, are
 * shown by the next scan that covers them.  Scans are serialised. */
size_t stExpireScan(stEngine *st, uint64_t now_ms, size_t max,
                    int (*cb)(void *ud, int db, const char *key, size_t klen,
                              uint64_t expire_ms),
                    void *ud);

/* ---- Replication -------------------------------------------------------- */
/* Positions in a node's stream are RocksDB sequence numbers: a batch of n
 * records starting at seq s covers [s, s + n), and a reader that applied it
 * asks next for s + n.  Storage moves whole batches and never interprets
 * what the replication layer persists alongside them (its "state"). */

/* The last origin seq this node gave one of its own batches: it moves only
 * when this node writes on its own (not when it applies others' batches). */
uint64_t stOriginSeq(stEngine *st);
/* RocksDB's latest sequence number (the last record written). */
uint64_t stLatestSeq(stEngine *st);
/* Calls fn(ud) after every committed batch, on the committing thread, outside
 * storage locks; fn must be cheap.  NULL removes it. */
void stSetCommitHook(stEngine *st, void (*fn)(void *ud), void *ud);

/* One batch read from the WAL.  rep/len stay valid until the next
 * stWalNext() or stWalClose(). */
typedef struct stWalBatch {
    uint64_t seq, next;   /* covers [seq, next) */
    const char *rep;      /* the raw WriteBatch, header included */
    size_t len;
    int has_header;       /* a Strata log header: origin/origin_seq/hlc valid */
    uint64_t origin, origin_seq, hlc;
} stWalBatch;
typedef struct stWalIter stWalIter;
#define ST_WAL_BATCH 1    /* *out holds the next batch */
#define ST_WAL_END 0      /* caught up: call again after new commits */
#define ST_WAL_GAP -1     /* `from` is no longer retained (or the WAL is
                           * unreadable): the reader needs a full sync */
/* A reader of batches from sequence `from` on; opening is lazy (cheap). */
stWalIter *stWalOpen(stEngine *st, uint64_t from);
int stWalNext(stWalIter *it, stWalBatch *out);
void stWalClose(stWalIter *it);
/* Whether the WAL still holds sequence seq (or seq is not written yet): the
 * CONTINUE / FULLSYNC decision.  Retained WAL is contiguous, so this is
 * "seq >= the oldest batch"; a transient listing race is retried, and an
 * unknown answer is 0. */
int stWalHas(stEngine *st, uint64_t seq);
/* The oldest sequence the WAL still holds (0 if none) and the bytes of WAL
 * files on disk (live and archived). */
void stWalRetained(stEngine *st, uint64_t *first_seq, uint64_t *bytes);

/* Changes the WAL retention (repl-backlog-ttl seconds, 0 = no age limit;
 * repl-backlog-size bytes). */
void stSetWalRetention(stEngine *st, uint64_t ttl_s, uint64_t bytes);

/* A snapshot of every record, streamed in key order (full sync, sender). */
typedef struct stSnap stSnap;
/* Takes a consistent snapshot; *seq is the last sequence it includes. */
stSnap *stSnapOpen(stEngine *st, uint64_t *seq);
/* Appends encoded records to buf (*len bytes used of *cap, grown with
 * realloc) until *len reaches `limit` or the snapshot ends; always appends
 * at least one record if any is left.  Returns 1 while records remain. */
int stSnapFill(stSnap *s, char **buf, size_t *len, size_t *cap, size_t limit);
void stSnapClose(stSnap *s);

/* Receiving side.  `cf_ids` is the sender's stCfIds() string: column
 * family ids differ between nodes. */
typedef struct stRemote stRemote;
/* The ids of this node's column families, as text for the handshake. */
void stCfIds(stEngine *st, char *buf, size_t cap);
stRemote *stRemoteNew(stEngine *st, const char *cf_ids, char **err);
void stRemoteFree(stRemote *r);
/* Writes a batch read from the sender's WAL, keeping its log header, plus
 * `state` as this node's replication state, in one atomic write; then the
 * hot set, counts and db map follow.  C_OK / C_ERR with *err set. */
int stApplyBatch(stRemote *r, const char *rep, size_t len, const char *state, size_t slen,
                 char **err);
/* Full sync, receiving side: GLOBAL.  Begin deletes every record except
 * this node's own (node id, its own origin seq) and the replication state;
 * Load writes one stSnapFill() chunk; End writes `state` and reloads counts
 * and the db map from disk. */
int stSyncBegin(stRemote *r, char **err);
int stSyncLoad(stRemote *r, const char *chunk, size_t len, char **err);
int stSyncEnd(stRemote *r, const char *state, size_t slen, char **err);
/* The replication layer's persisted records: name is "state" or "id".
 * Get returns a heap copy (free()) or NULL; Put writes it durably. */
char *stReplGet(stEngine *st, const char *name, size_t *len);
int stReplPut(stEngine *st, const char *name, const char *val, size_t len);

/* ---- Introspection ----------------------------------------------------- */

typedef struct stStats {
    uint64_t hotset_keys;
    uint64_t hotset_bytes;
    uint64_t hotset_hits;
    uint64_t hotset_misses;
    uint64_t hotset_collections;      /* small collections cached whole */
    uint64_t hotset_collection_bytes;
    uint64_t block_cache_bytes;
    uint64_t memtable_bytes;
    uint64_t disk_bytes;        /* live SST + WAL bytes */
    uint64_t blob_bytes;        /* live blob files */
    uint64_t blob_garbage_bytes;/* of which garbage (overwritten or deleted values) */
    uint64_t blob_gc_cfs;       /* column families with blob GC switched on now */
    uint64_t batches_committed;
    uint64_t last_wal_sync_unix; /* unix seconds of the last WAL sync (or open) */
    uint64_t last_seq;           /* RocksDB's latest sequence number */
    uint64_t gc_dropped;         /* records of deleted collections removed */
} stStats;
void stGetStats(stEngine *st, stStats *out);

#endif

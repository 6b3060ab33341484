/* engine.c - the storage engine's life cycle: RocksDB options and column
 * families, opening and closing, the persisted node id / database map / key
 * counts / origin sequence, the appendfsync everysec thread, point reads
 * through the hot set (stGet is an access of the key, stPeek is not), and
 * statistics.
 *
 * What opening reads (and why it is O(1) in the data size):
 *   sys "node_id"        this node's id; created from /dev/urandom if absent
 *   sys "dbmap"          logical -> physical db map (SWAPDB); identity if absent
 *   sys "count:<pdb>"    exact key count per physical db, kept by batch.c with
 *                        merge deltas in the same WriteBatch as the data
 *   sys "vv:<node_id>"   the last origin seq this node committed
 * Nothing else is scanned: the hot set starts empty and warms on demand.
 *
 * Ownership: stOpen() returns an engine owned by the caller until stClose().
 * RocksDB objects are created here and destroyed in stClose() in reverse
 * order (the engine's threads, tombstone compaction (compact.c) and WAL sync,
 * then column family handles, the db, options and the cache).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "st_internal.h"

#define ST_DEFAULT_BLOCK_CACHE_BYTES ((size_t)64 << 20)
/* Memtable budget: a smaller skiplist keeps inserts cache-friendly (16 MB
 * measured 25% more pipelined SETs than 64 MB here); issue 4 sizes it from
 * maxmemory. */
#define ST_DEFAULT_WRITE_BUFFER_BYTES ((size_t)16 << 20)
#define ST_BLOOM_BITS_PER_KEY 10
#define ST_COMPRESSION_LEVELS 7
#define ST_MAX_WRITE_BUFFERS 4
#define ST_BLOB_GC_AGE_CUTOFF 0.25
#define ST_BLOB_GC_FORCE_THRESHOLD 0.5
#define ST_BLOCK_CHECKSUM_XXH3 4 /* rocksdb::ChecksumType::kXXH3 */
#define ST_MIN_BLOB_BYTES 4096 /* values at least this long live in blob files */
#define ST_MAX_BACKGROUND_JOBS 2
#define ST_METADATA_BLOCK_BYTES 4096
#define ST_INDEX_RESTART_INTERVAL 16
#define ST_L0_SLOWDOWN_FILES 48
#define ST_L0_STOP_FILES 96
#define ST_SYS_MAX_SUCCESSIVE_MERGES 64 /* bounds count:<pdb> operand chains */
#define ST_WAL_SYNC_INTERVAL_MS 1000
#define ST_WAL_ARCHIVE_FOREVER_S (10ULL * 365 * 24 * 3600)
#define ST_INFO_LOG_FILES 4
#define ST_INFO_LOG_FILE_BYTES ((size_t)16 << 20)
#define ST_BYTES_PER_SYNC ((uint64_t)1 << 20)

const char *const st_cf_names[ST_CF_COUNT] = {
    "default", "meta", "sub", "zscore", "expire", "sys",
};

/* ---- Helpers: clocks, errors, randomness -------------------------------- */

uint64_t stWallMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint32_t stLruClock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)ts.tv_sec;
}

uint64_t stRandom64(void) {
    static __thread uint64_t s;
    if (s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)(uintptr_t)&s * UINT64_C(0x9E3779B97F4A7C15)) ^
            ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec;
        if (s == 0) s = 1;
    }
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

void stLogError(const char *what, const char *err) {
    fprintf(stderr, "strata storage: %s: %s\n", what, err ? err : "unknown error");
}

char *stErrDup(const char *prefix, const char *msg) {
    size_t n = strlen(prefix) + strlen(msg) + 3;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s: %s", prefix, msg);
    return s;
}

/* Sets *err (if err is not NULL) from a RocksDB error string and frees the
 * latter with rocksdb_free(). */
static void stTakeRocksErr(char **err, const char *prefix, char *rerr) {
    if (err) *err = stErrDup(prefix, rerr);
    rocksdb_free(rerr);
}

/* Creates dir and its parents (mkdir -p).  C_OK / C_ERR with errno set. */
static int stMkdirs(const char *dir) {
    char *p = strdup(dir);
    if (!p) return C_ERR;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) goto err;
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) goto err;
    free(p);
    return C_OK;
err:
    free(p);
    return C_ERR;
}

/* 64 random bits from /dev/urandom.  C_OK / C_ERR. */
static int stUrandom64(uint64_t *out) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return C_ERR;
    size_t got = 0;
    while (got < sizeof(*out)) {
        ssize_t n = read(fd, (char *)out + got, sizeof(*out) - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto err;
        got += (size_t)n;
    }
    close(fd);
    return C_OK;
err:
    close(fd);
    return C_ERR;
}

/* ---- Helpers: options ----------------------------------------------------- */

/* Options shared by every column family: zstd, dynamic level sizes, the
 * shared block cache and, for `meta`, a 10-bit bloom filter so GET misses
 * rarely touch disk.  The caller owns the result (rocksdb_options_destroy). */
static rocksdb_options_t *stCfOptions(stEngine *st, int cf, size_t wbuf) {
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_compression(o, rocksdb_zstd_compression);
    rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
    rocksdb_options_set_write_buffer_size(o, wbuf);
    /* Room for bursts: with 2 memtables, an 8 KB SET burst stopped writes
     * while one memtable flushed (RocksDB LOG, "Stopping writes"). */
    rocksdb_options_set_max_write_buffer_number(o, ST_MAX_WRITE_BUFFERS);
    /* With blob files, L0 files of big-value workloads hold only keys and
     * blob references and are small, but there are many of them (one per
     * flush): RocksDB's default triggers (20 / 36) stalled 8 KB SETs on two
     * cores while L0->L1 compactions caught up. */
    rocksdb_options_set_level0_slowdown_writes_trigger(o, ST_L0_SLOWDOWN_FILES);
    rocksdb_options_set_level0_stop_writes_trigger(o, ST_L0_STOP_FILES);

    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(t, st->block_cache);
    /* XXH3 block checksums: Debian's librocksdb computes CRC32c in software
     * (table-driven, no SSE4.2 build), which took ~18% of all CPU under
     * replicated 8 KB SETs; the WAL and blob records keep CRC32c (fixed). */
    rocksdb_block_based_options_set_checksum(t, ST_BLOCK_CHECKSUM_XXH3);
    /* Index and filter blocks live in the block cache so memory stays bounded
     * as the data grows; L0's stay pinned because every read probes them. */
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 1);
    rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(t, 1);
    /* Partitioned index and filters: a point read loads one 4 KB partition,
     * not the whole index of a 64 MB SST (hundreds of KB, decompressed on
     * every miss once a small block cache had evicted it: uniform GETs of a
     * 2.5 GB dataset at maxmemory 64mb spent 73% of the time in zstd).  The
     * top level stays pinned (RocksDB's default). */
    rocksdb_block_based_options_set_index_type(t, rocksdb_block_based_table_index_type_two_level_index_search);
    rocksdb_block_based_options_set_partition_filters(t, 1);
    rocksdb_block_based_options_set_metadata_block_size(t, ST_METADATA_BLOCK_BYTES);
    /* Delta-encoded index blocks (a full key every 16 entries, not every
     * entry): the index of 2.2 GB of 1 KB values took 9.4 MB of block cache
     * with RocksDB's default of 1 and 3.0 MB with 16, so a small block cache
     * keeps all of it; seeks in a 4 KB partition scan a few more entries. */
    rocksdb_block_based_options_set_index_block_restart_interval(t, ST_INDEX_RESTART_INTERVAL);
    if (cf == ST_CF_META || cf == ST_CF_SYS || cf == ST_CF_SUB) {
        /* sub too: HSET/SADD/ZADD read the element first, and new elements
         * are misses.  Owned by the table options from here on: never
         * destroy it. */
        rocksdb_block_based_options_set_filter_policy(
            t, rocksdb_filterpolicy_create_bloom_full(ST_BLOOM_BITS_PER_KEY));
    }
    /* The factory copies the table options (and shares the cache and filter
     * policy), so ours can go now. */
    rocksdb_options_set_block_based_table_factory(o, t);
    rocksdb_block_based_options_destroy(t);

    /* L0/L1 hold recent, soon-rewritten data: compressing them costs CPU on
     * every flush and compaction for little space; deeper levels use zstd. */
    int levels[ST_COMPRESSION_LEVELS];
    for (int i = 0; i < ST_COMPRESSION_LEVELS; i++)
        levels[i] = i < 2 ? rocksdb_no_compression : rocksdb_zstd_compression;
    rocksdb_options_set_compression_per_level(o, levels, ST_COMPRESSION_LEVELS);
    if (cf == ST_CF_META || cf == ST_CF_SUB) {
        /* Key-value separation: values of ST_MIN_BLOB_BYTES and more go to blob
         * files at flush, so compactions move only small pointers (8 KB SETs
         * stalled on L0 compactions without it, bench/RESULTS.md). */
        rocksdb_options_set_enable_blob_files(o, 1);
        rocksdb_options_set_min_blob_size(o, ST_MIN_BLOB_BYTES);
        rocksdb_options_set_blob_compression_type(o, rocksdb_lz4_compression);
        /* Blob GC starts off; compact.c switches it on while the blob files
         * hold enough garbage to be worth relocating the live values. */
        rocksdb_options_set_enable_blob_gc(o, 0);
        rocksdb_options_set_blob_gc_age_cutoff(o, ST_BLOB_GC_AGE_CUTOFF);
        rocksdb_options_set_blob_gc_force_threshold(o, ST_BLOB_GC_FORCE_THRESHOLD);
        rocksdb_options_set_blob_cache(o, st->block_cache);
    }
    if (cf == ST_CF_SUB || cf == ST_CF_ZSCORE) {
        /* Records of dead incarnations are dropped as compactions meet them
         * (gc.c).  The options do not own the filter. */
        rocksdb_options_set_compaction_filter(o, st->gc_filter);
    }
    if (cf == ST_CF_META || cf == ST_CF_SUB) {
        /* A bloom filter over whole keys in the memtable too: a GET or SET of
         * a key that does not exist skips the skiplist search (the SST bloom
         * filters only help once data is flushed). */
        rocksdb_options_set_memtable_whole_key_filtering(o, 1);
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.05);
    }
    if (cf == ST_CF_SYS) {
        /* count:<pdb> records are u64 LE sums of merge deltas. */
        rocksdb_options_set_uint64add_merge_operator(o);
        rocksdb_options_set_max_successive_merges(o, ST_SYS_MAX_SUCCESSIVE_MERGES);
    }
    return o;
}

/* Builds st->dbopt and st->cfopt[] from the caller's options. */
static void stBuildOptions(stEngine *st, const stOptions *opt) {
    size_t cache = opt->block_cache_bytes ? opt->block_cache_bytes
                                          : ST_DEFAULT_BLOCK_CACHE_BYTES;
    size_t wbuf = opt->write_buffer_bytes ? opt->write_buffer_bytes
                                          : ST_DEFAULT_WRITE_BUFFER_BYTES;
    st->block_cache = rocksdb_cache_create_lru(cache);

    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_create_missing_column_families(o, 1);
    rocksdb_options_set_max_background_jobs(o, ST_MAX_BACKGROUND_JOBS);
    rocksdb_options_set_allow_concurrent_memtable_write(o, 1);
    rocksdb_options_set_bytes_per_sync(o, ST_BYTES_PER_SYNC);
    rocksdb_options_set_keep_log_file_num(o, ST_INFO_LOG_FILES);
    rocksdb_options_set_max_log_file_size(o, ST_INFO_LOG_FILE_BYTES);
    /* One memtable budget for all column families (a write buffer manager),
     * and a bound on live WAL files: `sys` is written by every batch, so
     * without it the WAL would only shrink when sys's memtable fills. */
    rocksdb_options_set_db_write_buffer_size(o, wbuf);
    rocksdb_options_set_max_total_wal_size(o, (uint64_t)wbuf * 4);
    /* Replication tails the WAL: RocksDB moves obsolete WAL files to
     * archive/ and, with only a TTL set, would delete them after TTL/2;
     * the TTL here is effectively "never" because RocksDB checks its limits
     * at most every 10 minutes when a size limit is set too.  stWalPurge()
     * (wal.c) enforces repl-backlog-size/ttl every second instead.
     * Checked with rocksdb_get_updates_since on 7.8.3 (DESIGN.md). */
    rocksdb_options_set_WAL_ttl_seconds(o, ST_WAL_ARCHIVE_FOREVER_S);
    rocksdb_options_set_WAL_size_limit_MB(o, 0);
    atomic_init(&st->wal_ttl_s, opt->wal_ttl_seconds);
    atomic_init(&st->wal_limit_bytes, opt->wal_size_limit_mb << 20);
    /* No WAL compression: with zstd WAL compression, 7.8.3's WAL iterator
     * could not find a batch it still held once WAL files rolled quickly
     * (8 KB SETs at maxmemory 64mb): get_updates_since(s) kept starting
     * at a later batch, so a replica at s looked "behind the retained WAL"
     * and reconnected in a loop.  Uncompressed, the same run streams. */
    rocksdb_options_set_wal_compression(o, rocksdb_no_compression);
    st->dbopt = o;

    for (int i = 0; i < ST_CF_COUNT; i++) {
        int big = i == ST_CF_META || i == ST_CF_SUB || i == ST_CF_ZSCORE;
        st->cfopt[i] = stCfOptions(st, i, big ? wbuf : wbuf / 4);
    }
}

/* ---- Helpers: sys records ------------------------------------------------ */

/* Reads a sys record into a rocksdb_get result (caller frees with
 * rocksdb_free()); *val = NULL if absent.  C_OK / C_ERR with *err set. */
int stSysGet(stEngine *st, const char *key, size_t klen, char **val, size_t *vlen, char **err) {
    char *rerr = NULL;
    *val = rocksdb_get_cf(st->db, st->ropts, st->cf[ST_CF_SYS], key, klen, vlen, &rerr);
    if (rerr) {
        stTakeRocksErr(err, "reading sys record", rerr);
        return C_ERR;
    }
    return C_OK;
}

/* Loads the node id, creating and persisting it (synced) on first open.
 * The creating batch carries a log header with origin seq 0: a local
 * housekeeping write that replication skips. */
static int stLoadNodeId(stEngine *st, char **err) {
    char *v = NULL, *rerr = NULL;
    size_t vl = 0;
    if (stSysGet(st, ENC_SYS_NODE_ID, strlen(ENC_SYS_NODE_ID), &v, &vl, err) != C_OK)
        return C_ERR;
    if (v) {
        int ok = vl == 8;
        if (ok) st->node_id = encGetU64(v);
        rocksdb_free(v);
        if (!ok || st->node_id == 0) {
            if (err) *err = strdup("corrupt sys record node_id");
            return C_ERR;
        }
        return C_OK;
    }
    do {
        if (stUrandom64(&st->node_id) != C_OK) {
            if (err) *err = stErrDup("reading /dev/urandom", strerror(errno));
            return C_ERR;
        }
    } while (st->node_id == 0);

    char hdr[ENC_LOG_HEADER_BYTES], idv[8];
    encLogHeader h = {st->node_id, 0, hlcNow(&st->hlc, stWallMs())};
    encLogHeaderEncode(hdr, &h);
    encPutU64(idv, st->node_id);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_put_log_data(wb, hdr, sizeof(hdr));
    rocksdb_writebatch_put_cf(wb, st->cf[ST_CF_SYS], ENC_SYS_NODE_ID,
                              strlen(ENC_SYS_NODE_ID), idv, sizeof(idv));
    rocksdb_write(st->db, st->wopts_sync, wb, &rerr);
    rocksdb_writebatch_destroy(wb);
    if (rerr) {
        stTakeRocksErr(err, "writing node id", rerr);
        return C_ERR;
    }
    return C_OK;
}

/* Loads the db map (identity if never swapped), sizes npdb and fills
 * l2p / p2l.  A persisted map longer than `databases` (the setting shrank)
 * is kept whole so it stays a permutation; the extra dbs are unreachable. */
static int stLoadDbMap(stEngine *st, char **err) {
    char *v = NULL;
    size_t vl = 0, n = 0;
    uint16_t *map = malloc(sizeof(uint16_t) * ST_MAX_DATABASES);
    if (!map) goto oom;
    if (stSysGet(st, ENC_SYS_DBMAP, strlen(ENC_SYS_DBMAP), &v, &vl, err) != C_OK)
        goto err;
    if (v) {
        int rc = encDbMapDecode(v, vl, map, ST_MAX_DATABASES, &n);
        rocksdb_free(v);
        if (rc != 0) {
            if (err) *err = strdup("corrupt sys record dbmap");
            goto err;
        }
    }
    for (size_t i = n; i < (size_t)st->databases; i++) map[i] = (uint16_t)i;
    st->npdb = n > (size_t)st->databases ? (int)n : st->databases;
    st->l2p = malloc(sizeof(*st->l2p) * st->npdb);
    st->p2l = malloc(sizeof(*st->p2l) * st->npdb);
    if (!st->l2p || !st->p2l) goto oom;
    for (int i = 0; i < st->npdb; i++) {
        atomic_init(&st->l2p[i], map[i]);
        atomic_init(&st->p2l[map[i]], i < st->databases ? i : -1);
    }
    free(map);
    return C_OK;
oom:
    if (err) *err = strdup("out of memory");
err:
    free(map);
    return C_ERR;
}

/* Reads the persisted key and TTL counts of every physical db (two point
 * reads each) and sets up the other per-db state in memory (tombstone
 * estimates, RANDOMKEY's bound). */
static int stLoadCounts(stEngine *st, char **err) {
    st->counts = malloc(sizeof(*st->counts) * st->npdb);
    st->expires = malloc(sizeof(*st->expires) * st->npdb);
    st->bytes = malloc(sizeof(*st->bytes) * st->npdb);
    st->dead = malloc(sizeof(*st->dead) * st->npdb);
    st->dead_prev = calloc((size_t)st->npdb, sizeof(*st->dead_prev));
    st->dead_tail = calloc((size_t)st->npdb, sizeof(*st->dead_tail));
    st->random_wmax = malloc(sizeof(*st->random_wmax) * st->npdb);
    st->flushed = malloc(sizeof(*st->flushed) * st->npdb);
    if (!st->counts || !st->expires || !st->bytes || !st->dead || !st->dead_prev || !st->dead_tail ||
        !st->random_wmax ||
        !st->flushed) {
        if (err) *err = strdup("out of memory");
        return C_ERR;
    }
    for (int p = 0; p < st->npdb; p++) {
        atomic_init(&st->dead[p], 0);
        atomic_init(&st->random_wmax[p], 0);
        atomic_init(&st->flushed[p], 0);
    }
    for (int p = 0; p < st->npdb; p++) {
        atomic_init(&st->counts[p], 0);
        atomic_init(&st->expires[p], 0);
        atomic_init(&st->bytes[p], 0);
    }
    return stReadCounts(st, err);
}

int stReadCounts(stEngine *st, char **err) {
    for (int p = 0; p < st->npdb; p++) {
        for (int which = 0; which < 3; which++) {
            char key[ENC_SYS_COUNT_KEY_LEN], *v = NULL;
            size_t vl = 0;
            int64_t c = 0;
            if (which == 0) encSysCountKey(key, (uint16_t)p);
            else if (which == 1) encSysExpiresKey(key, (uint16_t)p);
            else encSysBytesKey(key, (uint16_t)p);
            if (stSysGet(st, key, sizeof(key), &v, &vl, err) != C_OK) return C_ERR;
            if (v && vl == 8) c = (int64_t)encGetU64LE(v);
            if (v) rocksdb_free(v);
            atomic_store(which == 0 ? &st->counts[p] : which == 1 ? &st->expires[p] : &st->bytes[p], c);
        }
    }
    return C_OK;
}

/* Restores the last origin seq this node committed (vv:<node_id>). */
static int stLoadSeq(stEngine *st, char **err) {
    char key[ENC_SYS_VV_KEY_LEN], *v = NULL;
    size_t vl = 0;
    encSysVvKey(key, st->node_id);
    if (stSysGet(st, key, sizeof(key), &v, &vl, err) != C_OK) return C_ERR;
    st->seq = (v && vl == 8) ? encGetU64(v) : 0;
    if (v) rocksdb_free(v);
    return C_OK;
}

/* ---- Helpers: the appendfsync everysec thread --------------------------- */

static int stSyncWalNow(stEngine *st) {
    char *rerr = NULL;
    uint64_t b = atomic_load(&st->batches);
    rocksdb_flush_wal(st->db, 1, &rerr);
    if (rerr) {
        stLogError("syncing the WAL", rerr);
        rocksdb_free(rerr);
        return C_ERR;
    }
    atomic_store(&st->synced_batches, b);
    atomic_store(&st->last_sync_unix, (uint64_t)time(NULL));
    return C_OK;
}

/* Wakes every second; in EVERYSEC mode syncs the WAL if batches were
 * committed since the last sync.  Exits when stClose() sets sync_stop. */
static void *stSyncThreadMain(void *arg) {
    stEngine *st = arg;
    pthread_mutex_lock(&st->sync_mu);
    while (!st->sync_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += ST_WAL_SYNC_INTERVAL_MS / 1000;
        pthread_cond_timedwait(&st->sync_cond, &st->sync_mu, &ts);
        if (st->sync_stop) break;
        pthread_mutex_unlock(&st->sync_mu);
        stWalPurge(st);
        pthread_mutex_lock(&st->sync_mu);
        if (st->sync_stop) break;
        if (atomic_load(&st->fsync_mode) != ST_FSYNC_EVERYSEC) continue;
        if (atomic_load(&st->batches) == atomic_load(&st->synced_batches)) continue;
        pthread_mutex_unlock(&st->sync_mu);
        stSyncWalNow(st);
        pthread_mutex_lock(&st->sync_mu);
    }
    pthread_mutex_unlock(&st->sync_mu);
    return NULL;
}

static int stStartSyncThread(stEngine *st, char **err) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->sync_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&st->sync_mu, NULL);
    int rc = pthread_create(&st->sync_thread, NULL, stSyncThreadMain, st);
    if (rc != 0) {
        if (err) *err = stErrDup("starting the WAL sync thread", strerror(rc));
        return C_ERR;
    }
    st->sync_started = 1;
    return C_OK;
}

/* ---- Helpers: opening the column families ------------------------------- */

/* Opens the db with our six column families plus any others found on disk
 * (RocksDB refuses to open without all of them); missing ones are created. */
static int stOpenDb(stEngine *st, char **err) {
    char *rerr = NULL;
    size_t nlisted = 0;
    char **listed = rocksdb_list_column_families(st->dbopt, st->dir, &nlisted, &rerr);
    if (rerr) { /* a new database has nothing to list */
        rocksdb_free(rerr);
        rerr = NULL;
        /* Even on error the C API returns a malloc(0) array to free. */
        if (listed) rocksdb_list_column_families_destroy(listed, 0);
        listed = NULL;
        nlisted = 0;
    }
    const char **names = malloc(sizeof(*names) * (ST_CF_COUNT + nlisted));
    const rocksdb_options_t **opts = malloc(sizeof(*opts) * (ST_CF_COUNT + nlisted));
    rocksdb_column_family_handle_t **h = malloc(sizeof(*h) * (ST_CF_COUNT + nlisted));
    int n = 0;
    if (!names || !opts || !h) {
        if (err) *err = strdup("out of memory");
        goto err;
    }
    for (int i = 0; i < ST_CF_COUNT; i++) {
        names[n] = st_cf_names[i];
        opts[n++] = st->cfopt[i];
    }
    for (size_t i = 0; i < nlisted; i++) {
        int ours = 0;
        for (int j = 0; j < ST_CF_COUNT; j++) ours |= strcmp(listed[i], st_cf_names[j]) == 0;
        if (ours) continue;
        if (!st->extra_opt) st->extra_opt = rocksdb_options_create();
        names[n] = listed[i];
        opts[n++] = st->extra_opt;
    }
    st->db = rocksdb_open_column_families(st->dbopt, st->dir, n, names, opts, h, &rerr);
    if (rerr) {
        stTakeRocksErr(err, "opening RocksDB", rerr);
        goto err;
    }
    memcpy(st->cf, h, sizeof(st->cf));
    st->extra_ncf = n - ST_CF_COUNT;
    if (st->extra_ncf) {
        st->extra_cf = malloc(sizeof(*st->extra_cf) * st->extra_ncf);
        if (!st->extra_cf) abort();
        memcpy(st->extra_cf, h + ST_CF_COUNT, sizeof(*st->extra_cf) * st->extra_ncf);
    }
    free(names);
    free(opts);
    free(h);
    if (listed) rocksdb_list_column_families_destroy(listed, nlisted);
    return C_OK;
err:
    free(names);
    free(opts);
    free(h);
    if (listed) rocksdb_list_column_families_destroy(listed, nlisted);
    return C_ERR;
}

/* Sum of an integer property over our column families. */
static uint64_t stPropertySum(stEngine *st, const char *prop) {
    uint64_t sum = 0;
    for (int i = 0; i < ST_CF_COUNT; i++) {
        uint64_t v = 0;
        if (rocksdb_property_int_cf(st->db, st->cf[i], prop, &v) == 0) sum += v;
    }
    return sum;
}

/* Bytes of WAL files (*.log) in dir. */
uint64_t stWalDirBytes(const char *dir) {
    uint64_t sum = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 4, ".log") != 0) continue;
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, 0) == 0) sum += (uint64_t)sb.st_size;
    }
    closedir(d);
    return sum;
}

/* Encodes a meta key into buf if it fits, else into a malloc'd buffer the
 * caller frees (when the result differs from buf).  NULL on OOM. */
char *stMetaKeyBuf(char *buf, size_t bufsize, int pdb, const char *key, size_t klen,
                   size_t *outlen) {
    size_t need = ENC_META_KEY_LEN(klen);
    char *k = need <= bufsize ? buf : malloc(need);
    if (!k) return NULL;
    *outlen = encMetaKey(k, (uint16_t)pdb, key, klen);
    return k;
}

/* Reads and decodes the meta record of (pdb, key) from RocksDB.  Returns a
 * new object (caller releases) or NULL if absent, unreadable or on error. */
stObj *stReadObj(stEngine *st, int pdb, const char *key, size_t klen) {
    char buf[ST_KEYBUF_BYTES], *rerr = NULL;
    size_t mklen;
    stObj *o = NULL;
    char *mk = stMetaKeyBuf(buf, sizeof(buf), pdb, key, klen, &mklen);
    if (!mk) return NULL;
    rocksdb_pinnableslice_t *ps =
        rocksdb_get_pinned_cf(st->db, st->ropts, st->cf[ST_CF_META], mk, mklen, &rerr);
    if (rerr) {
        stLogError("reading a key", rerr);
        rocksdb_free(rerr);
        goto done;
    }
    if (!ps) goto done;
    size_t vl;
    const char *v = rocksdb_pinnableslice_value(ps, &vl);
    stMeta m;
    const char *val;
    size_t vlen;
    if (encMetaValueDecode(v, vl, &m, &val, &vlen) == 0)
        o = stObjFromRecord(&m, val, vlen);
    else
        stLogError("reading a key", "undecodable meta record");
    rocksdb_pinnableslice_destroy(ps);
done:
    if (mk != buf) free(mk);
    return o;
}

/* ---- Public API: life cycle ------------------------------------------- */

stEngine *stOpen(const stOptions *opt, char **err) {
    if (err) *err = NULL;
    if (!opt || !opt->dir || !*opt->dir || opt->databases < 1 ||
        opt->databases > ST_MAX_DATABASES) {
        if (err) *err = strdup("invalid storage options (dir, databases 1..65535)");
        return NULL;
    }
    stEngine *st = calloc(1, sizeof(*st));
    if (!st) {
        if (err) *err = strdup("out of memory");
        return NULL;
    }
    pthread_mutex_init(&st->commit_mu, NULL);
    pthread_mutex_init(&st->expire_scan_mu, NULL);
    pthread_mutex_init(&st->gc_mu, NULL);
    st->gc_filter = gcFilterNew(st);
    st->expire_low_ms = UINT64_MAX;
    st->databases = opt->databases;
    atomic_init(&st->fsync_mode, opt->fsync_mode);
    atomic_init(&st->merge_writes, 0);
    st->dir = strdup(opt->dir);
    if (!st->dir) goto err;
    if (stMkdirs(st->dir) != C_OK) {
        if (err) *err = stErrDup("creating the data directory", strerror(errno));
        goto err;
    }
    stBuildOptions(st, opt);
    st->ropts = rocksdb_readoptions_create();
    st->wopts = rocksdb_writeoptions_create();
    st->wopts_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(st->wopts_sync, 1);

    if (stOpenDb(st, err) != C_OK) goto err;
    if (stLoadNodeId(st, err) != C_OK) goto err;
    if (stLoadDbMap(st, err) != C_OK) goto err;
    if (stLoadCounts(st, err) != C_OK) goto err;
    if (stLoadSeq(st, err) != C_OK) goto err;
    st->hs = hotsetNew(opt->hotset_max_bytes);
    st->cc = ccacheNew(opt->hotset_max_bytes / 4);
    st->open_lru_clock = stLruClock();
    atomic_store(&st->last_sync_unix, (uint64_t)time(NULL));
    if (stStartSyncThread(st, err) != C_OK) goto err;
    if (stCompactStart(st, err) != C_OK) goto err;
    atomic_store(&st->gc_ready, 1);
    return st;
err:
    if (err && !*err) *err = strdup("out of memory");
    stClose(st);
    return NULL;
}

void stClose(stEngine *st) {
    if (!st) return;
    atomic_store(&st->gc_ready, 0);
    stCompactStop(st);
    if (st->sync_started) {
        pthread_mutex_lock(&st->sync_mu);
        st->sync_stop = 1;
        pthread_cond_signal(&st->sync_cond);
        pthread_mutex_unlock(&st->sync_mu);
        pthread_join(st->sync_thread, NULL);
        pthread_cond_destroy(&st->sync_cond);
        pthread_mutex_destroy(&st->sync_mu);
        /* Cheap, and an everysec node should not lose its last second on a
         * clean shutdown. */
        if (atomic_load(&st->fsync_mode) != ST_FSYNC_NO) stSyncWalNow(st);
    }
    if (st->db) {
        for (int i = 0; i < ST_CF_COUNT; i++)
            if (st->cf[i]) rocksdb_column_family_handle_destroy(st->cf[i]);
        for (int i = 0; i < st->extra_ncf; i++)
            rocksdb_column_family_handle_destroy(st->extra_cf[i]);
        rocksdb_close(st->db);
    }
    free(st->extra_cf);
    for (int i = 0; i < ST_CF_COUNT; i++)
        if (st->cfopt[i]) rocksdb_options_destroy(st->cfopt[i]);
    if (st->extra_opt) rocksdb_options_destroy(st->extra_opt);
    if (st->dbopt) rocksdb_options_destroy(st->dbopt);
    if (st->ropts) rocksdb_readoptions_destroy(st->ropts);
    if (st->wopts) rocksdb_writeoptions_destroy(st->wopts);
    if (st->wopts_sync) rocksdb_writeoptions_destroy(st->wopts_sync);
    if (st->block_cache) rocksdb_cache_destroy(st->block_cache);
    /* After rocksdb_close: no compaction can call the filter any more. */
    if (st->gc_filter) rocksdb_compactionfilter_destroy(st->gc_filter);
    gcFreeQueue(st);
    pthread_mutex_destroy(&st->gc_mu);
    hotsetFree(st->hs);
    ccacheFree(st->cc);
    free((void *)st->l2p);
    free((void *)st->p2l);
    free((void *)st->counts);
    free((void *)st->expires);
    free((void *)st->bytes);
    free((void *)st->dead);
    free(st->dead_prev);
    free(st->dead_tail);
    free((void *)st->random_wmax);
    free((void *)st->flushed);
    free(st->dir);
    pthread_mutex_destroy(&st->expire_scan_mu);
    pthread_mutex_destroy(&st->commit_mu);
    free(st);
}

int stFlushToDisk(stEngine *st) {
    char *rerr = NULL;
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    for (int i = 0; i < ST_CF_COUNT && !rerr; i++)
        rocksdb_flush_cf(st->db, fo, st->cf[i], &rerr);
    rocksdb_flushoptions_destroy(fo);
    if (rerr) {
        stLogError("flushing memtables", rerr);
        rocksdb_free(rerr);
        return C_ERR;
    }
    return C_OK;
}

int stSyncWal(stEngine *st) { return stSyncWalNow(st); }

void stSetFsyncMode(stEngine *st, int mode) { atomic_store(&st->fsync_mode, mode); }

void stSetMergeWrites(stEngine *st, int on) { atomic_store(&st->merge_writes, on != 0); }

void stDefaultCacheSizes(size_t *block_cache, size_t *write_buffer) {
    *block_cache = ST_DEFAULT_BLOCK_CACHE_BYTES;
    *write_buffer = ST_DEFAULT_WRITE_BUFFER_BYTES;
}

void stSetHotsetMaxBytes(stEngine *st, size_t bytes) {
    hotsetSetMaxBytes(st->hs, bytes);
    ccacheSetBudget(st->cc, bytes / 4);
}

uint64_t stNodeId(const stEngine *st) { return st->node_id; }

/* ---- Helpers: point reads -------------------------------------------------- */

/* stGet (touch = 1) and stPeek (touch = 0).  A key read from RocksDB has no
 * known last access: an access stamps it now (stObjNew did), a peek stamps it
 * with the engine's open time, so introspection neither reports a cold key as
 * just used nor lets the peeked object outrank the working set in LRU
 * eviction. */
static stObj *stReadKey(stEngine *st, int db, const char *key, size_t klen, int touch) {
    int pdb = stPhysDb(st, db);
    if (pdb < 0) return NULL;
    uint64_t h = hotsetHash((uint16_t)pdb, key, klen);
    stObj *o = hotsetGet(st->hs, (uint16_t)pdb, key, klen, h, touch);
    if (o) return o;
    uint64_t epoch = hotsetEpoch(st->hs, h); /* before the read: invariant 3 */
    o = stReadObj(st, pdb, key, klen);
    if (!o) return NULL;
    if (!touch) o->lru_clock = st->open_lru_clock; /* not shared yet */
    hotsetAdmit(st->hs, (uint16_t)pdb, key, klen, h, o, epoch);
    return o;
}

/* ---- Public API: point reads ---------------------------------------------- */

stObj *stCached(stEngine *st, int db, const char *key, size_t klen) {
    int pdb = stPhysDb(st, db);
    if (pdb < 0) return NULL;
    return hotsetGet(st->hs, (uint16_t)pdb, key, klen, hotsetHash((uint16_t)pdb, key, klen), -1);
}

stObj *stGet(stEngine *st, int db, const char *key, size_t klen) {
    return stReadKey(st, db, key, klen, 1);
}

stObj *stPeek(stEngine *st, int db, const char *key, size_t klen) {
    return stReadKey(st, db, key, klen, 0);
}

int stExists(stEngine *st, int db, const char *key, size_t klen) {
    int pdb = stPhysDb(st, db);
    if (pdb < 0) return 0;
    uint64_t h = hotsetHash((uint16_t)pdb, key, klen);
    if (hotsetContains(st->hs, (uint16_t)pdb, key, klen, h)) return 1;

    char buf[ST_KEYBUF_BYTES], *rerr = NULL;
    size_t mklen;
    char *mk = stMetaKeyBuf(buf, sizeof(buf), pdb, key, klen, &mklen);
    if (!mk) return 0;
    rocksdb_pinnableslice_t *ps =
        rocksdb_get_pinned_cf(st->db, st->ropts, st->cf[ST_CF_META], mk, mklen, &rerr);
    if (mk != buf) free(mk);
    if (rerr) {
        stLogError("reading a key", rerr);
        rocksdb_free(rerr);
        return 0;
    }
    if (!ps) return 0;
    rocksdb_pinnableslice_destroy(ps);
    return 1;
}

uint64_t stKeyCount(stEngine *st, int db) {
    int pdb = stPhysDb(st, db);
    if (pdb < 0) return 0;
    int64_t c = atomic_load_explicit(&st->counts[pdb], memory_order_relaxed);
    return c > 0 ? (uint64_t)c : 0;
}

uint64_t stExpiresCount(stEngine *st, int db) {
    int pdb = stPhysDb(st, db);
    if (pdb < 0 || !st->expires) return 0;
    int64_t c = atomic_load_explicit(&st->expires[pdb], memory_order_relaxed);
    return c > 0 ? (uint64_t)c : 0;
}

uint64_t stDataBytes(stEngine *st) {
    int64_t sum = 0;
    for (int p = 0; st->bytes && p < st->npdb; p++)
        sum += atomic_load_explicit(&st->bytes[p], memory_order_relaxed);
    return sum > 0 ? (uint64_t)sum : 0;
}

/* ---- Public API: statistics ------------------------------------------------ */

void stGetStats(stEngine *st, stStats *out) {
    memset(out, 0, sizeof(*out));
    ccacheStats(st->cc, &out->hotset_collections, &out->hotset_collection_bytes);
    hotsetStats(st->hs, &out->hotset_keys, &out->hotset_bytes,
                &out->hotset_hits, &out->hotset_misses);
    out->block_cache_bytes = rocksdb_cache_get_usage(st->block_cache);
    out->memtable_bytes = stPropertySum(st, "rocksdb.cur-size-all-mem-tables");

    size_t n = strlen(st->dir) + sizeof("/archive");
    char *archive = malloc(n);
    out->disk_bytes = stPropertySum(st, "rocksdb.total-sst-files-size") +
                      stPropertySum(st, "rocksdb.total-blob-file-size") +
                      stWalDirBytes(st->dir);
    if (archive) {
        snprintf(archive, n, "%s/archive", st->dir);
        out->disk_bytes += stWalDirBytes(archive);
        free(archive);
    }
    out->blob_bytes = stPropertySum(st, "rocksdb.live-blob-file-size");
    out->gc_dropped = atomic_load(&st->gc_dropped);
    out->blob_garbage_bytes = stPropertySum(st, "rocksdb.live-blob-file-garbage-size");
    for (int i = 0; i < ST_CF_COUNT; i++) out->blob_gc_cfs += atomic_load(&st->blob_gc_on[i]) != 0;
    out->batches_committed = atomic_load(&st->batches);
    out->last_wal_sync_unix = atomic_load(&st->last_sync_unix);
    out->last_seq = rocksdb_get_latest_sequence_number(st->db);
}

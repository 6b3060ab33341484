/* wal.c - reading the write-ahead log for replication: a WriteBatch rep
 * parser and a tailing WAL reader.
 *
 * The reader wraps rocksdb_get_updates_since().  Facts it relies on, checked
 * on Debian's RocksDB 7.8.3:
 *  - an iterator that reached the end of the newest WAL file returns new
 *    batches on the next rocksdb_wal_iter_next() once they are written, so a
 *    caught-up reader keeps its iterator instead of reopening (reopening
 *    reads the file from its start to find the sequence);
 *  - after the WAL moved to a new file the old iterator answers TryAgain
 *    ("create a new iterator to fetch the new tail"), so it is reopened;
 *  - asking for a sequence beyond the latest fails with NotFound, and asking
 *    for one whose file was purged starts at a later batch: the first batch
 *    returned must cover the sequence asked for, or the reader reports a gap.
 *
 * Rep layout: u64 LE sequence, u32 LE count, then records.  A record is a
 * tag byte, a varint32 column family id for the *_CF tags, and
 * varint32-length-prefixed key and (for Put, Merge, RangeDelete) value.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "st_internal.h"

/* ---- Rep parser ----------------------------------------------------------- */

/* LEB128 as RocksDB writes it (at most 5 bytes for 32 bits). */
static int repVarint32(const char *p, size_t len, size_t *pos, uint32_t *out) {
    uint32_t v = 0;
    for (int shift = 0; shift <= 28 && *pos < len; shift += 7) {
        unsigned char c = (unsigned char)p[(*pos)++];
        v |= (uint32_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int repSlice(const char *p, size_t len, size_t *pos, const char **s, size_t *slen) {
    uint32_t n;
    if (repVarint32(p, len, pos, &n) != 0 || n > len - *pos) return -1;
    *s = p + *pos;
    *slen = n;
    *pos += n;
    return 0;
}

int stRepNext(const char *rep, size_t len, size_t *pos, stRepRec *r) {
    if (*pos < REP_HEADER_BYTES) *pos = REP_HEADER_BYTES;
    if (*pos >= len) return 0;
    r->tag = (unsigned char)rep[(*pos)++];
    r->cf = 0;
    r->val = NULL;
    r->vlen = 0;
    switch (r->tag) {
    case REP_TAG_LOGDATA:
        return repSlice(rep, len, pos, &r->val, &r->vlen) == 0 ? 1 : -1;
    case REP_TAG_CF_DELETE:
        if (repVarint32(rep, len, pos, &r->cf) != 0) return -1;
        return repSlice(rep, len, pos, &r->key, &r->klen) == 0 ? 1 : -1;
    case REP_TAG_CF_PUT:
    case REP_TAG_CF_MERGE:
    case REP_TAG_CF_RANGE_DELETE:
        if (repVarint32(rep, len, pos, &r->cf) != 0) return -1;
        if (repSlice(rep, len, pos, &r->key, &r->klen) != 0) return -1;
        return repSlice(rep, len, pos, &r->val, &r->vlen) == 0 ? 1 : -1;
    default:
        return -1; /* Strata never writes other record types */
    }
}

int stSysKeyIsPrivate(const char *key, size_t klen) {
    if (klen == strlen(ENC_SYS_NODE_ID) && !memcmp(key, ENC_SYS_NODE_ID, klen)) return 1;
    return klen >= 5 && !memcmp(key, "repl:", 5);
}

int stSysKeyIsLocal(stEngine *st, const char *key, size_t klen) {
    if (stSysKeyIsPrivate(key, klen)) return 1;
    char vv[ENC_SYS_VV_KEY_LEN];
    encSysVvKey(vv, st->node_id);
    return klen == sizeof(vv) && !memcmp(key, vv, klen);
}

/* ---- Commit hook ------------------------------------------------------------ */

uint64_t stOriginSeq(stEngine *st) {
    pthread_mutex_lock(&st->commit_mu);
    uint64_t s = st->seq;
    pthread_mutex_unlock(&st->commit_mu);
    return s;
}

uint64_t stLatestSeq(stEngine *st) { return rocksdb_get_latest_sequence_number(st->db); }

void stSetCommitHook(stEngine *st, void (*fn)(void *ud), void *ud) {
    pthread_mutex_lock(&st->commit_mu);
    st->commit_hook = fn;
    st->commit_hook_ud = ud;
    pthread_mutex_unlock(&st->commit_mu);
}

/* ---- WAL reader ------------------------------------------------------------- */

/* A WAL reader failing this many times in a row with no WAL file purged
 * meanwhile reports a gap anyway (something else is wrong). */
#define WAL_MAX_TRANSIENT_FAILURES 200
#define WAL_HAS_ATTEMPTS 20

struct stWalIter {
    stEngine *st;
    uint64_t purges_seen;      /* st->wal_purges when the reader last succeeded */
    int failures;              /* consecutive transient failures */
    rocksdb_wal_iterator_t *it;
    rocksdb_writebatch_t *cur; /* the batch last returned */
    uint64_t next;             /* first sequence not returned yet */
    int at_end;                /* it went invalid at the tail: Next() before reading */
    int opened_fresh;          /* it was just opened: its first batch must cover next */
};

stWalIter *stWalOpen(stEngine *st, uint64_t from) {
    stWalIter *w = calloc(1, sizeof(*w));
    if (!w) abort();
    w->st = st;
    w->next = from ? from : 1;
    w->purges_seen = atomic_load(&st->wal_purges);
    return w;
}

/* A failed open or a first batch past `next`.  Only stWalPurge() deletes
 * WAL files (RocksDB only moves them to archive/, engine.c), so while no
 * file was purged the failure is a race with RocksDB moving a file (seen
 * under 8 KB SET load, where the WAL rolls every few hundred ms): report
 * "nothing yet" and let the caller retry. */
static int walFirstSeq(stEngine *st, uint64_t *first);

static int walFailure(stWalIter *w) {
    uint64_t first = 0;
    int known = walFirstSeq(w->st, &first);
    /* Certainly gone: older than the oldest batch, or the WAL holds no
     * batch at all while `next` was written. */
    if (known && (first ? w->next < first : w->next <= stLatestSeq(w->st))) return ST_WAL_GAP;
    uint64_t purges = atomic_load(&w->st->wal_purges);
    if (purges == w->purges_seen && ++w->failures < WAL_MAX_TRANSIENT_FAILURES) return ST_WAL_END;
    return ST_WAL_GAP;
}

static void walDropIter(stWalIter *w) {
    if (w->it) rocksdb_wal_iter_destroy(w->it);
    w->it = NULL;
    w->at_end = 0;
}

int stWalNext(stWalIter *w, stWalBatch *out) {
    if (w->cur) {
        rocksdb_writebatch_destroy(w->cur);
        w->cur = NULL;
    }
    for (int reopened = 0;;) {
        if (!w->it) {
            if (w->next > stLatestSeq(w->st)) return ST_WAL_END;
            char *err = NULL;
            w->it = rocksdb_get_updates_since(w->st->db, w->next, NULL, &err);
            if (err) {
                rocksdb_free(err);
                w->it = NULL;
                /* A write may have landed between the two calls. */
                return w->next > stLatestSeq(w->st) ? ST_WAL_END : walFailure(w);
            }
            w->opened_fresh = 1;
            reopened = 1;
        } else if (w->at_end) {
            rocksdb_wal_iter_next(w->it);
            w->at_end = 0;
        }
        if (!rocksdb_wal_iter_valid(w->it)) {
            char *err = NULL;
            rocksdb_wal_iter_status(w->it, &err);
            int fresh = w->opened_fresh;
            if (err) rocksdb_free(err);
            if (!err && !fresh) {
                w->at_end = 1; /* tail reached; later writes show up on Next() */
                if (w->next > stLatestSeq(w->st)) return ST_WAL_END;
            }
            /* TryAgain (new WAL file), or more data than this iterator sees. */
            walDropIter(w);
            if (reopened) return w->next > stLatestSeq(w->st) ? ST_WAL_END : walFailure(w);
            continue;
        }
        uint64_t seq = 0;
        w->cur = rocksdb_wal_iter_get_batch(w->it, &seq);
        int fresh = w->opened_fresh;
        w->opened_fresh = 0;
        size_t len = 0;
        const char *rep = rocksdb_writebatch_data(w->cur, &len);
        uint64_t count = (uint64_t)rocksdb_writebatch_count(w->cur);
        if (fresh && seq > w->next) {
            walDropIter(w);
            return walFailure(w); /* the batches before seq are gone, or a race */
        }
        if (count == 0) count = 1; /* never written by Strata; keep positions moving */
        if (seq + count <= w->next) {
            /* Already returned (the iterator starts at the batch holding
             * `next`); rocksdb_wal_iter_next() moves on. */
            rocksdb_writebatch_destroy(w->cur);
            w->cur = NULL;
            rocksdb_wal_iter_next(w->it);
            continue;
        }
        out->seq = seq;
        out->next = seq + count;
        out->rep = rep;
        out->len = len;
        out->has_header = 0;
        size_t pos = REP_HEADER_BYTES;
        stRepRec r;
        encLogHeader h;
        if (stRepNext(rep, len, &pos, &r) == 1 && r.tag == REP_TAG_LOGDATA &&
            encLogHeaderDecode(r.val, r.vlen, &h) == 0) {
            out->has_header = 1;
            out->origin = h.origin;
            out->origin_seq = h.seq;
            out->hlc = h.hlc;
        }
        w->next = out->next;
        w->failures = 0;
        w->purges_seen = atomic_load(&w->st->wal_purges);
        rocksdb_wal_iter_next(w->it);
        if (!rocksdb_wal_iter_valid(w->it)) {
            char *err = NULL;
            rocksdb_wal_iter_status(w->it, &err);
            if (err) {
                rocksdb_free(err);
                walDropIter(w); /* TryAgain: reopen at `next` next time */
            } else {
                w->at_end = 1;
            }
        }
        return ST_WAL_BATCH;
    }
}

void stWalClose(stWalIter *w) {
    if (!w) return;
    if (w->cur) rocksdb_writebatch_destroy(w->cur);
    walDropIter(w);
    free(w);
}

typedef struct walFile {
    uint64_t number, bytes;
    time_t mtime;
} walFile;

static int walFileCmp(const void *a, const void *b) {
    const walFile *x = a, *y = b;
    return x->number < y->number ? -1 : x->number > y->number;
}

/* The *.log files of dir (heap array, sorted by log number). */
static size_t walList(const char *dir, walFile **out) {
    size_t n = 0, cap = 0;
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".log")) continue;
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            walFile *p = realloc(*out, cap * sizeof(**out));
            if (!p) abort();
            *out = p;
        }
        (*out)[n].number = strtoull(e->d_name, NULL, 10);
        (*out)[n].bytes = (uint64_t)sb.st_size;
        (*out)[n].mtime = sb.st_mtime;
        n++;
    }
    closedir(d);
    if (n) qsort(*out, n, sizeof(**out), walFileCmp);
    return n;
}

void stSetWalRetention(stEngine *st, uint64_t ttl_s, uint64_t bytes) {
    atomic_store(&st->wal_ttl_s, ttl_s);
    atomic_store(&st->wal_limit_bytes, bytes);
}

/* RocksDB only archives obsolete WAL files here (engine.c sets no limits
 * it would act on in time); the live ones are never touched.  A reader
 * whose next file is deleted gets an error and reports a gap (stWalNext). */
void stWalPurge(stEngine *st) {
    uint64_t ttl = atomic_load(&st->wal_ttl_s), limit = atomic_load(&st->wal_limit_bytes);
    char arch[4096];
    snprintf(arch, sizeof(arch), "%s/archive", st->dir);
    walFile *live = NULL, *old = NULL;
    size_t nlive = walList(st->dir, &live), nold = walList(arch, &old);
    uint64_t total = 0;
    for (size_t i = 0; i < nlive; i++) total += live[i].bytes;
    for (size_t i = 0; i < nold; i++) total += old[i].bytes;
    time_t now = time(NULL);
    for (size_t i = 0; i < nold; i++) {
        int too_old = ttl && (uint64_t)(now - old[i].mtime) > ttl;
        if (!too_old && total <= limit) break;
        char path[4200];
        snprintf(path, sizeof(path), "%s/%06llu.log", arch, (unsigned long long)old[i].number);
        if (unlink(path) == 0) {
            total -= old[i].bytes;
            atomic_fetch_add(&st->wal_purges, 1);
        }
    }
    free(live);
    free(old);
}

/* *first = sequence of the oldest batch in the WAL, 0 if it holds none.
 * Returns 0 when that is unknown (a WAL file moved while RocksDB listed
 * them). */
static int walFirstSeq(stEngine *st, uint64_t *first) {
    char *err = NULL;
    *first = 0;
    rocksdb_wal_iterator_t *it = rocksdb_get_updates_since(st->db, 0, NULL, &err);
    if (err) {
        rocksdb_free(err);
        return 0;
    }
    int known = 1;
    if (rocksdb_wal_iter_valid(it)) {
        rocksdb_writebatch_t *b = rocksdb_wal_iter_get_batch(it, first);
        rocksdb_writebatch_destroy(b);
    } else {
        rocksdb_wal_iter_status(it, &err);
        if (err) {
            rocksdb_free(err);
            known = 0;
        }
    }
    rocksdb_wal_iter_destroy(it);
    return known;
}

int stWalHas(stEngine *st, uint64_t seq) {
    if (seq > stLatestSeq(st)) return 1; /* nothing to read there yet */
    for (int attempt = 0; attempt < WAL_HAS_ATTEMPTS; attempt++) {
        uint64_t first = 0;
        if (walFirstSeq(st, &first)) return first && first <= seq;
        struct timespec ts = {0, 1000000}; /* a WAL file was moving: retry */
        nanosleep(&ts, NULL);
    }
    return 0; /* unknown: a full sync is the safe answer */
}

void stWalRetained(stEngine *st, uint64_t *first_seq, uint64_t *bytes) {
    char arch[4096];
    snprintf(arch, sizeof(arch), "%s/archive", st->dir);
    *bytes = stWalDirBytes(st->dir) + stWalDirBytes(arch);
    walFirstSeq(st, first_seq);
}

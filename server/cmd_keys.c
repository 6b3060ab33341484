/* cmd_keys.c - keyspace commands: DEL UNLINK EXISTS TYPE TOUCH, the EXPIRE
 * family, TTL family, PERSIST, KEYS, SCAN, RANDOMKEY, RENAME(NX), COPY, MOVE
 * and OBJECT.
 *
 * SCAN cursors: keys live in RocksDB in byte order, so a scan position is a
 * key, not a hash-table bucket.  Clients expect an integer cursor, so each
 * returned cursor names a slot of a server-side table holding the last key
 * returned.  Iteration resumes strictly after that key, which makes the
 * guarantee stronger than Redis's: every key present for the whole scan is
 * returned exactly once, whatever is written meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* ========================== DEL EXISTS TYPE TOUCH ========================= */

static int sameArg(client *c, int a, int b)
{
    return c->argvlen[a] == c->argvlen[b] && !memcmp(c->argv[a], c->argv[b], c->argvlen[a]);
}

static __thread client *dupCmpClient;

static int cmpArgIdx(const void *a, const void *b)
{
    client *c = dupCmpClient;
    int i = *(const int *)a, j = *(const int *)b;
    size_t li = c->argvlen[i], lj = c->argvlen[j];
    int r = memcmp(c->argv[i], c->argv[j], li < lj ? li : lj);
    if (r) return r;
    if (li != lj) return li < lj ? -1 : 1;
    return i - j;
}

/* Marks dup[j] = 1 for every argument in [first, argc) that repeats an
 * earlier one, in O(n log n). */
static void markDuplicateArgs(client *c, int first, char *dup)
{
    int n = c->argc - first;
    int *idx = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) idx[i] = first + i;
    dupCmpClient = c;
    qsort(idx, n, sizeof(int), cmpArgIdx);
    for (int i = 1; i < n; i++)
        if (sameArg(c, idx[i - 1], idx[i])) dup[idx[i]] = 1;
    free(idx);
}

/* DEL and UNLINK: one batch; a key named twice is deleted (and counted) once.
 * Deletion is O(1) per key for every type (collections bump incarnation). */
static void delGeneric(client *c)
{
    stBatch *b = dbBatch(c);
    stObj **found = calloc(c->argc, sizeof(stObj *));
    char *dup = calloc(c->argc, 1);
    long long deleted = 0;
    if (c->argc > 2) markDuplicateArgs(c, 1, dup);
    for (int j = 1; j < c->argc; j++) {
        if (dup[j]) continue;
        stObj *o = lookupKeyWrite(c, c->argv[j], c->argvlen[j]);
        if (!o) continue;
        found[j] = o;
        stBatchDel(b, c->db, c->argv[j], c->argvlen[j], &o->meta);
        deleted++;
    }
    int ok = C_OK;
    if (deleted) ok = commitOrReply(c, b);
    else dbBatchDiscard(c, b);
    if (ok == C_OK) {
        for (int j = 1; j < c->argc; j++)
            if (found[j]) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[j], c->argvlen[j], c->db);
        addReplyLongLong(c, deleted);
    }
    for (int j = 1; j < c->argc; j++)
        if (found[j]) stObjRelease(found[j]);
    free(found);
    free(dup);
}

void delCommand(client *c)
{
    delGeneric(c);
}

void unlinkCommand(client *c)
{
    delGeneric(c);
}

void existsCommand(client *c)
{
    long long n = 0;
    for (int j = 1; j < c->argc; j++) {
        stObj *o = lookupKeyDb(c, c->db, c->argv[j], c->argvlen[j], LOOKUP_NOTOUCH);
        if (o) {
            n++;
            stObjRelease(o);
        }
    }
    addReplyLongLong(c, n);
}

void typeCommand(client *c)
{
    stObj *o = lookupKeyDb(c, c->db, c->argv[1], c->argvlen[1], LOOKUP_NOTOUCH);
    addReplyStatus(c, o ? typeName(o->meta.type) : "none");
    if (o) stObjRelease(o);
}

void touchCommand(client *c)
{
    long long n = 0;
    for (int j = 1; j < c->argc; j++) {
        stObj *o = lookupKeyRead(c, c->argv[j], c->argvlen[j]);
        if (o) {
            n++;
            stObjRelease(o);
        }
    }
    addReplyLongLong(c, n);
}

/* ========================== EXPIRE family ================================= */

#define EXPIRE_NX (1 << 0)
#define EXPIRE_XX (1 << 1)
#define EXPIRE_GT (1 << 2)
#define EXPIRE_LT (1 << 3)

static int parseExpireFlags(client *c, int *flags)
{
    *flags = 0;
    for (int j = 3; j < c->argc; j++) {
        if (argIs(c, j, "nx")) *flags |= EXPIRE_NX;
        else if (argIs(c, j, "xx")) *flags |= EXPIRE_XX;
        else if (argIs(c, j, "gt")) *flags |= EXPIRE_GT;
        else if (argIs(c, j, "lt")) *flags |= EXPIRE_LT;
        else {
            addReplyErrorFormat(c, "Unsupported option %s", c->argv[j]);
            return C_ERR;
        }
    }
    if ((*flags & EXPIRE_NX) && (*flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
        addReplyError(c, "NX and XX, GT or LT options at the same time are not compatible");
        return C_ERR;
    }
    if ((*flags & EXPIRE_GT) && (*flags & EXPIRE_LT)) {
        addReplyError(c, "GT and LT options at the same time are not compatible");
        return C_ERR;
    }
    return C_OK;
}

/* Copies o with a different expire time into a new object (caller owns). */
static stObj *objWithExpire(const stObj *o, uint64_t expire_ms)
{
    stMeta m = o->meta;
    m.expire_ms = expire_ms;
    m.hlc = m.origin = 0;
    return stObjNew(&m, o->val, o->vlen);
}

static void expireGeneric(client *c, int unit_seconds, int relative)
{
    int flags;
    long long at;
    /* Options are checked before the time, as Redis does: the error a client
     * sees for a command with two bad arguments must be the same. */
    if (parseExpireFlags(c, &flags) != C_OK) return;
    if (getExpireAtOrReply(c, c->argv[2], c->argvlen[2], unit_seconds, relative, 0, &at) != C_OK)
        return;
    stObj *o = lookupKeyWrite(c, c->argv[1], c->argvlen[1]);
    if (!o) {
        addReplyLongLong(c, 0);
        return;
    }
    uint64_t cur = o->meta.expire_ms; /* 0 = persistent, i.e. infinite TTL */
    int skip = 0;
    if ((flags & EXPIRE_NX) && cur) skip = 1;
    if ((flags & EXPIRE_XX) && !cur) skip = 1;
    if ((flags & EXPIRE_GT) && (!cur || at <= (long long)cur)) skip = 1;
    if ((flags & EXPIRE_LT) && cur && at >= (long long)cur) skip = 1;
    if (skip) {
        addReplyLongLong(c, 0);
    } else if (at <= (long long)c->cmd_time_ms) {
        if (deleteKey(c, c->db, c->argv[1], c->argvlen[1], o) == C_OK) {
            notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
            addReplyLongLong(c, 1);
        }
    } else {
        if (writeKey(c, c->db, c->argv[1], c->argvlen[1], o, objWithExpire(o, (uint64_t)at)) ==
            C_OK) {
            notifyKeyspaceEvent(NOTIFY_GENERIC, "expire", c->argv[1], c->argvlen[1], c->db);
            addReplyLongLong(c, 1);
        }
    }
    stObjRelease(o);
}

void expireCommand(client *c)
{
    expireGeneric(c, 1, 1);
}

void pexpireCommand(client *c)
{
    expireGeneric(c, 0, 1);
}

void expireatCommand(client *c)
{
    expireGeneric(c, 1, 0);
}

void pexpireatCommand(client *c)
{
    expireGeneric(c, 0, 0);
}

/* TTL family.  output_ms: milliseconds; absolute: EXPIRETIME style. */
static void ttlGeneric(client *c, int output_ms, int absolute)
{
    stObj *o = lookupKeyDb(c, c->db, c->argv[1], c->argvlen[1], LOOKUP_NOTOUCH);
    if (!o) {
        addReplyLongLong(c, -2);
        return;
    }
    uint64_t at = o->meta.expire_ms;
    stObjRelease(o);
    if (!at) {
        addReplyLongLong(c, -1);
        return;
    }
    /* Seconds are rounded to the nearest, for EXPIRETIME too, as Redis does;
     * unsigned so that rounding an expire-at near LLONG_MAX cannot overflow. */
    uint64_t ms;
    if (absolute) ms = at;
    else ms = at > c->cmd_time_ms ? at - c->cmd_time_ms : 0;
    addReplyLongLong(c, (long long)(output_ms ? ms : (ms + 500) / 1000));
}

void ttlCommand(client *c)
{
    ttlGeneric(c, 0, 0);
}

void pttlCommand(client *c)
{
    ttlGeneric(c, 1, 0);
}

void expiretimeCommand(client *c)
{
    ttlGeneric(c, 0, 1);
}

void pexpiretimeCommand(client *c)
{
    ttlGeneric(c, 1, 1);
}

void persistCommand(client *c)
{
    stObj *o = lookupKeyWrite(c, c->argv[1], c->argvlen[1]);
    if (!o || !o->meta.expire_ms) {
        addReplyLongLong(c, 0);
    } else if (writeKey(c, c->db, c->argv[1], c->argvlen[1], o, objWithExpire(o, 0)) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_GENERIC, "persist", c->argv[1], c->argvlen[1], c->db);
        addReplyLongLong(c, 1);
    }
    if (o) stObjRelease(o);
}

/* ========================== KEYS SCAN RANDOMKEY =========================== */

/* Length of the pattern's literal prefix (before any glob character). */
static size_t patternLiteralPrefix(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && p[i] != '*' && p[i] != '?' && p[i] != '[' && p[i] != '\\') i++;
    return i;
}

/* An empty db answers without an iterator: after a flush or mass delete,
 * iterating an empty db still steps over every tombstone until compaction. */
static int dbIsEmpty(client *c)
{
    return stKeyCount(server.st, c->db) == 0;
}

void keysCommand(client *c)
{
    const char *pat = c->argv[1];
    size_t plen = c->argvlen[1];
    if (dbIsEmpty(c)) {
        addReplyArrayLen(c, 0);
        return;
    }
    int all = plen == 1 && pat[0] == '*';
    size_t prefix = patternLiteralPrefix(pat, plen);
    strbuf out;
    sbInit(&out);
    long long n = 0;
    stIter *it = stIterNew(server.st, c->db, prefix ? pat : NULL, prefix);
    for (; stIterValid(it); stIterNext(it)) {
        size_t klen;
        const char *key = stIterKey(it, &klen);
        if (prefix && (klen < prefix || memcmp(key, pat, prefix))) break;
        if (!all && !stringmatchlen(pat, plen, key, klen, 0)) continue;
        stObj *o = stIterObj(it);
        int live = o && !keyIsExpired(o, c->cmd_time_ms);
        if (o) stObjRelease(o);
        if (!live) continue;
        respAppendBulk(&out, key, klen);
        n++;
    }
    stIterFree(it);
    addReplyArrayLen(c, n);
    addReplyRaw(c, out.buf, out.len);
    sbFree(&out);
}

typedef struct scanSlot {
    uint64_t id;
    char *key; /* last key returned; NULL when the slot is free */
    size_t klen;
} scanSlot;

static pthread_mutex_t scanLock = PTHREAD_MUTEX_INITIALIZER;
static scanSlot scanSlots[SCAN_CURSOR_SLOTS];
static uint64_t scanNextId = 1;

/* Remembers key as a cursor position; returns the cursor id. */
uint64_t scanSave(const char *key, size_t klen)
{
    pthread_mutex_lock(&scanLock);
    uint64_t id = scanNextId++;
    scanSlot *s = &scanSlots[id % SCAN_CURSOR_SLOTS];
    free(s->key);
    s->id = id;
    s->key = malloc(klen + 1);
    memcpy(s->key, key, klen);
    s->key[klen] = '\0'; /* the successor key: resume strictly after `key` */
    s->klen = klen + 1;
    pthread_mutex_unlock(&scanLock);
    return id;
}

/* Copies the resume position of cursor id into *key (heap, caller frees). */
int scanLoad(uint64_t id, char **key, size_t *klen)
{
    int ok = 0;
    pthread_mutex_lock(&scanLock);
    scanSlot *s = &scanSlots[id % SCAN_CURSOR_SLOTS];
    if (s->id == id && s->key) {
        *key = malloc(s->klen);
        memcpy(*key, s->key, s->klen);
        *klen = s->klen;
        ok = 1;
    }
    pthread_mutex_unlock(&scanLock);
    return ok;
}

/* The options of SCAN (with TYPE when type is not NULL) and of
 * HSCAN/SSCAN/ZSCAN, from argument `first` on.  C_ERR after an error reply. */
static int scanOptionsOrReply(client *c, int first, const char **pat, size_t *plen,
                              long long *count, const char **type)
{
    *pat = NULL;
    *plen = 0;
    *count = 10;
    for (int j = first; j < c->argc; j += 2) {
        if (j + 1 >= c->argc) goto syntax;
        if (argIs(c, j, "match")) {
            *pat = c->argv[j + 1];
            *plen = c->argvlen[j + 1];
        } else if (argIs(c, j, "count")) {
            if (getLongLongOrReply(c, c->argv[j + 1], c->argvlen[j + 1], count, NULL) != C_OK)
                return C_ERR;
            if (*count < 1) goto syntax;
        } else if (type && argIs(c, j, "type")) {
            *type = c->argv[j + 1];
        } else {
            goto syntax;
        }
    }
    if (*pat && *plen == 1 && (*pat)[0] == '*') *pat = NULL;
    return C_OK;
syntax:
    addReplyErrorSyntax(c);
    return C_ERR;
}

/* Replies [next cursor, items] (items already encoded in out; frees out). */
static void scanReply(client *c, uint64_t next, long long n, strbuf *out)
{
    addReplyArrayLen(c, 2);
    addReplyBulkLongLong(c, (long long)next);
    addReplyArrayLen(c, n);
    addReplyRaw(c, out->buf, out->len);
    sbFree(out);
}

void scanCommand(client *c)
{
    unsigned long long cursor;
    if (!string2ull(c->argv[1], c->argvlen[1], &cursor)) {
        addReplyError(c, "invalid cursor");
        return;
    }
    const char *pat, *type = NULL;
    size_t plen;
    long long count;
    if (scanOptionsOrReply(c, 2, &pat, &plen, &count, &type) != C_OK) return;
    char *start = NULL;
    size_t slen = 0;
    if (cursor != 0 && !scanLoad(cursor, &start, &slen)) {
        addReplyError(c, "invalid cursor");
        return;
    }
    if (dbIsEmpty(c)) {
        free(start);
        addReplyArrayLen(c, 2);
        addReplyBulkLongLong(c, 0);
        addReplyArrayLen(c, 0);
        return;
    }
    strbuf out;
    sbInit(&out);
    long long n = 0, visited = 0;
    uint64_t next = 0;
    stIter *it = stIterNew(server.st, c->db, start, slen);
    while (stIterValid(it)) {
        size_t klen;
        const char *key = stIterKey(it, &klen);
        visited++;
        if (!pat || stringmatchlen(pat, plen, key, klen, 0)) {
            stObj *o = stIterObj(it);
            int keep = o && !keyIsExpired(o, c->cmd_time_ms) &&
                       (!type || !strcasecmp(type, typeName(o->meta.type)));
            if (o) stObjRelease(o);
            if (keep) {
                respAppendBulk(&out, key, klen);
                n++;
            }
        }
        if (visited >= count) {
            /* Remember this key before moving on: stIterKey's bytes are only
             * valid until stIterNext(). */
            char *last = malloc(klen ? klen : 1);
            memcpy(last, key, klen);
            stIterNext(it);
            next = stIterValid(it) ? scanSave(last, klen) : 0;
            free(last);
            break;
        }
        stIterNext(it);
    }
    stIterFree(it);
    free(start);
    scanReply(c, next, n, &out);
}

/* HSCAN / SSCAN / ZSCAN key cursor [MATCH pattern] [COUNT count]: the
 * elements of one collection in byte order, resumable like SCAN (the cursor
 * names the position after the last element returned).  Hash fields come
 * with their values, zset members with their scores. */
void collScanGeneric(client *c, int type)
{
    unsigned long long cursor;
    if (!string2ull(c->argv[2], c->argvlen[2], &cursor)) {
        addReplyError(c, "invalid cursor");
        return;
    }
    /* As Redis: the cursor, then the key (absent: an empty scan whatever the
     * options; another type: WRONGTYPE), then the options. */
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], type, 0, &o) != C_OK) return;
    if (!o) {
        addReplyArrayLen(c, 2);
        addReplyBulk(c, "0", 1);
        addReplyArrayLen(c, 0);
        return;
    }
    const char *pat;
    size_t plen;
    long long count;
    if (scanOptionsOrReply(c, 3, &pat, &plen, &count, NULL) != C_OK) {
        stObjRelease(o);
        return;
    }
    char *start = NULL;
    size_t slen = 0;
    if (cursor != 0 && !scanLoad(cursor, &start, &slen)) {
        addReplyError(c, "invalid cursor");
        stObjRelease(o);
        return;
    }
    strbuf out;
    sbInit(&out);
    long long n = 0, visited = 0;
    uint64_t next = 0;
    stColl *h = collOpenRead(c, c->db, c->argv[1], c->argvlen[1], o, type);
    stCollIter *it = stCollIterNew(h, start, slen, 0);
    while (stCollIterValid(it)) {
        size_t el;
        const char *e = stCollIterElem(it, &el);
        visited++;
        if (!pat || stringmatchlen(pat, plen, e, el, 0)) {
            respAppendBulk(&out, e, el);
            n++;
            if (type == ST_TYPE_HASH) {
                size_t vl;
                const char *v = stCollIterVal(it, &vl);
                respAppendBulk(&out, v, vl);
                n++;
            } else if (type == ST_TYPE_ZSET) {
                char buf[64];
                int len = d2string(buf, sizeof(buf), stCollIterScore(it));
                respAppendBulk(&out, buf, (size_t)len);
                n++;
            }
        }
        if (visited >= count) {
            char *last = malloc(el ? el : 1);
            memcpy(last, e, el);
            stCollIterNext(it);
            next = stCollIterValid(it) ? scanSave(last, el) : 0;
            free(last);
            break;
        }
        stCollIterNext(it);
    }
    stCollIterFree(it);
    stCollClose(h);
    stObjRelease(o);
    free(start);
    scanReply(c, next, n, &out);
}

void randomkeyCommand(client *c)
{
    for (int tries = 0; tries < 100 && !dbIsEmpty(c); tries++) {
        size_t klen;
        char *key = stRandomKey(server.st, c->db, &klen);
        if (!key) break;
        stObj *o = stPeek(server.st, c->db, key, klen);
        int live = o && !keyIsExpired(o, c->cmd_time_ms);
        if (o) stObjRelease(o);
        if (live) {
            addReplyBulk(c, key, klen);
            free(key);
            return;
        }
        free(key);
    }
    addReplyNull(c);
}

/* ========================== RENAME COPY MOVE ============================== */

/* Writes a copy of src's value under dst (in dstdb) and, with delete_src,
 * deletes src, all in one batch. */
static int copyKeyValue(client *c, const stObj *src, int dstdb, const char *dst, size_t dstlen,
                        const stObj *dstold, int delete_src, int srcdb, const char *srckey,
                        size_t srclen)
{
    stBatch *b = dbBatch(c);
    if (dstold) stBatchDel(b, dstdb, dst, dstlen, &dstold->meta);
    if (src->meta.type != ST_TYPE_STRING) {
        /* Elements live under the key's name: they are copied into a new
         * incarnation of dst (O(elements)). */
        dbCopyCollection(b, src, srcdb, srckey, srclen, dstdb, dst, dstlen);
    } else {
        stMeta m = src->meta;
        m.hlc = m.origin = 0;
        stObj *n = stObjNew(&m, src->val, src->vlen);
        stBatchPut(b, dstdb, dst, dstlen, NULL, n);
        stObjRelease(n);
    }
    if (delete_src) stBatchDel(b, srcdb, srckey, srclen, &src->meta);
    return commitOrReply(c, b);
}

static void renameGeneric(client *c, int nx)
{
    stObj *src = lookupKeyWrite(c, c->argv[1], c->argvlen[1]);
    if (!src) {
        addReplyError(c, "no such key");
        return;
    }
    if (sameArg(c, 1, 2)) {
        if (nx) addReplyLongLong(c, 0);
        else addReplyOk(c);
        stObjRelease(src);
        return;
    }
    stObj *dst = lookupKeyWrite(c, c->argv[2], c->argvlen[2]);
    if (dst && nx) {
        addReplyLongLong(c, 0);
    } else if (copyKeyValue(c, src, c->db, c->argv[2], c->argvlen[2], dst, 1, c->db, c->argv[1],
                            c->argvlen[1]) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_GENERIC, "rename_from", c->argv[1], c->argvlen[1], c->db);
        notifyKeyspaceEvent(NOTIFY_GENERIC, "rename_to", c->argv[2], c->argvlen[2], c->db);
        if (nx) addReplyLongLong(c, 1);
        else addReplyOk(c);
    }
    stObjRelease(src);
    if (dst) stObjRelease(dst);
}

void renameCommand(client *c)
{
    renameGeneric(c, 0);
}

void renamenxCommand(client *c)
{
    renameGeneric(c, 1);
}

void copyCommand(client *c)
{
    int dstdb = c->db, replace = 0;
    for (int j = 3; j < c->argc; j++) {
        if (argIs(c, j, "replace")) {
            replace = 1;
        } else if (argIs(c, j, "db") && j + 1 < c->argc) {
            if (selectDbOrReply(c, c->argv[j + 1], c->argvlen[j + 1], &dstdb) != C_OK) return;
            j++;
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
    if (dstdb == c->db && sameArg(c, 1, 2)) {
        addReplyError(c, "source and destination objects are the same");
        return;
    }
    stObj *src = lookupKeyWrite(c, c->argv[1], c->argvlen[1]);
    if (!src) {
        addReplyLongLong(c, 0);
        return;
    }
    stObj *dst = lookupKeyDb(c, dstdb, c->argv[2], c->argvlen[2], LOOKUP_NOTOUCH);
    if (dst && !replace) {
        addReplyLongLong(c, 0);
    } else if (copyKeyValue(c, src, dstdb, c->argv[2], c->argvlen[2], dst, 0, c->db, c->argv[1],
                            c->argvlen[1]) ==
               C_OK) {
        notifyKeyspaceEvent(NOTIFY_GENERIC, "copy_to", c->argv[2], c->argvlen[2], dstdb);
        addReplyLongLong(c, 1);
    }
    stObjRelease(src);
    if (dst) stObjRelease(dst);
}

void moveCommand(client *c)
{
    int dstdb;
    if (selectDbOrReply(c, c->argv[2], c->argvlen[2], &dstdb) != C_OK) return;
    if (dstdb == c->db) {
        addReplyError(c, "source and destination objects are the same");
        return;
    }
    stObj *src = lookupKeyWrite(c, c->argv[1], c->argvlen[1]);
    if (!src) {
        addReplyLongLong(c, 0);
        return;
    }
    stObj *dst = lookupKeyDb(c, dstdb, c->argv[1], c->argvlen[1], LOOKUP_NOTOUCH);
    if (dst) {
        addReplyLongLong(c, 0);
    } else if (copyKeyValue(c, src, dstdb, c->argv[1], c->argvlen[1], NULL, 1, c->db, c->argv[1],
                            c->argvlen[1]) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_GENERIC, "move_from", c->argv[1], c->argvlen[1], c->db);
        notifyKeyspaceEvent(NOTIFY_GENERIC, "move_to", c->argv[1], c->argvlen[1], dstdb);
        addReplyLongLong(c, 1);
    }
    stObjRelease(src);
    if (dst) stObjRelease(dst);
}

/* ========================== OBJECT ======================================== */

#define OBJ_SHARED_INTEGERS 10000         /* Redis shares the integers 0..9999 */
#define OBJ_SHARED_REFCOUNT 2147483647    /* the refcount Redis reports for them */

static int lfuPolicy(void)
{
    return cfg.maxmemory_policy == MAXMEM_ALLKEYS_LFU ||
           cfg.maxmemory_policy == MAXMEM_VOLATILE_LFU;
}

/* Redis stops sharing integers when a maxmemory LRU/LFU policy needs a
 * per-key access clock. */
static int sharedIntegersEnabled(void)
{
    int lru_lfu = cfg.maxmemory_policy == MAXMEM_ALLKEYS_LRU ||
                  cfg.maxmemory_policy == MAXMEM_VOLATILE_LRU || lfuPolicy();
    return cfg.maxmemory == 0 || !lru_lfu;
}

/* OBJECT REFCOUNT: our objects are never shared, but clients and tests
 * written against Redis see INT_MAX for a small integer, so report what Redis
 * would for the same value. */
static long long objectRefcount(const stObj *o)
{
    long long v;
    if (o->meta.type == ST_TYPE_STRING && sharedIntegersEnabled() &&
        !strcmp(objectEncodingName(o), "int") && string2ll(o->val, o->vlen, &v) && v >= 0 &&
        v < OBJ_SHARED_INTEGERS)
        return OBJ_SHARED_REFCOUNT;
    return 1;
}

static void objectHelp(client *c)
{
    /* Redis's text, line for line: clients print it as is. */
    static const char *help[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    };
    int n = sizeof(help) / sizeof(*help);
    addReplyArrayLen(c, n);
    for (int i = 0; i < n; i++) addReplyStatus(c, help[i]);
}

void objectCommand(client *c)
{
    static const char *subs[] = {"help", "encoding", "freq", "idletime", "refcount"};
    int sub = -1;
    for (int i = 0; i < (int)(sizeof(subs) / sizeof(*subs)); i++)
        if (argIs(c, 1, subs[i])) sub = i;
    if (sub < 0) {
        addReplySubcommandSyntaxError(c);
        return;
    }
    if (c->argc != (sub == 0 ? 2 : 3)) {
        /* Redis names the subcommand as its table does: lower case. */
        addReplyErrorFormat(c, "wrong number of arguments for 'object|%s' command", subs[sub]);
        return;
    }
    if (sub == 0) {
        objectHelp(c);
        return;
    }
    stObj *o = lookupKeyDb(c, c->db, c->argv[2], c->argvlen[2], LOOKUP_NOTOUCH);
    if (!o) {
        addReplyNull(c);
        return;
    }
    if (sub == 1) {
        addReplyBulkStr(c, objectEncodingName(o));
    } else if (sub == 4) {
        addReplyLongLong(c, objectRefcount(o));
    } else if (sub == 2) {
        if (!lfuPolicy()) {
            addReplyError(c, "An LFU maxmemory policy is not selected, access frequency not "
                             "tracked. Please note that when switching between policies at "
                             "runtime LRU and LFU data will take some time to adjust.");
        } else {
            addReplyLongLong(c, stObjFreq(o));
        }
    } else {
        if (lfuPolicy()) {
            addReplyError(c, "An LFU maxmemory policy is selected, idle time not tracked. "
                             "Please note that when switching between policies at runtime LRU "
                             "and LFU data will take some time to adjust.");
        } else {
            addReplyLongLong(c, (long long)stObjIdleSeconds(o));
        }
    }
    stObjRelease(o);
}

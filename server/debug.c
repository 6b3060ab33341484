/* debug.c - DEBUG (SLEEP DIGEST DIGEST-VALUE OBJECT RELOAD SET-ACTIVE-EXPIRE)
 * and the dataset digest that replication tests use to prove two nodes hold
 * the same data.
 *
 * The digest depends only on logical data: for every live key, SHA-1 over
 * (db, key, type, value, expire-at) and the results XORed together, so key
 * order, storage encoding and which tier (RAM or disk) holds a value do not
 * change it.  Logically expired keys are left out, so a node that already
 * deleted one and a node that has not yet agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"
#include "sha1.h"

/* ========================== Digest ======================================== */

static void putU64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

/* Digest of one key: SHA-1 of a length-prefixed encoding of its parts. */
/* Elements of a collection in their storage order (field/member bytes; list
 * order), each with its payload: the same logical content gives the same
 * digest on every node, whatever incarnation or list positions it has. */
static void collDigest(sha1Ctx *ctx, int db, const char *key, size_t klen, const stObj *o)
{
    unsigned char hdr[8];
    stColl *coll = stCollOpen(server.st, NULL, db, key, klen, o, o->meta.type, 0);
    if (!coll) return;
    stCollIter *it = stCollIterNew(coll, NULL, 0, 0);
    for (; stCollIterValid(it); stCollIterNext(it)) {
        size_t el, vl;
        const char *e = stCollIterElem(it, &el), *v = stCollIterVal(it, &vl);
        if (o->meta.type != ST_TYPE_LIST) {
            putU64(hdr, el);
            sha1Update(ctx, hdr, 8);
            sha1Update(ctx, e, el);
        }
        putU64(hdr, vl);
        sha1Update(ctx, hdr, 8);
        sha1Update(ctx, v, vl);
    }
    stCollIterFree(it);
    stCollClose(coll);
}

void keyDigest(int db, const char *key, size_t klen, const stObj *o, unsigned char out[20])
{
    sha1Ctx ctx;
    unsigned char hdr[8];
    sha1Init(&ctx);
    putU64(hdr, (uint64_t)db);
    sha1Update(&ctx, hdr, 8);
    putU64(hdr, klen);
    sha1Update(&ctx, hdr, 8);
    sha1Update(&ctx, key, klen);
    unsigned char type = o->meta.type;
    sha1Update(&ctx, &type, 1);
    if (type == ST_TYPE_STRING) {
        putU64(hdr, o->vlen);
        sha1Update(&ctx, hdr, 8);
        sha1Update(&ctx, o->val, o->vlen);
    } else {
        putU64(hdr, o->meta.count);
        sha1Update(&ctx, hdr, 8);
        collDigest(&ctx, db, key, klen, o);
    }
    putU64(hdr, o->meta.expire_ms);
    sha1Update(&ctx, hdr, 8);
    sha1Final(&ctx, out);
}

/* Digest of the whole dataset; all zeros when it is empty.  Returns the number
 * of keys digested. */
int computeDatasetDigest(unsigned char digest[20])
{
    uint64_t now = mstime();
    int keys = 0;
    memset(digest, 0, 20);
    for (int db = 0; db < cfg.databases; db++) {
        if (stKeyCount(server.st, db) == 0) continue;
        stIter *it = stIterNew(server.st, db, NULL, 0);
        for (; stIterValid(it); stIterNext(it)) {
            size_t klen;
            const char *key = stIterKey(it, &klen);
            stObj *o = stIterObj(it);
            if (!o) continue;
            if (!keyIsExpired(o, now)) {
                unsigned char kd[20];
                keyDigest(db, key, klen, o, kd);
                for (int i = 0; i < 20; i++) digest[i] ^= kd[i];
                keys++;
            }
            stObjRelease(o);
        }
        stIterFree(it);
    }
    return keys;
}

static void addReplyDigest(client *c, const unsigned char d[20])
{
    char hex[41];
    for (int i = 0; i < 20; i++) sprintf(hex + i * 2, "%02x", d[i]);
    addReplyStatus(c, hex);
}

/* ========================== Encodings ===================================== */

const char *objectEncodingName(const stObj *o)
{
    /* Collections have one encoding (elements in RocksDB); report the name
     * of the Redis encoding with the same behaviour (unbounded size). */
    switch (o->meta.type) {
    case ST_TYPE_HASH: return "hashtable";
    case ST_TYPE_SET: return "hashtable";
    case ST_TYPE_ZSET: return "skiplist";
    case ST_TYPE_LIST: return "quicklist";
    default: break;
    }
    if (o->meta.flags & META_FLAG_RAW) return "raw";
    long long v;
    if (!(o->meta.flags & META_FLAG_NOINT) && o->vlen <= 20 && string2ll(o->val, o->vlen, &v))
        return "int";
    return o->vlen <= OBJ_ENCODING_EMBSTR_MAX ? "embstr" : "raw";
}

/* ========================== DEBUG ========================================= */

void debugCommand(client *c)
{
    if (argIs(c, 1, "sleep") && c->argc == 3) {
        /* As Redis: strtod, so a malformed duration sleeps 0 seconds. */
        double secs = strtod(c->argv[2], NULL);
        if (secs > 0) usleep((useconds_t)(secs * 1e6));
        addReplyOk(c);
    } else if (argIs(c, 1, "digest") && c->argc == 2) {
        unsigned char d[20];
        computeDatasetDigest(d);
        addReplyDigest(c, d);
    } else if (argIs(c, 1, "digest-value") && c->argc >= 2) {
        addReplyArrayLen(c, c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            unsigned char d[20] = {0};
            stObj *o = lookupKeyDb(c, c->db, c->argv[i], c->argvlen[i], LOOKUP_NOTOUCH);
            if (o) {
                keyDigest(c->db, c->argv[i], c->argvlen[i], o, d);
                stObjRelease(o);
            }
            addReplyDigest(c, d);
        }
    } else if (argIs(c, 1, "object") && c->argc == 3) {
        /* As Redis: the key as stored, even if expired, and looking at it is
         * not an access (stPeek keeps its idle time). */
        stObj *o = stPeek(server.st, c->db, c->argv[2], c->argvlen[2]);
        if (!o) {
            addReplyError(c, "no such key");
            return;
        }
        char buf[256];
        snprintf(buf, sizeof(buf),
                 "Value at:%p refcount:1 encoding:%s serializedlength:%zu lru:%u "
                 "lru_seconds_idle:%llu",
                 (void *)o, objectEncodingName(o), o->vlen,
                 (unsigned)__atomic_load_n(&o->lru_clock, __ATOMIC_RELAXED),
                 (unsigned long long)stObjIdleSeconds(o));
        stObjRelease(o);
        addReplyStatus(c, buf);
    } else if (argIs(c, 1, "reload") || argIs(c, 1, "flush-to-disk")) {
        /* Data is always on disk; RELOAD flushes memtables so the next reads
         * come from SST files, the closest thing to Redis's save-and-load. */
        if (stFlushToDisk(server.st) != C_OK) {
            addReplyError(c, "flushing to disk failed");
            return;
        }
        addReplyOk(c);
    } else if (argIs(c, 1, "set-active-expire") && c->argc == 3) {
        long long v;
        if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &v, NULL) != C_OK) return;
        atomic_store(&server.active_expire_enabled, v != 0);
        addReplyOk(c);
    } else if (argIs(c, 1, "help") && c->argc == 2) {
        const char *help[] = {
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DIGEST", "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]", "    Output a hex signature of the values of all "
                                              "the specified keys.",
            "OBJECT <key>", "    Show low level info about the key and associated value.",
            "RELOAD", "    Flush memtables to disk (all data is always persistent).",
            "SET-ACTIVE-EXPIRE <0|1>", "    Setting it to 0 disables expiring keys in the "
                                       "background.",
            "SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed.",
            "HELP", "    Prints this help."};
        int n = sizeof(help) / sizeof(*help);
        addReplyArrayLen(c, n);
        for (int i = 0; i < n; i++) addReplyStatus(c, help[i]);
    } else {
        /* DEBUG is not a container command in Redis, so unknown subcommands
         * and wrong argument counts share this one message. */
        addReplyErrorFormat(c, "unknown subcommand or wrong number of arguments for '%.128s'. "
                               "Try DEBUG HELP.", c->argv[1]);
    }
}

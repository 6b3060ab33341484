/* cmd_string.c - string commands: GET SET (and SETNX SETEX PSETEX GETSET as
 * thin wrappers of one generic SET) MGET MSET MSETNX GETDEL GETEX APPEND
 * STRLEN INCR/DECR family INCRBYFLOAT GETRANGE SETRANGE and the bit commands.
 *
 * Every write reads the key's current object under its stripe (so key counts
 * and the expire index stay exact), builds the new immutable object and
 * commits one batch.  Commands that modify a value keep its TTL, as Redis.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* ========================== Helpers ======================================= */

/* Looks up key for writing; replies WRONGTYPE (returning C_ERR) when it holds
 * something other than a string.  *out is NULL when the key is absent. */
static int lookupStringWrite(client *c, const char *key, size_t klen, stObj **out)
{
    stObj *o = lookupKeyWrite(c, key, klen);
    if (o && o->meta.type != ST_TYPE_STRING) {
        stObjRelease(o);
        addReplyErrorWrongType(c);
        return C_ERR;
    }
    *out = o;
    return C_OK;
}

static int lookupStringRead(client *c, const char *key, size_t klen, stObj **out)
{
    stObj *o = lookupKeyRead(c, key, klen);
    if (o && o->meta.type != ST_TYPE_STRING) {
        stObjRelease(o);
        addReplyErrorWrongType(c);
        return C_ERR;
    }
    *out = o;
    return C_OK;
}

/* size is computed by the caller as offset + length; compared unsigned so
 * a huge offset cannot wrap into a small (or negative) signed size. */
static int checkStringLength(client *c, unsigned long long size)
{
    if (size > (unsigned long long)cfg.proto_max_bulk_len) {
        addReplyError(c, "string exceeds maximum allowed size (proto-max-bulk-len)");
        return C_ERR;
    }
    return C_OK;
}

/* ========================== GET / SET family ============================== */

void getCommand(client *c)
{
    stObj *o;
    if (lookupStringRead(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    if (!o) {
        addReplyNull(c);
        return;
    }
    addReplyObjValue(c, o);
    stObjRelease(o);
}

/* Option flags of SET and GETEX, as parsed by parseStringOptions(). */
#define SET_NX (1 << 0)
#define SET_XX (1 << 1)
#define SET_GET (1 << 2)
#define SET_KEEPTTL (1 << 3)
#define SET_EX (1 << 4)
#define SET_PX (1 << 5)
#define SET_EXAT (1 << 6)
#define SET_PXAT (1 << 7)
#define SET_PERSIST (1 << 8)
#define SET_EXPIRE (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/* Parses the options of SET (is_set) or GETEX from argv[first] on, with
 * Redis's acceptance rules: repeating an option is allowed (the last expire
 * value wins), conflicting options are a syntax error.  The expire value is
 * only located here, *expire_arg = its argv index (0 if none): Redis parses
 * it after all options were accepted, so "EX abc FOO" is a syntax error and
 * "EX abc EX 10" is valid.  Replies and returns C_ERR on a syntax error. */
static int parseStringOptions(client *c, int first, int is_set, int *flags, int *expire_arg)
{
    static const struct {
        const char *name;
        int flag;
    } expire_opts[] = {{"ex", SET_EX}, {"px", SET_PX}, {"exat", SET_EXAT}, {"pxat", SET_PXAT}};
    *flags = 0;
    *expire_arg = 0;
    for (int j = first; j < c->argc; j++) {
        int has_next = j + 1 < c->argc, matched = 0;
        if (is_set && argIs(c, j, "nx") && !(*flags & SET_XX)) {
            *flags |= SET_NX;
            matched = 1;
        } else if (is_set && argIs(c, j, "xx") && !(*flags & SET_NX)) {
            *flags |= SET_XX;
            matched = 1;
        } else if (is_set && argIs(c, j, "get")) {
            *flags |= SET_GET;
            matched = 1;
        } else if (is_set && argIs(c, j, "keepttl") && !(*flags & SET_EXPIRE)) {
            *flags |= SET_KEEPTTL;
            matched = 1;
        } else if (!is_set && argIs(c, j, "persist") && !(*flags & SET_EXPIRE)) {
            *flags |= SET_PERSIST;
            matched = 1;
        } else {
            for (size_t i = 0; i < sizeof(expire_opts) / sizeof(expire_opts[0]); i++) {
                int f = expire_opts[i].flag;
                if (argIs(c, j, expire_opts[i].name) && has_next &&
                    !(*flags & ((SET_EXPIRE & ~f) | SET_KEEPTTL | SET_PERSIST))) {
                    *flags |= f;
                    *expire_arg = ++j;
                    matched = 1;
                    break;
                }
            }
        }
        if (!matched) {
            addReplyErrorSyntax(c);
            return C_ERR;
        }
    }
    return C_OK;
}

/* Converts the expire value found by parseStringOptions() to an absolute
 * unix time in ms.  Zero, negative and overflowing values are invalid. */
static int getOptionExpireAtOrReply(client *c, int flags, int expire_arg, long long *at_ms)
{
    int secs = (flags & (SET_EX | SET_EXAT)) != 0;
    int rel = (flags & (SET_EX | SET_PX)) != 0;
    return getExpireAtOrReply(c, c->argv[expire_arg], c->argvlen[expire_arg], secs, rel, 1,
                              at_ms);
}

/* The one SET worker.  expire_at_ms is absolute (valid with SET_EXPIRE).
 * Replies: OK / nil when NX|XX fails / old value with SET_GET. */
static void setGeneric(client *c, int flags, const char *key, size_t klen, const char *val,
                       size_t vlen, long long expire_at_ms, int reply_int)
{
    stObj *old;
    if (flags & SET_GET) {
        if (lookupStringWrite(c, key, klen, &old) != C_OK) return;
    } else {
        old = lookupKeyWrite(c, key, klen);
    }
    int exists = old != NULL;
    if (((flags & SET_NX) && exists) || ((flags & SET_XX) && !exists)) {
        if (flags & SET_GET) {
            if (old) addReplyObjValue(c, old);
            else addReplyNull(c);
        } else if (reply_int) {
            addReplyLongLong(c, 0);
        } else {
            addReplyNull(c);
        }
        if (old) stObjRelease(old);
        return;
    }
    int ok;
    if ((flags & SET_EXPIRE) && expire_at_ms <= (long long)c->cmd_time_ms) {
        /* Already expired: the key ends up absent. */
        ok = old ? deleteKey(c, c->db, key, klen, old) : C_OK;
    } else {
        uint64_t exp = 0;
        if (flags & SET_EXPIRE) exp = (uint64_t)expire_at_ms;
        else if ((flags & SET_KEEPTTL) && old) exp = old->meta.expire_ms;
        ok = writeKey(c, c->db, key, klen, old, newStringObj(val, vlen, exp, 0));
    }
    if (ok == C_OK) {
        if ((flags & SET_EXPIRE) && expire_at_ms <= (long long)c->cmd_time_ms) {
            if (old) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", key, klen, c->db);
        } else {
            notifyKeyspaceEvent(NOTIFY_STRING, "set", key, klen, c->db);
            if (flags & SET_EXPIRE) notifyKeyspaceEvent(NOTIFY_GENERIC, "expire", key, klen, c->db);
        }
        if (flags & SET_GET) {
            if (old) addReplyObjValue(c, old);
            else addReplyNull(c);
        } else if (reply_int) {
            addReplyLongLong(c, 1);
        } else {
            addReplyOk(c);
        }
    }
    if (old) stObjRelease(old);
}

void setCommand(client *c)
{
    int flags, expire_arg;
    long long at = 0;
    if (parseStringOptions(c, 3, 1, &flags, &expire_arg) != C_OK) return;
    if (expire_arg && getOptionExpireAtOrReply(c, flags, expire_arg, &at) != C_OK) return;
    setGeneric(c, flags, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], at, 0);
}

void setnxCommand(client *c)
{
    setGeneric(c, SET_NX, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], 0, 1);
}

static void setexGeneric(client *c, int unit_seconds)
{
    long long at;
    if (getExpireAtOrReply(c, c->argv[2], c->argvlen[2], unit_seconds, 1, 1, &at) != C_OK) return;
    setGeneric(c, SET_EXPIRE, c->argv[1], c->argvlen[1], c->argv[3], c->argvlen[3], at, 0);
}

void setexCommand(client *c)
{
    setexGeneric(c, 1);
}

void psetexCommand(client *c)
{
    setexGeneric(c, 0);
}

void getsetCommand(client *c)
{
    setGeneric(c, SET_GET, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], 0, 0);
}

void getdelCommand(client *c)
{
    stObj *o;
    if (lookupStringWrite(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    if (!o) {
        addReplyNull(c);
        return;
    }
    if (deleteKey(c, c->db, c->argv[1], c->argvlen[1], o) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
        addReplyObjValue(c, o);
    }
    stObjRelease(o);
}

void getexCommand(client *c)
{
    int flags, expire_arg;
    long long at = 0;
    if (parseStringOptions(c, 2, 0, &flags, &expire_arg) != C_OK) return;
    stObj *o;
    if (lookupStringWrite(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    if (!o) {
        addReplyNull(c);
        return;
    }
    /* As Redis, a missing key answers nil before the expire value is
     * checked. */
    int ok = C_OK, set_expire = expire_arg != 0;
    if (set_expire && getOptionExpireAtOrReply(c, flags, expire_arg, &at) != C_OK) goto done;
    const char *event = NULL;
    if (set_expire && at <= (long long)c->cmd_time_ms) {
        ok = deleteKey(c, c->db, c->argv[1], c->argvlen[1], o);
        event = "del";
    } else if (set_expire || ((flags & SET_PERSIST) && o->meta.expire_ms)) {
        stObj *n = newStringObj(o->val, o->vlen, set_expire ? (uint64_t)at : 0, o->meta.flags);
        ok = writeKey(c, c->db, c->argv[1], c->argvlen[1], o, n);
        event = set_expire ? "expire" : "persist";
    }
    if (ok == C_OK && event)
        notifyKeyspaceEvent(NOTIFY_GENERIC, event, c->argv[1], c->argvlen[1], c->db);
    if (ok == C_OK) addReplyObjValue(c, o);
done:
    stObjRelease(o);
}

void mgetCommand(client *c)
{
    addReplyArrayLen(c, c->argc - 1);
    for (int j = 1; j < c->argc; j++) {
        stObj *o = lookupKeyRead(c, c->argv[j], c->argvlen[j]);
        if (o && o->meta.type == ST_TYPE_STRING) addReplyObjValue(c, o);
        else addReplyNull(c);
        if (o) stObjRelease(o);
    }
}

/* One key argument of MSET/MSETNX: its argv index and bytes. */
typedef struct msetKey {
    int arg;
    const char *key;
    size_t klen;
} msetKey;

/* Orders by key bytes, then by position, so equal keys sit together with
 * their last occurrence (the value that wins) at the end of the run. */
static int msetKeyCompare(const void *pa, const void *pb)
{
    const msetKey *a = pa, *b = pb;
    int cmp = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);
    if (cmp == 0 && a->klen != b->klen) cmp = a->klen < b->klen ? -1 : 1;
    if (cmp == 0) cmp = a->arg < b->arg ? -1 : (a->arg > b->arg);
    return cmp;
}

/* MSET and MSETNX: all keys in one batch, so they apply atomically.  A key
 * named twice is written once with its last value; duplicates are found by
 * sorting (O(n log n)), as clients send MSETs of many thousands of keys. */
static void msetGeneric(client *c, int nx)
{
    if ((c->argc % 2) == 0) {
        addReplyErrorArity(c);
        return;
    }
    int n = (c->argc - 1) / 2, nuniq = 0, blocked = 0;
    msetKey *keys = malloc(n * sizeof(*keys)); /* freed below */
    stObj **olds = calloc(n, sizeof(stObj *)); /* one per unique key; released below */
    for (int i = 0; i < n; i++) {
        int k = 1 + i * 2;
        keys[i] = (msetKey){k, c->argv[k], c->argvlen[k]};
    }
    qsort(keys, n, sizeof(*keys), msetKeyCompare);
    for (int i = 0; i < n; i++) {
        if (i + 1 < n && keys[i + 1].klen == keys[i].klen &&
            !memcmp(keys[i + 1].key, keys[i].key, keys[i].klen))
            continue; /* a later occurrence of this key follows */
        keys[nuniq] = keys[i];
        olds[nuniq] = lookupKeyWrite(c, keys[i].key, keys[i].klen);
        if (nx && olds[nuniq]) blocked = 1;
        nuniq++;
    }
    if (blocked) {
        addReplyLongLong(c, 0);
        goto done;
    }
    stBatch *b = dbBatch(c);
    for (int i = 0; i < nuniq; i++) {
        int k = keys[i].arg;
        stObj *o = newStringObj(c->argv[k + 1], c->argvlen[k + 1], 0, 0);
        stBatchPut(b, c->db, c->argv[k], c->argvlen[k], olds[i] ? &olds[i]->meta : NULL, o);
        stObjRelease(o);
    }
    if (commitOrReply(c, b) == C_OK) {
        for (int i = 0; i < nuniq; i++)
            notifyKeyspaceEvent(NOTIFY_STRING, "set", keys[i].key, keys[i].klen, c->db);
        if (nx) addReplyLongLong(c, 1);
        else addReplyOk(c);
    }
done:
    for (int i = 0; i < nuniq; i++)
        if (olds[i]) stObjRelease(olds[i]);
    free(olds);
    free(keys);
}

void msetCommand(client *c)
{
    msetGeneric(c, 0);
}

void msetnxCommand(client *c)
{
    msetGeneric(c, 1);
}

void strlenCommand(client *c)
{
    stObj *o;
    if (lookupStringRead(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    addReplyLongLong(c, o ? (long long)o->vlen : 0);
    if (o) stObjRelease(o);
}

void appendCommand(client *c)
{
    stObj *o;
    if (lookupStringWrite(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    size_t oldlen = o ? o->vlen : 0;
    if (checkStringLength(c, (unsigned long long)oldlen + c->argvlen[2]) != C_OK) goto done;
    stMeta m;
    memset(&m, 0, sizeof(m));
    m.type = ST_TYPE_STRING;
    m.flags = o ? META_FLAG_RAW : 0;
    m.expire_ms = o ? o->meta.expire_ms : 0;
    stObj *n = stObjNewRaw(&m, oldlen + c->argvlen[2]);
    if (oldlen) memcpy(n->val, o->val, oldlen);
    memcpy(n->val + oldlen, c->argv[2], c->argvlen[2]);
    if (writeKey(c, c->db, c->argv[1], c->argvlen[1], o, n) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_STRING, "append", c->argv[1], c->argvlen[1], c->db);
        addReplyLongLong(c, (long long)(oldlen + c->argvlen[2]));
    }
done:
    if (o) stObjRelease(o);
}

/* ========================== Counters ====================================== */

static void incrDecr(client *c, long long incr)
{
    stObj *o;
    if (lookupStringWrite(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    long long value = 0;
    if (o && !string2ll(o->val, o->vlen, &value)) {
        addReplyErrorNotInt(c);
        goto done;
    }
    if ((incr < 0 && value < 0 && incr < (LLONG_MIN - value)) ||
        (incr > 0 && value > 0 && incr > (LLONG_MAX - value))) {
        addReplyError(c, "increment or decrement would overflow");
        goto done;
    }
    value += incr;
    char buf[32];
    int len = ll2string(buf, sizeof(buf), value);
    stObj *n = newStringObj(buf, len, o ? o->meta.expire_ms : 0, 0);
    if (writeKey(c, c->db, c->argv[1], c->argvlen[1], o, n) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_STRING, "incrby", c->argv[1], c->argvlen[1], c->db);
        addReplyLongLong(c, value);
    }
done:
    if (o) stObjRelease(o);
}

void incrCommand(client *c)
{
    incrDecr(c, 1);
}

void decrCommand(client *c)
{
    incrDecr(c, -1);
}

void incrbyCommand(client *c)
{
    long long incr;
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &incr, NULL) != C_OK) return;
    incrDecr(c, incr);
}

void decrbyCommand(client *c)
{
    long long incr;
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &incr, NULL) != C_OK) return;
    if (incr == LLONG_MIN) {
        addReplyError(c, "decrement would overflow");
        return;
    }
    incrDecr(c, -incr);
}

void incrbyfloatCommand(client *c)
{
    long double incr, value = 0;
    if (!string2ld(c->argv[2], c->argvlen[2], &incr)) {
        addReplyError(c, "value is not a valid float");
        return;
    }
    stObj *o;
    if (lookupStringWrite(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    if (o && !string2ld(o->val, o->vlen, &value)) {
        addReplyError(c, "value is not a valid float");
        goto done;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        addReplyError(c, "increment would produce NaN or Infinity");
        goto done;
    }
    char buf[5120];
    int len = ld2string(buf, sizeof(buf), value);
    if (len == 0) {
        addReplyError(c, "increment would produce NaN or Infinity");
        goto done;
    }
    stObj *n = newStringObj(buf, len, o ? o->meta.expire_ms : 0, META_FLAG_NOINT);
    if (writeKey(c, c->db, c->argv[1], c->argvlen[1], o, n) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_STRING, "incrbyfloat", c->argv[1], c->argvlen[1], c->db);
        addReplyBulk(c, buf, len);
    }
done:
    if (o) stObjRelease(o);
}

/* ========================== Ranges ======================================== */

void getrangeCommand(client *c)
{
    long long start, end;
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &start, NULL) != C_OK) return;
    if (getLongLongOrReply(c, c->argv[3], c->argvlen[3], &end, NULL) != C_OK) return;
    stObj *o;
    if (lookupStringRead(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    if (!o) {
        addReplyBulk(c, "", 0);
        return;
    }
    long long len = (long long)o->vlen;
    if (start < 0 && end < 0 && start > end) {
        addReplyBulk(c, "", 0);
        goto done;
    }
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (len == 0 || start > end) addReplyBulk(c, "", 0);
    else addReplyBulk(c, o->val + start, (size_t)(end - start + 1));
done:
    stObjRelease(o);
}

void setrangeCommand(client *c)
{
    long long offset;
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &offset, NULL) != C_OK) return;
    if (offset < 0) {
        addReplyError(c, "offset is out of range");
        return;
    }
    stObj *o;
    if (lookupStringWrite(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    size_t vlen = c->argvlen[3];
    size_t oldlen = o ? o->vlen : 0;
    if (vlen == 0) {
        /* Nothing to write: report the current length, create nothing. */
        addReplyLongLong(c, (long long)oldlen);
        goto done;
    }
    if (checkStringLength(c, (unsigned long long)offset + vlen) != C_OK) goto done;
    size_t newlen = (size_t)offset + vlen > oldlen ? (size_t)offset + vlen : oldlen;
    stMeta m;
    memset(&m, 0, sizeof(m));
    m.type = ST_TYPE_STRING;
    m.flags = META_FLAG_RAW;
    m.expire_ms = o ? o->meta.expire_ms : 0;
    stObj *n = stObjNewRaw(&m, newlen);
    memset(n->val, 0, newlen);
    if (oldlen) memcpy(n->val, o->val, oldlen);
    memcpy(n->val + offset, c->argv[3], vlen);
    if (writeKey(c, c->db, c->argv[1], c->argvlen[1], o, n) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_STRING, "setrange", c->argv[1], c->argvlen[1], c->db);
        addReplyLongLong(c, (long long)newlen);
    }
done:
    if (o) stObjRelease(o);
}

/* ========================== Bits ========================================== */

/* Parses a bit offset: 0 <= offset and its byte within proto-max-bulk-len
 * (the only bound Redis applies: 2^32 bits at the default 512mb). */
static int getBitOffsetOrReply(client *c, const char *s, size_t len, unsigned long long *out)
{
    long long v;
    if (!string2ll(s, len, &v) || v < 0 || (v >> 3) >= cfg.proto_max_bulk_len) {
        addReplyError(c, "bit offset is not an integer or out of range");
        return C_ERR;
    }
    *out = (unsigned long long)v;
    return C_OK;
}

void setbitCommand(client *c)
{
    unsigned long long bitoffset;
    if (getBitOffsetOrReply(c, c->argv[2], c->argvlen[2], &bitoffset) != C_OK) return;
    if (c->argvlen[3] != 1 || (c->argv[3][0] != '0' && c->argv[3][0] != '1')) {
        addReplyError(c, "bit is not an integer or out of range");
        return;
    }
    int on = c->argv[3][0] == '1';
    stObj *o;
    if (lookupStringWrite(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    size_t byte = bitoffset >> 3;
    size_t oldlen = o ? o->vlen : 0;
    size_t newlen = byte + 1 > oldlen ? byte + 1 : oldlen;
    int bit = 7 - (int)(bitoffset & 7);
    int prev = byte < oldlen ? (o->val[byte] >> bit) & 1 : 0;
    /* Written even when the bit is unchanged: Redis turns the value raw
     * (OBJECT ENCODING) and counts a change in every case. */
    stMeta m;
    memset(&m, 0, sizeof(m));
    m.type = ST_TYPE_STRING;
    m.flags = META_FLAG_RAW;
    m.expire_ms = o ? o->meta.expire_ms : 0;
    stObj *n = stObjNewRaw(&m, newlen);
    memset(n->val, 0, newlen);
    if (oldlen) memcpy(n->val, o->val, oldlen);
    if (on) n->val[byte] |= (char)(1 << bit);
    else n->val[byte] &= (char)~(1 << bit);
    if (writeKey(c, c->db, c->argv[1], c->argvlen[1], o, n) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_STRING, "setbit", c->argv[1], c->argvlen[1], c->db);
        addReplyLongLong(c, prev);
    }
    if (o) stObjRelease(o);
}

void getbitCommand(client *c)
{
    unsigned long long bitoffset;
    if (getBitOffsetOrReply(c, c->argv[2], c->argvlen[2], &bitoffset) != C_OK) return;
    stObj *o;
    if (lookupStringRead(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    size_t byte = bitoffset >> 3;
    int bit = 0;
    if (o && byte < o->vlen) bit = (o->val[byte] >> (7 - (bitoffset & 7))) & 1;
    addReplyLongLong(c, bit);
    if (o) stObjRelease(o);
}

/* Resolves [start, end] (bytes or bits) against a string of len bytes, as
 * BITCOUNT/BITPOS do.  Returns 0 when the range is empty. */
static int resolveRange(long long *start, long long *end, long long total)
{
    if (*start < 0) *start += total;
    if (*end < 0) *end += total;
    if (*start < 0) *start = 0;
    if (*end < 0) *end = 0;
    if (*end >= total) *end = total - 1;
    return total > 0 && *start <= *end;
}

static long long popcountRange(const unsigned char *p, long long from_bit, long long to_bit)
{
    long long count = 0;
    for (long long b = from_bit; b <= to_bit;) {
        if ((b & 7) == 0 && b + 63 <= to_bit) {
            uint64_t w;
            memcpy(&w, p + (b >> 3), 8);
            count += __builtin_popcountll(w);
            b += 64;
        } else {
            count += (p[b >> 3] >> (7 - (b & 7))) & 1;
            b++;
        }
    }
    return count;
}

/* BITCOUNT and BITPOS look the key up before parsing the range, as Redis:
 * a missing key answers even when the range arguments are invalid. */
void bitcountCommand(client *c)
{
    long long start = 0, end = -1;
    int isbit = 0;
    stObj *o;
    if (lookupStringRead(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    if (!o) {
        addReplyLongLong(c, 0);
        return;
    }
    if (c->argc == 4 || c->argc == 5) {
        if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &start, NULL) != C_OK) goto done;
        if (getLongLongOrReply(c, c->argv[3], c->argvlen[3], &end, NULL) != C_OK) goto done;
        if (c->argc == 5) {
            if (argIs(c, 4, "bit")) isbit = 1;
            else if (!argIs(c, 4, "byte")) {
                addReplyErrorSyntax(c);
                goto done;
            }
        }
    } else if (c->argc != 2) {
        addReplyErrorSyntax(c);
        goto done;
    }
    long long total = (long long)o->vlen * (isbit ? 8 : 1);
    long long count = 0;
    /* Redis answers 0 for two negative indexes in the wrong order before
     * clamping them (so "-5 -100" is empty, not the first bytes); BITPOS has
     * no such rule. */
    int reversed = start < 0 && end < 0 && start > end;
    if (!reversed && resolveRange(&start, &end, total)) {
        if (!isbit) {
            start *= 8;
            end = end * 8 + 7;
        }
        count = popcountRange((const unsigned char *)o->val, start, end);
    }
    addReplyLongLong(c, count);
done:
    stObjRelease(o);
}

void bitposCommand(client *c)
{
    long long bit, start = 0, end = -1;
    int isbit = 0, end_given = 0;
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &bit, NULL) != C_OK) return;
    if (bit != 0 && bit != 1) {
        addReplyError(c, "The bit argument must be 1 or 0.");
        return;
    }
    stObj *o;
    if (lookupStringRead(c, c->argv[1], c->argvlen[1], &o) != C_OK) return;
    if (!o) {
        /* A missing key is an infinite run of clear bits. */
        addReplyLongLong(c, bit ? -1 : 0);
        return;
    }
    if (c->argc > 6) {
        addReplyErrorSyntax(c);
        goto done;
    }
    if (c->argc >= 4 && getLongLongOrReply(c, c->argv[3], c->argvlen[3], &start, NULL) != C_OK)
        goto done;
    if (c->argc >= 5) {
        if (getLongLongOrReply(c, c->argv[4], c->argvlen[4], &end, NULL) != C_OK) goto done;
        end_given = 1;
    }
    if (c->argc == 6) {
        if (argIs(c, 5, "bit")) isbit = 1;
        else if (!argIs(c, 5, "byte")) {
            addReplyErrorSyntax(c);
            goto done;
        }
    }
    long long total = (long long)o->vlen * (isbit ? 8 : 1);
    long long pos = -1;
    if (resolveRange(&start, &end, total)) {
        long long from = isbit ? start : start * 8, to = isbit ? end : end * 8 + 7;
        const unsigned char *p = (const unsigned char *)o->val;
        for (long long b = from; b <= to; b++) {
            if ((b & 7) == 0 && b + 7 <= to) {
                unsigned char skip = bit ? 0x00 : 0xff;
                if (p[b >> 3] == skip) {
                    b += 7;
                    continue;
                }
            }
            if (((p[b >> 3] >> (7 - (b & 7))) & 1) == bit) {
                pos = b;
                break;
            }
        }
        /* Looking for a clear bit without an explicit end: the string is
         * treated as padded with zeros on the right. */
        if (pos == -1 && bit == 0 && !end_given) pos = to + 1;
    }
    addReplyLongLong(c, pos);
done:
    stObjRelease(o);
}

void bitopCommand(client *c)
{
    enum { OP_AND, OP_OR, OP_XOR, OP_NOT } op;
    if (argIs(c, 1, "and")) op = OP_AND;
    else if (argIs(c, 1, "or")) op = OP_OR;
    else if (argIs(c, 1, "xor")) op = OP_XOR;
    else if (argIs(c, 1, "not")) op = OP_NOT;
    else {
        addReplyErrorSyntax(c);
        return;
    }
    int nsrc = c->argc - 3;
    if (op == OP_NOT && nsrc != 1) {
        addReplyError(c, "BITOP NOT must be called with a single source key.");
        return;
    }
    stObj **src = calloc(nsrc, sizeof(stObj *));
    size_t maxlen = 0;
    stObj *dst = NULL;
    for (int i = 0; i < nsrc; i++) {
        stObj *o = lookupKeyRead(c, c->argv[3 + i], c->argvlen[3 + i]);
        if (o && o->meta.type != ST_TYPE_STRING) {
            stObjRelease(o);
            addReplyErrorWrongType(c);
            goto done;
        }
        src[i] = o;
        if (o && o->vlen > maxlen) maxlen = o->vlen;
    }
    dst = lookupKeyWrite(c, c->argv[2], c->argvlen[2]);
    if (maxlen == 0) {
        if (dst && deleteKey(c, c->db, c->argv[2], c->argvlen[2], dst) != C_OK) goto done;
        if (dst) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[2], c->argvlen[2], c->db);
        addReplyLongLong(c, 0);
        goto done;
    }
    stMeta m;
    memset(&m, 0, sizeof(m));
    m.type = ST_TYPE_STRING;
    m.flags = META_FLAG_RAW;
    stObj *n = stObjNewRaw(&m, maxlen);
    unsigned char *out = (unsigned char *)n->val;
    for (size_t j = 0; j < maxlen; j++) {
        unsigned char acc = (src[0] && j < src[0]->vlen) ? (unsigned char)src[0]->val[j] : 0;
        if (op == OP_NOT) acc = (unsigned char)~acc;
        for (int i = 1; i < nsrc; i++) {
            unsigned char v = (src[i] && j < src[i]->vlen) ? (unsigned char)src[i]->val[j] : 0;
            if (op == OP_AND) acc &= v;
            else if (op == OP_OR) acc |= v;
            else acc ^= v;
        }
        out[j] = acc;
    }
    if (writeKey(c, c->db, c->argv[2], c->argvlen[2], dst, n) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_STRING, "set", c->argv[2], c->argvlen[2], c->db);
        addReplyLongLong(c, (long long)maxlen);
    }
done:
    for (int i = 0; i < nsrc; i++)
        if (src[i]) stObjRelease(src[i]);
    free(src);
    if (dst) stObjRelease(dst);
}

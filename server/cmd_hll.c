/* cmd_hll.c - the HyperLogLog commands: PFADD PFCOUNT PFMERGE, and the
 * internal PFDEBUG and PFSELFTEST.
 *
 * An HLL is an ordinary string key holding Redis's "HYLL" bytes (hll.c does
 * all the encoding work), so GET, SET, DUMP-style copies, RENAME and TTLs
 * treat it as the string it is.  Every change is made on a private copy of
 * the value (stored objects are immutable and shared with the hot set) and
 * written back whole in one batch; an update that changes no register writes
 * nothing.  Commands that modify an HLL keep the key's TTL, as Redis does
 * (it changes the string in place).
 *
 * PFCOUNT and the cached cardinality.  Redis flags PFCOUNT "readonly" but
 * stores a recomputed estimate in the value's header, and propagates that.
 * Here it stays "readonly" (so it runs on read-only replicas and COMMAND
 * INFO matches), and:
 *   - on a master, a single-key PFCOUNT with a stale cache writes the value
 *     back with the new cache, a normal write: it goes through the WAL and
 *     reaches replicas as bytes, so GET shows what redis-server shows and
 *     DEBUG DIGEST of master and replica stay equal;
 *   - on a replica it only computes: a replica's keys change only by what
 *     its master sends, or its bytes would differ from the master's (Redis
 *     lets a replica rewrite its own copy; we do not).
 * PFCOUNT of several keys merges into a register array in memory and writes
 * nothing, as in Redis.
 */
#include <stdlib.h>
#include <string.h>

#include "../replication/repl.h"
#include "hll.h"
#include "server.h"

static const char *const HLL_ERR_WRONGTYPE = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/* INVALIDOBJ is no code addReplyError() knows: spelled out with its '-'. */
static const char *const HLL_ERR_CORRUPT = "-INVALIDOBJ Corrupted HLL object detected";

/* ========================== Helpers ======================================= */

/* hll-sparse-max-bytes, read as it is now (CONFIG SET applies at once). */
static size_t hllSparseMaxBytes(void)
{
    return (size_t)__atomic_load_n(&cfg.hll_sparse_max_bytes, __ATOMIC_RELAXED);
}

/* Looks key up with lookupKeyDb(flags) and checks it holds an HLL: replies
 * WRONGTYPE (standard text for other types, Redis's HLL text for strings
 * that are not HLLs) and returns C_ERR otherwise.  *out (caller releases) is
 * NULL when the key is absent. */
static int lookupHllOrReply(client *c, const char *key, size_t klen, int flags, stObj **out)
{
    stObj *o = lookupKeyDb(c, c->db, key, klen, flags);
    *out = NULL;
    if (!o) return C_OK;
    if (o->meta.type != ST_TYPE_STRING) {
        stObjRelease(o);
        addReplyErrorWrongType(c);
        return C_ERR;
    }
    if (!hllIsValid(o->val, o->vlen)) {
        stObjRelease(o);
        addReplyError(c, HLL_ERR_WRONGTYPE);
        return C_ERR;
    }
    *out = o;
    return C_OK;
}

/* Writes h as key's value (old: its current object or NULL, whose TTL is
 * kept).  The value is raw, as Redis's HLL strings (OBJECT ENCODING).
 * Replies on failure and returns C_ERR. */
static int writeHll(client *c, const char *key, size_t klen, const stObj *old, const hllBuf *h)
{
    stObj *n = newStringObj((const char *)h->p, h->len, old ? old->meta.expire_ms : 0,
                            META_FLAG_RAW);
    return writeKey(c, c->db, key, klen, old, n);
}

/* ========================== PFADD ========================================= */

/* PFADD key [element ...]: 1 when a register changed or the key was
 * created (even with no elements), else 0. */
void pfaddCommand(client *c)
{
    stObj *o;
    if (lookupHllOrReply(c, c->argv[1], c->argvlen[1], LOOKUP_NOTOUCH | LOOKUP_WRITE, &o) != C_OK)
        return;
    hllBuf h;
    int updated = 0;
    if (o) {
        hllFromBytes(&h, o->val, o->vlen);
    } else {
        hllNewEmpty(&h);
        updated = 1;
    }
    size_t max_bytes = HLL_SPARSE_MAX_BYTES_DEFAULT;
    if (c->argc > 2 && hllEncoding(h.p) == HLL_ENC_SPARSE) max_bytes = hllSparseMaxBytes();
    for (int j = 2; j < c->argc; j++) {
        int rc = hllAdd(&h, c->argv[j], c->argvlen[j], max_bytes);
        if (rc < 0) {
            addReplyError(c, HLL_ERR_CORRUPT);
            goto done;
        }
        updated |= rc;
    }
    if (updated) {
        hllCacheInvalidate(h.p);
        if (writeHll(c, c->argv[1], c->argvlen[1], o, &h) != C_OK) goto done;
        notifyKeyspaceEvent(NOTIFY_STRING, "pfadd", c->argv[1], c->argvlen[1], c->db);
    }
    addReplyLongLong(c, updated);
done:
    hllBufFree(&h);
    if (o) stObjRelease(o);
}

/* ========================== PFCOUNT ======================================= */

/* PFCOUNT of several keys: the union's estimate, nothing written.  Missing
 * keys count as empty HLLs. */
static void pfcountUnion(client *c)
{
    uint8_t max[HLL_REGISTERS];
    memset(max, 0, sizeof(max));
    for (int j = 1; j < c->argc; j++) {
        stObj *o;
        if (lookupHllOrReply(c, c->argv[j], c->argvlen[j], LOOKUP_NONE, &o) != C_OK) return;
        if (!o) continue;
        int rc = hllMergeMax(max, o->val, o->vlen);
        stObjRelease(o);
        if (rc != 0) {
            addReplyError(c, HLL_ERR_CORRUPT);
            return;
        }
    }
    addReplyLongLong(c, (long long)hllCountRegisters(max));
}

/* PFCOUNT key [key ...]: see the file comment for the cache write-back. */
void pfcountCommand(client *c)
{
    if (c->argc > 2) {
        pfcountUnion(c);
        return;
    }
    stObj *o;
    /* A read (hit/miss counted, as in Redis): an expired key is deleted by
     * a master and only hidden by a replica. */
    if (lookupHllOrReply(c, c->argv[1], c->argvlen[1], LOOKUP_NONE, &o) != C_OK) return;
    if (!o) {
        addReplyLongLong(c, 0);
        return;
    }
    uint64_t card;
    if (!hllCachedCount(o->val, &card)) {
        if (hllCount(o->val, o->vlen, &card) != 0) {
            addReplyError(c, HLL_ERR_CORRUPT);
            goto done;
        }
        if (!replIsReplica()) {
            hllBuf h;
            hllFromBytes(&h, o->val, o->vlen);
            hllCacheSet(h.p, card);
            int rc = writeHll(c, c->argv[1], c->argvlen[1], o, &h);
            hllBufFree(&h);
            if (rc != C_OK) goto done;
        }
    }
    addReplyLongLong(c, (long long)card);
done:
    stObjRelease(o);
}

/* ========================== PFMERGE ======================================= */

/* PFMERGE destkey [sourcekey ...]: destkey := union of itself and the
 * sources, created if missing, always written (Redis marks the cache stale
 * even when no register changed).  The destination turns dense when any
 * input is dense; otherwise the merged registers are set into it one by one
 * in register order, as Redis does, so a sparse result has Redis's bytes. */
void pfmergeCommand(client *c)
{
    uint8_t max[HLL_REGISTERS];
    stObj *dst = NULL;
    int use_dense = 0;
    memset(max, 0, sizeof(max));
    for (int j = 1; j < c->argc; j++) {
        stObj *o;
        /* The destination is looked up as the key about to be written: a
         * writable replica deletes it if expired (stays exact). */
        int flags = j == 1 ? LOOKUP_WRITE : LOOKUP_NONE;
        if (lookupHllOrReply(c, c->argv[j], c->argvlen[j], flags, &o) != C_OK) goto done;
        if (!o) continue;
        if (hllEncoding(o->val) == HLL_ENC_DENSE) use_dense = 1;
        int rc = hllMergeMax(max, o->val, o->vlen);
        /* The destination is the first source: keep it for the write. */
        if (j == 1) dst = o;
        else stObjRelease(o);
        if (rc != 0) {
            addReplyError(c, HLL_ERR_CORRUPT);
            goto done;
        }
    }
    hllBuf h;
    if (dst) hllFromBytes(&h, dst->val, dst->vlen);
    else hllNewEmpty(&h);
    size_t max_bytes = use_dense ? HLL_SPARSE_MAX_BYTES_DEFAULT : hllSparseMaxBytes();
    if (hllApplyMax(&h, max, use_dense, max_bytes) != 0) {
        addReplyError(c, HLL_ERR_CORRUPT);
    } else if (writeHll(c, c->argv[1], c->argvlen[1], dst, &h) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_STRING, "pfadd", c->argv[1], c->argvlen[1], c->db);
        addReplyOk(c);
    }
    hllBufFree(&h);
done:
    if (dst) stObjRelease(dst);
}

/* ========================== PFDEBUG / PFSELFTEST ========================== */

/* PFDEBUG DECODE: the sparse opcodes as "Z:run z:run v:value,run ...". */
static void pfdebugDecode(client *c, const stObj *o)
{
    if (hllEncoding(o->val) != HLL_ENC_SPARSE) {
        addReplyError(c, "HLL encoding is not sparse");
        return;
    }
    const unsigned char *p = (const unsigned char *)o->val + HLL_HDR_BYTES;
    const unsigned char *end = (const unsigned char *)o->val + o->vlen;
    strbuf b;
    hllSparseOp op;
    sbInit(&b);
    while (hllSparseNext(&p, end, &op) == 1) {
        if (b.len) sbAppend(&b, " ", 1);
        if (op.kind == HLL_OP_VAL) sbPrintf(&b, "v:%d,%d", op.value, op.runlen);
        else sbPrintf(&b, "%s:%d", op.kind == HLL_OP_XZERO ? "Z" : "z", op.runlen);
    }
    addReplyBulk(c, b.buf ? b.buf : "", b.len);
    sbFree(&b);
}

/* PFDEBUG GETREG / TODENSE: both turn a sparse key dense for good (and
 * write it), as in Redis. */
static void pfdebugToDense(client *c, const stObj *o, int getreg)
{
    hllBuf h;
    hllFromBytes(&h, o->val, o->vlen);
    int rc = hllToDense(&h);
    if (rc < 0) {
        addReplyError(c, HLL_ERR_CORRUPT);
        goto done;
    }
    if (rc == 1 && writeHll(c, c->argv[2], c->argvlen[2], o, &h) != C_OK) goto done;
    if (!getreg) {
        addReplyLongLong(c, rc);
        goto done;
    }
    addReplyArrayLen(c, HLL_REGISTERS);
    for (uint32_t i = 0; i < HLL_REGISTERS; i++)
        addReplyLongLong(c, hllDenseGet(h.p + HLL_HDR_BYTES, i));
done:
    hllBufFree(&h);
}

/* PFDEBUG GETREG|DECODE|ENCODING|TODENSE key.  The key is checked before the
 * subcommand, as in Redis. */
void pfdebugCommand(client *c)
{
    stObj *o;
    if (lookupHllOrReply(c, c->argv[2], c->argvlen[2], LOOKUP_NOTOUCH | LOOKUP_WRITE, &o) != C_OK)
        return;
    if (!o) {
        addReplyError(c, "The specified key does not exist");
        return;
    }
    if (argIs(c, 1, "getreg")) {
        pfdebugToDense(c, o, 1);
    } else if (argIs(c, 1, "todense")) {
        pfdebugToDense(c, o, 0);
    } else if (argIs(c, 1, "decode")) {
        pfdebugDecode(c, o);
    } else if (argIs(c, 1, "encoding")) {
        addReplyStatus(c, hllEncoding(o->val) == HLL_ENC_SPARSE ? "sparse" : "dense");
    } else {
        addReplyErrorFormat(c, "Unknown PFDEBUG subcommand '%.*s'", (int)c->argvlen[1],
                            c->argv[1]);
    }
    stObjRelease(o);
}

/* PFSELFTEST: hll.c's own consistency checks (see hllSelfTest). */
void pfselftestCommand(client *c)
{
    char err[256];
    if (hllSelfTest(err, sizeof(err)) == 0) addReplyOk(c);
    else addReplyErrorFormat(c, "-TESTFAILED %s", err);
}

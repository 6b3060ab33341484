/* cmd_set.c - the set commands: SADD SREM SMOVE SISMEMBER SMISMEMBER SCARD
 * SMEMBERS SRANDMEMBER SPOP SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE
 * SDIFF SDIFFSTORE SSCAN.
 *
 * A set is a collection (storage.h) whose elements are its members, each
 * with an empty payload: one record per member, kept in byte order, so a set
 * larger than RAM works and SISMEMBER is one point read.  Replies and error
 * strings follow Redis 7.0; members come back in byte order (Redis promises
 * no order), and RESP3 gets set replies (~) where Redis 7.0 sends them.
 *
 * Costs:
 *  - SINTER walks its smallest set and asks the others about each member:
 *    a point read, or a forward walk of the other set when it is not much
 *    larger (sequential reads beat point reads there).  SDIFF walks its
 *    first set the same way.  SUNION merges the sets' ordered walks.  All
 *    three stream: the *STORE forms write members as they come and never
 *    hold the result in memory.
 *  - Random members (SPOP, SRANDMEMBER): see "Random members" below.
 *  - SADD of a member already present rewrites it (a new timestamp), as
 *    HSET does: under multi-master, a re-add then wins over an older
 *    concurrent SREM elsewhere, as an add should.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "setpool.h"

/* ========================== Helpers ======================================= */

static void *setAlloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) serverPanic("cmd_set: out of memory (%zu bytes)", n);
    return p;
}

/* A heap copy of n bytes (caller frees). */
static char *dupBytes(const char *p, size_t n)
{
    char *d = setAlloc(n);
    if (n) memcpy(d, p, n);
    return d;
}

/* Byte order, a shorter prefix first: the order of set members. */
static int cmpBytes(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int r = n ? memcmp(a, b, n) : 0;
    return r ? r : (al > bl) - (al < bl);
}

static int sameArgs(client *c, int a, int b)
{
    return c->argvlen[a] == c->argvlen[b] && !memcmp(c->argv[a], c->argv[b], c->argvlen[a]);
}

/* Looks up the set at argv[i] for reading: C_ERR after a WRONGTYPE reply;
 * *h is NULL when the key does not exist. */
static int setOpenRead(client *c, int i, stColl **h, stObj **o)
{
    *h = NULL;
    if (lookupTypedOrReply(c, c->argv[i], c->argvlen[i], ST_TYPE_SET, 0, o) != C_OK) return C_ERR;
    if (*o) *h = collOpenRead(c, c->db, c->argv[i], c->argvlen[i], *o, ST_TYPE_SET);
    return C_OK;
}

static void setCloseRead(stColl *h, stObj *o)
{
    if (h) stCollClose(h);
    if (o) stObjRelease(o);
}

/* Closes a write handle and commits its batch; replies only on failure. */
static int setCommit(client *c, stColl *h, stBatch *b, stObj *o)
{
    stCollClose(h);
    if (o) stObjRelease(o);
    return commitOrReply(c, b);
}

/* Drops a write handle that queued nothing, with its batch. */
static void setDiscard(client *c, stColl *h, stBatch *b, stObj *o)
{
    stCollClose(h);
    dbBatchDiscard(c, b);
    if (o) stObjRelease(o);
}

/* ========================== SADD SREM SMOVE =============================== */

void saddCommand(client *c)
{
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_SET, 1, &o) != C_OK) return;
    stBatch *b = dbBatch(c);
    stColl *h = collOpenWrite(c, b, c->argv[1], c->argvlen[1], o, ST_TYPE_SET);
    long long added = 0;
    for (int j = 2; j < c->argc; j++) added += stCollAdd(h, c->argv[j], c->argvlen[j]);
    if (!stCollWrote(h)) {
        /* Nothing changed: no write, no dirty count, WATCH stays (Redis). */
        setDiscard(c, h, b, o);
        addReplyLongLong(c, 0);
        return;
    }
    if (setCommit(c, h, b, o) != C_OK) return;
    if (added) notifyKeyspaceEvent(NOTIFY_SET, "sadd", c->argv[1], c->argvlen[1], c->db);
    addReplyLongLong(c, added);
}

void sremCommand(client *c)
{
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_SET, 1, &o) != C_OK) return;
    if (!o) {
        addReplyLongLong(c, 0);
        return;
    }
    stBatch *b = dbBatch(c);
    stColl *h = collOpenWrite(c, b, c->argv[1], c->argvlen[1], o, ST_TYPE_SET);
    long long removed = 0;
    for (int j = 2; j < c->argc; j++) removed += stCollDel(h, c->argv[j], c->argvlen[j]);
    if (!removed) {
        setDiscard(c, h, b, o);
        addReplyLongLong(c, 0);
        return;
    }
    uint64_t left = stCollCount(h);
    if (setCommit(c, h, b, o) != C_OK) return;
    notifyKeyspaceEvent(NOTIFY_SET, "srem", c->argv[1], c->argvlen[1], c->db);
    if (!left) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
    addReplyLongLong(c, removed);
}

/* Moves the member between two different existing-or-not sets (src exists):
 * replies 1 or 0 as Redis, or the storage error. */
static void smoveMember(client *c, stObj *src, stObj *dst)
{
    const char *m = c->argv[3];
    size_t ml = c->argvlen[3];
    stBatch *b = dbBatch(c);
    stColl *sh = collOpenWrite(c, b, c->argv[1], c->argvlen[1], src, ST_TYPE_SET);
    if (!stCollDel(sh, m, ml)) {
        setDiscard(c, sh, b, NULL);
        addReplyLongLong(c, 0);
        return;
    }
    uint64_t left = stCollCount(sh);
    stCollClose(sh);
    stColl *dh = collOpenWrite(c, b, c->argv[2], c->argvlen[2], dst, ST_TYPE_SET);
    int added = stCollAdd(dh, m, ml);
    stCollClose(dh);
    if (commitOrReply(c, b) != C_OK) return;
    notifyKeyspaceEvent(NOTIFY_SET, "srem", c->argv[1], c->argvlen[1], c->db);
    if (!left) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
    if (added) notifyKeyspaceEvent(NOTIFY_SET, "sadd", c->argv[2], c->argvlen[2], c->db);
    addReplyLongLong(c, 1);
}

/* SMOVE source destination member.  Redis's order: a missing source is 0
 * whatever the destination holds; then both types; moving within one set
 * only says whether the member is there. */
void smoveCommand(client *c)
{
    stObj *src = lookupKeyWrite(c, c->argv[1], c->argvlen[1]);
    stObj *dst = lookupKeyWrite(c, c->argv[2], c->argvlen[2]);
    if (!src) {
        addReplyLongLong(c, 0);
    } else if (src->meta.type != ST_TYPE_SET || (dst && dst->meta.type != ST_TYPE_SET)) {
        addReplyErrorWrongType(c);
    } else if (sameArgs(c, 1, 2)) {
        stColl *h = collOpenRead(c, c->db, c->argv[1], c->argvlen[1], src, ST_TYPE_SET);
        addReplyLongLong(c, stCollGet(h, c->argv[3], c->argvlen[3], NULL, NULL));
        stCollClose(h);
    } else {
        smoveMember(c, src, dst);
    }
    if (src) stObjRelease(src);
    if (dst) stObjRelease(dst);
}

/* ========================== Reads ========================================= */

void sismemberCommand(client *c)
{
    stColl *h;
    stObj *o;
    if (setOpenRead(c, 1, &h, &o) != C_OK) return;
    addReplyLongLong(c, h && stCollGet(h, c->argv[2], c->argvlen[2], NULL, NULL));
    setCloseRead(h, o);
}

void smismemberCommand(client *c)
{
    stColl *h;
    stObj *o;
    if (setOpenRead(c, 1, &h, &o) != C_OK) return;
    addReplyArrayLen(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++)
        addReplyLongLong(c, h && stCollGet(h, c->argv[j], c->argvlen[j], NULL, NULL));
    setCloseRead(h, o);
}

void scardCommand(client *c)
{
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_SET, 0, &o) != C_OK) return;
    addReplyLongLong(c, o ? (long long)o->meta.count : 0);
    if (o) stObjRelease(o);
}

/* Replies every member of h (NULL: none) as a set (set != 0) or an array. */
static void replyAllMembers(client *c, stColl *h, int set)
{
    long long n = h ? (long long)stCollCount(h) : 0, sent = 0;
    if (set) addReplySetLen(c, n);
    else addReplyArrayLen(c, n);
    stCollIter *it = h ? stCollIterNew(h, NULL, 0, 0) : NULL;
    for (; it && stCollIterValid(it) && sent < n; stCollIterNext(it), sent++) {
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        addReplyBulk(c, m, ml);
    }
    stCollIterFree(it);
    /* The count in meta is exact (coll.c invariant 1); pad defensively so a
     * damaged record cannot desynchronise the protocol. */
    for (; sent < n; sent++) addReplyNull(c);
}

void smembersCommand(client *c)
{
    stColl *h;
    stObj *o;
    if (setOpenRead(c, 1, &h, &o) != C_OK) return;
    replyAllMembers(c, h, 1);
    setCloseRead(h, o);
}

/* ========================== Random members ================================ */
/* Exact uniform picks go by rank, and reaching rank r is an ordered walk of
 * r members: O(n).  That is fine for small sets and for counts that are a
 * good part of the set (one walk serves every pick), but SPOP on a set of a
 * few hundred thousand members must not walk it per call.
 *
 * So a set above SET_PICK_EXACT_MAX members, asked for one member or for a
 * count small against its size, is sampled by descending the byte tree of
 * its members with seeks (pickDescend).  The members sharing the prefix
 * chosen so far run from `lo` to `hi` (one seek each).  At their first
 * differing byte they split into branches, one per byte value some member
 * has there; pickBranch() picks one of those branches uniformly (a byte
 * drawn between lo's and hi's is kept when a member has it, so unused byte
 * values do not count; a sparse level is enumerated by skip-seeks instead)
 * and the descent carries on in it.  A group estimated at no more than
 * SET_PICK_WALK members is walked and picked from exactly.  Cost: about
 * two seeks per branching level, log_w(n) levels for an alphabet of w
 * bytes: O(log n) instead of O(n).  Measured here on a set of 330,000
 * redis-benchmark members: nine seeks and a short walk per pick, ~70 us;
 * a seek cost about as much as 25 steps of a walk.  Since server threads
 * reuse one RocksDB iterator per loop pass (storage/itcache.c) a seek is
 * cheaper: walking groups of 32 rather than 128 made SPOP on 100,000
 * members 28% faster (three alternating runs each; 16 was no faster),
 * for about the same spread: 100,000 SRANDMEMBER over 20,000 such members,
 * counted in 50 rank buckets, gave max/min 1.28 with 32 and 1.29 with 128
 * (chi-square 303 and 241 on 49 degrees of freedom: near, not exactly,
 * uniform, as said below).
 *
 * The price is uniformity: branches of one level are equally likely
 * whatever their sizes, so a member's chance depends on the shape of the
 * tree.  Keys of one length over one alphabet (ids, hashes, counters,
 * redis-benchmark's "element:000000123456") come out close to uniform;
 * members of sparse branches, or short ones among long ones, come up more
 * often than their share.  No member is unreachable.  Redis's own single
 * picks from a hash table are not exactly uniform either.  Small sets and
 * large counts stay exact. */
#define SET_PICK_EXACT_MAX 256  /* members: at most this many, exact picks */
#define SET_SEEK_MAX_PICKS 1024 /* picks per command the descent serves */
#define SET_SEEK_RATIO 512      /* ...and only when the set has 512x as many members */
#define SET_PICK_WALK 32        /* a group of about this many is picked from exactly */
#define SET_PICK_TRIES 4        /* random byte draws per level before enumerating */
#define SET_PICK_BRANCHES 16    /* branches a sparse level enumerates at most */
#define SET_PICK_MAX_LEVELS 256 /* descent depth bound (each level adds a byte) */
/* Single SPOPs pop from a pool of random members (setpool.c) once the set
 * has been popped often enough to pay for it: building one walks
 * the whole set, popped members' tombstones included (170 ns a member from
 * SST files, 450 from the memtable, measured on 63,000 redis-benchmark
 * members: 11 and 29 ms), which is the cost of about
 * n / SET_POOL_DESCENT_STEPS descents (a seek costs about 25 steps, a pick
 * about nine seeks).  So a set gets a pool after that many SPOPs in a row
 * (another write restarts the count) and an occasional SPOP never walks the
 * set: the total work is at most about twice that of the cheaper choice in
 * hindsight.  Sets above SET_POOL_SET_MAX members keep the descent: a walk
 * of the whole set would stall the thread too long.  Small sets get pools
 * too (from their second pop in a row): an exact pick walks to a random
 * rank, and a set emptied by SPOPs keeps every popped member's tombstone
 * until a compaction, so each of redis-benchmark's last 256 SPOPs of a
 * 100,000-member set walked 100,000 tombstones (SPOP -P 1 37k -> 60k rps
 * in bench/compare.sh's order, where the set is that big). */
#define SET_POOL_SET_MAX 131072
#define SET_POOL_DESCENT_STEPS 256

static int seekPath(uint64_t size, uint64_t picks)
{
    return size > SET_PICK_EXACT_MAX && picks <= SET_SEEK_MAX_PICKS &&
           picks * SET_SEEK_RATIO <= size;
}

/* The current member of a valid iterator: heap copy. */
static char *iterCopy(stCollIter *it, size_t *ml)
{
    const char *e = stCollIterElem(it, ml);
    return dupBytes(e, *ml);
}

/* The first member >= start (> start with ST_ITER_EXCLUSIVE in flags;
 * start NULL: the first member), or with ST_ITER_REVERSE the last member
 * <= start (<).  Heap copy, NULL when there is none. */
static char *memberFrom(stColl *h, const char *start, size_t slen, int flags, size_t *ml)
{
    stCollIter *it = stCollIterNew(h, start, slen, flags);
    char *m = stCollIterValid(it) ? iterCopy(it, ml) : NULL;
    stCollIterFree(it);
    return m;
}

/* The last member starting with p[0..plen): the last one below p's
 * successor (p with its last non-0xff byte incremented and the 0xff bytes
 * after it dropped).  Heap copy, NULL if none. */
static char *memberLastWithPrefix(stColl *h, const char *p, size_t plen, size_t *ml)
{
    size_t n = plen;
    while (n && (unsigned char)p[n - 1] == 0xff) n--;
    if (!n) return memberFrom(h, NULL, 0, ST_ITER_REVERSE, ml);
    char *succ = dupBytes(p, n);
    succ[n - 1] = (char)((unsigned char)succ[n - 1] + 1);
    char *m = memberFrom(h, succ, n, ST_ITER_REVERSE | ST_ITER_EXCLUSIVE, ml);
    free(succ);
    return m;
}

static size_t commonPrefix(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* When the members from lo to hi are at most SET_PICK_WALK, one of them
 * chosen uniformly (a reservoir of one along the walk): heap copy.  NULL
 * when the group is larger. */
static char *pickInGroup(stColl *h, const char *lo, size_t lolen, const char *hi, size_t hilen,
                         size_t *ml)
{
    char *pick = NULL;
    int complete = 0;
    stCollIter *it = stCollIterNew(h, lo, lolen, 0);
    for (uint64_t n = 1; stCollIterValid(it) && n <= SET_PICK_WALK; stCollIterNext(it), n++) {
        size_t el;
        const char *e = stCollIterElem(it, &el);
        if (rngBelow(n) == 0) {
            free(pick);
            pick = dupBytes(e, el);
            *ml = el;
        }
        if ((complete = !cmpBytes(e, el, hi, hilen))) break;
    }
    stCollIterFree(it);
    if (complete) return pick;
    free(pick);
    return NULL;
}

/* The first member at or after prefix[0..c) + byte b: heap copy. */
static char *branchFirst(stColl *h, const char *prefix, size_t c, unsigned b, size_t *ml)
{
    char *key = dupBytes(prefix, c + 1);
    key[c] = (char)b;
    char *m = memberFrom(h, key, c + 1, 0, ml);
    free(key);
    return m;
}

/* The first member of one branch at byte c of a group whose members share
 * hi[0..c) and take bytes from..to there, every branch equally likely:
 * a drawn byte is kept when a member has it; after SET_PICK_TRIES misses
 * the level is sparse and its branches are enumerated (one seek each, past
 * the previous one).  Only a level both sparse and wide falls back to the
 * branch after a drawn byte.  lo: the group's first member.  Heap copy. */
static char *pickBranch(stColl *h, const char *lo, size_t lolen, const char *hi, size_t c,
                        unsigned from, unsigned to, size_t *ml)
{
    unsigned k = to - from + 1, bytes[SET_PICK_BRANCHES];
    for (int t = 0; t < SET_PICK_TRIES; t++) {
        unsigned b = from + (unsigned)rngBelow(k);
        if (c < lolen && b == (unsigned char)lo[c]) { /* lo's own branch: lo is its first */
            *ml = lolen;
            return dupBytes(lo, lolen);
        }
        char *m = branchFirst(h, hi, c, b, ml);
        if (!m || (unsigned char)m[c] == b) return m;
        free(m);
    }
    int n = 0;
    for (unsigned b = from; n < SET_PICK_BRANCHES && b <= to; b = bytes[n - 1] + 1) {
        size_t l;
        char *m = branchFirst(h, hi, c, b, &l);
        if (!m) break;
        bytes[n++] = (unsigned char)m[c];
        free(m);
    }
    if (n && bytes[n - 1] == to) return branchFirst(h, hi, c, bytes[rngBelow((uint64_t)n)], ml);
    return branchFirst(h, hi, c, from + (unsigned)rngBelow(k), ml);
}

/* One member by descending the byte tree (see above): heap copy, NULL if
 * the set is empty.  Invariant of the loop: lo and hi are the first and
 * last members starting with the prefix chosen so far, and `share` the
 * number of members the group is estimated to hold (the set's count
 * divided by the branching so far).
 *
 * When lo is the prefix itself, "stop at lo" is one member against the
 * group's others: it is taken with probability 1/share, but never more
 * than an equal share among the branches, so a short member is not picked
 * as often as a whole subtree, nor starved. */
static char *pickDescend(stColl *h, size_t *ml)
{
    size_t lolen, hilen = 0;
    double share = (double)stCollCount(h);
    char *lo = memberFrom(h, NULL, 0, 0, &lolen);
    char *hi = lo ? memberFrom(h, NULL, 0, ST_ITER_REVERSE, &hilen) : NULL;
    for (int level = 0; hi && level < SET_PICK_MAX_LEVELS; level++) {
        size_t c = commonPrefix(lo, lolen, hi, hilen);
        if (c == lolen && c == hilen) break; /* one member left */
        char *m = share <= SET_PICK_WALK ? pickInGroup(h, lo, lolen, hi, hilen, ml) : NULL;
        if (m) {
            free(lo);
            lo = m;
            lolen = *ml;
            break;
        }
        unsigned from = c < lolen ? (unsigned char)lo[c] : 0;
        if (c == lolen) {
            /* lo < next <= hi share the prefix, so next has a byte at c. */
            size_t nl;
            char *next = memberFrom(h, lo, lolen, ST_ITER_EXCLUSIVE, &nl);
            from = next && nl > c ? (unsigned char)next[c] : (unsigned char)hi[c];
            free(next);
        }
        unsigned to = (unsigned char)hi[c], k = to - from + 1;
        if (c == lolen) {
            if (share < k + 1) share = k + 1;
            if (rngUnit() * share < 1.0) break;
            share -= 1;
        }
        share /= k;
        size_t nl;
        char *nlo = pickBranch(h, lo, lolen, hi, c, from, to, &nl);
        free(lo);
        lo = nlo;
        lolen = nl;
        if (!lo) break; /* not reached: hi is in the range */
        if ((unsigned char)lo[c] != to) {
            free(hi);
            hi = memberLastWithPrefix(h, lo, c + 1, &hilen);
        }
    }
    free(hi);
    if (lo) *ml = lolen;
    return lo;
}

/* The member at rank r (0 = first): heap copy, or NULL past the end. */
static char *setMemberAt(stColl *h, uint64_t r, size_t *ml)
{
    stCollIter *it = stCollIterNew(h, NULL, 0, 0);
    for (uint64_t i = 0; i < r && stCollIterValid(it); i++) stCollIterNext(it);
    char *m = stCollIterValid(it) ? iterCopy(it, ml) : NULL;
    stCollIterFree(it);
    return m;
}

/* One random member: heap copy (caller frees), or NULL if the set is empty. */
static char *setPickOne(stColl *h, size_t *ml)
{
    uint64_t n = stCollCount(h);
    if (!n) return NULL;
    if (n > SET_PICK_EXACT_MAX) return pickDescend(h, ml);
    char *m = setMemberAt(h, rngBelow(n), ml);
    return m ? m : memberFrom(h, NULL, 0, 0, ml);
}

/* ---- Picks by rank: one ordered walk ------------------------------------- */

/* One draw: which rank, and where it goes in the reply. */
typedef struct randDraw {
    uint64_t rank;
    long slot;
} randDraw;

static int cmpDraw(const void *a, const void *b)
{
    uint64_t x = ((const randDraw *)a)->rank, y = ((const randDraw *)b)->rank;
    return (x > y) - (x < y);
}

typedef void (*rankFn)(void *ud, const randDraw *d, const char *m, size_t ml);

/* Walks h once, calling fn for each of the n draws (sorted by rank, repeats
 * allowed) with the member at its rank.  Returns how many draws were served:
 * fewer only if the set holds fewer members than its count says. */
static long walkRanks(stColl *h, const randDraw *d, long n, rankFn fn, void *ud)
{
    stCollIter *it = stCollIterNew(h, NULL, 0, 0);
    uint64_t pos = 0;
    long i = 0;
    for (; i < n; i++) {
        while (pos < d[i].rank && stCollIterValid(it)) {
            stCollIterNext(it);
            pos++;
        }
        if (!stCollIterValid(it)) break;
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        fn(ud, &d[i], m, ml);
    }
    stCollIterFree(it);
    return i;
}

/* k distinct ranks of [0, size), ascending, every k-subset equally likely
 * (selection sampling, Knuth's algorithm S).  Caller frees. */
static randDraw *sampleDistinct(uint64_t size, long k)
{
    randDraw *d = setAlloc(sizeof(*d) * (size_t)k);
    long got = 0;
    for (uint64_t r = 0; r < size && got < k; r++) {
        if (rngBelow(size - r) < (uint64_t)(k - got)) {
            d[got].rank = r;
            d[got].slot = got;
            got++;
        }
    }
    return d;
}

/* Collects RESP bulks into a buffer, counting them. */
typedef struct bulkOut {
    strbuf buf;
    long n;
    stColl *del; /* SPOP: also remove each member from this handle */
} bulkOut;

static void collectBulk(void *ud, const randDraw *d, const char *m, size_t ml)
{
    (void)d;
    bulkOut *o = ud;
    respAppendBulk(&o->buf, m, ml);
    o->n++;
    if (o->del) stCollDel(o->del, m, ml);
}

/* ---- SRANDMEMBER ------------------------------------------------------- */

/* n distinct members, exact: one walk. */
static void srandDistinctExact(client *c, stColl *h, uint64_t size, long n)
{
    randDraw *d = sampleDistinct(size, n);
    bulkOut out = {{0}, 0, NULL};
    sbInit(&out.buf);
    walkRanks(h, d, n, collectBulk, &out);
    addReplyArrayLen(c, out.n);
    addReplyRaw(c, out.buf.buf, out.buf.len);
    sbFree(&out.buf);
    free(d);
}

typedef struct memberRef {
    char *m;
    size_t ml;
} memberRef;

static int cmpRef(const void *a, const void *b)
{
    const memberRef *x = a, *y = b;
    return cmpBytes(x->m, x->ml, y->m, y->ml);
}

/* Sorts refs[0..n) and drops repeats (freeing them); returns how many are left. */
static long dedupeRefs(memberRef *refs, long n)
{
    qsort(refs, (size_t)n, sizeof(*refs), cmpRef);
    long k = 0;
    for (long i = 0; i < n; i++) {
        if (k && !cmpRef(&refs[k - 1], &refs[i])) free(refs[i].m);
        else refs[k++] = refs[i];
    }
    return k;
}

/* n distinct members by descents (n is small against the set, so repeats
 * are rare), sorted into refs (the caller frees them).  Returns how many
 * were found: fewer than n only if a few rounds could not find n. */
static long pickDistinct(stColl *h, long n, memberRef *refs)
{
    long have = 0;
    for (int round = 0; round < 8 && have < n; round++) {
        while (have < n && (refs[have].m = pickDescend(h, &refs[have].ml)) != NULL) have++;
        have = dedupeRefs(refs, have);
    }
    return have;
}

static void srandDistinctSeek(client *c, stColl *h, uint64_t size, long n)
{
    memberRef *refs = setAlloc(sizeof(*refs) * (size_t)n);
    long have = pickDistinct(h, n, refs);
    if (have == n) {
        addReplyArrayLen(c, n);
        for (long i = 0; i < n; i++) addReplyBulk(c, refs[i].m, refs[i].ml);
    } else {
        srandDistinctExact(c, h, size, n);
    }
    for (long i = 0; i < have; i++) free(refs[i].m);
    free(refs);
}

/* n independent draws by descents. */
static void srandRepeatSeek(client *c, stColl *h, long n)
{
    addReplyArrayLen(c, n);
    for (long i = 0; i < n; i++) {
        size_t ml;
        char *m = pickDescend(h, &ml);
        if (m) addReplyBulk(c, m, ml);
        else addReplyNull(c);
        free(m);
    }
}

/* Where each draw's member sits in a shared buffer (one copy per rank). */
typedef struct drawRefs {
    strbuf buf;
    size_t *off, *len; /* by slot; len SIZE_MAX: not served */
    uint64_t last_rank;
    size_t last_off, last_len;
    int have_last;
} drawRefs;

static void collectRef(void *ud, const randDraw *d, const char *m, size_t ml)
{
    drawRefs *r = ud;
    if (!r->have_last || r->last_rank != d->rank) {
        r->last_off = r->buf.len;
        r->last_len = ml;
        r->last_rank = d->rank;
        r->have_last = 1;
        sbAppend(&r->buf, m, ml);
    }
    r->off[d->slot] = r->last_off;
    r->len[d->slot] = r->last_len;
}

/* n independent draws, exact, n below the set's size: the draws sorted by
 * rank, one walk, then the reply in draw order (which is random). */
static void srandRepeatExact(client *c, stColl *h, uint64_t size, long n)
{
    randDraw *d = setAlloc(sizeof(*d) * (size_t)n);
    for (long i = 0; i < n; i++) {
        d[i].rank = rngBelow(size);
        d[i].slot = i;
    }
    qsort(d, (size_t)n, sizeof(*d), cmpDraw);
    drawRefs r;
    memset(&r, 0, sizeof(r));
    sbInit(&r.buf);
    r.off = setAlloc(sizeof(size_t) * (size_t)n);
    r.len = setAlloc(sizeof(size_t) * (size_t)n);
    for (long i = 0; i < n; i++) r.len[i] = SIZE_MAX;
    walkRanks(h, d, n, collectRef, &r);
    addReplyArrayLen(c, n);
    for (long i = 0; i < n; i++) {
        if (r.len[i] == SIZE_MAX) addReplyNull(c);
        else addReplyBulk(c, r.buf.buf + r.off[i], r.len[i]);
    }
    sbFree(&r.buf);
    free(r.off);
    free(r.len);
    free(d);
}

/* n independent draws, n at least the set's size: the members are loaded
 * once (no more memory than the reply takes) and drawn by index, O(n). */
static void srandRepeatLoaded(client *c, stColl *h, uint64_t size, uint64_t n)
{
    strbuf buf;
    sbInit(&buf);
    size_t *off = setAlloc(sizeof(size_t) * (size_t)(size + 1));
    uint64_t k = 0;
    stCollIter *it = stCollIterNew(h, NULL, 0, 0);
    for (; stCollIterValid(it) && k < size; stCollIterNext(it), k++) {
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        off[k] = buf.len;
        sbAppend(&buf, m, ml);
    }
    stCollIterFree(it);
    off[k] = buf.len;
    addReplyArrayLen(c, (long)n);
    for (uint64_t i = 0; i < n; i++) {
        if (!k) {
            addReplyNull(c);
            continue;
        }
        uint64_t j = rngBelow(k);
        addReplyBulk(c, buf.buf + off[j], off[j + 1] - off[j]);
    }
    free(off);
    sbFree(&buf);
}

static void srandmemberWithCount(client *c)
{
    long long count;
    if (getRangeLongOrReply(c, c->argv[2], c->argvlen[2], -LLONG_MAX, LLONG_MAX, &count, NULL) !=
        C_OK)
        return;
    stColl *h;
    stObj *o;
    if (setOpenRead(c, 1, &h, &o) != C_OK) return;
    uint64_t size = h ? stCollCount(h) : 0;
    uint64_t n = count < 0 ? (uint64_t)-count : (uint64_t)count;
    if (!size || !count) addReplyArrayLen(c, 0);
    else if (count > 0 && n >= size) replyAllMembers(c, h, 0);
    else if (seekPath(size, n) && count > 0) srandDistinctSeek(c, h, size, (long)n);
    else if (seekPath(size, n)) srandRepeatSeek(c, h, (long)n);
    else if (count > 0) srandDistinctExact(c, h, size, (long)n);
    else if (n < size) srandRepeatExact(c, h, size, (long)n);
    else srandRepeatLoaded(c, h, size, n);
    setCloseRead(h, o);
}

/* SRANDMEMBER key [count] */
void srandmemberCommand(client *c)
{
    if (c->argc > 3) {
        addReplyErrorSyntax(c);
        return;
    }
    if (c->argc == 3) {
        srandmemberWithCount(c);
        return;
    }
    stColl *h;
    stObj *o;
    if (setOpenRead(c, 1, &h, &o) != C_OK) return;
    size_t ml;
    char *m = h ? setPickOne(h, &ml) : NULL;
    if (m) addReplyBulk(c, m, ml);
    else addReplyNull(c);
    free(m);
    setCloseRead(h, o);
}

/* ---- SPOP -------------------------------------------------------------- */

/* SPOP with a count of at least the set's size: every member, and the key
 * goes in one O(1) delete. */
static void spopAll(client *c, stObj *o)
{
    stColl *h = collOpenRead(c, c->db, c->argv[1], c->argvlen[1], o, ST_TYPE_SET);
    bulkOut out = {{0}, 0, NULL};
    sbInit(&out.buf);
    stCollIter *it = stCollIterNew(h, NULL, 0, 0);
    for (; stCollIterValid(it); stCollIterNext(it)) {
        size_t ml;
        const char *m = stCollIterElem(it, &ml);
        collectBulk(&out, NULL, m, ml);
    }
    stCollIterFree(it);
    stCollClose(h);
    if (deleteKey(c, c->db, c->argv[1], c->argvlen[1], o) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_SET, "spop", c->argv[1], c->argvlen[1], c->db);
        notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
        addReplySetLen(c, out.n);
        addReplyRaw(c, out.buf.buf, out.buf.len);
    }
    sbFree(&out.buf);
}

/* SPOP with 0 < n < the set's size. */
static void spopSome(client *c, stObj *o, long n)
{
    stBatch *b = dbBatch(c);
    stColl *h = collOpenWrite(c, b, c->argv[1], c->argvlen[1], o, ST_TYPE_SET);
    uint64_t size = stCollCount(h);
    bulkOut out = {{0}, 0, h};
    sbInit(&out.buf);
    /* The picks come first and the deletes after: every delete lengthens
     * the batch's overlay, which each iterator of a pick sorts. */
    memberRef *refs = seekPath(size, (uint64_t)n) ? setAlloc(sizeof(*refs) * (size_t)n) : NULL;
    long have = refs ? pickDistinct(h, n, refs) : 0;
    if (refs && have == n) {
        for (long i = 0; i < n; i++) collectBulk(&out, NULL, refs[i].m, refs[i].ml);
    } else {
        randDraw *d = sampleDistinct(size, n);
        walkRanks(h, d, n, collectBulk, &out);
        free(d);
    }
    for (long i = 0; i < have; i++) free(refs[i].m);
    free(refs);
    uint64_t left = stCollCount(h);
    if (setCommit(c, h, b, NULL) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_SET, "spop", c->argv[1], c->argvlen[1], c->db);
        if (!left) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
        addReplySetLen(c, out.n);
        addReplyRaw(c, out.buf.buf, out.buf.len);
    }
    sbFree(&out.buf);
}

static void spopWithCount(client *c)
{
    long long count;
    if (getPositiveLongOrReply(c, c->argv[2], c->argvlen[2], &count,
                               "value is out of range, must be positive") != C_OK)
        return;
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_SET, 1, &o) != C_OK) return;
    if (!o || !count) addReplySetLen(c, 0);
    else if ((uint64_t)count >= o->meta.count) spopAll(c, o);
    else spopSome(c, o, (long)count);
    if (o) stObjRelease(o);
}

/* SPOP key [count] */
void spopCommand(client *c)
{
    if (c->argc > 3) {
        addReplyErrorSyntax(c);
        return;
    }
    if (c->argc == 3) {
        spopWithCount(c);
        return;
    }
    stObj *o;
    if (lookupTypedOrReply(c, c->argv[1], c->argvlen[1], ST_TYPE_SET, 1, &o) != C_OK) return;
    if (!o) {
        addReplyNull(c);
        return;
    }
    stBatch *b = dbBatch(c);
    stColl *h = collOpenWrite(c, b, c->argv[1], c->argvlen[1], o, ST_TYPE_SET);
    /* Sets popped in a row pop from a pool of random members (setpool.c):
     * exact, and a few walk steps per pop instead of a descent's seeks or,
     * for the last few hundred members, instead of a walk to a random rank
     * past the tombstones of every member popped before. */
    uint64_t size = stCollCount(h), pops = 0;
    setPool *pool = NULL;
    int pooled = size <= SET_POOL_SET_MAX;
    if (pooled) {
        pool = setPoolTake(c->db, c->argv[1], c->argvlen[1], &o->meta, &pops);
        if (!pool && pops * SET_POOL_DESCENT_STEPS >= size) {
            pool = setPoolBuild(h, setPoolSizeFor(size, o->meta.size));
            /* Members far longer than the average: wait as long again
             * before the next walk, so failed builds stay amortised. */
            if (!pool) pops = 0;
        }
    }
    size_t ml;
    char *m = pool ? setPoolPop(pool, &ml) : setPickOne(h, &ml);
    if (!m) {
        setPoolFree(pool);
        setDiscard(c, h, b, o);
        addReplyNull(c);
        return;
    }
    stCollDelSeen(h, m, ml, 0, 0);
    uint64_t left = stCollCount(h);
    if (setCommit(c, h, b, o) == C_OK) {
        notifyKeyspaceEvent(NOTIFY_SET, "spop", c->argv[1], c->argvlen[1], c->db);
        if (!left) notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
        addReplyBulk(c, m, ml);
        /* The pool (or the count of pops) goes back under the meta record
         * this write queued. */
        stObj *after = pooled && left ? lookupKeyDb(c, c->db, c->argv[1], c->argvlen[1],
                                                    LOOKUP_NOTOUCH) : NULL;
        setPoolPut(pool, pops + 1, c->db, c->argv[1], c->argvlen[1], after ? &after->meta : NULL);
        if (after) stObjRelease(after);
    } else {
        setPoolFree(pool);
    }
    free(m);
}

/* ========================== SINTER SUNION SDIFF =========================== */

/* A probe walks the other set forward instead of point-reading it when that
 * set has at most this many times the members of the set driving the walk:
 * a sequential step is several times cheaper than a point read. */
#define SET_WALK_RATIO 8

/* One input set of an algebra command. */
typedef struct setSrc {
    stObj *o;        /* NULL: the key does not exist (an empty set) */
    stColl *h;       /* read handle, NULL when o is */
    stCollIter *it;  /* the walk (driver, SUNION input, or walking probe) */
} setSrc;

/* Where result members go: a reply body, a *STORE destination, or only a
 * count (SINTERCARD), with an optional limit. */
typedef struct setSink {
    strbuf out;
    stColl *dst;
    int count_only;
    long long n;
    long long limit; /* 0: none */
} setSink;

/* Emits one member; returns 1 when the sink wants no more. */
static int sinkEmit(setSink *k, const char *m, size_t ml)
{
    if (k->dst) stCollPut(k->dst, m, ml, "", 0);
    else if (!k->count_only) respAppendBulk(&k->out, m, ml);
    k->n++;
    return k->limit && k->n >= k->limit;
}

static void srcFree(setSrc *s, int n)
{
    for (int j = 0; j < n; j++) {
        stCollIterFree(s[j].it);
        if (s[j].h) stCollClose(s[j].h);
        if (s[j].o) stObjRelease(s[j].o);
    }
    free(s);
}

/* Looks up the n keys from argv[first] (write: as a *STORE does) and opens
 * them.  C_ERR after a WRONGTYPE reply; every key is checked, missing ones
 * included as empty sets. */
static int srcLoad(client *c, int first, int n, int write, setSrc **out)
{
    setSrc *s = calloc((size_t)n, sizeof(*s));
    if (!s) serverPanic("cmd_set: out of memory");
    for (int j = 0; j < n; j++) {
        const char *key = c->argv[first + j];
        size_t klen = c->argvlen[first + j];
        if (lookupTypedOrReply(c, key, klen, ST_TYPE_SET, write, &s[j].o) != C_OK) {
            srcFree(s, j);
            return C_ERR;
        }
        if (s[j].o) s[j].h = collOpenRead(c, c->db, key, klen, s[j].o, ST_TYPE_SET);
    }
    *out = s;
    return C_OK;
}

/* Makes s a probe for members of a set of `driver` members. */
static void srcProbe(setSrc *s, uint64_t driver)
{
    if (stCollCount(s->h) <= driver * SET_WALK_RATIO) s->it = stCollIterNew(s->h, NULL, 0, 0);
}

/* Whether probe s holds m; members must be asked in ascending order.
 * Returns -1 when a walking probe has no member left (nothing later can be
 * in it either). */
static int srcHas(setSrc *s, const char *m, size_t ml)
{
    if (!s->it) return stCollGet(s->h, m, ml, NULL, NULL);
    for (; stCollIterValid(s->it); stCollIterNext(s->it)) {
        size_t el;
        const char *e = stCollIterElem(s->it, &el);
        int r = cmpBytes(e, el, m, ml);
        if (r >= 0) return r == 0;
    }
    return -1;
}

static void setInter(setSrc *s, int n, setSink *k)
{
    int d = 0;
    for (int j = 0; j < n; j++) {
        if (!s[j].o) return; /* an empty input: an empty result */
        if (stCollCount(s[j].h) < stCollCount(s[d].h)) d = j;
    }
    for (int j = 0; j < n; j++)
        if (j != d) srcProbe(&s[j], stCollCount(s[d].h));
    s[d].it = stCollIterNew(s[d].h, NULL, 0, 0);
    for (; stCollIterValid(s[d].it); stCollIterNext(s[d].it)) {
        size_t ml;
        const char *m = stCollIterElem(s[d].it, &ml);
        int in = 1;
        for (int j = 0; j < n && in; j++) {
            if (j == d) continue;
            int r = srcHas(&s[j], m, ml);
            if (r < 0) return;
            in = r;
        }
        if (in && sinkEmit(k, m, ml)) return;
    }
}

static void setDiff(setSrc *s, int n, setSink *k)
{
    if (!s[0].o) return;
    uint64_t driver = stCollCount(s[0].h);
    for (int j = 1; j < n; j++)
        if (s[j].o) srcProbe(&s[j], driver);
    s[0].it = stCollIterNew(s[0].h, NULL, 0, 0);
    for (; stCollIterValid(s[0].it); stCollIterNext(s[0].it)) {
        size_t ml;
        const char *m = stCollIterElem(s[0].it, &ml);
        int out = 0;
        for (int j = 1; j < n && !out; j++) out = s[j].o && srcHas(&s[j], m, ml) > 0;
        if (!out && sinkEmit(k, m, ml)) return;
    }
}

/* ---- SUNION: a k-way merge of ordered walks on a binary min-heap -------- */

static int heapLess(const setSrc *a, const setSrc *b)
{
    size_t al, bl;
    const char *x = stCollIterElem(a->it, &al), *y = stCollIterElem(b->it, &bl);
    return cmpBytes(x, al, y, bl) < 0;
}

static void heapDown(setSrc **h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heapLess(h[l], h[m])) m = l;
        if (r < n && heapLess(h[r], h[m])) m = r;
        if (m == i) return;
        setSrc *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void setUnion(setSrc *s, int n, setSink *k)
{
    setSrc **heap = setAlloc(sizeof(*heap) * (size_t)n);
    int hn = 0;
    for (int j = 0; j < n; j++) {
        if (!s[j].o) continue;
        s[j].it = stCollIterNew(s[j].h, NULL, 0, 0);
        if (stCollIterValid(s[j].it)) heap[hn++] = &s[j];
    }
    for (int i = hn / 2 - 1; i >= 0; i--) heapDown(heap, hn, i);
    strbuf cur; /* the member being emitted: the walks move past it */
    sbInit(&cur);
    sbReserve(&cur, 64);
    while (hn > 0) {
        size_t ml;
        const char *m = stCollIterElem(heap[0]->it, &ml);
        sbClear(&cur);
        sbAppend(&cur, m, ml);
        if (sinkEmit(k, cur.buf, cur.len)) break;
        while (hn > 0) {
            const char *e = stCollIterElem(heap[0]->it, &ml);
            if (cmpBytes(e, ml, cur.buf, cur.len) != 0) break;
            stCollIterNext(heap[0]->it);
            if (!stCollIterValid(heap[0]->it)) heap[0] = heap[--hn];
            heapDown(heap, hn, 0);
        }
    }
    sbFree(&cur);
    free(heap);
}

/* ---- The commands ------------------------------------------------------ */

#define SET_OP_INTER 0
#define SET_OP_UNION 1
#define SET_OP_DIFF 2

static void setRun(int op, setSrc *s, int n, setSink *k)
{
    if (op == SET_OP_INTER) setInter(s, n, k);
    else if (op == SET_OP_UNION) setUnion(s, n, k);
    else setDiff(s, n, k);
}

/* *STORE: dest (argv[1], any type) is replaced by the result in one batch;
 * an empty result deletes it.  The result streams into a new incarnation of
 * dest while the sources are read through handles opened before: a source
 * that is dest itself keeps reading its old incarnation's records, which
 * the delete of the key does not touch. */
static void setStore(client *c, int op, setSrc *s, int n)
{
    static const char *events[] = {"sinterstore", "sunionstore", "sdiffstore"};
    stObj *old = lookupKeyWrite(c, c->argv[1], c->argvlen[1]);
    stBatch *b = dbBatch(c);
    if (old) stBatchDel(b, c->db, c->argv[1], c->argvlen[1], &old->meta);
    setSink k;
    memset(&k, 0, sizeof(k));
    k.dst = collOpenWrite(c, b, c->argv[1], c->argvlen[1], NULL, ST_TYPE_SET);
    setRun(op, s, n, &k);
    stCollClose(k.dst);
    if (!old && !k.n) {
        dbBatchDiscard(c, b);
        addReplyLongLong(c, 0);
        return;
    }
    if (commitOrReply(c, b) == C_OK) {
        if (k.n) notifyKeyspaceEvent(NOTIFY_SET, events[op], c->argv[1], c->argvlen[1], c->db);
        else notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
        addReplyLongLong(c, k.n);
    }
    if (old) stObjRelease(old);
}

/* SINTER SUNION SDIFF key..., and with store: their *STORE forms
 * (destination key...). */
static void setAlgebra(client *c, int op, int store)
{
    int first = store ? 2 : 1, n = c->argc - first;
    setSrc *s;
    if (srcLoad(c, first, n, store, &s) != C_OK) return;
    if (store) {
        setStore(c, op, s, n);
    } else {
        setSink k;
        memset(&k, 0, sizeof(k));
        sbInit(&k.out);
        setRun(op, s, n, &k);
        addReplySetLen(c, k.n);
        addReplyRaw(c, k.out.buf, k.out.len);
        sbFree(&k.out);
    }
    srcFree(s, n);
}

void sinterCommand(client *c)
{
    setAlgebra(c, SET_OP_INTER, 0);
}

void sunionCommand(client *c)
{
    setAlgebra(c, SET_OP_UNION, 0);
}

void sdiffCommand(client *c)
{
    setAlgebra(c, SET_OP_DIFF, 0);
}

void sinterstoreCommand(client *c)
{
    setAlgebra(c, SET_OP_INTER, 1);
}

void sunionstoreCommand(client *c)
{
    setAlgebra(c, SET_OP_UNION, 1);
}

void sdiffstoreCommand(client *c)
{
    setAlgebra(c, SET_OP_DIFF, 1);
}

/* SINTERCARD numkeys key [key ...] [LIMIT limit] */
void sintercardCommand(client *c)
{
    long long numkeys, limit = 0;
    if (getRangeLongOrReply(c, c->argv[1], c->argvlen[1], 1, LLONG_MAX, &numkeys,
                            "numkeys should be greater than 0") != C_OK)
        return;
    if (numkeys > c->argc - 2) {
        addReplyError(c, "Number of keys can't be greater than number of args");
        return;
    }
    for (int j = 2 + (int)numkeys; j < c->argc; j++) {
        if (!argIs(c, j, "limit") || j + 1 >= c->argc) {
            addReplyErrorSyntax(c);
            return;
        }
        if (getPositiveLongOrReply(c, c->argv[j + 1], c->argvlen[j + 1], &limit,
                                   "LIMIT can't be negative") != C_OK)
            return;
        j++;
    }
    setSrc *s;
    if (srcLoad(c, 2, (int)numkeys, 0, &s) != C_OK) return;
    setSink k;
    memset(&k, 0, sizeof(k));
    k.count_only = 1;
    k.limit = limit;
    setInter(s, (int)numkeys, &k);
    addReplyLongLong(c, k.n);
    srcFree(s, (int)numkeys);
}

/* ========================== SSCAN ========================================= */

/* SSCAN key cursor [MATCH pattern] [COUNT count] (cmd_keys.c). */
void sscanCommand(client *c)
{
    collScanGeneric(c, ST_TYPE_SET);
}

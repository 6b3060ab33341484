/* cmd_pubsub.c - Redis 7.0 pub/sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE
 * PUNSUBSCRIBE PUBLISH PUBSUB, and the registry of channel and pattern
 * subscriptions that PUBLISH delivers through (no keyspace notifications, no
 * sharded channels).
 *
 * The registry:
 *
 *   tables[CHANNEL]  hash table: channel name -> psEntry
 *   tables[PATTERN]  hash table: pattern -> psEntry, plus patternList, a
 *                    dense array of the same entries for PUBLISH to walk
 *   subIndex         hash table: (client, entry) -> psSub, "is c subscribed?"
 *   c->pubsub        the client's channel and pattern psSubs
 *
 * A psSub is one subscription of one client to one entry.  It sits in its
 * entry's subscriber array, in its client's array and in subIndex at once and
 * knows its position in both arrays, so adding or removing one costs O(1)
 * whatever the number of channels, patterns or subscribers.  PUBLISH costs one
 * hash lookup, one post per receiver and one glob match per pattern, as in
 * Redis.
 *
 *   client --SUBSCRIBE/PSUBSCRIBE (first)--> subscribed: CLIENT_PUBSUB set,
 *            pubsub output-buffer class, RESP2 context restricted (commands.c)
 *   subscribed --(P)UNSUBSCRIBE of the last / RESET / freeClient--> client
 *
 * Invariants (concurrency):
 *  1. Every structure above, a client's counts (pubsub_channels,
 *     pubsub_patterns) and its CLIENT_PUBSUB flag change only under
 *     registryLock, and together: the flag is set exactly while the counts
 *     are not both zero.
 *  2. Only a client's owner thread changes that client's subscriptions (the
 *     commands below, RESET, freeClient); other threads read them under
 *     registryLock, or read the atomic counts (CLIENT LIST).
 *  3. freeClient() calls pubsubClientFree() before anything else: before the
 *     client leaves its thread's xpending list and before its xlock is
 *     destroyed.  PUBLISH posts only while holding registryLock, and only to
 *     clients it finds in the registry, so it never reaches a freed client and
 *     never re-queues one that is being freed.
 *  4. Lock order: registryLock, then a client's xlock, then its thread's xlock
 *     (inside clientPostReply()).  Nothing here takes registryLock while
 *     holding another lock, and no other file takes registryLock.
 *  5. A message reaches another client only through clientPostReply() (a
 *     client's output buffer belongs to its owner thread, networking.c
 *     invariant 1).  The publisher itself (a RESP3 subscriber) gets its copy
 *     in its own reply, before PUBLISH's count, as in Redis.
 *  6. Before a command changes the caller's subscriptions it moves the
 *     messages already posted to the caller into its output buffer (under
 *     registryLock): confirmations and messages reach the client in the order
 *     the registry saw them, as on a single-threaded Redis.
 *  7. An entry exists only while it has a subscriber; PUBSUB CHANNELS,
 *     NUMPAT and INFO count entries.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

/* ========================== Registry structures =========================== */

enum { CHANNEL = 0, PATTERN = 1 };

typedef struct psNode {
    struct psNode *next; /* hash chain */
    uint64_t hash;
} psNode;

/* Chained hash table of intrusive nodes; load factor at most 1. */
typedef struct psTable {
    psNode **buckets; /* NULL while empty */
    size_t size;      /* power of two, 0 while empty */
    size_t count;
} psTable;

#define TABLE_MIN_SIZE 16

struct psSub;

/* A channel or pattern with at least one subscriber. */
typedef struct psEntry {
    psNode node;          /* in tables[kind]; must stay first */
    struct psSub **subs;  /* subscribers, unordered */
    int nsubs, cap;
    int pidx;             /* position in patternList (patterns only) */
    size_t len;
    char name[];          /* len bytes, binary safe */
} psEntry;

/* One subscription: client c to entry e. */
typedef struct psSub {
    psNode node;          /* in subIndex, keyed by (c, e); must stay first */
    client *c;
    psEntry *e;
    int kind;             /* CHANNEL or PATTERN */
    int eidx;             /* position in e->subs */
    int cidx;             /* position in c->pubsub->subs[kind] */
} psSub;

/* client.pubsub: allocated at the first subscription, freed with the client. */
struct pubsubState {
    psSub **subs[2];      /* [CHANNEL], [PATTERN]: in subscription order until
                           * an unsubscribe moves the last one into the gap */
    int n[2], cap[2];
};

static pthread_mutex_t registryLock = PTHREAD_MUTEX_INITIALIZER;
static psTable tables[2];
static psTable subIndex;
static psEntry **patternList;
static int npatterns, patternCap;
static uint64_t hashSeed; /* set before the first entry: channel names come from clients */

/* ========================== Hash tables =================================== */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hashBytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ hashSeed;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return mix64(h ^ len);
}

static uint64_t hashSub(const client *c, const psEntry *e)
{
    return mix64((uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)e);
}

static void tableResize(psTable *t, size_t size)
{
    psNode **nb = size ? calloc(size, sizeof(*nb)) : NULL;
    if (size && !nb) serverPanic("out of memory resizing the pub/sub registry");
    for (size_t i = 0; i < t->size; i++) {
        psNode *n = t->buckets[i];
        while (n) {
            psNode *next = n->next;
            psNode **b = &nb[n->hash & (size - 1)];
            n->next = *b;
            *b = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->size = size;
}

static void tableAdd(psTable *t, psNode *n)
{
    if (t->count >= t->size) tableResize(t, t->size ? t->size * 2 : TABLE_MIN_SIZE);
    psNode **b = &t->buckets[n->hash & (t->size - 1)];
    n->next = *b;
    *b = n;
    t->count++;
}

/* Unlinks n, which must be in t.  An emptied table gives its buckets back, a
 * sparse one halves: a burst of subscriptions does not pin memory. */
static void tableDel(psTable *t, psNode *n)
{
    psNode **p = &t->buckets[n->hash & (t->size - 1)];
    while (*p != n) p = &(*p)->next;
    *p = n->next;
    t->count--;
    if (t->count == 0) tableResize(t, 0);
    else if (t->size > TABLE_MIN_SIZE && t->count < t->size / 8) tableResize(t, t->size / 2);
}

static psNode *tableChain(const psTable *t, uint64_t h)
{
    return t->size ? t->buckets[h & (t->size - 1)] : NULL;
}

/* Grows a pointer array to hold one more element. */
static void *growArray(void *arr, int n, int *cap)
{
    if (n < *cap) return arr;
    *cap = *cap ? *cap * 2 : 4;
    arr = realloc(arr, (size_t)*cap * sizeof(void *));
    if (!arr) serverPanic("out of memory growing the pub/sub registry");
    return arr;
}

/* ========================== Registry (caller holds registryLock) ========== */

static psEntry *entryFind(int kind, const char *name, size_t len, uint64_t h)
{
    for (psNode *n = tableChain(&tables[kind], h); n; n = n->next) {
        psEntry *e = (psEntry *)n;
        if (n->hash == h && e->len == len && !memcmp(e->name, name, len)) return e;
    }
    return NULL;
}

static psEntry *entryCreate(int kind, const char *name, size_t len, uint64_t h)
{
    psEntry *e = calloc(1, sizeof(*e) + len + 1);
    if (!e) serverPanic("out of memory adding a pub/sub entry");
    e->node.hash = h;
    e->len = len;
    memcpy(e->name, name, len);
    tableAdd(&tables[kind], &e->node);
    if (kind == PATTERN) {
        patternList = growArray(patternList, npatterns, &patternCap);
        e->pidx = npatterns;
        patternList[npatterns++] = e;
    }
    return e;
}

static void entryFree(int kind, psEntry *e)
{
    tableDel(&tables[kind], &e->node);
    if (kind == PATTERN) {
        psEntry *last = patternList[--npatterns];
        patternList[e->pidx] = last;
        last->pidx = e->pidx;
        if (npatterns == 0) {
            free(patternList);
            patternList = NULL;
            patternCap = 0;
        }
    }
    free(e->subs);
    free(e);
}

static psSub *subFind(const client *c, const psEntry *e)
{
    uint64_t h = hashSub(c, e);
    for (psNode *n = tableChain(&subIndex, h); n; n = n->next) {
        psSub *s = (psSub *)n;
        if (s->c == c && s->e == e) return s;
    }
    return NULL;
}

static _Atomic int *subCount(client *c, int kind)
{
    return kind == CHANNEL ? &c->pubsub_channels : &c->pubsub_patterns;
}

static int subTotal(client *c)
{
    return atomic_load(&c->pubsub_channels) + atomic_load(&c->pubsub_patterns);
}

/* Keeps CLIENT_PUBSUB in step with the counts (invariant 1): it selects the
 * pubsub output-buffer class and the RESP2 subscribed context. */
static void syncPubsubFlag(client *c)
{
    if (subTotal(c)) atomic_fetch_or(&c->flags, CLIENT_PUBSUB);
    else atomic_fetch_and(&c->flags, ~CLIENT_PUBSUB);
}

/* Subscribes c to name.  Returns 1 when the subscription is new, 0 when c
 * had it already.  The psSub, a new entry and c->pubsub belong to the
 * registry: subRemoveLocked() and pubsubClientFree() free them. */
static int subscribeLocked(client *c, int kind, const char *name, size_t len)
{
    /* Seeded before any entry exists, so every entry is hashed with it. */
    if (!hashSeed) hashSeed = mix64(ustime() ^ ((uint64_t)getpid() << 32)) | 1;
    uint64_t h = hashBytes(name, len);
    psEntry *e = entryFind(kind, name, len, h);
    if (e && subFind(c, e)) return 0;
    if (!e) e = entryCreate(kind, name, len, h);
    if (!c->pubsub) {
        c->pubsub = calloc(1, sizeof(*c->pubsub));
        if (!c->pubsub) serverPanic("out of memory subscribing");
    }
    struct pubsubState *st = c->pubsub;
    psSub *s = calloc(1, sizeof(*s));
    if (!s) serverPanic("out of memory subscribing");
    s->node.hash = hashSub(c, e);
    s->c = c;
    s->e = e;
    s->kind = kind;
    e->subs = growArray(e->subs, e->nsubs, &e->cap);
    s->eidx = e->nsubs;
    e->subs[e->nsubs++] = s;
    st->subs[kind] = growArray(st->subs[kind], st->n[kind], &st->cap[kind]);
    s->cidx = st->n[kind];
    st->subs[kind][st->n[kind]++] = s;
    tableAdd(&subIndex, &s->node);
    atomic_fetch_add(subCount(c, s->kind), 1);
    syncPubsubFlag(c);
    return 1;
}

/* Removes one subscription and frees it (and its entry if that was the last
 * subscriber).  With compact, the client's array closes the gap; callers that
 * drop all of a client's subscriptions of a kind pass 0 and empty the array
 * themselves, which keeps their walk in order. */
static void subRemoveLocked(psSub *s, int compact)
{
    client *c = s->c;
    psEntry *e = s->e;
    psSub *last = e->subs[--e->nsubs];
    e->subs[s->eidx] = last;
    last->eidx = s->eidx;
    if (compact) {
        struct pubsubState *st = c->pubsub;
        psSub *clast = st->subs[s->kind][--st->n[s->kind]];
        st->subs[s->kind][s->cidx] = clast;
        clast->cidx = s->cidx;
    }
    tableDel(&subIndex, &s->node);
    atomic_fetch_sub(subCount(c, s->kind), 1);
    syncPubsubFlag(c);
    if (e->nsubs == 0) entryFree(s->kind, e);
    free(s);
}

/* Moves the replies other threads posted to c into c's own output buffer
 * (invariant 6).  Owner thread only; the same move as the owner's wake-up
 * in networking.c, done early. */
static void drainPostedLocked(client *c)
{
    pthread_mutex_lock(&c->xlock);
    if (c->xout.len) {
        sbAppend(&c->out, c->xout.buf, c->xout.len);
        sbClear(&c->xout);
    }
    pthread_mutex_unlock(&c->xlock);
}

/* ========================== Replies ======================================= */

static const char *const subscribeWord[2] = {"subscribe", "psubscribe"};
static const char *const unsubscribeWord[2] = {"unsubscribe", "punsubscribe"};

/* Confirmations are pushes in RESP3 and arrays in RESP2, like messages. */
static void addReplyPushLen3(client *c)
{
    addReplyRaw(c, c->resp == 3 ? ">3\r\n" : "*3\r\n", 4);
}

/* [word, name (nil when NULL), total subscriptions]. */
static void replySubscription(client *c, const char *word, const char *name, size_t len)
{
    addReplyPushLen3(c);
    addReplyBulkStr(c, word);
    if (name) addReplyBulk(c, name, len);
    else addReplyNull(c);
    addReplyLongLong(c, subTotal(c));
}

/* Drops every subscription of one kind in subscription order, confirming
 * each when notify is set (one [word, nil, total] when there was none, as in
 * Redis). */
static void unsubscribeAllLocked(client *c, int kind, int notify)
{
    struct pubsubState *st = c->pubsub;
    int n = st ? st->n[kind] : 0;
    if (n == 0) {
        if (notify) replySubscription(c, unsubscribeWord[kind], NULL, 0);
        return;
    }
    for (int i = 0; i < n; i++) {
        psSub *s = st->subs[kind][i];
        if (notify) {
            /* Header and name now: the entry may go with the subscription. */
            addReplyPushLen3(c);
            addReplyBulkStr(c, unsubscribeWord[kind]);
            addReplyBulk(c, s->e->name, s->e->len);
        }
        subRemoveLocked(s, 0);
        if (notify) addReplyLongLong(c, subTotal(c));
    }
    st->n[kind] = 0;
}

/* ========================== Publishing ==================================== */

/* Builds ["message", channel, msg] or ["pmessage", pattern, channel, msg].
 * The first byte is the aggregate type, set per receiver ('*' or '>'): the
 * two encodings differ in nothing else. */
static void buildMessage(strbuf *m, const psEntry *pattern, const char *ch, size_t chlen,
                         const char *msg, size_t mlen)
{
    sbClear(m);
    respAppendPushLen(m, pattern ? 4 : 3, 3);
    if (pattern) {
        respAppendBulk(m, "pmessage", 8);
        respAppendBulk(m, pattern->name, pattern->len);
    } else {
        respAppendBulk(m, "message", 7);
    }
    respAppendBulk(m, ch, chlen);
    respAppendBulk(m, msg, mlen);
}

/* Delivers m to every subscriber of e.  Returns how many there are: a
 * receiver already condemned by its output limit counts (as in Redis) but
 * gets nothing more, so its buffer stops growing before its thread frees it. */
static long long deliverLocked(client *self, psEntry *e, strbuf *m)
{
    for (int i = 0; i < e->nsubs; i++) {
        client *to = e->subs[i]->c;
        /* HELLO may change resp on the owner thread at any time. */
        m->buf[0] = __atomic_load_n(&to->resp, __ATOMIC_RELAXED) == 3 ? '>' : '*';
        if (to == self) {
            drainPostedLocked(self);
            addReplyRaw(self, m->buf, m->len);
        } else if (!(atomic_load(&to->flags) & CLIENT_CLOSE_ASAP)) {
            clientPostReply(to, m->buf, m->len);
        }
    }
    return e->nsubs;
}

static long long publishLocked(client *self, const char *ch, size_t chlen, const char *msg,
                               size_t mlen)
{
    long long receivers = 0;
    strbuf m;
    sbInit(&m);
    psEntry *e = entryFind(CHANNEL, ch, chlen, hashBytes(ch, chlen));
    if (e) {
        buildMessage(&m, NULL, ch, chlen, msg, mlen);
        receivers += deliverLocked(self, e, &m);
    }
    for (int i = 0; i < npatterns; i++) {
        psEntry *p = patternList[i];
        if (!stringmatchlen(p->name, p->len, ch, chlen, 0)) continue;
        buildMessage(&m, p, ch, chlen, msg, mlen);
        receivers += deliverLocked(self, p, &m);
    }
    sbFree(&m);
    return receivers;
}

/* Publishes msg on ch from the server itself (keyspace notifications):
 * every receiver, the caller's client included, gets it through its post
 * queue.  Returns the number of receivers. */
long long pubsubPublishMessage(const char *ch, size_t chlen, const char *msg, size_t mlen)
{
    pthread_mutex_lock(&registryLock);
    long long n = publishLocked(NULL, ch, chlen, msg, mlen);
    pthread_mutex_unlock(&registryLock);
    return n;
}

/* ========================== Commands ====================================== */

static void subscribeGeneric(client *c, int kind)
{
    pthread_mutex_lock(&registryLock);
    drainPostedLocked(c);
    for (int j = 1; j < c->argc; j++) {
        subscribeLocked(c, kind, c->argv[j], c->argvlen[j]);
        replySubscription(c, subscribeWord[kind], c->argv[j], c->argvlen[j]);
    }
    pthread_mutex_unlock(&registryLock);
}

static void unsubscribeGeneric(client *c, int kind)
{
    pthread_mutex_lock(&registryLock);
    drainPostedLocked(c);
    if (c->argc == 1) {
        unsubscribeAllLocked(c, kind, 1);
    } else {
        for (int j = 1; j < c->argc; j++) {
            const char *name = c->argv[j];
            size_t len = c->argvlen[j];
            psEntry *e = entryFind(kind, name, len, hashBytes(name, len));
            psSub *s = e ? subFind(c, e) : NULL;
            if (s) subRemoveLocked(s, 1);
            /* Confirmed even when c was not subscribed, as in Redis. */
            replySubscription(c, unsubscribeWord[kind], name, len);
        }
    }
    pthread_mutex_unlock(&registryLock);
}

void subscribeCommand(client *c)
{
    subscribeGeneric(c, CHANNEL);
}

void psubscribeCommand(client *c)
{
    subscribeGeneric(c, PATTERN);
}

void unsubscribeCommand(client *c)
{
    unsubscribeGeneric(c, CHANNEL);
}

void punsubscribeCommand(client *c)
{
    unsubscribeGeneric(c, PATTERN);
}

void publishCommand(client *c)
{
    pthread_mutex_lock(&registryLock);
    long long receivers =
        publishLocked(c, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]);
    pthread_mutex_unlock(&registryLock);
    addReplyLongLong(c, receivers);
}

static void pubsubChannels(client *c)
{
    const char *pat = c->argc == 3 ? c->argv[2] : NULL;
    size_t plen = c->argc == 3 ? c->argvlen[2] : 0;
    strbuf names;
    long n = 0;
    sbInit(&names);
    pthread_mutex_lock(&registryLock);
    const psTable *t = &tables[CHANNEL];
    for (size_t b = 0; b < t->size; b++) {
        for (psNode *node = t->buckets[b]; node; node = node->next) {
            psEntry *e = (psEntry *)node;
            if (pat && !stringmatchlen(pat, plen, e->name, e->len, 0)) continue;
            respAppendBulk(&names, e->name, e->len);
            n++;
        }
    }
    pthread_mutex_unlock(&registryLock);
    addReplyArrayLen(c, n);
    if (names.len) addReplyRaw(c, names.buf, names.len);
    sbFree(&names);
}

static void pubsubNumsub(client *c)
{
    /* A flat [channel, count, ...] array in RESP3 too, as in Redis 7.0. */
    addReplyArrayLen(c, (long)(c->argc - 2) * 2);
    pthread_mutex_lock(&registryLock);
    for (int j = 2; j < c->argc; j++) {
        psEntry *e = entryFind(CHANNEL, c->argv[j], c->argvlen[j],
                               hashBytes(c->argv[j], c->argvlen[j]));
        addReplyBulk(c, c->argv[j], c->argvlen[j]);
        addReplyLongLong(c, e ? e->nsubs : 0);
    }
    pthread_mutex_unlock(&registryLock);
}

void pubsubCommand(client *c)
{
    if (argIs(c, 1, "help")) {
        if (c->argc != 2) {
            addReplyError(c, "wrong number of arguments for 'pubsub|help' command");
            return;
        }
        /* Redis's text without the SHARD* subcommands, which Strata lacks. */
        static const char *const help[] = {
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "HELP",
            "    Prints this help."};
        int n = sizeof(help) / sizeof(*help);
        addReplyArrayLen(c, n);
        for (int i = 0; i < n; i++) addReplyStatus(c, help[i]);
    } else if (argIs(c, 1, "channels")) {
        if (c->argc > 3) {
            addReplyErrorFormat(c,
                                "unknown subcommand or wrong number of arguments for '%.128s'. "
                                "Try PUBSUB HELP.",
                                c->argv[1]);
            return;
        }
        pubsubChannels(c);
    } else if (argIs(c, 1, "numsub")) {
        pubsubNumsub(c);
    } else if (argIs(c, 1, "numpat")) {
        if (c->argc != 2) {
            addReplyError(c, "wrong number of arguments for 'pubsub|numpat' command");
            return;
        }
        pthread_mutex_lock(&registryLock);
        long long n = (long long)tables[PATTERN].count;
        pthread_mutex_unlock(&registryLock);
        addReplyLongLong(c, n); /* unique patterns, as Redis 7.0 counts them */
    } else {
        addReplySubcommandSyntaxError(c);
    }
}

/* ========================== Hooks for other files ========================= */

/* RESET: drops every subscription without confirmations (Redis's
 * clearClientConnectionState()).  Messages posted before it still go out
 * before +RESET (invariant 6).  Owner thread only. */
void pubsubClientReset(client *c)
{
    if (!c->pubsub || subTotal(c) == 0) return;
    pthread_mutex_lock(&registryLock);
    drainPostedLocked(c);
    unsubscribeAllLocked(c, CHANNEL, 0);
    unsubscribeAllLocked(c, PATTERN, 0);
    pthread_mutex_unlock(&registryLock);
}

/* freeClient: takes c out of the registry so no PUBLISH can reach it any more
 * (invariant 3), and frees its state.  Owner thread only. */
void pubsubClientFree(client *c)
{
    struct pubsubState *st = c->pubsub;
    if (!st) return;
    pthread_mutex_lock(&registryLock);
    unsubscribeAllLocked(c, CHANNEL, 0);
    unsubscribeAllLocked(c, PATTERN, 0);
    c->pubsub = NULL;
    pthread_mutex_unlock(&registryLock);
    free(st->subs[CHANNEL]);
    free(st->subs[PATTERN]);
    free(st);
}

/* INFO stats: channels and (unique) patterns with at least one subscriber. */
void pubsubStats(long long *channels, long long *patterns)
{
    pthread_mutex_lock(&registryLock);
    *channels = (long long)tables[CHANNEL].count;
    *patterns = (long long)tables[PATTERN].count;
    pthread_mutex_unlock(&registryLock);
}

/* server.h - Strata's server-wide state, the client structure, the command
 * table types and the prototypes of server/, grouped by the file that owns
 * them.
 *
 * Threads: `server-threads` event loops each own their clients; a client is
 * only touched by its own thread, except through the few cross-thread paths
 * that take clients_lock or the client's xlock (CLIENT LIST/KILL, MONITOR).
 * Commands lock the stripes of their keys (ascending order) under the
 * keyspace rwlock, so they see and write consistent keys on any thread.
 */
#ifndef STRATA_SERVER_H
#define STRATA_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../storage/storage.h"
#include "config.h"
#include "resp.h"
#include "util.h"

#define STRATA_VERSION "0.1.0"
/* The Redis version we answer as (clients gate features on it). */
#define STRATA_REDIS_COMPAT_VERSION "7.0.15"

#define LOCK_STRIPES 1024           /* key lock stripes; power of two */
#define PROTO_IOBUF_LEN_BYTES (16 * 1024)
#define PROTO_REPLY_SHRINK_BYTES (64 * 1024) /* give back output buffers above this once drained */
#define SLOWLOG_ENTRY_MAX_ARGC 32
#define SLOWLOG_ENTRY_MAX_STRING 128
#define CRON_INTERVAL_MS 100
#define EXPIRE_CYCLE_KEYS 200       /* keys visited per active-expire pass */
#define SCAN_CURSOR_SLOTS 16384     /* remembered SCAN positions */
#define OBJ_ENCODING_EMBSTR_MAX 44

/* stMeta.flags bits owned by the server (storage keeps them opaque). */
#define META_FLAG_RAW 0x01   /* string was modified in place: OBJECT ENCODING says raw */
#define META_FLAG_NOINT 0x02 /* never int-encoded (INCRBYFLOAT results): embstr or raw */

/* ---- Command table ------------------------------------------------------ */

typedef struct client client;
typedef void commandProc(client *c);

/* Command flags, parsed from the flag words of commands.def. */
#define CMD_WRITE (1ULL << 0)    /* "write": may modify the keyspace */
#define CMD_READONLY (1ULL << 1) /* "readonly" */
#define CMD_DENYOOM (1ULL << 2)  /* "denyoom": refused past maxstorage */
#define CMD_ADMIN (1ULL << 3)    /* "admin" */
#define CMD_PUBSUB (1ULL << 4)   /* "pubsub" */
#define CMD_NOSCRIPT (1ULL << 5) /* "noscript" */
#define CMD_LOADING (1ULL << 6)  /* "loading": allowed while loading */
#define CMD_STALE (1ULL << 7)    /* "stale" */
#define CMD_FAST (1ULL << 8)     /* "fast" */
#define CMD_NO_AUTH (1ULL << 9)  /* "no_auth": allowed before AUTH */
#define CMD_GLOBAL (1ULL << 10)  /* "global": needs the keyspace lock exclusively */
#define CMD_NOKEYS (1ULL << 11)  /* "nokeys": touches no keys, takes no lock */
#define CMD_ALLKEYS (1ULL << 12) /* "allkeys": keys not at fixed positions (MSET etc. use step) */
#define CMD_SKIP_MONITOR (1ULL << 13) /* "skip_monitor": MONITOR sees it before it runs (EVAL) */
#define CMD_MOVABLEKEYS (1ULL << 14) /* "movablekeys": keys counted by a numkeys argument */

typedef struct redisCommand {
    const char *name;     /* lower case */
    commandProc *proc;
    int arity;            /* Redis convention: -N means at least N */
    const char *sflags;   /* space-separated flag words (COMMAND output) */
    const char *group;    /* COMMAND DOCS group */
    const char *args;     /* argument synopsis, parsed for COMMAND DOCS */
    int firstkey, lastkey, keystep;
    uint64_t flags;
    /* statistics (INFO commandstats), updated with relaxed atomics */
    _Atomic long long calls;
    _Atomic long long microseconds;
    _Atomic long long rejected_calls;
    _Atomic long long failed_calls;
} redisCommand;

/* ---- Clients ------------------------------------------------------------ */

/* client.flags */
#define CLIENT_CLOSE_AFTER_REPLY (1 << 0) /* QUIT, protocol errors */
#define CLIENT_CLOSE_ASAP (1 << 1)        /* killed or over a limit: close on the owner thread */
#define CLIENT_MONITOR (1 << 2)
#define CLIENT_REPLY_OFF (1 << 3)
#define CLIENT_REPLY_SKIP_NEXT (1 << 4)
#define CLIENT_REPLY_SKIP (1 << 5)
#define CLIENT_NO_EVICT (1 << 6)
#define CLIENT_PROTECTED (1 << 7)         /* connection refused by protected mode */
#define CLIENT_PUBSUB (1 << 8)            /* subscribed: pubsub output limits apply */
#define CLIENT_IN_CALL (1 << 9)
#define CLIENT_BLOCKED (1 << 10)          /* WAIT: no commands run until unblocked */
#define CLIENT_UNBLOCKED (1 << 11)        /* set by the unblocking thread; owner resumes input */
#define CLIENT_SCRIPT (1 << 12)           /* a thread's script client (script.c): call() takes no
                                           * lock for it, the running script holds them all */
#define CLIENT_MULTI (1 << 14)            /* between MULTI and EXEC/DISCARD: commands are queued */
#define CLIENT_IN_EXEC (1 << 15)          /* EXEC is running the queue: call() takes no lock, the
                                           * EXEC holds the keyspace lock exclusively */

struct strataThread;

struct client {
    uint64_t id;
    int fd;
    struct strataThread *thread;
    struct event *rev;            /* read readiness, persistent */
    struct event *wev;            /* write readiness, armed while output is pending */
    _Atomic int flags;            /* CLIENT_* */
    int db;
    int resp;                     /* 2 or 3 */
    int authenticated;
    char *name;                   /* CLIENT SETNAME, heap or NULL */
    char addr[64], laddr[64];
    uint64_t ctime_ms;            /* connection time */
    uint64_t last_interaction_ms;
    /* input */
    strbuf qbuf;                  /* unparsed bytes */
    size_t qpos;                  /* parsed prefix of qbuf */
    respReq req;                  /* parser state; holds argv of the current command */
    int argc;
    char **argv;
    size_t *argvlen;
    redisCommand *cmd, *lastcmd;
    char cmd_name[48];            /* current or last command as CLIENT LIST shows it ("config|get") */
    uint64_t cmd_time_ms;         /* wall clock at command start: one "now" per command */
    /* output */
    strbuf out;                   /* pending reply bytes; out.buf[opos..len) unsent */
    size_t opos;
    uint64_t obuf_soft_since_ms;  /* when the soft output limit was first exceeded, 0 = not */
    pthread_mutex_t xlock;        /* guards xout: replies posted from other threads */
    strbuf xout;
    int xqueued;                  /* in thread->xpending, under thread->xlock */
    int wqueued;                  /* in thread->wpending: replies wait for the group commit */
    uint64_t group_gen;           /* write group this client's replies belong to */
    size_t group_out_mark;        /* out.len when the client joined that group */
    int error_replies;            /* errors emitted by the current command */
    uint64_t net_in_bytes, net_out_bytes;
    uint64_t commands_processed;
    int repl_listening_port;      /* REPLCONF listening-port */
    /* pub/sub (cmd_pubsub.c): subscriptions, under its registry lock; the
     * counts are atomic so CLIENT LIST can read them from any thread */
    struct pubsubState *pubsub;   /* NULL until the first subscription */
    struct multiState *mstate;    /* MULTI queue and WATCHed keys (multi.c); NULL if none */
    struct blockState *bstate;    /* blocked on keys (blocking.c); set and freed by the owner
                                   * thread under blockLock, NULL when not blocked */
    _Atomic int pubsub_channels, pubsub_patterns;
    struct client *next, *prev;   /* global list, under server.clients_lock */
    struct client *tnext, *tprev; /* owner thread's list */
};

/* ---- Threads ------------------------------------------------------------ */

typedef struct strataThread {
    int idx;
    pthread_t tid;
    struct event_base *base;
    struct event *listeners[CFG_MAX_BIND * 2];
    int listen_fds[CFG_MAX_BIND * 2];
    int nlisteners;
    struct event *wake;           /* event_active()d from other threads */
    struct event *cron;
    client *clients;              /* this thread's clients */
    int nclients;
    client **wpending;            /* replies held until the write group commits */
    int nwpending, wpending_cap;
    pthread_mutex_t xlock;        /* guards xpending */
    client **xpending;            /* clients with replies posted from other threads */
    int nxpending, xpending_cap;
} strataThread;

/* ---- Slow log ----------------------------------------------------------- */

typedef struct slowlogEntry {
    long long id;
    uint64_t time_unix;
    long long duration_us;
    int argc;
    char **argv;
    size_t *argvlen;
    char *peer;
    char *cname;
} slowlogEntry;

/* ---- Server ------------------------------------------------------------- */

struct strataServer {
    stEngine *st;
    pid_t pid;
    char runid[41];
    char *executable;
    char *configfile;             /* absolute path or NULL */
    uint64_t start_ms;
    strataThread *threads;
    int nthreads;
    _Atomic int shutdown_asap;
    int shutdown_flush;           /* SHUTDOWN SAVE: flush memtables first */
    _Atomic int loading;
    /* locking */
    pthread_rwlock_t keyspace_lock;
    pthread_mutex_t stripes[LOCK_STRIPES];
    /* clients */
    pthread_mutex_t clients_lock;
    client *clients;
    _Atomic int nclients;
    _Atomic uint64_t next_client_id;
    client **monitors;            /* under monitors_lock */
    int nmonitors, monitors_cap;
    pthread_mutex_t monitors_lock;
    _Atomic int has_monitors;
    /* expiry */
    pthread_t expire_tid;
    _Atomic int active_expire_enabled;
    /* slowlog, under slowlog_lock */
    pthread_mutex_t slowlog_lock;
    slowlogEntry *slowlog;        /* ring of cfg.slowlog_max_len */
    size_t slowlog_len, slowlog_head, slowlog_cap;
    long long slowlog_next_id;
    /* statistics (INFO stats), relaxed atomics */
    _Atomic long long stat_numcommands;
    _Atomic long long stat_numconnections;
    _Atomic long long stat_rejected_conn;
    _Atomic long long stat_expiredkeys;
    _Atomic long long stat_evictedkeys;   /* deleted past maxstorage */
    _Atomic int storage_oom;              /* past maxstorage with nothing to delete */
    _Atomic long long stat_keyspace_hits;
    _Atomic long long stat_keyspace_misses;
    _Atomic long long stat_net_input_bytes;
    _Atomic long long stat_net_output_bytes;
    _Atomic long long stat_total_error_replies;
    _Atomic long long stat_client_qbuf_limit_disconnections;
    _Atomic long long stat_client_outbuf_limit_disconnections;
    _Atomic long long stat_unexpected_error_replies;
    uint64_t stat_reset_ms;
    uint64_t lastsave_unix;
    _Atomic long long dirty;      /* writes since start (rdb_changes_since_last_save) */
};

extern struct strataServer server;

/* ---- main.c ------------------------------------------------------------- */
void serverLog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void serverLogRaw(int level, const char *msg);
void serverPanic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- event.c ------------------------------------------------------------ */
int eventStartThreads(void);      /* listeners + loops; C_OK / C_ERR */
void eventRunMainThread(void);    /* runs thread 0's loop until shutdown */
void eventWakeThread(strataThread *t);
void eventStopAll(void);

/* ---- networking.c ------------------------------------------------------- */
void acceptClient(strataThread *t, int fd, const char *peer, const char *local, int is_loopback);
void freeClient(client *c);
void clientProcessInput(client *c);
void clientFlush(client *c);       /* write what can be written now, arm EV_WRITE otherwise */
void clientsBeforeSleep(strataThread *t); /* commit the write group, then write held replies */
void clientHandleWake(strataThread *t);
void clientsCron(strataThread *t, uint64_t now_ms);
void clientPostReply(client *c, const char *s, size_t len); /* any thread */
void clientKillAsync(client *c);   /* any thread, caller holds clients_lock */
void clientInfoString(client *c, strbuf *b, uint64_t now_ms);
size_t clientOutputPending(client *c);
void monitorFeed(client *c);
int clientCheckOutputLimits(client *c, uint64_t now_ms);

void addReplyRaw(client *c, const char *s, size_t len);
void addReplyStatus(client *c, const char *s);
void addReplyError(client *c, const char *err);       /* err without '-'; "ERR " added if no code */
void addReplyErrorFormat(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void addReplyErrorArity(client *c);
void addReplyErrorSyntax(client *c);
void addReplyErrorNotInt(client *c);
void addReplyErrorWrongType(client *c);
void addReplySubcommandSyntaxError(client *c);
void addReplyLongLong(client *c, long long v);
void addReplyBulk(client *c, const char *s, size_t len);
void addReplyBulkStr(client *c, const char *s);
void addReplyBulkLongLong(client *c, long long v);
void addReplyNull(client *c);
void addReplyNullArray(client *c);
void addReplyArrayLen(client *c, long n);
void addReplyMapLen(client *c, long n);
void addReplySetLen(client *c, long n);
void addReplyDouble(client *c, double d);
void addReplyBool(client *c, int v);
void addReplyVerbatim(client *c, const char *s, size_t len, const char *fmt3);
void addReplyOk(client *c);
void addReplyObjValue(client *c, const stObj *o);

/* ---- commands.c --------------------------------------------------------- */
void commandsInit(void);
redisCommand *commandLookup(const char *name, size_t len);
void call(client *c);              /* locks, runs, accounts one command */
int callFlushGroup(void);          /* commits this thread's open write group */
void callForgetClient(client *c);  /* a client being freed leaves the open group */
void callThreadExit(void);         /* frees the thread's group bookkeeping at loop end */
stBatch *callGroupBatch(void);     /* this thread's open group batch, or NULL */
void commandsForEach(void (*fn)(void *ud, redisCommand *cmd), void *ud);
int commandsCount(void);
void commandsResetStats(void);
void commandReplyInfo(client *c, redisCommand *cmd);
void commandReplyDocs(client *c, redisCommand *cmd);
int commandArgIsSecret(client *c, int i);
void callTxnBegin(void);         /* EXEC: the queued commands share one batch */
int callTxnEnd(char **err);      /* commits it: C_OK, or C_ERR with *err (caller frees) */
int callHoldsReplies(void);      /* a write group's replies must wait for its commit */
void setCommandNameOf(client *c, redisCommand *cmd);

/* ---- db.c --------------------------------------------------------------- */
#define LOOKUP_NONE 0
#define LOOKUP_NOTOUCH (1 << 0)   /* not an access: no hit/miss count, access time kept (stPeek) */
#define LOOKUP_WRITE (1 << 1)     /* the caller writes the key (lookupKeyWrite) */
stObj *lookupKeyRead(client *c, const char *key, size_t klen);
stObj *lookupKeyWrite(client *c, const char *key, size_t klen);
stObj *lookupKeyDb(client *c, int db, const char *key, size_t klen, int flags);
int keyIsExpired(const stObj *o, uint64_t now_ms);
stBatch *dbBatch(client *c);
void dbBatchDiscard(client *c, stBatch *b);
int commitOrReply(client *c, stBatch *b);
void dbDeleteExpired(int db, const char *key, size_t klen, const stObj *o);
int selectDbOrReply(client *c, const char *arg, size_t len, int *db);
int getExpireAtOrReply(client *c, const char *arg, size_t len, int unit_seconds, int relative,
                       int positive_only, long long *at_ms);
int writeKey(client *c, int db, const char *key, size_t klen, const stObj *old, stObj *obj);
int deleteKey(client *c, int db, const char *key, size_t klen, const stObj *old);
stObj *newStringObj(const char *val, size_t vlen, uint64_t expire_ms, uint8_t flags);
const char *typeName(int type);
int lookupTypedOrReply(client *c, const char *key, size_t klen, int type, int write,
                       stObj **out);
stColl *collOpenRead(client *c, int db, const char *key, size_t klen, const stObj *o, int type);
stColl *collOpenWrite(client *c, stBatch *b, const char *key, size_t klen, const stObj *o,
                      int type);
void dbCopyCollection(stBatch *b, const stObj *src, int srcdb, const char *skey, size_t sklen,
                      int dstdb, const char *dkey, size_t dklen);
/* SCAN-family cursors (cmd_keys.c): an id for a resume position (the
 * successor of key), and back. */
uint64_t scanSave(const char *key, size_t klen);
int scanLoad(uint64_t id, char **key, size_t *klen);
void collScanGeneric(client *c, int type); /* HSCAN SSCAN ZSCAN */
void lockKeyStripe(const char *key, size_t len, int lock);
/* commands.c: the stripes of n keys, ascending and de-duplicated (blocking.c) */
void lockKeyStripes(const char *const *keys, const size_t *lens, int n, int lock);
void expireStartThread(void);
void expireStopThread(void);

/* ---- parsing helpers (networking.c) ------------------------------------- */
int getLongLongOrReply(client *c, const char *s, size_t len, long long *out, const char *msg);
int getPositiveLongOrReply(client *c, const char *s, size_t len, long long *out, const char *msg);
int getRangeLongOrReply(client *c, const char *s, size_t len, long long min, long long max,
                        long long *out, const char *msg);
int getDoubleOrReply(client *c, const char *s, size_t len, double *out, const char *msg);
int argIs(client *c, int i, const char *word); /* case-insensitive compare of argv[i] */

/* ---- notify.c: keyspace notifications (NOTIFY_* flags: config.h) ------- */
/* After a successful write: publishes `event` for key (db) on the keyspace
 * and keyevent channels if class `type` is enabled.  Any thread. */
void notifyKeyspaceEvent(int type, const char *event, const char *key, size_t klen, int db);

/* ---- multi.c: MULTI/EXEC/WATCH ------------------------------------------ */
/* call() asks before running a command: 1 when it was queued (or refused
 * inside MULTI) and replied to. */
int multiQueueIfNeeded(client *c, redisCommand *cmd);
void multiFlagRejected(client *c); /* a command refused while in MULTI */
void multiClientReset(client *c);  /* RESET, freeClient: drop queue and watches */

/* ---- blocking.c: clients blocked on keys (BLPOP & co.) ----------------- */
/* What a blocked command's serve function returns (blockForKeys). */
#define BLOCK_SERVED 0 /* it popped and replied: the client unblocks */
#define BLOCK_SKIP 1   /* the key holds another type: offer it to the next waiter */
#define BLOCK_STOP 2   /* the key is empty or gone: nobody else can be served now */
/* Serves a blocked client from `key`, which may have become ready.  Runs on
 * any thread, on a proxy client carrying the blocked command (argv, db,
 * resp, cmd), under the keyspace lock and the stripes of key and of the
 * extra key given to blockForKeys(); writes through dbBatch/commitOrReply
 * and replies with the usual addReply* calls. */
typedef int blockServeProc(client *c, const char *key, size_t klen);
/* Whether c may block (scripts and EXEC run blocking commands without
 * blocking, as Redis). */
int blockingAllowed(client *c);
/* Parses a blocking timeout in seconds as Redis 7.0 ("timeout is not a
 * float or out of range", "timeout is negative"): *deadline_ms is the
 * absolute wall-clock deadline, 0 for none. */
int getBlockTimeoutOrReply(client *c, const char *arg, size_t len, uint64_t *deadline_ms);
/* Inside a command: blocks c on the keys (of c->db), replying nothing now.
 * serve runs when a key may be ready; extra (may be NULL) is another key
 * serve writes (BLMOVE's destination).  At the deadline (0: never) the
 * client gets a null array. */
void blockForKeys(client *c, int nkeys, char *const *keys, const size_t *klens,
                  uint64_t deadline_ms, blockServeProc *serve, const char *extra, size_t elen);
/* "Key of db may be ready": call after queueing any write that may make a
 * key non-empty (pushes, LMOVE's destination, a collection created by
 * RENAME/COPY/MOVE, ZADD ...), any type, any thread, inside scripts and EXEC
 * too.  Cheap; the waiters are served at the end of the top-level command. */
void signalKeyAsReady(int db, const char *key, size_t klen);
/* Every key of db somebody is blocked on may be ready (SWAPDB). */
void signalDbAsReady(int db);
/* call(): serve the keys this thread signalled (commits its write group
 * first).  c: the client whose command just ran (its thread), or NULL. */
void blockingHandleReady(client *c);
void blockClientResumed(client *c); /* networking.c: owner resumes an unblocked client */
void blockClientFree(client *c);    /* freeClient(): forget a blocked client */
/* CLIENT UNBLOCK: 1 if c was blocked on keys (it gets a null array, or
 * -UNBLOCKED with error).  Caller holds clients_lock. */
int blockUnblockClient(client *c, int error);
int blockedClients(int *with_timeout); /* INFO: blocked (and with a timeout) */

/* ---- cmd_pubsub.c ------------------------------------------------------- */
long long pubsubPublishMessage(const char *ch, size_t chlen, const char *msg, size_t mlen);
void pubsubClientReset(client *c); /* RESET: drop all subscriptions quietly; owner thread */
void pubsubClientFree(client *c);  /* freeClient: leave the registry first; owner thread */
void pubsubStats(long long *channels, long long *patterns); /* INFO stats */

/* ---- memory.c ----------------------------------------------------------- */
size_t memRss(void);                 /* resident set size from /proc */
size_t memAllocated(size_t *resident); /* jemalloc stats.allocated (and .resident) */
size_t memPeak(size_t used);         /* records used, returns the peak so far */
int memPurge(void);                  /* MEMORY PURGE */
size_t memHotsetBudget(void);        /* the hot set's budget now */
/* RocksDB's block cache and memtable budget under maxmemory (0 = storage's
 * defaults), CONFIG overrides applied; the hot set's share follows from them. */
void memStorageSizes(size_t *block_cache, size_t *write_buffer);
size_t memHotsetShare(void);         /* its share of maxmemory */
int memStorageRefuses(void);         /* a write would pass maxstorage: -OOM */
void memApplySettings(void);         /* maxmemory / policy changed */
void memStartKeeper(void);
void memStopKeeper(void);

/* ---- script.c / cmd_script.c (Lua scripting) ---------------------------- */
int scriptIsBusy(void);             /* a script passed busy-reply-threshold: answer -BUSY */
void scriptThreadExit(void);        /* frees this thread's interpreter; at loop end */
client *createScriptClient(strataThread *t); /* networking.c: a script client, no socket */
void freeScriptClient(client *c);

/* ---- cmd_repl.c --------------------------------------------------------- */
int replicationInit(void);         /* after storage opened; C_OK / C_ERR */
void replicationReconfigure(void); /* cfg changed: forward the settings */

/* ---- slowlog.c / debug.c / info.c --------------------------------------- */
void slowlogInit(void);
void slowlogPush(client *c, long long duration_us);
void genInfoString(client *c, strbuf *b, const char *section);
int computeDatasetDigest(unsigned char digest[20]);
const char *objectEncodingName(const stObj *o);
void keyDigest(int db, const char *key, size_t klen, const stObj *o, unsigned char out[20]);

#endif

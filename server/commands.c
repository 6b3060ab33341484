/* commands.c - the command table built from commands.def, command lookup,
 * call() (authentication, arity, key locks, statistics, slow log, MONITOR),
 * and the COMMAND command (COUNT, INFO, DOCS, LIST) generated from the table.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../replication/repl.h"
#include "server.h"

/* ========================== The table ===================================== */

#define CMD(name, proc, arity, flags, first, last, step, group, args) void proc(client *c);
#include "commands.def"
#undef CMD

static redisCommand commandTable[] = {
#define CMD(name, proc, arity, flags, first, last, step, group, args) \
    {name, proc, arity, flags, group, args, first, last, step, 0, 0, 0, 0, 0},
#include "commands.def"
#undef CMD
};
#define NUM_COMMANDS ((int)(sizeof(commandTable) / sizeof(commandTable[0])))

/* Open-addressing index from lower-case name to command. */
#define CMD_INDEX_SIZE 512
static redisCommand *commandIndex[CMD_INDEX_SIZE];

static uint32_t nameHash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)tolower((unsigned char)s[i])) * 16777619u;
    return h;
}

static uint64_t parseFlagWords(const char *s)
{
    static const struct {
        const char *w;
        uint64_t f;
    } words[] = {{"write", CMD_WRITE},     {"readonly", CMD_READONLY}, {"denyoom", CMD_DENYOOM},
                 {"admin", CMD_ADMIN},     {"pubsub", CMD_PUBSUB},     {"noscript", CMD_NOSCRIPT},
                 {"loading", CMD_LOADING}, {"stale", CMD_STALE},       {"fast", CMD_FAST},
                 {"no_auth", CMD_NO_AUTH}, {"global", CMD_GLOBAL},     {"nokeys", CMD_NOKEYS},
                 /* Redis words shown by COMMAND INFO; only skip_monitor acts here */
                 {"skip_monitor", CMD_SKIP_MONITOR}, {"no_mandatory_keys", 0},
                 {"movablekeys", CMD_MOVABLEKEYS}, {"blocking", 0}};
    uint64_t f = 0;
    while (*s) {
        while (*s == ' ') s++;
        const char *e = s;
        while (*e && *e != ' ') e++;
        int known = 0;
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
            if (strlen(words[i].w) == (size_t)(e - s) && !strncmp(words[i].w, s, e - s)) {
                f |= words[i].f;
                known = 1;
            }
        }
        if (!known && e > s) serverPanic("commands.def: unknown flag word '%.*s'", (int)(e - s), s);
        s = e;
    }
    return f;
}

void commandsInit(void)
{
    for (int i = 0; i < NUM_COMMANDS; i++) {
        redisCommand *cmd = &commandTable[i];
        cmd->flags = parseFlagWords(cmd->sflags);
        uint32_t h = nameHash(cmd->name, strlen(cmd->name)) & (CMD_INDEX_SIZE - 1);
        while (commandIndex[h]) h = (h + 1) & (CMD_INDEX_SIZE - 1);
        commandIndex[h] = cmd;
    }
}

redisCommand *commandLookup(const char *name, size_t len)
{
    uint32_t h = nameHash(name, len) & (CMD_INDEX_SIZE - 1);
    while (commandIndex[h]) {
        redisCommand *cmd = commandIndex[h];
        if (strlen(cmd->name) == len && strncasecmp(cmd->name, name, len) == 0) return cmd;
        h = (h + 1) & (CMD_INDEX_SIZE - 1);
    }
    return NULL;
}

void commandsForEach(void (*fn)(void *ud, redisCommand *cmd), void *ud)
{
    for (int i = 0; i < NUM_COMMANDS; i++) fn(ud, &commandTable[i]);
}

int commandsCount(void)
{
    return NUM_COMMANDS;
}

void commandsResetStats(void)
{
    for (int i = 0; i < NUM_COMMANDS; i++) {
        atomic_store(&commandTable[i].calls, 0);
        atomic_store(&commandTable[i].microseconds, 0);
        atomic_store(&commandTable[i].rejected_calls, 0);
        atomic_store(&commandTable[i].failed_calls, 0);
    }
}

/* ========================== Key locks ===================================== */

static uint32_t stripeOf(const char *key, size_t len)
{
    /* FNV-1a over the key only (not the db), so MOVE and COPY ... DB n between
     * databases stay within the stripes they locked. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)key[i]) * 16777619u;
    return h & (LOCK_STRIPES - 1);
}

static int cmpU32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Collects the sorted, de-duplicated stripes of the command's keys into out
 * (capacity LOCK_STRIPES).  Returns how many. */
static int commandStripes(client *c, uint32_t *out)
{
    redisCommand *cmd = c->cmd;
    if (cmd->firstkey <= 0) return 0;
    int last = cmd->lastkey < 0 ? c->argc + cmd->lastkey : cmd->lastkey;
    if (last >= c->argc) last = c->argc - 1;
    int n = 0;
    for (int i = cmd->firstkey; i <= last && n < LOCK_STRIPES; i += cmd->keystep)
        out[n++] = stripeOf(c->argv[i], c->argvlen[i]);
    if (n > 1) {
        qsort(out, n, sizeof(uint32_t), cmpU32);
        int m = 1;
        for (int i = 1; i < n; i++)
            if (out[i] != out[m - 1]) out[m++] = out[i];
        n = m;
    }
    return n;
}

/* Locks (lock=1) or unlocks the stripe of one key; used by the expire cycle. */
void lockKeyStripe(const char *key, size_t len, int lock)
{
    pthread_mutex_t *m = &server.stripes[stripeOf(key, len)];
    if (lock) pthread_mutex_lock(m);
    else pthread_mutex_unlock(m);
}

/* Locks (ascending) or unlocks (descending) the stripes of up to
 * LOCK_STRIPES keys, each once: how blocking.c serves a blocked client
 * outside call().  The caller holds no other stripe when locking. */
void lockKeyStripes(const char *const *keys, const size_t *lens, int n, int lock)
{
    uint32_t s[LOCK_STRIPES];
    int m = 0;
    for (int i = 0; i < n && m < LOCK_STRIPES; i++) s[m++] = stripeOf(keys[i], lens[i]);
    qsort(s, m, sizeof(uint32_t), cmpU32);
    int u = m ? 1 : 0;
    for (int i = 1; i < m; i++)
        if (s[i] != s[u - 1]) s[u++] = s[i];
    if (lock) {
        for (int i = 0; i < u; i++) pthread_mutex_lock(&server.stripes[s[i]]);
    } else {
        for (int i = u - 1; i >= 0; i--) pthread_mutex_unlock(&server.stripes[s[i]]);
    }
}

/* ========================== Group commit ================================== */

/* The commands a thread runs in one pass of its event loop (every client that
 * was ready, all pipelined commands of each) share one WriteBatch: one WAL
 * write (one fsync with appendfsync always) and one origin sequence for the
 * whole group instead of one per command.  Replies are written to the socket
 * only after the group commits (networking.c holds them), so no client sees an
 * acknowledgement of a write that is not in the WAL.
 *
 *   closed --callGroupable command--> open: keyspace read lock + the command's
 *            stripes locked (blocking, ascending: nothing else is held)
 *   open   --next command's stripes all acquired with trylock--> open
 *   open   --a stripe is busy / a non-groupable command / end of the loop
 *            pass (clientsBeforeSleep) / group full--> callFlushGroup():
 *            commit, unlock --> closed
 *
 * Invariants:
 *  1. While a group is open its thread holds the stripes of every key the group
 *     wrote, so no other thread reads or writes those keys before the commit;
 *     commands inside the group read their own writes through stBatchGet().
 *  2. A thread blocks on a lock only while it holds no stripe (first command of
 *     a group, or after a flush); later stripes are only try-locked.  So two
 *     threads can never wait on each other: no deadlock.
 *  3. A group lives within one pass of one thread's loop; networking.c writes
 *     no reply while a group is open on its thread.
 *  4. If the commit fails, each member client's replies generated since it
 *     joined the group are replaced by one error and its connection is closed
 *     after it.
 */
#define GROUP_MAX_EFFECTS 256  /* stBatchGet is a linear scan: keep groups short */
#define GROUP_MAX_STRIPES 256

typedef struct cmdGroup {
    stBatch *batch;          /* NULL when no group is open */
    int txn;                 /* > 0: batch is a transaction's (callTxnBegin depth) */
    uint64_t gen;            /* identifies the open group (client.group_gen) */
    client **clients;        /* members: clients whose replies wait for it */
    int nclients, clients_cap;
    int nstripes;
    uint32_t stripes[GROUP_MAX_STRIPES];
    uint64_t held[LOCK_STRIPES / 64]; /* bitmap of the stripes in stripes[] */
} cmdGroup;

static __thread cmdGroup group;

stBatch *callGroupBatch(void)
{
    return group.batch;
}

static int groupHolds(uint32_t s)
{
    return (group.held[s / 64] >> (s % 64)) & 1;
}

static void groupMarkHeld(uint32_t s)
{
    group.held[s / 64] |= 1ULL << (s % 64);
    group.stripes[group.nstripes++] = s;
}

/* Commands that may join a group: they touch only keys named in their
 * arguments (so the stripes cover everything they read or write). */
static int groupable(redisCommand *cmd)
{
    return cmd->firstkey > 0 && !(cmd->flags & (CMD_GLOBAL | CMD_NOKEYS)) &&
           (cmd->flags & (CMD_WRITE | CMD_READONLY));
}

/* Try-locks the stripes the open group does not hold yet.  Returns 0 when one
 * is busy (the ones taken stay held until the flush releases them). */
static int groupTryAdd(const uint32_t *stripes, int n)
{
    for (int i = 0; i < n; i++) {
        if (groupHolds(stripes[i])) continue;
        if (group.nstripes == GROUP_MAX_STRIPES) return 0;
        if (pthread_mutex_trylock(&server.stripes[stripes[i]]) != 0) return 0;
        groupMarkHeld(stripes[i]);
    }
    return 1;
}

/* ========================== Busy scripts ================================== */

/* A Lua script (script.c) runs holding the keyspace lock exclusively.  Once
 * it has run for busy-reply-threshold ms it is "busy": every other command is
 * answered -BUSY at once, decided before any lock is taken, and a thread
 * already waiting for the keyspace lock stops waiting and answers -BUSY too,
 * so that it keeps serving its connections (SCRIPT KILL must get through).
 * That is script.c's invariant 5; this section is its call() half. */
#define KEYSPACE_WAIT_SLICE_MS 10 /* how often a waiting thread looks at the busy flag */

static const char busyError[] =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/* The commands Redis 7.0 lets through while a script is busy (its
 * "allow_busy" ones that Strata has; SHUTDOWN only with NOSAVE or ABORT). */
static int allowedWhileBusy(client *c, redisCommand *cmd)
{
    if (cmd->proc == authCommand || cmd->proc == helloCommand || cmd->proc == quitCommand ||
        cmd->proc == resetCommand || cmd->proc == multiCommand || cmd->proc == discardCommand ||
        cmd->proc == watchCommand || cmd->proc == unwatchCommand)
        return 1;
    if (cmd->proc == scriptCommand) return argIs(c, 1, "kill");
    if (cmd->proc == shutdownCommand) {
        for (int i = 1; i < c->argc; i++)
            if (argIs(c, i, "nosave") || argIs(c, i, "abort")) return 1;
    }
    return 0;
}

/* Takes the keyspace lock (exclusive or shared).  C_ERR when a script
 * became busy while this thread waited: the lock is not held then. */
static int keyspaceLockUnlessBusy(int exclusive)
{
    pthread_rwlock_t *l = &server.keyspace_lock;
    if ((exclusive ? pthread_rwlock_trywrlock(l) : pthread_rwlock_tryrdlock(l)) == 0) return C_OK;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += KEYSPACE_WAIT_SLICE_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int rc = exclusive ? pthread_rwlock_timedwrlock(l, &ts) : pthread_rwlock_timedrdlock(l, &ts);
        if (rc == 0) return C_OK;
        if (rc != ETIMEDOUT) serverPanic("keyspace lock: error %d", rc);
        if (scriptIsBusy()) return C_ERR;
    }
}

/* Opens a group: keyspace lock (shared) and the stripes.  C_ERR (nothing
 * held) when a busy script made it give up. */
static int groupOpen(const uint32_t *stripes, int n)
{
    if (keyspaceLockUnlessBusy(0) != C_OK) return C_ERR;
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&server.stripes[stripes[i]]);
        groupMarkHeld(stripes[i]);
    }
    group.batch = stBatchNew(server.st);
    group.gen++;
    return C_OK;
}

/* Records c as a member of the open group, remembering where its replies
 * for this group start (invariant 4). */
static void groupJoin(client *c)
{
    if (c->group_gen == group.gen) return;
    c->group_gen = group.gen;
    c->group_out_mark = c->out.len;
    if (group.nclients == group.clients_cap) {
        group.clients_cap = group.clients_cap ? group.clients_cap * 2 : 16;
        group.clients = realloc(group.clients, group.clients_cap * sizeof(client *));
    }
    group.clients[group.nclients++] = c;
}

/* Frees this thread's group bookkeeping; called once when its loop ends. */
void callThreadExit(void)
{
    callFlushGroup();
    free(group.clients);
    group.clients = NULL;
    group.nclients = group.clients_cap = 0;
    scriptThreadExit();
}

void callForgetClient(client *c)
{
    if (!group.batch || c->group_gen != group.gen) return;
    for (int i = 0; i < group.nclients; i++) {
        if (group.clients[i] == c) {
            group.clients[i] = group.clients[--group.nclients];
            break;
        }
    }
    c->group_gen = 0;
}

/* Commits the open group (if any) and releases its locks.  C_ERR when the
 * commit failed (the client was told and will be closed, invariant 4). */
int callFlushGroup(void)
{
    /* A transaction's batch is committed by callTxnEnd(), never here. */
    if (group.txn || (!group.batch && !group.nstripes)) return C_OK;
    int rc = C_OK;
    if (group.batch) {
        char *err = NULL;
        if (stBatchCommit(group.batch, &err) != C_OK) {
            serverLog(LL_WARNING, "Group write failed: %s", err ? err : "?");
            for (int i = 0; i < group.nclients; i++) {
                client *c = group.clients[i];
                if (c->out.len >= c->group_out_mark) c->out.len = c->group_out_mark;
                atomic_fetch_and(&c->flags, ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP));
                addReplyErrorFormat(c, "storage write failed: %s", err ? err : "unknown error");
                atomic_fetch_or(&c->flags, CLIENT_CLOSE_AFTER_REPLY);
            }
            rc = C_ERR;
        }
        free(err);
        group.batch = NULL;
    }
    for (int i = group.nstripes - 1; i >= 0; i--) {
        uint32_t s = group.stripes[i];
        group.held[s / 64] &= ~(1ULL << (s % 64));
        pthread_mutex_unlock(&server.stripes[s]);
    }
    group.nstripes = 0;
    for (int i = 0; i < group.nclients; i++) group.clients[i]->group_gen = 0;
    group.nclients = 0;
    pthread_rwlock_unlock(&server.keyspace_lock);
    return rc;
}

static void setCommandName(client *c, redisCommand *cmd);

/* A transaction's batch (multi.c invariant 2): the thread's group batch for
 * the duration of EXEC, so the queued commands write into it and read from
 * it through callGroupBatch(), but with no stripes and no keyspace lock of
 * its own (EXEC holds the lock exclusively) and no member clients. */
void callTxnBegin(void)
{
    if (group.txn++) return; /* EVAL inside EXEC: one batch for both */
    callFlushGroup();
    group.batch = stBatchNew(server.st);
    group.gen++;
}

int callTxnEnd(char **err)
{
    if (err) *err = NULL;
    if (--group.txn > 0) return C_OK;
    stBatch *b = group.batch;
    group.batch = NULL;
    return b ? stBatchCommit(b, err) : C_OK;
}

/* Whether replies must wait: a write group is open whose commit has not
 * happened.  A transaction's replies are produced only after its commit,
 * and what other clients get meanwhile (-BUSY during a script) shows no
 * write. */
int callHoldsReplies(void)
{
    return group.batch && !group.txn;
}

void setCommandNameOf(client *c, redisCommand *cmd)
{
    setCommandName(c, cmd);
}

/* ========================== call() ======================================== */

/* Redis's preview: arguments quoted until the preview reaches 128 bytes, each
 * cut to what is left of that budget. */
static void replyUnknownCommand(client *c)
{
    strbuf args, b;
    sbInit(&args);
    sbInit(&b);
    sbAppend(&args, "", 0);
    for (int i = 1; i < c->argc && args.len < 128; i++)
        sbPrintf(&args, "'%.*s' ", 128 - (int)args.len, c->argv[i]);
    sbPrintf(&b, "unknown command '%.128s', with args beginning with: %s", c->argv[0],
             args.buf ? args.buf : "");
    addReplyError(c, b.buf);
    sbFree(&args);
    sbFree(&b);
}

/* Redis 7.0's container commands: CLIENT LIST shows them as "name|sub". */
static const char *const containerCommands[] = {
    "acl",    "client", "cluster", "command", "config", "function", "latency", "memory",
    "module", "object", "pubsub",  "script",  "slowlog", "xgroup",  "xinfo",   NULL};

/* Records the command's full name for CLIENT LIST (before it runs, as Redis
 * does, so a client listing itself sees "client|list"). */
static void setCommandName(client *c, redisCommand *cmd)
{
    char *buf = c->cmd_name;
    size_t size = sizeof(c->cmd_name), n;
    if (!cmd) {
        buf[0] = '\0';
        return;
    }
    n = (size_t)snprintf(buf, size, "%s", cmd->name);
    if (c->argc < 2 || n >= size - 2) return;
    for (int i = 0; containerCommands[i]; i++) {
        if (strcmp(containerCommands[i], cmd->name)) continue;
        buf[n++] = '|';
        for (size_t j = 0; j < c->argvlen[1] && n < size - 1; j++)
            buf[n++] = (char)tolower((unsigned char)c->argv[1][j]);
        buf[n] = '\0';
        break;
    }
}

/* Whether argument i is a secret that MONITOR and the slow log must not
 * show: AUTH's arguments and HELLO's AUTH username and password. */
int commandArgIsSecret(client *c, int i)
{
    if (argIs(c, 0, "auth")) return i >= 1;
    if (!argIs(c, 0, "hello")) return 0;
    for (int j = 2; j < c->argc; j++) {
        if (argIs(c, j, "auth") && j + 2 < c->argc) {
            if (i == j + 1 || i == j + 2) return 1;
            j += 2;
        } else if (argIs(c, j, "setname")) {
            j++;
        }
    }
    return 0;
}

static int arityOk(redisCommand *cmd, int argc)
{
    return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

/* call() serves two kinds of clients.  Connections: the checks below, then
 * the locks (a write group, the keyspace lock exclusively for "global"
 * commands, or shared plus the key stripes).  A script client (CLIENT_SCRIPT,
 * redis.call() in script.c): the nested path, which takes no lock because the
 * running script holds the keyspace lock exclusively, joins no group, is never
 * refused as -BUSY and keeps the script's command time. */
void call(client *c)
{
    int nested = (atomic_load(&c->flags) & (CLIENT_SCRIPT | CLIENT_IN_EXEC)) != 0;
    redisCommand *cmd = commandLookup(c->argv[0], c->argvlen[0]);
    c->cmd = cmd;
    c->error_replies = 0;
    atomic_fetch_add_explicit(&server.stat_numcommands, 1, memory_order_relaxed);
    c->commands_processed++;
    setCommandName(c, cmd);
    if (!cmd) {
        replyUnknownCommand(c);
        goto rejected;
    }
    if (!arityOk(cmd, c->argc)) {
        addReplyErrorArity(c);
        atomic_fetch_add_explicit(&cmd->rejected_calls, 1, memory_order_relaxed);
        goto rejected;
    }
    if (!c->authenticated && !(cmd->flags & CMD_NO_AUTH)) {
        addReplyError(c, "NOAUTH Authentication required.");
        atomic_fetch_add_explicit(&cmd->rejected_calls, 1, memory_order_relaxed);
        goto rejected;
    }
    /* RESP2 has no out-of-band type: a subscribed RESP2 client can only tell
     * replies from messages while it sends commands whose replies look like
     * messages (Redis 7.0's processCommand()). */
    if ((atomic_load(&c->flags) & CLIENT_PUBSUB) && c->resp == 2 && cmd->proc != pingCommand &&
        cmd->proc != subscribeCommand && cmd->proc != unsubscribeCommand &&
        cmd->proc != psubscribeCommand && cmd->proc != punsubscribeCommand &&
        cmd->proc != quitCommand && cmd->proc != resetCommand) {
        addReplyErrorFormat(c,
                            "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                            "QUIT / RESET are allowed in this context",
                            c->cmd_name);
        atomic_fetch_add_explicit(&cmd->rejected_calls, 1, memory_order_relaxed);
        goto rejected;
    }
    if ((cmd->flags & CMD_WRITE) && cfg.replica_read_only && replIsReplica()) {
        addReplyError(c, "READONLY You can't write against a read only replica.");
        atomic_fetch_add_explicit(&cmd->rejected_calls, 1, memory_order_relaxed);
        goto rejected;
    }
    if ((cmd->flags & CMD_DENYOOM) && memStorageRefuses()) {
        addReplyError(c, "OOM command not allowed when used storage > 'maxstorage'.");
        atomic_fetch_add_explicit(&cmd->rejected_calls, 1, memory_order_relaxed);
        goto rejected;
    }
    if (atomic_load(&server.loading) && !(cmd->flags & CMD_LOADING)) {
        addReplyError(c, "LOADING Redis is loading the dataset in memory");
        atomic_fetch_add_explicit(&cmd->rejected_calls, 1, memory_order_relaxed);
        goto rejected;
    }
    if ((atomic_load(&c->flags) & CLIENT_MONITOR) && (cmd->flags & (CMD_WRITE | CMD_READONLY))) {
        /* A MONITOR connection is a replica in Redis's eyes. */
        addReplyError(c, "Replica can't interact with the keyspace");
        atomic_fetch_add_explicit(&cmd->rejected_calls, 1, memory_order_relaxed);
        goto rejected;
    }
    if (!nested && scriptIsBusy() && !allowedWhileBusy(c, cmd)) goto busy;
    /* Between MULTI and EXEC a command that passed the checks is queued. */
    if (multiQueueIfNeeded(c, cmd)) goto skip_reply_flags;

    uint32_t stripes[LOCK_STRIPES];
    int nstripes = 0, grouped = !nested && groupable(cmd);
    if (grouped) {
        nstripes = commandStripes(c, stripes);
        if (nstripes > GROUP_MAX_STRIPES) grouped = 0; /* huge MSET/DEL: run alone */
    }
    int keyspace_locked = 0; /* this call took the keyspace lock itself */
    if (nested) {
        /* the script holds every lock (see above) */
    } else if (grouped) {
        if (group.batch && !groupTryAdd(stripes, nstripes)) callFlushGroup();
        if (!group.batch && groupOpen(stripes, nstripes) != C_OK) goto busy;
        groupJoin(c);
        nstripes = 0; /* released by callFlushGroup(), not below */
    } else {
        /* Also what a script needs: no group of this thread open under it. */
        callFlushGroup();
        if (cmd->flags & CMD_GLOBAL) {
            if (keyspaceLockUnlessBusy(1) != C_OK) goto busy;
            keyspace_locked = 1;
        } else if (!(cmd->flags & CMD_NOKEYS)) {
            if (keyspaceLockUnlessBusy(0) != C_OK) goto busy;
            keyspace_locked = 1;
            if (!nstripes) nstripes = commandStripes(c, stripes);
            for (int i = 0; i < nstripes; i++) pthread_mutex_lock(&server.stripes[stripes[i]]);
        }
    }
    /* EVAL shows in MONITOR before the commands its script runs. */
    if ((cmd->flags & CMD_SKIP_MONITOR) &&
        atomic_load_explicit(&server.has_monitors, memory_order_relaxed))
        monitorFeed(c);
    uint64_t start = monotonic_us();
    if (!nested) c->cmd_time_ms = mstime();
    atomic_fetch_or(&c->flags, CLIENT_IN_CALL);
    cmd->proc(c);
    atomic_fetch_and(&c->flags, ~CLIENT_IN_CALL);
    long long dur = (long long)(monotonic_us() - start);
    for (int i = nstripes - 1; i >= 0; i--) pthread_mutex_unlock(&server.stripes[stripes[i]]);
    if (grouped) {
        if (stBatchSize(group.batch) >= GROUP_MAX_EFFECTS) callFlushGroup();
    } else if (keyspace_locked) {
        pthread_rwlock_unlock(&server.keyspace_lock);
    }
    /* Clients blocked on keys this command made ready (blocking.c, 5). */
    if (!nested) blockingHandleReady(c);

    atomic_fetch_add_explicit(&cmd->calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&cmd->microseconds, dur, memory_order_relaxed);
    if (c->error_replies) atomic_fetch_add_explicit(&cmd->failed_calls, 1, memory_order_relaxed);
    /* Admin commands are logged too, as Redis does; AUTH and HELLO secrets
     * are redacted by slowlogPush(). */
    if (cfg.slowlog_log_slower_than >= 0 && dur >= cfg.slowlog_log_slower_than)
        slowlogPush(c, dur);
    c->lastcmd = cmd;
    /* Fed after the command, like Redis: "[5 ...]" after SELECT 5. */
    if (atomic_load_explicit(&server.has_monitors, memory_order_relaxed) &&
        !(cmd->flags & (CMD_ADMIN | CMD_SKIP_MONITOR)))
        monitorFeed(c);
    if (!nested && clientOutputPending(c)) {
        /* obuf_soft_since_ms is shared with posting threads: take xlock. */
        pthread_mutex_lock(&c->xlock);
        clientCheckOutputLimits(c, c->cmd_time_ms);
        pthread_mutex_unlock(&c->xlock);
    }

    goto skip_reply_flags;
busy:
    addReplyError(c, busyError);
    atomic_fetch_add_explicit(&cmd->rejected_calls, 1, memory_order_relaxed);
rejected:
    /* A command refused inside MULTI makes EXEC fail (EXECABORT). */
    if (!cmd || (cmd->proc != execCommand && cmd->proc != discardCommand)) multiFlagRejected(c);
skip_reply_flags:
    /* CLIENT REPLY SKIP applies to the command after the one that set it. */
    {
        int fl = atomic_load(&c->flags);
        if (fl & CLIENT_REPLY_SKIP) atomic_fetch_and(&c->flags, ~CLIENT_REPLY_SKIP);
        if (fl & CLIENT_REPLY_SKIP_NEXT) {
            atomic_fetch_and(&c->flags, ~CLIENT_REPLY_SKIP_NEXT);
            atomic_fetch_or(&c->flags, CLIENT_REPLY_SKIP);
        }
    }
}

/* ========================== COMMAND INFO ================================== */

/* Flag words as Redis prints them (Strata's locking words are internal). */
static void replyFlagSet(client *c, redisCommand *cmd)
{
    /* On the stack: COMMAND runs on several event loops at once. */
    char words[16][24]; /* the longest word: "no_mandatory_keys" */
    int n = 0;
    const char *s = cmd->sflags;
    while (*s && n < 16) {
        while (*s == ' ') s++;
        const char *e = s;
        while (*e && *e != ' ') e++;
        size_t len = e - s;
        if (len && len < sizeof(words[0])) {
            memcpy(words[n], s, len);
            words[n][len] = '\0';
            if (strcmp(words[n], "nokeys") && strcmp(words[n], "global")) n++;
        }
        s = e;
    }
    addReplySetLen(c, n);
    for (int i = 0; i < n; i++) addReplyStatus(c, words[i]);
}

/* Commands whose keys are counted by a numkeys argument (ZUNION, LMPOP,
 * ...; EVAL is separate): its index, else 0.  commands.def gives them the
 * range from their first key to the end (what they may lock); numkeys sits
 * just before the first key, or at 2 after a destination key. */
static int numkeysIndex(const redisCommand *cmd)
{
    if (!(cmd->flags & CMD_MOVABLEKEYS) || cmd->firstkey <= 0) return 0;
    return cmd->firstkey == 1 ? 2 : cmd->firstkey - 1;
}

static void replyBeginSearch(client *c, int index)
{
    addReplyBulkStr(c, "begin_search");
    addReplyMapLen(c, 2);
    addReplyBulkStr(c, "type");
    addReplyBulkStr(c, "index");
    addReplyBulkStr(c, "spec");
    addReplyMapLen(c, 1);
    addReplyBulkStr(c, "index");
    addReplyLongLong(c, index);
}

static void replyRangeSpec(client *c, const char *flag, int index, int lastkey, int step)
{
    addReplyMapLen(c, 3);
    addReplyBulkStr(c, "flags");
    addReplySetLen(c, 1);
    addReplyStatus(c, flag);
    replyBeginSearch(c, index);
    addReplyBulkStr(c, "find_keys");
    addReplyMapLen(c, 2);
    addReplyBulkStr(c, "type");
    addReplyBulkStr(c, "range");
    addReplyBulkStr(c, "spec");
    addReplyMapLen(c, 3);
    addReplyBulkStr(c, "lastkey");
    addReplyLongLong(c, lastkey);
    addReplyBulkStr(c, "keystep");
    addReplyLongLong(c, step);
    addReplyBulkStr(c, "limit");
    addReplyLongLong(c, 0);
}

void commandReplyInfo(client *c, redisCommand *cmd)
{
    if (!cmd) {
        addReplyNullArray(c);
        return;
    }
    addReplyArrayLen(c, 10);
    addReplyBulkStr(c, cmd->name);
    addReplyLongLong(c, cmd->arity);
    replyFlagSet(c, cmd);
    /* Redis's legacy triple leaves numkeys keys out (they are "movable"):
     * only a destination at argument 1 stays. */
    int nk = numkeysIndex(cmd);
    int legacy_first = nk ? (cmd->firstkey == 1) : cmd->firstkey;
    addReplyLongLong(c, legacy_first);
    addReplyLongLong(c, nk ? legacy_first : cmd->lastkey);
    addReplyLongLong(c, nk ? legacy_first : cmd->keystep);
    /* ACL categories */
    char cat[32];
    snprintf(cat, sizeof(cat), "@%s", strcmp(cmd->group, "generic") ? cmd->group : "keyspace");
    int ncat = 1 + ((cmd->flags & CMD_WRITE) != 0) + ((cmd->flags & CMD_READONLY) != 0) +
               ((cmd->flags & CMD_FAST) != 0);
    addReplySetLen(c, ncat);
    addReplyStatus(c, cat);
    if (cmd->flags & CMD_WRITE) addReplyStatus(c, "@write");
    if (cmd->flags & CMD_READONLY) addReplyStatus(c, "@read");
    if (cmd->flags & CMD_FAST) addReplyStatus(c, "@fast");
    addReplySetLen(c, 0); /* tips */
    /* key specs: one range spec, or for numkeys commands a destination
     * (argument 1) and a keynum spec, as Redis 7.0 lists them */
    if (nk) {
        int dest = cmd->firstkey == 1;
        addReplyArrayLen(c, dest + 1);
        if (dest) replyRangeSpec(c, "OW", 1, 0, 1);
        addReplyMapLen(c, 3);
        addReplyBulkStr(c, "flags");
        addReplySetLen(c, 1);
        addReplyStatus(c, (cmd->flags & CMD_WRITE) && !dest ? "RW" : "RO");
        replyBeginSearch(c, nk);
        addReplyBulkStr(c, "find_keys");
        addReplyMapLen(c, 2);
        addReplyBulkStr(c, "type");
        addReplyBulkStr(c, "keynum");
        addReplyBulkStr(c, "spec");
        addReplyMapLen(c, 3);
        addReplyBulkStr(c, "keynumidx");
        addReplyLongLong(c, 0);
        addReplyBulkStr(c, "firstkey");
        addReplyLongLong(c, 1);
        addReplyBulkStr(c, "keystep");
        addReplyLongLong(c, 1);
    } else if (cmd->firstkey > 0) {
        addReplyArrayLen(c, 1);
        replyRangeSpec(c, (cmd->flags & CMD_WRITE) ? "RW" : "RO", cmd->firstkey,
                       cmd->lastkey < 0 ? cmd->lastkey : cmd->lastkey - cmd->firstkey, cmd->keystep);
    } else {
        addReplyArrayLen(c, 0);
    }
    addReplyArrayLen(c, 0); /* subcommands */
}

/* ========================== COMMAND DOCS ================================== */

/* The argument synopsis of commands.def ("key value [NX|XX] [EX seconds|...]")
 * is parsed into the argument tree redis-cli uses for hints:
 *   word        lower case: an argument (type key/integer/pattern/string)
 *   WORD        upper case: a pure token
 *   WORD word   a token followed by its argument
 *   [ ... ]     optional (a block if it holds more than one argument)
 *   a|b         one of
 *   x [x ...]   x may repeat
 */
typedef struct docArg {
    char name[48];
    const char *type;
    char token[32];
    int optional, multiple;
    struct docArg *sub;
    int nsub;
} docArg;

typedef struct docLexer {
    const char *p;
} docLexer;

/* Next token: '[' ']' '|' "..." or a word.  Returns its length, 0 at end. */
static int docNext(docLexer *lx, const char **tok)
{
    while (*lx->p == ' ') lx->p++;
    *tok = lx->p;
    if (!*lx->p) return 0;
    if (*lx->p == '[' || *lx->p == ']' || *lx->p == '|') {
        lx->p++;
        return 1;
    }
    if (!strncmp(lx->p, "...", 3)) {
        lx->p += 3;
        return 3;
    }
    const char *s = lx->p;
    while (*lx->p && !strchr(" []|", *lx->p)) lx->p++;
    return (int)(lx->p - s);
}

static int docPeekIs(docLexer *lx, const char *what)
{
    docLexer save = *lx;
    const char *t;
    int n = docNext(lx, &t);
    *lx = save;
    return n == (int)strlen(what) && !strncmp(t, what, n);
}

static int isUpperWord(const char *t, int n)
{
    int upper = 0;
    for (int i = 0; i < n; i++) {
        if (islower((unsigned char)t[i])) return 0;
        if (isupper((unsigned char)t[i])) upper = 1;
    }
    return upper;
}

static const char *docTypeOf(const char *name)
{
    static const char *keys[] = {"key", "newkey", "destkey", "source", "destination"};
    static const char *ints[] = {"seconds", "milliseconds", "unix-time-seconds",
                                 "unix-time-milliseconds", "index", "index1", "index2", "count",
                                 "offset", "start", "end", "db", "destination-db", "increment",
                                 "decrement", "cursor", "bit", "protover", "numreplicas",
                                 "timeout", "id", "value-int"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
        if (!strcmp(name, keys[i])) return "key";
    for (size_t i = 0; i < sizeof(ints) / sizeof(*ints); i++)
        if (!strcmp(name, ints[i])) return "integer";
    if (!strcmp(name, "pattern")) return "pattern";
    return "string";
}

static docArg *docPush(docArg **arr, int *n)
{
    *arr = realloc(*arr, (*n + 1) * sizeof(docArg));
    docArg *a = &(*arr)[(*n)++];
    memset(a, 0, sizeof(*a));
    return a;
}

static void docFree(docArg *a, int n)
{
    for (int i = 0; i < n; i++) docFree(a[i].sub, a[i].nsub);
    free(a);
}

static void docParseSeq(docLexer *lx, docArg **out, int *nout);

/* Parses alternatives up to ']' or end into one argument. */
static void docParseAlts(docLexer *lx, docArg *into)
{
    docArg *alts = NULL;
    int nalts = 0;
    for (;;) {
        docArg *seq = NULL;
        int nseq = 0;
        docParseSeq(lx, &seq, &nseq);
        if (nseq == 1) {
            *docPush(&alts, &nalts) = seq[0];
            free(seq);
        } else if (nseq > 1) {
            docArg *b = docPush(&alts, &nalts);
            snprintf(b->name, sizeof(b->name), "%s", seq[0].token[0] ? seq[0].token : seq[0].name);
            for (char *q = b->name; *q; q++) *q = tolower((unsigned char)*q);
            b->type = "block";
            b->sub = seq;
            b->nsub = nseq;
        } else {
            free(seq);
        }
        if (!docPeekIs(lx, "|")) break;
        const char *t;
        docNext(lx, &t);
    }
    if (nalts == 1) {
        *into = alts[0];
        free(alts);
    } else {
        snprintf(into->name, sizeof(into->name), "%s", nalts ? "option" : "arg");
        into->type = "oneof";
        into->sub = alts;
        into->nsub = nalts;
    }
}

static void docParseSeq(docLexer *lx, docArg **out, int *nout)
{
    for (;;) {
        if (docPeekIs(lx, "]") || docPeekIs(lx, "|")) return;
        const char *t;
        int n = docNext(lx, &t);
        if (n == 0) return;
        if (n == 1 && *t == '[') {
            /* "[x ...]" right after x marks x as repeatable. */
            if (*nout > 0) {
                docArg *prev = &(*out)[*nout - 1];
                docLexer save = *lx;
                const char *w;
                int wn = docNext(lx, &w);
                if (wn == (int)strlen(prev->name) && !strncmp(w, prev->name, wn) &&
                    docPeekIs(lx, "...")) {
                    docNext(lx, &w);
                    if (docPeekIs(lx, "]")) {
                        docNext(lx, &w);
                        prev->multiple = 1;
                        continue;
                    }
                }
                *lx = save;
            }
            docArg tmp;
            memset(&tmp, 0, sizeof(tmp));
            docParseAlts(lx, &tmp);
            if (docPeekIs(lx, "]")) docNext(lx, &t);
            tmp.optional = 1;
            if (tmp.name[0]) *docPush(out, nout) = tmp;
            continue;
        }
        if (n == 3 && !strncmp(t, "...", 3)) {
            if (*nout > 0) (*out)[*nout - 1].multiple = 1;
            continue;
        }
        docArg *a = docPush(out, nout);
        if (isUpperWord(t, n)) {
            snprintf(a->token, sizeof(a->token), "%.*s", n, t);
            /* a token followed by a lower-case word is that argument's token */
            docLexer save = *lx;
            const char *w;
            int wn = docNext(lx, &w);
            if (wn > 0 && !isUpperWord(w, wn) && !strchr("[]|", *w) && strncmp(w, "...", 3)) {
                snprintf(a->name, sizeof(a->name), "%.*s", wn, w);
                a->type = docTypeOf(a->name);
            } else {
                *lx = save;
                snprintf(a->name, sizeof(a->name), "%.*s", n, t);
                for (char *q = a->name; *q; q++) *q = tolower((unsigned char)*q);
                a->type = "pure-token";
            }
        } else {
            snprintf(a->name, sizeof(a->name), "%.*s", n, t);
            a->type = docTypeOf(a->name);
        }
    }
}

static void docReplyArgs(client *c, docArg *a, int n)
{
    addReplyArrayLen(c, n);
    for (int i = 0; i < n; i++) {
        int fields = 2 + (a[i].token[0] != 0) + (a[i].optional || a[i].multiple) + (a[i].nsub > 0);
        addReplyMapLen(c, fields);
        addReplyBulkStr(c, "name");
        addReplyBulkStr(c, a[i].name);
        addReplyBulkStr(c, "type");
        addReplyBulkStr(c, a[i].type);
        if (a[i].token[0]) {
            addReplyBulkStr(c, "token");
            addReplyBulkStr(c, a[i].token);
        }
        if (a[i].optional || a[i].multiple) {
            addReplyBulkStr(c, "flags");
            addReplySetLen(c, a[i].optional + a[i].multiple);
            if (a[i].optional) addReplyStatus(c, "optional");
            if (a[i].multiple) addReplyStatus(c, "multiple");
        }
        if (a[i].nsub) {
            addReplyBulkStr(c, "arguments");
            docReplyArgs(c, a[i].sub, a[i].nsub);
        }
    }
}

void commandReplyDocs(client *c, redisCommand *cmd)
{
    docArg *args = NULL;
    int nargs = 0;
    docLexer lx = {cmd->args};
    docParseSeq(&lx, &args, &nargs);
    addReplyBulkStr(c, cmd->name);
    addReplyMapLen(c, nargs ? 5 : 4);
    addReplyBulkStr(c, "summary");
    addReplyBulkStr(c, "");
    addReplyBulkStr(c, "since");
    addReplyBulkStr(c, "1.0.0");
    addReplyBulkStr(c, "group");
    addReplyBulkStr(c, cmd->group);
    addReplyBulkStr(c, "complexity");
    addReplyBulkStr(c, "");
    if (nargs) {
        addReplyBulkStr(c, "arguments");
        docReplyArgs(c, args, nargs);
    }
    docFree(args, nargs);
}

/* ========================== COMMAND ======================================= */

static void replyInfoCb(void *ud, redisCommand *cmd)
{
    commandReplyInfo(ud, cmd);
}

static void replyDocsCb(void *ud, redisCommand *cmd)
{
    commandReplyDocs(ud, cmd);
}

typedef struct listFilter {
    client *c;
    const char *pattern; /* NULL = all */
    const char *group;   /* ACLCAT filter */
    long n;
    int emit;
} listFilter;

static void listCb(void *ud, redisCommand *cmd)
{
    listFilter *f = ud;
    if (f->pattern && !stringmatchlen(f->pattern, strlen(f->pattern), cmd->name,
                                      strlen(cmd->name), 1))
        return;
    if (f->group && strcasecmp(f->group, cmd->group) &&
        !(strcasecmp(f->group, "keyspace") == 0 && strcmp(cmd->group, "generic") == 0) &&
        !(strcasecmp(f->group, "write") == 0 && (cmd->flags & CMD_WRITE)) &&
        !(strcasecmp(f->group, "read") == 0 && (cmd->flags & CMD_READONLY)) &&
        !(strcasecmp(f->group, "fast") == 0 && (cmd->flags & CMD_FAST)))
        return;
    f->n++;
    if (f->emit) addReplyBulkStr(f->c, cmd->name);
}

static int isEvalCommand(redisCommand *cmd)
{
    return cmd->proc == evalCommand || cmd->proc == evalshaCommand ||
           cmd->proc == evalRoCommand || cmd->proc == evalshaRoCommand;
}

/* EVAL and its variants have "movable" keys: numkeys (argument 2) says how
 * many of the arguments after it are keys.  As Redis, a numkeys that is not
 * a count of the arguments present gives no keys rather than an error. */
static void commandGetKeysEval(client *c, redisCommand *cmd, int argc)
{
    long long n;
    if (!arityOk(cmd, argc)) {
        addReplyError(c, "Invalid number of arguments specified for command");
        return;
    }
    if (!string2ll(c->argv[4], c->argvlen[4], &n) || n < 0 || n > argc - 3) n = 0;
    addReplyArrayLen(c, n);
    for (int i = 0; i < n; i++) addReplyBulk(c, c->argv[5 + i], c->argvlen[5 + i]);
}

/* COMMAND GETKEYS <command> <args...>: the key positions commands.def gives,
 * applied to the arguments, with Redis's checks in Redis's order. */
static void commandGetKeys(client *c)
{
    int argc = c->argc - 2;
    redisCommand *cmd = commandLookup(c->argv[2], c->argvlen[2]);
    if (!cmd) {
        addReplyError(c, "Invalid command specified");
        return;
    }
    if (isEvalCommand(cmd)) {
        commandGetKeysEval(c, cmd, argc);
        return;
    }
    if (cmd->firstkey <= 0) {
        addReplyError(c, "The command has no key arguments");
        return;
    }
    if (!arityOk(cmd, argc)) {
        addReplyError(c, "Invalid number of arguments specified for command");
        return;
    }
    int nk = numkeysIndex(cmd);
    if (nk) {
        long long n;
        int dest = cmd->firstkey == 1;
        if (!string2ll(c->argv[2 + nk], c->argvlen[2 + nk], &n) || n < 1 || n > argc - nk - 1) {
            addReplyError(c, "Invalid arguments specified for command");
            return;
        }
        addReplyArrayLen(c, n + dest);
        if (dest) addReplyBulk(c, c->argv[3], c->argvlen[3]);
        for (long long i = 0; i < n; i++) addReplyBulk(c, c->argv[3 + nk + i], c->argvlen[3 + nk + i]);
        return;
    }
    int last = cmd->lastkey < 0 ? argc + cmd->lastkey : cmd->lastkey;
    if (last >= argc) last = argc - 1;
    if (last < cmd->firstkey) {
        addReplyError(c, "Invalid arguments specified for command");
        return;
    }
    addReplyArrayLen(c, (last - cmd->firstkey) / cmd->keystep + 1);
    for (int i = cmd->firstkey; i <= last; i += cmd->keystep)
        addReplyBulk(c, c->argv[2 + i], c->argvlen[2 + i]);
}

void commandCommand(client *c)
{
    if (c->argc == 1) {
        addReplyArrayLen(c, NUM_COMMANDS);
        commandsForEach(replyInfoCb, c);
        return;
    }
    if (argIs(c, 1, "count")) {
        if (c->argc != 2) {
            addReplyErrorFormat(c, "wrong number of arguments for 'command|count' command");
            return;
        }
        addReplyLongLong(c, NUM_COMMANDS);
    } else if (argIs(c, 1, "info")) {
        if (c->argc == 2) {
            addReplyArrayLen(c, NUM_COMMANDS);
            commandsForEach(replyInfoCb, c);
            return;
        }
        addReplyArrayLen(c, c->argc - 2);
        for (int i = 2; i < c->argc; i++)
            commandReplyInfo(c, commandLookup(c->argv[i], c->argvlen[i]));
    } else if (argIs(c, 1, "docs")) {
        if (c->argc == 2) {
            addReplyMapLen(c, NUM_COMMANDS);
            commandsForEach(replyDocsCb, c);
            return;
        }
        int found = 0;
        for (int i = 2; i < c->argc; i++) found += commandLookup(c->argv[i], c->argvlen[i]) != NULL;
        addReplyMapLen(c, found);
        for (int i = 2; i < c->argc; i++) {
            redisCommand *cmd = commandLookup(c->argv[i], c->argvlen[i]);
            if (cmd) commandReplyDocs(c, cmd);
        }
    } else if (argIs(c, 1, "list")) {
        listFilter f = {c, NULL, NULL, 0, 0};
        if (c->argc == 5 && argIs(c, 2, "filterby")) {
            if (argIs(c, 3, "pattern")) f.pattern = c->argv[4];
            else if (argIs(c, 3, "aclcat")) f.group = c->argv[4];
            else if (argIs(c, 3, "module")) {
                addReplyArrayLen(c, 0);
                return;
            } else {
                addReplyErrorSyntax(c);
                return;
            }
        } else if (c->argc != 2) {
            addReplyErrorSyntax(c);
            return;
        }
        commandsForEach(listCb, &f);
        addReplyArrayLen(c, f.n);
        f.emit = 1;
        commandsForEach(listCb, &f);
    } else if (argIs(c, 1, "getkeys") && c->argc >= 3) {
        commandGetKeys(c);
    } else if (argIs(c, 1, "getkeys")) {
        addReplyError(c, "wrong number of arguments for 'command|getkeys' command");
    } else if (argIs(c, 1, "help")) {
        const char *help[] = {
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)", "    Return details about all Strata commands.", "COUNT",
            "    Return the total number of commands in this server.", "LIST",
            "    Return a list of all commands in this server.", "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.", "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.", "GETKEYS <full-command>",
            "    Return the keys from a full command.", "HELP", "    Prints this help."};
        int n = sizeof(help) / sizeof(*help);
        addReplyArrayLen(c, n);
        for (int i = 0; i < n; i++) addReplyStatus(c, help[i]);
    } else {
        addReplySubcommandSyntaxError(c);
    }
}

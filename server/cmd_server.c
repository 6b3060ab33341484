/* cmd_server.c - server commands: TIME DBSIZE FLUSHDB FLUSHALL SWAPDB
 * SHUTDOWN MONITOR LASTSAVE SAVE SLOWLOG CONFIG and INFO. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "server.h"

/* ========================== Simple commands =============================== */

void timeCommand(client *c)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    addReplyArrayLen(c, 2);
    addReplyBulkLongLong(c, tv.tv_sec);
    addReplyBulkLongLong(c, tv.tv_usec);
}

void dbsizeCommand(client *c)
{
    addReplyLongLong(c, (long long)stKeyCount(server.st, c->db));
}

void lastsaveCommand(client *c)
{
    addReplyLongLong(c, (long long)server.lastsave_unix);
}

/* SAVE: every write is already in the WAL; SAVE makes the data directory
 * self-contained by flushing memtables into SST files. */
void saveCommand(client *c)
{
    if (stFlushToDisk(server.st) != C_OK) {
        addReplyError(c, "flushing memtables to disk failed");
        return;
    }
    server.lastsave_unix = time(NULL);
    atomic_store(&server.dirty, 0);
    addReplyOk(c);
}

/* Parses FLUSHDB/FLUSHALL's optional ASYNC|SYNC.  Both are synchronous here:
 * a flush is a range delete, O(1) whatever the data size. */
static int flushFlagsOk(client *c)
{
    if (c->argc == 1) return 1;
    if (c->argc == 2 && (argIs(c, 1, "async") || argIs(c, 1, "sync"))) return 1;
    addReplyErrorSyntax(c);
    return 0;
}

static void flushDbs(client *c, int db)
{
    stBatch *b = dbBatch(c);
    stBatchFlushDb(b, db);
    if (commitOrReply(c, b) == C_OK) addReplyOk(c);
}

void flushdbCommand(client *c)
{
    if (flushFlagsOk(c)) flushDbs(c, c->db);
}

void flushallCommand(client *c)
{
    if (flushFlagsOk(c)) flushDbs(c, -1);
}

void swapdbCommand(client *c)
{
    long long a, b;
    if (!string2ll(c->argv[1], c->argvlen[1], &a)) {
        addReplyError(c, "invalid first DB index");
        return;
    }
    if (!string2ll(c->argv[2], c->argvlen[2], &b)) {
        addReplyError(c, "invalid second DB index");
        return;
    }
    if (a < 0 || a >= cfg.databases || b < 0 || b >= cfg.databases) {
        /* "ERR" spelled out: addReplyError would take "DB" for an error code. */
        addReplyError(c, "ERR DB index is out of range");
        return;
    }
    if (a != b && stSwapDb(server.st, (int)a, (int)b) != C_OK) {
        addReplyError(c, "SWAPDB failed in storage");
        return;
    }
    /* Clients blocked in either db now look at the other one's keys. */
    signalDbAsReady((int)a);
    signalDbAsReady((int)b);
    addReplyOk(c);
}

void shutdownCommand(client *c)
{
    int save = 0;
    for (int i = 1; i < c->argc; i++) {
        if (argIs(c, i, "nosave")) save = 0;
        else if (argIs(c, i, "save")) save = 1;
        else if (argIs(c, i, "now") || argIs(c, i, "force")) continue;
        else if (argIs(c, i, "abort")) {
            addReplyError(c, "No shutdown in progress.");
            return;
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
    /* main() logs "User requested shutdown..." once the loops stop. */
    server.shutdown_flush = save;
    atomic_store(&server.shutdown_asap, 1);
    for (int i = 0; i < server.nthreads; i++) eventWakeThread(&server.threads[i]);
    /* Redis sends no reply: the connection closes when the server exits. */
    atomic_fetch_or(&c->flags, CLIENT_REPLY_SKIP);
}

void monitorCommand(client *c)
{
    int fl = atomic_load(&c->flags);
    if (fl & CLIENT_MONITOR) return;
    pthread_mutex_lock(&server.monitors_lock);
    if (server.nmonitors == server.monitors_cap) {
        server.monitors_cap = server.monitors_cap ? server.monitors_cap * 2 : 4;
        server.monitors = realloc(server.monitors, server.monitors_cap * sizeof(client *));
    }
    server.monitors[server.nmonitors++] = c;
    atomic_store(&server.has_monitors, 1);
    atomic_fetch_or(&c->flags, CLIENT_MONITOR);
    pthread_mutex_unlock(&server.monitors_lock);
    addReplyOk(c);
}

/* ========================== SLOWLOG ======================================= */

#define SLOWLOG_RING_MIN_ENTRIES 16 /* first allocation of the ring */

void slowlogInit(void)
{
    pthread_mutex_init(&server.slowlog_lock, NULL);
}

static void slowlogFreeEntry(slowlogEntry *e)
{
    for (int i = 0; i < e->argc; i++) free(e->argv[i]);
    free(e->argv);
    free(e->argvlen);
    free(e->peer);
    free(e->cname);
    memset(e, 0, sizeof(*e));
}

/* Reallocates the ring (under slowlog_lock) to newcap entries, keeping the
 * newest min(len, newcap) in order and freeing the others.  Returns C_ERR and
 * changes nothing if the allocation fails. */
static int slowlogResize(size_t newcap)
{
    size_t keep = server.slowlog_len < newcap ? server.slowlog_len : newcap;
    slowlogEntry *ring = NULL;
    if (newcap && !(ring = calloc(newcap, sizeof(slowlogEntry)))) return C_ERR;
    for (size_t i = 0; i < server.slowlog_len; i++) { /* i = 0 is the newest */
        size_t idx = (server.slowlog_head + server.slowlog_cap - 1 - i) % server.slowlog_cap;
        if (i < keep) ring[keep - 1 - i] = server.slowlog[idx]; /* moves ownership */
        else slowlogFreeEntry(&server.slowlog[idx]);
    }
    free(server.slowlog);
    server.slowlog = ring;
    server.slowlog_cap = newcap;
    server.slowlog_len = keep;
    server.slowlog_head = newcap ? keep % newcap : 0;
    return C_OK;
}

/* Keeps at most slowlog-max-len entries, newest first; long argument lists
 * and values are shortened as Redis does. */
void slowlogPush(client *c, long long duration_us)
{
    size_t max = cfg.slowlog_max_len;
    pthread_mutex_lock(&server.slowlog_lock);
    /* Like Redis's list, the ring keeps the newest slowlog-max-len entries
     * when CONFIG SET shrinks it, and it grows on demand rather than
     * allocating a huge slowlog-max-len up front. */
    if (server.slowlog_cap > max) slowlogResize(max);
    if (server.slowlog_len == server.slowlog_cap && server.slowlog_cap < max) {
        size_t grow = server.slowlog_cap ? server.slowlog_cap * 2 : SLOWLOG_RING_MIN_ENTRIES;
        slowlogResize(grow < max ? grow : max); /* on failure the oldest entry is replaced */
    }
    if (server.slowlog_cap == 0) {
        pthread_mutex_unlock(&server.slowlog_lock);
        return;
    }
    size_t cap = server.slowlog_cap;
    slowlogEntry *e = &server.slowlog[server.slowlog_head];
    slowlogFreeEntry(e);
    int argc = c->argc > SLOWLOG_ENTRY_MAX_ARGC ? SLOWLOG_ENTRY_MAX_ARGC : c->argc;
    e->argc = argc;
    e->argv = malloc(sizeof(char *) * argc);
    e->argvlen = malloc(sizeof(size_t) * argc);
    for (int i = 0; i < argc; i++) {
        char buf[96];
        if (argc != c->argc && i == argc - 1) {
            int n = snprintf(buf, sizeof(buf), "... (%d more arguments)", c->argc - argc + 1);
            e->argv[i] = strdup(buf);
            e->argvlen[i] = n;
        } else if (commandArgIsSecret(c, i)) {
            e->argv[i] = strdup("(redacted)");
            e->argvlen[i] = strlen("(redacted)");
        } else if (c->argvlen[i] > SLOWLOG_ENTRY_MAX_STRING) {
            strbuf s;
            sbInit(&s);
            sbAppend(&s, c->argv[i], SLOWLOG_ENTRY_MAX_STRING);
            sbPrintf(&s, "... (%zu more bytes)", c->argvlen[i] - SLOWLOG_ENTRY_MAX_STRING);
            e->argv[i] = s.buf;
            e->argvlen[i] = s.len;
        } else {
            e->argv[i] = malloc(c->argvlen[i] + 1);
            memcpy(e->argv[i], c->argv[i], c->argvlen[i] + 1);
            e->argvlen[i] = c->argvlen[i];
        }
    }
    e->id = server.slowlog_next_id++;
    e->time_unix = time(NULL);
    e->duration_us = duration_us;
    e->peer = strdup(c->addr);
    e->cname = strdup(c->name ? c->name : "");
    server.slowlog_head = (server.slowlog_head + 1) % cap;
    if (server.slowlog_len < cap) server.slowlog_len++;
    pthread_mutex_unlock(&server.slowlog_lock);
}

/* Redis's two errors for a SLOWLOG call no branch accepted: a known
 * subcommand with the wrong argument count (LEN, RESET and HELP take none;
 * GET's count is checked in its handler), or an unknown one. */
static void slowlogSubcommandError(client *c)
{
    static const char *fixed[] = {"len", "reset", "help"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++) {
        if (argIs(c, 1, fixed[i])) {
            addReplyErrorFormat(c, "wrong number of arguments for 'slowlog|%s' command", fixed[i]);
            return;
        }
    }
    if (argIs(c, 1, "get")) {
        addReplyErrorFormat(c, "unknown subcommand or wrong number of arguments for '%.128s'. "
                               "Try SLOWLOG HELP.", c->argv[1]);
        return;
    }
    addReplySubcommandSyntaxError(c);
}

void slowlogCommand(client *c)
{
    if (argIs(c, 1, "len") && c->argc == 2) {
        pthread_mutex_lock(&server.slowlog_lock);
        long long n = (long long)server.slowlog_len;
        pthread_mutex_unlock(&server.slowlog_lock);
        addReplyLongLong(c, n);
    } else if (argIs(c, 1, "reset") && c->argc == 2) {
        pthread_mutex_lock(&server.slowlog_lock);
        for (size_t i = 0; i < server.slowlog_cap; i++) slowlogFreeEntry(&server.slowlog[i]);
        server.slowlog_len = server.slowlog_head = 0;
        pthread_mutex_unlock(&server.slowlog_lock);
        addReplyOk(c);
    } else if (argIs(c, 1, "get") && (c->argc == 2 || c->argc == 3)) {
        long long count = 10;
        if (c->argc == 3) {
            if (!string2ll(c->argv[2], c->argvlen[2], &count) || count < -1) {
                addReplyError(c, "count should be greater than or equal to -1");
                return;
            }
            if (count == -1) count = LLONG_MAX;
        }
        pthread_mutex_lock(&server.slowlog_lock);
        long long n = (long long)server.slowlog_len < count ? (long long)server.slowlog_len : count;
        addReplyArrayLen(c, n);
        for (long long i = 0; i < n; i++) {
            size_t idx = (server.slowlog_head + server.slowlog_cap - 1 - i) % server.slowlog_cap;
            slowlogEntry *e = &server.slowlog[idx];
            addReplyArrayLen(c, 6);
            addReplyLongLong(c, e->id);
            addReplyLongLong(c, (long long)e->time_unix);
            addReplyLongLong(c, e->duration_us);
            addReplyArrayLen(c, e->argc);
            for (int j = 0; j < e->argc; j++) addReplyBulk(c, e->argv[j], e->argvlen[j]);
            addReplyBulkStr(c, e->peer);
            addReplyBulkStr(c, e->cname);
        }
        pthread_mutex_unlock(&server.slowlog_lock);
    } else if (argIs(c, 1, "help") && c->argc == 2) {
        const char *help[] = {
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN", "    Return the length of the slowlog.", "RESET", "    Reset the slowlog.",
            "HELP", "    Prints this help."};
        int n = sizeof(help) / sizeof(*help);
        addReplyArrayLen(c, n);
        for (int i = 0; i < n; i++) addReplyStatus(c, help[i]);
    } else {
        slowlogSubcommandError(c);
    }
}

/* ========================== CONFIG ======================================== */

typedef struct cfgGetCollect {
    char **names, **values;
    int n, cap;
} cfgGetCollect;

static void cfgGetEmit(void *ud, const char *name, const char *value)
{
    cfgGetCollect *g = ud;
    for (int i = 0; i < g->n; i++)
        if (!strcmp(g->names[i], name)) return; /* several patterns may match one name */
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 32;
        g->names = realloc(g->names, g->cap * sizeof(char *));
        g->values = realloc(g->values, g->cap * sizeof(char *));
    }
    g->names[g->n] = strdup(name);
    g->values[g->n] = strdup(value);
    g->n++;
}

static void configGetCommand(client *c)
{
    cfgGetCollect g = {NULL, NULL, 0, 0};
    for (int i = 2; i < c->argc; i++) cfgGet(c->argv[i], cfgGetEmit, &g);
    addReplyMapLen(c, g.n);
    for (int i = 0; i < g.n; i++) {
        addReplyBulkStr(c, g.names[i]);
        addReplyBulkStr(c, g.values[i]);
        free(g.names[i]);
        free(g.values[i]);
    }
    free(g.names);
    free(g.values);
}

static void configSetCommand(client *c)
{
    if ((c->argc - 2) % 2 != 0 || c->argc < 4) {
        addReplyErrorArity(c);
        return;
    }
    int n = (c->argc - 2) / 2;
    char **names = malloc(sizeof(char *) * n), **values = malloc(sizeof(char *) * n);
    for (int i = 0; i < n; i++) {
        names[i] = c->argv[2 + i * 2];
        values[i] = c->argv[3 + i * 2];
    }
    char *err = NULL;
    if (cfgSet(n, names, values, &err) != 0) {
        addReplyError(c, err ? err : "ERR CONFIG SET failed");
        free(err);
    } else {
        addReplyOk(c);
    }
    free(names);
    free(values);
}

void configCommand(client *c)
{
    if (argIs(c, 1, "get") && c->argc >= 3) {
        configGetCommand(c);
    } else if (argIs(c, 1, "set")) {
        if (c->argc < 4 || c->argc % 2) {
            addReplyError(c, "wrong number of arguments for 'config|set' command");
            return;
        }
        configSetCommand(c);
    } else if (argIs(c, 1, "resetstat") && c->argc == 2) {
        commandsResetStats();
        atomic_store(&server.stat_numcommands, 0);
        atomic_store(&server.stat_numconnections, 0);
        atomic_store(&server.stat_rejected_conn, 0);
        atomic_store(&server.stat_expiredkeys, 0);
        atomic_store(&server.stat_keyspace_hits, 0);
        atomic_store(&server.stat_keyspace_misses, 0);
        atomic_store(&server.stat_net_input_bytes, 0);
        atomic_store(&server.stat_net_output_bytes, 0);
        atomic_store(&server.stat_total_error_replies, 0);
        atomic_store(&server.stat_client_qbuf_limit_disconnections, 0);
        atomic_store(&server.stat_client_outbuf_limit_disconnections, 0);
        server.stat_reset_ms = mstime();
        addReplyOk(c);
    } else if (argIs(c, 1, "rewrite") && c->argc == 2) {
        char *err = NULL;
        if (cfgRewrite(&err) != 0) {
            serverLog(LL_WARNING, "CONFIG REWRITE failed: %s", err ? err : "?");
            addReplyError(c, err ? err : "Rewriting config file failed");
            free(err);
        } else {
            serverLog(LL_NOTICE, "CONFIG REWRITE executed with success.");
            addReplyOk(c);
        }
    } else if (argIs(c, 1, "help") && c->argc == 2) {
        const char *help[] = {"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                              "GET <pattern>", "    Return parameters matching the glob-like "
                                               "<pattern> and their values.",
                              "SET <directive> <value>", "    Set the configuration <directive> "
                                                         "to <value>.",
                              "RESETSTAT", "    Reset statistics reported by the INFO command.",
                              "REWRITE", "    Rewrite the configuration file.", "HELP",
                              "    Prints this help."};
        int n = sizeof(help) / sizeof(*help);
        addReplyArrayLen(c, n);
        for (int i = 0; i < n; i++) addReplyStatus(c, help[i]);
    } else if (argIs(c, 1, "get") || argIs(c, 1, "resetstat") || argIs(c, 1, "rewrite")) {
        char sub[32];
        size_t n = c->argvlen[1] < sizeof(sub) - 1 ? c->argvlen[1] : sizeof(sub) - 1;
        for (size_t i = 0; i < n; i++) sub[i] = tolower((unsigned char)c->argv[1][i]);
        sub[n] = '\0';
        addReplyErrorFormat(c, "wrong number of arguments for 'config|%s' command", sub);
    } else {
        addReplySubcommandSyntaxError(c);
    }
}

/* ========================== INFO ========================================== */

void infoCommand(client *c)
{
    /* All the section words go to genInfoString() at once so that a section
     * named twice (or also covered by "all") is printed once, as in Redis. */
    strbuf words, b;
    sbInit(&words);
    sbInit(&b);
    if (c->argc == 1) sbAppendStr(&words, "default");
    for (int i = 1; i < c->argc; i++) {
        if (i > 1) sbAppendStr(&words, " ");
        sbAppend(&words, c->argv[i], c->argvlen[i]);
    }
    genInfoString(c, &b, words.buf ? words.buf : "");
    addReplyVerbatim(c, b.buf ? b.buf : "", b.len, "txt");
    sbFree(&words);
    sbFree(&b);
}

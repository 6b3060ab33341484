/* cmd_repl.c - the replication commands (REPLICAOF/SLAVEOF, ROLE, WAIT,
 * REPLCONF, REPLSYNC) and the glue between the server and replication/:
 * the hooks replication calls back and the settings it gets from cfg.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../replication/repl.h"
#include "server.h"

/* ========================== Hooks =========================================== */

static void hookLog(int level, const char *msg)
{
    static const int map[] = {LL_DEBUG, LL_VERBOSE, LL_NOTICE, LL_WARNING};
    serverLogRaw(map[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

static void hookLockKeyspace(void) { pthread_rwlock_wrlock(&server.keyspace_lock); }
static void hookUnlockKeyspace(void) { pthread_rwlock_unlock(&server.keyspace_lock); }
static void hookSetLoading(int on) { atomic_store(&server.loading, on); }

/* A WAIT finished: post the reply and let the client's thread run its next
 * commands (networking.c, CLIENT_UNBLOCKED). */
static void hookWaitDone(uint64_t client_id, long long acked)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), ":%lld\r\n", acked);
    pthread_mutex_lock(&server.clients_lock);
    for (client *c = server.clients; c; c = c->next) {
        if (c->id != client_id) continue;
        /* Reply first, then the flag, then the wake (as blocking.c): the
         * owner must not resume the client's pipeline before WAIT's reply is
         * queued, or a pipelined command's reply could overtake it. */
        clientPostReply(c, buf, (size_t)n);
        atomic_fetch_or(&c->flags, CLIENT_UNBLOCKED);
        eventWakeThread(c->thread);
        break;
    }
    pthread_mutex_unlock(&server.clients_lock);
}

static void replSettingsFromCfg(replSettings *s)
{
    memset(s, 0, sizeof(*s));
    s->listening_port = cfg.port;
    cfgLock();
    if (cfg.masteruser) snprintf(s->masteruser, sizeof(s->masteruser), "%s", cfg.masteruser);
    if (cfg.masterauth) snprintf(s->masterauth, sizeof(s->masterauth), "%s", cfg.masterauth);
    cfgUnlock();
    s->send_window = (size_t)cfg.repl_send_window;
    s->compression = cfg.repl_compression;
    s->timeout_s = cfg.repl_timeout;
    s->backlog_bytes = cfg.repl_backlog_size;
    s->read_only = cfg.replica_read_only;
}

int replicationInit(void)
{
    replHooks h = {hookLog, hookLockKeyspace, hookUnlockKeyspace, hookSetLoading, hookWaitDone};
    replSettings s;
    replSettingsFromCfg(&s);
    char *err = NULL;
    if (replStart(server.st, &h, &s, &err) != 0) {
        serverLog(LL_WARNING, "Replication failed to start: %s", err);
        free(err);
        return C_ERR;
    }
    if (cfg.replicaof_count > 0) {
        if (cfg.replicaof_count > 1)
            serverLog(LL_WARNING, "Several replicaof lines need active-replica/multi-master; "
                                  "following only %s:%d",
                      cfg.replicaof[0].host, cfg.replicaof[0].port);
        replSetMaster(cfg.replicaof[0].host, cfg.replicaof[0].port);
    }
    return C_OK;
}

void replicationReconfigure(void)
{
    replSettings s;
    replSettingsFromCfg(&s);
    replConfigure(&s);
}

/* ========================== Commands ======================================== */

/* REPLICAOF host port | NO ONE (SLAVEOF is the same command). */
void replicaofCommand(client *c)
{
    if (argIs(c, 1, "no") && argIs(c, 2, "one")) {
        if (replIsReplica()) {
            replSetMaster(NULL, 0);
            serverLog(LL_NOTICE, "MASTER MODE enabled (user request from '%s')", c->addr);
        }
        addReplyOk(c);
        return;
    }
    long long port;
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &port, NULL) != C_OK) return;
    if (port < 0 || port > 65535) {
        addReplyError(c, "Invalid master port");
        return;
    }
    if (replSetMaster(c->argv[1], (int)port)) {
        serverLog(LL_NOTICE, "REPLICAOF would result into synchronization with the master we "
                             "are already connected with. No operation performed.");
        addReplyStatus(c, "OK Already connected to specified master");
        return;
    }
    serverLog(LL_NOTICE, "REPLICAOF %s:%d enabled (user request from '%s')", c->argv[1],
              (int)port, c->addr);
    addReplyOk(c);
}

void roleCommand(client *c)
{
    replRole r;
    replGetRole(&r);
    if (r.is_replica) {
        addReplyArrayLen(c, 5);
        addReplyBulkStr(c, "slave");
        addReplyBulkStr(c, r.master_host);
        addReplyLongLong(c, r.master_port);
        addReplyBulkStr(c, r.state);
        addReplyLongLong(c, r.offset);
        return;
    }
    addReplyArrayLen(c, 3);
    addReplyBulkStr(c, "master");
    addReplyLongLong(c, r.offset);
    addReplyArrayLen(c, r.nreplicas);
    for (int i = 0; i < r.nreplicas; i++) {
        char port[16], off[24];
        snprintf(port, sizeof(port), "%d", r.replicas[i].port);
        snprintf(off, sizeof(off), "%lld", r.replicas[i].offset);
        addReplyArrayLen(c, 3);
        addReplyBulkStr(c, r.replicas[i].ip);
        addReplyBulkStr(c, port);
        addReplyBulkStr(c, off);
    }
}

/* WAIT numreplicas timeout */
void waitCommand(client *c)
{
    long long n, timeout;
    if (replIsReplica()) {
        addReplyError(c, "WAIT cannot be used with replica instances. Please also note that since "
                         "Redis 4.0 if a replica is configured to be writable (which is not the "
                         "default) writes to replicas are just local and are not propagated.");
        return;
    }
    if (getLongLongOrReply(c, c->argv[1], c->argvlen[1], &n, NULL) != C_OK) return;
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &timeout,
                           "timeout is not an integer or out of range") != C_OK)
        return;
    if (timeout < 0) {
        addReplyError(c, "timeout is negative");
        return;
    }
    if (n > INT32_MAX) n = INT32_MAX;
    /* Inside EXEC nothing blocks (as Redis): answer with the count now. */
    if (atomic_load(&c->flags) & CLIENT_IN_EXEC) n = 0;
    long long acked = replWaitBlock(c->id, (int)n, timeout);
    if (acked >= 0) {
        addReplyLongLong(c, acked);
        return;
    }
    atomic_fetch_or(&c->flags, CLIENT_BLOCKED);
}

/* REPLCONF option value [option value ...]: what a replica tells its master
 * before REPLSYNC. */
void replconfCommand(client *c)
{
    if (c->argc % 2 == 0) {
        addReplyErrorSyntax(c);
        return;
    }
    for (int i = 1; i < c->argc; i += 2) {
        if (argIs(c, i, "listening-port")) {
            long long port;
            if (getRangeLongOrReply(c, c->argv[i + 1], c->argvlen[i + 1], 0, 65535, &port, NULL) !=
                C_OK)
                return;
            c->repl_listening_port = (int)port;
        } else if (argIs(c, i, "capa") || argIs(c, i, "ip-address") || argIs(c, i, "ack") ||
                   argIs(c, i, "getack")) {
            /* Accepted for Redis tooling; Strata links negotiate in REPLSYNC. */
        } else {
            addReplyErrorFormat(c, "Unrecognized REPLCONF option: %s", c->argv[i]);
            return;
        }
    }
    addReplyOk(c);
}

/* REPLSYNC replid next-seq capabilities node-id: turns this connection into
 * a replication link (the replication thread takes the socket over). */
void replsyncCommand(client *c)
{
    int fd = dup(c->fd);
    if (fd < 0) {
        addReplyError(c, "cannot hand the connection to replication");
        return;
    }
    char ip[64];
    snprintf(ip, sizeof(ip), "%s", c->addr);
    char *colon = strrchr(ip, ':');
    if (colon) *colon = '\0';
    const char *pending = c->out.buf ? c->out.buf + c->opos : NULL;
    size_t plen = c->out.len - c->opos;
    if (replAcceptReplica(fd, ip, c->repl_listening_port, c->argc - 1, c->argv + 1, pending, plen) !=
        C_OK) {
        close(fd);
        addReplyErrorSyntax(c);
        return;
    }
    /* The link sends what this client had not written yet; this client
     * closes without writing anything more. */
    c->out.len = c->opos = 0;
    atomic_fetch_or(&c->flags, CLIENT_CLOSE_ASAP | CLIENT_REPLY_OFF);
}

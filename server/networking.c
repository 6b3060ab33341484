/* networking.c - client life cycle: accept, read and parse, reply buffers,
 * writes, limits (query buffer, output buffer, idle timeout, maxclients), and
 * replies posted from other threads (MONITOR).
 *
 * Invariants:
 *  1. A client is read, written and freed only by its owner thread.  Other
 *     threads reach it only through clientPostReply() (appends to xout under
 *     xlock and queues the client on its thread) and clientKillAsync() (sets
 *     CLIENT_CLOSE_ASAP under clients_lock); the owner acts on both in
 *     clientHandleWake().
 *  2. Replies go to c->out; clientFlush() writes as much as the socket takes
 *     and arms the write event only while bytes remain.
 *  3. A client is unlinked from the global list (under clients_lock) before it
 *     is freed, so a thread walking that list never sees a freed client.
 */
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../replication/repl.h"
#include "server.h"

/* ========================== Output limits ================================= */

size_t clientOutputPending(client *c)
{
    return c->out.len - c->opos;
}

static int clientCobClass(client *c)
{
    return (atomic_load(&c->flags) & CLIENT_PUBSUB) ? CFG_COB_PUBSUB : CFG_COB_NORMAL;
}

/* Checks client-output-buffer-limit.  Returns 1 (and schedules the close) when
 * the client went over its hard limit or stayed over its soft limit too long.
 * Caller: owner thread or, for posted replies, a thread holding c->xlock. */
int clientCheckOutputLimits(client *c, uint64_t now_ms)
{
    const cfgCobLimit *l = &cfg.cob[clientCobClass(c)];
    size_t used = clientOutputPending(c) + c->xout.len;
    int over = 0;
    if (l->hard_bytes && used >= l->hard_bytes) over = 1;
    if (!over && l->soft_bytes && used >= l->soft_bytes) {
        if (c->obuf_soft_since_ms == 0) {
            c->obuf_soft_since_ms = now_ms ? now_ms : 1;
        } else if ((long long)(now_ms - c->obuf_soft_since_ms) > l->soft_seconds * 1000) {
            over = 1;
        }
    } else if (!over) {
        c->obuf_soft_since_ms = 0;
    }
    if (over && !(atomic_load(&c->flags) & CLIENT_CLOSE_ASAP)) {
        atomic_fetch_or(&c->flags, CLIENT_CLOSE_ASAP);
        atomic_fetch_add(&server.stat_client_outbuf_limit_disconnections, 1);
        serverLog(LL_WARNING,
                  "Client id=%llu addr=%s scheduled to be closed ASAP for overcoming of output "
                  "buffer limits.",
                  (unsigned long long)c->id, c->addr);
    }
    return over;
}

/* ========================== Reply API ===================================== */

#define REPLY_GUARD(c)                                                                  \
    do {                                                                                \
        if (atomic_load(&(c)->flags) & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) return; \
    } while (0)

void addReplyRaw(client *c, const char *s, size_t len)
{
    REPLY_GUARD(c);
    sbAppend(&c->out, s, len);
}

void addReplyOk(client *c)
{
    addReplyRaw(c, "+OK\r\n", 5);
}

void addReplyStatus(client *c, const char *s)
{
    REPLY_GUARD(c);
    respAppendSimple(&c->out, s, strlen(s));
}

/* Error codes Redis 7.0 sends.  Only these count as a code: plain messages
 * may also open with an upper-case word ("DB index is out of range", "AUTH
 * <password> called ...") and still need "ERR " in front. */
static const char *const redisErrorCodes[] = {
    "ERR",        "WRONGTYPE", "NOAUTH",    "WRONGPASS", "NOPROTO",     "NOPERM",
    "NOSCRIPT",   "BUSY",      "BUSYKEY",   "BUSYGROUP", "NOGROUP",     "EXECABORT",
    "LOADING",    "MASTERDOWN", "MISCONF",  "NOREPLICAS", "OOM",        "READONLY",
    "UNBLOCKED",  "UNKILLABLE", "NOTBUSY",  "CROSSSLOT", "CLUSTERDOWN", "TRYAGAIN",
    "MOVED",      "ASK",       "DENIED",    NULL};

/* Whether err opens with a known error code (followed by a space or the end),
 * or with '-' (the caller spelled the code out, as in Redis). */
static int hasErrorCode(const char *s)
{
    if (s[0] == '-') return 1;
    size_t n = 0;
    while (s[n] >= 'A' && s[n] <= 'Z') n++;
    if (n < 2 || (s[n] != ' ' && s[n] != '\0')) return 0;
    for (int i = 0; redisErrorCodes[i]; i++)
        if (strlen(redisErrorCodes[i]) == n && !memcmp(redisErrorCodes[i], s, n)) return 1;
    return 0;
}

void addReplyError(client *c, const char *err)
{
    c->error_replies++;
    atomic_fetch_add_explicit(&server.stat_total_error_replies, 1, memory_order_relaxed);
    REPLY_GUARD(c);
    if (hasErrorCode(err)) {
        respAppendError(&c->out, err, strlen(err));
    } else {
        strbuf tmp;
        sbInit(&tmp);
        sbAppendStr(&tmp, "ERR ");
        sbAppendStr(&tmp, err);
        respAppendError(&c->out, tmp.buf, tmp.len);
        sbFree(&tmp);
    }
}

void addReplyErrorFormat(client *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    addReplyError(c, buf);
}

void addReplyErrorArity(client *c)
{
    addReplyErrorFormat(c, "wrong number of arguments for '%s' command", c->cmd->name);
}

void addReplyErrorSyntax(client *c)
{
    addReplyError(c, "syntax error");
}

void addReplyErrorNotInt(client *c)
{
    addReplyError(c, "value is not an integer or out of range");
}

void addReplyErrorWrongType(client *c)
{
    addReplyError(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
}

void addReplySubcommandSyntaxError(client *c)
{
    char up[64];
    size_t i;
    for (i = 0; i < c->argvlen[0] && i < sizeof(up) - 1; i++) up[i] = toupper((unsigned char)c->argv[0][i]);
    up[i] = '\0';
    addReplyErrorFormat(c, "unknown subcommand '%.128s'. Try %s HELP.", c->argv[1], up);
}

void addReplyLongLong(client *c, long long v)
{
    REPLY_GUARD(c);
    respAppendInteger(&c->out, v);
}

void addReplyBulk(client *c, const char *s, size_t len)
{
    REPLY_GUARD(c);
    respAppendBulk(&c->out, s, len);
}

void addReplyBulkStr(client *c, const char *s)
{
    addReplyBulk(c, s, strlen(s));
}

void addReplyBulkLongLong(client *c, long long v)
{
    char buf[32];
    int n = ll2string(buf, sizeof(buf), v);
    addReplyBulk(c, buf, n);
}

void addReplyObjValue(client *c, const stObj *o)
{
    addReplyBulk(c, o->val, o->vlen);
}

void addReplyNull(client *c)
{
    REPLY_GUARD(c);
    respAppendNullBulk(&c->out, c->resp);
}

void addReplyNullArray(client *c)
{
    REPLY_GUARD(c);
    respAppendNullArray(&c->out, c->resp);
}

void addReplyArrayLen(client *c, long n)
{
    REPLY_GUARD(c);
    respAppendArrayLen(&c->out, n);
}

void addReplyMapLen(client *c, long n)
{
    REPLY_GUARD(c);
    respAppendMapLen(&c->out, n, c->resp);
}

void addReplySetLen(client *c, long n)
{
    REPLY_GUARD(c);
    respAppendSetLen(&c->out, n, c->resp);
}

void addReplyDouble(client *c, double d)
{
    REPLY_GUARD(c);
    respAppendDouble(&c->out, d, c->resp);
}

void addReplyBool(client *c, int v)
{
    REPLY_GUARD(c);
    respAppendBool(&c->out, v, c->resp);
}

void addReplyVerbatim(client *c, const char *s, size_t len, const char *fmt3)
{
    REPLY_GUARD(c);
    respAppendVerbatim(&c->out, s, len, fmt3, c->resp);
}

/* ========================== Argument parsing ============================== */

int argIs(client *c, int i, const char *word)
{
    size_t n = strlen(word);
    return i < c->argc && c->argvlen[i] == n && strncasecmp(c->argv[i], word, n) == 0;
}

int getLongLongOrReply(client *c, const char *s, size_t len, long long *out, const char *msg)
{
    if (!string2ll(s, len, out)) {
        addReplyError(c, msg ? msg : "value is not an integer or out of range");
        return C_ERR;
    }
    return C_OK;
}

int getPositiveLongOrReply(client *c, const char *s, size_t len, long long *out, const char *msg)
{
    if (getLongLongOrReply(c, s, len, out, msg) != C_OK) return C_ERR;
    if (*out < 0) {
        addReplyError(c, msg ? msg : "value is out of range, must be positive");
        return C_ERR;
    }
    return C_OK;
}

int getRangeLongOrReply(client *c, const char *s, size_t len, long long min, long long max,
                        long long *out, const char *msg)
{
    if (getLongLongOrReply(c, s, len, out, msg) != C_OK) return C_ERR;
    if (*out < min || *out > max) {
        if (msg) {
            addReplyError(c, msg);
        } else {
            addReplyErrorFormat(c, "value is out of range, value must between %lld and %lld", min,
                                max);
        }
        return C_ERR;
    }
    return C_OK;
}

int getDoubleOrReply(client *c, const char *s, size_t len, double *out, const char *msg)
{
    if (!string2d(s, len, out)) {
        addReplyError(c, msg ? msg : "value is not a valid float");
        return C_ERR;
    }
    return C_OK;
}

/* ========================== Client life cycle ============================= */

static void onReadable(evutil_socket_t fd, short what, void *arg);
static void clientUnqueueWrite(client *c);
static void onWritable(evutil_socket_t fd, short what, void *arg);

static void threadLinkClient(strataThread *t, client *c)
{
    c->tnext = t->clients;
    c->tprev = NULL;
    if (t->clients) t->clients->tprev = c;
    t->clients = c;
    t->nclients++;
}

static void threadUnlinkClient(strataThread *t, client *c)
{
    if (c->tprev) c->tprev->tnext = c->tnext;
    else t->clients = c->tnext;
    if (c->tnext) c->tnext->tprev = c->tprev;
    t->nclients--;
}

/* Refuses a connection with a one-line error, best effort, and closes it. */
static void refuseConnection(int fd, const char *msg)
{
    ssize_t w = write(fd, msg, strlen(msg));
    (void)w;
    close(fd);
    atomic_fetch_add(&server.stat_rejected_conn, 1);
}


/* Redis 7.0's text, byte for byte: clients and tools match on it. */
static const char protectedModeDenied[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to Redis you may adopt "
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same host "
    "the server is running, however MAKE SURE Redis is not publicly accessible from internet if "
    "you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just "
    "disable the protected mode by editing the Redis configuration file, and setting the "
    "protected mode option to 'no', and then restarting the server. 3) If you started the server "
    "manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an "
    "authentication password for the default user. NOTE: You only need to do one of the above "
    "things in order for the server to start accepting connections from the outside.\r\n";

void acceptClient(strataThread *t, int fd, const char *peer, const char *local, int is_loopback)
{
    if (atomic_load(&server.nclients) >= cfg.maxclients) {
        refuseConnection(fd, "-ERR max number of clients reached\r\n");
        return;
    }
    if (protectedModeRefuses(cfg.protected_mode, cfg.requirepass, is_loopback)) {
        refuseConnection(fd, protectedModeDenied);
        return;
    }
    client *c = calloc(1, sizeof(*c));
    c->id = atomic_fetch_add(&server.next_client_id, 1);
    c->fd = fd;
    c->thread = t;
    c->resp = 2;
    c->authenticated = !(cfg.requirepass && cfg.requirepass[0]);
    snprintf(c->addr, sizeof(c->addr), "%s", peer);
    snprintf(c->laddr, sizeof(c->laddr), "%s", local);
    c->ctime_ms = c->last_interaction_ms = mstime();
    sbInit(&c->qbuf);
    sbInit(&c->out);
    sbInit(&c->xout);
    respReqInit(&c->req);
    pthread_mutex_init(&c->xlock, NULL);
    c->rev = event_new(t->base, fd, EV_READ | EV_PERSIST, onReadable, c);
    c->wev = event_new(t->base, fd, EV_WRITE, onWritable, c);
    event_add(c->rev, NULL);
    threadLinkClient(t, c);
    pthread_mutex_lock(&server.clients_lock);
    c->next = server.clients;
    if (server.clients) server.clients->prev = c;
    server.clients = c;
    atomic_fetch_add(&server.nclients, 1);
    pthread_mutex_unlock(&server.clients_lock);
    atomic_fetch_add(&server.stat_numconnections, 1);
}

static void monitorRemove(client *c)
{
    pthread_mutex_lock(&server.monitors_lock);
    for (int i = 0; i < server.nmonitors; i++) {
        if (server.monitors[i] == c) {
            server.monitors[i] = server.monitors[--server.nmonitors];
            break;
        }
    }
    atomic_store(&server.has_monitors, server.nmonitors > 0);
    pthread_mutex_unlock(&server.monitors_lock);
}

/* A script's client (script.c): what call() and the reply API need, no
 * socket, in no client list (CLIENT LIST does not show it, as in Redis).
 * Slow log entries name it "?:0" and MONITOR "lua", as Redis does. */
client *createScriptClient(strataThread *t)
{
    client *c = calloc(1, sizeof(*c));
    if (!c) serverPanic("out of memory creating the script client");
    c->id = atomic_fetch_add(&server.next_client_id, 1);
    c->fd = -1;
    c->thread = t;
    c->resp = 2;
    c->authenticated = 1;
    atomic_store(&c->flags, CLIENT_SCRIPT);
    snprintf(c->addr, sizeof(c->addr), "?:0");
    snprintf(c->laddr, sizeof(c->laddr), "?:0");
    c->ctime_ms = c->last_interaction_ms = mstime();
    sbInit(&c->qbuf);
    sbInit(&c->out);
    sbInit(&c->xout);
    respReqInit(&c->req);
    pthread_mutex_init(&c->xlock, NULL);
    return c;
}

void freeScriptClient(client *c)
{
    respReqFree(&c->req);
    sbFree(&c->qbuf);
    sbFree(&c->out);
    sbFree(&c->xout);
    pthread_mutex_destroy(&c->xlock);
    free(c->name);
    free(c);
}

/* Frees a client.  Owner thread only.  A client inside call() is only marked
 * to close: a script's caller can see its connection fail while the script
 * serves the thread's other clients (script.c, invariant 6); the command
 * loop frees it when the call returns. */
void freeClient(client *c)
{
    strataThread *t = c->thread;
    if (atomic_load(&c->flags) & CLIENT_IN_CALL) {
        atomic_fetch_or(&c->flags, CLIENT_CLOSE_ASAP);
        return;
    }
    /* First: a PUBLISH on another thread must not post to c, or queue it in
     * xpending, once the steps below have run (cmd_pubsub.c invariant 3). */
    pubsubClientFree(c);
    if (atomic_load(&c->flags) & CLIENT_BLOCKED) replWaitCancel(c->id);
    blockClientFree(c); /* blocked on keys: leave the queues (blocking.c) */
    if (atomic_load(&c->flags) & CLIENT_MONITOR) monitorRemove(c);
    multiClientReset(c);
    pthread_mutex_lock(&server.clients_lock);
    if (c->prev) c->prev->next = c->next;
    else server.clients = c->next;
    if (c->next) c->next->prev = c->prev;
    atomic_fetch_sub(&server.nclients, 1);
    pthread_mutex_unlock(&server.clients_lock);
    pthread_mutex_lock(&t->xlock);
    if (c->xqueued) {
        for (int i = 0; i < t->nxpending; i++) {
            if (t->xpending[i] == c) {
                t->xpending[i] = t->xpending[--t->nxpending];
                break;
            }
        }
    }
    pthread_mutex_unlock(&t->xlock);
    clientUnqueueWrite(c);
    callForgetClient(c);
    threadUnlinkClient(t, c);
    event_free(c->rev);
    event_free(c->wev);
    close(c->fd);
    respReqFree(&c->req);
    sbFree(&c->qbuf);
    sbFree(&c->out);
    sbFree(&c->xout);
    pthread_mutex_destroy(&c->xlock);
    free(c->name);
    free(c);
}

void clientKillAsync(client *c)
{
    atomic_fetch_or(&c->flags, CLIENT_CLOSE_ASAP);
    eventWakeThread(c->thread);
}

/* ========================== Writing ======================================= */

/* Moves replies posted by other threads into the normal output buffer. */
static void clientDrainPosted(client *c)
{
    pthread_mutex_lock(&c->xlock);
    if (c->xout.len) {
        sbAppend(&c->out, c->xout.buf, c->xout.len);
        sbClear(&c->xout);
    }
    pthread_mutex_unlock(&c->xlock);
}

/* Writes pending output.  Frees the client (and returns C_ERR) when the
 * connection failed, or when it was to close after its last reply. */
static int clientWrite(client *c)
{
    size_t written = 0;
    while (c->opos < c->out.len) {
        ssize_t n = write(c->fd, c->out.buf + c->opos, c->out.len - c->opos);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            freeClient(c);
            return C_ERR;
        }
        c->opos += n;
        written += n;
        c->net_out_bytes += n;
        atomic_fetch_add_explicit(&server.stat_net_output_bytes, n, memory_order_relaxed);
    }
    /* A client still taking a long reply is not idle (Redis counts writes as
     * interaction too): `timeout` must not cut a slow reader off mid-reply. */
    if (written) c->last_interaction_ms = mstime();
    if (c->opos == c->out.len) {
        c->opos = 0;
        c->out.len = 0;
        if (c->out.cap > PROTO_REPLY_SHRINK_BYTES) {
            sbFree(&c->out);
            sbInit(&c->out);
        }
        /* Drained: the soft output limit must be exceeded continuously, so
         * its clock restarts.  Left running, a later single reply above the
         * soft limit would be judged against the old start and close the
         * client at once. */
        if (c->obuf_soft_since_ms) {
            pthread_mutex_lock(&c->xlock);
            if (c->xout.len == 0) c->obuf_soft_since_ms = 0;
            pthread_mutex_unlock(&c->xlock);
        }
        if (atomic_load(&c->flags) & CLIENT_CLOSE_AFTER_REPLY) {
            freeClient(c);
            return C_ERR;
        }
        event_del(c->wev);
    } else {
        /* Keep the unsent tail at the front so the buffer does not grow forever. */
        if (c->opos > PROTO_REPLY_SHRINK_BYTES && c->opos * 2 > c->out.len) {
            memmove(c->out.buf, c->out.buf + c->opos, c->out.len - c->opos);
            c->out.len -= c->opos;
            c->opos = 0;
        }
        event_add(c->wev, NULL);
    }
    return C_OK;
}

/* Holds c's replies until the thread's write group commits. */
static void clientQueueWrite(client *c)
{
    strataThread *t = c->thread;
    if (c->wqueued) return;
    if (t->nwpending == t->wpending_cap) {
        t->wpending_cap = t->wpending_cap ? t->wpending_cap * 2 : 64;
        t->wpending = realloc(t->wpending, t->wpending_cap * sizeof(client *));
    }
    t->wpending[t->nwpending++] = c;
    c->wqueued = 1;
}

static void clientUnqueueWrite(client *c)
{
    strataThread *t = c->thread;
    if (!c->wqueued) return;
    for (int i = 0; i < t->nwpending; i++) {
        if (t->wpending[i] == c) {
            t->wpending[i] = t->wpending[--t->nwpending];
            break;
        }
    }
    c->wqueued = 0;
}

void clientFlush(client *c)
{
    if (atomic_load(&c->flags) & CLIENT_CLOSE_ASAP) {
        freeClient(c);
        return;
    }
    /* While this thread has uncommitted writes, no reply may leave: it could
     * acknowledge (or show) a write that is not in the WAL yet. */
    if (callHoldsReplies()) {
        clientQueueWrite(c);
        return;
    }
    clientWrite(c);
}

void clientsBeforeSleep(strataThread *t)
{
    callFlushGroup();
    while (t->nwpending > 0) {
        client *c = t->wpending[--t->nwpending];
        c->wqueued = 0;
        clientFlush(c);
    }
}

static void onWritable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    client *c = arg;
    clientDrainPosted(c);
    clientFlush(c);
}

/* ========================== Reading and parsing =========================== */

/* Bytes the parser holds for the command being received: completed arguments,
 * the argument in progress and a partial header line. */
static size_t reqBufferedBytes(const respReq *r)
{
    size_t n = r->bulk_got + r->line.len;
    for (int i = 0; i < r->argc; i++) n += r->argvlen[i];
    return n;
}

/* Parses and runs every complete command in the query buffer.  Returns C_ERR
 * if the client was freed. */
static int clientProcessBuffer(client *c)
{
    while (!(atomic_load(&c->flags) & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_BLOCKED)) &&
           c->qpos < c->qbuf.len) {
        size_t consumed = 0;
        const char *err = NULL;
        int r = respParseRequest(&c->req, c->qbuf.buf + c->qpos, c->qbuf.len - c->qpos, &consumed,
                                 cfg.proto_max_bulk_len, &err);
        c->qpos += consumed;
        if (r == RESP_REQ_MORE) break;
        if (r == RESP_REQ_ERROR) {
            serverLog(LL_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s", err,
                      (unsigned long long)c->id, c->addr);
            addReplyError(c, err);
            atomic_fetch_or(&c->flags, CLIENT_CLOSE_AFTER_REPLY);
            break;
        }
        if (c->req.argc > 0) {
            c->argc = c->req.argc;
            c->argv = c->req.argv;
            c->argvlen = c->req.argvlen;
            call(c);
            c->argc = 0;
            c->argv = NULL;
            c->argvlen = NULL;
        }
        respReqReset(&c->req);
    }
    /* Drop the parsed prefix. */
    if (c->qpos == c->qbuf.len) {
        c->qbuf.len = c->qpos = 0;
        if (c->qbuf.cap > PROTO_REPLY_SHRINK_BYTES) {
            sbFree(&c->qbuf);
            sbInit(&c->qbuf);
        }
    } else if (c->qpos > 0) {
        memmove(c->qbuf.buf, c->qbuf.buf + c->qpos, c->qbuf.len - c->qpos);
        c->qbuf.len -= c->qpos;
        c->qpos = 0;
    }
    /* Query buffer limit: unparsed bytes plus the argument being collected. */
    size_t qsize = c->qbuf.len + reqBufferedBytes(&c->req);
    if (cfg.client_query_buffer_limit && qsize > cfg.client_query_buffer_limit) {
        serverLog(LL_WARNING,
                  "Closing client that reached max query buffer length: id=%llu addr=%s "
                  "qbuf=%zu",
                  (unsigned long long)c->id, c->addr, qsize);
        atomic_fetch_add(&server.stat_client_qbuf_limit_disconnections, 1);
        freeClient(c);
        return C_ERR;
    }
    if (atomic_load(&c->flags) & CLIENT_CLOSE_ASAP) {
        freeClient(c);
        return C_ERR;
    }
    return C_OK;
}

void clientProcessInput(client *c)
{
    if (clientProcessBuffer(c) == C_OK) clientFlush(c);
}

static void onReadable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    client *c = arg;
    size_t want = PROTO_IOBUF_LEN_BYTES;
    /* A big bulk in progress: read it in larger pieces. */
    size_t pending = reqBufferedBytes(&c->req);
    if (pending > want) want = pending < 1024 * 1024 ? pending : 1024 * 1024;
    sbReserve(&c->qbuf, want);
    ssize_t n = read(fd, c->qbuf.buf + c->qbuf.len, c->qbuf.cap - c->qbuf.len);
    if (n == 0) {
        freeClient(c);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        freeClient(c);
        return;
    }
    c->qbuf.len += n;
    c->net_in_bytes += n;
    c->last_interaction_ms = mstime();
    atomic_fetch_add_explicit(&server.stat_net_input_bytes, n, memory_order_relaxed);
    clientProcessInput(c);
}

/* ========================== Cross-thread replies ========================== */

void clientPostReply(client *c, const char *s, size_t len)
{
    strataThread *t = c->thread;
    int queue = 0;
    /* Nothing for a client that is being closed (its buffer would only grow
     * until the owner frees it) or that turned replies off (Redis drops
     * MONITOR lines and messages then). */
    if (atomic_load(&c->flags) & (CLIENT_CLOSE_ASAP | CLIENT_REPLY_OFF)) return;
    pthread_mutex_lock(&c->xlock);
    sbAppend(&c->xout, s, len);
    clientCheckOutputLimits(c, mstime());
    pthread_mutex_unlock(&c->xlock);
    pthread_mutex_lock(&t->xlock);
    if (!c->xqueued) {
        c->xqueued = 1;
        if (t->nxpending == t->xpending_cap) {
            t->xpending_cap = t->xpending_cap ? t->xpending_cap * 2 : 16;
            t->xpending = realloc(t->xpending, t->xpending_cap * sizeof(client *));
        }
        t->xpending[t->nxpending++] = c;
        queue = 1;
    }
    pthread_mutex_unlock(&t->xlock);
    if (queue) eventWakeThread(t);
}

void clientHandleWake(strataThread *t)
{
    /* Posted replies. */
    for (;;) {
        client *c = NULL;
        pthread_mutex_lock(&t->xlock);
        if (t->nxpending > 0) {
            c = t->xpending[--t->nxpending];
            c->xqueued = 0;
        }
        pthread_mutex_unlock(&t->xlock);
        if (!c) break;
        clientDrainPosted(c);
        /* A WAIT answered from another thread: run what the client sent
         * meanwhile, then flush (either may free c: do not touch it after). */
        if (atomic_load(&c->flags) & CLIENT_UNBLOCKED) {
            atomic_fetch_and(&c->flags, ~(CLIENT_BLOCKED | CLIENT_UNBLOCKED));
            blockClientResumed(c);
            clientProcessInput(c);
        } else {
            clientFlush(c);
        }
    }
    /* Kills. */
    client *c = t->clients;
    while (c) {
        client *next = c->tnext;
        int f = atomic_load(&c->flags);
        if (f & CLIENT_CLOSE_ASAP) {
            freeClient(c);
        } else if (f & CLIENT_UNBLOCKED) { /* unblocked with replies off */
            atomic_fetch_and(&c->flags, ~(CLIENT_BLOCKED | CLIENT_UNBLOCKED));
            blockClientResumed(c);
            clientProcessInput(c);
        }
        c = next;
    }
}

/* MONITOR: one line per command, posted to every monitor on any thread. */
void monitorFeed(client *c)
{
    strbuf line;
    sbInit(&line);
    uint64_t us = ustime();
    const char *who = (atomic_load(&c->flags) & CLIENT_SCRIPT) ? "lua" : c->addr;
    sbPrintf(&line, "+%llu.%06llu [%d %s]", (unsigned long long)(us / 1000000),
             (unsigned long long)(us % 1000000), c->db, who);
    for (int i = 0; i < c->argc; i++) {
        sbAppend(&line, " \"", 2);
        if (commandArgIsSecret(c, i)) {
            sbAppendStr(&line, "(redacted)\"");
            continue;
        }
        for (size_t j = 0; j < c->argvlen[i]; j++) {
            unsigned char ch = c->argv[i][j];
            if (ch == '\\' || ch == '"') {
                char e[2] = {'\\', (char)ch};
                sbAppend(&line, e, 2);
            } else if (ch == '\n') sbAppend(&line, "\\n", 2);
            else if (ch == '\r') sbAppend(&line, "\\r", 2);
            else if (ch == '\t') sbAppend(&line, "\\t", 2);
            else if (ch == '\a') sbAppend(&line, "\\a", 2);
            else if (ch == '\b') sbAppend(&line, "\\b", 2);
            else if (ch < 32 || ch >= 127) sbPrintf(&line, "\\x%02x", ch);
            else sbAppend(&line, (const char *)&ch, 1);
        }
        sbAppend(&line, "\"", 1);
    }
    sbAppend(&line, "\r\n", 2);
    pthread_mutex_lock(&server.monitors_lock);
    /* A monitor sees its own commands too, as in Redis. */
    for (int i = 0; i < server.nmonitors; i++) clientPostReply(server.monitors[i], line.buf, line.len);
    pthread_mutex_unlock(&server.monitors_lock);
    sbFree(&line);
}

/* ========================== Cron and introspection ======================== */

void clientsCron(strataThread *t, uint64_t now_ms)
{
    client *c = t->clients;
    while (c) {
        client *next = c->tnext;
        int fl = atomic_load(&c->flags);
        if (fl & CLIENT_CLOSE_ASAP) {
            freeClient(c);
        } else if (cfg.timeout > 0 && !(fl & (CLIENT_MONITOR | CLIENT_PUBSUB | CLIENT_BLOCKED)) &&
                   now_ms - c->last_interaction_ms > (uint64_t)cfg.timeout * 1000) {
            serverLog(LL_VERBOSE, "Closing idle client id=%llu", (unsigned long long)c->id);
            freeClient(c);
        } else if (clientOutputPending(c) > 0) {
            pthread_mutex_lock(&c->xlock);
            int over = clientCheckOutputLimits(c, now_ms);
            pthread_mutex_unlock(&c->xlock);
            if (over) freeClient(c);
        }
        c = next;
    }
}

/* CLIENT LIST / CLIENT INFO line, Redis 7.0 field order.  Caller holds
 * clients_lock when c belongs to another thread; the byte counts read then are
 * a racy snapshot, which is what Redis's INFO-style output promises anyway. */
void clientInfoString(client *c, strbuf *b, uint64_t now_ms)
{
    int fl = atomic_load(&c->flags);
    char flags[16];
    int p = 0;
    /* Letters in Redis's order. */
    if (fl & CLIENT_MONITOR) flags[p++] = 'O';
    if (fl & CLIENT_PUBSUB) flags[p++] = 'P';
    if (fl & CLIENT_BLOCKED) flags[p++] = 'b';
    if (fl & CLIENT_CLOSE_AFTER_REPLY) flags[p++] = 'c';
    if (fl & CLIENT_CLOSE_ASAP) flags[p++] = 'A';
    if (fl & CLIENT_NO_EVICT) flags[p++] = 'e';
    if (p == 0) flags[p++] = 'N';
    flags[p] = '\0';
    /* cmd_name is written by the owner thread only; it always holds a NUL at
     * its last byte, so a racy read from another thread stays in bounds. */
    char cmdname[sizeof(c->cmd_name)];
    memcpy(cmdname, c->cmd_name, sizeof(cmdname));
    cmdname[sizeof(cmdname) - 1] = '\0';
    if (!cmdname[0]) snprintf(cmdname, sizeof(cmdname), "NULL");
    size_t obl = clientOutputPending(c);
    sbPrintf(b,
             "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu flags=%s db=%d sub=%d "
             "psub=%d ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 rbs=%zu "
             "rbp=%zu obl=%zu oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s user=default "
             "redir=-1 resp=%d",
             (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
             (unsigned long long)((now_ms - c->ctime_ms) / 1000),
             (unsigned long long)((now_ms - c->last_interaction_ms) / 1000), flags, c->db,
             atomic_load(&c->pubsub_channels), atomic_load(&c->pubsub_patterns), c->qbuf.len,
             c->qbuf.cap - c->qbuf.len, c->out.cap, c->out.len, obl, obl,
             sizeof(client) + c->qbuf.cap + c->out.cap + c->xout.cap, obl ? "w" : "",
             cmdname, c->resp);
}

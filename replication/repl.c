/* repl.c - the replication thread: its loop, the thread-safe API of repl.h,
 * WAIT bookkeeping, INFO/ROLE reporting and the small helpers the links
 * share (frame headers, zstd).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <zstd.h>

#include "repl_int.h"

replState repl;

/* ---- Helpers ------------------------------------------------------------------ */

uint64_t replNowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void replLog(int level, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (repl.hooks.log) repl.hooks.log(level, msg);
}

void replAppendf(char **out, size_t *len, size_t *cap, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*out ? *out + *len : NULL, *out ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (*out && *len + (size_t)n < *cap) {
            *len += (size_t)n;
            return;
        }
        size_t nc = *cap ? *cap * 2 : 1024;
        while (nc <= *len + (size_t)n) nc *= 2;
        char *p = realloc(*out, nc);
        if (!p) abort();
        *out = p;
        *cap = nc;
    }
}

void replFrameHeader(char *dst, int type, uint32_t len) {
    dst[0] = (char)type;
    dst[1] = (char)(len >> 24);
    dst[2] = (char)(len >> 16);
    dst[3] = (char)(len >> 8);
    dst[4] = (char)len;
}

size_t replCompress(const char *src, size_t len, char **dst, size_t *cap) {
    size_t bound = ZSTD_compressBound(len);
    if (*cap < bound) {
        char *p = realloc(*dst, bound);
        if (!p) abort();
        *dst = p;
        *cap = bound;
    }
    size_t n = ZSTD_compress(*dst, *cap, src, len, 1);
    return ZSTD_isError(n) ? 0 : n;
}

int replDecompress(const char *src, size_t len, size_t rawlen, char **dst, size_t *cap) {
    if (*cap < rawlen) {
        char *p = realloc(*dst, rawlen ? rawlen : 1);
        if (!p) abort();
        *dst = p;
        *cap = rawlen;
    }
    size_t n = ZSTD_decompress(*dst, rawlen, src, len);
    return !ZSTD_isError(n) && n == rawlen ? 0 : -1;
}

void replNewReplid(void) {
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[20];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(raw, 1, sizeof(raw), f) != sizeof(raw)) {
        uint64_t x = replNowMs() ^ ((uint64_t)getpid() << 32) ^ stNodeId(repl.st);
        for (size_t i = 0; i < sizeof(raw); i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            raw[i] = (unsigned char)x;
        }
    }
    if (f) fclose(f);
    for (int i = 0; i < 20; i++) {
        repl.replid[2 * i] = hex[raw[i] >> 4];
        repl.replid[2 * i + 1] = hex[raw[i] & 15];
    }
    repl.replid[40] = '\0';
    stReplPut(repl.st, "id", repl.replid, 40);
}

/* ---- WAIT ------------------------------------------------------------------------- */

void replCheckWaiters(uint64_t now_ms) {
    for (int i = 0; i < repl.nwaiters;) {
        replWaiter *w = &repl.waiters[i];
        long long n = senderCountAcked(w->target);
        if (n >= w->numreplicas || (w->deadline_ms && now_ms >= w->deadline_ms)) {
            if (repl.hooks.wait_done) repl.hooks.wait_done(w->client_id, n);
            repl.waiters[i] = repl.waiters[--repl.nwaiters];
            continue;
        }
        i++;
    }
}

long long replWaitBlock(uint64_t client_id, int numreplicas, long long timeout_ms) {
    pthread_mutex_lock(&repl.mu);
    uint64_t target = stLatestSeq(repl.st);
    long long n = senderCountAcked(target);
    if (n < numreplicas && timeout_ms >= 0 && !repl.is_replica && repl.nwaiters < REPL_MAX_WAITERS) {
        replWaiter *w = &repl.waiters[repl.nwaiters++];
        w->client_id = client_id;
        w->numreplicas = numreplicas;
        w->target = target;
        w->deadline_ms = timeout_ms ? replNowMs() + (uint64_t)timeout_ms : 0;
        n = -1;
    }
    pthread_mutex_unlock(&repl.mu);
    return n;
}

void replWaitCancel(uint64_t client_id) {
    pthread_mutex_lock(&repl.mu);
    for (int i = 0; i < repl.nwaiters; i++) {
        if (repl.waiters[i].client_id == client_id) {
            repl.waiters[i] = repl.waiters[--repl.nwaiters];
            break;
        }
    }
    pthread_mutex_unlock(&repl.mu);
}

/* ---- The thread --------------------------------------------------------------------- */

static void onWake(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what, (void)arg;
    pthread_mutex_lock(&repl.mu);
    if (repl.stop) {
        senderCloseAll();
        receiverClose();
        event_base_loopbreak(repl.base);
        pthread_mutex_unlock(&repl.mu);
        return;
    }
    while (repl.accepts) {
        struct pendingAccept *pa = repl.accepts;
        repl.accepts = pa->next_pa;
        senderAccept(pa);
    }
    if (repl.rx_reconfigure) {
        repl.rx_reconfigure = 0;
        receiverReconfigure();
    }
    senderFillAll(1);
    pthread_mutex_unlock(&repl.mu);
}

static void onCron(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what, (void)arg;
    pthread_mutex_lock(&repl.mu);
    uint64_t now = replNowMs();
    senderCron(now);
    receiverCron(now);
    replCheckWaiters(now);
    pthread_mutex_unlock(&repl.mu);
}

/* Storage calls this after every commit: wake the thread only when a link
 * sleeps at the tail, so a busy master pays one atomic load per batch. */
static void onCommit(void *ud) {
    (void)ud;
    if (atomic_load_explicit(&repl.commit_wake, memory_order_relaxed) &&
        atomic_exchange(&repl.commit_wake, 0))
        event_active(repl.wake, EV_READ, 0);
}

static void *replThreadMain(void *arg) {
    (void)arg;
    event_base_dispatch(repl.base);
    return NULL;
}

static void replWake(void) { event_active(repl.wake, EV_READ, 0); }

int replStart(stEngine *st, const replHooks *hooks, const replSettings *s, char **err) {
    memset(&repl, 0, sizeof(repl));
    repl.st = st;
    repl.hooks = *hooks;
    repl.set = *s;
    pthread_mutex_init(&repl.mu, NULL);
    size_t idlen = 0;
    char *id = stReplGet(st, "id", &idlen);
    if (id && idlen == 40) {
        memcpy(repl.replid, id, 41);
    } else {
        replNewReplid();
    }
    free(id);
    repl.base = event_base_new();
    if (!repl.base) {
        *err = strdup("cannot create the replication event loop");
        return -1;
    }
    repl.wake = event_new(repl.base, -1, EV_PERSIST, onWake, NULL);
    repl.cron = event_new(repl.base, -1, EV_PERSIST, onCron, NULL);
    struct timeval tv = {0, REPL_CRON_MS * 1000};
    event_add(repl.cron, &tv);
    stSetCommitHook(st, onCommit, NULL);
    if (pthread_create(&repl.tid, NULL, replThreadMain, NULL) != 0) {
        *err = strdup("cannot start the replication thread");
        return -1;
    }
    repl.started = 1;
    return 0;
}

void replStop(void) {
    if (!repl.started) return;
    stSetCommitHook(repl.st, NULL, NULL);
    pthread_mutex_lock(&repl.mu);
    repl.stop = 1;
    pthread_mutex_unlock(&repl.mu);
    replWake();
    pthread_join(repl.tid, NULL);
    event_free(repl.wake);
    event_free(repl.cron);
    event_base_free(repl.base);
    while (repl.accepts) {
        struct pendingAccept *pa = repl.accepts;
        repl.accepts = pa->next_pa;
        close(pa->fd);
        free(pa->prefix);
        free(pa);
    }
    free(repl.zbuf);
    free(repl.rx.zbuf);
    free(repl.rx.fbuf);
    repl.zbuf = repl.rx.zbuf = repl.rx.fbuf = NULL;
    repl.started = 0;
}

void replConfigure(const replSettings *s) {
    pthread_mutex_lock(&repl.mu);
    repl.set = *s;
    pthread_mutex_unlock(&repl.mu);
}

int replSetMaster(const char *host, int port) {
    pthread_mutex_lock(&repl.mu);
    int same = 0;
    if (!host) {
        if (repl.rx.state != RX_NONE) repl.rx_reconfigure = 1;
        repl.rx.host[0] = '\0';
        repl.rx.port = 0;
        atomic_store(&repl.is_replica, 0);
    } else if (repl.rx.state != RX_NONE && !strcasecmp(repl.rx.host, host) && repl.rx.port == port) {
        same = 1;
    } else {
        snprintf(repl.rx.host, sizeof(repl.rx.host), "%s", host);
        repl.rx.port = port;
        repl.rx_reconfigure = 1;
        atomic_store(&repl.is_replica, 1);
    }
    /* A replica answers no WAIT: release the waiters now. */
    if (repl.is_replica) {
        for (int i = 0; i < repl.nwaiters; i++)
            if (repl.hooks.wait_done) repl.hooks.wait_done(repl.waiters[i].client_id, 0);
        repl.nwaiters = 0;
    }
    pthread_mutex_unlock(&repl.mu);
    if (!same) replWake();
    return same;
}

int replIsReplica(void) { return atomic_load_explicit(&repl.is_replica, memory_order_relaxed); }

int replAcceptReplica(int fd, const char *ip, int port, int argc, char **argv,
                      const char *prefix, size_t plen) {
    if (argc < 4) return -1;
    struct pendingAccept *pa = calloc(1, sizeof(*pa));
    if (!pa) abort();
    char *end;
    errno = 0;
    pa->next = strtoull(argv[1], &end, 10);
    if (errno || *end || strlen(argv[0]) >= sizeof(pa->replid)) {
        free(pa);
        return -1;
    }
    pa->node_id = strtoull(argv[3], &end, 16);
    pa->want_zstd = strstr(argv[2], "zstd") != NULL;
    snprintf(pa->replid, sizeof(pa->replid), "%s", argv[0]);
    snprintf(pa->ip, sizeof(pa->ip), "%s", ip);
    pa->port = port;
    pa->fd = fd;
    if (plen) {
        pa->prefix = malloc(plen);
        if (!pa->prefix) abort();
        memcpy(pa->prefix, prefix, plen);
        pa->prefix_len = plen;
    }
    pthread_mutex_lock(&repl.mu);
    pa->next_pa = repl.accepts;
    repl.accepts = pa;
    pthread_mutex_unlock(&repl.mu);
    replWake();
    return 0;
}

/* ---- Reporting ------------------------------------------------------------------------ */

void replStats(long long *full, long long *partial_ok, long long *partial_err) {
    pthread_mutex_lock(&repl.mu);
    *full = repl.stat_sync_full;
    *partial_ok = repl.stat_partial_ok;
    *partial_err = repl.stat_partial_err;
    pthread_mutex_unlock(&repl.mu);
}

static const char *rxStateName(int s) {
    switch (s) {
    case RX_CONNECT: return "connect";
    case RX_CONNECTING:
    case RX_HANDSHAKE: return "connecting";
    case RX_SYNC: return "sync";
    case RX_CONNECTED: return "connected";
    default: return "none";
    }
}

char *replInfoString(void) {
    char *out = NULL;
    size_t len = 0, cap = 0;
    uint64_t first = 0, bytes = 0;
    stWalRetained(repl.st, &first, &bytes); /* file system work: outside mu */
    pthread_mutex_lock(&repl.mu);
    uint64_t latest = stLatestSeq(repl.st), now = replNowMs();
    replReceiver *rx = &repl.rx;
    if (repl.is_replica) {
        uint64_t io = rx->last_io_ms ? (now - rx->last_io_ms) / 1000 : 0;
        replAppendf(&out, &len, &cap,
                    "role:slave\r\nmaster_host:%s\r\nmaster_port:%d\r\n"
                    "master_link_status:%s\r\nmaster_last_io_seconds_ago:%lld\r\n"
                    "master_sync_in_progress:%d\r\n"
                    "slave_read_repl_offset:%llu\r\nslave_repl_offset:%llu\r\n",
                    rx->host, rx->port, rx->state == RX_CONNECTED ? "up" : "down",
                    rx->state == RX_CONNECTED ? (long long)io : -1LL, rx->state == RX_SYNC,
                    (unsigned long long)(rx->applied_next ? rx->applied_next - 1 : 0),
                    (unsigned long long)(rx->applied_next ? rx->applied_next - 1 : 0));
        if (rx->state == RX_SYNC)
            replAppendf(&out, &len, &cap, "master_sync_last_io_seconds_ago:%llu\r\n",
                        (unsigned long long)((now - rx->last_io_ms) / 1000));
        uint64_t behind = rx->master_latest >= rx->applied_next ? rx->master_latest + 1 - rx->applied_next : 0;
        replAppendf(&out, &len, &cap,
                    "slave_priority:100\r\nslave_read_only:%d\r\nreplica_announced:1\r\n"
                    "master_lag_seq:%llu\r\n",
                    repl.set.read_only, (unsigned long long)behind);
    } else {
        replAppendf(&out, &len, &cap, "role:master\r\n");
    }
    replAppendf(&out, &len, &cap, "connected_slaves:%d\r\n", repl.nlinks);
    senderInfo(&out, &len, &cap, latest);
    replAppendf(&out, &len, &cap,
                "master_failover_state:no-failover\r\nmaster_replid:%s\r\n"
                "master_replid2:0000000000000000000000000000000000000000\r\n"
                "master_repl_offset:%llu\r\nsecond_repl_offset:-1\r\n"
                "repl_backlog_active:1\r\nrepl_backlog_size:%llu\r\n"
                "repl_backlog_first_byte_offset:%llu\r\nrepl_backlog_histlen:%llu\r\n"
                "repl_backlog_disk_bytes:%llu\r\n",
                repl.replid, (unsigned long long)latest, repl.set.backlog_bytes,
                (unsigned long long)first,
                (unsigned long long)(first && latest >= first ? latest - first + 1 : 0),
                (unsigned long long)bytes);
    pthread_mutex_unlock(&repl.mu);
    return out;
}

void replGetRole(replRole *out) {
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&repl.mu);
    out->is_replica = repl.is_replica;
    if (repl.is_replica) {
        snprintf(out->master_host, sizeof(out->master_host), "%s", repl.rx.host);
        out->master_port = repl.rx.port;
        out->state = rxStateName(repl.rx.state);
        out->offset = repl.rx.applied_next ? (long long)repl.rx.applied_next - 1 : -1;
    } else {
        out->offset = (long long)stLatestSeq(repl.st);
        for (replLink *l = repl.links; l && out->nreplicas < 64; l = l->next) {
            replRoleReplica *r = &out->replicas[out->nreplicas++];
            snprintf(r->ip, sizeof(r->ip), "%s", l->ip);
            r->port = l->port;
            r->offset = l->acked_next ? (long long)l->acked_next - 1 : 0;
        }
    }
    pthread_mutex_unlock(&repl.mu);
}

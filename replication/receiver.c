/* receiver.c - the replica side: connects to the master, authenticates,
 * asks to continue from the position stored with its data (or for a full
 * sync), applies what arrives and acknowledges it.
 *
 * The position is persisted by storage in the same WriteBatch as the data
 * it describes ("<master replid> <next seq>", apply.c invariant 1), so a
 * kill -9 at any moment restarts with CONTINUE from exactly what is on disk.
 *
 * Memory: the input buffer stops reading at two send windows (libevent read
 * watermark), raised only as far as one frame needs, so a fast master
 * cannot grow a slow replica's memory either.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "repl_int.h"

static size_t rxWindow(void) { return repl.set.send_window ? repl.set.send_window : 4 * 1024 * 1024; }

static void rxDrop(replReceiver *rx) {
    if (rx->bev) bufferevent_free(rx->bev);
    rx->bev = NULL;
    stRemoteFree(rx->remote);
    rx->remote = NULL;
}

/* A full sync that did not finish leaves part of the master's data: the
 * node keeps answering -LOADING (and asks for a full sync again, apply.c
 * invariant 2) until a sync completes, unless it stops being a replica
 * (`promote`: REPLICAOF NO ONE, shutdown), where the operator chose to
 * serve what there is. */
static void rxAbortSync(replReceiver *rx, int promote) {
    if (rx->state == RX_SYNC) rx->sync_incomplete = 1;
    if (promote && rx->sync_incomplete && repl.hooks.set_loading) {
        repl.hooks.set_loading(0);
        rx->sync_incomplete = 0;
    }
}

static void rxFail(replReceiver *rx, const char *why) {
    replLog(REPL_LOG_WARNING, "Connection with master %s:%d lost: %s", rx->host, rx->port, why);
    rxAbortSync(rx, 0);
    rxDrop(rx);
    rx->state = RX_CONNECT;
    rx->retry_at_ms = replNowMs() + REPL_RETRY_MS;
}

void receiverClose(void) {
    replReceiver *rx = &repl.rx;
    rxAbortSync(rx, 1);
    rxDrop(rx);
    rx->state = RX_NONE;
}

static uint64_t getU64(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | (unsigned char)p[i];
    return v;
}

static void putU64(char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (char)v;
}

static void rxSendAck(replReceiver *rx) {
    char f[FR_ACK_BYTES];
    replFrameHeader(f, FR_ACK, 16);
    putU64(f + FRAME_HDR_BYTES, rx->applied_next);
    putU64(f + FRAME_HDR_BYTES + 8, rx->applied_hlc);
    bufferevent_write(rx->bev, f, sizeof(f));
}

/* "<master replid> <next master seq> <our own origin seq>": the last field
 * tells, at the next connection, whether this node wrote on its own since
 * (as a promoted master or a writable replica): then its data may differ
 * from the master's history and only a full sync is safe. */
static void rxState(replReceiver *rx, uint64_t next, char *buf, size_t cap, size_t *len) {
    *len = (size_t)snprintf(buf, cap, "%s %llu %llu", rx->master_replid, (unsigned long long)next,
                            (unsigned long long)stOriginSeq(repl.st));
}

/* Runs fn with the keyspace locked exclusively; mu is dropped while waiting
 * for the lock (lock order, repl_int.h). */
static void rxLockKeyspace(void) {
    pthread_mutex_unlock(&repl.mu);
    if (repl.hooks.lock_keyspace) repl.hooks.lock_keyspace();
    pthread_mutex_lock(&repl.mu);
}

static void rxUnlockKeyspace(void) {
    if (repl.hooks.unlock_keyspace) repl.hooks.unlock_keyspace();
}

static int rxBeginFullSync(replReceiver *rx) {
    char *err = NULL;
    if (repl.hooks.set_loading) repl.hooks.set_loading(1);
    rxLockKeyspace();
    int rc = stSyncBegin(rx->remote, &err);
    rxUnlockKeyspace();
    if (rc != 0) {
        replLog(REPL_LOG_WARNING, "Full sync: clearing the dataset failed: %s", err);
        free(err);
        return -1;
    }
    /* Our replicas followed the data we just deleted. */
    senderCloseAll();
    rx->state = RX_SYNC;
    rx->sync_started_ms = replNowMs();
    return 0;
}

/* One frame.  0 = ok, -1 = the link must be dropped. */
static int rxFrame(replReceiver *rx, int type, const char *p, size_t n) {
    char *err = NULL, st[128];
    size_t slen;
    switch (type) {
    case FR_WAL: {
        if (n < 16 || rx->state != RX_CONNECTED) return -1;
        uint64_t next = getU64(p + 8);
        rxState(rx, next, st, sizeof(st), &slen);
        if (stApplyBatch(rx->remote, p + 16, n - 16, st, slen, &err) != 0) {
            replLog(REPL_LOG_WARNING, "Applying a batch from the master failed: %s", err);
            free(err);
            return -1;
        }
        rx->applied_next = next;
        /* The header's HLC (after the 12-byte rep header, tag and length). */
        if (n >= 16 + 14 + 25 && p[16 + 12] == 0x03) rx->applied_hlc = getU64(p + 16 + 14 + 17);
        return 0;
    }
    case FR_SNAP:
        if (rx->state != RX_SYNC) return -1;
        if (stSyncLoad(rx->remote, p, n, &err) != 0) {
            replLog(REPL_LOG_WARNING, "Full sync: loading a chunk failed: %s", err);
            free(err);
            return -1;
        }
        return 0;
    case FR_SNAP_END: {
        if (n < 8 || rx->state != RX_SYNC) return -1;
        uint64_t next = getU64(p) + 1;
        rxState(rx, next, st, sizeof(st), &slen);
        rxLockKeyspace();
        int rc = stSyncEnd(rx->remote, st, slen, &err);
        rxUnlockKeyspace();
        if (rc != 0) {
            replLog(REPL_LOG_WARNING, "Full sync: finishing failed: %s", err);
            free(err);
            return -1;
        }
        replNewReplid(); /* our history changed: our replicas must resync */
        rx->applied_next = next;
        rx->state = RX_CONNECTED;
        rx->sync_incomplete = 0;
        if (repl.hooks.set_loading) repl.hooks.set_loading(0);
        replLog(REPL_LOG_NOTICE, "MASTER <-> REPLICA sync: finished with success in %llu ms",
                (unsigned long long)(replNowMs() - rx->sync_started_ms));
        return 0;
    }
    case FR_HEARTBEAT:
        if (n >= 16) rx->master_latest = getU64(p);
        return 0;
    default:
        return -1;
    }
}

static int rxFrames(replReceiver *rx, const char *p, size_t n) {
    while (n >= FRAME_HDR_BYTES) {
        const unsigned char *u = (const unsigned char *)p;
        uint32_t len = (uint32_t)u[1] << 24 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 8 | u[4];
        if (len > n - FRAME_HDR_BYTES) return -1;
        if (rxFrame(rx, p[0], p + FRAME_HDR_BYTES, len) != 0) return -1;
        p += FRAME_HDR_BYTES + len;
        n -= FRAME_HDR_BYTES + len;
    }
    return n ? -1 : 0;
}

static void rxStream(replReceiver *rx, struct evbuffer *in) {
    int got = 0;
    for (;;) {
        unsigned char h[FRAME_HDR_BYTES];
        if (evbuffer_copyout(in, h, sizeof(h)) < (ssize_t)sizeof(h)) break;
        uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
        if (len > REPL_MAX_FRAME_BYTES) {
            rxFail(rx, "frame too large");
            return;
        }
        size_t need = FRAME_HDR_BYTES + (size_t)len;
        if (evbuffer_get_length(in) < need) {
            /* Let the input grow to one frame, never more than that plus a
             * window. */
            size_t hw = 2 * rxWindow();
            if (need > hw) hw = need;
            bufferevent_setwatermark(rx->bev, EV_READ, 0, hw);
            break;
        }
        if (rx->fcap < len) {
            char *p = realloc(rx->fbuf, len);
            if (!p) abort();
            rx->fbuf = p;
            rx->fcap = len;
        }
        evbuffer_drain(in, FRAME_HDR_BYTES);
        evbuffer_remove(in, rx->fbuf, len);
        int rc;
        if (h[0] == FR_ZSTD) {
            uint32_t raw = len >= 4 ? (uint32_t)(unsigned char)rx->fbuf[0] << 24 |
                                          (uint32_t)(unsigned char)rx->fbuf[1] << 16 |
                                          (uint32_t)(unsigned char)rx->fbuf[2] << 8 |
                                          (unsigned char)rx->fbuf[3]
                                    : 0;
            rc = len < 4 || replDecompress(rx->fbuf + 4, len - 4, raw, &rx->zbuf, &rx->zcap) != 0
                     ? -1
                     : rxFrames(rx, rx->zbuf, raw);
        } else {
            rc = rxFrame(rx, h[0], rx->fbuf, len);
        }
        if (rc != 0) {
            rxFail(rx, "stream error");
            return;
        }
        got = 1;
    }
    rx->last_io_ms = replNowMs();
    if (got && rx->state == RX_CONNECTED) rxSendAck(rx);
}

/* The reply to REPLSYNC: "+CONTINUE|+FULLSYNC replid seq cfids compression". */
static int rxSyncReply(replReceiver *rx, const char *line) {
    char kind[16], replid[64], cfids[128], comp[16];
    unsigned long long seq;
    if (sscanf(line, "+%15s %63s %llu %127s %15s", kind, replid, &seq, cfids, comp) != 5 ||
        strlen(replid) != 40)
        return -1;
    char *err = NULL;
    rx->remote = stRemoteNew(repl.st, cfids, &err);
    if (!rx->remote) {
        replLog(REPL_LOG_WARNING, "Master handshake: %s", err);
        free(err);
        return -1;
    }
    memcpy(rx->master_replid, replid, 41);
    rx->compressed = !strcmp(comp, "zstd");
    if (!strcmp(kind, "CONTINUE")) {
        rx->state = RX_CONNECTED;
        rx->applied_next = seq;
        replLog(REPL_LOG_NOTICE, "MASTER <-> REPLICA sync: continuing from seq %llu", seq);
        return 0;
    }
    if (strcmp(kind, "FULLSYNC") != 0) return -1;
    replLog(REPL_LOG_NOTICE, "MASTER <-> REPLICA sync: full sync from seq %llu", seq);
    return rxBeginFullSync(rx);
}

static void onRxReadable(struct bufferevent *bev, void *arg) {
    replReceiver *rx = arg;
    pthread_mutex_lock(&repl.mu);
    struct evbuffer *in = bufferevent_get_input(bev);
    while (rx->state == RX_HANDSHAKE) {
        size_t n;
        char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
        if (!line) {
            if (evbuffer_get_length(in) > 4096) rxFail(rx, "handshake reply too long");
            goto out;
        }
        rx->last_io_ms = replNowMs();
        if (line[0] == '-') {
            replLog(REPL_LOG_WARNING, "Master %s:%d refused the handshake: %s", rx->host, rx->port,
                    line + 1);
            free(line);
            rxFail(rx, "handshake refused");
            goto out;
        }
        if (--rx->replies_left == 0) {
            int rc = rxSyncReply(rx, line);
            free(line);
            if (rc != 0) {
                rxFail(rx, "bad handshake reply");
                goto out;
            }
        } else {
            free(line);
        }
    }
    if (rx->state == RX_SYNC || rx->state == RX_CONNECTED) rxStream(rx, in);
out:
    pthread_mutex_unlock(&repl.mu);
}

static void rxAppendCmd(struct evbuffer *out, int argc, const char **argv) {
    evbuffer_add_printf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) evbuffer_add_printf(out, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

static void onRxEvent(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    replReceiver *rx = arg;
    pthread_mutex_lock(&repl.mu);
    if (what & BEV_EVENT_CONNECTED) {
        struct evbuffer *out = bufferevent_get_output(rx->bev);
        rx->replies_left = 0;
        if (repl.set.masterauth[0]) {
            const char *a[3] = {"AUTH", repl.set.masteruser, repl.set.masterauth};
            if (repl.set.masteruser[0]) rxAppendCmd(out, 3, a);
            else {
                a[1] = repl.set.masterauth;
                rxAppendCmd(out, 2, a);
            }
            rx->replies_left++;
        }
        char port[16], next[24], node[24];
        snprintf(port, sizeof(port), "%d", repl.set.listening_port);
        const char *rc[3] = {"REPLCONF", "listening-port", port};
        rxAppendCmd(out, 3, rc);
        rx->replies_left++;
        /* Our position, as stored with our data. */
        size_t slen = 0;
        char *state = stReplGet(repl.st, "state", &slen), replid[64] = "?";
        unsigned long long pos = 0, own = 0;
        if (!state || sscanf(state, "%63s %llu %llu", replid, &pos, &own) != 3) {
            snprintf(replid, sizeof(replid), "?");
            pos = 0;
        } else if (own != stOriginSeq(repl.st)) {
            replLog(REPL_LOG_NOTICE, "This node wrote on its own since it last followed a "
                                     "master: asking for a full sync");
            snprintf(replid, sizeof(replid), "?");
            pos = 0;
        }
        free(state);
        snprintf(next, sizeof(next), "%llu", pos);
        snprintf(node, sizeof(node), "%016llx", (unsigned long long)stNodeId(repl.st));
        const char *ps[5] = {"REPLSYNC", replid, next, "zstd", node};
        rxAppendCmd(out, 5, ps);
        rx->replies_left++;
        rx->state = RX_HANDSHAKE;
        rx->last_io_ms = replNowMs();
        replLog(REPL_LOG_NOTICE, "MASTER <-> REPLICA sync started: asking %s:%d for seq %llu",
                rx->host, rx->port, pos);
    } else {
        rxFail(rx, (what & BEV_EVENT_EOF) ? "connection closed by the master" : "socket error");
    }
    pthread_mutex_unlock(&repl.mu);
}

static void rxConnect(replReceiver *rx) {
    rx->bev = bufferevent_socket_new(repl.base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(rx->bev, onRxReadable, NULL, onRxEvent, rx);
    bufferevent_setwatermark(rx->bev, EV_READ, 0, 2 * rxWindow());
    bufferevent_enable(rx->bev, EV_READ | EV_WRITE);
    rx->state = RX_CONNECTING;
    rx->last_io_ms = replNowMs();
    replLog(REPL_LOG_NOTICE, "Connecting to MASTER %s:%d", rx->host, rx->port);
    if (bufferevent_socket_connect_hostname(rx->bev, NULL, AF_UNSPEC, rx->host, rx->port) != 0)
        rxFail(rx, "connect failed");
}

void receiverReconfigure(void) {
    replReceiver *rx = &repl.rx;
    rxAbortSync(rx, !rx->host[0]);
    rxDrop(rx);
    if (!rx->host[0]) {
        rx->state = RX_NONE;
        replLog(REPL_LOG_NOTICE, "MASTER MODE enabled");
        return;
    }
    rx->state = RX_CONNECT;
    rx->retry_at_ms = 0;
    rx->master_latest = 0;
}

void receiverCron(uint64_t now_ms) {
    replReceiver *rx = &repl.rx;
    if (rx->state == RX_CONNECT && now_ms >= rx->retry_at_ms) {
        rxConnect(rx);
        return;
    }
    if (rx->state >= RX_CONNECTING && repl.set.timeout_s > 0 &&
        now_ms - rx->last_io_ms > (uint64_t)repl.set.timeout_s * 1000)
        rxFail(rx, "timeout: nothing from the master within repl-timeout");
}

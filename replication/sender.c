/* sender.c - the master side of a link: answers the handshake with CONTINUE
 * or FULLSYNC, then streams a snapshot and/or the WAL to one replica.
 *
 * Flow control is the point of this file.  A link reads storage (snapshot
 * or WAL) only while its output holds less than repl-send-window bytes, and
 * refills from the bufferevent's write callback as the socket drains.  A
 * replica that stops reading therefore costs the master one window of RAM
 * and nothing else: its position is a sequence number, its backlog is the
 * WAL on disk.  That is also why replica links are not subject to
 * client-output-buffer-limit: there is no unbounded buffer to limit.
 *
 * Filtering: batches without a Strata header (local housekeeping) are never
 * sent; while this node is itself a replica, batches it wrote on its own
 * (a writable replica) are not forwarded, as in Redis.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "repl_int.h"

static void linkFree(replLink *l) {
    replLink **pp = &repl.links;
    while (*pp && *pp != l) pp = &(*pp)->next;
    if (*pp) {
        *pp = l->next;
        repl.nlinks--;
    }
    if (l->bev) bufferevent_free(l->bev);
    stSnapClose(l->snap);
    stWalClose(l->wal);
    free(l->stage);
    free(l);
}

static void linkClose(replLink *l, const char *why) {
    replLog(REPL_LOG_NOTICE, "Connection with replica %s:%d lost (%s)", l->ip, l->port, why);
    linkFree(l);
}

static void stageReserve(replLink *l, size_t extra) {
    if (l->stage_len + extra <= l->stage_cap) return;
    size_t nc = l->stage_cap ? l->stage_cap : 64 * 1024;
    while (nc < l->stage_len + extra) nc *= 2;
    char *p = realloc(l->stage, nc);
    if (!p) abort();
    l->stage = p;
    l->stage_cap = nc;
}

/* Moves the staged frames to the socket's output, compressed if agreed. */
static void stageFlush(replLink *l) {
    if (!l->stage_len) return;
    struct evbuffer *out = bufferevent_get_output(l->bev);
    if (l->compress) {
        size_t n = replCompress(l->stage, l->stage_len, &repl.zbuf, &repl.zcap);
        const char *zb = repl.zbuf;
        if (n) {
            char hdr[FRAME_HDR_BYTES + 4];
            replFrameHeader(hdr, FR_ZSTD, (uint32_t)(n + 4));
            uint32_t raw = (uint32_t)l->stage_len;
            hdr[5] = (char)(raw >> 24), hdr[6] = (char)(raw >> 16), hdr[7] = (char)(raw >> 8),
            hdr[8] = (char)raw;
            evbuffer_add(out, hdr, sizeof(hdr));
            evbuffer_add(out, zb, n);
            l->raw_bytes += l->stage_len;
            l->wire_bytes += sizeof(hdr) + n;
            l->stage_len = 0;
            return;
        }
    }
    evbuffer_add(out, l->stage, l->stage_len);
    l->raw_bytes += l->stage_len;
    l->wire_bytes += l->stage_len;
    l->stage_len = 0;
}

static void putU64(char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (char)v;
}

/* Uncompressed links add a WAL batch straight to the output: one copy of
 * the (often large) rep instead of two. */
static void directFrame(replLink *l, int type, const char *a, size_t alen, const char *b, size_t blen) {
    struct evbuffer *out = bufferevent_get_output(l->bev);
    char hdr[FRAME_HDR_BYTES];
    stageFlush(l); /* keep frame order */
    replFrameHeader(hdr, type, (uint32_t)(alen + blen));
    evbuffer_add(out, hdr, sizeof(hdr));
    evbuffer_add(out, a, alen);
    evbuffer_add(out, b, blen);
    l->raw_bytes += sizeof(hdr) + alen + blen;
    l->wire_bytes += sizeof(hdr) + alen + blen;
}

static void stageFrame(replLink *l, int type, const char *a, size_t alen, const char *b, size_t blen) {
    stageReserve(l, FRAME_HDR_BYTES + alen + blen);
    replFrameHeader(l->stage + l->stage_len, type, (uint32_t)(alen + blen));
    l->stage_len += FRAME_HDR_BYTES;
    memcpy(l->stage + l->stage_len, a, alen);
    l->stage_len += alen;
    if (blen) memcpy(l->stage + l->stage_len, b, blen);
    l->stage_len += blen;
}

/* Produces the next frame(s) into the stage.  1 = produced, 0 = nothing
 * to send now (caught up), -1 = the link must close. */
static int linkProduce(replLink *l) {
    if (l->state == LINK_SNAPSHOT) {
        size_t at = l->stage_len;
        stageReserve(l, FRAME_HDR_BYTES);
        l->stage_len += FRAME_HDR_BYTES;
        int more = stSnapFill(l->snap, &l->stage, &l->stage_len, &l->stage_cap,
                              at + FRAME_HDR_BYTES + REPL_SNAP_CHUNK_BYTES);
        size_t n = l->stage_len - at - FRAME_HDR_BYTES;
        if (n) replFrameHeader(l->stage + at, FR_SNAP, (uint32_t)n);
        else l->stage_len = at;
        if (!more) {
            char v[8];
            putU64(v, l->snap_seq);
            stageFrame(l, FR_SNAP_END, v, 8, NULL, 0);
            stSnapClose(l->snap);
            l->snap = NULL;
            l->state = LINK_WAL;
            l->wal = stWalOpen(repl.st, l->snap_seq + 1);
            l->sent_next = l->snap_seq + 1;
            replLog(REPL_LOG_NOTICE, "Synchronization with replica %s:%d: snapshot sent", l->ip,
                    l->port);
        }
        return 1;
    }
    for (;;) {
        stWalBatch b;
        int r = stWalNext(l->wal, &b);
        if (r == ST_WAL_END) return 0;
        if (r == ST_WAL_GAP && stWalHas(repl.st, l->sent_next)) {
            /* The reader failed where the WAL still holds the position:
             * dropping the link would only bring the replica back to the
             * same place (a reconnect loop); lag is the honest outcome. */
            uint64_t now = replNowMs();
            if (now - l->last_read_warn_ms > 10000) {
                replLog(REPL_LOG_WARNING, "Replica %s:%d: the WAL reader cannot read seq %llu yet; retrying",
                        l->ip, l->port, (unsigned long long)l->sent_next);
                l->last_read_warn_ms = now;
            }
            stWalClose(l->wal);
            l->wal = stWalOpen(repl.st, l->sent_next);
            return 0;
        }
        if (r == ST_WAL_GAP) {
            replLog(REPL_LOG_WARNING,
                    "Replica %s:%d fell behind the retained WAL (repl-backlog-size/ttl); "
                    "it will need a full sync",
                    l->ip, l->port);
            return -1;
        }
        l->sent_next = b.next;
        uint64_t self = stNodeId(repl.st);
        if (!b.has_header || b.origin_seq == 0 || (repl.is_replica && b.origin == self)) continue;
        char hdr[16];
        putU64(hdr, b.seq);
        putU64(hdr + 8, b.next);
        if (l->compress) stageFrame(l, FR_WAL, hdr, 16, b.rep, b.len);
        else directFrame(l, FR_WAL, hdr, 16, b.rep, b.len);
        l->sent_bytes += FRAME_HDR_BYTES + 16 + b.len;
        unsigned i = l->ring_head++ % REPL_LAG_RING;
        l->ring_seq[i] = b.next;
        l->ring_bytes[i] = l->sent_bytes;
        return 1;
    }
}

/* Fills the output up to the window.  Returns 0 if the link was closed. */
static int linkFill(replLink *l) {
    if (!l->bev) return 1;
    struct evbuffer *out = bufferevent_get_output(l->bev);
    size_t window = repl.set.send_window ? repl.set.send_window : 4 * 1024 * 1024;
    l->idle = 0;
    while (evbuffer_get_length(out) + l->stage_len < window) {
        int r = linkProduce(l);
        if (r < 0) {
            linkClose(l, "WAL position not retained");
            return 0;
        }
        if (r == 0) {
            l->idle = 1;
            atomic_store(&repl.commit_wake, 1);
            break;
        }
        if (l->stage_len >= REPL_ZSTD_BLOCK_BYTES) stageFlush(l);
    }
    stageFlush(l);
    return 1;
}

void senderFillAll(int only_idle) {
    replLink *l = repl.links;
    while (l) {
        replLink *next = l->next; /* linkFill may free l */
        if (!only_idle || l->idle) linkFill(l);
        l = next;
    }
}

static void onLinkWritable(struct bufferevent *bev, void *arg) {
    (void)bev;
    pthread_mutex_lock(&repl.mu);
    (void)linkFill(arg);
    pthread_mutex_unlock(&repl.mu);
}

static uint64_t getU64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static void onLinkReadable(struct bufferevent *bev, void *arg) {
    replLink *l = arg;
    pthread_mutex_lock(&repl.mu);
    struct evbuffer *in = bufferevent_get_input(bev);
    unsigned char f[FR_ACK_BYTES];
    int acked = 0;
    while (evbuffer_get_length(in) >= FR_ACK_BYTES) {
        evbuffer_remove(in, f, sizeof(f));
        if (f[0] != FR_ACK) {
            linkClose(l, "protocol error");
            pthread_mutex_unlock(&repl.mu);
            return;
        }
        uint64_t next = getU64(f + FRAME_HDR_BYTES);
        if (next > l->acked_next) l->acked_next = next;
        l->acked_hlc = getU64(f + FRAME_HDR_BYTES + 8);
        l->last_ack_ms = replNowMs();
        acked = 1;
    }
    if (acked) {
        for (unsigned i = 0; i < REPL_LAG_RING; i++)
            if (l->ring_seq[i] && l->ring_seq[i] <= l->acked_next && l->ring_bytes[i] > l->acked_bytes)
                l->acked_bytes = l->ring_bytes[i];
        replCheckWaiters(l->last_ack_ms);
    }
    pthread_mutex_unlock(&repl.mu);
}

static void onLinkEvent(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    pthread_mutex_lock(&repl.mu);
    linkClose(arg, (what & BEV_EVENT_EOF) ? "closed by the replica" : "socket error");
    pthread_mutex_unlock(&repl.mu);
}

void senderAccept(struct pendingAccept *pa) {
    replLink *l = calloc(1, sizeof(*l));
    if (!l) abort();
    snprintf(l->ip, sizeof(l->ip), "%s", pa->ip);
    l->port = pa->port;
    l->node_id = pa->node_id;
    l->created_ms = l->last_ack_ms = replNowMs();
    l->compress = pa->want_zstd && repl.set.compression;
    evutil_make_socket_nonblocking(pa->fd);
    l->bev = bufferevent_socket_new(repl.base, pa->fd, BEV_OPT_CLOSE_ON_FREE);
    l->next = repl.links;
    repl.links = l;
    repl.nlinks++;
    struct evbuffer *out = bufferevent_get_output(l->bev);
    if (pa->prefix_len) evbuffer_add(out, pa->prefix, pa->prefix_len);

    /* CONTINUE when the replica follows our history (replid) and the WAL
     * still holds the position it asks for.  The answer must be definite:
     * a CONTINUE that later meets a gap would send the replica round in a
     * reconnect loop (seen under 8 KB SET load, when a WAL listing race
     * made a purged position look readable). */
    int cont = !strcmp(pa->replid, repl.replid) && pa->next >= 1 &&
               pa->next <= stLatestSeq(repl.st) + 1 && stWalHas(repl.st, pa->next);
    char cfids[128], line[512];
    stCfIds(repl.st, cfids, sizeof(cfids));
    if (cont) {
        l->state = LINK_WAL;
        l->wal = stWalOpen(repl.st, pa->next);
        l->sent_next = l->acked_next = pa->next;
        repl.stat_partial_ok++;
        snprintf(line, sizeof(line), "+CONTINUE %s %llu %s %s\r\n", repl.replid,
                 (unsigned long long)pa->next, cfids, l->compress ? "zstd" : "none");
        replLog(REPL_LOG_NOTICE, "Replica %s:%d asks for synchronization from seq %llu: continuing",
                l->ip, l->port, (unsigned long long)pa->next);
    } else {
        l->state = LINK_SNAPSHOT;
        l->snap = stSnapOpen(repl.st, &l->snap_seq);
        repl.stat_sync_full++;
        if (strcmp(pa->replid, "?") != 0) repl.stat_partial_err++;
        snprintf(line, sizeof(line), "+FULLSYNC %s %llu %s %s\r\n", repl.replid,
                 (unsigned long long)l->snap_seq, cfids, l->compress ? "zstd" : "none");
        replLog(REPL_LOG_NOTICE,
                "Full sync requested by replica %s:%d: streaming a snapshot at seq %llu", l->ip,
                l->port, (unsigned long long)l->snap_seq);
    }
    evbuffer_add(out, line, strlen(line));
    size_t window = repl.set.send_window ? repl.set.send_window : 4 * 1024 * 1024;
    bufferevent_setwatermark(l->bev, EV_WRITE, window / 2, 0);
    bufferevent_setcb(l->bev, onLinkReadable, onLinkWritable, onLinkEvent, l);
    bufferevent_enable(l->bev, EV_READ | EV_WRITE);
    free(pa->prefix);
    free(pa);
    (void)linkFill(l);
}

void senderCron(uint64_t now_ms) {
    uint64_t latest = stLatestSeq(repl.st);
    replLink *l = repl.links;
    while (l) {
        replLink *next = l->next;
        if (repl.set.timeout_s > 0 && now_ms - l->last_ack_ms > (uint64_t)repl.set.timeout_s * 1000) {
            linkClose(l, "timeout: no ack within repl-timeout");
            l = next;
            continue;
        }
        /* In case a commit wake-up was coalesced away. */
        if (l->idle && !linkFill(l)) {
            l = next;
            continue;
        }
        if (now_ms - l->last_heartbeat_ms >= REPL_HEARTBEAT_MS &&
            evbuffer_get_length(bufferevent_get_output(l->bev)) < REPL_SNAP_CHUNK_BYTES) {
            char v[16];
            putU64(v, latest);
            putU64(v + 8, now_ms);
            stageFrame(l, FR_HEARTBEAT, v, 16, NULL, 0);
            stageFlush(l);
            l->last_heartbeat_ms = now_ms;
        }
        l = next;
    }
}

void senderCloseAll(void) {
    while (repl.links) linkFree(repl.links);
}

long long senderCountAcked(uint64_t target) {
    long long n = 0;
    for (replLink *l = repl.links; l; l = l->next)
        if (l->state == LINK_WAL && l->acked_next > target) n++;
    return n;
}

void senderInfo(char **out, size_t *len, size_t *cap, uint64_t latest) {
    uint64_t now = replNowMs();
    int i = 0;
    for (replLink *l = repl.links; l; l = l->next, i++) {
        uint64_t acked = l->acked_next ? l->acked_next - 1 : 0;
        uint64_t behind = latest >= acked ? latest - acked : 0;
        /* Bytes: sent and not acknowledged, plus the part of the WAL not read
         * yet estimated at this link's average bytes per sequence number. */
        uint64_t unsent = latest + 1 > l->sent_next ? latest + 1 - l->sent_next : 0;
        uint64_t per_seq = l->sent_next > 1 && l->sent_bytes ? l->sent_bytes / l->sent_next : 0;
        uint64_t lag_bytes = (l->sent_bytes - l->acked_bytes) + unsent * per_seq;
        uint64_t lag_s = 0;
        if (behind) {
            uint64_t since = l->acked_hlc ? (l->acked_hlc >> 16) : l->created_ms;
            lag_s = now > since ? (now - since) / 1000 : 0;
        }
        replAppendf(out, len, cap,
                    "slave%d:ip=%s,port=%d,state=%s,offset=%llu,lag=%llu,lag_seq=%llu,"
                    "lag_bytes=%llu,lag_seconds=%llu,compression=%s,stream_bytes=%llu,wire_bytes=%llu\r\n",
                    i, l->ip, l->port, l->state == LINK_WAL ? "online" : "send_bulk",
                    (unsigned long long)acked, (unsigned long long)((now - l->last_ack_ms) / 1000),
                    (unsigned long long)behind, (unsigned long long)lag_bytes,
                    (unsigned long long)lag_s, l->compress ? "zstd" : "none",
                    (unsigned long long)l->raw_bytes, (unsigned long long)l->wire_bytes);
    }
}

/* repl_int.h - private declarations of replication/: the stream's frames,
 * the links and the state the replication thread owns.
 *
 * Frames (after the handshake line): u8 type | u32 BE payload length |
 * payload.
 *   'W' WAL batch      u64 seq | u64 next | WriteBatch rep (storage.h)
 *   'S' snapshot chunk records of stSnapFill()
 *   'E' snapshot end   u64 snapshot seq: the WAL follows from seq + 1
 *   'H' heartbeat      u64 sender's latest seq | u64 sender's unix ms
 *   'Z' compressed     u32 BE raw length | zstd frame of whole frames
 *   'A' ack (replica -> master) u64 next seq applied | u64 HLC of the last
 *                      batch applied
 *
 * Locking: replState.mu is held by the replication thread for the whole of
 * every callback and by every API function, so link fields need no locks of
 * their own.  Lock order: the server's keyspace lock before mu (the thread
 * drops mu to take the keyspace lock), and mu before the server's
 * clients_lock (hooks.wait_done).
 */
#ifndef STRATA_REPL_INT_H
#define STRATA_REPL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <event2/event.h>

#include "repl.h"

#define FRAME_HDR_BYTES 5
#define FR_WAL 'W'
#define FR_SNAP 'S'
#define FR_SNAP_END 'E'
#define FR_HEARTBEAT 'H'
#define FR_ZSTD 'Z'
#define FR_ACK 'A'
#define FR_ACK_BYTES (FRAME_HDR_BYTES + 16)
#define REPL_MAX_FRAME_BYTES (1024ULL * 1024 * 1024) /* a batch or chunk never exceeds this */

#define REPL_CRON_MS 10
#define REPL_HEARTBEAT_MS 1000
#define REPL_RETRY_MS 1000
#define REPL_SNAP_CHUNK_BYTES (256 * 1024)
#define REPL_ZSTD_BLOCK_BYTES (256 * 1024)
#define REPL_LAG_RING 64
#define REPL_MAX_WAITERS 4096

struct bufferevent;

/* A link to one of our replicas (sender.c). */
typedef struct replLink {
    struct bufferevent *bev;
    char ip[64];
    int port;
    uint64_t node_id;
    int state;                 /* LINK_* */
    stSnap *snap;
    uint64_t snap_seq;
    stWalIter *wal;
    int compress;
    char *stage;               /* frames not yet added to the output */
    size_t stage_len, stage_cap;
    int idle;                  /* caught up: refilled by the commit hook */
    uint64_t acked_next, acked_hlc, last_ack_ms, last_heartbeat_ms, created_ms;
    uint64_t sent_next;        /* next seq after the last batch sent */
    uint64_t sent_bytes, acked_bytes; /* WAL frames, for lag_bytes */
    uint64_t raw_bytes, wire_bytes;   /* all frames before / after compression */
    uint64_t last_read_warn_ms;
    uint64_t ring_seq[REPL_LAG_RING], ring_bytes[REPL_LAG_RING];
    unsigned ring_head;
    struct replLink *next;
} replLink;

enum { LINK_SNAPSHOT = 1, LINK_WAL };

/* The link to our master (receiver.c). */
enum { RX_NONE = 0, RX_CONNECT, RX_CONNECTING, RX_HANDSHAKE, RX_SYNC, RX_CONNECTED };

typedef struct replReceiver {
    int state;                 /* RX_* */
    char host[256];
    int port;
    struct bufferevent *bev;
    uint64_t retry_at_ms;
    int replies_left;          /* handshake replies still expected */
    char master_replid[41];
    stRemote *remote;
    int compressed;
    uint64_t applied_next;     /* next master seq to apply */
    uint64_t applied_hlc;
    uint64_t master_latest;
    uint64_t last_io_ms;
    uint64_t sync_started_ms;
    int sync_incomplete;       /* a full sync was cut short: still -LOADING */
    char *zbuf;                /* decompression scratch */
    size_t zcap;
    char *fbuf;                /* one frame's payload */
    size_t fcap;
} replReceiver;

typedef struct replWaiter {
    uint64_t client_id;
    int numreplicas;
    uint64_t target;           /* acked_next must exceed this */
    uint64_t deadline_ms;      /* 0 = none */
} replWaiter;

typedef struct replState {
    stEngine *st;
    replHooks hooks;
    replSettings set;
    pthread_mutex_t mu;
    pthread_t tid;
    int started;
    struct event_base *base;
    struct event *wake;        /* event_active()d from other threads */
    struct event *cron;
    _Atomic int commit_wake;   /* a link is idle: the commit hook wakes us */
    _Atomic int is_replica;    /* read lock-free by server threads */
    int stop;
    char replid[41];
    replLink *links;
    int nlinks;
    /* accepted sockets waiting for the thread */
    struct pendingAccept *accepts;
    replReceiver rx;
    int rx_reconfigure;        /* rx.host/port changed: the thread reconnects */
    replWaiter waiters[REPL_MAX_WAITERS];
    int nwaiters;
    long long stat_sync_full, stat_partial_ok, stat_partial_err;
    char *zbuf;                /* compression scratch of the sender links */
    size_t zcap;
} replState;

extern replState repl;

/* repl.c */
void replLog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t replNowMs(void);
void replNewReplid(void);      /* our data history changed: new replid, persisted */
void replCheckWaiters(uint64_t now_ms);
void replFrameHeader(char *dst, int type, uint32_t len);
/* zstd helpers: compress src into *dst (grown), returns the size or 0. */
size_t replCompress(const char *src, size_t len, char **dst, size_t *cap);
int replDecompress(const char *src, size_t len, size_t rawlen, char **dst, size_t *cap);

/* sender.c */
void senderAccept(struct pendingAccept *pa);
void senderFillAll(int only_idle);
void senderCron(uint64_t now_ms);
void senderCloseAll(void);
long long senderCountAcked(uint64_t target);
void senderInfo(char **out, size_t *len, size_t *cap, uint64_t latest);

/* receiver.c */
void receiverCron(uint64_t now_ms);
void receiverReconfigure(void);
void receiverClose(void);

/* Appends printf output to a growable heap string. */
void replAppendf(char **out, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

struct pendingAccept {
    int fd;
    char ip[64];
    int port;
    char replid[64];
    uint64_t next;
    int want_zstd;
    uint64_t node_id;
    char *prefix;              /* the client's unsent replies, sent first */
    size_t prefix_len;
    struct pendingAccept *next_pa;
};

#endif

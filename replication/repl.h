/* repl.h - classic master/replica replication from the write-ahead log: the
 * API the server calls.  Replication moves whole batches between nodes; it
 * knows nothing about commands.
 *
 * One replication thread (a libevent loop) runs every link of this node: the
 * links to its replicas (sender.c) and the link to its master (receiver.c).
 * Server threads talk to it through the functions below, which are thread
 * safe, and it calls back into the server only through replHooks.
 *
 * Positions are RocksDB sequence numbers of the sending node (storage.h).
 * The stream after the handshake is a sequence of frames (repl_int.h).
 */
#ifndef STRATA_REPL_H
#define STRATA_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "../storage/storage.h"

#define REPL_LOG_DEBUG 0
#define REPL_LOG_VERBOSE 1
#define REPL_LOG_NOTICE 2
#define REPL_LOG_WARNING 3

typedef struct replHooks {
    void (*log)(int level, const char *msg);
    /* Excludes every command while the dataset is replaced (full sync). */
    void (*lock_keyspace)(void);
    void (*unlock_keyspace)(void);
    /* A full sync is loading: commands without the "loading" flag get
     * -LOADING while on. */
    void (*set_loading)(int on);
    /* A WAIT registered with replWaitBlock() finished with `acked` replicas. */
    void (*wait_done)(uint64_t client_id, long long acked);
} replHooks;

/* Settings the server forwards (at start and on CONFIG SET). */
typedef struct replSettings {
    int listening_port;          /* our port, told to the master */
    char masteruser[128];        /* "" = AUTH with the password only */
    char masterauth[512];        /* "" = no AUTH */
    size_t send_window;          /* repl-send-window: bytes in flight per link */
    int compression;             /* repl-compression: 1 = zstd, 0 = none */
    int timeout_s;               /* repl-timeout */
    unsigned long long backlog_bytes; /* repl-backlog-size (INFO only; storage enforces it) */
    int read_only;               /* replica-read-only (INFO only) */
} replSettings;

/* Starts the replication thread.  C_OK / C_ERR with *err (heap). */
int replStart(stEngine *st, const replHooks *hooks, const replSettings *s, char **err);
/* Closes every link and joins the thread. */
void replStop(void);
void replConfigure(const replSettings *s);

/* REPLICAOF host port (host NULL: REPLICAOF NO ONE).  Returns 1 if that is
 * the current master already, else 0. */
int replSetMaster(const char *host, int port);
/* This node follows a master (read-only rules, no expiry of its own). */
int replIsReplica(void);

/* Master side: a client sent REPLSYNC.  The link takes over fd (a dup of
 * the client's socket; the server closes its own) and first sends `prefix`,
 * the client's replies not written yet.  argv: replid, next seq,
 * capabilities, replica node id; ip/port: where the replica listens.
 * Returns C_ERR (fd untouched) on malformed arguments. */
int replAcceptReplica(int fd, const char *ip, int port, int argc, char **argv,
                      const char *prefix, size_t plen);

/* WAIT: returns the number of replicas that acknowledged everything written
 * so far if that is >= numreplicas (or timeout_ms < 0: do not block), else
 * registers the client and returns -1; hooks.wait_done() answers later.
 * timeout_ms 0 = wait for ever. */
long long replWaitBlock(uint64_t client_id, int numreplicas, long long timeout_ms);
/* The client went away: forget its WAIT. */
void replWaitCancel(uint64_t client_id);

/* INFO replication fields (heap string of "name:value\r\n" lines). */
char *replInfoString(void);
/* INFO stats fields (sync_full, sync_partial_ok, sync_partial_err). */
void replStats(long long *full, long long *partial_ok, long long *partial_err);

/* ROLE.  Master: role "master", offset, and up to max replicas. */
typedef struct replRoleReplica {
    char ip[64];
    int port;
    long long offset;
} replRoleReplica;
typedef struct replRole {
    int is_replica;
    long long offset;              /* master: latest seq; replica: applied master seq */
    char master_host[256];
    int master_port;
    const char *state;             /* replica: connect, connecting, sync, connected */
    int nreplicas;
    replRoleReplica replicas[64];
} replRole;
void replGetRole(replRole *out);

#endif

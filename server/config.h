/* config.h - Strata's configuration: the directive table, keydb.conf parsing,
 * command-line overrides and CONFIG GET/SET/REWRITE support.
 *
 * The parsing half is pure (no sockets, no libevent) so cmocka tests it
 * directly.  Values live in one global `strataConfig cfg`; the event loops read
 * fields without locks (ints and size_t are written atomically by CONFIG SET on
 * x86-64 and a stale read for one command is harmless), while string fields
 * are only replaced under cfgLock().
 */
#ifndef STRATA_CONFIG_H
#define STRATA_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_BIND 16
#define CFG_MAX_REPLICAOF 16

/* client-output-buffer-limit classes */
#define CFG_COB_NORMAL 0
#define CFG_COB_REPLICA 1
#define CFG_COB_PUBSUB 2
#define CFG_COB_CLASSES 3

typedef struct cfgCobLimit {
    unsigned long long hard_bytes;  /* 0 = no hard limit */
    unsigned long long soft_bytes;  /* 0 = no soft limit */
    long long soft_seconds;         /* soft limit must hold this long */
} cfgCobLimit;

typedef struct cfgReplicaOf {
    char *host;
    int port;
} cfgReplicaOf;

/* Log levels, in Redis's order. */
#define LL_DEBUG 0
#define LL_VERBOSE 1
#define LL_NOTICE 2
#define LL_WARNING 3

/* maxmemory-policy values */
#define MAXMEM_NOEVICTION 0
#define MAXMEM_ALLKEYS_LRU 1
#define MAXMEM_ALLKEYS_LFU 2
#define MAXMEM_ALLKEYS_RANDOM 3
#define MAXMEM_VOLATILE_LRU 4
#define MAXMEM_VOLATILE_LFU 5
#define MAXMEM_VOLATILE_RANDOM 6
#define MAXMEM_VOLATILE_TTL 7

/* appendfsync values (same numbers as storage's ST_FSYNC_*) */
#define CFG_FSYNC_NO 0
#define CFG_FSYNC_EVERYSEC 1
#define CFG_FSYNC_ALWAYS 2

/* notify-keyspace-events classes (Redis's characters in the comments). */
#define NOTIFY_KEYSPACE (1 << 0)  /* K */
#define NOTIFY_KEYEVENT (1 << 1)  /* E */
#define NOTIFY_GENERIC (1 << 2)   /* g: DEL, EXPIRE, RENAME, ... */
#define NOTIFY_STRING (1 << 3)    /* $ */
#define NOTIFY_LIST (1 << 4)      /* l */
#define NOTIFY_SET (1 << 5)       /* s */
#define NOTIFY_HASH (1 << 6)      /* h */
#define NOTIFY_ZSET (1 << 7)      /* z */
#define NOTIFY_EXPIRED (1 << 8)   /* x */
#define NOTIFY_EVICTED (1 << 9)   /* e */
#define NOTIFY_STREAM (1 << 10)   /* t */
#define NOTIFY_KEY_MISS (1 << 11) /* m (not part of A) */
#define NOTIFY_MODULE (1 << 12)   /* d */
#define NOTIFY_NEW (1 << 13)      /* n (not part of A) */
#define NOTIFY_ALL (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | \
                    NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)
/* Parses Redis's class characters: the flags, or -1 on an unknown one. */
int cfgNotifyParse(const char *s, size_t len);
/* CONFIG GET's text for flags (buf of 32 bytes is enough). */
void cfgNotifyFormat(int flags, char *buf, size_t size);

typedef struct strataConfig {
    /* network */
    char *bind[CFG_MAX_BIND];   /* default "127.0.0.1" and "-::1" as Redis */
    int bind_count;
    int port;                   /* 6379 */
    int protected_mode;         /* yes */
    int tcp_backlog;            /* 511 */
    int tcp_keepalive;          /* seconds, 300 */
    int timeout;                /* idle client timeout in seconds, 0 = never */
    int server_threads;         /* event loops, 1 (KeyDB: server-threads) */
    int maxclients;             /* 10000 */
    /* security */
    char *requirepass;          /* NULL = no password */
    char *masterauth;
    char *masteruser;
    /* general */
    int databases;              /* 16 */
    char *dir;                  /* "./" ; working directory */
    char *logfile;              /* "" = stdout */
    int loglevel;               /* LL_NOTICE */
    char *pidfile;              /* NULL = none */
    int daemonize;              /* no */
    /* memory and storage */
    unsigned long long maxmemory;       /* bytes, 0 = no limit */
    int maxmemory_policy;               /* MAXMEM_NOEVICTION */
    int maxmemory_samples;              /* 5 */
    int lfu_log_factor;                 /* 10 */
    int lfu_decay_time;                 /* minutes, 1 */
    unsigned long long maxstorage;      /* bytes on disk, 0 = unlimited */
    unsigned long long rocksdb_block_cache_size;  /* 0 = derived from maxmemory */
    unsigned long long rocksdb_write_buffer_size; /* 0 = derived from maxmemory */
    char *storage_path;                 /* storage-provider flash <path>; NULL = "<dir>/strata-data" */
    /* persistence */
    int appendonly;                     /* accepted for compatibility */
    int appendfsync;                    /* CFG_FSYNC_EVERYSEC */
    /* limits */
    long long proto_max_bulk_len;       /* 512mb */
    unsigned long long client_query_buffer_limit; /* 1gb */
    cfgCobLimit cob[CFG_COB_CLASSES];   /* normal 0 0 0, replica 256mb 64mb 60, pubsub 32mb 8mb 60 */
    long long slowlog_log_slower_than;  /* microseconds, 10000 */
    unsigned long long slowlog_max_len; /* 128 */
    unsigned long long hll_sparse_max_bytes; /* a sparse HLL past this turns dense */
    int notify_flags;                   /* notify-keyspace-events: NOTIFY_*; read with
                                         * relaxed atomics (any thread) */
    long long busy_reply_threshold;     /* ms a script runs before others get -BUSY, 5000
                                         * (alias lua-time-limit) */
    /* replication (parsed now, acted on by later issues) */
    cfgReplicaOf replicaof[CFG_MAX_REPLICAOF];
    int replicaof_count;
    int active_replica;                 /* no */
    int multi_master;                   /* no */
    int multi_master_no_forward;        /* no */
    int replica_read_only;              /* yes */
    unsigned long long repl_backlog_size; /* bytes of WAL kept on disk, 256mb */
    long long repl_backlog_ttl;         /* seconds, 3600 */
    unsigned long long repl_send_window; /* bytes in flight per replica link, 4mb */
    int repl_compression;               /* 0 none, 1 zstd */
    int repl_timeout;                   /* seconds, 60 */
    int replica_quorum;                 /* -1 */
} strataConfig;

extern strataConfig cfg;

/* Sets every field to its default.  Frees nothing (call once at start). */
void cfgInitDefaults(void);

/* Frees every heap value the configuration holds (cfg's strings, stored
 * inert values, retired strings, the remembered file path) and zeroes cfg;
 * cfgInitDefaults() may follow.  For tests and orderly exit. */
void cfgFree(void);

/* The lock under which string fields of cfg are replaced.  A thread that
 * copies or compares cfg.requirepass / masterauth / masteruser while CONFIG
 * SET may run takes it (old strings stay valid until cfgFree() anyway). */
void cfgLock(void);
void cfgUnlock(void);

/* Loads a config file (the path is remembered for CONFIG REWRITE).  Returns 0,
 * or -1 with *err set to a heap string (caller frees) such as
 * "keydb.conf:12: unknown directive 'foo'". */
int cfgLoadFile(const char *path, char **err);

/* Applies one directive given as argv (argv[0] = name, no leading "--").
 * `origin` names the source in error messages ("keydb.conf:12" or
 * "command line").  Returns 0, or -1 with *err (heap) set. */
int cfgApplyDirective(int argc, char **argv, const char *origin, char **err);

/* Parses the command line (after argv[0]): an optional config file path first,
 * then "--name value..." pairs; values run until the next "--" argument.
 * Handles --version / --help by returning 1 with *action set to "version" or
 * "help".  Returns 0 ok, 1 action, -1 error (*err heap). */
int cfgParseArgs(int argc, char **argv, const char **action, char **err);

/* CONFIG GET: calls emit(name, value) for each directive matching the glob
 * pattern (Redis names, including tuning directives that Strata only stores).
 * The value strings are formatted as Redis formats them. */
void cfgGet(const char *pattern, void (*emit)(void *ud, const char *name, const char *value),
            void *ud);

/* CONFIG SET of n name/value pairs, atomically: either all apply or none.
 * Returns 0, or -1 with *err (heap) set to the Redis error text without the
 * leading "-", e.g. "ERR Unknown option or number of arguments for CONFIG SET -
 * 'foo'".  After success, the hook cfgOnChange(name) is called per name. */
int cfgSet(int n, char **names, char **values, char **err);

/* Rewrites the config file the server started from, keeping comments and
 * unrelated lines, updating changed directives in place and appending new
 * ones.  Returns 0, or -1 with *err. */
int cfgRewrite(char **err);

/* Path of the loaded config file, or NULL. */
const char *cfgFilePath(void);

/* Called after CONFIG SET changes a directive; the server defines it (weak
 * default does nothing) to push values into running subsystems. */
void cfgOnChange(const char *name);

/* Warning sink for directives accepted without effect; the server defines it
 * (weak default prints to stderr). */
void cfgWarn(const char *fmt, ...);

/* Parses memory sizes as Redis does ("1gb", "10mb", "512k", "100"): returns 0
 * and sets *out, or -1. */
int cfgParseMemory(const char *s, unsigned long long *out);

#endif

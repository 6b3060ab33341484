/* main.c - process entry: command line and configuration, logging, signals,
 * start-up order and orderly shutdown.
 *
 * Start order: defaults -> keydb.conf -> command line -> log/pidfile ->
 * open storage (milliseconds: nothing is loaded) -> listeners and event loops
 * -> expire thread -> serve.  Shutdown reverses it: loops stop and clients
 * are freed, the expire thread stops, the WAL is synced, storage closes.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../replication/repl.h"
#include "server.h"

struct strataServer server;

/* ========================== Logging ======================================= */

static pthread_mutex_t logLock = PTHREAD_MUTEX_INITIALIZER;

void serverLogRaw(int level, const char *msg)
{
    static const char marks[] = ".-*#";
    if (level < cfg.loglevel) return;
    struct timeval tv;
    char tbuf[64];
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    size_t off = strftime(tbuf, sizeof(tbuf), "%d %b %Y %H:%M:%S.", &tm);
    snprintf(tbuf + off, sizeof(tbuf) - off, "%03d", (int)tv.tv_usec / 1000);
    pthread_mutex_lock(&logLock);
    FILE *fp = stdout;
    int close_it = 0;
    if (cfg.logfile && cfg.logfile[0]) {
        fp = fopen(cfg.logfile, "a");
        if (!fp) fp = stdout;
        else close_it = 1;
    }
    /* Redis's role letter: S on a replica, M on a master. */
    fprintf(fp, "%d:%c %s %c %s\n", (int)getpid(), replIsReplica() ? 'S' : 'M', tbuf,
            marks[level & 3], msg);
    fflush(fp);
    if (close_it) fclose(fp);
    pthread_mutex_unlock(&logLock);
}

void serverLog(int level, const char *fmt, ...)
{
    if (level < cfg.loglevel) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    serverLogRaw(level, msg);
}

void serverPanic(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    serverLogRaw(LL_WARNING, msg);
    abort();
}

/* config.c's hooks */
void cfgWarn(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    serverLogRaw(LL_WARNING, msg);
}

void cfgOnChange(const char *name)
{
    if (!server.st) return;
    if (!strcasecmp(name, "appendfsync")) stSetFsyncMode(server.st, cfg.appendfsync);
    if (!strncasecmp(name, "repl", 4) || !strncasecmp(name, "master", 6) ||
        !strcasecmp(name, "replica-read-only"))
        replicationReconfigure();
    if (!strcasecmp(name, "maxmemory") || !strncasecmp(name, "maxmemory-", 10) ||
        !strncasecmp(name, "lfu-", 4))
        memApplySettings();
    if (!strcasecmp(name, "repl-backlog-size") || !strcasecmp(name, "repl-backlog-ttl"))
        stSetWalRetention(server.st, cfg.repl_backlog_ttl > 0 ? (uint64_t)cfg.repl_backlog_ttl : 0,
                          cfg.repl_backlog_size);
}

/* ========================== Start-up helpers ============================== */

static void usage(void)
{
    fprintf(stderr,
            "Usage: ./strata-server [/path/to/keydb.conf] [options]\n"
            "       ./strata-server - (read config from stdin)\n"
            "       ./strata-server -v or --version\n"
            "       ./strata-server -h or --help\n\n"
            "Examples:\n"
            "       ./strata-server (run the server with default config)\n"
            "       ./strata-server /etc/keydb/keydb.conf\n"
            "       ./strata-server --port 7777\n"
            "       ./strata-server --port 7777 --replicaof 127.0.0.1 8888\n"
            "       ./strata-server /etc/mykeydb.conf --loglevel verbose\n");
}

static void genRunId(char out[41])
{
    unsigned char raw[20];
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, raw, sizeof(raw)) != sizeof(raw)) {
        for (int i = 0; i < 20; i++) raw[i] = (unsigned char)(rand() ^ (ustime() >> i));
    }
    if (fd >= 0) close(fd);
    for (int i = 0; i < 20; i++) sprintf(out + i * 2, "%02x", raw[i]);
}

static void writePidfile(void)
{
    if (!cfg.pidfile || !cfg.pidfile[0]) return;
    FILE *fp = fopen(cfg.pidfile, "w");
    if (!fp) {
        serverLog(LL_WARNING, "Failed to write PID file: %s", strerror(errno));
        return;
    }
    fprintf(fp, "%d\n", (int)getpid());
    fclose(fp);
}

static void onSignal(evutil_socket_t sig, short what, void *arg)
{
    (void)what; (void)arg;
    serverLog(LL_WARNING, "Received %s scheduling shutdown...",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&server.shutdown_asap, 1);
    for (int i = 0; i < server.nthreads; i++) eventWakeThread(&server.threads[i]);
}

static int openStorage(void)
{
    char path[PATH_MAX];
    if (cfg.storage_path && cfg.storage_path[0])
        snprintf(path, sizeof(path), "%s", cfg.storage_path);
    else
        snprintf(path, sizeof(path), "strata-data");
    stOptions o;
    memset(&o, 0, sizeof(o));
    o.dir = path;
    o.databases = cfg.databases;
    o.fsync_mode = cfg.appendfsync;
    /* maxmemory's split: memory.c.  Without maxmemory: a 256 MB hot set and
     * storage's defaults. */
    memStorageSizes(&o.block_cache_bytes, &o.write_buffer_bytes);
    o.hotset_max_bytes = memHotsetShare();
    o.wal_ttl_seconds = cfg.repl_backlog_ttl > 0 ? (uint64_t)cfg.repl_backlog_ttl : 0;
    o.wal_size_limit_mb = (cfg.repl_backlog_size + (1 << 20) - 1) / (1 << 20);
    char *err = NULL;
    uint64_t t0 = monotonic_us();
    server.st = stOpen(&o, &err);
    if (!server.st) {
        serverLog(LL_WARNING, "Failed to open storage at %s: %s", path, err ? err : "?");
        free(err);
        return C_ERR;
    }
    stSetMergeWrites(server.st, cfg.active_replica || cfg.multi_master);
    serverLog(LL_NOTICE, "Storage opened at %s in %.3f ms (node id %016llx)", path,
              (monotonic_us() - t0) / 1000.0, (unsigned long long)stNodeId(server.st));
    return C_OK;
}

static void serverInit(void)
{
    server.pid = getpid();
    server.start_ms = mstime();
    server.stat_reset_ms = server.start_ms;
    server.lastsave_unix = time(NULL);
    server.next_client_id = 1;
    genRunId(server.runid);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&server.keyspace_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    for (int i = 0; i < LOCK_STRIPES; i++) pthread_mutex_init(&server.stripes[i], NULL);
    pthread_mutex_init(&server.clients_lock, NULL);
    pthread_mutex_init(&server.monitors_lock, NULL);
    slowlogInit();
    commandsInit();
}

/* ========================== main ========================================== */

int main(int argc, char **argv)
{
    const char *action = NULL;
    char *err = NULL;
    cfgInitDefaults();
    int r = cfgParseArgs(argc - 1, argv + 1, &action, &err);
    if (r < 0) {
        fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR (Strata %s) ***\n%s\n", STRATA_VERSION,
                err ? err : "bad arguments");
        free(err);
        return 1;
    }
    if (r == 1) {
        if (!strcmp(action, "version")) {
            printf("Strata server v=%s (Redis compatible %s) malloc=%s bits=64\n", STRATA_VERSION,
                   STRATA_REDIS_COMPAT_VERSION,
#ifdef STRATA_NO_JEMALLOC
                   "libc"
#else
                   "jemalloc"
#endif
            );
        } else {
            usage();
        }
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    server.executable = strdup(exe);
    if (cfg.dir && cfg.dir[0] && chdir(cfg.dir) != 0) {
        fprintf(stderr, "Can't chdir to '%s': %s\n", cfg.dir, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    serverInit();
    serverLog(LL_NOTICE, "Strata %s starting, pid=%d, port=%d, threads=%d", STRATA_VERSION,
              (int)getpid(), cfg.port, cfg.server_threads);
    if (openStorage() != C_OK) return 1;
    writePidfile();
    if (eventStartThreads() != C_OK) {
        serverLog(LL_WARNING, "Failed starting event loops, exiting");
        stClose(server.st);
        return 1;
    }
    struct event *sigterm = evsignal_new(server.threads[0].base, SIGTERM, onSignal, NULL);
    struct event *sigint = evsignal_new(server.threads[0].base, SIGINT, onSignal, NULL);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    expireStartThread();
    memStartKeeper();
    if (replicationInit() != C_OK) {
        eventStopAll();
        expireStopThread();
        memStopKeeper();
        stClose(server.st);
        return 1;
    }
    atomic_store(&server.loading, 0);
    serverLog(LL_NOTICE, "Ready to accept connections tcp");

    eventRunMainThread();

    serverLog(LL_WARNING, "User requested shutdown...");
    event_free(sigterm);
    event_free(sigint);
    replStop();
    eventStopAll();
    expireStopThread();
    memStopKeeper();
    stSyncWal(server.st);
    if (server.shutdown_flush) stFlushToDisk(server.st);
    stClose(server.st);
    if (cfg.pidfile && cfg.pidfile[0]) unlink(cfg.pidfile);
    serverLog(LL_WARNING, "Strata is now ready to exit, bye bye...");
    free(server.executable);
    return 0;
}

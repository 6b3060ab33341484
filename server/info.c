/* info.c - the INFO text: sections server, clients, memory, persistence,
 * stats, replication, cpu, modules, commandstats, cluster and keyspace with
 * Redis's field names, so exporters and client ready checks parse it
 * unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../replication/repl.h"
#include "server.h"

/* ========================== Sections ====================================== */

static void infoServer(strbuf *b)
{
    struct utsname u;
    uname(&u);
    uint64_t up = (mstime() - server.start_ms) / 1000;
    sbPrintf(b,
             "# Server\r\n"
             "redis_version:%s\r\n"
             "strata_version:%s\r\n"
             "redis_git_sha1:00000000\r\n"
             "redis_git_dirty:0\r\n"
             "redis_build_id:0\r\n"
             "redis_mode:standalone\r\n"
             "os:%s %s %s\r\n"
             "arch_bits:64\r\n"
             "multiplexing_api:epoll\r\n"
             "atomicvar_api:c11-builtin\r\n"
             "gcc_version:%d.%d.%d\r\n"
             "process_id:%d\r\n"
             "process_supervised:no\r\n"
             "run_id:%s\r\n"
             "tcp_port:%d\r\n"
             "server_time_usec:%llu\r\n"
             "uptime_in_seconds:%llu\r\n"
             "uptime_in_days:%llu\r\n"
             "hz:10\r\n"
             "configured_hz:10\r\n"
             "lru_clock:%llu\r\n"
             "server_threads:%d\r\n"
             "executable:%s\r\n"
             "config_file:%s\r\n"
             "io_threads_active:0\r\n",
             STRATA_REDIS_COMPAT_VERSION, STRATA_VERSION, u.sysname, u.release, u.machine,
             __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__, (int)server.pid, server.runid,
             cfg.port, (unsigned long long)ustime(), (unsigned long long)up,
             (unsigned long long)(up / 86400), (unsigned long long)((mstime() / 1000) & 0xFFFFFF),
             cfg.server_threads, server.executable ? server.executable : "",
             cfgFilePath() ? cfgFilePath() : "");
}

static void infoClients(strbuf *b)
{
    int in_timeout, blocked = blockedClients(&in_timeout);
    sbPrintf(b,
             "# Clients\r\n"
             "connected_clients:%d\r\n"
             "cluster_connections:0\r\n"
             "maxclients:%d\r\n"
             "client_recent_max_input_buffer:0\r\n"
             "client_recent_max_output_buffer:0\r\n"
             "blocked_clients:%d\r\n"
             "tracking_clients:0\r\n"
             "clients_in_timeout_table:%d\r\n",
             atomic_load(&server.nclients), cfg.maxclients, blocked, in_timeout);
    /* Which event loop holds how many connections: the kernel spreads them
     * over the SO_REUSEPORT listeners, and this shows it did. */
    sbAppendStr(b, "server_thread_clients:");
    for (int i = 0; i < server.nthreads; i++)
        sbPrintf(b, "%st%d=%d", i ? "," : "", i,
                 __atomic_load_n(&server.threads[i].nclients, __ATOMIC_RELAXED));
    sbAppendStr(b, "\r\n");
}

static void infoMemory(strbuf *b)
{
    size_t resident = 0;
    size_t used = memAllocated(&resident);
    size_t rss = memRss();
    size_t peak = memPeak(used);
    stStats ss;
    stGetStats(server.st, &ss);
    char used_h[32], rss_h[32], peak_h[32], max_h[32];
    bytesToHuman(used_h, sizeof(used_h), used);
    bytesToHuman(rss_h, sizeof(rss_h), rss);
    bytesToHuman(peak_h, sizeof(peak_h), peak);
    bytesToHuman(max_h, sizeof(max_h), cfg.maxmemory);
    static const char *policies[] = {"noeviction",     "allkeys-lru",     "allkeys-lfu",
                                     "allkeys-random", "volatile-lru",    "volatile-lfu",
                                     "volatile-random", "volatile-ttl"};
    sbPrintf(b,
             "# Memory\r\n"
             "used_memory:%zu\r\n"
             "used_memory_human:%s\r\n"
             "used_memory_rss:%zu\r\n"
             "used_memory_rss_human:%s\r\n"
             "used_memory_peak:%zu\r\n"
             "used_memory_peak_human:%s\r\n"
             "allocator_resident:%zu\r\n"
             "maxmemory:%llu\r\n"
             "maxmemory_human:%s\r\n"
             "maxmemory_policy:%s\r\n"
             "mem_fragmentation_ratio:%.2f\r\n"
             "mem_allocator:%s\r\n"
             "hotset_keys:%llu\r\n"
             "hotset_bytes:%llu\r\n"
             "hotset_hits:%llu\r\n"
             "hotset_misses:%llu\r\n"
             "hotset_collections:%llu\r\n"
             "hotset_collection_bytes:%llu\r\n"
             "rocksdb_block_cache_bytes:%llu\r\n"
             "rocksdb_memtable_bytes:%llu\r\n"
             "storage_disk_bytes:%llu\r\n"
             "storage_blob_bytes:%llu\r\n"
             "storage_blob_garbage_bytes:%llu\r\n"
             "storage_blob_gc:%llu\r\n"
             "hotset_max_bytes:%zu\r\n"
             "storage_data_bytes:%llu\r\n"
             "maxstorage:%llu\r\n",
             used, used_h, rss, rss_h, peak, peak_h, resident, cfg.maxmemory, max_h,
             policies[cfg.maxmemory_policy & 7], used ? (double)rss / used : 0.0,
#ifdef STRATA_NO_JEMALLOC
             "libc",
#else
             "jemalloc-5.3.0",
#endif
             (unsigned long long)ss.hotset_keys, (unsigned long long)ss.hotset_bytes,
             (unsigned long long)ss.hotset_hits, (unsigned long long)ss.hotset_misses,
             (unsigned long long)ss.hotset_collections,
             (unsigned long long)ss.hotset_collection_bytes,
             (unsigned long long)ss.block_cache_bytes, (unsigned long long)ss.memtable_bytes,
             (unsigned long long)ss.disk_bytes, (unsigned long long)ss.blob_bytes,
             (unsigned long long)ss.blob_garbage_bytes, (unsigned long long)ss.blob_gc_cfs,
             memHotsetBudget(), (unsigned long long)stDataBytes(server.st), cfg.maxstorage);
}

static void infoPersistence(strbuf *b)
{
    stStats ss;
    stGetStats(server.st, &ss);
    sbPrintf(b,
             "# Persistence\r\n"
             "loading:%d\r\n"
             "async_loading:0\r\n"
             "rdb_changes_since_last_save:%lld\r\n"
             "rdb_bgsave_in_progress:0\r\n"
             "rdb_last_save_time:%llu\r\n"
             "rdb_last_bgsave_status:ok\r\n"
             "aof_enabled:%d\r\n"
             "aof_rewrite_in_progress:0\r\n"
             "aof_rewrite_scheduled:0\r\n"
             "aof_last_write_status:ok\r\n"
             "appendfsync:%s\r\n"
             "wal_last_sync_time:%llu\r\n"
             "storage_last_sequence:%llu\r\n"
             "storage_batches_committed:%llu\r\n"
             "storage_gc_dropped_records:%llu\r\n",
             atomic_load(&server.loading), (long long)atomic_load(&server.dirty),
             (unsigned long long)server.lastsave_unix, cfg.appendonly ? 1 : 0,
             cfg.appendfsync == CFG_FSYNC_ALWAYS  ? "always"
             : cfg.appendfsync == CFG_FSYNC_NO ? "no"
                                               : "everysec",
             (unsigned long long)ss.last_wal_sync_unix, (unsigned long long)ss.last_seq,
             (unsigned long long)ss.batches_committed, (unsigned long long)ss.gc_dropped);
}

static void infoStats(strbuf *b)
{
    uint64_t up_s = (mstime() - server.stat_reset_ms) / 1000;
    long long cmds = atomic_load(&server.stat_numcommands);
    long long ps_channels, ps_patterns;
    pubsubStats(&ps_channels, &ps_patterns);
    long long sfull, sok, serr;
    replStats(&sfull, &sok, &serr);
    sbPrintf(b,
             "# Stats\r\n"
             "total_connections_received:%lld\r\n"
             "total_commands_processed:%lld\r\n"
             "instantaneous_ops_per_sec:%lld\r\n"
             "total_net_input_bytes:%lld\r\n"
             "total_net_output_bytes:%lld\r\n"
             "rejected_connections:%lld\r\n"
             "sync_full:%lld\r\n"
             "sync_partial_ok:%lld\r\n"
             "sync_partial_err:%lld\r\n"
             "expired_keys:%lld\r\n"
             "expired_stale_perc:0.00\r\n"
             "expired_time_cap_reached_count:0\r\n"
             "evicted_keys:%lld\r\n"
             "evicted_clients:0\r\n"
             "keyspace_hits:%lld\r\n"
             "keyspace_misses:%lld\r\n"
             "pubsub_channels:%lld\r\n"
             "pubsub_patterns:%lld\r\n"
             "latest_fork_usec:0\r\n"
             "total_forks:0\r\n"
             "client_query_buffer_limit_disconnections:%lld\r\n"
             "client_output_buffer_limit_disconnections:%lld\r\n"
             "total_error_replies:%lld\r\n"
             "dump_payload_sanitizations:0\r\n"
             "total_reads_processed:0\r\n"
             "total_writes_processed:0\r\n",
             (long long)atomic_load(&server.stat_numconnections), cmds,
             up_s ? cmds / (long long)up_s : cmds,
             (long long)atomic_load(&server.stat_net_input_bytes),
             (long long)atomic_load(&server.stat_net_output_bytes),
             (long long)atomic_load(&server.stat_rejected_conn), sfull, sok, serr,
             (long long)atomic_load(&server.stat_expiredkeys),
             (long long)atomic_load(&server.stat_evictedkeys),
             (long long)atomic_load(&server.stat_keyspace_hits),
             (long long)atomic_load(&server.stat_keyspace_misses), ps_channels, ps_patterns,
             (long long)atomic_load(&server.stat_client_qbuf_limit_disconnections),
             (long long)atomic_load(&server.stat_client_outbuf_limit_disconnections),
             (long long)atomic_load(&server.stat_total_error_replies));
}

static void infoReplication(strbuf *b)
{
    char *fields = replInfoString();
    sbPrintf(b, "# Replication\r\n%s", fields ? fields : "");
    free(fields);
}

static void infoCpu(strbuf *b)
{
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    sbPrintf(b,
             "# CPU\r\n"
             "used_cpu_sys:%ld.%06ld\r\n"
             "used_cpu_user:%ld.%06ld\r\n"
             "used_cpu_sys_children:%ld.%06ld\r\n"
             "used_cpu_user_children:%ld.%06ld\r\n",
             (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec, (long)self.ru_utime.tv_sec,
             (long)self.ru_utime.tv_usec, (long)children.ru_stime.tv_sec,
             (long)children.ru_stime.tv_usec, (long)children.ru_utime.tv_sec,
             (long)children.ru_utime.tv_usec);
}

static void infoKeyspace(strbuf *b)
{
    sbAppendStr(b, "# Keyspace\r\n");
    for (int db = 0; db < cfg.databases; db++) {
        uint64_t keys = stKeyCount(server.st, db);
        /* avg_ttl stays 0: Redis estimates it by sampling during active
         * expiry, which Strata's expire-index cycle does not do. */
        if (keys)
            sbPrintf(b, "db%d:keys=%llu,expires=%llu,avg_ttl=0\r\n", db, (unsigned long long)keys,
                     (unsigned long long)stExpiresCount(server.st, db));
    }
}

static void infoModules(strbuf *b)
{
    sbAppendStr(b, "# Modules\r\n");
}

static void infoCluster(strbuf *b)
{
    sbAppendStr(b, "# Cluster\r\ncluster_enabled:0\r\n");
}

static void commandStatCb(void *ud, redisCommand *cmd)
{
    strbuf *b = ud;
    long long calls = atomic_load(&cmd->calls);
    long long rejected = atomic_load(&cmd->rejected_calls);
    long long failed = atomic_load(&cmd->failed_calls);
    if (!calls && !rejected && !failed) return;
    long long us = atomic_load(&cmd->microseconds);
    sbPrintf(b, "cmdstat_%s:calls=%lld,usec=%lld,usec_per_call=%.2f,rejected_calls=%lld,"
                "failed_calls=%lld\r\n",
             cmd->name, calls, us, calls ? (double)us / calls : 0.0, rejected, failed);
}

static void infoCommandstats(strbuf *b)
{
    sbAppendStr(b, "# Commandstats\r\n");
    commandsForEach(commandStatCb, b);
}

/* ========================== Public ======================================== */

/* Whether the word (a section name, "default", "all" or "everything") selects
 * the section. */
static int sectionSelectedBy(const char *word, size_t len, const char *name, int is_default)
{
    if ((len == 3 && !strncasecmp(word, "all", 3)) || (len == 10 && !strncasecmp(word, "everything", 10)))
        return 1;
    if (len == 7 && !strncasecmp(word, "default", 7)) return is_default;
    return len == strlen(name) && !strncasecmp(word, name, len);
}

/* Appends the sections that `sections` selects: space-separated words, each a
 * section name, "default", "all" or "everything".  Every section appears at
 * most once, in Redis's order, separated by blank lines as Redis does. */
void genInfoString(client *c, strbuf *b, const char *sections)
{
    (void)c;
    static const struct {
        const char *name;
        void (*fn)(strbuf *);
        int is_default;
    } table[] = {{"server", infoServer, 1},         {"clients", infoClients, 1},
                 {"memory", infoMemory, 1},         {"persistence", infoPersistence, 1},
                 {"stats", infoStats, 1},           {"replication", infoReplication, 1},
                 {"cpu", infoCpu, 1},               {"modules", infoModules, 1},
                 {"commandstats", infoCommandstats, 0}, {"cluster", infoCluster, 1},
                 {"keyspace", infoKeyspace, 1}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        int wanted = 0;
        for (const char *p = sections; *p && !wanted;) {
            while (*p == ' ') p++;
            const char *e = p;
            while (*e && *e != ' ') e++;
            if (e > p) wanted = sectionSelectedBy(p, (size_t)(e - p), table[i].name, table[i].is_default);
            p = e;
        }
        if (!wanted) continue;
        if (b->len) sbAppendStr(b, "\r\n");
        table[i].fn(b);
    }
}

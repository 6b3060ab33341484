/* cmd_memory.c - MEMORY USAGE / STATS / DOCTOR / PURGE / HELP.
 *
 * Figures come from jemalloc (memory.c) and storage's statistics; a key's
 * usage is what it costs in the hot set, where its value lives while hot
 * (on disk it costs what RocksDB's compression makes of it).
 */
#include <stdio.h>
#include <string.h>

#include "server.h"

static void memoryUsage(client *c)
{
    for (int i = 3; i < c->argc; i += 2) {
        if (argIs(c, i, "samples") && i + 1 < c->argc) {
            long long n;
            if (getLongLongOrReply(c, c->argv[i + 1], c->argvlen[i + 1], &n, NULL) != C_OK)
                return;
            if (n < 0) {
                addReplyErrorSyntax(c);
                return;
            }
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
    stObj *o = lookupKeyDb(c, c->db, c->argv[2], c->argvlen[2], LOOKUP_NOTOUCH);
    if (!o) {
        addReplyNull(c);
        return;
    }
    addReplyLongLong(c, (long long)stObjMemoryUsage(o, c->argvlen[2]));
    stObjRelease(o);
}

static void addStat(client *c, const char *name, long long v)
{
    addReplyBulkStr(c, name);
    addReplyLongLong(c, v);
}

static void memoryStats(client *c)
{
    size_t resident = 0, used = memAllocated(&resident), rss = memRss(), peak = memPeak(used);
    stStats ss;
    stGetStats(server.st, &ss);
    long long keys = 0;
    for (int db = 0; db < cfg.databases; db++) keys += (long long)stKeyCount(server.st, db);
    size_t rocks = ss.block_cache_bytes + ss.memtable_bytes;
    size_t overhead = used > ss.hotset_bytes + rocks ? used - ss.hotset_bytes - rocks : 0;
    addReplyMapLen(c, 14);
    addStat(c, "peak.allocated", (long long)peak);
    addStat(c, "total.allocated", (long long)used);
    addStat(c, "clients.normal", (long long)atomic_load(&server.nclients));
    addStat(c, "overhead.total", (long long)overhead);
    addStat(c, "keys.count", keys);
    addStat(c, "dataset.bytes", (long long)ss.hotset_bytes);
    addStat(c, "allocator.allocated", (long long)used);
    addStat(c, "allocator.resident", (long long)resident);
    addStat(c, "rss", (long long)rss);
    addStat(c, "hotset.keys", (long long)ss.hotset_keys);
    addStat(c, "hotset.budget", (long long)memHotsetBudget());
    addStat(c, "rocksdb.block-cache", (long long)ss.block_cache_bytes);
    addStat(c, "rocksdb.memtables", (long long)ss.memtable_bytes);
    addStat(c, "storage.disk", (long long)ss.disk_bytes);
}

/* A short, honest reading of the figures above. */
static void memoryDoctor(client *c)
{
    size_t used = memAllocated(NULL), rss = memRss();
    stStats ss;
    stGetStats(server.st, &ss);
    char text[1024];
    size_t n = 0;
    uint64_t lookups = ss.hotset_hits + ss.hotset_misses;
    if (cfg.maxmemory && used > cfg.maxmemory)
        n += snprintf(text + n, sizeof(text) - n,
                      "Allocated memory (%zu bytes) is above maxmemory (%llu): the hot set is "
                      "being shrunk to make room. ",
                      used, cfg.maxmemory);
    if (used && rss > used * 3 / 2 && rss > 64ULL << 20)
        n += snprintf(text + n, sizeof(text) - n,
                      "RSS is %.1fx the allocated memory: freed memory has not gone back to the "
                      "OS yet (MEMORY PURGE returns it). ",
                      (double)rss / used);
    if (lookups > 1000 && ss.hotset_misses * 2 > lookups)
        n += snprintf(text + n, sizeof(text) - n,
                      "Most reads miss the hot set (%llu of %llu): they are served from disk; a "
                      "larger maxmemory would keep more of the working set in RAM. ",
                      (unsigned long long)ss.hotset_misses, (unsigned long long)lookups);
    if (!n) snprintf(text, sizeof(text), "No memory problems detected.");
    else if (text[n - 1] == ' ') text[n - 1] = '\0';
    addReplyVerbatim(c, text, strlen(text), "txt");
}

void memoryCommand(client *c)
{
    if (argIs(c, 1, "usage") && c->argc >= 3) {
        memoryUsage(c);
    } else if (argIs(c, 1, "stats") && c->argc == 2) {
        memoryStats(c);
    } else if (argIs(c, 1, "doctor") && c->argc == 2) {
        memoryDoctor(c);
    } else if (argIs(c, 1, "purge") && c->argc == 2) {
        if (memPurge() == C_OK) addReplyOk(c);
        else addReplyError(c, "Error purging dirty pages");
    } else if (argIs(c, 1, "help") && c->argc == 2) {
        static const char *help[] = {
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help."};
        int n = sizeof(help) / sizeof(*help);
        addReplyArrayLen(c, n);
        for (int i = 0; i < n; i++) addReplyStatus(c, help[i]);
    } else if (argIs(c, 1, "usage") || argIs(c, 1, "stats") || argIs(c, 1, "doctor") ||
               argIs(c, 1, "purge") || argIs(c, 1, "help")) {
        char sub[64];
        snprintf(sub, sizeof(sub), "%.*s", (int)c->argvlen[1], c->argv[1]);
        for (char *p = sub; *p; p++) *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
        addReplyErrorFormat(c, "wrong number of arguments for 'memory|%s' command", sub);
    } else {
        addReplyErrorFormat(c, "unknown subcommand '%.*s'. Try MEMORY HELP.", (int)c->argvlen[1],
                            c->argv[1]);
    }
}

/* test_config.c - cmocka tests of server/config.c: defaults, keydb.conf
 * parsing and its error texts, memory units, command-line overrides,
 * CONFIG GET globs, CONFIG SET atomicity and Redis 7.0's error wordings,
 * inert directives, and CONFIG REWRITE round trips.
 *
 * Run from the repository root (the keydb.conf test opens ./keydb.conf). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../server/config.h"

/* ============================ Hooks and helpers ========================== */

static int warnCount;
static char lastWarn[512];
static char changed[1024];      /* names passed to cfgOnChange, space separated */

/* Strong definitions replace config.c's weak ones. */
void cfgWarn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lastWarn, sizeof(lastWarn), fmt, ap);
    va_end(ap);
    warnCount++;
}

void cfgOnChange(const char *name) {
    strncat(changed, name, sizeof(changed) - strlen(changed) - 2);
    strcat(changed, " ");
}

static char tmpDir[] = "/tmp/strata-test-config-XXXXXX";

static int setup(void **state) {
    (void)state;
    cfgFree();
    cfgInitDefaults();
    warnCount = 0;
    lastWarn[0] = '\0';
    changed[0] = '\0';
    return 0;
}

static int teardown(void **state) {
    (void)state;
    cfgFree();
    return 0;
}

/* Writes text to <tmpDir>/<name>; returns the path (static buffer). */
static const char *writeConf(const char *name, const char *text) {
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpDir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

/* Reads a whole file into a heap string (caller frees). */
static char *readFile(const char *path) {
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
    s[n] = '\0';
    fclose(fp);
    return s;
}

/* Loads text as a config file; returns cfgLoadFile's result, *err heap. */
static int loadText(const char *text, char **err) {
    *err = NULL;
    return cfgLoadFile(writeConf("t.conf", text), err);
}

/* Expects loading text to fail with "<path>:<suffix>". */
static void expectLoadError(const char *text, const char *suffix) {
    char *err = NULL, want[512];
    const char *path = writeConf("bad.conf", text);
    assert_int_equal(cfgLoadFile(path, &err), -1);
    snprintf(want, sizeof(want), "%s:%s", path, suffix);
    assert_string_equal(err, want);
    free(err);
}

/* CONFIG GET collector. */
typedef struct getResult {
    int n;
    char names[400][64];
    char values[400][128];
} getResult;

/* No cmocka asserts here: cfgGet holds its lock while calling back. */
static void collect(void *ud, const char *name, const char *value) {
    getResult *r = ud;
    if (r->n == 400) return;
    snprintf(r->names[r->n], sizeof(r->names[0]), "%s", name);
    snprintf(r->values[r->n], sizeof(r->values[0]), "%s", value);
    r->n++;
}

/* Value of one directive through cfgGet (static buffer, "" if absent). */
static const char *get1(const char *name) {
    static getResult r;
    r.n = 0;
    cfgGet(name, collect, &r);
    assert_int_equal(r.n, 1);
    return r.values[0];
}

static int set2(const char *n1, const char *v1, const char *n2, const char *v2, char **err) {
    char *names[2] = {(char *)n1, (char *)n2}, *values[2] = {(char *)v1, (char *)v2};
    *err = NULL;
    return cfgSet(n2 ? 2 : 1, names, values, err);
}

static void expectSetError(const char *name, const char *value, const char *want) {
    char *err = NULL;
    assert_int_equal(set2(name, value, NULL, NULL, &err), -1);
    assert_string_equal(err, want);
    free(err);
}

/* ============================ Defaults =================================== */

static void test_defaults(void **state) {
    (void)state;
    assert_int_equal(cfg.port, 6379);
    assert_int_equal(cfg.bind_count, 2);
    assert_string_equal(cfg.bind[0], "127.0.0.1");
    assert_string_equal(cfg.bind[1], "-::1");
    assert_int_equal(cfg.protected_mode, 1);
    assert_int_equal(cfg.tcp_backlog, 511);
    assert_int_equal(cfg.tcp_keepalive, 300);
    assert_int_equal(cfg.timeout, 0);
    assert_int_equal(cfg.server_threads, 1);
    assert_int_equal(cfg.maxclients, 10000);
    assert_null(cfg.requirepass);
    assert_null(cfg.masterauth);
    assert_null(cfg.pidfile);
    assert_int_equal(cfg.databases, 16);
    assert_string_equal(cfg.dir, "./");
    assert_string_equal(cfg.logfile, "");
    assert_int_equal(cfg.loglevel, LL_NOTICE);
    assert_int_equal(cfg.daemonize, 0);
    assert_true(cfg.maxmemory == 0);
    assert_int_equal(cfg.maxmemory_policy, MAXMEM_NOEVICTION);
    assert_int_equal(cfg.maxmemory_samples, 5);
    assert_true(cfg.maxstorage == 0);
    assert_null(cfg.storage_path);
    assert_int_equal(cfg.appendonly, 0);
    assert_int_equal(cfg.appendfsync, CFG_FSYNC_EVERYSEC);
    assert_true(cfg.proto_max_bulk_len == 512LL * 1024 * 1024);
    assert_true(cfg.client_query_buffer_limit == 1024ULL * 1024 * 1024);
    assert_true(cfg.cob[CFG_COB_NORMAL].hard_bytes == 0);
    assert_true(cfg.cob[CFG_COB_REPLICA].hard_bytes == 256ULL << 20);
    assert_true(cfg.cob[CFG_COB_REPLICA].soft_bytes == 64ULL << 20);
    assert_true(cfg.cob[CFG_COB_REPLICA].soft_seconds == 60);
    assert_true(cfg.cob[CFG_COB_PUBSUB].hard_bytes == 32ULL << 20);
    assert_true(cfg.slowlog_log_slower_than == 10000);
    assert_true(cfg.slowlog_max_len == 128);
    assert_int_equal(cfg.replicaof_count, 0);
    assert_int_equal(cfg.active_replica, 0);
    assert_int_equal(cfg.multi_master, 0);
    assert_int_equal(cfg.replica_read_only, 1);
    assert_true(cfg.repl_backlog_size == 256ULL * 1024 * 1024);
    assert_true(cfg.repl_backlog_ttl == 3600);
    assert_int_equal(cfg.replica_quorum, -1);
    assert_null(cfgFilePath());
}

/* ============================ Memory units =============================== */

static void test_memory_units(void **state) {
    (void)state;
    static const struct {
        const char *s;
        unsigned long long v;
    } ok[] = {{"0", 0}, {"100", 100}, {"1b", 1}, {"1k", 1000}, {"1kb", 1024}, {"1K", 1000},
              {"1KB", 1024}, {"1m", 1000000}, {"1mb", 1048576}, {"1Mb", 1048576},
              {"1g", 1000000000}, {"1gb", 1073741824}, {"2GB", 2147483648ULL},
              {"18446744073709551615", 18446744073709551615ULL}};
    static const char *bad[] = {"", "-1", " 1", "1 ", "1.5gb", "1tb", "kb", "gb1",
                                "18446744073709551616", "17179869184gb"};
    unsigned long long v;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(cfgParseMemory(ok[i].s, &v), 0);
        assert_true(v == ok[i].v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cfgParseMemory(bad[i], &v), -1);

    char *err;
    assert_int_equal(loadText("maxmemory 2gb\nmaxstorage 10G\nrepl-backlog-size 64kb\n", &err), 0);
    assert_true(cfg.maxmemory == 2ULL << 30);
    assert_true(cfg.maxstorage == 10000000000ULL);
    assert_true(cfg.repl_backlog_size == 65536);
    assert_string_equal(get1("maxmemory"), "2147483648");
}

/* ============================ File parsing =============================== */

static void test_file_parsing(void **state) {
    (void)state;
    char *err;
    assert_int_equal(loadText("# a comment\n"
                              "\n"
                              "   # indented comment\n"
                              "  port 7000   \r\n"
                              "requirepass \"a b\\\"c\\x41\"\n"
                              "logfile 'my log'\n"
                              "loglevel WARNING\n"
                              "PROTECTED-MODE No\n"
                              "bind 0.0.0.0 ::1 10.0.0.1\n"
                              "client-output-buffer-limit replica 1mb 2mb 3 pubsub 4 5 6\n"
                              "slave-read-only no\n"
                              "storage-provider flash /var/lib/strata\n"
                              "maxmemory-policy allkeys-lfu\n"
                              "appendfsync always\n"
                              "dir \"\"\n"
                              "masterauth ''\n"
                              "databases 4\n",
                              &err),
                     0);
    assert_int_equal(cfg.port, 7000);
    assert_string_equal(cfg.requirepass, "a b\"cA");
    assert_string_equal(cfg.logfile, "my log");
    assert_int_equal(cfg.loglevel, LL_WARNING);
    assert_int_equal(cfg.protected_mode, 0);
    assert_int_equal(cfg.bind_count, 3);
    assert_string_equal(cfg.bind[2], "10.0.0.1");
    assert_true(cfg.cob[CFG_COB_REPLICA].hard_bytes == 1 << 20);
    assert_true(cfg.cob[CFG_COB_REPLICA].soft_seconds == 3);
    assert_true(cfg.cob[CFG_COB_PUBSUB].soft_bytes == 5);
    assert_true(cfg.cob[CFG_COB_NORMAL].hard_bytes == 0);
    assert_int_equal(cfg.replica_read_only, 0);
    assert_string_equal(cfg.storage_path, "/var/lib/strata");
    assert_int_equal(cfg.maxmemory_policy, MAXMEM_ALLKEYS_LFU);
    assert_int_equal(cfg.appendfsync, CFG_FSYNC_ALWAYS);
    assert_string_equal(cfg.dir, "");
    assert_null(cfg.masterauth);
    assert_int_equal(cfg.databases, 4);
    assert_non_null(cfgFilePath());
    assert_true(cfgFilePath()[0] == '/');
    assert_string_equal(get1("storage-provider"), "flash /var/lib/strata");
}

static void test_include(void **state) {
    (void)state;
    char *err, text[512];
    const char *inc = writeConf("inc.conf", "port 7100\ntimeout 9\n");
    snprintf(text, sizeof(text), "port 7000\ninclude %s\ntimeout 3\n", inc);
    assert_int_equal(loadText(text, &err), 0);
    assert_int_equal(cfg.port, 7100);
    assert_int_equal(cfg.timeout, 3);
}

static void test_file_errors(void **state) {
    (void)state;
    expectLoadError("port 7000\n# comment\nfoo bar\n", "3: unknown directive 'foo'");
    expectLoadError("port 70000\n", "1: port must be between 0 and 65535 inclusive");
    expectLoadError("port abc\n", "1: port couldn't be parsed into an integer");
    expectLoadError("\nprotected-mode maybe\n", "2: protected-mode must be 'yes' or 'no'");
    expectLoadError("maxmemory 1zb\n", "1: maxmemory must be a memory value");
    expectLoadError("maxmemory-policy lru\n",
                    "1: maxmemory-policy must be one of the following: volatile-lru, "
                    "volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, "
                    "allkeys-random, noeviction");
    expectLoadError("loglevel loud\n",
                    "1: loglevel must be one of the following: debug, verbose, notice, warning");
    expectLoadError("appendfsync sometimes\n",
                    "1: appendfsync must be one of the following: everysec, always, no");
    expectLoadError("port 1 2\n", "1: port: wrong number of arguments");
    expectLoadError("requirepass \"abc\n", "1: Unbalanced quotes in configuration line");
    expectLoadError("requirepass \"abc\"def\n", "1: Unbalanced quotes in configuration line");
    expectLoadError("proto-max-bulk-len 1000\n",
                    "1: proto-max-bulk-len must be between 1048576 and 9223372036854775807 "
                    "inclusive");
    expectLoadError("client-output-buffer-limit master 1 2 3\n",
                    "1: client-output-buffer-limit: Invalid client class specified in buffer "
                    "limit configuration.");
    expectLoadError("client-output-buffer-limit normal 1 2\n",
                    "1: client-output-buffer-limit: Wrong number of arguments in buffer limit "
                    "configuration.");
    expectLoadError("save 100\n", "1: save: Invalid save parameters");
    expectLoadError("replicaof host port\n", "1: replicaof: Invalid master port");
    expectLoadError("storage-provider disk /x\n",
                    "1: storage-provider must be 'flash <path>' or 'none'");
    expectLoadError("server-threads 0\n", "1: server-threads must be between 1 and 64 inclusive");
    expectLoadError("hz fast\n", "1: hz couldn't be parsed into an integer");

    char *err = NULL;
    assert_int_equal(cfgLoadFile("/nonexistent/strata.conf", &err), -1);
    assert_non_null(strstr(err, "can't open config file '/nonexistent/strata.conf'"));
    free(err);
}

/* ============================ Replication lists ========================== */

static void test_replicaof_repeated(void **state) {
    (void)state;
    char *err;
    assert_int_equal(loadText("replicaof 10.0.0.1 6379\n"
                              "slaveof 10.0.0.2 6380\n"
                              "replicaof 10.0.0.1 6379\n"  /* same master: one link */
                              "REPLICAOF 10.0.0.3 6381\n",
                              &err),
                     0);
    assert_int_equal(cfg.replicaof_count, 3);
    assert_string_equal(cfg.replicaof[0].host, "10.0.0.1");
    assert_int_equal(cfg.replicaof[0].port, 6379);
    assert_string_equal(cfg.replicaof[1].host, "10.0.0.2");
    assert_int_equal(cfg.replicaof[2].port, 6381);
    assert_string_equal(get1("replicaof"), "10.0.0.1 6379");
    assert_string_equal(get1("slaveof"), "10.0.0.1 6379");

    char *argv[] = {"replicaof", "no", "one"};
    assert_int_equal(cfgApplyDirective(3, argv, "command line", &err), 0);
    assert_int_equal(cfg.replicaof_count, 0);
    assert_string_equal(get1("replicaof"), "");

    expectSetError("replicaof", "1.2.3.4 5",
                   "ERR CONFIG SET failed (possibly related to argument 'replicaof') - can't set "
                   "immutable config");
}

static void test_active_replica_implies_writable(void **state) {
    (void)state;
    char *err;
    assert_int_equal(loadText("active-replica yes\nmulti-master yes\n", &err), 0);
    assert_int_equal(cfg.active_replica, 1);
    assert_int_equal(cfg.multi_master, 1);
    assert_int_equal(cfg.replica_read_only, 0);
}

/* ============================ Command line =============================== */

static void test_command_line(void **state) {
    (void)state;
    const char *action = NULL;
    char *err = NULL;
    const char *path = writeConf("cl.conf", "port 7000\ntimeout 5\nreplicaof 10.0.0.1 6379\n"
                                            "save 100 1\n");
    char *argv[] = {(char *)path, "--port", "7001", "--replicaof", "127.0.0.1", "6380",
                    "--requirepass", "pw", "--replicaof", "127.0.0.1", "6381",
                    "--save", "200", "2", "--loglevel", "debug", "--client-output-buffer-limit",
                    "pubsub", "1mb", "1mb", "0"};
    assert_int_equal(cfgParseArgs(sizeof(argv) / sizeof(argv[0]), argv, &action, &err), 0);
    assert_int_equal(cfg.port, 7001);
    assert_int_equal(cfg.timeout, 5);
    assert_string_equal(cfg.requirepass, "pw");
    assert_int_equal(cfg.loglevel, LL_DEBUG);
    assert_int_equal(cfg.replicaof_count, 3);
    assert_int_equal(cfg.replicaof[1].port, 6380);
    assert_int_equal(cfg.replicaof[2].port, 6381);
    assert_string_equal(get1("save"), "100 1 200 2");
    assert_true(cfg.cob[CFG_COB_PUBSUB].hard_bytes == 1 << 20);
    assert_string_equal(cfgFilePath() + strlen(cfgFilePath()) - 7, "cl.conf");
}

static void test_command_line_no_file(void **state) {
    (void)state;
    const char *action = NULL;
    char *err = NULL;
    char *argv[] = {"--save", "", "--bind", "0.0.0.0", "--dir", "./data", "--daemonize", "no"};
    assert_int_equal(cfgParseArgs(8, argv, &action, &err), 0);
    assert_string_equal(get1("save"), "");
    assert_int_equal(cfg.bind_count, 1);
    assert_string_equal(cfg.dir, "./data");
    assert_null(cfgFilePath());

    char *argv2[] = {"--save"};
    assert_int_equal(cfgParseArgs(1, argv2, &action, &err), 0);
    assert_string_equal(get1("save"), "");

    /* Multi-word values in one argument are split, as Redis 7.0 does. */
    char *argv3[] = {"--replicaof", "127.0.0.1 6390", "--save", "100 1 200 2", "--bind",
                     "10.0.0.1 -::1"};
    assert_int_equal(cfgParseArgs(6, argv3, &action, &err), 0);
    assert_int_equal(cfg.replicaof_count, 1);
    assert_int_equal(cfg.replicaof[0].port, 6390);
    assert_string_equal(get1("save"), "100 1 200 2");
    assert_string_equal(get1("bind"), "10.0.0.1 -::1");
    cfgFree();  /* a new load: its first save line replaces the defaults */
    cfgInitDefaults();
    assert_int_equal(loadText("save \"300 10\"\nclient-output-buffer-limit \"pubsub 1 2 3\"\n",
                              &err),
                     0);
    assert_string_equal(get1("save"), "300 10");
    assert_true(cfg.cob[CFG_COB_PUBSUB].soft_seconds == 3);
}

static void test_command_line_actions_and_errors(void **state) {
    (void)state;
    const char *action = NULL;
    char *err = NULL;
    char *v1[] = {"-v"}, *v2[] = {"--version"}, *h1[] = {"-h"}, *h2[] = {"--port", "1", "--help"};
    assert_int_equal(cfgParseArgs(1, v1, &action, &err), 1);
    assert_string_equal(action, "version");
    assert_int_equal(cfgParseArgs(1, v2, &action, &err), 1);
    assert_string_equal(action, "version");
    assert_int_equal(cfgParseArgs(1, h1, &action, &err), 1);
    assert_string_equal(action, "help");
    assert_int_equal(cfgParseArgs(3, h2, &action, &err), 1);
    assert_string_equal(action, "help");

    char *bad1[] = {"--port", "99999"};
    assert_int_equal(cfgParseArgs(2, bad1, &action, &err), -1);
    assert_string_equal(err, "command line: port must be between 0 and 65535 inclusive");
    free(err);
    char *bad2[] = {"--nosuch", "1"};
    assert_int_equal(cfgParseArgs(2, bad2, &action, &err), -1);
    assert_string_equal(err, "command line: unknown directive 'nosuch'");
    free(err);
    char *bad3[] = {"a.conf", "b.conf"};
    assert_int_equal(cfgParseArgs(2, bad3, &action, &err), -1);
    assert_non_null(strstr(err, "unexpected argument 'b.conf'"));
    free(err);
}

/* ============================ CONFIG GET ================================= */

static void test_config_get(void **state) {
    (void)state;
    getResult *r = calloc(1, sizeof(*r));
    cfgGet("*", collect, r);
    assert_true(r->n >= 192);  /* every Redis 7.0 name, plus KeyDB's */
    for (int i = 0; i < r->n; i++)
        for (int k = 0; k < i; k++) assert_string_not_equal(r->names[i], r->names[k]);

    r->n = 0;
    cfgGet("maxmemory*", collect, r);
    assert_int_equal(r->n, 5);  /* maxmemory -policy -samples -clients -eviction-tenacity */
    r->n = 0;
    cfgGet("*read-only", collect, r);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->values[0], "yes");
    r->n = 0;
    cfgGet("nosuch*", collect, r);
    assert_int_equal(r->n, 0);
    free(r);

    assert_string_equal(get1("PORT"), "6379");
    assert_string_equal(get1("bind"), "127.0.0.1 -::1");
    assert_string_equal(get1("client-output-buffer-limit"),
                        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    assert_string_equal(get1("save"), "3600 1 300 100 60 10000");
    assert_string_equal(get1("replicaof"), "");
    assert_string_equal(get1("requirepass"), "");
    assert_string_equal(get1("maxmemory-policy"), "noeviction");
    assert_string_equal(get1("proto-max-bulk-len"), "536870912");
    assert_string_equal(get1("appendonly"), "no");
    assert_string_equal(get1("storage-provider"), "none");
    assert_string_equal(get1("hz"), "10");
    assert_string_equal(get1("lua-time-limit"), "5000");
    assert_string_equal(get1("oom-score-adj-values"), "0 200 800");
    assert_string_equal(get1("server-thread-affinity"), "false");
}

/* ============================ CONFIG SET ================================= */

static void test_config_set_ok(void **state) {
    (void)state;
    char *err;
    assert_int_equal(set2("timeout", "30", "MAXMEMORY", "1gb", &err), 0);
    assert_int_equal(cfg.timeout, 30);
    assert_true(cfg.maxmemory == 1ULL << 30);
    assert_string_equal(changed, "timeout maxmemory ");
    assert_int_equal(set2("requirepass", "secret", "loglevel", "WARNING", &err), 0);
    assert_string_equal(cfg.requirepass, "secret");
    assert_int_equal(cfg.loglevel, LL_WARNING);
    assert_string_equal(get1("loglevel"), "warning");
    assert_int_equal(set2("requirepass", "", NULL, NULL, &err), 0);
    assert_null(cfg.requirepass);
    assert_int_equal(set2("client-output-buffer-limit", "normal 1mb 2gb 3", NULL, NULL, &err), 0);
    assert_string_equal(get1("client-output-buffer-limit"),
                        "normal 1048576 2147483648 3 slave 268435456 67108864 60 pubsub 33554432 "
                        "8388608 60");
    assert_int_equal(set2("save", "100 1 200 2", NULL, NULL, &err), 0);
    assert_string_equal(get1("save"), "100 1 200 2");
    assert_int_equal(set2("save", "", NULL, NULL, &err), 0);
    assert_string_equal(get1("save"), "");
    assert_int_equal(set2("slave-read-only", "no", NULL, NULL, &err), 0);
    assert_int_equal(cfg.replica_read_only, 0);
    assert_string_equal(get1("replica-read-only"), "no");
    assert_int_equal(set2("client-output-buffer-limit", "", NULL, NULL, &err), 0);  /* no-op */
    assert_true(cfg.cob[CFG_COB_NORMAL].hard_bytes == 1 << 20);
    assert_int_equal(set2("maxmemory", "18446744073709551615", NULL, NULL, &err), 0);
    assert_string_equal(get1("maxmemory"), "18446744073709551615");
    assert_int_equal(set2("slowlog-log-slower-than", "-1", "appendfsync", "no", &err), 0);
    assert_true(cfg.slowlog_log_slower_than == -1);
    assert_int_equal(cfg.appendfsync, CFG_FSYNC_NO);
}

static void test_config_set_atomic(void **state) {
    (void)state;
    char *err;
    assert_int_equal(set2("timeout", "5", "maxmemory-policy", "bad", &err), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument "
                             "'maxmemory-policy') - argument(s) must be one of the following: "
                             "volatile-lru, volatile-lfu, volatile-random, volatile-ttl, "
                             "allkeys-lru, allkeys-lfu, allkeys-random, noeviction");
    free(err);
    assert_int_equal(cfg.timeout, 0);
    assert_string_equal(changed, "");

    /* A bad second pair keeps the first string and special values too. */
    assert_int_equal(set2("requirepass", "x", "save", "1", &err), -1);
    free(err);
    assert_null(cfg.requirepass);
    assert_int_equal(set2("client-output-buffer-limit", "normal 1 1 1", "tcp-keepalive", "-1",
                          &err),
                     -1);
    free(err);
    assert_true(cfg.cob[CFG_COB_NORMAL].hard_bytes == 0);
    assert_int_equal(cfg.tcp_keepalive, 300);
}

static void test_config_set_errors(void **state) {
    (void)state;
    char *err;
    expectSetError("port", "7000",
                   "ERR CONFIG SET failed (possibly related to argument 'port') - can't set "
                   "immutable config");
    expectSetError("daemonize", "yes",
                   "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set "
                   "immutable config");
    expectSetError("foo", "1", "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    expectSetError("include", "/x",
                   "ERR Unknown option or number of arguments for CONFIG SET - 'include'");
    expectSetError("rename-command", "x",
                   "ERR Unknown option or number of arguments for CONFIG SET - "
                   "'rename-command'");
    expectSetError("timeout", "x",
                   "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument "
                   "couldn't be parsed into an integer");
    expectSetError("tcp-keepalive", "-1",
                   "ERR CONFIG SET failed (possibly related to argument 'tcp-keepalive') - "
                   "argument must be between 0 and 2147483647 inclusive");
    expectSetError("protected-mode", "maybe",
                   "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - "
                   "argument must be 'yes' or 'no'");
    expectSetError("maxmemory", "-1",
                   "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument "
                   "must be a memory value");
    expectSetError("appendfsync", "x",
                   "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - "
                   "argument(s) must be one of the following: everysec, always, no");
    expectSetError("slowlog-max-len", "-1",
                   "ERR CONFIG SET failed (possibly related to argument 'slowlog-max-len') - "
                   "argument must be between 0 and 9223372036854775807 inclusive");
    expectSetError("client-output-buffer-limit", "foo 1 2 3",
                   "ERR CONFIG SET failed (possibly related to argument "
                   "'client-output-buffer-limit') - Invalid client class specified in buffer "
                   "limit configuration.");
    expectSetError("client-output-buffer-limit", "normal 1 x 3",
                   "ERR CONFIG SET failed (possibly related to argument "
                   "'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting "
                   "in buffer limit configuration.");
    expectSetError("save", "100 x",
                   "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save "
                   "parameters");

    /* pass 1 errors (unknown, immutable, duplicate) win over bad values */
    assert_int_equal(set2("timeout", "x", "daemonize", "yes", &err), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'daemonize') - "
                             "can't set immutable config");
    free(err);
    assert_int_equal(set2("Timeout", "5", "TIMEOUT", "6", &err), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'TIMEOUT') - "
                             "duplicate parameter");
    free(err);
    assert_int_equal(cfg.timeout, 0);
    assert_int_equal(cfgSet(0, NULL, NULL, &err), -1);
    free(err);
}

/* ============================ Inert directives =========================== */

static void test_inert(void **state) {
    (void)state;
    char *err;
    assert_int_equal(set2("hz", "100", NULL, NULL, &err), 0);
    assert_string_equal(get1("hz"), "100");
    assert_int_equal(warnCount, 1);
    assert_non_null(strstr(lastWarn, "'hz'"));
    assert_non_null(strstr(lastWarn, "has no effect in Strata"));
    assert_int_equal(set2("hz", "50", NULL, NULL, &err), 0);
    assert_int_equal(warnCount, 1);  /* once per name */
    assert_string_equal(changed, "hz hz ");

    assert_int_equal(set2("hash-max-ziplist-entries", "100", NULL, NULL, &err), 0);
    assert_string_equal(get1("hash-max-listpack-entries"), "100");
    assert_int_equal(set2("active-defrag-ignore-bytes", "1mb", "acl-pubsub-default", "allchannels",
                          &err),
                     0);
    assert_string_equal(get1("active-defrag-ignore-bytes"), "1048576");
    assert_string_equal(get1("acl-pubsub-default"), "allchannels");
    /* notify-keyspace-events is real: Redis's canonical class order. */
    assert_int_equal(set2("notify-keyspace-events", "KEA", NULL, NULL, &err), 0);
    assert_string_equal(get1("notify-keyspace-events"), "AKE");
    assert_int_equal(set2("activedefrag", "YES", NULL, NULL, &err), 0);
    assert_string_equal(get1("activedefrag"), "yes");
    expectSetError("activedefrag", "maybe",
                   "ERR CONFIG SET failed (possibly related to argument 'activedefrag') - "
                   "argument must be 'yes' or 'no'");
    expectSetError("lfu-log-factor", "ten",
                   "ERR CONFIG SET failed (possibly related to argument 'lfu-log-factor') - "
                   "argument couldn't be parsed into an integer");

    warnCount = 0;
    assert_int_equal(loadText("# x\noom-score-adj-values 0 100 900\nrename-command FLUSHALL \"\"\n"
                              "server-thread-affinity true\nmin-clients-per-thread 10\n",
                              &err),
                     0);
    assert_int_equal(warnCount, 4);
    assert_string_equal(get1("oom-score-adj-values"), "0 100 900");
    assert_string_equal(get1("server-thread-affinity"), "true");
    assert_string_equal(get1("min-clients-per-thread"), "10");
    assert_non_null(strstr(lastWarn, "t.conf:5: 'min-clients-per-thread'"));
}

/* ============================ CONFIG REWRITE ============================= */

static const char *rewriteInput =
    "# Strata test configuration\n"
    "\n"
    "# the port\n"
    "port 7000\n"
    "timeout 10\n"
    "maxmemory 1gb   \n"
    "# keep me\n"
    "timeout 20\n"
    "loglevel notice\n"
    "replicaof 10.0.0.1 6379\n"
    "client-output-buffer-limit normal 0 0 0\n"
    "client-output-buffer-limit replica 256mb 64mb 60\n"
    "slave-read-only yes\n"
    "rename-command KEYS \"\"\n"
    "hz 10\n"
    "# trailing comment\n";

/* Every CONFIG GET name=value line, for comparing two configurations. */
static char *dumpAll(void) {
    getResult *r = calloc(1, sizeof(*r));
    cfgGet("*", collect, r);
    size_t cap = 65536, len = 0;
    char *s = calloc(1, cap);
    for (int i = 0; i < r->n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s=%s\n", r->names[i], r->values[i]);
    free(r);
    return s;
}

static void test_rewrite_round_trip(void **state) {
    (void)state;
    char *err;
    assert_int_equal(loadText(rewriteInput, &err), 0);
    assert_int_equal(cfg.timeout, 20);
    char *path = strdup(cfgFilePath());

    /* Nothing changed: the file is left byte for byte. */
    assert_int_equal(cfgRewrite(&err), 0);
    char *same = readFile(path);
    assert_string_equal(same, rewriteInput);
    free(same);

    assert_int_equal(set2("timeout", "30", "maxmemory-policy", "allkeys-lru", &err), 0);
    assert_int_equal(set2("hz", "20", "requirepass", "p w", &err), 0);
    assert_int_equal(set2("client-output-buffer-limit", "pubsub 1mb 1mb 5", NULL, NULL, &err), 0);
    assert_int_equal(set2("slave-read-only", "no", NULL, NULL, &err), 0);
    assert_int_equal(cfgRewrite(&err), 0);

    char *text = readFile(path);
    assert_non_null(strstr(text, "# Strata test configuration\n\n# the port\nport 7000\n"));
    assert_non_null(strstr(text, "timeout 30\nmaxmemory 1gb   \n# keep me\nloglevel notice\n"));
    assert_null(strstr(text, "timeout 20"));
    assert_null(strstr(text, "timeout 10"));
    assert_non_null(strstr(text, "replicaof 10.0.0.1 6379\n"));
    assert_non_null(strstr(text, "replica-read-only no\n"));
    assert_null(strstr(text, "slave-read-only"));
    assert_non_null(strstr(text, "rename-command KEYS \"\"\n"));
    assert_non_null(strstr(text, "hz 20\n# trailing comment\n"));
    assert_non_null(strstr(text, "client-output-buffer-limit pubsub 1mb 1mb 5\n"));
    const char *marker = strstr(text, "# Generated by CONFIG REWRITE\n");
    assert_non_null(marker);
    assert_non_null(strstr(marker, "maxmemory-policy allkeys-lru\n"));
    assert_non_null(strstr(marker, "requirepass \"p w\"\n"));
    assert_null(strstr(marker, "save "));  /* defaults are not appended */
    free(text);

    /* Reloading the rewritten file gives the same configuration. */
    char *before = dumpAll();
    cfgFree();
    cfgInitDefaults();
    assert_int_equal(cfgLoadFile(path, &err), 0);
    char *after = dumpAll();
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* A second rewrite with nothing changed keeps one marker, same text. */
    text = readFile(path);
    assert_int_equal(cfgRewrite(&err), 0);
    char *again = readFile(path);
    assert_string_equal(text, again);
    free(text);
    free(again);
    free(path);
}

static void test_rewrite_repeatable_and_clear(void **state) {
    (void)state;
    char *err;
    assert_int_equal(loadText("replicaof a 1\nport 7000\nreplicaof b 2\nsave 10 1\n", &err), 0);
    const char *action;
    char *argv[] = {"--replicaof", "c", "3", "--save", ""};
    assert_int_equal(cfgParseArgs(5, argv, &action, &err), 0);
    char *path = strdup(cfgFilePath());
    assert_int_equal(cfgRewrite(&err), 0);
    char *text = readFile(path);
    assert_string_equal(text, "replicaof a 1\nreplicaof b 2\nreplicaof c 3\nport 7000\n"
                              "save \"\"\n");
    free(text);
    cfgFree();
    cfgInitDefaults();
    assert_int_equal(cfgLoadFile(path, &err), 0);
    assert_int_equal(cfg.replicaof_count, 3);
    assert_string_equal(get1("save"), "");
    free(path);
}

static void test_rewrite_without_file(void **state) {
    (void)state;
    char *err = NULL;
    assert_int_equal(cfgRewrite(&err), -1);
    assert_string_equal(err, "ERR The server is running without a config file");
    free(err);
}

/* ============================ The shipped keydb.conf ===================== */

static void test_repo_keydb_conf(void **state) {
    (void)state;
    char *err = NULL;
    int rc = cfgLoadFile("keydb.conf", &err);
    if (rc != 0) fprintf(stderr, "keydb.conf: %s\n", err);
    free(err);
    assert_int_equal(rc, 0);
    assert_int_equal(warnCount, 0);  /* it uses only directives Strata acts on */
    assert_int_equal(cfg.port, 6379);
}

int main(void) {
    if (mkdtemp(tmpDir) == NULL) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_parsing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_include, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicaof_repeated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_replica_implies_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_line_no_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_line_actions_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_set_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_set_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_set_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_repeatable_and_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_without_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repo_keydb_conf, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpDir);
    if (system(cmd) != 0) failed++;
    return failed;
}

/* script.c - Lua scripting as Redis 7.0 does it: the script cache, one Lua 5.1
 * interpreter per event-loop thread, the redis.* API offered to scripts, and
 * the busy-script machinery (busy-reply-threshold, -BUSY, SCRIPT KILL).  The
 * command handlers (EVAL, EVALSHA, SCRIPT ...) are in cmd_script.c; reply
 * conversions and the sandbox, pure Lua code, in script_lua.c.
 *
 * Execution model
 * ---------------
 * EVAL and its variants are "global" commands: before the handler runs, call()
 * commits the thread's open write group and takes the keyspace rwlock
 * exclusively.  So a script is atomic as in Redis: no command on any thread
 * (nor the expire cycle, eviction or a replica's apply) reads or writes a key
 * while it runs.  Each redis.call() goes through call() on this thread's
 * script client (CLIENT_SCRIPT), a nested path that takes no lock (the script
 * already excludes everyone) and keeps the caller's command time, so keys do
 * not expire halfway through a script.  With no group open, each write
 * command commits its own batch and the batches replicate like any others:
 * a replica applies a script's writes one command at a time (not as one
 * transaction), and a crash mid-script keeps the commands already done, as
 * Redis's AOF without MULTI/EXEC wrapping would.
 *
 * Why one interpreter per thread rather than one per server: an interpreter
 * is touched by its own thread only, so SCRIPT LOAD / EXISTS / FLUSH need no
 * keyspace lock and never wait for a running script, and no Lua state ever
 * crosses threads.  The price is compiling a script once per thread that runs
 * it, from the shared cache.
 *
 * Invariants:
 *  1. At most one script runs in the process at a time (it holds the keyspace
 *     lock exclusively).  `run*` below describe it, under runLock, so SCRIPT
 *     KILL on any thread sees a consistent state.
 *  2. Each event-loop thread owns its interpreter and its script client
 *     (`lt`); no other thread touches them.
 *  3. The cache (sha -> body) is shared, under cacheLock.  SCRIPT FLUSH empties
 *     it and bumps cacheGen; an interpreter built for an older generation is
 *     replaced (every compiled function goes) before the thread's next
 *     script, so a flushed script is unknown on every thread.
 *  4. Scripts can neither create nor change globals or library tables (Redis
 *     7.0's read-only tables, script_lua.c), so a script cannot change the
 *     environment of the next script run by the same interpreter.
 *  5. Only the thread running the script sets or clears busyFlag.  While it is
 *     set, call() on every thread answers -BUSY before taking any lock (except
 *     SCRIPT KILL, SHUTDOWN NOSAVE, AUTH, HELLO, QUIT, RESET), and a thread
 *     waiting for the keyspace lock stops waiting and answers -BUSY.
 *  6. While busy, the script's own thread serves its other connections from the
 *     Lua hook (scriptServeWhileBusy(); libevent cannot re-enter a running
 *     loop, so it polls the sockets itself and calls the loop's callbacks).
 *     The caller's connection is left out, and freeClient() defers a client
 *     that is inside call(), so the caller outlives its EVAL.
 *  7. A script that wrote is never killed by SCRIPT KILL (-UNKILLABLE): its
 *     commands are committed and a kill would leave them half applied.  A kill
 *     request is checked before every write command, so a killed script has
 *     written nothing.  Shutdown (SHUTDOWN NOSAVE, or SIGTERM once thread 0's
 *     loop has seen it) ends any script.
 *
 * SCRIPT KILL from another thread can reach a script before it is busy (in
 * Redis nothing else runs then); it is honoured at once, as Redis would at the
 * threshold.  Signals are dispatched by thread 0's libevent loop, which does
 * not run while thread 0 runs a script: SIGTERM then waits for the script's
 * end (SCRIPT KILL or SHUTDOWN NOSAVE end it sooner).
 *
 * States of the running script (invariant 1):
 *
 *   IDLE --scriptRun(): runBegin(), hook every SCRIPT_HOOK_INSTRUCTIONS--> RUNNING
 *   RUNNING --scriptHook(): elapsed >= busy-reply-threshold, busyFlag=1--> BUSY
 *   RUNNING|BUSY --scriptKill(): nothing written, runKill=1--> KILLING
 *   KILLING --scriptHook() / a write command: luaRaiseKill(), again after every
 *             instruction so that pcall cannot swallow it--> ending
 *   any --the function returns or fails; scriptRun(): runEnd()--> IDLE
 */
#include <dlfcn.h>
#include <event2/event.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"
#include "script_lua.h"
#include "sha1.h"

#define SCRIPT_HOOK_INSTRUCTIONS 100000 /* Lua instructions between two hook calls */
#define SCRIPT_GC_PERIOD 50             /* scripts between two incremental GC steps */
#define SCRIPT_CHUNK_NAME "@user_script" /* errors read "user_script:LINE: ..." */
#define SCRIPT_CJSON_PATH "/usr/lib/x86_64-linux-gnu/lua/5.1/cjson.so" /* Debian's lua-cjson */
#define REDIS_VERSION_NUM 0x07000f      /* redis.REDIS_VERSION_NUM of 7.0.15 */
#define REG_SCRIPTS "strata.scripts"    /* registry: sha -> compiled function */
#define REG_FLAGS "strata.flags"        /* registry: sha -> shebang flags */

static const char killedMsg[] = "ERR Script killed by user with SCRIPT KILL...";

/* ========================== Script cache ================================== */

typedef struct cacheEntry {
    char sha[SCRIPT_SHA_LEN + 1];
    char *body;
    size_t len;
    struct cacheEntry *next;
} cacheEntry;

static pthread_mutex_t cacheLock = PTHREAD_MUTEX_INITIALIZER;
static cacheEntry **cacheTable; /* cacheSize chains, power of two; under cacheLock */
static size_t cacheSize, cacheCount;
static _Atomic uint64_t cacheGen = 1; /* bumped by SCRIPT FLUSH (invariant 3) */
static _Atomic int threadsExited;

/* A sha is uniformly distributed: its first 15 hex digits are the hash. */
static size_t cacheBucket(const char *sha, size_t size)
{
    uint64_t h = 0;
    for (int i = 0; i < 15; i++) {
        char ch = sha[i];
        h = (h << 4) | (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
    return (size_t)(h & (size - 1));
}

static cacheEntry *cacheFind(const char *sha)
{
    if (!cacheSize) return NULL;
    for (cacheEntry *e = cacheTable[cacheBucket(sha, cacheSize)]; e; e = e->next)
        if (!memcmp(e->sha, sha, SCRIPT_SHA_LEN)) return e;
    return NULL;
}

static void cacheGrow(void)
{
    size_t nsize = cacheSize ? cacheSize * 2 : 64;
    cacheEntry **nt = calloc(nsize, sizeof(*nt));
    if (!nt) serverPanic("out of memory growing the script cache");
    for (size_t i = 0; i < cacheSize; i++) {
        cacheEntry *e = cacheTable[i];
        while (e) {
            cacheEntry *next = e->next;
            size_t b = cacheBucket(e->sha, nsize);
            e->next = nt[b];
            nt[b] = e;
            e = next;
        }
    }
    free(cacheTable);
    cacheTable = nt;
    cacheSize = nsize;
}

/* Adds a copy of body under sha unless it is there already. */
static void cacheAdd(const char *sha, const char *body, size_t len)
{
    pthread_mutex_lock(&cacheLock);
    if (!cacheFind(sha)) {
        if (cacheCount >= cacheSize) cacheGrow();
        cacheEntry *e = malloc(sizeof(*e));
        e->body = malloc(len + 1);
        if (!e || !e->body) serverPanic("out of memory adding a script");
        memcpy(e->sha, sha, SCRIPT_SHA_LEN + 1);
        memcpy(e->body, body, len);
        e->body[len] = '\0';
        e->len = len;
        size_t b = cacheBucket(sha, cacheSize);
        e->next = cacheTable[b];
        cacheTable[b] = e;
        cacheCount++;
    }
    pthread_mutex_unlock(&cacheLock);
}

/* A heap copy of the body cached under sha (caller frees), or NULL. */
static char *cacheCopyBody(const char *sha, size_t *len)
{
    char *copy = NULL;
    pthread_mutex_lock(&cacheLock);
    cacheEntry *e = cacheFind(sha);
    if (e) {
        copy = malloc(e->len + 1);
        memcpy(copy, e->body, e->len + 1);
        *len = e->len;
    }
    pthread_mutex_unlock(&cacheLock);
    return copy;
}

/* Frees every entry; caller holds cacheLock. */
static void cacheFreeAll(void)
{
    for (size_t i = 0; i < cacheSize; i++) {
        cacheEntry *e = cacheTable[i];
        while (e) {
            cacheEntry *next = e->next;
            free(e->body);
            free(e);
            e = next;
        }
    }
    free(cacheTable);
    cacheTable = NULL;
    cacheSize = cacheCount = 0;
}

int scriptExists(const char *sha)
{
    pthread_mutex_lock(&cacheLock);
    int found = cacheFind(sha) != NULL;
    pthread_mutex_unlock(&cacheLock);
    return found;
}

void scriptFlushCache(void)
{
    pthread_mutex_lock(&cacheLock);
    cacheFreeAll();
    atomic_fetch_add(&cacheGen, 1);
    pthread_mutex_unlock(&cacheLock);
}

/* ========================== The running script ============================ */

/* What the thread running a script knows about it (on its stack). */
typedef struct scriptCtx {
    client *caller;
    client *fake;         /* this thread's script client */
    const char *sha;
    uint64_t start_ms;    /* monotonic */
    int ro;               /* EVAL_RO, EVALSHA_RO or no-writes: writes refused */
    int busy;             /* this run set busyFlag */
    int kill_raised;      /* luaRaiseKill() ran: keep raising */
} scriptCtx;

static pthread_mutex_t runLock = PTHREAD_MUTEX_INITIALIZER;
static int runActive, runWrote, runKill; /* under runLock (invariant 1) */
static _Atomic int busyFlag;             /* invariant 5 */
static __thread scriptCtx *currentRun;   /* the script this thread runs, or NULL */

int scriptIsBusy(void)
{
    return atomic_load_explicit(&busyFlag, memory_order_relaxed);
}

static void runBegin(scriptCtx *r)
{
    pthread_mutex_lock(&runLock);
    runActive = 1;
    runWrote = runKill = 0;
    pthread_mutex_unlock(&runLock);
    currentRun = r;
}

static void runEnd(void)
{
    pthread_mutex_lock(&runLock);
    runActive = runWrote = runKill = 0;
    atomic_store(&busyFlag, 0);
    pthread_mutex_unlock(&runLock);
    currentRun = NULL;
}

void scriptKill(client *c)
{
    pthread_mutex_lock(&runLock);
    if (!runActive) {
        addReplyError(c, "NOTBUSY No scripts in execution right now.");
    } else if (runWrote) {
        addReplyError(c, "UNKILLABLE Sorry the script already executed write commands against "
                         "the dataset. You can either wait the script termination or kill the "
                         "server in a hard way using the SHUTDOWN NOSAVE command.");
    } else {
        runKill = 1;
        addReplyOk(c);
    }
    pthread_mutex_unlock(&runLock);
}

/* ========================== Per-thread interpreter ======================== */

typedef struct luaThread {
    lua_State *L;
    uint64_t gen;          /* cacheGen it was built for (invariant 3) */
    client *fake;          /* the script client redis.call() runs commands on */
    int gc_countdown;
    struct pollfd *pfd;    /* scriptServeWhileBusy() scratch, grown as needed */
    struct event **rev, **wev;
    int pcap;
} luaThread;

static __thread luaThread lt;

/* ========================== Errors raised to scripts ====================== */

/* Raises {err = "ERR msg"}; never returns. */
static int luaRaiseError(lua_State *L, const char *msg)
{
    luaPushErrorTable(L, msg, strlen(msg));
    return lua_error(L);
}

/* The kill error, raised from the hook or before a write (invariant 7).  From
 * then on the hook runs after every instruction, so a pcall in the script
 * that caught it sees it raised again at once. */
static int luaRaiseKill(lua_State *L, scriptCtx *r)
{
    if (!r->kill_raised) {
        r->kill_raised = 1;
        if (!atomic_load(&server.shutdown_asap))
            serverLog(LL_WARNING, "Lua script killed by user with SCRIPT KILL.");
    }
    lua_sethook(L, lua_gethook(L), LUA_MASKCOUNT, 1);
    lua_newtable(L);
    lua_pushstring(L, killedMsg);
    lua_setfield(L, -2, "err");
    return lua_error(L);
}

/* ========================== redis.call() and redis.pcall() ================ */

/* The command and arguments of redis.call(), as heap strings the command may
 * keep for the length of its call. */
typedef struct callArgs {
    int argc;
    char **argv;
    size_t *argvlen;
} callArgs;

static void callArgsFree(callArgs *a)
{
    for (int i = 0; i < a->argc; i++) free(a->argv[i]);
    free(a->argv);
    free(a->argvlen);
}

/* Copies the Lua arguments.  Numbers are formatted "%.17g" as Redis does.
 * Returns NULL, or the error text when an argument is neither. */
static const char *callArgsFromLua(lua_State *L, callArgs *a)
{
    int n = lua_gettop(L);
    a->argc = 0;
    a->argv = malloc(sizeof(char *) * (size_t)n);
    a->argvlen = malloc(sizeof(size_t) * (size_t)n);
    for (int j = 1; j <= n; j++) {
        char num[64];
        const char *s;
        size_t len;
        if (lua_type(L, j) == LUA_TNUMBER) {
            len = (size_t)snprintf(num, sizeof(num), "%.17g", (double)lua_tonumber(L, j));
            s = num;
        } else if (lua_type(L, j) == LUA_TSTRING) {
            s = lua_tolstring(L, j, &len);
        } else {
            return "Lua redis lib command arguments must be strings or integers";
        }
        a->argv[a->argc] = malloc(len + 1);
        memcpy(a->argv[a->argc], s, len);
        a->argv[a->argc][len] = '\0';
        a->argvlen[a->argc++] = len;
    }
    return NULL;
}

/* Redis's checks of a command called from a script, in Redis's order.
 * Returns NULL or the refusal text. */
static const char *callRefusal(scriptCtx *r, redisCommand *cmd, int argc)
{
    if (!cmd) return "Unknown Redis command called from script";
    if (cmd->arity > 0 ? argc != cmd->arity : argc < -cmd->arity)
        return "Wrong number of args calling Redis command from script";
    if (cmd->flags & CMD_NOSCRIPT) return "This Redis command is not allowed from script";
    if ((cmd->flags & CMD_WRITE) && r->ro)
        return "Write commands are not allowed from read-only scripts.";
    return NULL;
}

/* Marks the script as writing before a write command runs (invariant 7).
 * Returns 1 when a kill was requested first: the write must not run. */
static int runMarkWriting(int *tentative)
{
    pthread_mutex_lock(&runLock);
    int killed = runKill;
    if (!killed && !runWrote) {
        runWrote = 1;
        *tentative = 1;
    }
    pthread_mutex_unlock(&runLock);
    return killed;
}

/* Runs one command on the script client and returns its reply, parsed
 * (caller frees with respValueFree), or NULL if it could not be read. */
static respValue *callOnScriptClient(client *f, callArgs *a)
{
    f->argc = a->argc;
    f->argv = a->argv;
    f->argvlen = a->argvlen;
    call(f);
    f->argc = 0;
    f->argv = NULL;
    f->argvlen = NULL;
    size_t consumed = 0;
    const char *err = NULL;
    respValue *v = NULL;
    if (respParseValue(f->out.buf ? f->out.buf : "", f->out.len, &consumed, &v, &err) != RESP_DONE)
        v = NULL;
    sbClear(&f->out);
    return v;
}

/* Builds the command of a redis.call() from the Lua arguments and checks it.
 * Returns NULL with *a filled and *cmd set, or the refusal text (*a freed). */
static const char *callPrepare(lua_State *L, scriptCtx *r, callArgs *a, redisCommand **cmd)
{
    const char *refusal;
    if (lua_gettop(L) == 0) return "Please specify at least one argument for this redis lib call";
    if ((refusal = callArgsFromLua(L, a)) == NULL) {
        *cmd = commandLookup(a->argv[0], a->argvlen[0]);
        refusal = callRefusal(r, *cmd, a->argc);
    }
    if (refusal) callArgsFree(a);
    return refusal;
}

/* redis.call() (raise = 1) and redis.pcall() (raise = 0).  Lua errors
 * longjmp: nothing on the heap may be live when one is raised. */
static int luaRedisGenericCall(lua_State *L, int raise)
{
    scriptCtx *r = currentRun;
    callArgs a = {0, NULL, NULL};
    redisCommand *cmd = NULL;
    int tentative = 0;
    if (!r) return luaRaiseError(L, "redis.call() is only available while a script runs");
    const char *refusal = callPrepare(L, r, &a, &cmd);
    if (refusal) {
        luaPushErrorTable(L, refusal, strlen(refusal));
        return raise ? lua_error(L) : 1;
    }
    if ((cmd->flags & CMD_WRITE) && runMarkWriting(&tentative)) {
        callArgsFree(&a);
        return luaRaiseKill(L, r);
    }
    long long dirty = atomic_load(&server.dirty);
    respValue *v = callOnScriptClient(r->fake, &a);
    callArgsFree(&a);
    if (tentative && atomic_load(&server.dirty) == dirty) {
        pthread_mutex_lock(&runLock);
        runWrote = 0; /* it wrote nothing after all (SET NX on an existing key) */
        pthread_mutex_unlock(&runLock);
    }
    if (!v) return luaRaiseError(L, "internal error: unreadable reply from the called command");
    lua_settop(L, 0);
    respToLua(L, v);
    int is_err = v->type == RESP_TYPE_ERROR || v->type == RESP_TYPE_BLOB_ERROR;
    respValueFree(v);
    if (is_err && raise) return lua_error(L);
    return 1;
}

static int luaRedisCall(lua_State *L)
{
    return luaRedisGenericCall(L, 1);
}

static int luaRedisPcall(lua_State *L)
{
    return luaRedisGenericCall(L, 0);
}

/* ========================== The rest of redis.* =========================== */

static int luaRedisSha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1) return luaRaiseError(L, "wrong number of arguments");
    size_t len = 0;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    sha1Hex(s ? s : "", s ? len : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

/* redis.error_reply(text): {err = text}, a '-' and an "ERR" code added as
 * Redis adds them; wrong arguments return (not raise) an error table. */
static int luaRedisErrorReply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        static const char e[] = "wrong number or type of arguments";
        luaPushErrorTable(L, e, sizeof(e) - 1);
        return 1;
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (len > 0 && s[0] == '-') {
        luaPushErrorTable(L, s, len);
    } else {
        char *dashed = malloc(len + 1);
        dashed[0] = '-';
        memcpy(dashed + 1, s, len);
        luaPushErrorTable(L, dashed, len + 1);
        free(dashed);
    }
    return 1;
}

static int luaRedisStatusReply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        static const char e[] = "wrong number or type of arguments";
        luaPushErrorTable(L, e, sizeof(e) - 1);
        return 1;
    }
    luaWrapField(L, "ok");
    return 1;
}

/* redis.log(level, ...): the arguments joined by spaces, at level. */
static int luaRedisLog(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2) return luaRaiseError(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1)) return luaRaiseError(L, "First argument must be a number.");
    int level = (int)lua_tonumber(L, 1);
    if (level < LL_DEBUG || level > LL_WARNING) return luaRaiseError(L, "Invalid debug level.");
    if (level < cfg.loglevel) return 0;
    strbuf msg;
    sbInit(&msg);
    for (int j = 2; j <= argc; j++) {
        size_t len;
        const char *s = lua_tolstring(L, j, &len);
        if (!s) continue;
        if (j > 2) sbAppend(&msg, " ", 1);
        sbAppend(&msg, s, len);
    }
    sbAppend(&msg, "", 1);
    serverLogRaw(level, msg.buf);
    sbFree(&msg);
    return 0;
}

static int luaRedisSetresp(lua_State *L)
{
    scriptCtx *r = currentRun;
    if (lua_gettop(L) != 1) return luaRaiseError(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3) return luaRaiseError(L, "RESP version must be 2 or 3.");
    if (r) r->fake->resp = resp;
    return 0;
}

/* Effects replication is the only mode: these exist for scripts written for
 * older Redis versions and change nothing. */
static int luaRedisSetRepl(lua_State *L)
{
    if (lua_gettop(L) != 1) return luaRaiseError(L, "redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, 1);
    if (flags & ~3)
        return luaRaiseError(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL "
                                "or REPL_NONE.");
    return 0;
}

static int luaRedisReplicateCommands(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int luaRedisBreakpoint(lua_State *L)
{
    lua_pushboolean(L, 0); /* no debugger session */
    return 1;
}

static int luaRedisDebug(lua_State *L)
{
    (void)L;
    return 0;
}

/* No ACLs: every existing command is allowed to the default user. */
static int luaRedisAclCheckCmd(lua_State *L)
{
    if (lua_gettop(L) == 0)
        return luaRaiseError(L, "Please specify at least one argument for this redis lib call");
    size_t len;
    const char *name = lua_tolstring(L, 1, &len);
    if (!name || !commandLookup(name, len))
        return luaRaiseError(L, "Invalid command passed to redis.acl_check_cmd()");
    lua_pushboolean(L, 1);
    return 1;
}

static void luaSetNumber(lua_State *L, const char *name, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

/* The global `redis` table (made read-only later with the other globals). */
static void luaRegisterRedisApi(lua_State *L)
{
    static const luaL_Reg api[] = {{"call", luaRedisCall},
                                   {"pcall", luaRedisPcall},
                                   {"sha1hex", luaRedisSha1hex},
                                   {"error_reply", luaRedisErrorReply},
                                   {"status_reply", luaRedisStatusReply},
                                   {"log", luaRedisLog},
                                   {"setresp", luaRedisSetresp},
                                   {"set_repl", luaRedisSetRepl},
                                   {"replicate_commands", luaRedisReplicateCommands},
                                   {"breakpoint", luaRedisBreakpoint},
                                   {"debug", luaRedisDebug},
                                   {"acl_check_cmd", luaRedisAclCheckCmd},
                                   {NULL, NULL}};
    lua_newtable(L);
    for (const luaL_Reg *f = api; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    luaSetNumber(L, "LOG_DEBUG", LL_DEBUG);
    luaSetNumber(L, "LOG_VERBOSE", LL_VERBOSE);
    luaSetNumber(L, "LOG_NOTICE", LL_NOTICE);
    luaSetNumber(L, "LOG_WARNING", LL_WARNING);
    luaSetNumber(L, "REPL_NONE", 0);
    luaSetNumber(L, "REPL_AOF", 1);
    luaSetNumber(L, "REPL_SLAVE", 2);
    luaSetNumber(L, "REPL_REPLICA", 2);
    luaSetNumber(L, "REPL_ALL", 3);
    luaSetNumber(L, "REDIS_VERSION_NUM", REDIS_VERSION_NUM);
    lua_pushstring(L, STRATA_REDIS_COMPAT_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    lua_setglobal(L, "redis");
}

/* ========================== Building an interpreter ======================= */

static pthread_once_t cjsonOnce = PTHREAD_ONCE_INIT;
static lua_CFunction cjsonOpen; /* luaopen_cjson of Debian's lua-cjson, or NULL */

/* The library stays loaded for the life of the process (every interpreter
 * uses it); its lua_* references resolve to our liblua5.1. */
static void cjsonLoadOnce(void)
{
    void *h = dlopen(SCRIPT_CJSON_PATH, RTLD_NOW | RTLD_LOCAL);
    if (h) cjsonOpen = (lua_CFunction)dlsym(h, "luaopen_cjson");
    if (!cjsonOpen)
        serverLog(LL_WARNING, "Lua scripting: cjson not available (%s); install lua-cjson",
                  SCRIPT_CJSON_PATH);
}

static void luaLoadCjson(lua_State *L)
{
    pthread_once(&cjsonOnce, cjsonLoadOnce);
    if (!cjsonOpen) return;
    lua_pushcfunction(L, cjsonOpen);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
}

static lua_State *luaNewInterpreter(void)
{
    lua_State *L = luaL_newstate();
    if (!L) serverPanic("out of memory creating a Lua interpreter");
    luaOpenSandboxedLibs(L);
    luaLoadCjson(L);
    luaRegisterRedisApi(L);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_FLAGS);
    luaProtectGlobals(L);
    return L;
}

/* This thread's interpreter, rebuilt after a SCRIPT FLUSH (invariant 3). */
static lua_State *luaThreadInterpreter(void)
{
    uint64_t gen = atomic_load(&cacheGen);
    if (lt.L && lt.gen == gen) return lt.L;
    if (lt.L) lua_close(lt.L);
    lt.L = luaNewInterpreter();
    lt.gen = gen;
    return lt.L;
}

/* Whether sha is compiled here; its flags in *flags if so. */
static int luaHasScript(lua_State *L, const char *sha, int *flags)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FLAGS);
    lua_getfield(L, -1, sha);
    int found = !lua_isnil(L, -1);
    if (found && flags) *flags = (int)lua_tonumber(L, -1);
    lua_pop(L, 2);
    return found;
}

/* Compiles body as the function of sha.  A shebang line is kept as a
 * comment so line numbers stay right.  Returns C_OK, or C_ERR with the
 * reply error text in *err (heap, caller frees). */
static int luaDefineScript(lua_State *L, const char *sha, const char *body, size_t len, int flags,
                           char **err)
{
    char *copy = NULL;
    if (flags & SCRIPT_FLAG_SHEBANG) {
        copy = malloc(len);
        memcpy(copy, body, len);
        copy[0] = copy[1] = '-';
        body = copy;
    }
    int rc = luaL_loadbuffer(L, body, len, SCRIPT_CHUNK_NAME);
    free(copy);
    if (rc != 0) {
        const char *m = lua_tostring(L, -1);
        strbuf e;
        sbInit(&e);
        sbPrintf(&e, "Error compiling script (new function): %s", m ? m : "?");
        *err = e.buf;
        lua_pop(L, 1);
        return C_ERR;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_insert(L, -2);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FLAGS);
    lua_pushnumber(L, flags);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    return C_OK;
}

/* ========================== Compiling ===================================== */

int scriptCompile(client *c, const char *body, size_t len, char sha[SCRIPT_SHA_LEN + 1],
                  int *flags)
{
    const char *serr;
    if (scriptParseShebang(body, len, flags, &serr) != C_OK) {
        addReplyError(c, serr);
        return C_ERR;
    }
    sha1Hex(body, len, sha);
    lua_State *L = luaThreadInterpreter();
    if (luaHasScript(L, sha, NULL)) return C_OK; /* cached when it was compiled (invariant 3) */
    char *err = NULL;
    if (luaDefineScript(L, sha, body, len, *flags, &err) != C_OK) {
        addReplyError(c, err);
        free(err);
        return C_ERR;
    }
    cacheAdd(sha, body, len);
    return C_OK;
}

int scriptFind(client *c, const char *sha, int *flags)
{
    lua_State *L = luaThreadInterpreter();
    if (luaHasScript(L, sha, flags)) return C_OK;
    size_t len;
    char *body = cacheCopyBody(sha, &len);
    if (!body) {
        addReplyError(c, "NOSCRIPT No matching script. Please use EVAL.");
        return C_ERR;
    }
    const char *serr;
    char *err = NULL;
    int rc = scriptParseShebang(body, len, flags, &serr);
    if (rc != C_OK) addReplyError(c, serr);
    else if ((rc = luaDefineScript(L, sha, body, len, *flags, &err)) != C_OK) addReplyError(c, err);
    free(err);
    free(body);
    return rc;
}

/* ========================== Busy scripts ================================== */

/* Grows this thread's poll scratch to n entries. */
static void pollReserve(int n)
{
    if (n <= lt.pcap) return;
    lt.pcap = n * 2;
    lt.pfd = realloc(lt.pfd, sizeof(*lt.pfd) * (size_t)lt.pcap);
    lt.rev = realloc(lt.rev, sizeof(*lt.rev) * (size_t)lt.pcap);
    lt.wev = realloc(lt.wev, sizeof(*lt.wev) * (size_t)lt.pcap);
}

/* Redis's processEventsWhileBlocked for one loop thread (invariant 6): polls
 * the thread's listeners and connections without blocking and runs the
 * loop's own callbacks for the ready ones, so new and existing connections
 * are answered (-BUSY, or SCRIPT KILL done).  The caller's connection is not
 * polled.  Each callback can free only its own client (every command but
 * the busy-allowed ones is refused), so the other entries stay valid. */
static void scriptServeWhileBusy(client *caller)
{
    strataThread *t = caller->thread;
    int n = 0;
    pollReserve(t->nlisteners + t->nclients);
    for (int i = 0; i < t->nlisteners; i++) {
        lt.pfd[n] = (struct pollfd){.fd = t->listen_fds[i], .events = POLLIN};
        lt.rev[n] = lt.wev[n] = t->listeners[i];
        n++;
    }
    for (client *c = t->clients; c; c = c->tnext) {
        if (c == caller || c->fd < 0) continue;
        short ev = POLLIN;
        if (clientOutputPending(c)) ev |= POLLOUT;
        lt.pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
        lt.rev[n] = c->rev;
        lt.wev[n] = c->wev;
        n++;
    }
    if (poll(lt.pfd, (nfds_t)n, 0) <= 0) return;
    for (int i = 0; i < n; i++) {
        short re = lt.pfd[i].revents;
        if (!re) continue;
        int readable = (re & (POLLIN | POLLHUP | POLLERR)) != 0;
        struct event *ev = readable ? lt.rev[i] : lt.wev[i];
        event_get_callback(ev)(lt.pfd[i].fd, readable ? EV_READ : EV_WRITE,
                               event_get_callback_arg(ev));
    }
}

/* The count hook: turns the script busy past busy-reply-threshold, serves
 * this thread's other clients while busy, and ends the script when it is
 * killed or the server shuts down. */
static void scriptHook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    scriptCtx *r = currentRun;
    if (!r) return;
    uint64_t elapsed = monotonic_us() / 1000 - r->start_ms;
    if (!r->busy && (long long)elapsed >= cfg.busy_reply_threshold) {
        r->busy = 1;
        atomic_store(&busyFlag, 1);
        serverLog(LL_WARNING,
                  "Slow script detected: still in execution after %llu milliseconds. You can "
                  "try killing the script using the SCRIPT KILL command. Script name is: %s.",
                  (unsigned long long)elapsed, r->sha);
    }
    if (r->busy) scriptServeWhileBusy(r->caller);
    pthread_mutex_lock(&runLock);
    int kill = runKill;
    pthread_mutex_unlock(&runLock);
    if (kill || r->kill_raised || atomic_load(&server.shutdown_asap)) luaRaiseKill(L, r);
}

/* ========================== Running =================================== */

/* The message handler of a script's pcall: turns any error into Redis's
 * table {err = "CODE message", source = chunk, line = n}, where source and
 * line are those of the innermost Lua function (the caller of a C function
 * such as redis.call() or error()). */
static int luaErrorHandler(lua_State *L)
{
    lua_Debug ar;
    int have = lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar);
    if (have && !strcmp(ar.what, "C")) have = lua_getstack(L, 2, &ar) && lua_getinfo(L, "Sl", &ar);
    lua_newtable(L);
    if (lua_istable(L, 1)) {
        lua_pushliteral(L, "err");
        lua_rawget(L, 1);
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            lua_pushliteral(L, "ERR unknown error");
        }
    } else {
        switch (lua_type(L, 1)) {
        case LUA_TSTRING:
        case LUA_TNUMBER: lua_pushfstring(L, "ERR %s", lua_tostring(L, 1)); break;
        case LUA_TNIL: lua_pushliteral(L, "ERR nil"); break;
        case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, 1) ? "ERR true" : "ERR false"); break;
        default: lua_pushfstring(L, "ERR %s: %p", luaL_typename(L, 1), lua_topointer(L, 1)); break;
        }
    }
    lua_setfield(L, -2, "err");
    if (have) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, -2, "source");
        lua_pushinteger(L, ar.currentline);
        lua_setfield(L, -2, "line");
    }
    return 1;
}

/* Replies the failed script's error: "<err> script: <sha>, on <source>:<line>." */
static void replyScriptError(client *c, lua_State *L, const char *sha)
{
    strbuf e;
    sbInit(&e);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "err");
        lua_getfield(L, -2, "source");
        lua_getfield(L, -3, "line");
        const char *err = lua_tostring(L, -3), *src = lua_tostring(L, -2);
        /* A leading '-' keeps addReplyError() from adding "ERR ": the code
         * is the script's own ("-My Error" stays as it is in Redis). */
        if (!err || err[0] != '-') sbAppend(&e, "-", 1);
        sbAppendStr(&e, err ? err : "ERR unknown error");
        sbPrintf(&e, " script: %s", sha);
        if (src) sbPrintf(&e, ", on %s:%d.", src, (int)lua_tonumber(L, -1));
        lua_pop(L, 3);
    } else {
        /* Out of memory: no handler ran. */
        const char *m = lua_tostring(L, -1);
        sbPrintf(&e, "ERR Error running script %s: %s", sha, m ? m : "unknown error");
    }
    addReplyError(c, e.buf);
    sbFree(&e);
}

/* Replies the script's return value (at the top).  An error table at the
 * top level goes through addReplyError() so error statistics count it. */
static void replyScriptResult(client *c, lua_State *L, int lresp)
{
    if (lua_istable(L, -1)) {
        lua_pushliteral(L, "err");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t len;
            const char *err = lua_tolstring(L, -1, &len);
            strbuf e;
            sbInit(&e);
            if (len == 0 || err[0] != '-') sbAppend(&e, "-", 1);
            sbAppend(&e, err, len);
            sbAppend(&e, "", 1);
            addReplyError(c, e.buf);
            sbFree(&e);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
    }
    strbuf b;
    sbInit(&b);
    luaToResp(L, &b, c->resp, lresp);
    addReplyRaw(c, b.buf, b.len);
    sbFree(&b);
}

/* Sets the global table name (KEYS or ARGV) to {v[0], ..., v[n-1]}, or to
 * nil when n < 0. */
static void luaSetArgTable(lua_State *L, const char *name, char **v, size_t *lens, int n)
{
    if (n < 0) {
        lua_pushnil(L);
    } else {
        lua_createtable(L, n, 0);
        for (int i = 0; i < n; i++) {
            lua_pushlstring(L, v[i], lens[i]);
            lua_rawseti(L, -2, i + 1);
        }
    }
    luaSetRealGlobal(L, name);
}

/* Prepares this thread's script client for a script of c: the caller's
 * database and authentication, RESP2 until redis.setresp(), and the caller's
 * command time so that keys do not expire halfway through the script. */
static client *scriptClientFor(client *c)
{
    if (!lt.fake) lt.fake = createScriptClient(c->thread);
    client *f = lt.fake;
    f->db = c->db;
    f->resp = 2;
    f->authenticated = c->authenticated;
    f->cmd_time_ms = c->cmd_time_ms;
    sbClear(&f->out);
    return f;
}

void scriptRun(client *c, const char *sha, char **keys, size_t *keylens, int numkeys,
               char **args, size_t *arglens, int numargs, int ro)
{
    /* The interpreter scriptCompile()/scriptFind() just prepared, even if a
     * SCRIPT FLUSH on another thread made it stale since: the next script
     * replaces it. */
    lua_State *L = lt.L;
    /* call() committed this thread's write group before EVAL: the replies it
     * held for that group may go now rather than after the script. */
    clientsBeforeSleep(c->thread);
    scriptCtx r = {.caller = c, .fake = scriptClientFor(c), .sha = sha, .ro = ro,
                   .start_ms = monotonic_us() / 1000};
    luaSetArgTable(L, "KEYS", keys, keylens, numkeys);
    luaSetArgTable(L, "ARGV", args, arglens, numargs);
    lua_settop(L, 0);
    lua_pushcfunction(L, luaErrorHandler);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_getfield(L, -1, sha);
    lua_remove(L, -2);
    runBegin(&r);
    /* The script's writes go into one batch (commands.c callTxnBegin): on
     * disk, in the WAL and on replicas a script is all or nothing, even if
     * the server dies while it runs.  Writes made before a script error are
     * kept, as in Redis. */
    callTxnBegin();
    lua_sethook(L, scriptHook, LUA_MASKCOUNT, SCRIPT_HOOK_INSTRUCTIONS);
    int rc = lua_pcall(L, 0, 1, 1);
    lua_sethook(L, NULL, 0, 0);
    char *cerr = NULL;
    int committed = callTxnEnd(&cerr) == C_OK;
    runEnd();
    if (!committed) {
        addReplyErrorFormat(c, "storage write failed: %s", cerr ? cerr : "unknown error");
        free(cerr);
    } else if (rc != 0) {
        replyScriptError(c, L, sha);
    } else if (r.kill_raised) {
        /* The script swallowed the kill at its very last instruction. */
        addReplyErrorFormat(c, "%s script: %s", killedMsg, sha);
    } else {
        replyScriptResult(c, L, r.fake->resp);
    }
    lua_settop(L, 0);
    luaSetArgTable(L, "KEYS", NULL, NULL, -1);
    luaSetArgTable(L, "ARGV", NULL, NULL, -1);
    if (--lt.gc_countdown <= 0) {
        lua_gc(L, LUA_GCSTEP, SCRIPT_GC_PERIOD);
        lt.gc_countdown = SCRIPT_GC_PERIOD;
    }
}

/* Frees this thread's interpreter and script client when its loop ends; the
 * last thread out frees the cache. */
void scriptThreadExit(void)
{
    if (lt.L) lua_close(lt.L);
    if (lt.fake) freeScriptClient(lt.fake);
    free(lt.pfd);
    free(lt.rev);
    free(lt.wev);
    memset(&lt, 0, sizeof(lt));
    if (atomic_fetch_add(&threadsExited, 1) + 1 == server.nthreads) {
        pthread_mutex_lock(&cacheLock);
        cacheFreeAll();
        pthread_mutex_unlock(&cacheLock);
    }
}

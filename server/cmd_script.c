/* cmd_script.c - the scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO
 * and SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP, with Redis 7.0's argument
 * checks, shebang flags ("#!lua flags=no-writes") and the rules it applies
 * before a script runs.  The engine (interpreters, cache, redis.* API, busy
 * scripts) is script.c.
 *
 * EVAL* are "global" in commands.def: call() runs them holding the keyspace
 * lock exclusively, which is what makes a script atomic (script.c, invariant
 * 1).  SCRIPT is "nokeys": it never waits for a running script, and SCRIPT
 * KILL is answered even while a script is busy (commands.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../replication/repl.h"
#include "script.h"

/* ========================== Shebang ======================================= */

static const struct {
    const char *name;
    int flag;
} shebangFlags[] = {{"no-writes", SCRIPT_FLAG_NO_WRITES},
                    {"allow-oom", SCRIPT_FLAG_ALLOW_OOM},
                    {"allow-stale", SCRIPT_FLAG_ALLOW_STALE},
                    {"no-cluster", SCRIPT_FLAG_NO_CLUSTER},
                    {"allow-cross-slot-keys", SCRIPT_FLAG_CROSS_SLOT},
                    {NULL, 0}};

/* Parses the comma-separated list of "flags=..." (s[0..len)). */
static int parseShebangFlags(const char *s, size_t len, int *flags, char *errbuf, size_t errsize)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != ',') j++;
        int found = 0;
        for (int k = 0; shebangFlags[k].name; k++) {
            if (strlen(shebangFlags[k].name) == j - i && !memcmp(shebangFlags[k].name, s + i, j - i)) {
                *flags |= shebangFlags[k].flag;
                found = 1;
            }
        }
        if (!found) {
            snprintf(errbuf, errsize, "Unexpected flag in script shebang: %.*s", (int)(j - i), s + i);
            return C_ERR;
        }
        i = j + 1;
    }
    return C_OK;
}

int scriptParseShebang(const char *body, size_t len, int *flags, const char **err)
{
    static __thread char errbuf[256];
    *flags = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!') return C_OK;
    const char *eol = memchr(body, '\n', len);
    if (!eol) {
        *err = "Invalid script shebang";
        return C_ERR;
    }
    *flags = SCRIPT_FLAG_SHEBANG;
    const char *p = body;
    for (int word = 0;; word++) {
        while (p < eol && *p == ' ') p++;
        if (p == eol) break;
        const char *w = p;
        while (p < eol && *p != ' ') p++;
        size_t wl = (size_t)(p - w);
        if (word == 0) {
            if (wl != 5 || memcmp(w, "#!lua", 5)) {
                snprintf(errbuf, sizeof(errbuf), "Unexpected engine in script shebang: %.*s",
                         (int)wl, w);
                *err = errbuf;
                return C_ERR;
            }
        } else if (wl >= 6 && !memcmp(w, "flags=", 6)) {
            if (parseShebangFlags(w + 6, wl - 6, flags, errbuf, sizeof(errbuf)) != C_OK) {
                *err = errbuf;
                return C_ERR;
            }
        } else {
            snprintf(errbuf, sizeof(errbuf), "Unknown lua shebang option: %.*s", (int)wl, w);
            *err = errbuf;
            return C_ERR;
        }
    }
    return C_OK;
}

/* ========================== EVAL family =================================== */

/* Redis's checks of numkeys, in its order.  Returns C_OK with *numkeys. */
static int getNumKeysOrReply(client *c, long long *numkeys)
{
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], numkeys, NULL) != C_OK) return C_ERR;
    if (*numkeys > c->argc - 3) {
        addReplyError(c, "Number of keys can't be greater than number of args");
        return C_ERR;
    }
    if (*numkeys < 0) {
        addReplyError(c, "Number of keys can't be negative");
        return C_ERR;
    }
    return C_OK;
}

/* The sha argument of EVALSHA in lower case, or 0 if it cannot be one. */
static int shaFromArg(const char *s, size_t len, char sha[SCRIPT_SHA_LEN + 1])
{
    if (len != SCRIPT_SHA_LEN) return 0;
    for (size_t i = 0; i < len; i++) sha[i] = (char)tolower((unsigned char)s[i]);
    sha[len] = '\0';
    return 1;
}

/* A script with a shebang declares up front whether it may write: one that
 * may is refused before it runs where writes are refused (a read-only replica,
 * storage past maxstorage), as in Redis 7.0.  Scripts without a shebang meet
 * these checks at their first write command instead. */
static int shebangRefusesOrReply(client *c, int flags, int ro)
{
    if (!(flags & SCRIPT_FLAG_SHEBANG) || ro) return 0;
    if (cfg.replica_read_only && replIsReplica()) {
        addReplyError(c, "READONLY You can't write against a read only replica.");
        return 1;
    }
    if (!(flags & SCRIPT_FLAG_ALLOW_OOM) && memStorageRefuses()) {
        addReplyError(c, "OOM command not allowed when used storage > 'maxstorage'.");
        return 1;
    }
    return 0;
}

/* EVAL / EVALSHA / EVAL_RO / EVALSHA_RO script|sha numkeys key... arg... */
static void evalGeneric(client *c, int by_sha, int ro)
{
    long long numkeys;
    char sha[SCRIPT_SHA_LEN + 1];
    int flags = 0;
    if (getNumKeysOrReply(c, &numkeys) != C_OK) return;
    if (by_sha) {
        if (!shaFromArg(c->argv[1], c->argvlen[1], sha)) {
            addReplyError(c, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
        if (scriptFind(c, sha, &flags) != C_OK) return;
    } else if (scriptCompile(c, c->argv[1], c->argvlen[1], sha, &flags) != C_OK) {
        return;
    }
    if (flags & SCRIPT_FLAG_NO_WRITES) ro = 1;
    if (shebangRefusesOrReply(c, flags, ro)) return;
    int nk = (int)numkeys, first_arg = 3 + nk;
    scriptRun(c, sha, c->argv + 3, c->argvlen + 3, nk, c->argv + first_arg,
              c->argvlen + first_arg, c->argc - first_arg, ro);
}

void evalCommand(client *c)
{
    evalGeneric(c, 0, 0);
}

void evalRoCommand(client *c)
{
    evalGeneric(c, 0, 1);
}

void evalshaCommand(client *c)
{
    evalGeneric(c, 1, 0);
}

void evalshaRoCommand(client *c)
{
    evalGeneric(c, 1, 1);
}

/* ========================== SCRIPT ======================================== */

static void scriptHelp(client *c)
{
    static const char *const help[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
        NULL};
    long n = 0;
    while (help[n]) n++;
    addReplyArrayLen(c, n);
    for (long i = 0; i < n; i++) addReplyStatus(c, help[i]);
}

/* The arity of each subcommand, as Redis 7.0 declares it. */
static int scriptArityOk(client *c)
{
    static const struct {
        const char *name;
        int arity;
    } subs[] = {{"load", 3}, {"exists", -3}, {"flush", -2}, {"kill", 2},
                {"help", 2}, {"debug", 3},   {NULL, 0}};
    for (int i = 0; subs[i].name; i++) {
        if (!argIs(c, 1, subs[i].name)) continue;
        int a = subs[i].arity;
        if (a > 0 ? c->argc == a : c->argc >= -a) return 1;
        addReplyErrorFormat(c, "wrong number of arguments for 'script|%s' command", subs[i].name);
        return 0;
    }
    return 1; /* unknown subcommands are answered by scriptCommand() */
}

static void scriptExistsCommand(client *c)
{
    addReplyArrayLen(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        char sha[SCRIPT_SHA_LEN + 1];
        addReplyLongLong(c, shaFromArg(c->argv[i], c->argvlen[i], sha) && scriptExists(sha));
    }
}

static void scriptLoadCommand(client *c)
{
    char sha[SCRIPT_SHA_LEN + 1];
    int flags;
    if (scriptCompile(c, c->argv[2], c->argvlen[2], sha, &flags) != C_OK) return;
    addReplyBulk(c, sha, SCRIPT_SHA_LEN);
}

/* FLUSH ASYNC frees as SYNC does: the cache is a hash of strings, freed in
 * microseconds, and interpreters are replaced lazily by their threads. */
static void scriptFlushCommand(client *c)
{
    int ok = c->argc == 2 || (c->argc == 3 && (argIs(c, 2, "async") || argIs(c, 2, "sync")));
    if (!ok) {
        addReplyError(c, "SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    scriptFlushCache();
    addReplyOk(c);
}

/* SCRIPT DEBUG: Strata has no Lua debugger (LDB); NO is accepted. */
static void scriptDebugCommand(client *c)
{
    if (argIs(c, 2, "no")) addReplyOk(c);
    else if (argIs(c, 2, "yes") || argIs(c, 2, "sync"))
        addReplyError(c, "Strata has no Lua debugger: SCRIPT DEBUG YES|SYNC is not supported");
    else addReplyError(c, "Use SCRIPT DEBUG YES/SYNC/NO");
}

void scriptCommand(client *c)
{
    if (!scriptArityOk(c)) return;
    if (argIs(c, 1, "help")) scriptHelp(c);
    else if (argIs(c, 1, "load")) scriptLoadCommand(c);
    else if (argIs(c, 1, "exists")) scriptExistsCommand(c);
    else if (argIs(c, 1, "flush")) scriptFlushCommand(c);
    else if (argIs(c, 1, "kill")) scriptKill(c);
    else if (argIs(c, 1, "debug")) scriptDebugCommand(c);
    else addReplySubcommandSyntaxError(c);
}

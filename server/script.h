/* script.h - the interface between the Lua scripting engine (script.c) and
 * the EVAL / EVALSHA / SCRIPT command handlers (cmd_script.c).
 *
 * The functions that the rest of the server needs (the busy check in call(),
 * the per-thread cleanup) are declared in server.h; this header is only for
 * the two scripting files. */
#ifndef STRATA_SCRIPT_H
#define STRATA_SCRIPT_H

#include <stddef.h>

#include "server.h"

/* Shebang flags ("#!lua flags=no-writes,allow-oom"), Redis 7.0's names.  A
 * script without a shebang runs in compatibility mode: SCRIPT_FLAG_SHEBANG is
 * clear and every rule is applied per command instead of up front. */
#define SCRIPT_FLAG_SHEBANG (1 << 0)     /* the body starts with "#!lua" */
#define SCRIPT_FLAG_NO_WRITES (1 << 1)   /* no-writes: runs as EVAL_RO */
#define SCRIPT_FLAG_ALLOW_OOM (1 << 2)   /* allow-oom */
#define SCRIPT_FLAG_ALLOW_STALE (1 << 3) /* allow-stale (accepted, no effect) */
#define SCRIPT_FLAG_NO_CLUSTER (1 << 4)  /* no-cluster (accepted, no effect) */
#define SCRIPT_FLAG_CROSS_SLOT (1 << 5)  /* allow-cross-slot-keys (accepted, no effect) */

#define SCRIPT_SHA_LEN 40

/* Parses the shebang of body (if any) into *flags.  Returns C_OK, or C_ERR
 * with *err pointing at a static-or-thread-local error text (Redis's, without
 * the leading '-'); the text stays valid until the next call on the thread. */
int scriptParseShebang(const char *body, size_t len, int *flags, const char **err);

/* Compiles body into this thread's interpreter (if it is not there yet) and
 * adds it to the script cache.  sha receives the 40 hex digits and a NUL.
 * On a compile or shebang error replies to c and returns C_ERR. */
int scriptCompile(client *c, const char *body, size_t len, char sha[SCRIPT_SHA_LEN + 1],
                  int *flags);

/* Makes the script with this sha (40 lower-case hex digits) ready to run on
 * this thread, compiling it from the cache if needed, and gives its flags.
 * Returns C_OK, or replies (NOSCRIPT, or a compile error) and returns C_ERR. */
int scriptFind(client *c, const char *sha, int *flags);

/* Runs a ready script for c with its keys and arguments and replies.  The
 * caller holds the keyspace lock exclusively (call(), EVAL is "global") and
 * this thread has no open write group.  ro: EVAL_RO/EVALSHA_RO or no-writes. */
void scriptRun(client *c, const char *sha, char **keys, size_t *keylens, int numkeys,
               char **args, size_t *arglens, int numargs, int ro);

int scriptExists(const char *sha);  /* 1 when the cache holds it */
void scriptFlushCache(void);        /* SCRIPT FLUSH: forget every script */
void scriptKill(client *c);         /* SCRIPT KILL: replies OK / NOTBUSY / UNKILLABLE */

#endif

/* multi.c - transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, and the
 * queueing of commands between MULTI and EXEC.
 *
 *   normal --MULTI--> queuing (CLIENT_MULTI): call() hands every command but
 *     EXEC DISCARD MULTI WATCH QUIT RESET to multiQueueIfNeeded(), which
 *     copies it into the queue and answers +QUEUED; a command refused
 *     before it could be queued (unknown, arity, OOM, READONLY, a no-multi
 *     command) marks the transaction dirty (multiFlagRejected)
 *   queuing --DISCARD / RESET / disconnect--> normal (queue and watches dropped)
 *   queuing --EXEC--> execCommand(): EXECABORT if dirty; a null array if a
 *     watched key changed; else the queue runs and commits as one batch
 *
 * Invariants:
 *  1. EXEC is a "global" command: it holds the keyspace lock exclusively, so
 *     no other command of any thread runs between the WATCH check and the
 *     last queued command, and no other thread holds an uncommitted write
 *     group (groups hold the lock shared until they flush).
 *  2. The queued commands run through call()'s nested path (CLIENT_IN_EXEC:
 *     no locks, no groups) and write into one batch opened with
 *     callTxnBegin(); reads through the keyspace API see that batch, so a
 *     command sees the writes of the commands before it.  callTxnEnd()
 *     commits it once: the transaction is one WriteBatch, atomic on disk,
 *     on replicas and in the WAL.  If the commit fails, EXEC's reply is
 *     replaced by one error and nothing was written.
 *  3. WATCH remembers, per key, whether it existed (and was not logically
 *     expired) and the HLC of its meta record.  Every write of a key stamps
 *     a new HLC (stBatchPut), deletes remove the record, and a collection's
 *     element writes rewrite its meta: any change between WATCH and EXEC,
 *     made by any thread, any client (the watcher included) or the expiry
 *     of the key, shows as a different (exists, hlc) pair.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"

typedef struct multiCmd {
    int argc;
    char **argv;
    size_t *argvlen;
} multiCmd;

typedef struct watchedKey {
    int db;
    char *key;
    size_t klen;
    int exists;
    uint64_t hlc;
} watchedKey;

struct multiState {
    int dirty;         /* a command was refused while queuing: EXECABORT */
    multiCmd *cmds;
    int ncmds, capcmds;
    watchedKey *watched;
    int nwatched, capwatched;
};

/* ========================== Helpers ======================================= */

static struct multiState *multiState(client *c)
{
    if (!c->mstate) {
        c->mstate = calloc(1, sizeof(*c->mstate));
        if (!c->mstate) abort();
    }
    return c->mstate;
}

static void multiFreeQueue(struct multiState *m)
{
    for (int i = 0; i < m->ncmds; i++) {
        for (int j = 0; j < m->cmds[i].argc; j++) free(m->cmds[i].argv[j]);
        free(m->cmds[i].argv);
        free(m->cmds[i].argvlen);
    }
    free(m->cmds);
    m->cmds = NULL;
    m->ncmds = m->capcmds = 0;
    m->dirty = 0;
}

static void multiUnwatch(struct multiState *m)
{
    for (int i = 0; i < m->nwatched; i++) free(m->watched[i].key);
    free(m->watched);
    m->watched = NULL;
    m->nwatched = m->capwatched = 0;
}

/* Ends the transaction state: queue, flag and watches (EXEC, DISCARD). */
static void multiEnd(client *c)
{
    atomic_fetch_and(&c->flags, ~CLIENT_MULTI);
    if (!c->mstate) return;
    multiFreeQueue(c->mstate);
    multiUnwatch(c->mstate);
    free(c->mstate);
    c->mstate = NULL;
}

/* The key's state as WATCH records it (invariant 3). */
static void watchState(client *c, int db, const char *key, size_t klen, int *exists,
                       uint64_t *hlc)
{
    stObj *o = stPeek(server.st, db, key, klen);
    *exists = o && !keyIsExpired(o, mstime());
    *hlc = *exists ? o->meta.hlc : 0;
    (void)c;
    if (o) stObjRelease(o);
}

static int watchedKeysChanged(client *c)
{
    struct multiState *m = c->mstate;
    for (int i = 0; m && i < m->nwatched; i++) {
        watchedKey *w = &m->watched[i];
        int exists;
        uint64_t hlc;
        watchState(c, w->db, w->key, w->klen, &exists, &hlc);
        if (exists != w->exists || hlc != w->hlc) return 1;
    }
    return 0;
}

/* Commands Redis 7.0 refuses inside MULTI (its "no-multi" flag). */
static int cmdIs(const redisCommand *cmd, const char *name)
{
    return strcmp(cmd->name, name) == 0;
}

static int refusedInMulti(const redisCommand *cmd)
{
    return cmdIs(cmd, "save") || cmdIs(cmd, "shutdown") || cmdIs(cmd, "replsync");
}

/* ========================== Hooks from call() ============================== */

int multiQueueIfNeeded(client *c, redisCommand *cmd)
{
    int fl = atomic_load(&c->flags);
    if (!(fl & CLIENT_MULTI) || (fl & CLIENT_IN_EXEC)) return 0;
    if (cmdIs(cmd, "exec") || cmdIs(cmd, "discard") || cmdIs(cmd, "multi") ||
        cmdIs(cmd, "watch") || cmdIs(cmd, "quit") || cmdIs(cmd, "reset"))
        return 0;
    struct multiState *m = multiState(c);
    if (refusedInMulti(cmd)) {
        addReplyError(c, "Command not allowed inside a transaction");
        m->dirty = 1;
        return 1;
    }
    if (m->ncmds == m->capcmds) {
        m->capcmds = m->capcmds ? m->capcmds * 2 : 8;
        m->cmds = realloc(m->cmds, sizeof(multiCmd) * (size_t)m->capcmds);
        if (!m->cmds) abort();
    }
    multiCmd *q = &m->cmds[m->ncmds++];
    q->argc = c->argc;
    q->argv = malloc(sizeof(char *) * (size_t)c->argc);
    q->argvlen = malloc(sizeof(size_t) * (size_t)c->argc);
    if (!q->argv || !q->argvlen) abort();
    for (int j = 0; j < c->argc; j++) {
        q->argv[j] = malloc(c->argvlen[j] + 1);
        if (!q->argv[j]) abort();
        memcpy(q->argv[j], c->argv[j], c->argvlen[j]);
        q->argv[j][c->argvlen[j]] = '\0';
        q->argvlen[j] = c->argvlen[j];
    }
    addReplyStatus(c, "QUEUED");
    return 1;
}

void multiFlagRejected(client *c)
{
    if ((atomic_load(&c->flags) & (CLIENT_MULTI | CLIENT_IN_EXEC)) == CLIENT_MULTI)
        multiState(c)->dirty = 1;
}

void multiClientReset(client *c)
{
    multiEnd(c);
}

/* ========================== Commands ====================================== */

void multiCommand(client *c)
{
    if (atomic_load(&c->flags) & CLIENT_MULTI) {
        addReplyError(c, "MULTI calls can not be nested");
        return;
    }
    atomic_fetch_or(&c->flags, CLIENT_MULTI);
    addReplyOk(c);
}

void discardCommand(client *c)
{
    if (!(atomic_load(&c->flags) & CLIENT_MULTI)) {
        addReplyError(c, "DISCARD without MULTI");
        return;
    }
    multiEnd(c);
    addReplyOk(c);
}

void execCommand(client *c)
{
    if (!(atomic_load(&c->flags) & CLIENT_MULTI)) {
        addReplyError(c, "EXEC without MULTI");
        return;
    }
    struct multiState *m = c->mstate;
    if (m && m->dirty) {
        addReplyError(c, "EXECABORT Transaction discarded because of previous errors.");
        multiEnd(c);
        return;
    }
    if (watchedKeysChanged(c)) {
        addReplyNullArray(c);
        multiEnd(c);
        return;
    }
    atomic_fetch_and(&c->flags, ~CLIENT_MULTI);
    int n = m ? m->ncmds : 0;
    int argc = c->argc;
    char **argv = c->argv;
    size_t *argvlen = c->argvlen;
    redisCommand *self = c->cmd;
    size_t mark = c->out.len;
    uint64_t now = c->cmd_time_ms;
    addReplyArrayLen(c, n);
    callTxnBegin();
    atomic_fetch_or(&c->flags, CLIENT_IN_EXEC);
    for (int i = 0; i < n; i++) {
        c->argc = m->cmds[i].argc;
        c->argv = m->cmds[i].argv;
        c->argvlen = m->cmds[i].argvlen;
        c->cmd_time_ms = now; /* one "now" for the whole transaction */
        call(c);
    }
    atomic_fetch_and(&c->flags, ~CLIENT_IN_EXEC);
    char *err = NULL;
    if (callTxnEnd(&err) != C_OK) {
        /* Invariant 2: nothing was written; the replies described writes. */
        if (c->out.len >= mark) c->out.len = mark;
        addReplyErrorFormat(c, "storage write failed: %s", err ? err : "unknown error");
    }
    free(err);
    c->argc = argc;
    c->argv = argv;
    c->argvlen = argvlen;
    c->cmd = self;
    setCommandNameOf(c, self);
    multiEnd(c);
}

void watchCommand(client *c)
{
    if (atomic_load(&c->flags) & CLIENT_MULTI) {
        addReplyError(c, "WATCH inside MULTI is not allowed");
        return;
    }
    struct multiState *m = multiState(c);
    for (int j = 1; j < c->argc; j++) {
        int dup = 0;
        for (int i = 0; i < m->nwatched && !dup; i++)
            dup = m->watched[i].db == c->db && m->watched[i].klen == c->argvlen[j] &&
                  memcmp(m->watched[i].key, c->argv[j], c->argvlen[j]) == 0;
        if (dup) continue;
        if (m->nwatched == m->capwatched) {
            m->capwatched = m->capwatched ? m->capwatched * 2 : 8;
            m->watched = realloc(m->watched, sizeof(watchedKey) * (size_t)m->capwatched);
            if (!m->watched) abort();
        }
        watchedKey *w = &m->watched[m->nwatched++];
        w->db = c->db;
        w->klen = c->argvlen[j];
        w->key = malloc(w->klen ? w->klen : 1);
        if (!w->key) abort();
        memcpy(w->key, c->argv[j], w->klen);
        watchState(c, c->db, c->argv[j], c->argvlen[j], &w->exists, &w->hlc);
    }
    addReplyOk(c);
}

void unwatchCommand(client *c)
{
    if (c->mstate) multiUnwatch(c->mstate);
    addReplyOk(c);
}

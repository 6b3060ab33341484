/* cmd_conn.c - connection commands: PING ECHO QUIT RESET SELECT AUTH HELLO
 * and CLIENT.  They touch only the calling client (and, for CLIENT LIST and
 * KILL, the global client list under clients_lock), never the keyspace. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* ========================== Helpers ======================================= */

/* Compares the given password with requirepass in constant time for equal
 * lengths, so response timing does not reveal a matching prefix. */
static int passwordMatches(const char *p, size_t plen)
{
    const char *want = cfg.requirepass;
    size_t wlen = want ? strlen(want) : 0;
    unsigned char diff = (unsigned char)(plen != wlen);
    for (size_t i = 0; i < plen && i < wlen; i++) diff |= (unsigned char)(p[i] ^ want[i]);
    return diff == 0;
}

static int noPasswordConfigured(void)
{
    return !cfg.requirepass || !cfg.requirepass[0];
}

/* Checks credentials; replies with the error and returns C_ERR when they are
 * wrong.  A user other than "default" does not exist here (no ACL users). */
static int authenticate(client *c, const char *user, size_t ulen, const char *pass, size_t plen)
{
    if (user && !(ulen == 7 && !strncmp(user, "default", 7))) goto wrong;
    if (noPasswordConfigured()) {
        if (!user) {
            addReplyError(c, "ERR AUTH <password> called without any password configured for the "
                             "default user. Are you sure your configuration is correct?");
            return C_ERR;
        }
        c->authenticated = 1; /* default user has nopass: any password works */
        return C_OK;
    }
    if (!passwordMatches(pass, plen)) goto wrong;
    c->authenticated = 1;
    return C_OK;
wrong:
    addReplyError(c, "WRONGPASS invalid username-password pair or user is disabled.");
    return C_ERR;
}

static int validClientName(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '!' || s[i] > '~') return 0;
    return 1;
}

static void setClientName(client *c, const char *s, size_t len)
{
    free(c->name);
    c->name = len ? strndup(s, len) : NULL;
}

/* ========================== PING ECHO QUIT RESET SELECT =================== */

void pingCommand(client *c)
{
    if (c->argc > 2) {
        addReplyErrorArity(c);
        return;
    }
    /* A subscribed RESP2 client reads a message-shaped reply (Redis 7.0). */
    if ((atomic_load(&c->flags) & CLIENT_PUBSUB) && c->resp == 2) {
        addReplyArrayLen(c, 2);
        addReplyBulk(c, "pong", 4);
        if (c->argc == 1) addReplyBulk(c, "", 0);
        else addReplyBulk(c, c->argv[1], c->argvlen[1]);
        return;
    }
    if (c->argc == 1) addReplyRaw(c, "+PONG\r\n", 7);
    else addReplyBulk(c, c->argv[1], c->argvlen[1]);
}

void echoCommand(client *c)
{
    addReplyBulk(c, c->argv[1], c->argvlen[1]);
}

void quitCommand(client *c)
{
    addReplyOk(c);
    atomic_fetch_or(&c->flags, CLIENT_CLOSE_AFTER_REPLY);
}

void resetCommand(client *c)
{
    int fl = atomic_load(&c->flags);
    if (fl & CLIENT_MONITOR) {
        pthread_mutex_lock(&server.monitors_lock);
        for (int i = 0; i < server.nmonitors; i++) {
            if (server.monitors[i] == c) {
                server.monitors[i] = server.monitors[--server.nmonitors];
                break;
            }
        }
        atomic_store(&server.has_monitors, server.nmonitors > 0);
        pthread_mutex_unlock(&server.monitors_lock);
    }
    pubsubClientReset(c); /* clears CLIENT_PUBSUB with the subscriptions */
    multiClientReset(c);  /* MULTI queue and WATCHed keys */
    /* CLIENT NO-EVICT survives RESET, as in Redis 7.0. */
    atomic_fetch_and(&c->flags, ~(CLIENT_MONITOR | CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP |
                                  CLIENT_REPLY_SKIP_NEXT | CLIENT_PUBSUB));
    c->db = 0;
    c->resp = 2;
    setClientName(c, NULL, 0);
    c->authenticated = noPasswordConfigured();
    addReplyStatus(c, "RESET");
}

void selectCommand(client *c)
{
    int db;
    if (selectDbOrReply(c, c->argv[1], c->argvlen[1], &db) != C_OK) return;
    c->db = db;
    addReplyOk(c);
}

/* ========================== AUTH HELLO ==================================== */

void authCommand(client *c)
{
    if (c->argc > 3) {
        addReplyErrorSyntax(c);
        return;
    }
    int r = c->argc == 2 ? authenticate(c, NULL, 0, c->argv[1], c->argvlen[1])
                         : authenticate(c, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]);
    if (r == C_OK) addReplyOk(c);
}

void helloCommand(client *c)
{
    long long ver = 0;
    int next = 1;
    if (c->argc >= 2) {
        if (!string2ll(c->argv[1], c->argvlen[1], &ver)) {
            addReplyError(c, "Protocol version is not an integer or out of range");
            return;
        }
        next = 2;
        if (ver < 2 || ver > 3) {
            addReplyError(c, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const char *name = NULL;
    size_t namelen = 0;
    for (int j = next; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (argIs(c, j, "auth") && more >= 2) {
            if (authenticate(c, c->argv[j + 1], c->argvlen[j + 1], c->argv[j + 2],
                             c->argvlen[j + 2]) != C_OK)
                return;
            j += 2;
        } else if (argIs(c, j, "setname") && more >= 1) {
            name = c->argv[j + 1];
            namelen = c->argvlen[j + 1];
            if (!validClientName(name, namelen)) {
                addReplyError(c, "Client names cannot contain spaces, newlines or special "
                                 "characters.");
                return;
            }
            j++;
        } else {
            addReplyErrorFormat(c, "Syntax error in HELLO option '%.128s'", c->argv[j]);
            return;
        }
    }
    if (!c->authenticated) {
        addReplyError(c, "NOAUTH HELLO must be called with the client already authenticated, "
                         "otherwise the HELLO AUTH <user> <pass> option can be used to "
                         "authenticate the client and select the RESP protocol version at the "
                         "same time");
        return;
    }
    if (name) setClientName(c, name, namelen);
    if (ver) c->resp = (int)ver;
    addReplyMapLen(c, 7);
    addReplyBulkStr(c, "server");
    addReplyBulkStr(c, "redis");
    addReplyBulkStr(c, "version");
    addReplyBulkStr(c, STRATA_REDIS_COMPAT_VERSION);
    addReplyBulkStr(c, "proto");
    addReplyLongLong(c, c->resp);
    addReplyBulkStr(c, "id");
    addReplyLongLong(c, (long long)c->id);
    addReplyBulkStr(c, "mode");
    addReplyBulkStr(c, "standalone");
    addReplyBulkStr(c, "role");
    addReplyBulkStr(c, "master");
    addReplyBulkStr(c, "modules");
    addReplyArrayLen(c, 0);
}

/* ========================== CLIENT ======================================== */

typedef struct killFilter {
    const char *addr, *laddr;
    long long id;        /* 0 = any */
    int type;            /* -1 any, 0 normal, 2 pubsub, 9 never matches (master/replica) */
    int skipme;
    const char *user;
} killFilter;

static int clientMatches(client *c, client *self, const killFilter *f)
{
    if (f->skipme && c == self) return 0;
    if (f->addr && strcmp(f->addr, c->addr)) return 0;
    if (f->laddr && strcmp(f->laddr, c->laddr)) return 0;
    if (f->id && (uint64_t)f->id != c->id) return 0;
    if (f->user && strcmp(f->user, "default")) return 0;
    if (f->type == 9) return 0;
    if (f->type == 2 && !(atomic_load(&c->flags) & CLIENT_PUBSUB)) return 0;
    if (f->type == 0 && (atomic_load(&c->flags) & CLIENT_PUBSUB)) return 0;
    return 1;
}

/* Parses a client type name: normal, master, replica/slave, pubsub. */
static int parseClientType(const char *s)
{
    if (!strcasecmp(s, "normal")) return 0;
    if (!strcasecmp(s, "pubsub")) return 2;
    if (!strcasecmp(s, "master") || !strcasecmp(s, "replica") || !strcasecmp(s, "slave"))
        return 9;
    return -2;
}

static void clientKillCommand(client *c)
{
    killFilter f = {NULL, NULL, 0, -1, 1, NULL};
    int oldform = c->argc == 3;
    if (oldform) {
        f.addr = c->argv[2];
        f.skipme = 0;
    } else if (c->argc > 3 && (c->argc % 2) == 0) {
        for (int i = 2; i < c->argc; i += 2) {
            const char *v = c->argv[i + 1];
            if (argIs(c, i, "id")) {
                if (!string2ll(v, c->argvlen[i + 1], &f.id) || f.id <= 0) {
                    addReplyError(c, "client-id should be greater than 0");
                    return;
                }
            } else if (argIs(c, i, "addr")) {
                f.addr = v;
            } else if (argIs(c, i, "laddr")) {
                f.laddr = v;
            } else if (argIs(c, i, "user")) {
                /* "default" is the only user there is (no ACL users). */
                if (strcmp(v, "default")) {
                    addReplyErrorFormat(c, "No such user '%s'", v);
                    return;
                }
                f.user = v;
            } else if (argIs(c, i, "type")) {
                f.type = parseClientType(v);
                if (f.type == -2) {
                    addReplyErrorFormat(c, "Unknown client type '%s'", v);
                    return;
                }
            } else if (argIs(c, i, "skipme")) {
                if (!strcasecmp(v, "yes")) f.skipme = 1;
                else if (!strcasecmp(v, "no")) f.skipme = 0;
                else {
                    addReplyErrorSyntax(c);
                    return;
                }
            } else {
                addReplyErrorSyntax(c);
                return;
            }
        }
    } else {
        addReplyErrorSyntax(c);
        return;
    }
    long long killed = 0;
    pthread_mutex_lock(&server.clients_lock);
    for (client *o = server.clients; o; o = o->next) {
        if (!clientMatches(o, c, &f)) continue;
        killed++;
        if (o == c) atomic_fetch_or(&c->flags, CLIENT_CLOSE_AFTER_REPLY);
        else clientKillAsync(o);
    }
    pthread_mutex_unlock(&server.clients_lock);
    if (oldform) {
        if (killed == 0) addReplyError(c, "No such client");
        else addReplyOk(c);
    } else {
        addReplyLongLong(c, killed);
    }
}

static void clientListCommand(client *c)
{
    int type = -1;
    long long *ids = NULL;
    int nids = 0;
    if (c->argc == 4 && argIs(c, 2, "type")) {
        type = parseClientType(c->argv[3]);
        if (type == -2) {
            addReplyErrorFormat(c, "Unknown client type '%s'", c->argv[3]);
            return;
        }
    } else if (c->argc >= 4 && argIs(c, 2, "id")) {
        ids = malloc(sizeof(long long) * (c->argc - 3));
        for (int i = 3; i < c->argc; i++) {
            long long id;
            /* Any integer is a valid filter (Redis checks only the syntax). */
            if (!string2ll(c->argv[i], c->argvlen[i], &id)) {
                free(ids);
                addReplyError(c, "Invalid client ID");
                return;
            }
            ids[nids++] = id;
        }
    } else if (c->argc != 2) {
        addReplyErrorSyntax(c);
        return;
    }
    strbuf b;
    sbInit(&b);
    uint64_t now = mstime();
    pthread_mutex_lock(&server.clients_lock);
    for (client *o = server.clients; o; o = o->next) {
        killFilter f = {NULL, NULL, 0, type, 0, NULL};
        if (!clientMatches(o, c, &f)) continue;
        if (nids) {
            int hit = 0;
            for (int i = 0; i < nids; i++) hit |= (uint64_t)ids[i] == o->id;
            if (!hit) continue;
        }
        clientInfoString(o, &b, now);
        sbAppend(&b, "\n", 1);
    }
    pthread_mutex_unlock(&server.clients_lock);
    addReplyVerbatim(c, b.buf ? b.buf : "", b.len, "txt");
    sbFree(&b);
    free(ids);
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: a client blocked on keys (blocking.c)
 * gets the timeout reply or -UNBLOCKED.  Clients blocked in WAIT are not
 * unblocked (Redis would answer them with the current ack count). */
static void clientUnblockCommand(client *c)
{
    int error = 0;
    long long id;
    if (c->argc == 4) {
        if (argIs(c, 3, "error")) {
            error = 1;
        } else if (!argIs(c, 3, "timeout")) {
            addReplyError(c, "CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    if (getLongLongOrReply(c, c->argv[2], c->argvlen[2], &id, NULL) != C_OK) return;
    int done = 0;
    pthread_mutex_lock(&server.clients_lock);
    for (client *o = server.clients; o; o = o->next) {
        if (o->id != (uint64_t)id) continue;
        done = blockUnblockClient(o, error);
        break;
    }
    pthread_mutex_unlock(&server.clients_lock);
    addReplyLongLong(c, done);
}

void clientCommand(client *c)
{
    if (argIs(c, 1, "id") && c->argc == 2) {
        addReplyLongLong(c, (long long)c->id);
    } else if (argIs(c, 1, "setname") && c->argc == 3) {
        if (!validClientName(c->argv[2], c->argvlen[2])) {
            addReplyError(c, "Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        setClientName(c, c->argv[2], c->argvlen[2]);
        addReplyOk(c);
    } else if (argIs(c, 1, "getname") && c->argc == 2) {
        if (c->name) addReplyBulkStr(c, c->name);
        else addReplyNull(c);
    } else if (argIs(c, 1, "list")) {
        clientListCommand(c);
    } else if (argIs(c, 1, "info") && c->argc == 2) {
        strbuf b;
        sbInit(&b);
        clientInfoString(c, &b, mstime());
        sbAppend(&b, "\n", 1);
        addReplyVerbatim(c, b.buf, b.len, "txt");
        sbFree(&b);
    } else if (argIs(c, 1, "kill") && c->argc >= 3) {
        clientKillCommand(c);
    } else if (argIs(c, 1, "reply") && c->argc == 3) {
        if (argIs(c, 2, "on")) {
            atomic_fetch_and(&c->flags, ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP_NEXT));
            addReplyOk(c);
        } else if (argIs(c, 2, "off")) {
            atomic_fetch_or(&c->flags, CLIENT_REPLY_OFF);
        } else if (argIs(c, 2, "skip")) {
            if (!(atomic_load(&c->flags) & CLIENT_REPLY_OFF))
                atomic_fetch_or(&c->flags, CLIENT_REPLY_SKIP_NEXT);
        } else {
            addReplyErrorSyntax(c);
        }
    } else if (argIs(c, 1, "unblock") && (c->argc == 3 || c->argc == 4)) {
        clientUnblockCommand(c);
    } else if (argIs(c, 1, "no-evict") && c->argc == 3) {
        if (argIs(c, 2, "on")) atomic_fetch_or(&c->flags, CLIENT_NO_EVICT);
        else if (argIs(c, 2, "off")) atomic_fetch_and(&c->flags, ~CLIENT_NO_EVICT);
        else {
            addReplyErrorSyntax(c);
            return;
        }
        addReplyOk(c);
    } else if (argIs(c, 1, "help") && c->argc == 2) {
        const char *help[] = {
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GETNAME", "    Return the name of the current connection.",
            "ID", "    Return the ID of the current connection.",
            "INFO", "    Return information about the current client connection.",
            "KILL <ip:port>", "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME.",
            "LIST [TYPE <type>] [ID <id> ...]", "    Return information about client connections.",
            "NO-EVICT (ON|OFF)", "    Protect the current client connection from eviction.",
            "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
            "SETNAME <name>", "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "HELP", "    Print this help."};
        int n = sizeof(help) / sizeof(*help);
        addReplyArrayLen(c, n);
        for (int i = 0; i < n; i++) addReplyStatus(c, help[i]);
    } else if (argIs(c, 1, "id") || argIs(c, 1, "setname") || argIs(c, 1, "getname") ||
               argIs(c, 1, "info") || argIs(c, 1, "reply") || argIs(c, 1, "no-evict") ||
               argIs(c, 1, "help") || argIs(c, 1, "kill") || argIs(c, 1, "unblock")) {
        char sub[32];
        size_t n = c->argvlen[1] < sizeof(sub) - 1 ? c->argvlen[1] : sizeof(sub) - 1;
        for (size_t i = 0; i < n; i++) sub[i] = tolower((unsigned char)c->argv[1][i]);
        sub[n] = '\0';
        addReplyErrorFormat(c, "wrong number of arguments for 'client|%s' command", sub);
    } else {
        addReplySubcommandSyntaxError(c);
    }
}

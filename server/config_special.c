/* config_special.c - the directives whose values are not one number, enum or
 * string: bind, replicaof, client-output-buffer-limit, save,
 * storage-provider and notify-keyspace-events.  Each provides the
 * operations of config_int.h's cfgSpecial (parse, merge, capture, store,
 * format, rewrite lines, release); config.c's table points at them.
 */
#include "config.h"
#include "config_int.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ======================= Special: bind ================================== */

typedef struct bindVal {
    int n;
    char *addr[CFG_MAX_BIND];
} bindVal;

static void bindRelease(cfgVal *v) {
    bindVal *b = v->sp;
    if (b == NULL) return;
    for (int i = 0; i < b->n; i++) free(b->addr[i]);
    free(b);
    v->sp = NULL;
}

static int bindParse(int argc, char **argv, cfgVal *out, char *why) {
    if (argc < 1) return cfgFail(why, "wrong number of arguments");
    if (argc > CFG_MAX_BIND) return cfgFail(why, "Too many bind addresses specified");
    bindVal *b = cfgXrealloc(NULL, sizeof(*b));
    b->n = argc;
    for (int i = 0; i < argc; i++) b->addr[i] = cfgXstrdup(argv[i]);
    out->sp = b;
    return 0;
}

static void bindCapture(cfgVal *out) {
    bindVal *b = cfgXrealloc(NULL, sizeof(*b));
    b->n = cfg.bind_count;
    for (int i = 0; i < b->n; i++) b->addr[i] = cfgXstrdup(cfg.bind[i]);
    out->sp = b;
}

static void bindStore(cfgVal *v) {
    bindVal *b = v->sp;
    for (int i = 0; i < cfg.bind_count; i++) free(cfg.bind[i]);
    for (int i = 0; i < b->n; i++) cfg.bind[i] = b->addr[i];
    cfg.bind_count = b->n;
    free(b);
    v->sp = NULL;
}

static void bindFormat(const cfgVal *v, strbuf *out) {
    const bindVal *b = v->sp;
    for (int i = 0; i < b->n; i++) {
        if (i) sbAppend(out, " ", 1);
        sbAppendStr(out, b->addr[i]);
    }
}

static void bindLines(const char *name, const cfgVal *v, strbuf *out) {
    const bindVal *b = v->sp;
    sbAppendStr(out, name);
    for (int i = 0; i < b->n; i++) {
        sbAppend(out, " ", 1);
        cfgAppendQuoted(out, b->addr[i]);
    }
    sbAppend(out, "\n", 1);
}

const cfgSpecial bindOps = {bindParse, NULL, bindCapture, bindStore,
                                   bindFormat, bindLines, bindRelease};

/* ======================= Special: replicaof ============================= */

typedef struct replVal {
    int n;
    cfgReplicaOf m[CFG_MAX_REPLICAOF];
    int clear;                  /* parsed "no one" */
} replVal;

static void replRelease(cfgVal *v) {
    replVal *r = v->sp;
    if (r == NULL) return;
    for (int i = 0; i < r->n; i++) free(r->m[i].host);
    free(r);
    v->sp = NULL;
}

static int replParse(int argc, char **argv, cfgVal *out, char *why) {
    long long port;
    if (argc != 2) return cfgFail(why, "wrong number of arguments");
    replVal *r = cfgXcalloc(sizeof(*r));
    if (!strcasecmp(argv[0], "no") && !strcasecmp(argv[1], "one")) {
        r->clear = 1;
    } else {
        if (cfgParseLL(argv[1], &port) != 0 || port < 1 || port > 65535) {
            free(r);
            return cfgFail(why, "Invalid master port");
        }
        r->m[0].host = cfgXstrdup(argv[0]);
        r->m[0].port = (int)port;
        r->n = 1;
    }
    out->sp = r;
    return 0;
}

/* Loading appends; the same host and port twice is one master, so a master
 * given in both the file and on the command line gets a single link. */
static int replMerge(cfgVal *acc, cfgVal *in, int loading, char *why) {
    replVal *a = acc->sp, *b = in->sp;
    if (!loading || b->clear) {
        for (int i = 0; i < a->n; i++) free(a->m[i].host);
        a->n = 0;
    }
    for (int i = 0; i < b->n; i++) {
        int dup = 0;
        for (int j = 0; j < a->n; j++)
            if (!strcasecmp(a->m[j].host, b->m[i].host) && a->m[j].port == b->m[i].port) dup = 1;
        if (dup) continue;
        if (a->n == CFG_MAX_REPLICAOF) {
            replRelease(in);
            return cfgFail(why, "Too many masters (at most %d)", CFG_MAX_REPLICAOF);
        }
        a->m[a->n].host = b->m[i].host;
        a->m[a->n].port = b->m[i].port;
        b->m[i].host = NULL;
        a->n++;
    }
    replRelease(in);
    return 0;
}

static void replCapture(cfgVal *out) {
    replVal *r = cfgXcalloc(sizeof(*r));
    r->n = cfg.replicaof_count;
    for (int i = 0; i < r->n; i++) {
        r->m[i].host = cfgXstrdup(cfg.replicaof[i].host);
        r->m[i].port = cfg.replicaof[i].port;
    }
    out->sp = r;
}

static void replStore(cfgVal *v) {
    replVal *r = v->sp;
    for (int i = 0; i < cfg.replicaof_count; i++) free(cfg.replicaof[i].host);
    for (int i = 0; i < r->n; i++) cfg.replicaof[i] = r->m[i];
    cfg.replicaof_count = r->n;
    free(r);
    v->sp = NULL;
}

/* CONFIG GET shows the first master, as Redis shows its only one. */
static void replFormat(const cfgVal *v, strbuf *out) {
    const replVal *r = v->sp;
    if (r->n) sbPrintf(out, "%s %d", r->m[0].host, r->m[0].port);
}

static void replLines(const char *name, const cfgVal *v, strbuf *out) {
    const replVal *r = v->sp;
    for (int i = 0; i < r->n; i++) {
        sbPrintf(out, "%s ", name);
        cfgAppendQuoted(out, r->m[i].host);
        sbPrintf(out, " %d\n", r->m[i].port);
    }
}

const cfgSpecial replOps = {replParse, replMerge, replCapture, replStore,
                                   replFormat, replLines, replRelease};

/* =============== Special: client-output-buffer-limit ==================== */

typedef struct cobVal {
    int mask;                   /* bit per CFG_COB_* class present */
    cfgCobLimit lim[CFG_COB_CLASSES];
} cobVal;

static int cobClass(const char *s) {
    if (!strcasecmp(s, "normal")) return CFG_COB_NORMAL;
    if (!strcasecmp(s, "replica") || !strcasecmp(s, "slave")) return CFG_COB_REPLICA;
    if (!strcasecmp(s, "pubsub")) return CFG_COB_PUBSUB;
    return -1;
}

/* "<class> <hard> <soft> <seconds>", repeated; Redis's error texts. */
static int cobParse(int argc, char **argv, cfgVal *out, char *why) {
    cobVal *c;
    if (argc == 1 && argv[0][0] == '\0') argc = 0;  /* "": no class changes */
    if (argc % 4)
        return cfgFail(why, "Wrong number of arguments in buffer limit configuration.");
    c = cfgXcalloc(sizeof(*c));
    for (int i = 0; i < argc; i += 4) {
        int cls = cobClass(argv[i]);
        unsigned long long hard, soft;
        long long secs;
        if (cls < 0) {
            free(c);
            return cfgFail(why, "Invalid client class specified in buffer limit configuration.");
        }
        if (cfgParseMemory(argv[i + 1], &hard) || cfgParseMemory(argv[i + 2], &soft) ||
            cfgParseLL(argv[i + 3], &secs) || secs < 0) {
            free(c);
            return cfgFail(why, "Error in hard, soft or soft_seconds setting in buffer limit "
                             "configuration.");
        }
        c->mask |= 1 << cls;
        c->lim[cls].hard_bytes = hard;
        c->lim[cls].soft_bytes = soft;
        c->lim[cls].soft_seconds = secs;
    }
    out->sp = c;
    return 0;
}

/* Classes not named keep their limits, in files and in CONFIG SET alike. */
static int cobMerge(cfgVal *acc, cfgVal *in, int loading, char *why) {
    (void)loading;
    (void)why;
    cobVal *a = acc->sp, *b = in->sp;
    for (int i = 0; i < CFG_COB_CLASSES; i++)
        if (b->mask & (1 << i)) a->lim[i] = b->lim[i];
    a->mask |= b->mask;
    free(b);
    in->sp = NULL;
    return 0;
}

static void cobCapture(cfgVal *out) {
    cobVal *c = cfgXrealloc(NULL, sizeof(*c));
    c->mask = (1 << CFG_COB_CLASSES) - 1;
    memcpy(c->lim, cfg.cob, sizeof(c->lim));
    out->sp = c;
}

static void cobStore(cfgVal *v) {
    cobVal *c = v->sp;
    for (int i = 0; i < CFG_COB_CLASSES; i++)
        if (c->mask & (1 << i)) cfg.cob[i] = c->lim[i];
    free(c);
    v->sp = NULL;
}

static const char *const cobGetNames[CFG_COB_CLASSES] = {"normal", "slave", "pubsub"};
static const char *const cobFileNames[CFG_COB_CLASSES] = {"normal", "replica", "pubsub"};

static void cobFormat(const cfgVal *v, strbuf *out) {
    const cobVal *c = v->sp;
    for (int i = 0; i < CFG_COB_CLASSES; i++)
        sbPrintf(out, "%s%s %llu %llu %lld", i ? " " : "", cobGetNames[i], c->lim[i].hard_bytes,
                 c->lim[i].soft_bytes, c->lim[i].soft_seconds);
}

static void cobLines(const char *name, const cfgVal *v, strbuf *out) {
    const cobVal *c = v->sp;
    for (int i = 0; i < CFG_COB_CLASSES; i++) {
        sbPrintf(out, "%s %s ", name, cobFileNames[i]);
        cfgAppendMemory(out, c->lim[i].hard_bytes);
        sbAppend(out, " ", 1);
        cfgAppendMemory(out, c->lim[i].soft_bytes);
        sbPrintf(out, " %lld\n", c->lim[i].soft_seconds);
    }
}

const cfgSpecial cobOps = {cobParse, cobMerge, cobCapture, cobStore,
                                  cobFormat, cobLines, NULL};

/* =========================== Special: save =============================== */

static void saveRelease(cfgVal *v) {
    saveVal *s = v->sp;
    if (s == NULL) return;
    free(s->p);
    free(s);
    v->sp = NULL;
}

/* "<seconds> <changes>" pairs; "" (or nothing) means no save points. */
static int saveParse(int argc, char **argv, cfgVal *out, char *why) {
    saveVal *s = cfgXcalloc(sizeof(*s));
    if (argc == 1 && argv[0][0] == '\0') argc = 0;
    if (argc % 2) goto err;
    s->p = cfgXrealloc(NULL, sizeof(savePoint) * (size_t)(argc / 2 + 1));
    for (int i = 0; i < argc; i += 2) {
        savePoint *sp = &s->p[s->n];
        if (cfgParseLL(argv[i], &sp->seconds) || sp->seconds < 1 ||
            cfgParseLL(argv[i + 1], &sp->changes) || sp->changes < 0)
            goto err;
        s->n++;
    }
    out->sp = s;
    return 0;
err:
    free(s->p);
    free(s);
    return cfgFail(why, "Invalid save parameters");
}

static int saveMerge(cfgVal *acc, cfgVal *in, int loading, char *why) {
    (void)why;
    saveVal *a = acc->sp, *b = in->sp;
    if (!loading || !a->seen || b->n == 0) a->n = 0;
    if (loading) a->seen = 1;
    a->p = cfgXrealloc(a->p, sizeof(savePoint) * (size_t)(a->n + b->n + 1));
    if (b->n) memcpy(a->p + a->n, b->p, sizeof(savePoint) * (size_t)b->n);
    a->n += b->n;
    saveRelease(in);
    return 0;
}

static void saveCapture(cfgVal *out) {
    saveVal *s = cfgXrealloc(NULL, sizeof(*s));
    *s = gSave;
    s->p = cfgXrealloc(NULL, sizeof(savePoint) * (size_t)(gSave.n + 1));
    if (gSave.n) memcpy(s->p, gSave.p, sizeof(savePoint) * (size_t)gSave.n);
    out->sp = s;
}

static void saveStore(cfgVal *v) {
    saveVal *s = v->sp;
    free(gSave.p);
    gSave = *s;
    free(s);
    v->sp = NULL;
}

static void saveFormat(const cfgVal *v, strbuf *out) {
    const saveVal *s = v->sp;
    for (int i = 0; i < s->n; i++)
        sbPrintf(out, "%s%lld %lld", i ? " " : "", s->p[i].seconds, s->p[i].changes);
}

/* One line per save point, or save "" so that the defaults stay off. */
static void saveLines(const char *name, const cfgVal *v, strbuf *out) {
    const saveVal *s = v->sp;
    if (s->n == 0) sbPrintf(out, "%s \"\"\n", name);
    for (int i = 0; i < s->n; i++)
        sbPrintf(out, "%s %lld %lld\n", name, s->p[i].seconds, s->p[i].changes);
}

const cfgSpecial saveOps = {saveParse, saveMerge, saveCapture, saveStore,
                                   saveFormat, saveLines, saveRelease};

/* ====================== Special: storage-provider ======================= */
/* "storage-provider flash <path>" sets cfg.storage_path; "none" clears it
 * (storage then lives in <dir>/strata-data).  The path travels in v->str. */

static int storageParse(int argc, char **argv, cfgVal *out, char *why) {
    if (argc == 2 && !strcasecmp(argv[0], "flash") && argv[1][0]) {
        out->str = cfgXstrdup(argv[1]);
        return 0;
    }
    if (argc == 1 && !strcasecmp(argv[0], "none")) return 0;
    return cfgFail(why, "argument must be 'flash <path>' or 'none'");
}

static void storageCapture(cfgVal *out) {
    out->str = cfg.storage_path ? cfgXstrdup(cfg.storage_path) : NULL;
}

static void storageStore(cfgVal *v) {
    free(cfg.storage_path);
    cfg.storage_path = v->str;
    v->str = NULL;
}

static void storageFormat(const cfgVal *v, strbuf *out) {
    if (v->str) sbPrintf(out, "flash %s", v->str);
    else sbAppendStr(out, "none");
}

static void storageLines(const char *name, const cfgVal *v, strbuf *out) {
    sbPrintf(out, "%s ", name);
    if (v->str) {
        sbAppendStr(out, "flash ");
        cfgAppendQuoted(out, v->str);
    } else {
        sbAppendStr(out, "none");
    }
    sbAppend(out, "\n", 1);
}

const cfgSpecial storageOps = {storageParse, NULL, storageCapture, storageStore,
                                      storageFormat, storageLines, NULL};

/* =================== Special: notify-keyspace-events ===================== */
/* Redis's class characters (notify.c parses and prints them); the flags
 * travel in v->ll. */

/* Redis's flag characters, in the order its CONFIG GET prints them. */
static const struct {
    char ch;
    int flag;
} notifyChars[] = {
    {'g', NOTIFY_GENERIC}, {'$', NOTIFY_STRING}, {'l', NOTIFY_LIST},     {'s', NOTIFY_SET},
    {'h', NOTIFY_HASH},    {'z', NOTIFY_ZSET},   {'x', NOTIFY_EXPIRED},  {'e', NOTIFY_EVICTED},
    {'t', NOTIFY_STREAM},  {'d', NOTIFY_MODULE}, {'K', NOTIFY_KEYSPACE}, {'E', NOTIFY_KEYEVENT},
    {'m', NOTIFY_KEY_MISS}, {'n', NOTIFY_NEW},
};
#define NOTIFY_NCHARS ((int)(sizeof(notifyChars) / sizeof(notifyChars[0])))

int cfgNotifyParse(const char *s, size_t len) {
    int flags = 0;
    for (size_t i = 0; i < len; i++) {
        int f = s[i] == 'A' ? NOTIFY_ALL : 0;
        for (int j = 0; j < NOTIFY_NCHARS && !f; j++)
            if (notifyChars[j].ch == s[i]) f = notifyChars[j].flag;
        if (!f) return -1;
        flags |= f;
    }
    return flags;
}

void cfgNotifyFormat(int flags, char *buf, size_t size) {
    size_t n = 0;
    int j = 0;
    if ((flags & NOTIFY_ALL) == NOTIFY_ALL) {
        buf[n++] = 'A';
        while (j < NOTIFY_NCHARS && notifyChars[j].flag != NOTIFY_KEYSPACE) j++;
    }
    /* Redis 7.0 accepts 'n' but does not print it back. */
    for (; j < NOTIFY_NCHARS && n + 1 < size; j++)
        if ((flags & notifyChars[j].flag) && notifyChars[j].flag != NOTIFY_NEW)
            buf[n++] = notifyChars[j].ch;
    buf[n] = '\0';
}

static int notifyParse(int argc, char **argv, cfgVal *out, char *why) {
    if (argc > 1) return cfgFail(why, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    int f = cfgNotifyParse(argc ? argv[0] : "", argc ? strlen(argv[0]) : 0);
    if (f < 0) return cfgFail(why, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    out->ll = f;
    return 0;
}

static void notifyCapture(cfgVal *out) { out->ll = cfg.notify_flags; }

static void notifyStore(cfgVal *v) { __atomic_store_n(&cfg.notify_flags, (int)v->ll, __ATOMIC_RELAXED); }

static void notifyFormat(const cfgVal *v, strbuf *out) {
    char buf[32];
    cfgNotifyFormat((int)v->ll, buf, sizeof(buf));
    sbAppendStr(out, buf);
}

static void notifyLines(const char *name, const cfgVal *v, strbuf *out) {
    char buf[32];
    cfgNotifyFormat((int)v->ll, buf, sizeof(buf));
    sbPrintf(out, "%s \"%s\"\n", name, buf);
}

const cfgSpecial notifyOps = {notifyParse, NULL, notifyCapture, notifyStore,
                                     notifyFormat, notifyLines, NULL};

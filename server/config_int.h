/* config_int.h - private declarations shared by config.c and
 * config_special.c: the value model of a directive (kinds, flags, parsed
 * values, the operations of special directives), the save points, and the
 * small helpers both use.  Nothing outside the config files includes it.
 */
#ifndef STRATA_CONFIG_INT_H
#define STRATA_CONFIG_INT_H

#include <stddef.h>

#include "config.h"
#include "util.h"

/* ============================ Value model ================================ */

enum { K_BOOL, K_INT, K_MEM, K_ENUM, K_STR, K_SPECIAL, K_INERT, K_INCLUDE };
enum { FT_NONE, FT_INT, FT_LL, FT_ULL, FT_STR };

/* Directive flags */
#define F_MUTABLE 1         /* CONFIG SET may change it */
#define F_INERT 2           /* accepted, stored, not acted on: warn once */
#define F_FILEONLY 4        /* config file / command line only, no GET/SET */
#define F_NULL_IF_EMPTY 8   /* K_STR: "" is stored as NULL */
#define F_SPLIT 16          /* CONFIG SET value is split into words */

/* A parsed value, not yet applied.  Owns str and sp (invariant 4). */
typedef struct cfgVal {
    long long ll;           /* numeric kinds: ll and ull hold the same bits */
    unsigned long long ull;
    char *str;              /* K_STR, K_INERT, storage-provider path */
    void *sp;               /* K_SPECIAL payload */
} cfgVal;

typedef struct cfgEnum {
    const char *name;
    int value;
} cfgEnum;

/* Operations of a special directive.  parse fills a fresh value (returns 0,
 * or -1 with a reason in why); merge folds `in` into `acc` (loading: the
 * repeatable semantics above; else replace) and always frees in's parts
 * (NULL: replace); capture copies the live state into a fresh value; store
 * moves a value into the live state (caller holds cfgMutex); format gives
 * CONFIG GET's text; lines gives CONFIG REWRITE's lines, each ending in '\n';
 * release frees a value's sp (NULL: free(sp)). */
typedef struct cfgSpecial {
    int (*parse)(int argc, char **argv, cfgVal *out, char *why);
    int (*merge)(cfgVal *acc, cfgVal *in, int loading, char *why);
    void (*capture)(cfgVal *out);
    void (*store)(cfgVal *v);
    void (*format)(const cfgVal *v, strbuf *out);
    void (*lines)(const char *name, const cfgVal *v, strbuf *out);
    void (*release)(cfgVal *v);
} cfgSpecial;

typedef struct cfgDirective {
    const char *name;
    const char *alias;          /* second name, or NULL */
    int kind;                   /* K_* */
    int flags;                  /* F_* */
    const char *def;            /* default, in config-file syntax */
    void *field;                /* &cfg.x for the simple kinds */
    int ft;                     /* FT_*: the C type of *field */
    long long min, max;         /* K_INT bounds */
    unsigned long long umin, umax; /* K_MEM bounds */
    const cfgEnum *enums;       /* K_ENUM names, NULL-terminated */
    const cfgSpecial *sp;       /* K_SPECIAL operations */
    char inert;                 /* K_INERT: 'b' 'i' 'm' 's' (see config_redis.h) */
} cfgDirective;

/* save points: Strata keeps data in RocksDB, so they are only stored. */
typedef struct savePoint {
    long long seconds;
    long long changes;
} savePoint;

typedef struct saveVal {
    int n;
    savePoint *p;               /* heap, n entries */
    int seen;                   /* a "save" line was loaded: later ones append */
} saveVal;

extern saveVal gSave;

/* Out of memory is fatal (config.c). */
void *cfgXrealloc(void *p, size_t n);
void *cfgXcalloc(size_t n);
char *cfgXstrdup(const char *s);
/* Writes a parse error reason into why (CFG_REASON_LEN bytes); returns -1. */
int cfgFail(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cfgParseLL(const char *s, long long *out);
void cfgAppendQuoted(strbuf *b, const char *s);
void cfgAppendMemory(strbuf *b, unsigned long long v);

/* The special directives (config_special.c). */
extern const cfgSpecial bindOps, replOps, cobOps, saveOps, storageOps, notifyOps;

#endif

/* resp.h - pure RESP2/RESP3 protocol code: the incremental request parser the
 * server runs for every client, a general reply (value) parser used by
 * replication and tests, and the reply encoders that append to a strbuf.
 *
 * Nothing here touches sockets or libevent; tests/unit/test_resp.c drives it
 * directly.  Error texts of the request parser are Redis 7.0's, byte for byte,
 * without the leading '-' (the reply layer adds it). */
#ifndef STRATA_RESP_H
#define STRATA_RESP_H

#include <stddef.h>

#include "util.h"

/* =============================== Limits ================================== */

/* Longest inline command line, and longest "*<n>" / "$<n>" header, that may
 * sit in the buffer without its terminator before the client is cut off. */
#define RESP_INLINE_MAX_BYTES (64 * 1024)
/* Most arguments one multibulk request may declare: INT_MAX, as Redis 7.0.
 * Safe because the parser grows argv as arguments arrive instead of
 * allocating the declared count up front. */
#define RESP_MAX_MULTIBULK_LEN 2147483647LL
/* Arguments at least this long are "big": the parser allocates them at their
 * final size as soon as the header arrives and copies bytes in as they come,
 * never re-reading or re-growing (Redis's PROTO_MBULK_BIG_ARG). */
#define RESP_BIG_ARG_BYTES (32 * 1024)
/* Deepest nesting of aggregates respParseValue() accepts. */
#define RESP_MAX_DEPTH 128

/* Return codes shared by both parsers. */
#define RESP_DONE 1
#define RESP_MORE 0
#define RESP_ERROR (-1)
#define RESP_REQ_DONE RESP_DONE
#define RESP_REQ_MORE RESP_MORE
#define RESP_REQ_ERROR RESP_ERROR

/* ============================ Request parser ============================= */

/* Parser state for one client connection.  Fields other than argc/argv/
 * argvlen are private.
 *
 * Ownership: after RESP_REQ_DONE, argv[0..argc-1] are malloc'd, NUL-terminated
 * copies owned by the respReq (argvlen[i] excludes the terminator).  They stay
 * valid until respReqReset()/respReqFree() or the next respParseRequest()
 * call.  A caller may take ownership of argv[i] by setting it to NULL; it then
 * frees it with free(). */
typedef struct respReq {
    int state;              /* private: where in a command the parser stands */
    int argc;               /* complete arguments (all of them after DONE) */
    char **argv;
    size_t *argvlen;
    int argv_cap;           /* slots allocated in argv/argvlen */
    long long mbulk_left;   /* arguments still to read in this multibulk */
    size_t bulk_len;        /* length of the argument being read */
    size_t bulk_got;        /* bytes of it copied so far */
    int crlf_left;          /* bytes of the argument's trailing CRLF to skip */
    char *cur;              /* the argument being read (bulk_len + 1 bytes) */
    strbuf line;            /* header or inline line carried across calls */
    strbuf tok;             /* inline tokenizer scratch */
    char errbuf[64];        /* message for errors that quote input bytes */
    const char *err;        /* sticky error once RESP_REQ_ERROR was returned */
} respReq;

void respReqInit(respReq *r);
/* Frees the arguments of the finished command and readies r for the next
 * one; keeps argv's capacity and the line buffers. */
void respReqReset(respReq *r);
/* Frees everything r owns, including a half-parsed command. */
void respReqFree(respReq *r);

/* Feeds buf[0..len) to the parser.  Returns:
 *   RESP_REQ_DONE  a whole command is in r->argc/argv/argvlen (argc >= 1);
 *                  *consumed bytes of buf belong to it (and to any empty
 *                  commands skipped before it).  Call again with the rest.
 *   RESP_REQ_MORE  every byte of buf was absorbed (*consumed == len) and the
 *                  parser needs more; call again with new bytes only.
 *   RESP_REQ_ERROR *err is Redis's protocol error text (without '-'); the
 *                  parser stays in error: the caller replies and closes.
 * Each byte is examined and copied at most once across calls.  Bulk lengths
 * above max_bulk_len are invalid (pass LLONG_MAX for no limit, e.g. a master
 * link).  Calling again after DONE resets r first. */
int respParseRequest(respReq *r, const char *buf, size_t len, size_t *consumed,
                     long long max_bulk_len, const char **err);

/* ============================= Value parser ============================== */

typedef enum respType {
    RESP_TYPE_SIMPLE,     /* +  str */
    RESP_TYPE_ERROR,      /* -  str */
    RESP_TYPE_INTEGER,    /* :  integer */
    RESP_TYPE_BULK,       /* $  str */
    RESP_TYPE_ARRAY,      /* *  element[] */
    RESP_TYPE_NULL,       /* _, $-1 or *-1 (see wire) */
    RESP_TYPE_DOUBLE,     /* ,  dval, and str holds the text as received */
    RESP_TYPE_BOOL,       /* #  integer is 1 or 0 */
    RESP_TYPE_BLOB_ERROR, /* !  str */
    RESP_TYPE_VERBATIM,   /* =  vformat + str (the payload after "fmt:") */
    RESP_TYPE_BIGNUM,     /* (  str (the digits, optional '-') */
    RESP_TYPE_MAP,        /* %  element[] = key, value, key, value, ... */
    RESP_TYPE_SET,        /* ~  element[] */
    RESP_TYPE_ATTRIBUTE,  /* |  element[] like MAP; only found in ->attribute */
    RESP_TYPE_PUSH        /* >  element[] */
} respType;

/* A parsed reply.  Every node and everything it points to is owned by the
 * root; respValueFree(root) releases the whole tree. */
typedef struct respValue {
    respType type;
    char wire;                   /* type byte as received ('$' '*' '_' ...) */
    long long integer;           /* INTEGER, BOOL */
    double dval;                 /* DOUBLE */
    char *str;                   /* string types: NUL-terminated copy, or NULL */
    size_t len;                  /* bytes in str, without the terminator */
    char vformat[4];             /* VERBATIM: 3-char format + NUL, e.g. "txt" */
    size_t elements;             /* children (MAP/ATTRIBUTE: 2 * pairs) */
    struct respValue **element;
    struct respValue *attribute; /* ATTRIBUTE map sent before this value */
} respValue;

/* Parses one complete value from buf[0..len).  On RESP_DONE *out is the new
 * tree (caller frees with respValueFree) and *consumed its length in bytes.
 * On RESP_MORE nothing is allocated: call again with a longer buffer.  On
 * RESP_ERROR *err describes the problem (static text).  Attributes ('|') are
 * attached to the value they precede; several in a row are merged.  RESP3
 * streamed strings/aggregates ("$?") are not supported (RESP_ERROR). */
int respParseValue(const char *buf, size_t len, size_t *consumed, respValue **out,
                   const char **err);
/* Frees v and all its children; NULL is allowed. */
void respValueFree(respValue *v);

/* =============================== Encoders ================================ */
/* All append to b (growing it; see util.h) and keep b NUL-terminated.  resp
 * is the client's protocol version, 2 or 3.  Headers and integers are
 * formatted without printf. */

/* "+s\r\n"; CR/LF inside s become spaces so the reply cannot be split. */
void respAppendSimple(strbuf *b, const char *s, size_t len);
/* "-s\r\n"; the '-' is not doubled if s already starts with one; CR/LF inside
 * s become spaces. */
void respAppendError(strbuf *b, const char *s, size_t len);
void respAppendInteger(strbuf *b, long long v);          /* ":v\r\n" */
void respAppendBulk(strbuf *b, const void *s, size_t len); /* "$len\r\ns\r\n" */
void respAppendBulkCString(strbuf *b, const char *s);
void respAppendBulkLongLong(strbuf *b, long long v);     /* v as a bulk string */
void respAppendNullBulk(strbuf *b, int resp);             /* "$-1" / "_" */
void respAppendNullArray(strbuf *b, int resp);            /* "*-1" / "_" */
void respAppendArrayLen(strbuf *b, long long n);          /* "*n" */
void respAppendMapLen(strbuf *b, long long n, int resp);  /* "%n" / "*2n" */
void respAppendSetLen(strbuf *b, long long n, int resp);  /* "~n" / "*n" */
void respAppendPushLen(strbuf *b, long long n, int resp); /* ">n" / "*n" */
/* RESP3 ",<d>\r\n"; RESP2 bulk string.  Text as d2string(): %.17g, "inf",
 * "-inf", "nan". */
void respAppendDouble(strbuf *b, double d, int resp);
void respAppendBool(strbuf *b, int v, int resp);          /* "#t"/"#f" / ":1"/":0" */
/* RESP3 "=<len+4>\r\nfmt:s\r\n" (fmt3 is 3 chars, e.g. "txt"); RESP2 bulk. */
void respAppendVerbatim(strbuf *b, const char *s, size_t len, const char *fmt3, int resp);
/* RESP3 "(s\r\n"; RESP2 bulk.  s is the decimal text of the number. */
void respAppendBigNumber(strbuf *b, const char *s, size_t len, int resp);

#endif

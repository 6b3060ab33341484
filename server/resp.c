/* resp.c - implements the pure RESP2/RESP3 code declared in resp.h: the
 * incremental per-client request parser, the general reply parser, and the
 * reply encoders.
 *
 * Request parser design
 * ---------------------
 * The server hands us whatever a read() produced.  Redis keeps unparsed bytes
 * in the client's query buffer and re-searches it on each read; we instead
 * absorb every byte into the parser state the first time we see it, so the
 * caller can always drop what we consumed and no byte is scanned twice:
 *
 *   - argument payloads are copied straight into their final allocation,
 *     made once at the exact size when the "$<n>" header completes (so a
 *     512 MB bulk arriving in 16 KB reads costs one malloc and one copy);
 *   - a header ("*<n>", "$<n>") or an inline line split across reads is
 *     carried in r->line; bytes already carried never contain the terminator
 *     we are looking for, so the search resumes at the new bytes.
 *
 * States and the code that moves between them (all in respParseRequest):
 *
 *            '*'                 n > 0                 $len complete
 *   START ------> MBULK_HDR ------------> BULK_HDR -----------> BULK_DATA
 *     |  \         | n <= 0 (empty cmd)     ^                      |
 *     |   \        v                        | more args   all bytes|
 *     |    `----- START                     |                      v
 *     | other                               `---------------- BULK_CRLF
 *     v                                                            | last arg
 *   INLINE --(line complete, argc > 0)--> DONE <-------------------'
 *     `----(empty line)--> START
 *   any state --(protocol error)--> ERROR (sticky until respReqReset)
 *
 * Invariants:
 *   1. r->argv[0..argc) are complete arguments; r->cur is the one being read.
 *   2. r->line never holds the terminator being searched for, except a '\r'
 *      as its very last byte (header whose '\n' has not arrived yet).
 *   3. On RESP_MORE the caller's whole buffer was consumed.
 *
 * Like Redis, the byte after a header's '\r' and the two bytes after a bulk
 * payload are skipped without checking they are '\n' / "\r\n". */
#include "resp.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Request parser states (respReq.state). */
#define RS_START 0
#define RS_INLINE 1
#define RS_MBULK_HDR 2
#define RS_BULK_HDR 3
#define RS_BULK_DATA 4
#define RS_BULK_CRLF 5
#define RS_DONE 6
#define RS_ERROR 7

/* argv slots kept across commands; larger arrays are released on reset so
 * one huge MSET does not pin memory for the connection's lifetime. */
#define REQ_ARGV_KEEP_SLOTS 1024
/* Line buffer capacity kept across commands. */
#define REQ_LINE_KEEP_BYTES (2 * RESP_INLINE_MAX_BYTES)

/* Longest "<type><int64>\r\n" header an encoder writes. */
#define ENC_HDR_MAX_BYTES 23
/* Longest text d2string() produces for a finite double, with margin. */
#define ENC_DBL_MAX_BYTES 40

static const char errInvalidMbulk[] = "ERR Protocol error: invalid multibulk length";
static const char errInvalidBulk[] = "ERR Protocol error: invalid bulk length";
static const char errTooBigInline[] = "ERR Protocol error: too big inline request";
static const char errTooBigMbulk[] = "ERR Protocol error: too big mbulk count string";
static const char errTooBigBulk[] = "ERR Protocol error: too big bulk count string";
static const char errUnbalanced[] = "ERR Protocol error: unbalanced quotes in request";

/* ============================== Allocation ================================ */

/* Out of memory is fatal for the server, as in Redis. */
static void *respMalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "strata: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return p;
}

static void *respRealloc(void *old, size_t n) {
    void *p = realloc(old, n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "strata: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return p;
}

/* ====================== Request parser: helpers =========================== */

/* Makes room for at least `need` arguments.  `hint` caps doubling for
 * multibulk requests (the declared count), 0 for inline. */
static void reqEnsureArgv(respReq *r, long long need, long long hint) {
    long long ncap;

    if (need <= r->argv_cap) return;
    ncap = r->argv_cap ? (long long)r->argv_cap * 2 : 8;
    if (hint > 0 && ncap > hint) ncap = hint;
    if (ncap < need) ncap = need;
    r->argv = respRealloc(r->argv, (size_t)ncap * sizeof(*r->argv));
    r->argvlen = respRealloc(r->argvlen, (size_t)ncap * sizeof(*r->argvlen));
    r->argv_cap = (int)ncap;
}

/* Appends an argument; takes ownership of s (malloc'd, NUL-terminated). */
static void reqPushArg(respReq *r, char *s, size_t len, long long hint) {
    reqEnsureArgv(r, (long long)r->argc + 1, hint);
    r->argv[r->argc] = s;
    r->argvlen[r->argc] = len;
    r->argc++;
}

static void reqFreeArgs(respReq *r) {
    int i;
    for (i = 0; i < r->argc; i++) free(r->argv[i]);
    r->argc = 0;
    free(r->cur);
    r->cur = NULL;
}

static int reqFail(respReq *r, const char *msg, size_t pos, size_t *consumed, const char **err) {
    r->state = RS_ERROR;
    r->err = msg;
    *consumed = pos;
    *err = msg;
    return RESP_ERROR;
}

/* Collects a "*<n>" or "$<n>" header: the bytes up to '\r', plus one more
 * byte standing for '\n'.  Returns 1 with *hdr, *hlen = the header without
 * "\r\n" (type byte included; *hdr may point into r->line, which the caller
 * clears after use), 0 if buf ran out (bytes carried in r->line, *pos ==
 * len), or -1 if more than RESP_INLINE_MAX_BYTES arrived without '\r'.
 * Requires *pos < len. */
static int reqTakeHeader(respReq *r, const char *buf, size_t len, size_t *pos,
                         const char **hdr, size_t *hlen) {
    size_t p = *pos, avail = len - p, n;
    const char *cr;

    if (r->line.len && r->line.buf[r->line.len - 1] == '\r') {
        *pos = p + 1; /* this byte is the '\n' */
        *hdr = r->line.buf;
        *hlen = r->line.len - 1;
        return 1;
    }
    cr = memchr(buf + p, '\r', avail);
    if (cr == NULL) {
        if (r->line.len + avail > RESP_INLINE_MAX_BYTES) return -1;
        sbAppend(&r->line, buf + p, avail);
        *pos = len;
        return 0;
    }
    n = (size_t)(cr - (buf + p));
    if (n + 1 == avail) { /* '\r' is the last byte we have */
        sbAppend(&r->line, buf + p, avail);
        *pos = len;
        return 0;
    }
    *pos = p + n + 2;
    if (r->line.len == 0) {
        *hdr = buf + p;
        *hlen = n;
    } else {
        sbAppend(&r->line, buf + p, n);
        *hdr = r->line.buf;
        *hlen = r->line.len;
    }
    return 1;
}

/* Collects an inline line up to '\n' (a '\r' before it is dropped).  Same
 * return convention as reqTakeHeader(). */
static int reqTakeLine(respReq *r, const char *buf, size_t len, size_t *pos,
                       const char **line, size_t *linelen) {
    size_t p = *pos, avail = len - p, n;
    const char *nl = memchr(buf + p, '\n', avail);

    if (nl == NULL) {
        if (r->line.len + avail > RESP_INLINE_MAX_BYTES) return -1;
        sbAppend(&r->line, buf + p, avail);
        *pos = len;
        return 0;
    }
    n = (size_t)(nl - (buf + p));
    *pos = p + n + 1;
    if (r->line.len == 0) {
        *line = buf + p;
        *linelen = n;
    } else {
        sbAppend(&r->line, buf + p, n);
        *line = r->line.buf;
        *linelen = r->line.len;
    }
    if (*linelen && (*line)[*linelen - 1] == '\r') (*linelen)--;
    return 1;
}

static int hexValue(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
}

/* Pushes r->tok as a new argument. */
static void reqPushToken(respReq *r) {
    char *s = respMalloc(r->tok.len + 1);
    if (r->tok.len) memcpy(s, r->tok.buf, r->tok.len);
    s[r->tok.len] = '\0';
    reqPushArg(r, s, r->tok.len, 0);
}

/* Splits an inline line into r->argv with Redis's sdssplitargs() rules:
 * tokens separated by whitespace; "..." understands \n \r \t \b \a \xHH and
 * \<any> (the byte itself); '...' understands only \'; a closing quote must
 * be followed by whitespace or the end of the line.  Unlike sdssplitargs the
 * line is length-delimited, so a NUL byte separates unquoted tokens and is a
 * plain byte inside quotes (Redis never sees such lines: its strchr() stops
 * at the NUL and waits for a '\n' forever).  Returns 0, or -1 on unbalanced
 * quotes (arguments pushed so far stay in argv for respReqReset). */
static int reqSplitInline(respReq *r, const char *p, size_t n) {
    const char *end = p + n;

    for (;;) {
        int inq = 0, insq = 0, done = 0;

        while (p < end && isspace((unsigned char)*p)) p++;
        if (p == end) return 0;
        sbClear(&r->tok);
        while (!done) {
            if (inq) {
                if (p == end) return -1;
                if (*p == '\\' && end - p >= 4 && p[1] == 'x' &&
                    isxdigit((unsigned char)p[2]) && isxdigit((unsigned char)p[3])) {
                    char c = (char)(hexValue((unsigned char)p[2]) * 16 +
                                    hexValue((unsigned char)p[3]));
                    sbAppend(&r->tok, &c, 1);
                    p += 3;
                } else if (*p == '\\' && end - p >= 2) {
                    char c;
                    p++;
                    switch (*p) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = *p; break;
                    }
                    sbAppend(&r->tok, &c, 1);
                } else if (*p == '"') {
                    if (end - p >= 2 && !isspace((unsigned char)p[1])) return -1;
                    done = 1;
                } else {
                    sbAppend(&r->tok, p, 1);
                }
            } else if (insq) {
                if (p == end) return -1;
                if (*p == '\\' && end - p >= 2 && p[1] == '\'') {
                    p++;
                    sbAppend(&r->tok, "'", 1);
                } else if (*p == '\'') {
                    if (end - p >= 2 && !isspace((unsigned char)p[1])) return -1;
                    done = 1;
                } else {
                    sbAppend(&r->tok, p, 1);
                }
            } else if (p == end) {
                done = 1;
            } else {
                /* Only these end a bare token; \v and \f are token bytes
                 * here although leading isspace() skipping eats them. */
                switch (*p) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0': done = 1; break;
                case '"': inq = 1; break;
                case '\'': insq = 1; break;
                default: sbAppend(&r->tok, p, 1); break;
                }
            }
            if (p < end) p++;
        }
        reqPushToken(r);
    }
}

/* ====================== Request parser: public API ======================== */

void respReqInit(respReq *r) {
    memset(r, 0, sizeof(*r));
    r->state = RS_START;
    sbInit(&r->line);
    sbInit(&r->tok);
}

void respReqReset(respReq *r) {
    reqFreeArgs(r);
    if (r->argv_cap > REQ_ARGV_KEEP_SLOTS) {
        free(r->argv);
        free(r->argvlen);
        r->argv = NULL;
        r->argvlen = NULL;
        r->argv_cap = 0;
    }
    if (r->line.cap > REQ_LINE_KEEP_BYTES) sbFree(&r->line);
    else sbClear(&r->line);
    if (r->tok.cap > REQ_LINE_KEEP_BYTES) sbFree(&r->tok);
    else sbClear(&r->tok);
    r->state = RS_START;
    r->mbulk_left = 0;
    r->bulk_len = 0;
    r->bulk_got = 0;
    r->crlf_left = 0;
    r->err = NULL;
}

void respReqFree(respReq *r) {
    reqFreeArgs(r);
    free(r->argv);
    free(r->argvlen);
    sbFree(&r->line);
    sbFree(&r->tok);
    respReqInit(r);
}

int respParseRequest(respReq *r, const char *buf, size_t len, size_t *consumed,
                     long long max_bulk_len, const char **err) {
    size_t pos = 0;

    if (r->state == RS_DONE) respReqReset(r);
    if (r->state == RS_ERROR) {
        *consumed = 0;
        *err = r->err;
        return RESP_ERROR;
    }
    while (pos < len) {
        switch (r->state) {
        case RS_START:
            r->state = buf[pos] == '*' ? RS_MBULK_HDR : RS_INLINE;
            break;

        case RS_INLINE: {
            const char *line = NULL;
            size_t linelen = 0;
            int rc = reqTakeLine(r, buf, len, &pos, &line, &linelen);
            if (rc < 0) return reqFail(r, errTooBigInline, pos, consumed, err);
            if (rc == 0) break;
            rc = reqSplitInline(r, line, linelen);
            sbClear(&r->line);
            if (rc < 0) return reqFail(r, errUnbalanced, pos, consumed, err);
            if (r->argc == 0) { /* empty line: nothing to run */
                r->state = RS_START;
                break;
            }
            r->state = RS_DONE;
            *consumed = pos;
            return RESP_DONE;
        }

        case RS_MBULK_HDR: {
            const char *hdr = NULL;
            size_t hlen = 0;
            long long n;
            int ok, rc = reqTakeHeader(r, buf, len, &pos, &hdr, &hlen);
            if (rc < 0) return reqFail(r, errTooBigMbulk, pos, consumed, err);
            if (rc == 0) break;
            ok = string2ll(hdr + 1, hlen - 1, &n); /* hdr[0] is '*' */
            sbClear(&r->line);
            if (!ok || n > RESP_MAX_MULTIBULK_LEN)
                return reqFail(r, errInvalidMbulk, pos, consumed, err);
            if (n <= 0) { /* "*0", "*-1": empty command, skipped */
                r->state = RS_START;
                break;
            }
            r->mbulk_left = n;
            reqEnsureArgv(r, n < REQ_ARGV_KEEP_SLOTS ? n : REQ_ARGV_KEEP_SLOTS, n);
            r->state = RS_BULK_HDR;
            break;
        }

        case RS_BULK_HDR: {
            const char *hdr = NULL;
            size_t hlen = 0;
            long long n;
            int ok, rc = reqTakeHeader(r, buf, len, &pos, &hdr, &hlen);
            if (rc < 0) return reqFail(r, errTooBigBulk, pos, consumed, err);
            if (rc == 0) break;
            if (hdr[0] != '$') {
                /* hlen may be 0: hdr[0] is then the '\r' itself, as Redis
                 * reports it (its error encoder turns it into a space). */
                snprintf(r->errbuf, sizeof(r->errbuf),
                         "ERR Protocol error: expected '$', got '%c'", hdr[0]);
                sbClear(&r->line);
                return reqFail(r, r->errbuf, pos, consumed, err);
            }
            ok = string2ll(hdr + 1, hlen - 1, &n);
            sbClear(&r->line);
            if (!ok || n < 0 || n > max_bulk_len || (unsigned long long)n >= SIZE_MAX)
                return reqFail(r, errInvalidBulk, pos, consumed, err);
            /* One allocation at the final size, big or small: payload bytes
             * are then copied exactly once, whatever the read pattern. */
            r->cur = respMalloc((size_t)n + 1);
            r->bulk_len = (size_t)n;
            r->bulk_got = 0;
            r->state = RS_BULK_DATA;
            break;
        }

        case RS_BULK_DATA: {
            size_t want = r->bulk_len - r->bulk_got, avail = len - pos;
            size_t n = want < avail ? want : avail;
            memcpy(r->cur + r->bulk_got, buf + pos, n);
            r->bulk_got += n;
            pos += n;
            if (r->bulk_got == r->bulk_len) {
                r->crlf_left = 2;
                r->state = RS_BULK_CRLF;
            }
            break;
        }

        case RS_BULK_CRLF: {
            size_t avail = len - pos;
            size_t n = (size_t)r->crlf_left < avail ? (size_t)r->crlf_left : avail;
            pos += n;
            r->crlf_left -= (int)n;
            if (r->crlf_left) break;
            r->cur[r->bulk_len] = '\0';
            reqPushArg(r, r->cur, r->bulk_len, (long long)r->argc + r->mbulk_left);
            r->cur = NULL;
            if (--r->mbulk_left == 0) {
                r->state = RS_DONE;
                *consumed = pos;
                return RESP_DONE;
            }
            r->state = RS_BULK_HDR;
            break;
        }

        default: /* RS_DONE / RS_ERROR were handled above */
            return reqFail(r, errInvalidMbulk, pos, consumed, err);
        }
    }
    *consumed = pos;
    return RESP_MORE;
}

/* ========================= Value parser: helpers ========================== */
/* The parser runs twice over a candidate value: first in "scan" mode (out ==
 * NULL) which allocates nothing and answers DONE/MORE/ERROR, then, only on
 * DONE, in "build" mode which cannot fail.  A truncated reply therefore costs
 * no allocation, and a hostile "*2147483647" cannot make us allocate a huge
 * element array: by then scanning has proved every element is present. */

typedef struct valCursor {
    const char *buf;
    size_t len;
    size_t pos;
    const char *err;
} valCursor;

static int valError(valCursor *c, const char *msg) {
    c->err = msg;
    return RESP_ERROR;
}

/* Reads the CRLF-terminated line at c->pos (after the type byte). */
static int valLine(valCursor *c, const char **line, size_t *n) {
    const char *start = c->buf + c->pos;
    size_t avail = c->len - c->pos, off;
    const char *cr = memchr(start, '\r', avail);

    if (cr == NULL) return RESP_MORE;
    off = (size_t)(cr - start);
    if (off + 1 >= avail) return RESP_MORE;
    if (cr[1] != '\n') return valError(c, "Protocol error: CR not followed by LF");
    *line = start;
    *n = off;
    c->pos += off + 2;
    return RESP_DONE;
}

/* Parses a length/count line; -1 is accepted only when allow_null. */
static int valLength(valCursor *c, int allow_null, long long *out) {
    const char *line;
    size_t n;
    int rc = valLine(c, &line, &n);

    if (rc != RESP_DONE) return rc;
    if (n == 1 && line[0] == '?')
        return valError(c, "Protocol error: streamed RESP3 types are not supported");
    if (!string2ll(line, n, out) || *out < -1 || (*out == -1 && !allow_null))
        return valError(c, "Protocol error: invalid length");
    return RESP_DONE;
}

static respValue *valNew(respType type, char wire) {
    respValue *v = respMalloc(sizeof(*v));
    memset(v, 0, sizeof(*v));
    v->type = type;
    v->wire = wire;
    return v;
}

static void valSetStr(respValue *v, const char *s, size_t n) {
    v->str = respMalloc(n + 1);
    if (n) memcpy(v->str, s, n);
    v->str[n] = '\0';
    v->len = n;
}

static int valParse(valCursor *c, int depth, respValue **out);

/* Parses `count` children at depth+1 into v->element (build mode). */
static int valChildren(valCursor *c, int depth, size_t count, respValue *v) {
    size_t i;

    if (depth + 1 > RESP_MAX_DEPTH) return valError(c, "Protocol error: nesting too deep");
    if (v && count) {
        v->element = respMalloc(count * sizeof(*v->element));
        memset(v->element, 0, count * sizeof(*v->element));
    }
    for (i = 0; i < count; i++) {
        int rc = valParse(c, depth + 1, v ? &v->element[i] : NULL);
        if (rc != RESP_DONE) return rc;
        if (v) v->elements++;
    }
    return RESP_DONE;
}

static int isBigNumber(const char *s, size_t n) {
    size_t i = 0;
    if (n && (s[0] == '-' || s[0] == '+')) i = 1;
    if (i == n) return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* Parses a RESP3 double's text (also "inf", "-inf", "nan"). */
static int parseDoubleText(const char *s, size_t n, double *out) {
    char buf[128];
    char *eptr;

    if (n == 0 || n >= sizeof(buf) || isspace((unsigned char)s[0])) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *out = strtod(buf, &eptr);
    return (size_t)(eptr - buf) == n;
}

/* Merges attribute map `add` into *attr (build mode), freeing `add`. */
static void valMergeAttribute(respValue **attr, respValue *add) {
    respValue *a = *attr;
    if (a == NULL) {
        *attr = add;
        return;
    }
    if (add->elements) {
        a->element = respRealloc(a->element, (a->elements + add->elements) * sizeof(*a->element));
        memcpy(a->element + a->elements, add->element, add->elements * sizeof(*a->element));
        a->elements += add->elements;
        add->elements = 0;
    }
    respValueFree(add);
}

/* Parses a "$" / "!" / "=" payload of declared length n. */
static int valBlob(valCursor *c, char t, long long n, respValue **out) {
    const char *p;
    respValue *v;

    if (c->len - c->pos < (size_t)n + 2) return RESP_MORE;
    p = c->buf + c->pos;
    if (p[n] != '\r' || p[n + 1] != '\n')
        return valError(c, "Protocol error: bulk payload not followed by CRLF");
    if (t == '=' && (n < 4 || p[3] != ':'))
        return valError(c, "Protocol error: invalid verbatim string");
    c->pos += (size_t)n + 2;
    if (!out) return RESP_DONE;
    if (t == '$') {
        v = valNew(RESP_TYPE_BULK, t);
        valSetStr(v, p, (size_t)n);
    } else if (t == '!') {
        v = valNew(RESP_TYPE_BLOB_ERROR, t);
        valSetStr(v, p, (size_t)n);
    } else {
        v = valNew(RESP_TYPE_VERBATIM, t);
        memcpy(v->vformat, p, 3);
        v->vformat[3] = '\0';
        valSetStr(v, p + 4, (size_t)n - 4);
    }
    *out = v;
    return RESP_DONE;
}

/* Parses a value of a line-only type (+ - : , # _ ( ). */
static int valSimple(valCursor *c, char t, respValue **out) {
    const char *line;
    size_t n;
    long long ll = 0;
    double d = 0;
    respValue *v;
    int rc = valLine(c, &line, &n);

    if (rc != RESP_DONE) return rc;
    switch (t) {
    case ':':
        if (!string2ll(line, n, &ll)) return valError(c, "Protocol error: invalid integer");
        break;
    case ',':
        if (!parseDoubleText(line, n, &d)) return valError(c, "Protocol error: invalid double");
        break;
    case '#':
        if (n != 1 || (line[0] != 't' && line[0] != 'f'))
            return valError(c, "Protocol error: invalid boolean");
        ll = line[0] == 't';
        break;
    case '_':
        if (n != 0) return valError(c, "Protocol error: invalid null");
        break;
    case '(':
        if (!isBigNumber(line, n)) return valError(c, "Protocol error: invalid big number");
        break;
    }
    if (!out) return RESP_DONE;
    switch (t) {
    case '+': v = valNew(RESP_TYPE_SIMPLE, t); valSetStr(v, line, n); break;
    case '-': v = valNew(RESP_TYPE_ERROR, t); valSetStr(v, line, n); break;
    case ':': v = valNew(RESP_TYPE_INTEGER, t); v->integer = ll; break;
    case ',': v = valNew(RESP_TYPE_DOUBLE, t); v->dval = d; valSetStr(v, line, n); break;
    case '#': v = valNew(RESP_TYPE_BOOL, t); v->integer = ll; break;
    case '_': v = valNew(RESP_TYPE_NULL, t); break;
    default: v = valNew(RESP_TYPE_BIGNUM, t); valSetStr(v, line, n); break;
    }
    *out = v;
    return RESP_DONE;
}

/* Parses one value at c->pos, with any attributes in front of it.  Scan mode
 * when out == NULL; in build mode *out receives the value (also on failure,
 * where it may be partial and the caller frees it). */
static int valParse(valCursor *c, int depth, respValue **out) {
    respValue *attr = NULL, *v = NULL;
    long long n;
    int rc;
    char t;

    for (;;) {
        if (c->pos >= c->len) {
            rc = RESP_MORE;
            goto err;
        }
        t = c->buf[c->pos];
        if (t != '|') break;
        c->pos++;
        if ((rc = valLength(c, 0, &n)) != RESP_DONE) goto err;
        if ((unsigned long long)n > (SIZE_MAX / 2)) {
            rc = valError(c, "Protocol error: invalid length");
            goto err;
        }
        if (out) v = valNew(RESP_TYPE_ATTRIBUTE, '|');
        rc = valChildren(c, depth, (size_t)n * 2, v);
        if (out) valMergeAttribute(&attr, v);
        v = NULL;
        if (rc != RESP_DONE) goto err;
    }
    c->pos++;
    switch (t) {
    case '+': case '-': case ':': case ',': case '#': case '_': case '(':
        rc = valSimple(c, t, out ? &v : NULL);
        break;
    case '$': case '!': case '=':
        if ((rc = valLength(c, t == '$', &n)) != RESP_DONE) break;
        if (n == -1) {
            if (out) v = valNew(RESP_TYPE_NULL, t);
            break;
        }
        rc = valBlob(c, t, n, out ? &v : NULL);
        break;
    case '*': case '%': case '~': case '>': {
        respType type = t == '*' ? RESP_TYPE_ARRAY : t == '%' ? RESP_TYPE_MAP
                      : t == '~' ? RESP_TYPE_SET : RESP_TYPE_PUSH;
        if ((rc = valLength(c, t == '*', &n)) != RESP_DONE) break;
        if (n == -1) {
            if (out) v = valNew(RESP_TYPE_NULL, t);
            break;
        }
        if ((unsigned long long)n > (SIZE_MAX / 2)) {
            rc = valError(c, "Protocol error: invalid length");
            break;
        }
        if (out) v = valNew(type, t);
        rc = valChildren(c, depth, t == '%' ? (size_t)n * 2 : (size_t)n, v);
        break;
    }
    default:
        rc = valError(c, "Protocol error: unknown RESP type byte");
        break;
    }
    if (rc != RESP_DONE) goto err;
    if (out) {
        v->attribute = attr;
        *out = v;
    }
    return RESP_DONE;

err:
    respValueFree(attr);
    respValueFree(v);
    if (out) *out = NULL;
    return rc;
}

/* ========================= Value parser: public API ======================= */

int respParseValue(const char *buf, size_t len, size_t *consumed, respValue **out,
                   const char **err) {
    valCursor c = {buf, len, 0, NULL};
    int rc;

    *out = NULL;
    rc = valParse(&c, 0, NULL);
    if (rc == RESP_ERROR) *err = c.err;
    if (rc != RESP_DONE) return rc;
    *consumed = c.pos;
    c.pos = 0;
    rc = valParse(&c, 0, out); /* cannot fail: the scan accepted these bytes */
    return rc;
}

void respValueFree(respValue *v) {
    size_t i;

    if (v == NULL) return;
    for (i = 0; i < v->elements; i++) respValueFree(v->element[i]);
    free(v->element);
    respValueFree(v->attribute);
    free(v->str);
    free(v);
}

/* ============================== Encoders ================================== */
/* Pattern: reserve the worst case once, write through a raw pointer, then
 * commit the new length (which also restores the NUL terminator). */

static char *encBegin(strbuf *b, size_t worst) {
    sbReserve(b, worst);
    return b->buf + b->len;
}

static void encCommit(strbuf *b, char *end) {
    b->len = (size_t)(end - b->buf);
    *end = '\0';
}

/* Writes "<type><n>\r\n" at p; returns the end.  Needs ENC_HDR_MAX_BYTES. */
static char *encHeader(char *p, char type, long long n) {
    *p++ = type;
    if (n >= 0 && n < 10) *p++ = (char)('0' + n);
    else p += ll2string(p, ENC_HDR_MAX_BYTES, n);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static void encAppendHeader(strbuf *b, char type, long long n) {
    encCommit(b, encHeader(encBegin(b, ENC_HDR_MAX_BYTES), type, n));
}

/* "<type>s\r\n" with CR/LF in s turned into spaces. */
static void encLineSanitized(strbuf *b, char type, const char *s, size_t len) {
    char *p = encBegin(b, len + 3);
    size_t i;

    *p++ = type;
    for (i = 0; i < len; i++) {
        char ch = s[i];
        *p++ = (ch == '\r' || ch == '\n') ? ' ' : ch;
    }
    *p++ = '\r';
    *p++ = '\n';
    encCommit(b, p);
}

void respAppendSimple(strbuf *b, const char *s, size_t len) {
    encLineSanitized(b, '+', s, len);
}

void respAppendError(strbuf *b, const char *s, size_t len) {
    if (len && s[0] == '-') {
        s++;
        len--;
    }
    encLineSanitized(b, '-', s, len);
}

void respAppendInteger(strbuf *b, long long v) {
    encAppendHeader(b, ':', v);
}

void respAppendBulk(strbuf *b, const void *s, size_t len) {
    char *p = encBegin(b, ENC_HDR_MAX_BYTES + len + 2);
    p = encHeader(p, '$', (long long)len);
    if (len) memcpy(p, s, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    encCommit(b, p);
}

void respAppendBulkCString(strbuf *b, const char *s) {
    respAppendBulk(b, s, strlen(s));
}

void respAppendBulkLongLong(strbuf *b, long long v) {
    char tmp[24];
    int n = ll2string(tmp, sizeof(tmp), v);
    respAppendBulk(b, tmp, (size_t)n);
}

void respAppendNullBulk(strbuf *b, int resp) {
    if (resp >= 3) sbAppend(b, "_\r\n", 3);
    else sbAppend(b, "$-1\r\n", 5);
}

void respAppendNullArray(strbuf *b, int resp) {
    if (resp >= 3) sbAppend(b, "_\r\n", 3);
    else sbAppend(b, "*-1\r\n", 5);
}

void respAppendArrayLen(strbuf *b, long long n) {
    encAppendHeader(b, '*', n);
}

void respAppendMapLen(strbuf *b, long long n, int resp) {
    if (resp >= 3) encAppendHeader(b, '%', n);
    else encAppendHeader(b, '*', n * 2); /* RESP2: flat key, value, ... */
}

void respAppendSetLen(strbuf *b, long long n, int resp) {
    encAppendHeader(b, resp >= 3 ? '~' : '*', n);
}

void respAppendPushLen(strbuf *b, long long n, int resp) {
    encAppendHeader(b, resp >= 3 ? '>' : '*', n);
}

void respAppendDouble(strbuf *b, double d, int resp) {
    char tmp[ENC_DBL_MAX_BYTES];
    int n = d2string(tmp, sizeof(tmp), d);

    if (resp >= 3) {
        char *p = encBegin(b, (size_t)n + 3);
        *p++ = ',';
        memcpy(p, tmp, (size_t)n);
        p += n;
        *p++ = '\r';
        *p++ = '\n';
        encCommit(b, p);
    } else {
        respAppendBulk(b, tmp, (size_t)n);
    }
}

void respAppendBool(strbuf *b, int v, int resp) {
    if (resp >= 3) sbAppend(b, v ? "#t\r\n" : "#f\r\n", 4);
    else sbAppend(b, v ? ":1\r\n" : ":0\r\n", 4);
}

void respAppendVerbatim(strbuf *b, const char *s, size_t len, const char *fmt3, int resp) {
    char *p;

    if (resp < 3) {
        respAppendBulk(b, s, len);
        return;
    }
    p = encBegin(b, ENC_HDR_MAX_BYTES + 4 + len + 2);
    p = encHeader(p, '=', (long long)len + 4);
    memcpy(p, fmt3, 3);
    p[3] = ':';
    p += 4;
    if (len) memcpy(p, s, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    encCommit(b, p);
}

void respAppendBigNumber(strbuf *b, const char *s, size_t len, int resp) {
    if (resp < 3) {
        respAppendBulk(b, s, len);
        return;
    }
    encLineSanitized(b, '(', s, len);
}

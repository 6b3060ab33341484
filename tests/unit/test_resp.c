/* test_resp.c - cmocka tests for server/resp.c: the incremental request
 * parser (multibulk, inline, pipelining, every split point, Redis's error
 * texts and limits), the RESP2/RESP3 value parser, and the encoders' exact
 * bytes.  Protocol error texts were checked against redis-server 7.0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/resp.h"

#define MAX_BULK_BYTES (512LL * 1024 * 1024)

/* ========================== Request test helpers ========================== */

/* Appends one finished command to a transcript: "argc{len:bytes}...\n". */
static void transcriptCommand(strbuf *t, const respReq *r) {
    int i;
    sbPrintf(t, "%d", r->argc);
    for (i = 0; i < r->argc; i++) {
        assert_non_null(r->argv[i]);
        assert_int_equal(r->argv[i][r->argvlen[i]], '\0');
        sbPrintf(t, "{%zu:", r->argvlen[i]);
        sbAppend(t, r->argv[i], r->argvlen[i]);
        sbAppend(t, "}", 1);
    }
    sbAppend(t, "\n", 1);
}

/* Runs data through one respReq the way the server does: delivered in pieces
 * ending at the offsets cuts[0..ncuts) (ascending), then the rest.  Checks
 * the consumed-bytes contract at each call and writes a transcript of the
 * commands (and "ERR:<text>" on a protocol error) into *t.  Returns the
 * number of commands. */
static int runStream(const char *data, size_t len, const size_t *cuts, size_t ncuts, strbuf *t) {
    respReq r;
    size_t start = 0, k;
    int cmds = 0;

    respReqInit(&r);
    for (k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        const char *p = data + start;
        size_t left = end - start;
        start = end;
        while (left) {
            size_t consumed = 12345;
            const char *err = NULL;
            int rc = respParseRequest(&r, p, left, &consumed, MAX_BULK_BYTES, &err);
            if (rc == RESP_REQ_ERROR) {
                assert_non_null(err);
                sbPrintf(t, "ERR:%s\n", err);
                respReqFree(&r);
                return cmds;
            }
            assert_true(consumed <= left);
            if (rc == RESP_REQ_MORE) {
                assert_int_equal(consumed, left); /* everything absorbed */
                break;
            }
            assert_int_equal(rc, RESP_REQ_DONE);
            assert_true(consumed > 0);
            assert_true(r.argc >= 1);
            transcriptCommand(t, &r);
            cmds++;
            p += consumed;
            left -= consumed;
        }
    }
    respReqFree(&r);
    return cmds;
}

static int runOneShot(const char *data, size_t len, strbuf *t) {
    return runStream(data, len, NULL, 0, t);
}

/* Parses exactly one request from a complete buffer. */
static int parseOne(respReq *r, const char *s, size_t len, size_t *consumed, const char **err) {
    return respParseRequest(r, s, len, consumed, MAX_BULK_BYTES, err);
}

/* Expects the whole of s to end in the protocol error `want`. */
static void expectReqError(const char *s, size_t len, const char *want) {
    strbuf t;
    char *exp;
    size_t n = strlen(want) + 6;

    sbInit(&t);
    runOneShot(s, len, &t);
    exp = malloc(n);
    snprintf(exp, n, "ERR:%s\n", want);
    if (t.len < strlen(exp) || strcmp(t.buf + t.len - strlen(exp), exp) != 0)
        fail_msg("input \"%.*s\": got \"%s\", want \"%s\"", (int)(len > 60 ? 60 : len), s,
                 t.buf ? t.buf : "", exp);
    free(exp);
    sbFree(&t);
}

#define S(lit) (lit), (sizeof(lit) - 1)

/* ======================= Request parser: multibulk ======================== */

static void test_req_multibulk_basic(void **state) {
    respReq r;
    size_t consumed = 0;
    const char *err = NULL;
    static const char in[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    (void)state;

    respReqInit(&r);
    assert_int_equal(parseOne(&r, S(in), &consumed, &err), RESP_REQ_DONE);
    assert_int_equal(consumed, sizeof(in) - 1);
    assert_int_equal(r.argc, 3);
    assert_string_equal(r.argv[0], "SET");
    assert_string_equal(r.argv[1], "key");
    assert_string_equal(r.argv[2], "value");
    assert_int_equal(r.argvlen[2], 5);
    /* The caller may steal an argument. */
    char *stolen = r.argv[2];
    r.argv[2] = NULL;
    respReqReset(&r);
    assert_int_equal(r.argc, 0);
    assert_string_equal(stolen, "value");
    free(stolen);
    /* Binary payload with CR, LF and NUL inside; trailing bytes not eaten. */
    static const char bin[] = "*1\r\n$6\r\na\r\nb\0c\r\nPING\r\n";
    assert_int_equal(parseOne(&r, S(bin), &consumed, &err), RESP_REQ_DONE);
    assert_int_equal(consumed, sizeof(bin) - 1 - 6);
    assert_int_equal(r.argvlen[0], 6);
    assert_memory_equal(r.argv[0], "a\r\nb\0c", 6);
    /* Next call after DONE resets by itself. */
    assert_int_equal(parseOne(&r, bin + consumed, 6, &consumed, &err), RESP_REQ_DONE);
    assert_int_equal(r.argc, 1);
    assert_string_equal(r.argv[0], "PING");
    respReqFree(&r);
}

static void test_req_redis_leniency(void **state) {
    strbuf t;
    (void)state;
    sbInit(&t);
    /* Like Redis: the byte after a header's '\r' and the two bytes after a
     * payload are skipped unchecked; "*0", "*-1", "*-5" are empty commands. */
    runOneShot(S("*1\rX$4\r\nPING\r\n*1\r\n$4\r\nPINGxx*0\r\n*-1\r\n*-5\r\n*1\r\n$1\r\nz\r\n"), &t);
    assert_string_equal(t.buf, "1{4:PING}\n1{4:PING}\n1{1:z}\n");
    sbFree(&t);
}

static void test_req_empty_commands_skipped(void **state) {
    respReq r;
    size_t consumed;
    const char *err;
    static const char in[] = "\r\n\n   \r\n*0\r\n*-1\r\nPING\r\n";
    (void)state;

    respReqInit(&r);
    assert_int_equal(parseOne(&r, S(in), &consumed, &err), RESP_REQ_DONE);
    assert_int_equal(consumed, sizeof(in) - 1);
    assert_int_equal(r.argc, 1);
    assert_string_equal(r.argv[0], "PING");
    /* Only empty commands: MORE with everything consumed. */
    assert_int_equal(parseOne(&r, S("*0\r\n\r\n"), &consumed, &err), RESP_REQ_MORE);
    assert_int_equal(consumed, 6);
    respReqFree(&r);
}

static void test_req_pipeline_many(void **state) {
    strbuf in, t;
    int i;
    (void)state;

    sbInit(&in);
    sbInit(&t);
    for (i = 0; i < 1000; i++) {
        char v[16];
        int n = snprintf(v, sizeof(v), "v%d", i);
        if (i % 3 == 2) sbPrintf(&in, "INCR k%d\r\n", i);
        else sbPrintf(&in, "*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$%d\r\n%s\r\n", n, i, n, v);
    }
    assert_int_equal(runOneShot(in.buf, in.len, &t), 1000);
    assert_memory_equal(t.buf, "3{3:SET}{2:k0}{2:v0}\n3{3:SET}{2:k1}{2:v1}\n2{4:INCR}{2:k2}\n", 50);
    sbFree(&in);
    sbFree(&t);
}

/* ========================= Request parser: inline ========================= */

static void test_req_inline_quoting(void **state) {
    strbuf t;
    (void)state;
    sbInit(&t);
    runOneShot(S("SET \"a b\" 'c\\'d' \"\\x41\\x4g\\n\\t\\r\\b\\a\\q\\\"\"\r\n"), &t);
    assert_memory_equal(t.buf, "4{3:SET}{3:a b}{3:c'd}{11:Ax4g\n\t\r\b\aq\"}\n", t.len);
    sbClear(&t);
    /* Empty quoted args; single quotes keep backslashes except \'. */
    runOneShot(S("ECHO \"\" '' 'a\\nb'\n"), &t);
    assert_string_equal(t.buf, "4{4:ECHO}{0:}{0:}{4:a\\nb}\n");
    sbClear(&t);
    /* A quote may open mid-token; \v is part of a bare token; tabs split;
     * \" inside single quotes is literal; a closing quote may be followed by
     * any whitespace. */
    runOneShot(S("a\"b c\" x\vy\tz '\\\"'\v\n"), &t);
    assert_string_equal(t.buf, "4{4:ab c}{3:x\vy}{1:z}{2:\\\"}\n");
    sbClear(&t);
    /* LF-only terminator and only one CR stripped ("\r" also separates). */
    runOneShot(S("PING\nECHO x\r\r\n"), &t);
    assert_string_equal(t.buf, "1{4:PING}\n2{4:ECHO}{1:x}\n");
    sbFree(&t);
}

static void test_req_inline_errors(void **state) {
    char *big;
    (void)state;
    expectReqError(S("PING \"a\r\n"), "ERR Protocol error: unbalanced quotes in request");
    expectReqError(S("PING 'a\r\n"), "ERR Protocol error: unbalanced quotes in request");
    expectReqError(S("ECHO \"a\"b\r\n"), "ERR Protocol error: unbalanced quotes in request");
    expectReqError(S("ECHO 'a'b\r\n"), "ERR Protocol error: unbalanced quotes in request");
    expectReqError(S("ECHO \"a\\\"\r\n"), "ERR Protocol error: unbalanced quotes in request");
    expectReqError(S("OK\nECHO \"a\\\r\n"), "ERR Protocol error: unbalanced quotes in request");

    /* 64 KB without a newline is still fine; one byte more is not. */
    big = malloc(RESP_INLINE_MAX_BYTES + 2000);
    memset(big, 'x', RESP_INLINE_MAX_BYTES + 2000);
    respReq r;
    size_t consumed;
    const char *err;
    respReqInit(&r);
    assert_int_equal(parseOne(&r, big, RESP_INLINE_MAX_BYTES, &consumed, &err), RESP_REQ_MORE);
    assert_int_equal(parseOne(&r, "\n", 1, &consumed, &err), RESP_REQ_DONE);
    assert_int_equal(r.argvlen[0], RESP_INLINE_MAX_BYTES);
    respReqFree(&r);
    expectReqError(big, RESP_INLINE_MAX_BYTES + 1, "ERR Protocol error: too big inline request");
    /* Same limit when the line arrives in small pieces. */
    respReqInit(&r);
    size_t off = 0;
    int rc = RESP_REQ_MORE;
    while (off < RESP_INLINE_MAX_BYTES + 1 && rc == RESP_REQ_MORE) {
        rc = parseOne(&r, big + off, 1000, &consumed, &err);
        off += 1000;
    }
    assert_int_equal(rc, RESP_REQ_ERROR);
    assert_int_equal(off, 66000);
    assert_string_equal(err, "ERR Protocol error: too big inline request");
    /* Errors are sticky. */
    assert_int_equal(parseOne(&r, "PING\r\n", 6, &consumed, &err), RESP_REQ_ERROR);
    assert_int_equal(consumed, 0);
    respReqFree(&r);
    free(big);
}

/* ====================== Request parser: errors, limits ==================== */

static void test_req_multibulk_errors(void **state) {
    (void)state;
    static const char *mb = "ERR Protocol error: invalid multibulk length";
    static const char *bl = "ERR Protocol error: invalid bulk length";
    expectReqError(S("*abc\r\n"), mb);
    expectReqError(S("*\r\n"), mb);
    expectReqError(S("*01\r\n"), mb);
    expectReqError(S("*-0\r\n"), mb);
    expectReqError(S("*+1\r\n"), mb);
    expectReqError(S("* 1\r\n"), mb);
    expectReqError(S("*2147483648\r\n"), mb); /* INT_MAX + 1 */
    expectReqError(S("*99999999999999999999\r\n"), mb);  /* 20 digits */
    expectReqError(S("*9223372036854775808\r\n"), mb);
    expectReqError(S("*1\r\n$-1\r\n"), bl);
    expectReqError(S("*1\r\n$-5\r\n"), bl);
    expectReqError(S("*1\r\n$\r\n"), bl);
    expectReqError(S("*1\r\n$04\r\nPING\r\n"), bl);
    expectReqError(S("*1\r\n$+4\r\nPING\r\n"), bl);
    expectReqError(S("*1\r\n$ 4\r\nPING\r\n"), bl);
    expectReqError(S("*1\r\n$99999999999999999999\r\n"), bl);
    expectReqError(S("*1\r\n$536870913\r\n"), bl); /* above proto-max-bulk-len */
    expectReqError(S("*1\r\nx3\r\nfoo\r\n"), "ERR Protocol error: expected '$', got 'x'");
    expectReqError(S("*2\r\n$4\r\nECHO\r\n*0\r\n"), "ERR Protocol error: expected '$', got '*'");
    expectReqError(S("*1\r\n\r\n"), "ERR Protocol error: expected '$', got '\r'");
    expectReqError(S("PING\r\n*1\r\n:1\r\n"), "ERR Protocol error: expected '$', got ':'");
}

static void test_req_limits(void **state) {
    respReq r;
    size_t consumed;
    const char *err;
    char *big;
    (void)state;

    /* Exactly 1M arguments may be declared; the argv array is not allocated
     * up front for all of them. */
    respReqInit(&r);
    assert_int_equal(parseOne(&r, S("*1048576\r\n"), &consumed, &err), RESP_REQ_MORE);
    assert_true(r.argv_cap <= 1024);
    respReqFree(&r);

    /* Bulk length exactly at the limit passes, one above fails. */
    respReqInit(&r);
    assert_int_equal(respParseRequest(&r, S("*1\r\n$10\r\n0123456789\r\n"), &consumed, 10, &err),
                     RESP_REQ_DONE);
    respReqReset(&r);
    assert_int_equal(respParseRequest(&r, S("*1\r\n$11\r\n"), &consumed, 10, &err), RESP_REQ_ERROR);
    assert_string_equal(err, "ERR Protocol error: invalid bulk length");
    respReqFree(&r);

    /* Header longer than 64 KB without '\r'. */
    big = malloc(RESP_INLINE_MAX_BYTES + 8);
    big[0] = '*';
    memset(big + 1, '1', RESP_INLINE_MAX_BYTES + 7);
    expectReqError(big, RESP_INLINE_MAX_BYTES + 1, "ERR Protocol error: too big mbulk count string");
    memcpy(big, "*1\r\n$", 5);
    expectReqError(big, RESP_INLINE_MAX_BYTES + 5, "ERR Protocol error: too big bulk count string");
    /* ...and exactly 64 KB is still waiting for more. */
    respReqInit(&r);
    assert_int_equal(parseOne(&r, big, RESP_INLINE_MAX_BYTES + 4, &consumed, &err), RESP_REQ_MORE);
    respReqFree(&r);
    free(big);
}

static void test_req_free_mid_command(void **state) {
    respReq r;
    size_t consumed;
    const char *err;
    (void)state;
    /* Under ASan: nothing may leak when a connection dies mid-command. */
    respReqInit(&r);
    assert_int_equal(parseOne(&r, S("*3\r\n$3\r\nSET\r\n$100\r\nabc"), &consumed, &err), RESP_REQ_MORE);
    respReqFree(&r);
    respReqInit(&r);
    assert_int_equal(parseOne(&r, S("*3\r\n$3\r\nSET\r\n$10"), &consumed, &err), RESP_REQ_MORE);
    respReqFree(&r);
    respReqInit(&r);
    assert_int_equal(parseOne(&r, S("SET a \"b"), &consumed, &err), RESP_REQ_MORE);
    respReqFree(&r);
    respReqInit(&r);
    assert_int_equal(parseOne(&r, S("SET a 'b\r\n"), &consumed, &err), RESP_REQ_ERROR);
    respReqFree(&r);
}

/* ==================== Request parser: incremental input ==================== */

/* A pipeline touching every parser state and both command kinds. */
static void buildPipeline(strbuf *in) {
    char payload[300];
    int i;
    for (i = 0; i < 300; i++) payload[i] = (char)(i * 7);
    sbAppendStr(in, "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n");
    sbAppendStr(in, "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
    sbAppendStr(in, "\r\n*0\r\n*-1\r\nPING\r\n");
    sbAppendStr(in, "SET \"a b\" 'c\\'d' \"\\x41\\n\"\n  \t \r\n");
    sbAppendStr(in, "*1\r\n$12\r\n0123456789ab\r\n");
    sbAppend(in, S("*3\r\n$4\r\nMSET\r\n$1\r\n\0\r\n$300\r\n"));
    sbAppend(in, payload, sizeof(payload));
    sbAppendStr(in, "\r\nECHO \"\"\r\n");
}

static void test_req_every_split_point(void **state) {
    strbuf in, ref, t;
    size_t k, *cuts;
    (void)state;

    sbInit(&in);
    sbInit(&ref);
    sbInit(&t);
    buildPipeline(&in);
    assert_int_equal(runOneShot(in.buf, in.len, &ref), 7);
    static const char head[] = "3{3:SET}{3:key}{5:va\r\nl}\n2{4:ECHO}{0:}\n1{4:PING}\n"
                               "4{3:SET}{3:a b}{3:c'd}{2:A\n}\n1{12:0123456789ab}\n3{4:MSET}{1:";
    assert_true(ref.len > sizeof(head) - 1 + 300);
    assert_memory_equal(ref.buf, head, sizeof(head) - 1);
    static const char tail[] = "}\n2{4:ECHO}{0:}\n";
    assert_memory_equal(ref.buf + ref.len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
    /* Every 2-way split. */
    for (k = 0; k <= in.len; k++) {
        sbClear(&t);
        runStream(in.buf, in.len, &k, 1, &t);
        if (t.len != ref.len || memcmp(t.buf, ref.buf, ref.len) != 0)
            fail_msg("split at %zu differs from the one-shot parse", k);
    }
    /* Byte by byte. */
    cuts = malloc(in.len * sizeof(*cuts));
    for (k = 0; k + 1 < in.len; k++) cuts[k] = k + 1;
    sbClear(&t);
    runStream(in.buf, in.len, cuts, in.len - 1, &t);
    assert_int_equal(t.len, ref.len);
    assert_memory_equal(t.buf, ref.buf, ref.len);
    free(cuts);
    sbFree(&in);
    sbFree(&ref);
    sbFree(&t);
}

static void test_req_split_with_error(void **state) {
    static const char in[] = "PING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$x\r\n";
    strbuf ref, t;
    size_t k, cuts[sizeof(in)];
    (void)state;

    sbInit(&ref);
    sbInit(&t);
    runOneShot(S(in), &ref);
    assert_string_equal(ref.buf, "1{4:PING}\n2{3:GET}{1:k}\nERR:ERR Protocol error: invalid bulk length\n");
    for (k = 0; k <= sizeof(in) - 1; k++) {
        sbClear(&t);
        runStream(S(in), &k, 1, &t);
        assert_string_equal(t.buf, ref.buf);
    }
    for (k = 0; k + 2 < sizeof(in); k++) cuts[k] = k + 1;
    sbClear(&t);
    runStream(S(in), cuts, sizeof(in) - 2, &t);
    assert_string_equal(t.buf, ref.buf);
    sbFree(&ref);
    sbFree(&t);
}

static void test_req_random_pipeline_random_splits(void **state) {
    strbuf in, ref, t;
    size_t cuts[64];
    int i, j;
    (void)state;

    srand(42);
    sbInit(&in);
    sbInit(&ref);
    sbInit(&t);
    for (i = 0; i < 300; i++) {
        int argc = 1 + rand() % 4;
        if (rand() % 4 == 0) {
            for (j = 0; j < argc; j++) sbPrintf(&in, "%sa%d", j ? " " : "", rand() % 1000);
            sbAppendStr(&in, rand() % 2 ? "\r\n" : "\n");
            continue;
        }
        sbPrintf(&in, "*%d\r\n", argc);
        for (j = 0; j < argc; j++) {
            int n = rand() % (rand() % 8 == 0 ? 5000 : 20), c;
            sbPrintf(&in, "$%d\r\n", n);
            for (c = 0; c < n; c++) {
                char ch = (char)(rand() & 0xff);
                sbAppend(&in, &ch, 1);
            }
            sbAppend(&in, "\r\n", 2);
        }
    }
    assert_int_equal(runOneShot(in.buf, in.len, &ref), 300);
    for (i = 0; i < 200; i++) {
        size_t n = 1 + (size_t)rand() % 63, k;
        for (k = 0; k < n; k++) cuts[k] = (size_t)rand() % (in.len + 1);
        /* sort the cut points */
        for (k = 1; k < n; k++)
            for (j = (int)k; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t x = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = x;
            }
        sbClear(&t);
        runStream(in.buf, in.len, cuts, n, &t);
        assert_int_equal(t.len, ref.len);
        assert_memory_equal(t.buf, ref.buf, ref.len);
    }
    sbFree(&in);
    sbFree(&ref);
    sbFree(&t);
}

static void test_req_big_bulk_single_allocation(void **state) {
    const size_t n = 1024 * 1024 + 3;
    char *payload = malloc(n), hdr[64], *slot = NULL;
    respReq r;
    size_t consumed, off = 0, i;
    const char *err;
    int hl, rc = RESP_REQ_MORE;
    (void)state;

    for (i = 0; i < n; i++) payload[i] = (char)(i * 31 + 7);
    respReqInit(&r);
    hl = snprintf(hdr, sizeof(hdr), "*2\r\n$3\r\nSET\r\n$%zu\r\n", n);
    /* Header split oddly, then the payload in 4 KB reads. */
    assert_int_equal(parseOne(&r, hdr, 15, &consumed, &err), RESP_REQ_MORE);
    assert_int_equal(parseOne(&r, hdr + 15, (size_t)hl - 15, &consumed, &err), RESP_REQ_MORE);
    while (off < n) {
        size_t chunk = n - off < 4096 ? n - off : 4096;
        rc = parseOne(&r, payload + off, chunk, &consumed, &err);
        assert_int_equal(rc, RESP_REQ_MORE);
        assert_int_equal(consumed, chunk);
        /* The argument buffer is allocated once and never moves. */
        if (slot == NULL) slot = r.cur;
        assert_ptr_equal(r.cur, slot);
        off += chunk;
    }
    assert_int_equal(parseOne(&r, "\r", 1, &consumed, &err), RESP_REQ_MORE);
    assert_int_equal(parseOne(&r, "\n", 1, &consumed, &err), RESP_REQ_DONE);
    assert_int_equal(r.argc, 2);
    assert_ptr_equal(r.argv[1], slot);
    assert_int_equal(r.argvlen[1], n);
    assert_memory_equal(r.argv[1], payload, n);
    respReqFree(&r);
    free(payload);
}

/* ============================ Value parser ================================ */

static respValue *parseV(const char *s, size_t len) {
    respValue *v = NULL;
    size_t consumed = 0;
    const char *err = NULL;
    int rc = respParseValue(s, len, &consumed, &v, &err);
    if (rc != RESP_DONE) fail_msg("parse of \"%.*s\" gave %d (%s)", (int)len, s, rc, err ? err : "");
    assert_int_equal(consumed, len);
    return v;
}

static void expectValueError(const char *s, size_t len) {
    respValue *v = (respValue *)1;
    size_t consumed;
    const char *err = NULL;
    int rc = respParseValue(s, len, &consumed, &v, &err);
    if (rc != RESP_ERROR) fail_msg("\"%.*s\" should be a protocol error, got %d", (int)len, s, rc);
    assert_non_null(err);
    assert_null(v);
}

static void expectValueMore(const char *s, size_t len) {
    respValue *v = (respValue *)1;
    size_t consumed;
    const char *err = NULL;
    int rc = respParseValue(s, len, &consumed, &v, &err);
    if (rc != RESP_MORE) fail_msg("\"%.*s\" should need more, got %d", (int)len, s, rc);
    assert_null(v);
}

static void test_value_resp2_types(void **state) {
    respValue *v;
    (void)state;

    v = parseV(S("+OK\r\n"));
    assert_int_equal(v->type, RESP_TYPE_SIMPLE);
    assert_string_equal(v->str, "OK");
    respValueFree(v);
    v = parseV(S("-ERR bad thing\r\n"));
    assert_int_equal(v->type, RESP_TYPE_ERROR);
    assert_string_equal(v->str, "ERR bad thing");
    respValueFree(v);
    v = parseV(S(":-9223372036854775808\r\n"));
    assert_int_equal(v->type, RESP_TYPE_INTEGER);
    assert_true(v->integer == LLONG_MIN);
    respValueFree(v);
    v = parseV(S("$5\r\na\r\nb\0\r\n"));
    assert_int_equal(v->type, RESP_TYPE_BULK);
    assert_int_equal(v->len, 5);
    assert_memory_equal(v->str, "a\r\nb\0", 6);
    respValueFree(v);
    v = parseV(S("$0\r\n\r\n"));
    assert_int_equal(v->type, RESP_TYPE_BULK);
    assert_int_equal(v->len, 0);
    assert_string_equal(v->str, "");
    respValueFree(v);
    v = parseV(S("$-1\r\n"));
    assert_int_equal(v->type, RESP_TYPE_NULL);
    assert_int_equal(v->wire, '$');
    respValueFree(v);
    v = parseV(S("*-1\r\n"));
    assert_int_equal(v->type, RESP_TYPE_NULL);
    assert_int_equal(v->wire, '*');
    respValueFree(v);
    v = parseV(S("*0\r\n"));
    assert_int_equal(v->type, RESP_TYPE_ARRAY);
    assert_int_equal(v->elements, 0);
    respValueFree(v);
    v = parseV(S("*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+x\r\n"));
    assert_int_equal(v->type, RESP_TYPE_ARRAY);
    assert_int_equal(v->elements, 3);
    assert_int_equal(v->element[0]->integer, 1);
    assert_int_equal(v->element[1]->elements, 2);
    assert_string_equal(v->element[1]->element[0]->str, "a");
    assert_int_equal(v->element[1]->element[1]->type, RESP_TYPE_NULL);
    assert_string_equal(v->element[2]->str, "x");
    respValueFree(v);
}

static void test_value_resp3_types(void **state) {
    respValue *v;
    (void)state;

    v = parseV(S("_\r\n"));
    assert_int_equal(v->type, RESP_TYPE_NULL);
    assert_int_equal(v->wire, '_');
    respValueFree(v);
    v = parseV(S(",3.25\r\n"));
    assert_int_equal(v->type, RESP_TYPE_DOUBLE);
    assert_true(v->dval == 3.25);
    assert_string_equal(v->str, "3.25");
    respValueFree(v);
    v = parseV(S(",-inf\r\n"));
    assert_true(isinf(v->dval) && v->dval < 0);
    respValueFree(v);
    v = parseV(S(",nan\r\n"));
    assert_true(isnan(v->dval));
    respValueFree(v);
    v = parseV(S(",1e+17\r\n"));
    assert_true(v->dval == 1e17);
    respValueFree(v);
    v = parseV(S("#t\r\n"));
    assert_int_equal(v->type, RESP_TYPE_BOOL);
    assert_int_equal(v->integer, 1);
    respValueFree(v);
    v = parseV(S("#f\r\n"));
    assert_int_equal(v->integer, 0);
    respValueFree(v);
    v = parseV(S("!21\r\nSYNTAX invalid syntax\r\n"));
    assert_int_equal(v->type, RESP_TYPE_BLOB_ERROR);
    assert_string_equal(v->str, "SYNTAX invalid syntax");
    respValueFree(v);
    v = parseV(S("=15\r\ntxt:Some string\r\n"));
    assert_int_equal(v->type, RESP_TYPE_VERBATIM);
    assert_string_equal(v->vformat, "txt");
    assert_string_equal(v->str, "Some string");
    assert_int_equal(v->len, 11);
    respValueFree(v);
    v = parseV(S("(-3492890328409238509324850943850943825024385\r\n"));
    assert_int_equal(v->type, RESP_TYPE_BIGNUM);
    assert_string_equal(v->str, "-3492890328409238509324850943850943825024385");
    respValueFree(v);
    v = parseV(S("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"));
    assert_int_equal(v->type, RESP_TYPE_MAP);
    assert_int_equal(v->elements, 4);
    assert_string_equal(v->element[2]->str, "second");
    assert_int_equal(v->element[3]->integer, 2);
    respValueFree(v);
    v = parseV(S("~3\r\n+a\r\n:1\r\n#f\r\n"));
    assert_int_equal(v->type, RESP_TYPE_SET);
    assert_int_equal(v->elements, 3);
    respValueFree(v);
    v = parseV(S(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"));
    assert_int_equal(v->type, RESP_TYPE_PUSH);
    assert_int_equal(v->elements, 3);
    assert_string_equal(v->element[0]->str, "message");
    respValueFree(v);
}

static void test_value_attributes(void **state) {
    respValue *v;
    (void)state;
    /* Attribute before a top-level value. */
    v = parseV(S("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2039123\r\n:9543892\r\n"));
    assert_int_equal(v->type, RESP_TYPE_ARRAY);
    assert_int_equal(v->elements, 2);
    assert_non_null(v->attribute);
    assert_int_equal(v->attribute->type, RESP_TYPE_ATTRIBUTE);
    assert_int_equal(v->attribute->elements, 2);
    assert_string_equal(v->attribute->element[0]->str, "key-popularity");
    assert_int_equal(v->attribute->element[1]->type, RESP_TYPE_MAP);
    respValueFree(v);
    /* Inside an array, not counted as an element; two in a row are merged. */
    v = parseV(S("*2\r\n:1\r\n|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n:2\r\n"));
    assert_int_equal(v->elements, 2);
    assert_null(v->attribute);
    assert_null(v->element[0]->attribute);
    assert_int_equal(v->element[1]->integer, 2);
    assert_int_equal(v->element[1]->attribute->elements, 4);
    assert_string_equal(v->element[1]->attribute->element[2]->str, "c");
    respValueFree(v);
    expectValueMore(S("|1\r\n+a\r\n+b\r\n"));
}

static void test_value_partial_every_prefix(void **state) {
    static const char in[] =
        "*6\r\n$5\r\nhello\r\n%1\r\n+k\r\n~2\r\n,1.5\r\n#t\r\n|1\r\n+a\r\n:1\r\n(12345\r\n"
        "=7\r\nmkd:*x*\r\n>2\r\n!3\r\nerr\r\n_\r\n-ERR e\r\n";
    size_t k;
    (void)state;
    for (k = 0; k < sizeof(in) - 1; k++) expectValueMore(in, k);
    respValue *v = parseV(S(in));
    assert_int_equal(v->elements, 6);
    assert_int_equal(v->element[2]->attribute->elements, 2);
    assert_string_equal(v->element[3]->vformat, "mkd");
    respValueFree(v);
    /* Trailing bytes are left for the next call. */
    respValue *w = NULL;
    size_t consumed = 0;
    const char *err;
    assert_int_equal(respParseValue(S("+OK\r\n:1\r\n"), &consumed, &w, &err), RESP_DONE);
    assert_int_equal(consumed, 5);
    respValueFree(w);
}

static void test_value_malformed(void **state) {
    char deep[1024];
    int i, n = 0;
    (void)state;
    expectValueError(S("?x\r\n"));
    expectValueError(S(":12a\r\n"));
    expectValueError(S(":\r\n"));
    expectValueError(S("#x\r\n"));
    expectValueError(S("#tt\r\n"));
    expectValueError(S("_x\r\n"));
    expectValueError(S(",abc\r\n"));
    expectValueError(S(",\r\n"));
    expectValueError(S("(12a\r\n"));
    expectValueError(S("(\r\n"));
    expectValueError(S("+OK\rX"));
    expectValueError(S("$3\r\nfooXX"));
    expectValueError(S("$-2\r\n"));
    expectValueError(S("*-2\r\n"));
    expectValueError(S("%-1\r\n"));
    expectValueError(S("~-1\r\n"));
    expectValueError(S("!-1\r\n"));
    expectValueError(S("$99999999999999999999\r\n"));
    expectValueError(S("$?\r\n;4\r\nHell\r\n;0\r\n"));
    expectValueError(S("=3\r\ntxt\r\n"));
    expectValueError(S("=5\r\ntxtxy\r\n"));
    expectValueError(S("*2\r\n:1\r\n?\r\n"));
    /* Depth: RESP_MAX_DEPTH levels of nesting are fine, one more is not. */
    for (i = 0; i < RESP_MAX_DEPTH; i++) n += snprintf(deep + n, sizeof(deep) - (size_t)n, "*1\r\n");
    n += snprintf(deep + n, sizeof(deep) - (size_t)n, ":1\r\n");
    respValueFree(parseV(deep, (size_t)n));
    memmove(deep + 4, deep, (size_t)n);
    memcpy(deep, "*1\r\n", 4);
    expectValueError(deep, (size_t)n + 4);
}

static void test_value_huge_lengths_need_more(void **state) {
    (void)state;
    /* Declared sizes far beyond the data: MORE, and nothing allocated for
     * them (ASan would flag a 2^31-slot array as a leak or OOM). */
    expectValueMore(S("*2147483647\r\n:1\r\n"));
    expectValueMore(S("%9223372036854775807\r\n"));
    expectValueMore(S("$9223372036854775807\r\nabc"));
    expectValueMore(S("$3\r\nfoo\r"));
    expectValueMore(S("+OK\r"));
    expectValueMore(S(""));
}

/* =============================== Encoders ================================= */

static void expectBuf(strbuf *b, const char *want, size_t wlen) {
    if (b->len != wlen || memcmp(b->buf, want, wlen) != 0)
        fail_msg("encoded \"%.*s\", want \"%.*s\"", (int)b->len, b->buf, (int)wlen, want);
    assert_int_equal(b->buf[b->len], '\0');
    sbClear(b);
}

#define EXPECT(b, lit) expectBuf((b), (lit), sizeof(lit) - 1)

static void test_encoders_resp2(void **state) {
    strbuf b;
    (void)state;
    sbInit(&b);
    respAppendSimple(&b, "OK", 2);
    EXPECT(&b, "+OK\r\n");
    respAppendSimple(&b, "a\r\nb", 4);
    EXPECT(&b, "+a  b\r\n");
    respAppendError(&b, "ERR no\r\nway", 11);
    EXPECT(&b, "-ERR no  way\r\n");
    respAppendError(&b, "-WRONGTYPE x", 12);
    EXPECT(&b, "-WRONGTYPE x\r\n");
    respAppendInteger(&b, 0);
    respAppendInteger(&b, 7);
    respAppendInteger(&b, 10);
    respAppendInteger(&b, -1);
    respAppendInteger(&b, LLONG_MAX);
    respAppendInteger(&b, LLONG_MIN);
    EXPECT(&b, ":0\r\n:7\r\n:10\r\n:-1\r\n:9223372036854775807\r\n:-9223372036854775808\r\n");
    respAppendBulk(&b, "foo", 3);
    respAppendBulk(&b, "", 0);
    respAppendBulk(&b, "a\0b", 3);
    EXPECT(&b, "$3\r\nfoo\r\n$0\r\n\r\n$3\r\na\0b\r\n");
    respAppendBulkCString(&b, "hello world");
    respAppendBulkLongLong(&b, -42);
    EXPECT(&b, "$11\r\nhello world\r\n$3\r\n-42\r\n");
    respAppendNullBulk(&b, 2);
    respAppendNullArray(&b, 2);
    EXPECT(&b, "$-1\r\n*-1\r\n");
    respAppendArrayLen(&b, 3);
    respAppendArrayLen(&b, 0);
    respAppendArrayLen(&b, 123456);
    EXPECT(&b, "*3\r\n*0\r\n*123456\r\n");
    respAppendMapLen(&b, 2, 2);
    respAppendSetLen(&b, 5, 2);
    respAppendPushLen(&b, 3, 2);
    EXPECT(&b, "*4\r\n*5\r\n*3\r\n");
    respAppendDouble(&b, 0.1, 2);
    respAppendDouble(&b, 5000, 2);
    respAppendDouble(&b, INFINITY, 2);
    respAppendDouble(&b, -INFINITY, 2);
    EXPECT(&b, "$19\r\n0.10000000000000001\r\n$4\r\n5000\r\n$3\r\ninf\r\n$4\r\n-inf\r\n");
    respAppendBool(&b, 1, 2);
    respAppendBool(&b, 0, 2);
    EXPECT(&b, ":1\r\n:0\r\n");
    respAppendVerbatim(&b, "Some string", 11, "txt", 2);
    EXPECT(&b, "$11\r\nSome string\r\n");
    respAppendBigNumber(&b, "12345678901234567890", 20, 2);
    EXPECT(&b, "$20\r\n12345678901234567890\r\n");
    sbFree(&b);
}

static void test_encoders_resp3(void **state) {
    strbuf b;
    (void)state;
    sbInit(&b);
    respAppendNullBulk(&b, 3);
    respAppendNullArray(&b, 3);
    EXPECT(&b, "_\r\n_\r\n");
    respAppendMapLen(&b, 2, 3);
    respAppendSetLen(&b, 5, 3);
    respAppendPushLen(&b, 3, 3);
    EXPECT(&b, "%2\r\n~5\r\n>3\r\n");
    respAppendDouble(&b, 0.1, 3);
    respAppendDouble(&b, -2.5, 3);
    respAppendDouble(&b, 1e17, 3);
    respAppendDouble(&b, INFINITY, 3);
    respAppendDouble(&b, -INFINITY, 3);
    respAppendDouble(&b, NAN, 3);
    EXPECT(&b, ",0.10000000000000001\r\n,-2.5\r\n,1e+17\r\n,inf\r\n,-inf\r\n,nan\r\n");
    respAppendBool(&b, 1, 3);
    respAppendBool(&b, 0, 3);
    EXPECT(&b, "#t\r\n#f\r\n");
    respAppendVerbatim(&b, "Some string", 11, "txt", 3);
    EXPECT(&b, "=15\r\ntxt:Some string\r\n");
    respAppendVerbatim(&b, "", 0, "mkd", 3);
    EXPECT(&b, "=4\r\nmkd:\r\n");
    respAppendBigNumber(&b, "-12345678901234567890", 21, 3);
    EXPECT(&b, "(-12345678901234567890\r\n");
    sbFree(&b);
}

static void test_encoders_roundtrip(void **state) {
    strbuf b;
    respValue *v;
    size_t i;
    (void)state;
    sbInit(&b);
    respAppendMapLen(&b, 1, 3);
    respAppendBulkCString(&b, "k");
    respAppendArrayLen(&b, 5);
    respAppendDouble(&b, 1.5, 3);
    respAppendBool(&b, 1, 3);
    respAppendNullBulk(&b, 3);
    respAppendVerbatim(&b, "v", 1, "txt", 3);
    respAppendBigNumber(&b, "99", 2, 3);
    v = parseV(b.buf, b.len);
    assert_int_equal(v->type, RESP_TYPE_MAP);
    assert_string_equal(v->element[0]->str, "k");
    assert_int_equal(v->element[1]->elements, 5);
    assert_true(v->element[1]->element[0]->dval == 1.5);
    assert_int_equal(v->element[1]->element[1]->type, RESP_TYPE_BOOL);
    assert_int_equal(v->element[1]->element[2]->type, RESP_TYPE_NULL);
    assert_string_equal(v->element[1]->element[3]->str, "v");
    assert_string_equal(v->element[1]->element[4]->str, "99");
    respValueFree(v);
    /* Many integers: every one parses back to itself. */
    sbClear(&b);
    for (i = 0; i < 2000; i++) {
        long long x = (long long)(i * i * i * 7919ULL) * ((i & 1) ? -1 : 1);
        sbClear(&b);
        respAppendInteger(&b, x);
        v = parseV(b.buf, b.len);
        assert_true(v->integer == x);
        respValueFree(v);
    }
    sbFree(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_multibulk_basic),
        cmocka_unit_test(test_req_redis_leniency),
        cmocka_unit_test(test_req_empty_commands_skipped),
        cmocka_unit_test(test_req_pipeline_many),
        cmocka_unit_test(test_req_inline_quoting),
        cmocka_unit_test(test_req_inline_errors),
        cmocka_unit_test(test_req_multibulk_errors),
        cmocka_unit_test(test_req_limits),
        cmocka_unit_test(test_req_free_mid_command),
        cmocka_unit_test(test_req_every_split_point),
        cmocka_unit_test(test_req_split_with_error),
        cmocka_unit_test(test_req_random_pipeline_random_splits),
        cmocka_unit_test(test_req_big_bulk_single_allocation),
        cmocka_unit_test(test_value_resp2_types),
        cmocka_unit_test(test_value_resp3_types),
        cmocka_unit_test(test_value_attributes),
        cmocka_unit_test(test_value_partial_every_prefix),
        cmocka_unit_test(test_value_malformed),
        cmocka_unit_test(test_value_huge_lengths_need_more),
        cmocka_unit_test(test_encoders_resp2),
        cmocka_unit_test(test_encoders_resp3),
        cmocka_unit_test(test_encoders_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

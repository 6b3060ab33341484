/* util.c - implements the pure helpers declared in util.h: number <-> string
 * conversions with Redis's exact acceptance and formatting rules, Redis's
 * glob matcher, the growable strbuf, clocks and bytesToHuman.
 *
 * Everything here is free of I/O and global state, so tests/unit/test_util.c
 * exercises it directly.  Where Redis 7.0 has a quirk that clients can observe
 * (e.g. "**" does not match the empty string, "-0" is not an integer) we keep
 * it, and the comment next to the code says so. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

/* Longest text string2ld() accepts, as Redis's MAX_LONG_DOUBLE_CHARS. */
#define UTIL_MAX_LD_CHARS 5120
/* Longest decimal text of a 64-bit integer ("-9223372036854775808"), plus
 * one: Redis's LONG_STR_SIZE.  Longer inputs are rejected without parsing. */
#define UTIL_LONG_STR_SIZE 21
/* Recursion bound of stringmatchlen(): one level per '*' group; Redis 7.0
 * refuses to match deeper patterns (checked against redis-server 7.0.15). */
#define GLOB_MAX_NESTING 1000
/* Smallest capacity a strbuf grows to, in bytes. */
#define SB_MIN_CAP_BYTES 64

/* ============================== Allocation ================================ */

/* The server treats out-of-memory as fatal, like Redis's zmalloc: there is no
 * sane way to continue half way through building a reply. */
static void utilOom(size_t n) {
    fprintf(stderr, "strata: out of memory allocating %zu bytes\n", n);
    abort();
}

/* ========================== String -> number ============================== */

/* Parses the digits of an unsigned decimal with Redis's rules: non-empty, the
 * first digit 1-9 unless the whole thing is "0", digits only, no overflow.
 * Returns 1 and sets *out, or 0. */
static int parseUnsignedDigits(const char *p, size_t n, unsigned long long *out) {
    unsigned long long v;
    size_t i;

    if (n == 0) return 0;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return 1;
    }
    if (p[0] < '1' || p[0] > '9') return 0;
    v = (unsigned long long)(p[0] - '0');
    for (i = 1; i < n; i++) {
        unsigned d;
        if (p[i] < '0' || p[i] > '9') return 0;
        d = (unsigned)(p[i] - '0');
        if (v > ULLONG_MAX / 10) return 0;
        v *= 10;
        if (v > ULLONG_MAX - d) return 0;
        v += d;
    }
    *out = v;
    return 1;
}

int string2ll(const char *s, size_t slen, long long *out) {
    unsigned long long v;
    int negative = 0;

    if (slen == 0 || slen >= UTIL_LONG_STR_SIZE) return 0;
    if (s[0] == '-') {
        negative = 1;
        s++;
        slen--;
    }
    if (!parseUnsignedDigits(s, slen, &v)) return 0;
    if (negative) {
        /* "-0" fails here: Redis's string2ll requires a 1-9 after '-'. */
        if (v == 0) return 0;
        if (v > (unsigned long long)LLONG_MAX + 1ULL) return 0;
        if (out) *out = (v == (unsigned long long)LLONG_MAX + 1ULL) ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX) return 0;
        if (out) *out = (long long)v;
    }
    return 1;
}

int string2ull(const char *s, size_t slen, unsigned long long *out) {
    unsigned long long v;

    /* Same rules as string2ll (header contract), so no sign at all: Redis's own
     * string2ull falls back to strtoull and would take " 1" or "+1". */
    if (slen == 0 || slen >= UTIL_LONG_STR_SIZE) return 0;
    if (!parseUnsignedDigits(s, slen, &v)) return 0;
    if (out) *out = v;
    return 1;
}

int string2ld(const char *s, size_t slen, long double *out) {
    char buf[UTIL_MAX_LD_CHARS];
    char *eptr;
    long double v;

    if (slen == 0 || slen >= sizeof(buf)) return 0;
    memcpy(buf, s, slen);
    buf[slen] = '\0';
    errno = 0;
    v = strtold(buf, &eptr);
    /* Overflow to +-inf and underflow to zero are rejected; an underflow that
     * still yields a denormal is accepted, as in Redis. */
    if (isspace((unsigned char)buf[0]) || (size_t)(eptr - buf) != slen ||
        (errno == ERANGE && (isinf(v) || fpclassify(v) == FP_ZERO)) ||
        errno == EINVAL || isnan(v))
        return 0;
    if (out) *out = v;
    return 1;
}

int string2d(const char *s, size_t slen, double *out) {
    char stackbuf[128];
    char *buf = stackbuf, *eptr;
    double v;
    int ok;

    if (slen == 0) return 0;
    /* strtod needs a terminator; long inputs (rare) get a heap copy so the
     * acceptance rule does not depend on the length. */
    if (slen >= sizeof(stackbuf)) {
        buf = malloc(slen + 1);
        if (buf == NULL) utilOom(slen + 1);
    }
    memcpy(buf, s, slen);
    buf[slen] = '\0';
    errno = 0;
    v = strtod(buf, &eptr);
    ok = !(isspace((unsigned char)buf[0]) || (size_t)(eptr - buf) != slen ||
           (errno == ERANGE && (isinf(v) || fpclassify(v) == FP_ZERO)) || isnan(v));
    if (buf != stackbuf) free(buf);
    if (ok && out) *out = v;
    return ok;
}

/* ========================== Number -> string ============================== */

/* Two decimal digits per entry: formatting two digits per division halves
 * the number of slow 64-bit divisions on the reply path. */
static const char digitPairs[201] =
    "0001020304050607080910111213141516171819"
    "2021222324252627282930313233343536373839"
    "4041424344454647484950515253545556575859"
    "6061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static unsigned countDigits(unsigned long long v) {
    unsigned n = 1;
    for (;;) {
        if (v < 10) return n;
        if (v < 100) return n + 1;
        if (v < 1000) return n + 2;
        if (v < 10000) return n + 3;
        v /= 10000;
        n += 4;
    }
}

/* Writes v's digits into dst (exactly countDigits(v) bytes, no NUL). */
static void writeDigits(char *dst, unsigned long long v, unsigned ndigits) {
    char *p = dst + ndigits - 1;
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        p[0] = digitPairs[i + 1];
        p[-1] = digitPairs[i];
        p -= 2;
    }
    if (v < 10) {
        *p = (char)('0' + v);
    } else {
        unsigned i = (unsigned)v * 2;
        p[0] = digitPairs[i + 1];
        p[-1] = digitPairs[i];
    }
}

int ull2string(char *buf, size_t size, unsigned long long v) {
    unsigned n = countDigits(v);
    if (size < (size_t)n + 1) {
        if (size) buf[0] = '\0';
        return 0;
    }
    writeDigits(buf, v, n);
    buf[n] = '\0';
    return (int)n;
}

int ll2string(char *buf, size_t size, long long v) {
    unsigned long long u;
    unsigned n;

    if (v >= 0) return ull2string(buf, size, (unsigned long long)v);
    /* Negate in unsigned arithmetic so LLONG_MIN does not overflow. */
    u = (unsigned long long)(-(v + 1)) + 1;
    n = countDigits(u);
    if (size < (size_t)n + 2) {
        if (size) buf[0] = '\0';
        return 0;
    }
    buf[0] = '-';
    writeDigits(buf + 1, u, n);
    buf[n + 1] = '\0';
    return (int)n + 1;
}

int ld2string(char *buf, size_t size, long double v) {
    int n;

    if (isinf(v)) {
        const char *t = v > 0 ? "inf" : "-inf";
        size_t tl = strlen(t);
        if (size < tl + 1) return 0;
        memcpy(buf, t, tl + 1);
        return (int)tl;
    }
    /* "%.17Lf" is 17 digits after the point, not 17 significant digits: with
     * x87 80-bit long doubles that rounds away binary noise so 10.5+0.1 reads
     * back as the "10.6" the user expects (Redis's LD_STR_HUMAN mode). */
    n = snprintf(buf, size, "%.17Lf", v);
    if (n < 0 || (size_t)n + 1 > size) return 0;
    if (memchr(buf, '.', (size_t)n) != NULL) {
        while (buf[n - 1] == '0') n--;
        if (buf[n - 1] == '.') n--;
    }
    /* A tiny negative value trims to "-0"; INCRBYFLOAT replies "0". */
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    buf[n] = '\0';
    return n;
}

int d2string(char *buf, size_t size, double v) {
    const char *fixed = NULL;
    int n;

    if (isnan(v)) fixed = "nan";
    else if (isinf(v)) fixed = v > 0 ? "inf" : "-inf";
    else if (v == 0) fixed = signbit(v) ? "-0" : "0";
    if (fixed) {
        size_t fl = strlen(fixed);
        if (size < fl + 1) return 0;
        memcpy(buf, fixed, fl + 1);
        return (int)fl;
    }
    /* Integral values below 2^52 print the same under %.17g and ll2string;
     * the integer path is several times faster (scores are often integers). */
    if (v > -4503599627370496.0 && v < 4503599627370496.0 && v == (double)(long long)v)
        return ll2string(buf, size, (long long)v);
    n = snprintf(buf, size, "%.17g", v);
    if (n < 0 || (size_t)n + 1 > size) return 0;
    return n;
}

/* ============================== Glob matching ============================= */

static int asciiLower(int c) {
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Matches one "[...]" class against the byte *s.  On entry *pp points just
 * past '['; on return it points at the closing ']' (or at the last pattern
 * byte when the class is unterminated, which Redis treats as closed there).
 * Returns 1 if the class accepts the byte. */
static int globClass(const char **pp, size_t *plenp, char sc, int nocase) {
    const char *p = *pp;
    size_t plen = *plenp;
    int negate = 0, match = 0;

    if (plen && p[0] == '^') {
        negate = 1;
        p++;
        plen--;
    }
    for (;;) {
        if (plen >= 2 && p[0] == '\\') {
            /* Escaped byte inside a class: compared exactly even with nocase
             * (Redis does the same). */
            p++;
            plen--;
            if (p[0] == sc) match = 1;
        } else if (plen == 0) {
            /* Unterminated class: step back so the caller's advance lands on
             * the end of the pattern. */
            p--;
            plen++;
            break;
        } else if (p[0] == ']') {
            break;
        } else if (plen >= 3 && p[1] == '-') {
            /* Range; reversed bounds ([z-a]) are swapped.  Bytes compare as
             * signed char, as Redis does on x86-64, so [a-\xff] is the range
             * \xff..a there too. */
            int start = (signed char)p[0], end = (signed char)p[2], c = (signed char)sc;
            if (start > end) {
                int t = start;
                start = end;
                end = t;
            }
            if (nocase) {
                start = asciiLower(start);
                end = asciiLower(end);
                c = asciiLower(c);
            }
            p += 2;
            plen -= 2;
            if (c >= start && c <= end) match = 1;
        } else if (nocase ? asciiLower((unsigned char)p[0]) == asciiLower((unsigned char)sc)
                          : p[0] == sc) {
            match = 1;
        }
        p++;
        plen--;
    }
    *pp = p;
    *plenp = plen;
    return negate ? !match : match;
}

/* Redis's matcher, bounds-checked (Redis relies on a NUL after the pattern).
 * *skip_longer is set once a '*' has tried every suffix of the string and
 * failed: no earlier '*' can then succeed by eating more, which keeps
 * patterns like "a*a*a*a*b" linear-ish instead of exponential. */
static int globMatch(const char *p, size_t plen, const char *s, size_t slen, int nocase,
                     int *skip_longer, int nesting) {
    if (nesting > GLOB_MAX_NESTING) return 0;
    while (plen && slen) {
        switch (p[0]) {
        case '*':
            while (plen > 1 && p[1] == '*') {
                p++;
                plen--;
            }
            if (plen == 1) return 1;
            while (slen) {
                if (globMatch(p + 1, plen - 1, s, slen, nocase, skip_longer, nesting + 1))
                    return 1;
                if (*skip_longer) return 0;
                s++;
                slen--;
            }
            *skip_longer = 1;
            return 0;
        case '?':
            s++;
            slen--;
            break;
        case '[':
            p++;
            plen--;
            if (!globClass(&p, &plen, s[0], nocase)) return 0;
            s++;
            slen--;
            break;
        case '\\':
            /* The escaped byte is matched as a literal by the default arm. */
            if (plen >= 2) {
                p++;
                plen--;
            }
            /* fall through */
        default:
            if (nocase ? asciiLower((unsigned char)p[0]) != asciiLower((unsigned char)s[0])
                       : p[0] != s[0])
                return 0;
            s++;
            slen--;
            break;
        }
        p++;
        plen--;
        if (slen == 0) {
            while (plen && p[0] == '*') {
                p++;
                plen--;
            }
            break;
        }
    }
    /* Note: an empty string never enters the loop, so "*" (or "**") does not
     * match "" here; Redis's KEYS special-cases the single "*" pattern only. */
    return plen == 0 && slen == 0;
}

int stringmatchlen(const char *pattern, size_t plen, const char *str, size_t slen, int nocase) {
    int skip_longer = 0;
    return globMatch(pattern, plen, str, slen, nocase, &skip_longer, 0);
}

/* ================================= strbuf ================================= */
/* Invariant: once anything was reserved, buf[len] == '\0' and cap > len, so
 * b->buf can be handed to C-string APIs.  The strbuf owns buf; sbFree()
 * releases it. */

void sbInit(strbuf *b) {
    b->buf = NULL;
    b->len = 0;
    b->cap = 0;
}

void sbFree(strbuf *b) {
    free(b->buf);
    sbInit(b);
}

void sbReserve(strbuf *b, size_t extra) {
    size_t need, ncap;
    char *nb;

    if (extra > SIZE_MAX - b->len - 1) utilOom(SIZE_MAX);
    need = b->len + extra + 1; /* +1 keeps room for the terminator */
    if (need <= b->cap) return;
    /* Doubling keeps appends amortised O(1). */
    ncap = b->cap < SB_MIN_CAP_BYTES ? SB_MIN_CAP_BYTES : b->cap;
    while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    nb = realloc(b->buf, ncap);
    if (nb == NULL) utilOom(ncap);
    b->buf = nb;
    b->cap = ncap;
    b->buf[b->len] = '\0';
}

void sbAppend(strbuf *b, const void *p, size_t n) {
    sbReserve(b, n);
    if (n) memcpy(b->buf + b->len, p, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void sbAppendStr(strbuf *b, const char *s) {
    sbAppend(b, s, strlen(s));
}

void sbPrintf(strbuf *b, const char *fmt, ...) {
    va_list ap, ap2;
    int n;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    sbReserve(b, 64);
    n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    if (n >= 0 && (size_t)n >= b->cap - b->len) {
        sbReserve(b, (size_t)n);
        n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    va_end(ap);
    if (n < 0) {
        b->buf[b->len] = '\0'; /* encoding error: append nothing */
        return;
    }
    b->len += (size_t)n;
}

void sbClear(strbuf *b) {
    b->len = 0;
    if (b->buf) b->buf[0] = '\0';
}

/* ================================= Clocks ================================= */

static uint64_t clockUs(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

static __thread uint64_t rngState;

uint64_t rngNext(void) {
    if (!rngState) {
        uint64_t s = 0;
        if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
            s = ustime() ^ (uint64_t)(uintptr_t)&s;
        rngState = s | 1;
    }
    rngState ^= rngState >> 12;
    rngState ^= rngState << 25;
    rngState ^= rngState >> 27;
    return rngState * 2685821657736338717ULL;
}

/* Values below 2^64 mod n are redrawn so the modulo has no bias (fewer
 * than half are, so a redraw is rare). */
uint64_t rngBelow(uint64_t n) {
    uint64_t floor = (0 - n) % n, r;
    do r = rngNext();
    while (r < floor);
    return r % n;
}

double rngUnit(void) {
    return (double)(rngNext() >> 11) * 0x1p-53;
}

uint64_t ustime(void) {
    return clockUs(CLOCK_REALTIME);
}

uint64_t mstime(void) {
    return ustime() / 1000ULL;
}

uint64_t monotonic_us(void) {
    return clockUs(CLOCK_MONOTONIC);
}

/* ============================== bytesToHuman ============================== */

void bytesToHuman(char *buf, size_t size, unsigned long long n) {
    static const char units[] = "KMGTP";
    double d = (double)n;
    unsigned long long limit = 1024ULL * 1024ULL;
    int i;

    if (size == 0) return;
    if (n < 1024) {
        snprintf(buf, size, "%lluB", n);
        return;
    }
    /* Two decimals in the largest unit that keeps the value below 1024;
     * beyond petabytes Redis falls back to plain bytes. */
    for (i = 0; i < 5; i++) {
        if (n < limit) {
            snprintf(buf, size, "%.2f%c", d / (double)(limit / 1024ULL), units[i]);
            return;
        }
        if (i < 4) limit *= 1024ULL; /* stops at 2^60: no wrap-around */
    }
    snprintf(buf, size, "%lluB", n);
}

/* ========================== Connection policy ============================= */

int sockaddrIsLoopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_LOOPBACK(&s->sin6_addr)) return 1;
        if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) return s->sin6_addr.s6_addr[12] == 127;
        return 0;
    }
    return ss->ss_family == AF_UNIX;
}

int protectedModeRefuses(int protected_mode, const char *requirepass, int is_loopback)
{
    return protected_mode && (requirepass == NULL || requirepass[0] == '\0') && !is_loopback;
}

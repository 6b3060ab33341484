/* util.h - small pure helpers shared by the server: number <-> string
 * conversions with Redis's exact acceptance rules, glob matching, and a
 * growable byte buffer.  No I/O, no libevent: cmocka tests them directly. */
#ifndef STRATA_UTIL_H
#define STRATA_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Parses a whole string as a signed 64-bit integer with Redis's rules (no
 * leading spaces or '+', no leading zeros except "0", "-0" rejected, no
 * overflow).  Returns 1 and sets *out on success, 0 otherwise. */
int string2ll(const char *s, size_t slen, long long *out);
/* Same for unsigned 64-bit. */
int string2ull(const char *s, size_t slen, unsigned long long *out);
/* Parses a long double as INCRBYFLOAT does (strtold, whole string, no spaces,
 * not NaN).  Returns 1/0. */
int string2ld(const char *s, size_t slen, long double *out);
/* Parses a double as Redis's getDoubleFromObject does ("inf", "-inf" allowed,
 * NaN rejected).  Returns 1/0. */
int string2d(const char *s, size_t slen, double *out);
/* Writes the decimal form of v into buf (size >= 21), returns its length. */
int ll2string(char *buf, size_t size, long long v);
int ull2string(char *buf, size_t size, unsigned long long v);
/* Formats a long double as INCRBYFLOAT's reply: up to 17 significant digits,
 * no exponent, trailing zeros removed ("%.17Lf" then trimmed).  Returns length,
 * or 0 if it did not fit. */
int ld2string(char *buf, size_t size, long double v);
/* Formats a double as Redis's RESP2 bulk form ("inf", "-inf", %.17g). */
int d2string(char *buf, size_t size, double v);

/* Glob-style match with Redis's semantics (* ? [abc] [^a] [a-z] \x). 1 = match. */
int stringmatchlen(const char *pattern, size_t plen, const char *str, size_t slen, int nocase);

/* Growable byte buffer. */
typedef struct strbuf {
    char *buf;
    size_t len;
    size_t cap;
} strbuf;
void sbInit(strbuf *b);
void sbFree(strbuf *b);
void sbReserve(strbuf *b, size_t extra);
void sbAppend(strbuf *b, const void *p, size_t n);
void sbAppendStr(strbuf *b, const char *s);
void sbPrintf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbClear(strbuf *b);

/* Monotonic and wall clocks. */
/* A per-thread xorshift64* generator seeded from the kernel (not for
 * secrets): SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER. */
uint64_t rngNext(void);
uint64_t rngBelow(uint64_t n); /* uniform in [0, n), n > 0, without modulo bias */
double rngUnit(void);          /* uniform in [0, 1) */
uint64_t ustime(void);       /* wall clock, microseconds since the epoch */
uint64_t mstime(void);       /* wall clock, milliseconds since the epoch */
uint64_t monotonic_us(void); /* CLOCK_MONOTONIC, microseconds */

/* Whether a peer address is loopback (127/8, ::1, ::ffff:127/8) or a unix
 * socket. */
int sockaddrIsLoopback(const struct sockaddr_storage *ss);
/* Protected mode: with protected-mode on and no password for the default
 * user, only loopback peers may connect.  Returns 1 to refuse.  Pure so a unit
 * test covers the refusing branch, which an integration test cannot reach
 * without leaving 127.0.0.1. */
int protectedModeRefuses(int protected_mode, const char *requirepass, int is_loopback);

/* Converts bytes to Redis's human form ("1.00M"): writes into buf. */
void bytesToHuman(char *buf, size_t size, unsigned long long n);

#endif

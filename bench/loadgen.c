/* A pipelined Redis-protocol load generator with uniform, Zipfian or
 * sequential key choice, for benchmarks redis-benchmark cannot express (it
 * only draws uniform keys).
 *
 * One pthread per connection.  Each thread sends -P commands (SET or GET of
 * "<prefix><index>"), then reads -P replies, and records per request the time
 * from the write of its batch to the read of its reply.  Values are
 * deterministic in the key index, so --verify on GET checks every value a
 * previous --op set wrote: "<index>:" followed by splitmix64(index) output
 * bytes (little-endian words), cut to -d bytes.  Random bytes, because a
 * repeated pattern would let zstd/LZF shrink a "2 GB" data set to a few MB
 * on disk and in an RDB file.
 *
 * Zipf: a CDF table over the ranks 1..r (P(rank k) ~ 1/k^s), sampled by
 * binary search; ranks map to key indexes through a fixed random permutation
 * so the hot keys are spread over the keyspace rather than clustered at 0.
 * Sequential: request i (counted over all threads) uses key i mod r, for
 * loading every key exactly once.
 *
 * Build: cc -O2 -pthread -o loadgen bench/loadgen.c -lm
 * Output, one line: ops= seconds= rps= p50_us= p99_us= errors= nil= mismatch=
 * Exit status 0, or 1 when a connection failed (the line is still printed). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- options */

enum { OP_SET, OP_GET };
enum { DIST_UNIFORM, DIST_ZIPF, DIST_SEQ };

static const char *opt_host = "127.0.0.1";
static const char *opt_port = "6379";
static const char *opt_prefix = "key:";
static int opt_conns = 8, opt_pipe = 16, opt_op = OP_SET, opt_dist = DIST_UNIFORM, opt_verify;
static long long opt_requests = -1;     /* -n; -1 = not given */
static double opt_seconds = -1;         /* -t; -1 = not given */
static long long opt_keyspace = 100000; /* -r */
static long long opt_value_bytes = 100; /* -d */
static double opt_zipf_s = 0.99;        /* -s */
static unsigned long long opt_seed = 12345;

#define IO_TIMEOUT_SECONDS 30 /* a silent server fails the connection */

/* ------------------------------------------------------ shared run state */

static double *zipf_cdf;   /* zipf_cdf[k] = P(rank <= k), k in [0, r) */
static uint32_t *zipf_perm; /* rank -> key index */
static atomic_llong next_request; /* requests claimed so far (all threads) */
static atomic_int stop_flag;
static double deadline; /* monotonic seconds; 0 = none */

/* Latency histogram in microseconds: exact below 1024 us, then 64
 * sub-buckets per power of two (about 1.5% resolution) up to 2^41 us. */
#define HIST_LINEAR 1024
#define HIST_SUB 64
#define HIST_BUCKETS (HIST_LINEAR + 32 * HIST_SUB)

typedef struct {
    pthread_t tid;
    int id, failed;
    long long ops, errors, nils, mismatches;
    uint64_t hist[HIST_BUCKETS];
} worker;

/* ---------------------------------------------------------------- helpers */

static double nowSeconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng64(uint64_t *s) /* xorshift64* */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static double rngUnit(uint64_t *s) { return (rng64(s) >> 11) * (1.0 / 9007199254740992.0); }

static int histIndex(uint64_t us)
{
    if (us < HIST_LINEAR) return (int)us;
    int e = 63 - __builtin_clzll(us); /* >= 10 */
    int idx = HIST_LINEAR + (e - 10) * HIST_SUB + (int)((us >> (e - 6)) & (HIST_SUB - 1));
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static uint64_t histValue(int idx) /* lower bound of bucket idx, us */
{
    if (idx < HIST_LINEAR) return (uint64_t)idx;
    int e = 10 + (idx - HIST_LINEAR) / HIST_SUB, sub = (idx - HIST_LINEAR) % HIST_SUB;
    return (uint64_t)(HIST_SUB + sub) << (e - 6);
}

static uint64_t histPercentile(const uint64_t *h, uint64_t total, double p)
{
    uint64_t want = (uint64_t)ceil(total * p), seen = 0;
    if (want == 0) want = 1;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h[i];
        if (seen >= want) return histValue(i);
    }
    return 0;
}

/* The value stored under key index idx, written into out (caller's buffer
 * of opt_value_bytes bytes): "<idx>:" then the splitmix64 stream seeded
 * with idx, each word little-endian, all cut to opt_value_bytes. */
static void makeValue(long long idx, char *out)
{
    char head[24];
    size_t n = (size_t)snprintf(head, sizeof(head), "%lld:", idx), len = (size_t)opt_value_bytes;
    memcpy(out, head, n < len ? n : len);
    uint64_t x = (uint64_t)idx;
    for (size_t i = n; i < len; i += 8) {
        uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        for (size_t b = 0; b < 8 && i + b < len; b++) out[i + b] = (char)(z >> (8 * b));
    }
}

/* Zipf tables: CDF over ranks and a Fisher-Yates permutation from a fixed
 * seed (identical across runs, so every run has the same hot keys).  Both
 * live until exit. */
static int zipfInit(void)
{
    long long n = opt_keyspace;
    zipf_cdf = malloc(n * sizeof(*zipf_cdf));
    zipf_perm = malloc(n * sizeof(*zipf_perm));
    if (!zipf_cdf || !zipf_perm) return -1;
    double sum = 0;
    for (long long k = 0; k < n; k++) zipf_cdf[k] = (sum += pow((double)(k + 1), -opt_zipf_s));
    for (long long k = 0; k < n; k++) zipf_cdf[k] /= sum;
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (long long k = 0; k < n; k++) zipf_perm[k] = (uint32_t)k;
    for (long long k = n - 1; k > 0; k--) {
        long long j = (long long)(rng64(&s) % (uint64_t)(k + 1));
        uint32_t t = zipf_perm[k];
        zipf_perm[k] = zipf_perm[j];
        zipf_perm[j] = t;
    }
    return 0;
}

static long long pickKey(uint64_t *rs, long long seqno)
{
    if (opt_dist == DIST_SEQ) return seqno % opt_keyspace;
    if (opt_dist == DIST_UNIFORM) return (long long)(rng64(rs) % (uint64_t)opt_keyspace);
    double u = rngUnit(rs);
    long long lo = 0, hi = opt_keyspace - 1;
    while (lo < hi) { /* first rank whose CDF reaches u */
        long long mid = (lo + hi) / 2;
        if (zipf_cdf[mid] < u) lo = mid + 1; else hi = mid;
    }
    return zipf_perm[lo];
}

/* ------------------------------------------------------- connection I/O */

typedef struct {
    int fd;
    char *buf;
    size_t cap, start, end; /* unread bytes are buf[start, end) */
} conn;

static int connOpen(conn *c)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(opt_host, opt_port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "loadgen: %s:%s: %s\n", opt_host, opt_port, gai_strerror(rc));
        return -1;
    }
    c->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        fprintf(stderr, "loadgen: connect %s:%s: %s\n", opt_host, opt_port, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    int one = 1;
    struct timeval tv = {IO_TIMEOUT_SECONDS, 0};
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    c->cap = 1 << 16;
    c->start = c->end = 0;
    c->buf = malloc(c->cap);
    return c->buf ? 0 : -1;
}

static int writeAll(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Make at least n unread bytes available in c->buf; 0 or -1 (EOF/error). */
static int connNeed(conn *c, size_t n)
{
    while (c->end - c->start < n) {
        if (c->start > 0) { /* compact */
            memmove(c->buf, c->buf + c->start, c->end - c->start);
            c->end -= c->start;
            c->start = 0;
        }
        if (n > c->cap || c->cap - c->end < 4096) {
            size_t cap = c->cap * 2 > n + 4096 ? c->cap * 2 : n + 4096;
            char *b = realloc(c->buf, cap);
            if (!b) return -1;
            c->buf = b;
            c->cap = cap;
        }
        ssize_t r = read(c->fd, c->buf + c->end, c->cap - c->end);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        c->end += (size_t)r;
    }
    return 0;
}

/* Next CRLF-terminated line: *line points into c->buf (valid until the
 * next read), *len excludes the CRLF.  0 or -1. */
static int connLine(conn *c, char **line, size_t *len)
{
    size_t scanned = 0;
    for (;;) {
        char *p = c->buf + c->start, *nl = memchr(p + scanned, '\n', c->end - c->start - scanned);
        if (nl) {
            *line = p;
            *len = (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
            c->start += (size_t)(nl - p) + 1;
            return 0;
        }
        scanned = c->end - c->start;
        if (connNeed(c, scanned + 1) < 0) return -1;
    }
}

/* ------------------------------------------------------------- the worker */

/* Read one reply to a request for key idx and account it in w.  Handles
 * +simple, -error, :integer, $bulk and $-1 nil.  0 or -1 (I/O/protocol). */
static int readReply(conn *c, worker *w, long long idx, char *expect)
{
    char *line;
    size_t len;
    if (connLine(c, &line, &len) < 0 || len == 0) return -1;
    switch (line[0]) {
    case '+': case ':': return 0;
    case '-': w->errors++; return 0;
    case '$': {
        long long blen = strtoll(line + 1, NULL, 10);
        if (blen < 0) { w->nils++; return 0; }
        if (connNeed(c, (size_t)blen + 2) < 0) return -1;
        if (opt_verify) {
            makeValue(idx, expect);
            if (blen != opt_value_bytes || memcmp(c->buf + c->start, expect, (size_t)blen) != 0)
                w->mismatches++;
        }
        c->start += (size_t)blen + 2;
        return 0;
    }
    default:
        fprintf(stderr, "loadgen: unexpected reply type '%c'\n", line[0]);
        return -1;
    }
}

/* Claim up to opt_pipe requests: returns the count (0 = done) and the first
 * sequence number in *first. */
static int claimBatch(long long *first)
{
    if (atomic_load(&stop_flag)) return 0;
    if (deadline > 0 && nowSeconds() >= deadline) return 0;
    long long s = atomic_fetch_add(&next_request, opt_pipe);
    *first = s;
    if (opt_requests < 0) return opt_pipe;
    if (s >= opt_requests) return 0;
    return (int)(opt_requests - s < opt_pipe ? opt_requests - s : opt_pipe);
}

static void *workerMain(void *arg)
{
    worker *w = arg;
    conn c;
    uint64_t rs = opt_seed * 0x9E3779B97F4A7C15ULL + (uint64_t)w->id * 7919 + 1;
    size_t vb = (size_t)opt_value_bytes;
    size_t cmdcap = (size_t)opt_pipe * (vb + 128 + strlen(opt_prefix));
    char *cmd = malloc(cmdcap), *expect = malloc(vb + 1);
    long long *idx = malloc(opt_pipe * sizeof(*idx));
    if (!cmd || !expect || !idx || connOpen(&c) < 0) {
        w->failed = 1;
        atomic_store(&stop_flag, 1);
        return NULL;
    }
    long long first;
    int n;
    while ((n = claimBatch(&first)) > 0) {
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            char key[256];
            idx[i] = pickKey(&rs, first + i);
            int kl = snprintf(key, sizeof(key), "%s%lld", opt_prefix, idx[i]);
            if (opt_op == OP_SET) {
                off += (size_t)sprintf(cmd + off, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%zu\r\n", kl, key, vb);
                makeValue(idx[i], cmd + off);
                memcpy(cmd + off + vb, "\r\n", 2);
                off += vb + 2;
            } else {
                off += (size_t)sprintf(cmd + off, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
            }
        }
        double t0 = nowSeconds();
        errno = 0;
        if (writeAll(c.fd, cmd, off) < 0) goto ioerr;
        for (int i = 0; i < n; i++) {
            if (readReply(&c, w, idx[i], expect) < 0) goto ioerr;
            w->hist[histIndex((uint64_t)((nowSeconds() - t0) * 1e6))]++;
            w->ops++;
        }
    }
    goto done;
ioerr:
    fprintf(stderr, "loadgen: connection %d: %s\n", w->id,
            errno ? strerror(errno) : "closed or protocol error");
    w->failed = 1;
done:
    close(c.fd);
    free(c.buf);
    free(cmd);
    free(expect);
    free(idx);
    return NULL;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen [-h host] [-p port] [-c conns] [-P pipeline] [-n requests] [-t seconds]\n"
            "               [-r keyspace] [-d value_bytes] [--op set|get] [--dist uniform|zipf|seq]\n"
            "               [-s zipf_exponent] [--prefix P] [--seed N] [--verify]\n"
            "  Without -n and -t: -n 100000.  With both, whichever ends first.\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"op", required_argument, 0, 'o'},     {"dist", required_argument, 0, 'D'},
        {"prefix", required_argument, 0, 'x'}, {"verify", no_argument, 0, 'v'},
        {"seed", required_argument, 0, 'S'},   {"help", no_argument, 0, 'H'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h:p:c:P:n:t:r:d:s:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h': opt_host = optarg; break;
        case 'p': opt_port = optarg; break;
        case 'c': opt_conns = atoi(optarg); break;
        case 'P': opt_pipe = atoi(optarg); break;
        case 'n': opt_requests = atoll(optarg); break;
        case 't': opt_seconds = atof(optarg); break;
        case 'r': opt_keyspace = atoll(optarg); break;
        case 'd': opt_value_bytes = atoll(optarg); break;
        case 's': opt_zipf_s = atof(optarg); break;
        case 'x': opt_prefix = optarg; break;
        case 'v': opt_verify = 1; break;
        case 'S': opt_seed = strtoull(optarg, NULL, 10); break;
        case 'o':
            if (!strcmp(optarg, "set")) opt_op = OP_SET;
            else if (!strcmp(optarg, "get")) opt_op = OP_GET;
            else usage();
            break;
        case 'D':
            if (!strcmp(optarg, "uniform")) opt_dist = DIST_UNIFORM;
            else if (!strcmp(optarg, "zipf")) opt_dist = DIST_ZIPF;
            else if (!strcmp(optarg, "seq")) opt_dist = DIST_SEQ;
            else usage();
            break;
        default: usage();
        }
    }
    if (optind != argc || opt_conns < 1 || opt_pipe < 1 || opt_keyspace < 1 ||
        opt_keyspace > UINT32_MAX || opt_value_bytes < 1 || strlen(opt_prefix) > 200)
        usage();
    if (opt_requests < 0 && opt_seconds < 0) opt_requests = 100000;
    if (opt_dist == DIST_ZIPF && zipfInit() < 0) {
        fprintf(stderr, "loadgen: out of memory for the zipf tables\n");
        return 1;
    }

    worker *ws = calloc((size_t)opt_conns, sizeof(*ws));
    if (!ws) return 1;
    double t0 = nowSeconds();
    if (opt_seconds >= 0) deadline = t0 + opt_seconds;
    int started = 0;
    for (; started < opt_conns; started++) {
        ws[started].id = started;
        if (pthread_create(&ws[started].tid, NULL, workerMain, &ws[started]) != 0) {
            fprintf(stderr, "loadgen: pthread_create failed\n");
            atomic_store(&stop_flag, 1);
            break;
        }
    }
    static uint64_t hist[HIST_BUCKETS];
    long long ops = 0, errors = 0, nils = 0, mismatches = 0;
    int failed = started < opt_conns;
    for (int i = 0; i < started; i++) {
        pthread_join(ws[i].tid, NULL);
        ops += ws[i].ops;
        errors += ws[i].errors;
        nils += ws[i].nils;
        mismatches += ws[i].mismatches;
        failed |= ws[i].failed;
        for (int b = 0; b < HIST_BUCKETS; b++) hist[b] += ws[i].hist[b];
    }
    double secs = nowSeconds() - t0;
    printf("ops=%lld seconds=%.3f rps=%.0f p50_us=%llu p99_us=%llu errors=%lld nil=%lld mismatch=%lld\n",
           ops, secs, secs > 0 ? ops / secs : 0.0,
           (unsigned long long)histPercentile(hist, (uint64_t)ops, 0.50),
           (unsigned long long)histPercentile(hist, (uint64_t)ops, 0.99), errors, nils, mismatches);
    free(ws);
    return failed ? 1 : 0;
}

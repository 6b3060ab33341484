/* event.c - event loops: one libevent base per server thread, each with its
 * own SO_REUSEPORT listeners, a periodic cron and a cross-thread wake-up.
 *
 * Thread 0 is the process's main thread; threads 1..N-1 are started here.
 * The kernel spreads new connections over the listeners of all threads, and
 * a connection stays on the thread that accepted it for its whole life.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

/* ========================== Listeners ===================================== */


static void formatAddr(const struct sockaddr_storage *ss, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        port = ntohs(s->sin_port);
        snprintf(buf, size, "%s:%d", ip, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        port = ntohs(s->sin6_port);
        snprintf(buf, size, "%s:%d", ip, port);
    } else {
        snprintf(buf, size, "unix:0");
    }
}

static void onAccept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    strataThread *t = arg;
    for (int i = 0; i < 64; i++) { /* bounded so one busy listener cannot starve clients */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                serverLog(LL_WARNING, "Accepting client connection: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (cfg.tcp_keepalive > 0) {
            int idle = cfg.tcp_keepalive, intvl = cfg.tcp_keepalive / 3, cnt = 3;
            if (intvl <= 0) intvl = 1;
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
        }
        char peer[64], local[64];
        struct sockaddr_storage ls;
        socklen_t lsl = sizeof(ls);
        formatAddr(&ss, peer, sizeof(peer));
        if (getsockname(fd, (struct sockaddr *)&ls, &lsl) == 0)
            formatAddr(&ls, local, sizeof(local));
        else
            snprintf(local, sizeof(local), "?:0");
        acceptClient(t, fd, peer, local, sockaddrIsLoopback(&ss));
    }
}

/* Opens one listening socket.  `first`: this is the first listener on the
 * address, so refuse a port another process already serves: with
 * SO_REUSEPORT the kernel would let a second server (same user) share the
 * port and silently split connections between the two.  Returns the fd or -1
 * (errno kept). */
static int listenOn(const char *host, int port, int backlog, int first)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[16];
    int fd = -1;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = strchr(host, ':') ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0) {
        errno = EINVAL;
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (first) {
            /* Probe without SO_REUSEPORT: fails with EADDRINUSE if taken. */
            if (ai->ai_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
            int ok = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
            int saved = errno;
            close(fd);
            fd = -1;
            if (!ok) {
                errno = saved;
                continue;
            }
            fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) continue;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0) break;
        int saved = errno;
        close(fd);
        errno = saved;
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Binds every `bind` address for thread t.  Addresses prefixed with '-' are
 * optional (Redis's convention): failing to bind them is not an error. */
static int threadListen(strataThread *t)
{
    for (int i = 0; i < cfg.bind_count; i++) {
        const char *h = cfg.bind[i];
        int optional = 0;
        if (h[0] == '-') {
            optional = 1;
            h++;
        }
        if (strcmp(h, "*") == 0) h = "0.0.0.0";
        int fd = listenOn(h, cfg.port, cfg.tcp_backlog, t->idx == 0);
        if (fd < 0) {
            if (optional) continue;
            serverLog(LL_WARNING, "Could not create server TCP listening socket %s:%d: %s", h,
                      cfg.port, strerror(errno));
            return C_ERR;
        }
        t->listen_fds[t->nlisteners] = fd;
        t->listeners[t->nlisteners] = event_new(t->base, fd, EV_READ | EV_PERSIST, onAccept, t);
        event_add(t->listeners[t->nlisteners], NULL);
        t->nlisteners++;
    }
    if (t->nlisteners == 0 && cfg.port != 0) {
        serverLog(LL_WARNING, "No listening socket could be opened");
        return C_ERR;
    }
    return C_OK;
}

/* ========================== Cron and wake-ups ============================= */

static void onWake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    strataThread *t = arg;
    if (atomic_load(&server.shutdown_asap)) {
        event_base_loopbreak(t->base);
        return;
    }
    clientHandleWake(t);
}

static void onCron(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    strataThread *t = arg;
    if (atomic_load(&server.shutdown_asap)) {
        event_base_loopbreak(t->base);
        return;
    }
    clientsCron(t, mstime());
}

/* Runs one thread's loop.  After each pass over the ready events, the
 * thread's write group commits and the replies it held back are written
 * (Redis's beforeSleep): writes of every client served in that pass share
 * one WAL write. */
static void threadLoop(strataThread *t)
{
    stThreadInit(1);
    while (!atomic_load(&server.shutdown_asap)) {
        event_base_loop(t->base, EVLOOP_ONCE);
        clientsBeforeSleep(t);
        stThreadIdle();
    }
    clientsBeforeSleep(t);
    callThreadExit();
    stThreadIdle();
}

static void *threadMain(void *arg)
{
    threadLoop(arg);
    return NULL;
}

/* ========================== Public API ==================================== */

void eventWakeThread(strataThread *t)
{
    event_active(t->wake, EV_READ, 0);
}

int eventStartThreads(void)
{
    evthread_use_pthreads();
    server.nthreads = cfg.server_threads;
    server.threads = calloc(server.nthreads, sizeof(strataThread));
    for (int i = 0; i < server.nthreads; i++) {
        strataThread *t = &server.threads[i];
        t->idx = i;
        pthread_mutex_init(&t->xlock, NULL);
        t->base = event_base_new();
        if (!t->base) return C_ERR;
        t->wake = event_new(t->base, -1, EV_PERSIST, onWake, t);
        t->cron = event_new(t->base, -1, EV_PERSIST, onCron, t);
        struct timeval tv = {0, CRON_INTERVAL_MS * 1000};
        event_add(t->cron, &tv);
        if (threadListen(t) != C_OK) return C_ERR;
    }
    for (int i = 1; i < server.nthreads; i++) {
        strataThread *t = &server.threads[i];
        if (pthread_create(&t->tid, NULL, threadMain, t) != 0) return C_ERR;
    }
    server.threads[0].tid = pthread_self();
    return C_OK;
}

void eventRunMainThread(void)
{
    threadLoop(&server.threads[0]);
}

/* Stops every loop, joins threads 1..N-1 and frees their clients. */
void eventStopAll(void)
{
    atomic_store(&server.shutdown_asap, 1);
    for (int i = 0; i < server.nthreads; i++) eventWakeThread(&server.threads[i]);
    for (int i = 1; i < server.nthreads; i++) pthread_join(server.threads[i].tid, NULL);
    for (int i = 0; i < server.nthreads; i++) {
        strataThread *t = &server.threads[i];
        while (t->clients) freeClient(t->clients);
        for (int j = 0; j < t->nlisteners; j++) {
            event_free(t->listeners[j]);
            close(t->listen_fds[j]);
        }
        event_free(t->wake);
        event_free(t->cron);
        event_base_free(t->base);
        free(t->xpending); /* grown by clientPostReply() */
        free(t->wpending); /* grown by clientQueueWrite() */
        pthread_mutex_destroy(&t->xlock);
    }
    free(server.threads);
    server.threads = NULL;
}

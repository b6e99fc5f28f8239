/* server/main.c: wakeful-server's process: flags, limits, signals, the startup line, the
 * workers, the acceptor loop and the shutdown summary.  See --help and server/README.md. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "acceptor.h"
#include "cli.h"
#include <wakeful/errors.h>
#include "options.h"
#include "server.h"
#include <wakeful/tcp.h>
#include "worker.h"

/* Descriptors the server keeps for itself out of RLIMIT_NOFILE when --max-connections is
 * not given: stdio, the listener, epoll, signalfd and eventfd of the main thread, slack for
 * libc and tools (64), and per worker its pipe (2), epoll instance, eventfd and drain
 * timerfd (5, one to spare). */
#define FD_RESERVE_BASE 64u
#define FD_RESERVE_PER_WORKER 5u

/* The listen backlog: the system's maximum (the kernel clamps any larger value to
 * net.core.somaxconn anyway; reading it makes the intent explicit).  A full accept queue
 * drops SYNs and costs each client a 1 s retransmission. */
static int listen_backlog(void)
{
    int backlog = SOMAXCONN;
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "re");
    if (f != NULL) {
        int v;
        if (fscanf(f, "%d", &v) == 1 && v > 0)
            backlog = v;
        fclose(f);
    }
    return backlog;
}

static uint64_t default_max_connections(rlim_t nofile, unsigned workers)
{
    uint64_t reserve = FD_RESERVE_BASE + (uint64_t)FD_RESERVE_PER_WORKER * workers;
    uint64_t limit = nofile == RLIM_INFINITY ? (1ull << 30) : (uint64_t)nofile;
    /* With a tiny limit keep at least half for connections. */
    if (reserve > limit / 2)
        reserve = limit / 2;
    return limit - reserve > 0 ? limit - reserve : 1;
}

int main(int argc, char **argv)
{
    /* Line-buffered even into a pipe: the startup line and the -v lines go out whole and
     * at once, each in one write. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct server_options opt;
    switch (options_parse(argc, argv, &opt)) {
    case OPTIONS_RUN:
        break;
    case OPTIONS_EXIT_OK:
        return 0;
    case OPTIONS_EXIT_USAGE:
        return 2;
    }

#ifdef __GLIBC__
    /* The workers hand freed memory back when they go idle (worker_on_park).  By default
     * glibc keeps the top 128 KiB (M_TOP_PAD) of each thread's arena and trims it only when
     * it reaches 128 KiB more: up to 256 KiB per worker that stays resident after a burst,
     * more or less of it from one burst to the next.  Keep no pad, and trim from 64 KiB. */
    mallopt(M_TOP_PAD, 0);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024);
#endif

    /* Signals: SIGPIPE ignored (sends use MSG_NOSIGNAL anyway); the three we act on are
     * blocked here, before any thread exists, so every thread inherits the mask and they
     * arrive only through the main loop's signalfd. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0) {
        fprintf(stderr, "wakeful-server: signalfd: %s\n", strerror(errno));
        return 1;
    }

    rlim_t nofile = cli_raise_nofile_limit();

    struct server srv;
    memset(&srv, 0, sizeof srv);
    srv.opt = &opt;
    srv.max_connections = opt.max_connections ? opt.max_connections
                                              : default_max_connections(nofile, opt.workers);
    srv.rec_size = opt.verbosity >= VERBOSITY_VERBOSE ? sizeof(struct dispatch_rec)
                                                      : DISPATCH_REC_SHORT;
    AO_store(&srv.live, 0);
    srv.poke_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv.poke_fd < 0) {
        fprintf(stderr, "wakeful-server: eventfd: %s\n", strerror(errno));
        return 1;
    }

    struct sockaddr_storage addr;
    socklen_t addr_len;
    char where[96];
    if (wk_sockaddr_parse(opt.bind, opt.port, &addr, &addr_len) != 0) {
        fprintf(stderr, "wakeful-server: cannot parse address %s\n", opt.bind);
        return 2;
    }
    int lfd = wk_tcp_listen((struct sockaddr *)&addr, addr_len, listen_backlog());
    if (lfd < 0) {
        wk_sockaddr_format((struct sockaddr *)&addr, where, sizeof where);
        fprintf(stderr, "wakeful-server: cannot listen on %s: %s\n", where, wk_strerror(lfd));
        return 1;
    }
    /* TCP_DEFER_ACCEPT: the handshake completes in the kernel, but the connection reaches the
     * accept queue only once its first bytes have arrived (or the period ran out).  The
     * acceptor then wakes once per request instead of once for the handshake and once more
     * (in the worker) for the frame, and the worker's first recv finds the frame there.
     * In seconds, rounded up.  Failing to set it is not fatal: it only costs speed. */
    if (opt.defer_accept_ms > 0) {
        int secs = (int)((opt.defer_accept_ms + 999) / 1000);
        if (setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs) != 0 &&
            opt.verbosity >= VERBOSITY_NORMAL)
            fprintf(stderr, "wakeful-server: TCP_DEFER_ACCEPT: %s (going on without it)\n",
                    strerror(errno));
    }
    /* The real address, port included when -p 0 let the kernel choose. */
    addr_len = sizeof addr;
    if (getsockname(lfd, (struct sockaddr *)&addr, &addr_len) != 0) {
        fprintf(stderr, "wakeful-server: getsockname: %s\n", strerror(errno));
        return 1;
    }
    wk_sockaddr_format((struct sockaddr *)&addr, where, sizeof where);

    int r = workers_start(&srv);
    if (r < 0) {
        fprintf(stderr, "wakeful-server: cannot start the workers: %s\n", wk_strerror(r));
        return 1;
    }
    struct acceptor acc;
    r = acceptor_init(&acc, &srv, lfd, sigfd);
    if (r < 0) {
        fprintf(stderr, "wakeful-server: cannot start the acceptor: %s\n", wk_strerror(r));
        return 1;
    }

    /* The one line scripts wait for; -v lines follow on stdout, one write each. */
    printf("listening on %s (%u workers)\n", where, opt.workers);
    fflush(stdout);

    r = acceptor_run(&acc);
    if (r < 0)
        fprintf(stderr, "wakeful-server: main loop: %s; shutting down\n", wk_strerror(r));
    else if (opt.verbosity >= VERBOSITY_NORMAL)
        fprintf(stderr, "wakeful-server: %s: draining (at most %llu ms)\n", strsignal(r),
                (unsigned long long)opt.drain_ms);

    /* Shutdown: no new connections (the kernel resets those still in the backlog), then
     * the workers finish what they hold and exit, then the summary. */
    acceptor_stop_listening(&acc);
    workers_stop(&srv);
    if (opt.verbosity >= VERBOSITY_NORMAL) {
        fprintf(stderr, "wakeful-server: shutdown summary\n");
        workers_report(&srv, stderr, 0);
        acceptor_report(&acc, stderr);
    }
    workers_free(&srv);
    acceptor_free(&acc);
    close(srv.poke_fd);
    return r < 0 ? 1 : 0;
}

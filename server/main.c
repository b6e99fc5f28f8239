/* server/main.c: wakeful-server's process: flags, limits, signals, the startup line, the
 * workers, the acceptor loop and the shutdown summary.  See --help and server/README.md. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cli.h"
#include <wakeful/errors.h>
#include "options.h"
#include "server.h"
#include <wakeful/tcp.h>

/* Descriptors the server keeps for itself out of RLIMIT_NOFILE when --max-connections is
 * not given: stdio, the listener, epoll, signalfd and eventfds of the main thread, slack for
 * libc and tools (64), and per worker its pipe (2), epoll instance, eventfd and drain
 * timerfd (5, one to spare). */
#define FD_RESERVE_BASE 64u
#define FD_RESERVE_PER_WORKER 5u

static uint64_t default_max_connections(rlim_t nofile, unsigned workers)
{
    uint64_t reserve = FD_RESERVE_BASE + (uint64_t)FD_RESERVE_PER_WORKER * workers;
    uint64_t limit = nofile == RLIM_INFINITY ? (1ull << 30) : (uint64_t)nofile;
    /* With a tiny limit keep at least half for connections. */
    if (reserve > limit / 2)
        reserve = limit / 2;
    return limit - reserve > 0 ? limit - reserve : 1;
}

/* What the signal handler (the acceptor loop's watch on the signalfd) works on. */
struct program {
    const struct server_options *opt;
    struct server *srv;
    int sigfd;
    int stopping;   /* a SIGINT/SIGTERM came */
};

/* The acceptor's loop saw the signalfd readable.  SIGUSR1: the counters to stderr.
 * SIGINT/SIGTERM: stop. */
static void on_signal(void *arg)
{
    struct program *pg = arg;
    struct signalfd_siginfo si;
    while (read(pg->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1) {
            fprintf(stderr, "wakeful-server: counters\n");
            server_report(pg->srv, stderr, 1);
            continue;
        }
        if (!pg->stopping && pg->opt->verbosity >= VERBOSITY_NORMAL)
            fprintf(stderr, "wakeful-server: %s: draining (at most %llu ms)\n",
                    strsignal((int)si.ssi_signo), (unsigned long long)pg->opt->drain_ms);
        pg->stopping = 1;
        server_stop(pg->srv);
    }
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

    /* Signals: SIGPIPE ignored (sends use MSG_NOSIGNAL anyway); the ones we act on are
     * blocked here, before any thread exists, so every thread inherits the mask and they
     * arrive only through the signalfd the acceptor's loop watches. */
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
    struct program pg = {.opt = &opt, .srv = &srv, .sigfd = sigfd, .stopping = 0};
    struct server_watch watch = {.fd = sigfd, .fn = on_signal, .arg = &pg};
    const char *what = "";
    int r = server_start(&srv, &opt, default_max_connections(nofile, opt.workers), &watch,
                         &what);
    if (r < 0) {
        if (strcmp(what, "listen") == 0) {
            char where[96];
            wk_sockaddr_format((struct sockaddr *)&srv.addr, where, sizeof where);
            fprintf(stderr, "wakeful-server: cannot listen on %s: %s\n", where,
                    wk_strerror(r));
        } else {
            fprintf(stderr, "wakeful-server: cannot start the %s: %s\n", what,
                    wk_strerror(r));
        }
        return 1;
    }

    /* The one line scripts wait for; -v lines follow on stdout, one write each. */
    char where[96];
    wk_sockaddr_format((struct sockaddr *)&srv.addr, where, sizeof where);
    printf("listening on %s (%u workers)\n", where, opt.workers);
    fflush(stdout);

    r = server_run(&srv);
    if (r < 0)
        fprintf(stderr, "wakeful-server: main loop: %s; shutting down\n", wk_strerror(r));
    if (opt.verbosity >= VERBOSITY_NORMAL) {
        fprintf(stderr, "wakeful-server: shutdown summary\n");
        server_report(&srv, stderr, 0);
    }
    server_free(&srv);
    close(sigfd);
    return r < 0 ? 1 : 0;
}

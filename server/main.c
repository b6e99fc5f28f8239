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
 * not given: stdio, the listener and the agent's, epoll, signalfd and eventfds of the
 * acceptor's thread, slack for libc and tools (64), and per worker its pipe (2), epoll
 * instance, eventfd and drain timerfd (5, one to spare). */
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

/* The acceptor's loop saw the signalfd readable.  SIGUSR1 or SIGHUP: the counters to
 * stderr (SIGHUP reloads nothing: there is no configuration file to re-read and no log
 * file to re-open; it only must not kill the server, as its default action would).
 * SIGINT/SIGTERM: server_stop; a second one during the grace period ends the grace, later
 * ones change nothing (server_stop decides; this only words the stderr line). */
static void on_signal(void *arg)
{
    struct program *pg = arg;
    struct signalfd_siginfo si;
    while (read(pg->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGHUP) {
            fprintf(stderr, "wakeful-server: counters\n");
            server_report(pg->srv, stderr, 1);
            continue;
        }
        if (pg->opt->verbosity >= VERBOSITY_NORMAL) {
            if (!pg->stopping && pg->opt->drain_grace_ms > 0)
                fprintf(stderr, "wakeful-server: %s: grace period of %llu ms, then "
                                "draining (at most %llu ms)\n",
                        strsignal((int)si.ssi_signo),
                        (unsigned long long)pg->opt->drain_grace_ms,
                        (unsigned long long)pg->opt->drain_ms);
            else if (!pg->stopping)
                fprintf(stderr, "wakeful-server: %s: draining (at most %llu ms)\n",
                        strsignal((int)si.ssi_signo), (unsigned long long)pg->opt->drain_ms);
            else if (server_phase(pg->srv) == SERVER_GRACE)
                fprintf(stderr, "wakeful-server: %s again: grace period ended\n",
                        strsignal((int)si.ssi_signo));
        }
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
    sigaddset(&set, SIGHUP);
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
        if (strcmp(what, "listen") == 0 || strcmp(what, "agent") == 0) {
            char where[96];
            wk_sockaddr_format(what[0] == 'l' ? (struct sockaddr *)&srv.addr
                                              : (struct sockaddr *)&srv.agent_addr,
                               where, sizeof where);
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
    if (opt.agent_port >= 0) {
        wk_sockaddr_format((struct sockaddr *)&srv.agent_addr, where, sizeof where);
        printf("agent on %s\n", where);
    }
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

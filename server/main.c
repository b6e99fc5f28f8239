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
#include "log.h"
#include "metrics_http.h"
#include "notify.h"
#include "server.h"
#include "server_metrics.h"
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

/* Sends READY=1 (and its STATUS=) to systemd.  The one datagram systemd must not miss:
 * when its queue is full (-EAGAIN), try again, 1 ms apart, for at most 100 ms, before
 * going on without it (systemd then fails the start at TimeoutStartSec=, and the warning
 * says why). */
static void notify_ready(const char *state, int verbosity)
{
    int r = notify_send(state);
    for (int i = 0; r == -EAGAIN && i < 100; i++) {
        usleep(1000);
        r = notify_send(state);
    }
    if (r < 0 && verbosity >= VERBOSITY_NORMAL)
        log_line(LOG_LEVEL_WARN, LOG_NO_WORKER, LOG_NO_CONN,
                 "cannot tell systemd the server is ready ($NOTIFY_SOCKET): %s",
                 wk_strerror(r));
}

/* The acceptor's loop saw the signalfd readable.  SIGUSR1 or SIGHUP: the counters to
 * stderr (SIGHUP reloads nothing: there is no configuration file to re-read and no log
 * file to re-open; it only must not kill the server, as its default action would).
 * SIGINT/SIGTERM: server_stop, and systemd hears STOPPING=1 at the first; a second one
 * during the grace period ends the grace, later ones change nothing (server_stop decides;
 * this only words the log line). */
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
        if (!pg->stopping) {
            char status[200];
            if (pg->opt->drain_grace_ms > 0)
                snprintf(status, sizeof status,
                         "STOPPING=1\nSTATUS=grace period of %llu ms, then draining: %llu "
                         "connections open",
                         (unsigned long long)pg->opt->drain_grace_ms,
                         (unsigned long long)limit_live(&pg->srv->limit));
            else
                snprintf(status, sizeof status,
                         "STOPPING=1\nSTATUS=draining: %llu connections open, at most %llu ms",
                         (unsigned long long)limit_live(&pg->srv->limit),
                         (unsigned long long)pg->opt->drain_ms);
            notify_send(status);
        }
        if (pg->opt->verbosity >= VERBOSITY_NORMAL) {
            if (!pg->stopping && pg->opt->drain_grace_ms > 0)
                log_line(LOG_LEVEL_INFO, LOG_NO_WORKER, LOG_NO_CONN,
                         "%s: grace period of %llu ms, then draining (at most %llu ms)",
                         strsignal((int)si.ssi_signo),
                         (unsigned long long)pg->opt->drain_grace_ms,
                         (unsigned long long)pg->opt->drain_ms);
            else if (!pg->stopping)
                log_line(LOG_LEVEL_INFO, LOG_NO_WORKER, LOG_NO_CONN,
                         "%s: draining (at most %llu ms)", strsignal((int)si.ssi_signo),
                         (unsigned long long)pg->opt->drain_ms);
            else if (server_phase(pg->srv) == SERVER_GRACE)
                log_line(LOG_LEVEL_INFO, LOG_NO_WORKER, LOG_NO_CONN,
                         "%s again: grace period ended", strsignal((int)si.ssi_signo));
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

    /* Where diagnostics go (stderr, plain or journal), decided before any thread exists. */
    log_init();
    metrics_process_init();

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
        log_line(LOG_LEVEL_ERROR, LOG_NO_WORKER, LOG_NO_CONN, "signalfd: %s", strerror(errno));
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
            log_line(LOG_LEVEL_ERROR, LOG_NO_WORKER, LOG_NO_CONN, "cannot listen on %s: %s",
                     where, wk_strerror(r));
        } else {
            log_line(LOG_LEVEL_ERROR, LOG_NO_WORKER, LOG_NO_CONN, "cannot start the %s: %s",
                     what, wk_strerror(r));
        }
        return 1;
    }

    /* --metrics: its own thread and executor (metrics_http.h), started before the
     * listening line so that a port already taken is a startup failure, and stopped after
     * server_run's drain, so that the final figures can be scraped while the server
     * drains. */
    struct metrics_http *metrics = NULL;
    char metrics_where[96] = "";
    if (opt.metrics != NULL) {
        struct sockaddr_storage maddr;
        socklen_t maddr_len;
        metrics_parse_addr(opt.metrics, &maddr, &maddr_len); /* checked by options_parse */
        r = metrics_http_start(&metrics, (struct sockaddr *)&maddr, maddr_len,
                               server_metrics_render, &srv);
        if (r < 0) {
            log_line(LOG_LEVEL_ERROR, LOG_NO_WORKER, LOG_NO_CONN,
                     "cannot serve metrics on %s: %s", opt.metrics, wk_strerror(r));
            server_stop(&srv);
            server_stop(&srv); /* the second ends a grace period at once */
            server_run(&srv);
            server_free(&srv);
            return 1;
        }
        metrics_http_address(metrics, metrics_where, sizeof metrics_where);
    }

    /* The one line scripts wait for; -v lines follow on stdout, one write each.  With
     * --metrics and --agent-port, their lines come right after it (metrics first), in the
     * same write(2), so a reader sees all of them or none (line-buffered stdio would write
     * them one by one).  Nothing else has been written to stdout yet, so going around
     * stdio here keeps the order. */
    char where[96];
    wk_sockaddr_format((struct sockaddr *)&srv.addr, where, sizeof where);
    char agent_where[96] = "";
    if (opt.agent_port >= 0)
        wk_sockaddr_format((struct sockaddr *)&srv.agent_addr, agent_where,
                           sizeof agent_where);
    char lines[400];
    int nlines = snprintf(lines, sizeof lines, "listening on %s (%u workers)\n%s%s%s%s%s%s",
                          where, opt.workers, metrics != NULL ? "metrics on " : "",
                          metrics_where, metrics != NULL ? "\n" : "",
                          opt.agent_port >= 0 ? "agent on " : "", agent_where,
                          opt.agent_port >= 0 ? "\n" : "");
    fflush(stdout);
    for (size_t off = 0; nlines > 0 && off < (size_t)nlines;) {
        ssize_t w = write(STDOUT_FILENO, lines + off, (size_t)nlines - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }

    /* systemd (Type=notify): ready once the listener takes connections; the watchdog,
     * when the unit has WatchdogSec=, from the acceptor's loop. */
    char status[400];
    snprintf(status, sizeof status, "READY=1\nSTATUS=listening on %s (%u workers)%s%s%s%s",
             where, opt.workers, metrics != NULL ? ", metrics on " : "", metrics_where,
             opt.agent_port >= 0 ? ", agent on " : "", agent_where);
    notify_ready(status, opt.verbosity);
    uint64_t watchdog_usec = notify_watchdog_usec();
    if (watchdog_usec > 0)
        acceptor_set_watchdog(&srv.acceptor, watchdog_usec / 2 * 1000);

    r = server_run(&srv);
    if (r < 0)
        log_line(LOG_LEVEL_ERROR, LOG_NO_WORKER, LOG_NO_CONN, "main loop: %s; shutting down",
                 wk_strerror(r));
    if (opt.verbosity >= VERBOSITY_NORMAL) {
        fprintf(stderr, "wakeful-server: shutdown summary\n");
        server_report(&srv, stderr, 0);
    }
    metrics_http_stop(metrics);
    notify_send("STATUS=drained; exiting");
    server_free(&srv);
    close(sigfd);
    return r < 0 ? 1 : 0;
}

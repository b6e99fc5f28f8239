/* server/server.c: see server.h. */
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <wakeful/clock.h>
#include <wakeful/tcp.h>

#include "log.h"

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

/* The listening socket for opt: non-blocking, SO_REUSEADDR, SO_REUSEPORT with
 * --reuseport, bound, listening, TCP_DEFER_ACCEPT as asked.  Returns the descriptor or
 * -errno; *addr gets the real address (the port -p 0 let the kernel choose). */
static int open_listener(const struct server_options *opt, struct sockaddr_storage *addr,
                         socklen_t *addr_len)
{
    if (wk_sockaddr_parse(opt->bind, opt->port, addr, addr_len) != 0)
        return -EINVAL;
    int lfd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        goto fail;
    /* SO_REUSEPORT: every socket bound to the port with it set (by processes of the same
     * user) shares it; the kernel spreads new connections among them by a hash of the
     * 4-tuple.  Each instance keeps its own accept queue: when one closes its listener,
     * what that queue holds is reset, unless net.ipv4.tcp_migrate_req=1, with which the
     * kernel hands it to a sibling. */
    if (opt->reuseport && setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        goto fail;
    if (bind(lfd, (struct sockaddr *)addr, *addr_len) != 0 ||
        listen(lfd, listen_backlog()) != 0)
        goto fail;
    /* TCP_DEFER_ACCEPT: the handshake completes in the kernel, but the connection reaches
     * the accept queue only once its first bytes have arrived (or the period ran out).  The
     * acceptor then wakes once per request instead of once for the handshake and once more
     * (in the worker) for the frame, and the worker's first recv finds the frame there.
     * In seconds, rounded up.  Failing to set it is not fatal: it only costs speed.
     * The price at shutdown: a connection whose first bytes have not arrived is not in the
     * accept queue yet, so the zero-loss close cannot see it; closing the listener resets
     * it (with --reuseport and tcp_migrate_req=1 it moves to a sibling instead). */
    if (opt->defer_accept_ms > 0) {
        int secs = (int)((opt->defer_accept_ms + 999) / 1000);
        if (setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs) != 0 &&
            opt->verbosity >= VERBOSITY_NORMAL)
            log_line(LOG_LEVEL_WARN, LOG_NO_WORKER, LOG_NO_CONN,
                     "TCP_DEFER_ACCEPT: %s (going on without it)", strerror(errno));
    }
    *addr_len = sizeof *addr;
    if (getsockname(lfd, (struct sockaddr *)addr, addr_len) != 0)
        goto fail;
    return lfd;
fail:;
    int err = -errno;
    close(lfd);
    return err;
}

static void set_phase(struct server *srv, enum server_phase ph)
{
    AO_store_release(&srv->phase, (AO_t)ph);
}

/* The agent's answer (HAProxy's agent-check words): ready to serve; being drained (the
 * weight goes to 0, no new connections, those open go on); down (the listener is closed). */
static const char *agent_status(void *arg)
{
    struct server *srv = arg;
    switch (server_phase(srv)) {
    case SERVER_UP:
        return "up ready\n";
    case SERVER_GRACE:
    case SERVER_CLOSING:
        return "drain\n";
    default:
        return "down\n";
    }
}

/* The listener is closed (CLOSING is over): the workers get their shutdown markers, after
 * every connection already handed to them, and finish by the drain deadline. */
static void on_listener_closed(void *arg)
{
    struct server *srv = arg;
    set_phase(srv, SERVER_DRAINING);
    workers_begin_stop(&srv->workers, srv->drain_deadline);
}

/* The grace period is over (its timer, or a second server_stop): the zero-loss close. */
static void begin_closing(void *arg)
{
    struct server *srv = arg;
    if (server_phase(srv) != SERVER_GRACE)
        return;
    acceptor_set_timer(&srv->acceptor, 0, NULL, NULL);
    set_phase(srv, SERVER_CLOSING);
    srv->drain_deadline = wk_now_ns() + srv->opt->drain_ms * WK_NSEC_PER_MSEC;
    acceptor_close_when_empty(&srv->acceptor, srv->drain_deadline, on_listener_closed, srv);
}

/* The stop eventfd: server_stop was called (once or more since the last look). */
static void on_stop(void *arg)
{
    struct server *srv = arg;
    uint64_t count;
    if (read(srv->stop_fd, &count, sizeof count) != (ssize_t)sizeof count)
        return;
    for (uint64_t i = 0; i < count; i++) {
        srv->stops++;
        switch (server_phase(srv)) {
        case SERVER_UP:
            set_phase(srv, SERVER_GRACE);
            if (srv->opt->drain_grace_ms > 0)
                acceptor_set_timer(&srv->acceptor,
                                   wk_now_ns() + srv->opt->drain_grace_ms * WK_NSEC_PER_MSEC,
                                   begin_closing, srv);
            else
                begin_closing(srv);
            break;
        case SERVER_GRACE:
            begin_closing(srv); /* a second stop ends the grace period at once */
            break;
        default:
            break; /* closing or draining already: nothing changes */
        }
    }
}

/* The workers' exit eventfd: once all have exited, the loop ends. */
static void on_worker_exit(void *arg)
{
    struct server *srv = arg;
    if (workers_exited(&srv->workers)) {
        set_phase(srv, SERVER_DONE);
        acceptor_quit(&srv->acceptor);
    }
}

int server_start(struct server *srv, const struct server_options *opt, uint64_t max_connections,
                 const struct server_watch *watch, const char **what)
{
    memset(srv, 0, sizeof *srv);
    srv->opt = opt;
    srv->limit.poke_fd = -1;
    srv->agent.lfd = srv->agent.spare_fd = -1;
    srv->acceptor.lfd = srv->acceptor.epfd = -1;
    set_phase(srv, SERVER_UP);

    srv->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv->stop_fd < 0) {
        *what = "eventfd";
        return -errno;
    }
    int r = limit_init(&srv->limit, opt->max_connections ? opt->max_connections
                                                         : max_connections);
    if (r < 0) {
        *what = "eventfd";
        goto fail_limit;
    }
    int lfd = open_listener(opt, &srv->addr, &srv->addr_len);
    if (lfd < 0) {
        r = lfd;
        *what = "listen";
        goto fail_listen;
    }
    if (opt->agent_port >= 0) {
        if (wk_sockaddr_parse(opt->bind, (uint16_t)opt->agent_port, &srv->agent_addr,
                              &srv->agent_addr_len) != 0)
            r = -EINVAL;
        else
            r = agent_open(&srv->agent, &srv->agent_addr, &srv->agent_addr_len,
                           agent_status, srv);
        if (r < 0) {
            *what = "agent";
            close(lfd);
            goto fail_listen;
        }
    }
    r = dispatch_init(&srv->dispatch, opt->workers, opt->verbosity >= VERBOSITY_VERBOSE);
    if (r < 0) {
        *what = "pipes";
        close(lfd);
        goto fail_dispatch;
    }
    r = workers_start(&srv->workers, opt, &srv->dispatch, &srv->limit);
    if (r < 0) {
        *what = "workers";
        close(lfd);
        goto fail_workers;
    }
    r = acceptor_init(&srv->acceptor, opt, &srv->dispatch, &srv->limit, lfd);
    if (r == 0)
        r = acceptor_watch(&srv->acceptor, srv->stop_fd, on_stop, srv);
    if (r == 0)
        r = acceptor_watch(&srv->acceptor, srv->workers.done_fd, on_worker_exit, srv);
    if (r == 0 && srv->agent.lfd >= 0) {
        srv->agent.acceptor = &srv->acceptor;
        r = acceptor_watch(&srv->acceptor, srv->agent.lfd, agent_serve, &srv->agent);
    }
    if (r == 0 && watch != NULL && watch->fd >= 0)
        r = acceptor_watch(&srv->acceptor, watch->fd, watch->fn, watch->arg);
    if (r < 0) {
        *what = "acceptor";
        acceptor_free(&srv->acceptor);
        workers_stop(&srv->workers);
        workers_free(&srv->workers);
        goto fail_workers;
    }
    return 0;

fail_workers:
    dispatch_free(&srv->dispatch);
fail_dispatch:
    agent_close(&srv->agent);
fail_listen:
    limit_free(&srv->limit);
fail_limit:
    close(srv->stop_fd);
    srv->stop_fd = -1;
    return r;
}

int server_run(struct server *srv)
{
    int r = acceptor_run(&srv->acceptor);
    if (r < 0) {
        /* The loop failed: no zero-loss close, stop what is there. */
        acceptor_free(&srv->acceptor);
        workers_stop(&srv->workers);
    } else {
        workers_join(&srv->workers);
    }
    set_phase(srv, SERVER_DONE);
    return r;
}

void server_stop(struct server *srv)
{
    uint64_t one = 1;
    ssize_t r = write(srv->stop_fd, &one, sizeof one);
    (void)r; /* EAGAIN only when the counter is about to overflow: readable already */
}

void server_report(struct server *srv, FILE *out, int running)
{
    workers_report(&srv->workers, out, running);
    acceptor_report(&srv->acceptor, out);
}

void server_free(struct server *srv)
{
    workers_free(&srv->workers);
    acceptor_free(&srv->acceptor);
    agent_close(&srv->agent);
    dispatch_free(&srv->dispatch);
    limit_free(&srv->limit);
    if (srv->stop_fd >= 0)
        close(srv->stop_fd);
    srv->stop_fd = -1;
}

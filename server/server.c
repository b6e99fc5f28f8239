/* server/server.c: see server.h. */
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include <wakeful/tcp.h>

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

/* The listening socket for opt: bound, listening, TCP_DEFER_ACCEPT as asked.  Returns the
 * descriptor or -errno; *addr gets the real address (the port -p 0 let the kernel choose). */
static int open_listener(const struct server_options *opt, struct sockaddr_storage *addr,
                         socklen_t *addr_len)
{
    if (wk_sockaddr_parse(opt->bind, opt->port, addr, addr_len) != 0)
        return -EINVAL;
    int lfd = wk_tcp_listen((struct sockaddr *)addr, *addr_len, listen_backlog());
    if (lfd < 0)
        return lfd;
    /* TCP_DEFER_ACCEPT: the handshake completes in the kernel, but the connection reaches
     * the accept queue only once its first bytes have arrived (or the period ran out).  The
     * acceptor then wakes once per request instead of once for the handshake and once more
     * (in the worker) for the frame, and the worker's first recv finds the frame there.
     * In seconds, rounded up.  Failing to set it is not fatal: it only costs speed. */
    if (opt->defer_accept_ms > 0) {
        int secs = (int)((opt->defer_accept_ms + 999) / 1000);
        if (setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs) != 0 &&
            opt->verbosity >= VERBOSITY_NORMAL)
            fprintf(stderr, "wakeful-server: TCP_DEFER_ACCEPT: %s (going on without it)\n",
                    strerror(errno));
    }
    *addr_len = sizeof *addr;
    if (getsockname(lfd, (struct sockaddr *)addr, addr_len) != 0) {
        int err = -errno;
        close(lfd);
        return err;
    }
    return lfd;
}

int server_start(struct server *srv, const struct server_options *opt, uint64_t max_connections,
                 const struct server_watch *watch, const char **what)
{
    memset(srv, 0, sizeof *srv);
    srv->opt = opt;
    srv->limit.poke_fd = -1;
    srv->acceptor.lfd = srv->acceptor.epfd = srv->acceptor.stop_fd = -1;

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
    r = dispatch_init(&srv->dispatch, opt->workers, opt->verbosity >= VERBOSITY_VERBOSE);
    if (r < 0) {
        *what = "pipes";
        close(lfd);
        goto fail_listen;
    }
    r = workers_start(&srv->workers, opt, &srv->dispatch, &srv->limit);
    if (r < 0) {
        *what = "workers";
        close(lfd);
        goto fail_workers;
    }
    r = acceptor_init(&srv->acceptor, opt, &srv->dispatch, &srv->limit, lfd,
                      watch ? watch->fd : -1, watch ? watch->fn : NULL,
                      watch ? watch->arg : NULL);
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
fail_listen:
    limit_free(&srv->limit);
fail_limit:
    return r;
}

int server_run(struct server *srv)
{
    int r = acceptor_run(&srv->acceptor);
    /* Shutdown: no new connections (the kernel resets those still in the backlog), then
     * the workers finish what they hold and exit. */
    acceptor_stop_listening(&srv->acceptor);
    workers_stop(&srv->workers);
    return r;
}

void server_stop(struct server *srv)
{
    acceptor_request_stop(&srv->acceptor);
}

void server_report(const struct server *srv, FILE *out, int running)
{
    workers_report(&srv->workers, out, running);
    acceptor_report(&srv->acceptor, out);
}

void server_free(struct server *srv)
{
    workers_free(&srv->workers);
    acceptor_free(&srv->acceptor);
    dispatch_free(&srv->dispatch);
    limit_free(&srv->limit);
}

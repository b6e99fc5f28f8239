/* server/server.h: wakeful-server as an object: start, run, stop.
 *
 * server_start opens the listener, sets the connection limit, starts the workers and
 * readies the acceptor; server_run runs the acceptor's loop on the calling thread until
 * server_stop, then shuts down (the listener closes, the workers finish what they hold
 * within --drain-ms) and returns; server_free releases everything.  Nothing here touches
 * signals, stdout or the process's limits: the program (main.c) does, so the server could
 * be embedded in another one. */
#ifndef WAKEFUL_SERVER_SERVER_H
#define WAKEFUL_SERVER_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "acceptor.h"
#include "dispatch.h"
#include "limit.h"
#include "options.h"
#include "worker.h"

struct server {
    const struct server_options *opt; /* the caller's, outlives the server */
    struct conn_limit limit;          /* the open-connection count, --max-connections */
    struct dispatch dispatch;         /* the pipes from the acceptor to the workers */
    struct worker_pool workers;
    struct acceptor acceptor;
    struct sockaddr_storage addr;     /* the address listened on (the real port) */
    socklen_t addr_len;
};

/* Callbacks the embedder may pass to server_start: a descriptor the acceptor's loop
 * watches (the program's signalfd), and what to call on its thread when it is readable. */
struct server_watch {
    int fd;                           /* -1: none */
    acceptor_watch_fn fn;
    void *arg;
};

/* Starts everything but the acceptor's loop: the listener (bound and listening when this
 * returns: connections queue in its backlog), the workers.  max_connections is the limit
 * when opt->max_connections is 0.  On failure, returns -errno with everything undone, and
 * *what names the step that failed ("listen", "workers", ...). */
int server_start(struct server *srv, const struct server_options *opt, uint64_t max_connections,
                 const struct server_watch *watch, const char **what);

/* Runs the acceptor's loop on this thread until server_stop, then shuts down: closes the
 * listener, lets the workers finish (at most --drain-ms), joins them.  Returns 0, or
 * -errno when the loop itself failed (the shutdown is done all the same). */
int server_run(struct server *srv);

/* Asks server_run to shut down.  Thread-safe. */
void server_stop(struct server *srv);

/* The counters: per worker (with the live executors' statistics while running, or what
 * was cancelled at the drain deadline after server_run), a total, the acceptor's line. */
void server_report(const struct server *srv, FILE *out, int running);

/* Releases everything server_start made.  After server_run returned (or instead of it). */
void server_free(struct server *srv);

#endif

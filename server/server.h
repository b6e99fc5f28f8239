/* server/server.h: wakeful-server as an object: start, run, stop.
 *
 * server_start opens the listener (and the agent port), sets the connection limit, starts
 * the workers and readies the acceptor; server_run runs the acceptor's loop on the calling
 * thread until the shutdown is complete; server_stop asks for that shutdown; server_free
 * releases everything.  Nothing here touches signals, stdout or the process's limits: the
 * program (main.c) does, so the server could be embedded in another one.
 *
 * The shutdown, in phases (server_phase):
 *   UP       serving;
 *   GRACE    server_stop was called: still accepting and serving, for --drain-grace-ms,
 *            while the agent answers "drain" (a second server_stop ends it at once);
 *   CLOSING  accepting what the kernel has queued, within --max-connections as slots free
 *            up, until accept4 answers EAGAIN; then the listener closes (nothing that was
 *            queued is lost);
 *   DRAINING the listener is closed (agent: "down"); the workers finish what they hold;
 *   DONE     the workers have exited; server_run returns.
 * --drain-ms bounds CLOSING and DRAINING together: what is still running at the deadline
 * is cancelled, and the listener closes at it in any case. */
#ifndef WAKEFUL_SERVER_SERVER_H
#define WAKEFUL_SERVER_SERVER_H

#include <atomic_ops.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "acceptor.h"
#include "agent.h"
#include "dispatch.h"
#include "limit.h"
#include "options.h"
#include "worker.h"

enum server_phase {
    SERVER_UP = 0,
    SERVER_GRACE,
    SERVER_CLOSING,
    SERVER_DRAINING,
    SERVER_DONE,
};

struct server {
    const struct server_options *opt; /* the caller's, outlives the server */
    struct conn_limit limit;          /* the open-connection count, --max-connections */
    struct dispatch dispatch;         /* the pipes from the acceptor to the workers */
    struct worker_pool workers;
    struct acceptor acceptor;
    struct agent agent;               /* --agent-port (agent.lfd -1 when off) */
    struct sockaddr_storage addr;     /* the address listened on (the real port) */
    socklen_t addr_len;
    struct sockaddr_storage agent_addr; /* the agent's (the real port), with --agent-port */
    socklen_t agent_addr_len;
    int stop_fd;                      /* eventfd server_stop writes (owned) */
    AO_t phase;                       /* an enum server_phase; written by the acceptor's
                                         thread only, readable from any thread */
    uint64_t drain_deadline;          /* CLOSING and DRAINING end by then (ns) */
    uint64_t stops;                   /* server_stop requests seen */
};

/* Callbacks the embedder may pass to server_start: a descriptor the acceptor's loop
 * watches (the program's signalfd), and what to call on its thread when it is readable. */
struct server_watch {
    int fd;                           /* -1: none */
    acceptor_fn fn;
    void *arg;
};

/* Starts everything but the acceptor's loop: the listener (bound and listening when this
 * returns: connections queue in its backlog), the agent port, the workers.
 * max_connections is the limit when opt->max_connections is 0.  On failure, returns
 * -errno with everything undone, and *what names the step that failed ("listen",
 * "agent", "workers", ...). */
int server_start(struct server *srv, const struct server_options *opt, uint64_t max_connections,
                 const struct server_watch *watch, const char **what);

/* Runs the acceptor's loop on this thread until the shutdown is complete (DONE; see
 * above).  Returns 0, or -errno when the loop itself failed (the workers are stopped and
 * joined all the same). */
int server_run(struct server *srv);

/* Asks for the shutdown; a second call during the grace period ends it at once, later
 * ones change nothing.  Thread-safe and async-signal-safe (one write to an eventfd). */
void server_stop(struct server *srv);

/* The phase now.  Any thread. */
static inline enum server_phase server_phase(const struct server *srv)
{
    return (enum server_phase)AO_load_acquire(&srv->phase);
}

/* 1 from the first server_stop on: what a load balancer or a metrics endpoint reports as
 * "draining" (the listener may still be open, in the grace period).  Any thread. */
static inline int server_draining(const struct server *srv)
{
    return server_phase(srv) != SERVER_UP;
}

/* The counters: per worker (with the live executors' statistics while running, or what
 * was cancelled at the drain deadline after server_run), a total, the acceptor's line. */
void server_report(struct server *srv, FILE *out, int running);

/* Releases everything server_start made.  After server_run returned (or instead of it). */
void server_free(struct server *srv);

#endif

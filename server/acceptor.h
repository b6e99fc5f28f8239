/* server/acceptor.h: the acceptor's loop: accept, hand out (dispatch.h), stop on request.
 *
 * A plain epoll loop on the thread that runs the server (server_run): the listening
 * socket, the eventfd through which a close says the count is back under
 * --max-connections (limit.h), the eventfd server_stop writes, and one descriptor of the
 * embedder's (the program's signalfd) with its callback. */
#ifndef WAKEFUL_SERVER_ACCEPTOR_H
#define WAKEFUL_SERVER_ACCEPTOR_H

#include <atomic_ops.h>
#include <stdint.h>
#include <stdio.h>

#include "dispatch.h"
#include "limit.h"
#include "options.h"

/* Called on the acceptor's thread when the watched descriptor is readable. */
typedef void (*acceptor_watch_fn)(void *arg);

struct acceptor {
    const struct server_options *opt;
    struct dispatch *dispatch;   /* where accepted connections go (borrowed) */
    struct conn_limit *limit;    /* --max-connections (borrowed) */
    int lfd;                 /* the listening socket (owned; -1 once closed) */
    int epfd;                /* the loop's epoll instance (owned) */
    int stop_fd;             /* eventfd written by acceptor_request_stop (owned) */
    int watch_fd;            /* the embedder's descriptor, -1 when none (borrowed) */
    acceptor_watch_fn watch_fn;
    void *watch_arg;
    int in_epoll;            /* the listener is in the epoll set */
    int full;                /* paused: --max-connections reached */
    uint64_t pause_until;    /* paused after EMFILE/ENFILE until then (CLOCK_MONOTONIC ns),
                                0 when not */
    unsigned backoff_ms;     /* the next EMFILE pause: 10 ms, doubling up to 100 ms */
    AO_t accepted;           /* connections accepted (written by the acceptor only) */
    AO_t dropped;            /* closed at once because every worker's pipe was full */
    AO_t fd_pauses;          /* pauses for EMFILE/ENFILE */
    AO_t limit_pauses;       /* pauses at --max-connections */
};

/* Takes ownership of lfd; creates the epoll set and the stop eventfd.  watch_fd (-1 for
 * none) is watched for readability, and watch_fn(watch_arg) called when it is.  Returns 0
 * or -errno. */
int acceptor_init(struct acceptor *a, const struct server_options *opt, struct dispatch *d,
                  struct conn_limit *limit, int lfd, int watch_fd, acceptor_watch_fn watch_fn,
                  void *watch_arg);

/* Runs the loop until a stop is requested; returns 0, or -errno when the loop itself
 * failed. */
int acceptor_run(struct acceptor *a);

/* Asks the loop to stop.  Thread-safe (one write to an eventfd). */
void acceptor_request_stop(struct acceptor *a);

/* Closes the listening socket: the kernel refuses new connections from now on. */
void acceptor_stop_listening(struct acceptor *a);

/* The acceptor's own line of counters. */
void acceptor_report(const struct acceptor *a, FILE *out);

/* Closes what acceptor_init opened and what it took over. */
void acceptor_free(struct acceptor *a);

#endif

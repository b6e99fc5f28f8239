/* server/acceptor.h: the acceptor's loop: accept, hand out (dispatch.h), close on request.
 *
 * A plain epoll loop on the thread that runs the server (server_run) over the listening
 * socket, the eventfd through which a close says the count is back under
 * --max-connections (limit.h), and a few descriptors of its owner's (the stop eventfd,
 * the workers' exit eventfd, the agent's listener, the program's signalfd), each with a
 * callback.  One timer, also its owner's (the end of the grace period).  It runs until its
 * owner calls acceptor_quit from a callback.
 *
 * Closing (acceptor_close_when_empty) is how nothing is lost at shutdown: the listener
 * stays open and the acceptor keeps accepting, within --max-connections as slots free
 * up, until accept4 answers EAGAIN (or, at the limit, until the listener is no longer
 * readable): then every connection the kernel had queued has been taken, and the listener
 * is closed.  A deadline bounds it. */
#ifndef WAKEFUL_SERVER_ACCEPTOR_H
#define WAKEFUL_SERVER_ACCEPTOR_H

#include <atomic_ops.h>
#include <stdint.h>
#include <stdio.h>

#include "dispatch.h"
#include "limit.h"
#include "options.h"

/* Descriptors an owner may add with acceptor_watch. */
#define ACCEPTOR_WATCH_MAX 6

/* Called on the acceptor's thread: a watched descriptor is readable, the timer expired,
 * or the listener was closed. */
typedef void (*acceptor_fn)(void *arg);

struct acceptor_watch {
    int fd;                  /* borrowed */
    acceptor_fn fn;
    void *arg;
    uint64_t resume_at;      /* paused (out of the epoll set) until then, CLOCK_MONOTONIC
                                ns; 0 while watched */
};

struct acceptor {
    const struct server_options *opt;
    struct dispatch *dispatch;   /* where accepted connections go (borrowed) */
    struct conn_limit *limit;    /* --max-connections (borrowed) */
    int lfd;                 /* the listening socket (owned; -1 once closed) */
    int epfd;                /* the loop's epoll instance (owned) */
    struct acceptor_watch watches[ACCEPTOR_WATCH_MAX];
    unsigned nwatches;
    uint64_t timer_at;       /* the owner's timer (CLOCK_MONOTONIC ns), 0 when unset */
    acceptor_fn timer_fn;
    void *timer_arg;
    int quit;                /* acceptor_run returns after the current events */
    int in_epoll;            /* the listener is in the epoll set */
    int full;                /* paused: --max-connections reached */
    uint64_t pause_until;    /* paused after EMFILE/ENFILE until then (CLOCK_MONOTONIC ns),
                                0 when not */
    unsigned backoff_ms;     /* the next EMFILE pause: 10 ms, doubling up to 100 ms */
    int closing;             /* acceptor_close_when_empty was called */
    uint64_t close_deadline; /* closing: the listener closes then at the latest */
    acceptor_fn closed_fn;   /* closing: called once the listener is closed */
    void *closed_arg;
    /* Counters: written by the acceptor only, readable from any thread. */
    AO_t accepted;           /* connections accepted */
    AO_t dropped;            /* closed at once because every worker's pipe was full */
    AO_t fd_pauses;          /* pauses for EMFILE/ENFILE */
    AO_t limit_pauses;       /* pauses at --max-connections */
    uint64_t watchdog_ns;    /* systemd's watchdog: send WATCHDOG=1 this often (half of
                                $WATCHDOG_USEC); 0: no watchdog */
    uint64_t watchdog_next;  /* the next one is due then (CLOCK_MONOTONIC ns) */
};

/* Takes ownership of lfd; creates the epoll set.  Returns 0 or -errno. */
int acceptor_init(struct acceptor *a, const struct server_options *opt, struct dispatch *d,
                  struct conn_limit *limit, int lfd);

/* Watches fd for readability, level-triggered: fn(arg) is called while it is readable, so
 * fn must consume what made it so (read the eventfd, accept the connections).  Returns 0,
 * -ENOSPC past ACCEPTOR_WATCH_MAX, or -errno from epoll_ctl. */
int acceptor_watch(struct acceptor *a, int fd, acceptor_fn fn, void *arg);

/* Stops watching fd for ms milliseconds, then watches it again: for a callback that cannot
 * consume what makes its descriptor readable for now (accept failing for lack of memory or
 * descriptors), so that the level-triggered descriptor does not wake the loop again at once,
 * again and again.  Does nothing for a descriptor not watched or already paused. */
void acceptor_watch_pause(struct acceptor *a, int fd, unsigned ms);

/* Sends systemd's WATCHDOG=1 every interval_ns from the loop (through its epoll timeout:
 * no thread of its own, so the heartbeat stops if the loop hangs), starting at once and
 * until acceptor_run returns (through the drain).  0 turns it off. */
void acceptor_set_watchdog(struct acceptor *a, uint64_t interval_ns);

/* Sets the owner's timer: fn(arg) once at `at` (CLOCK_MONOTONIC ns); 0 clears it. */
void acceptor_set_timer(struct acceptor *a, uint64_t at, acceptor_fn fn, void *arg);

/* Starts closing: accept what the kernel has queued (see above), then close the listener
 * and call closed_fn(arg); at `deadline` close it in any case.  On the acceptor's thread. */
void acceptor_close_when_empty(struct acceptor *a, uint64_t deadline, acceptor_fn closed_fn,
                               void *arg);

/* Runs the loop until acceptor_quit; returns 0, or -errno when the loop itself failed. */
int acceptor_run(struct acceptor *a);

/* Makes acceptor_run return after the current events.  On the acceptor's thread. */
void acceptor_quit(struct acceptor *a);

/* The acceptor's own line of counters. */
void acceptor_report(const struct acceptor *a, FILE *out);

/* Closes the listener (if still open) and the epoll set. */
void acceptor_free(struct acceptor *a);

#endif

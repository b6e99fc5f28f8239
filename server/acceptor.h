/* server/acceptor.h: the main thread's loop: accept, dispatch round-robin, signals.
 *
 * A plain epoll loop over three descriptors: the listening socket, a signalfd (SIGINT,
 * SIGTERM, SIGUSR1, blocked in every thread) and the eventfd through which workers say a
 * close brought the connection count back under --max-connections. */
#ifndef WAKEFUL_SERVER_ACCEPTOR_H
#define WAKEFUL_SERVER_ACCEPTOR_H

#include <stdint.h>
#include <stdio.h>

#include "server.h"

struct acceptor {
    struct server *srv;
    int lfd;                 /* the listening socket (owned; -1 once closed) */
    int sigfd;               /* signalfd (owned) */
    int epfd;                /* the loop's epoll instance (owned) */
    unsigned next;           /* round-robin cursor: the worker the next connection tries */
    int in_epoll;            /* the listener is in the epoll set */
    int full;                /* paused: --max-connections reached */
    uint64_t pause_until;    /* paused after EMFILE/ENFILE until then (CLOCK_MONOTONIC ns),
                                0 when not */
    unsigned backoff_ms;     /* the next EMFILE pause: 10 ms, doubling up to 100 ms */
    /* Written by the acceptor only, read by the metrics thread too: */
    AO_t accepted;           /* connections accepted */
    AO_t dropped;            /* closed at once because every worker's pipe was full */
    uint64_t watchdog_ns;    /* systemd's watchdog: send WATCHDOG=1 this often (half of
                                $WATCHDOG_USEC); 0: no watchdog */
    uint64_t watchdog_next;  /* the next one is due then (CLOCK_MONOTONIC ns) */
    uint64_t fd_pauses;      /* pauses for EMFILE/ENFILE */
    uint64_t limit_pauses;   /* pauses at --max-connections */
};

/* Takes ownership of lfd and sigfd; creates the epoll set.  Returns 0 or -errno. */
int acceptor_init(struct acceptor *a, struct server *srv, int lfd, int sigfd);

/* Sends systemd's WATCHDOG=1 every interval_ns from the loop (its epoll timeout: no
 * thread of its own), starting now.  0 turns it off. */
void acceptor_set_watchdog(struct acceptor *a, uint64_t interval_ns);

/* Runs the loop until SIGINT or SIGTERM; returns that signal's number, or -errno when the
 * loop itself failed.  SIGUSR1 prints the counters to stderr and goes on. */
int acceptor_run(struct acceptor *a);

/* Closes the listening socket: the kernel refuses new connections from now on. */
void acceptor_stop_listening(struct acceptor *a);

/* The acceptor's own line of counters. */
void acceptor_report(const struct acceptor *a, FILE *out);

/* Closes what acceptor_init opened and what it took over. */
void acceptor_free(struct acceptor *a);

#endif

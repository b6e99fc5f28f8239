/* server/conn.h: handle_client, one connection's life as a task on an executor.
 *
 * conn.c knows nothing of threads, pipes or workers: it runs on a host, the small
 * interface below, which a worker provides (and a unit test, over a socketpair).  The host
 * of the running thread is found through a thread-local set by conn_host_enter, rather
 * than a pointer in each connection: 8 bytes x 15,000 connections. */
#ifndef WAKEFUL_SERVER_CONN_H
#define WAKEFUL_SERVER_CONN_H

#include <atomic_ops.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <wakeful/executor.h>
#include "metrics.h"
#include "options.h"

/* What handle_client counts.  Single writer (the host's thread), any reader: relaxed
 * atomics. */
struct conn_counters {
    AO_t connections; /* spawned */
    AO_t replies;     /* answered "Hello, client!" */
    AO_t bad_frames;  /* too large, invalid UTF-8, cut short by EOF */
    AO_t timeouts;    /* no whole frame (or reply) within the timeout */
    AO_t resets;      /* peer reset or vanished, or another socket error */
    /* Accept to reply, per reply, when the host is timed: from conn_spawn (the worker
     * taking the connection, microseconds after the accept) to the reply sent; summed over
     * the hosts by the metrics render (server_metrics.c). */
    struct latency_hist latency;
};

/* Counts one event (single writer: a plain load and store, no locked instruction). */
static inline void conn_count(AO_t *counter)
{
    AO_store(counter, AO_load(counter) + 1);
}

struct conn_host {
    unsigned id;                        /* printed as "worker N" in the -v lines */
    wk_executor *ex;                    /* where conn_spawn spawns; driven by this thread */
    const struct server_options *opt;   /* --max-frame, --read-timeout-ms, --sleep-ms, -v */
    uint8_t *scratch;                   /* reads go here, within one poll only, never
                                           across an await: one buffer serves every
                                           connection of the thread */
    size_t scratch_size;
    size_t scratch_touched;             /* largest read into scratch; the host resets it
                                           when it releases the pages */
    struct conn_counters *counters;
    /* Record each reply's accept-to-reply duration in counters->latency: costs each
     * connection 8 bytes and each reply a clock read, so set only when someone reads the
     * histogram (--metrics). */
    int timed;
    /* A connection handed to conn_spawn has closed (its socket is closed; after a reply,
     * a lingering close, if any, is over).  Called once per successful conn_spawn, on the
     * host's thread. */
    void (*closed)(struct conn_host *host);
};

/* Makes h the host of the calling thread's connections.  Before the first conn_spawn on
 * it, and before the executor is freed (dropping a connection's future reports it). */
void conn_host_enter(struct conn_host *h);

/* Spawns handle_client for the connected, non-blocking socket fd on the thread's host.
 * Takes ownership of fd.  peer is the address accept4 gave (only with -v, which prints it;
 * NULL otherwise).  Returns 0 (h->closed will be called once, when it ends) or -ENOMEM (fd
 * closed, h->closed not called). */
int conn_spawn(int fd, const struct sockaddr *peer);

#endif

/* server/worker.h: the worker threads, each driving its own executor.
 *
 * A worker reads connections from its dispatch lane (dispatch.h) and runs handle_client
 * for each (conn.h), as the host of its connections: it owns their scratch buffer and
 * counters and gives their slots back to the connection limit (limit.h) as they close.
 * Counters are written by the worker only and read by the main thread. */
#ifndef WAKEFUL_SERVER_WORKER_H
#define WAKEFUL_SERVER_WORKER_H

#include <pthread.h>
#include <stdalign.h>
#include <atomic_ops.h>
#include <stdint.h>
#include <stdio.h>

#include <wakeful/executor.h>
#include "conn.h"
#include "dispatch.h"
#include "limit.h"
#include "options.h"

/* The scratch buffer every connection of a worker reads into (conn_host.scratch).  64 KiB
 * takes a default-size frame (10 + 65536 bytes) in two reads; only the pages actually
 * written count towards the resident size. */
#define WORKER_SCRATCH_SIZE (64u * 1024u)

struct worker_pool;

struct worker {
    struct conn_host host;     /* first: conn.c's view of the worker (id, executor,
                                  scratch, counters, the closed callback) */
    unsigned index;            /* 0-based: the dispatch lane */
    struct worker_pool *pool;
    int drain_tfd;             /* timerfd armed at the drain deadline on shutdown */
    pthread_t thread;
    int started;               /* the thread exists and must be joined */
    int init_err;              /* set by the thread before it reports ready: 0 or -errno */
    /* The worker thread's own, nobody else reads them: */
    uint64_t open;             /* connections spawned and not yet closed */
    int trim_due;              /* a connection closed since worker_on_park last trimmed */
    int stopping;              /* the shutdown marker has been read */
    /* Held by the acceptor's thread while it writes the shutdown marker and unparks the
     * worker, or reads the executor's statistics; held by the worker while it frees its
     * executor: the worker can read the marker before wk_executor_unpark returns, and
     * must not free the executor under it. */
    pthread_mutex_t exit_lock;
    wk_executor_stats final_stats; /* the executor's counters, saved before it is freed */
    alignas(64) struct conn_counters counters;
    AO_t idle_trims;           /* times the worker gave memory back before parking */
    AO_t parks;                /* times the worker was about to park (its park hook ran) */
};

/* The workers and what they share.  Set up by workers_start, torn down by workers_free. */
struct worker_pool {
    const struct server_options *opt; /* the flags (the caller's, outlives the pool) */
    struct dispatch *dispatch;        /* lane i is worker i's */
    struct conn_limit *limit;         /* every close gives a slot back */
    unsigned n;
    struct worker *w;                 /* n of them */
    AO_t drain_deadline;              /* CLOCK_MONOTONIC ns: set before the shutdown
                                         markers are written, read by each worker when it
                                         reads its marker */
    int done_fd;                      /* eventfd: each worker adds 1 when it has exited
                                         its loop and freed its executor (owned) */
    unsigned exited;                  /* workers seen exited (workers_exited) */
};

/* Allocates the workers and starts their threads; returns once every worker has its
 * executor (0) or something failed (-errno, everything undone).  d must have opt->workers
 * lanes; the pool borrows opt, d and limit. */
int workers_start(struct worker_pool *p, const struct server_options *opt,
                  struct dispatch *d, struct conn_limit *limit);

/* Tells every worker to stop taking connections and finish (the shutdown marker on its
 * lane, after everything already dispatched): each one serves what it holds until
 * `deadline` (CLOCK_MONOTONIC ns), cancels what is left, frees its executor and adds 1 to
 * p->done_fd.  Call after the acceptor stopped dispatching.  Does not wait. */
void workers_begin_stop(struct worker_pool *p, uint64_t deadline);

/* p->done_fd was readable: reads it; returns 1 once every worker has exited its loop. */
int workers_exited(struct worker_pool *p);

/* Joins the worker threads (after workers_exited said so, it does not wait long). */
void workers_join(struct worker_pool *p);

/* workers_begin_stop with the deadline --drain-ms from now, then workers_join. */
void workers_stop(struct worker_pool *p);

/* Frees the workers.  After workers_stop (or a failed start). */
void workers_free(struct worker_pool *p);

/* One line per worker: "worker N: connections C, replies R, bad frames B, timeouts T,
 * resets X", then the executor's statistics when with_executor is set (live executors
 * for SIGUSR1, the saved ones after shutdown), then a total line. */
void workers_report(struct worker_pool *p, FILE *out, int with_executor);

#endif

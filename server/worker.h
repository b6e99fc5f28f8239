/* server/worker.h: a worker thread, its executor, its dispatch pipe and its counters.
 *
 * Each worker drives one wakeful executor.  The acceptor hands it connections through a
 * non-blocking pipe whose read end is in the executor's epoll set (so a worker waiting in
 * epoll for its connections' bytes and timers sees a new connection at once), then calls
 * wk_executor_unpark (so a worker with no task at all, parked on its condition variable,
 * wakes up).  The counters are written by the worker only and read by the main thread. */
#ifndef WAKEFUL_SERVER_WORKER_H
#define WAKEFUL_SERVER_WORKER_H

#include <pthread.h>
#include <stdalign.h>
#include <atomic_ops.h>
#include <stdint.h>
#include <stdio.h>

#include <wakeful/executor.h>
#include "server.h"

/* The scratch buffer every connection of a worker reads into: within one poll only, never
 * across an await, so one per worker serves thousands of connections.  64 KiB takes a
 * default-size frame (10 + 65536 bytes) in two reads; only the pages actually written
 * count towards the resident size. */
#define WORKER_SCRATCH_SIZE (64u * 1024u)

/* Per-worker counters.  Single writer (the worker), any reader: relaxed atomics, each on
 * the worker's own cache line. */
struct worker_counters {
    AO_t connections; /* handed to this worker and spawned */
    AO_t replies;     /* answered "Hello, client!" */
    AO_t bad_frames;  /* too large, invalid UTF-8, cut short by EOF */
    AO_t timeouts;    /* no whole frame (or reply) within the timeout */
    AO_t resets;      /* peer reset or vanished, or another socket error */
    AO_t idle_trims;  /* times the worker gave memory back before parking */
};

struct worker {
    unsigned id;               /* 1-based, as printed */
    struct server *srv;
    wk_executor *ex;           /* created and freed by the worker thread */
    int pipe_rd;               /* dispatch pipe, read end (the worker's) */
    int pipe_wr;               /* dispatch pipe, write end (the acceptor's) */
    int drain_tfd;             /* timerfd armed at the drain deadline on shutdown */
    uint8_t *scratch;          /* WORKER_SCRATCH_SIZE bytes, see above */
    pthread_t thread;
    int started;               /* the thread exists and must be joined */
    int init_err;              /* set by the thread before it reports ready: 0 or -errno */
    /* The worker thread's own, nobody else reads them: */
    uint64_t open;             /* connections spawned and not yet closed */
    int trim_due;              /* a connection closed since worker_on_park last trimmed */
    size_t scratch_touched;    /* largest read into scratch since worker_on_park released it */
    int stopping;              /* the shutdown marker has been read */
    /* Held by main while it writes the shutdown marker and unparks the worker, and taken
     * by the worker before it frees its executor: the worker can read the marker before
     * wk_executor_unpark returns, and must not free the executor under it. */
    pthread_mutex_t exit_lock;
    wk_executor_stats final_stats; /* the executor's counters, saved before it is freed */
    alignas(64) struct worker_counters counters;
};

/* The worker running on this thread (NULL on the main thread). */
struct worker *worker_current(void);

/* A connection of w closed (or was dropped): the worker's and the server's counts go
 * down; during shutdown the last one wakes the worker's loop.  On w's thread. */
void worker_conn_done(struct worker *w);

/* Counts one event (single writer: a plain load and store, no locked instruction). */
static inline void worker_count(AO_t *counter)
{
    AO_store(counter, AO_load(counter) + 1);
}

/* Allocates srv->workers, makes their pipes and starts their threads; returns once every
 * worker has its executor (0) or something failed (-errno, everything undone). */
int workers_start(struct server *srv);

/* Tells every worker to stop taking connections and finish (write the shutdown marker,
 * unpark), then joins them; each one waits at most --drain-ms for its requests in flight.
 * Call after the acceptor stopped dispatching. */
void workers_stop(struct server *srv);

/* Closes the pipes and frees srv->workers.  After workers_stop (or a failed start). */
void workers_free(struct server *srv);

/* One line per worker: "worker N: connections C, replies R, bad frames B, timeouts T,
 * resets X", then the executor's statistics when with_executor is set (live executors
 * for SIGUSR1, the saved ones after shutdown), then a total line. */
void workers_report(const struct server *srv, FILE *out, int with_executor);

#endif

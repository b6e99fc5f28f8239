/* client/load.h: the run: T threads, each with its own executor, each running its share of
 * the C lanes over its share of the N requests.
 *
 * A lane is a task that sends requests one after another, taking the next request number
 * from its thread's counter (no atomics: only that thread touches it).  With the default
 * C = N every lane sends exactly one request: one spawned send_data per request, as in the
 * book.  With C < N the same C tasks are reused, so a run allocates C tasks, whatever N.
 * Requests and lanes are split evenly over the threads (thread t gets the requests
 * [t*N/T, (t+1)*N/T)), so a thread never waits on another.
 *
 * Memory: one task per lane (a few hundred bytes each), and one array of N latencies
 * (8 bytes per request), plus N result codes with -v.  Nothing is allocated per request. */
#ifndef WAKEFUL_CLIENT_LOAD_H
#define WAKEFUL_CLIENT_LOAD_H

#include <pthread.h>
#include <atomic_ops.h>
#include <stdbool.h>
#include <stdint.h>

#include <wakeful/executor.h>
#include "options.h"
#include "report.h"
#include "send_data.h"

/* One thread's share.  Aligned so that one thread's progress counters never share a cache
 * line with another's. */
typedef struct cl_worker {
    _Alignas(64) struct cl_load *load; /* the run this worker belongs to */
    uint64_t first;                   /* its requests are [first, end) */
    uint64_t end;
    uint64_t lanes;                   /* lanes it spawns */
    uint64_t next;                    /* the next request a lane takes (thread-local) */
    uint64_t kinds[CL_KIND_COUNT];    /* its requests by kind (thread-local until joined) */
    AO_t done;                       /* requests finished, for the progress line */
    AO_t failed;                     /* of which failed, for the progress line */
    uint64_t end_ns;                  /* when its last request finished */
    int error;                        /* 0, or why its executor failed (-errno) */
    wk_executor_stats stats;          /* its executor's counters, at the end */
    pthread_t thread;                 /* the thread */
    bool started;                     /* pthread_create succeeded */
} cl_worker;

typedef struct cl_load {
    const cl_options *opt;   /* borrowed */
    cl_target target;        /* shared by every request, read-only during the run */
    uint8_t *payload;        /* --payload-bytes' buffer (owned), or NULL */
    uint64_t *latency_ns;    /* [requests]: ns, connect start to EOF, 0 when not ok (owned) */
    int32_t *results;        /* [requests]: each request's result with -v, else NULL (owned) */
    unsigned nworkers;       /* threads */
    cl_worker *workers;      /* [nworkers] (owned) */
    uint64_t start_ns;       /* just before the threads start */
    pthread_mutex_t lock;    /* guards finished */
    pthread_cond_t cond;     /* signalled when a worker finishes */
    unsigned finished;       /* workers finished */
} cl_load;

/* Allocates what the run needs.  Returns 0 or -ENOMEM (nothing to free then). */
int cl_load_init(cl_load *l, const cl_options *o);

/* Starts the threads; the run is under way when it returns.  Returns 0, or -errno when not
 * a single thread could start (the run is then over: cl_load_finish still works). */
int cl_load_start(cl_load *l);

/* Waits until every thread finished or timeout_ns passed.  Returns true when all finished. */
bool cl_load_wait(cl_load *l, uint64_t timeout_ns);

/* Requests finished and failed so far, summed over the threads (any thread may call it). */
void cl_load_progress(cl_load *l, uint64_t *done, uint64_t *failed);

/* Joins the threads and fills *s (counts, wall time, latency, executor stats).  Returns
 * the first thread's executor error, or 0. */
int cl_load_finish(cl_load *l, cl_summary *s);

/* Frees what cl_load_init allocated. */
void cl_load_free(cl_load *l);

#endif

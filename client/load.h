/* client/load.h: the run: T threads, each with its own executor, each running its share of
 * the requests.
 *
 * Requests are numbered k = 0, 1, 2, ...; thread t of T takes k = t, t + T, t + 2T, ...
 * (so each thread has its share of an -n, of a -d run and of an -R schedule, and never
 * waits on another), and request k goes to target k mod (number of targets).
 *
 * Closed loop (no -R): C lanes, split evenly over the threads.  A lane is a task that sends
 * requests one after another, taking its thread's next request number (no atomics: only
 * that thread touches it), until -n is used up, -d has passed or the run is stopped.  With
 * the book's default C = N every lane sends exactly one request: one spawned send_data per
 * request, as in the book.
 *
 * Open loop (-R): one pacer task per thread.  Request k is due at start + k/R.  Each time
 * the pacer wakes it spawns a task for every request that has come due (the timers round a
 * wait up to the next millisecond, so at 20,000/s a wake sends some twenty: the schedule
 * keeps its precision in the due times, not in the wakes), then sleeps until the next due
 * time.  A request whose thread already has its share of -c in flight waits for one to end
 * (the client has fallen behind); its latency still counts from its due time.
 *
 * Memory is fixed whatever the length of the run: per thread a latency histogram
 * (histogram.h, 264 KiB; two under -R), the lanes (a few hundred bytes each) or, under -R,
 * one task per request in flight (at most -c), freed when it ends; plus N result codes with
 * -v under -n. */
#ifndef WAKEFUL_CLIENT_LOAD_H
#define WAKEFUL_CLIENT_LOAD_H

#include <pthread.h>
#include <atomic_ops.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <wakeful/executor.h>
#include <wakeful/waker.h>
#include "histogram.h"
#include "options.h"
#include "report.h"
#include "send_data.h"

/* One thread's share.  Aligned so that one thread's progress counters never share a cache
 * line with another's. */
typedef struct cl_worker {
    _Alignas(64) struct cl_load *load; /* the run this worker belongs to */
    unsigned index;                   /* t: its requests are k = t + j*T */
    uint64_t count;                   /* j < count (UINT64_MAX: bounded by -d only) */
    uint64_t next;                    /* the next j (thread-local) */
    uint64_t lanes;                   /* closed loop: lanes it spawns; open loop: its -c */
    uint64_t in_flight;               /* open loop: requests in flight */
    bool pacer_waits;                 /* open loop: the pacer waits for a request to end */
    wk_waker pacer_waker;             /* the pacer's waker while it lives (thread-local) */
    bool pacer_alive;                 /* the pacer has not finished */
    uint64_t max_lag_ns;              /* open loop: latest send behind its due time */
    uint64_t last_send_ns;            /* when its last request started */
    uint64_t kinds[CL_KIND_COUNT];    /* its requests by kind (thread-local until joined) */
    uint64_t *target_counts;          /* [ntargets][2]: ok, failed (owned) */
    uint64_t *errors;                 /* [CL_ERROR_SLOTS] by cause (owned) */
    hist latency;                     /* ok requests: from the due time under -R, else send */
    hist latency_uncorrected;         /* under -R: ok requests, from the actual send */
    AO_t done;                        /* requests finished, for the progress line */
    AO_t failed;                      /* of which failed, for the progress line */
    uint64_t started;                 /* requests started (thread-local until joined) */
    uint64_t end_ns;                  /* when its last request finished */
    int wake_fd;                      /* eventfd: main pokes it on Ctrl-C (owned) */
    int error;                        /* 0, or why its executor failed (-errno) */
    wk_executor_stats stats;          /* its executor's counters, at the end */
    pthread_t thread;                 /* the thread */
    bool thread_started;              /* pthread_create succeeded */
} cl_worker;

typedef struct cl_load {
    const cl_options *opt;   /* borrowed */
    cl_target targets[CL_MAX_TARGETS]; /* read-only during the run (but each `preferred`) */
    unsigned ntargets;
    uint8_t *payload;        /* --payload-bytes' buffer (owned), or NULL */
    int32_t *results;        /* [requests]: each request's result with -v under -n (owned) */
    FILE *vout;              /* -v under -d/-R: where outcomes go as they end */
    unsigned nworkers;       /* threads */
    cl_worker *workers;      /* [nworkers] (owned) */
    uint64_t start_ns;       /* just before the threads start: the schedule's origin */
    uint64_t end_issue_ns;   /* -d: no request starts at or after this (UINT64_MAX: none) */
    AO_t stop;               /* 1 after Ctrl-C: start nothing more */
    AO_t abort;              /* 1 when the grace after Ctrl-C is over: drop what is left */
    pthread_mutex_t lock;    /* guards finished */
    pthread_cond_t cond;     /* signalled when a worker finishes */
    unsigned finished;       /* workers finished */
} cl_load;

/* Allocates what the run needs.  Returns 0 or -ENOMEM (nothing to free then). */
int cl_load_init(cl_load *l, const cl_options *o, FILE *vout);

/* Starts the threads; the run is under way when it returns.  Returns 0, or -errno when not
 * a single thread could start (the run is then over: cl_load_finish still works). */
int cl_load_start(cl_load *l);

/* Waits until every thread finished or timeout_ns passed.  Returns true when all finished. */
bool cl_load_wait(cl_load *l, uint64_t timeout_ns);

/* Ctrl-C: stops issuing (abort false) or drops the requests still in flight (abort true).
 * Thread-safe; may be called from the main thread any time after cl_load_start. */
void cl_load_stop(cl_load *l, bool abort);

/* Requests finished and failed so far, summed over the threads (any thread may call it). */
void cl_load_progress(cl_load *l, uint64_t *done, uint64_t *failed);

/* Joins the threads and fills *s (counts, wall time, latency, executor stats).  Returns
 * the first thread's executor error, or 0.  The histograms stay owned by l; *s points to
 * the merged ones (the first worker's) until cl_load_free. */
int cl_load_finish(cl_load *l, cl_summary *s);

/* Frees what cl_load_init allocated. */
void cl_load_free(cl_load *l);

#endif

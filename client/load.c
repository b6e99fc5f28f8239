/* client/load.c: see load.h. */
#include "load.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <wakeful/clock.h>
#include <wakeful/coro.h>

/* ---- the lane: a task that sends requests one after another ---------------------------- */

/* Requests a lane may finish inside one poll before it yields.  Against a port nobody
 * listens on, a loopback connect is refused at once, so a lane could otherwise run through
 * all of its requests without ever letting the executor look at anything else. */
#define LANE_STREAK 32

typedef struct cl_lane {
    wk_future base;
    int co;               /* the coroutine's resume point */
    unsigned streak;      /* requests finished in the current poll */
    cl_worker *w;         /* its thread's share (borrowed) */
    uint64_t index;       /* the request in flight */
    uint64_t start_ns;    /* when its connect started */
    cl_send_data req;     /* the request in flight (zero-filled, thus inert, before the first) */
} cl_lane;

/* Counts one finished request.  Runs on the worker's thread only. */
static void worker_record(cl_worker *w, uint64_t index, int result, uint64_t ns)
{
    cl_kind k = cl_classify(result);
    w->kinds[k]++;
    if (k == CL_KIND_OK)
        w->load->latency_ns[index] = ns > 0 ? ns : 1; /* 0 means "not ok" */
    if (w->load->results != NULL)
        w->load->results[index] = result;
    /* Single writer: a relaxed load and store, plain moves on x86, no locked instruction. */
    AO_store(&w->done, AO_load(&w->done) + 1);
    if (k != CL_KIND_OK)
        AO_store(&w->failed, AO_load(&w->failed) + 1);
}

/* The request's one deadline: connect, send and receive all share it. */
static uint64_t lane_deadline(const cl_worker *w, uint64_t start_ns)
{
    uint64_t timeout = w->load->target.timeout_ns;
    return timeout == 0 ? WK_DEADLINE_NEVER : start_ns + timeout;
}

static wk_poll lane_body(cl_lane *l, wk_context *cx)
{
    cl_worker *w = l->w;
    WK_CO_BEGIN(l->co);
    while (w->next < w->end) {
        l->index = w->next++;
        l->start_ns = wk_now_ns();
        cl_send_data_init(&l->req, &w->load->target, l->index, lane_deadline(w, l->start_ns));
        WK_CO_AWAIT(l->co, &l->req, cx);
        worker_record(w, l->index, l->req.result, wk_now_ns() - l->start_ns);
        wk_future_drop(&l->req.base);
        if (++l->streak >= LANE_STREAK)
            WK_CO_YIELD(l->co, cx);
    }
    WK_CO_END(l->co);
}

static wk_poll lane_poll(wk_future *f, wk_context *cx)
{
    cl_lane *l = (cl_lane *)f;
    l->streak = 0;
    return lane_body(l, cx);
}

/* Runs when the executor is freed with the lane unfinished: the request in flight is
 * dropped (its socket closed) and stays uncounted; cl_load_finish counts it as not run. */
static void lane_drop(wk_future *f)
{
    cl_lane *l = (cl_lane *)f;
    wk_future_drop(&l->req.base);
}

/* ---- the spawner: lanes in batches ------------------------------------------------------
 * Spawning all 4,000 lanes up front would queue 4,000 first polls (each a socket, a connect
 * and a send, some 30 us of kernel time on loopback) ahead of everything else the executor
 * has to do: a lane whose send had to wait, or whose reply arrived, would wait for the whole
 * ramp.  (When connects still waited for the handshake before sending, every latency
 * included the ramp: min 1,100 ms in the book's run.)  The spawner spawns a batch, then
 * yields to the back of the run queue, behind the lanes that became ready meanwhile. */

/* Lanes spawned per turn of the spawner: half the executor's poll budget, so that one pass
 * polls a batch of new lanes and still has room for the lanes that became ready. */
#define SPAWN_BATCH (WK_POLL_BUDGET / 2)

typedef struct cl_spawner {
    wk_future base;
    int co;              /* the coroutine's resume point */
    cl_worker *w;        /* its thread's share (borrowed) */
    uint64_t spawned;    /* lanes spawned so far */
} cl_spawner;

/* Spawns one lane on cx's executor.  Returns 0 or -ENOMEM. */
static int spawn_lane(cl_worker *w, wk_context *cx)
{
    cl_lane lane;
    memset(&lane, 0, sizeof lane);
    lane.base.poll = lane_poll;
    lane.base.drop = lane_drop;
    lane.w = w;
    return WK_SPAWN_DETACHED(cx->executor, cl_lane, &lane);
}

static wk_poll spawner_poll(wk_future *f, wk_context *cx)
{
    cl_spawner *s = (cl_spawner *)f;
    cl_worker *w = s->w;
    WK_CO_BEGIN(s->co);
    while (s->spawned < w->lanes) {
        for (int i = 0; i < SPAWN_BATCH && s->spawned < w->lanes; i++) {
            int rc = spawn_lane(w, cx);
            if (rc < 0) {
                /* Fewer lanes than asked: the ones spawned still take every request. */
                if (s->spawned == 0)
                    w->error = rc;
                WK_CO_RETURN(s->co);
            }
            s->spawned++;
        }
        if (s->spawned < w->lanes)
            WK_CO_YIELD(s->co, cx);
    }
    WK_CO_END(s->co);
}

/* ---- the worker thread ------------------------------------------------------------------ */

static void worker_finished(cl_worker *w)
{
    cl_load *l = w->load;
    pthread_mutex_lock(&l->lock);
    l->finished++;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

static void *worker_main(void *arg)
{
    cl_worker *w = arg;
    wk_executor *ex = NULL;
    int rc = wk_executor_new(&ex);
    if (rc < 0) {
        w->error = rc;
        goto out;
    }
    cl_spawner spawner = {.base = {spawner_poll, NULL}, .w = w};
    rc = WK_SPAWN_DETACHED(ex, cl_spawner, &spawner);
    if (rc == 0)
        rc = wk_executor_run(ex);
    if (rc < 0 && w->error == 0)
        w->error = rc;
    wk_executor_get_stats(ex, &w->stats);
    wk_executor_free(ex);
out:
    w->end_ns = wk_now_ns();
    worker_finished(w);
    return NULL;
}

/* ---- the run ----------------------------------------------------------------------------- */

int cl_load_init(cl_load *l, const cl_options *o)
{
    memset(l, 0, sizeof *l);
    l->opt = o;
    memcpy(&l->target.addr, &o->addr, sizeof o->addr);
    l->target.addr_len = o->addr_len;
    l->target.timeout_ns = o->timeout_ms * WK_NSEC_PER_MSEC;
    if (o->message != NULL) {
        l->target.body = (const uint8_t *)o->message;
        l->target.body_len = strlen(o->message);
    } else if (o->payload_set) {
        /* ASCII (thus valid UTF-8) letters a..z repeated, so that a server or a test can
         * tell a misplaced byte from a right one.  One buffer for every request. */
        l->payload = malloc(o->payload_bytes > 0 ? o->payload_bytes : 1);
        if (l->payload == NULL)
            goto nomem;
        for (size_t i = 0; i < o->payload_bytes; i++)
            l->payload[i] = (uint8_t)('a' + i % 26);
        l->target.body = l->payload;
        l->target.body_len = o->payload_bytes;
    }

    /* calloc: the pages are mapped lazily and read as zero ("not ok") until written. */
    l->latency_ns = calloc((size_t)o->requests, sizeof *l->latency_ns);
    if (l->latency_ns == NULL)
        goto nomem;
    if (o->verbose) {
        l->results = malloc((size_t)o->requests * sizeof *l->results);
        if (l->results == NULL)
            goto nomem;
        for (uint64_t i = 0; i < o->requests; i++)
            l->results[i] = CL_E_NOT_RUN;
    }

    l->nworkers = o->threads;
    l->workers = aligned_alloc(_Alignof(cl_worker), l->nworkers * sizeof *l->workers);
    if (l->workers == NULL)
        goto nomem;
    memset(l->workers, 0, l->nworkers * sizeof *l->workers);
    uint64_t n = o->requests, c = o->concurrency, t = l->nworkers;
    for (uint64_t i = 0; i < t; i++) {
        cl_worker *w = &l->workers[i];
        w->load = l;
        w->first = i * n / t;
        w->end = (i + 1) * n / t;
        w->next = w->first;
        /* threads <= concurrency <= requests, so every worker gets at least one lane and
         * at least as many requests as lanes. */
        w->lanes = (i + 1) * c / t - i * c / t;
        AO_store(&w->done, 0);
        AO_store(&w->failed, 0);
    }

    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &attr);
    pthread_condattr_destroy(&attr);
    return 0;

nomem:
    free(l->payload);
    free(l->latency_ns);
    free(l->results);
    memset(l, 0, sizeof *l);
    return -ENOMEM;
}

int cl_load_start(cl_load *l)
{
    int first_error = 0;
    unsigned started = 0;
    l->start_ns = wk_now_ns();
    for (unsigned i = 0; i < l->nworkers; i++) {
        cl_worker *w = &l->workers[i];
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc == 0) {
            w->started = true;
            started++;
            continue;
        }
        /* Its requests are counted as not run (kind other) by cl_load_finish. */
        if (first_error == 0)
            first_error = -rc;
        w->error = -rc;
        w->end_ns = wk_now_ns();
        pthread_mutex_lock(&l->lock);
        l->finished++;
        pthread_mutex_unlock(&l->lock);
    }
    return started > 0 ? 0 : first_error;
}

bool cl_load_wait(cl_load *l, uint64_t timeout_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + timeout_ns;
    ts.tv_sec += (time_t)(ns / WK_NSEC_PER_SEC);
    ts.tv_nsec = (long)(ns % WK_NSEC_PER_SEC);

    pthread_mutex_lock(&l->lock);
    while (l->finished < l->nworkers)
        if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT)
            break;
    bool all = l->finished == l->nworkers;
    pthread_mutex_unlock(&l->lock);
    return all;
}

void cl_load_progress(cl_load *l, uint64_t *done, uint64_t *failed)
{
    uint64_t d = 0, f = 0;
    for (unsigned i = 0; i < l->nworkers; i++) {
        d += AO_load(&l->workers[i].done);
        f += AO_load(&l->workers[i].failed);
    }
    *done = d;
    *failed = f;
}

int cl_load_finish(cl_load *l, cl_summary *s)
{
    memset(s, 0, sizeof *s);
    int error = 0;
    uint64_t end_ns = l->start_ns;
    for (unsigned i = 0; i < l->nworkers; i++) {
        cl_worker *w = &l->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        if (error == 0)
            error = w->error;
        if (w->end_ns > end_ns)
            end_ns = w->end_ns;
        /* Requests its lanes never finished (its executor failed, or its thread never
         * started) were not run: kind other. */
        uint64_t counted = 0;
        for (int k = 0; k < CL_KIND_COUNT; k++) {
            s->kinds[k] += w->kinds[k];
            counted += w->kinds[k];
        }
        s->kinds[CL_KIND_OTHER] += (w->end - w->first) - counted;

        s->exec.spawned += w->stats.spawned;
        s->exec.completed += w->stats.completed;
        s->exec.cancelled += w->stats.cancelled;
        s->exec.polls += w->stats.polls;
        s->exec.wakes_local += w->stats.wakes_local;
        s->exec.wakes_remote += w->stats.wakes_remote;
        s->exec.parks += w->stats.parks;
        s->exec.epoll_waits += w->stats.epoll_waits;
        s->exec.busy_ns += w->stats.busy_ns;
        s->exec.idle_ns += w->stats.idle_ns;
    }
    s->requests = l->opt->requests;
    s->ok = s->kinds[CL_KIND_OK];
    s->failed = s->requests - s->ok;
    s->wall_ns = end_ns - l->start_ns;
    s->threads = l->nworkers;
    s->concurrency = l->opt->concurrency;

    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        s->cpu_user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
        s->cpu_sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }
    return error;
}

void cl_load_free(cl_load *l)
{
    if (l->workers != NULL) {
        pthread_cond_destroy(&l->cond);
        pthread_mutex_destroy(&l->lock);
    }
    free(l->workers);
    free(l->payload);
    free(l->latency_ns);
    free(l->results);
    memset(l, 0, sizeof *l);
}

/* client/load.c: see load.h. */
#include "load.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <wakeful/clock.h>
#include <wakeful/coro.h>
#include <wakeful/timer.h>

/* ---- counting a finished request ---------------------------------------------------------- */

/* The global number of a worker's j-th request. */
static uint64_t request_number(const cl_worker *w, uint64_t j)
{
    return (uint64_t)w->index + j * w->load->nworkers;
}

static cl_target *request_target(cl_worker *w, uint64_t k)
{
    return &w->load->targets[k % w->load->ntargets];
}

/* Counts one finished request.  start_ns is its due time under -R, else when it started;
 * send_ns when it started.  Runs on the worker's thread only. */
static void worker_record(cl_worker *w, uint64_t k, int result, uint64_t start_ns,
                          uint64_t send_ns)
{
    cl_load *l = w->load;
    uint64_t now = wk_now_ns();
    cl_kind kind = cl_classify(result);
    w->kinds[kind]++;
    w->target_counts[(k % l->ntargets) * 2 + (kind == CL_KIND_OK ? 0 : 1)]++;
    if (kind == CL_KIND_OK) {
        hist_record(&w->latency, now - start_ns);
        if (cl_open_loop(l->opt))
            hist_record(&w->latency_uncorrected, now - send_ns);
    } else {
        w->errors[cl_error_slot(result)]++;
    }
    if (l->results != NULL)
        l->results[k] = result;
    else if (l->vout != NULL)
        fprintf(l->vout, result == 0 ? "Result: %s\n" : "Error: %s\n", cl_result_text(result));
    /* Single writer: a relaxed load and store, plain moves on x86, no locked instruction. */
    AO_store(&w->done, AO_load(&w->done) + 1);
    if (kind != CL_KIND_OK)
        AO_store(&w->failed, AO_load(&w->failed) + 1);
}

/* The request's one deadline: connect, send and receive all share it. */
static uint64_t request_deadline(const cl_worker *w, uint64_t start_ns)
{
    uint64_t timeout = w->load->targets[0].timeout_ns;
    return timeout == 0 ? WK_DEADLINE_NEVER : start_ns + timeout;
}

/* Called by each of the worker's tasks as it ends.  The worker's loop waits in epoll while
 * its wake-up descriptor is registered, even with no task left, so the last task to end
 * pokes that descriptor: the loop then sees no task and returns. */
static void task_ending(cl_worker *w, wk_context *cx)
{
    if (wk_executor_task_count(cx->executor) <= 1) {
        uint64_t one = 1;
        if (write(w->wake_fd, &one, sizeof one) < 0) {
            /* EAGAIN only: a poke is pending already */
        }
    }
}

/* True when the worker may start its j-th request now (closed loop). */
static bool may_start(const cl_worker *w, uint64_t now)
{
    return w->next < w->count && now < w->load->end_issue_ns && AO_load(&w->load->stop) == 0;
}

/* ---- the lane (closed loop): a task that sends requests one after another ----------------- */

/* Requests a lane may finish inside one poll before it yields.  Against a port nobody
 * listens on, a loopback connect is refused at once, so a lane could otherwise run through
 * all of its requests without ever letting the executor look at anything else. */
#define LANE_STREAK 32

typedef struct cl_lane {
    wk_future base;
    int co;               /* the coroutine's resume point */
    unsigned streak;      /* requests finished in the current poll */
    cl_worker *w;         /* its thread's share (borrowed) */
    uint64_t k;           /* the request in flight */
    uint64_t start_ns;    /* when its connect started */
    cl_send_data req;     /* the request in flight (zero-filled, thus inert, before the first) */
} cl_lane;

static wk_poll lane_body(cl_lane *l, wk_context *cx)
{
    cl_worker *w = l->w;
    WK_CO_BEGIN(l->co);
    for (;;) {
        l->start_ns = wk_now_ns();
        if (!may_start(w, l->start_ns))
            break;
        l->k = request_number(w, w->next++);
        w->started++;
        w->last_send_ns = l->start_ns;
        cl_send_data_init(&l->req, request_target(w, l->k), l->k,
                          request_deadline(w, l->start_ns));
        WK_CO_AWAIT(l->co, &l->req, cx);
        worker_record(w, l->k, l->req.result, l->start_ns, l->start_ns);
        wk_future_drop(&l->req.base);
        if (++l->streak >= LANE_STREAK)
            WK_CO_YIELD(l->co, cx);
    }
    task_ending(w, cx);
    WK_CO_END(l->co);
}

static wk_poll lane_poll(wk_future *f, wk_context *cx)
{
    cl_lane *l = (cl_lane *)f;
    l->streak = 0;
    return lane_body(l, cx);
}

/* Runs when the executor is freed with the lane unfinished (Ctrl-C's grace ran out, or the
 * executor failed): the request in flight is dropped (its socket closed), uncounted. */
static void lane_drop(wk_future *f)
{
    cl_lane *l = (cl_lane *)f;
    wk_future_drop(&l->req.base);
}

/* ---- the spawner: lanes in batches ---------------------------------------------------------
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
                task_ending(w, cx);
                WK_CO_RETURN(s->co);
            }
            s->spawned++;
        }
        if (s->spawned < w->lanes && AO_load(&w->load->stop) == 0)
            WK_CO_YIELD(s->co, cx);
    }
    task_ending(w, cx);
    WK_CO_END(s->co);
}

/* ---- the shot (open loop): one request, due at a given time -------------------------------- */

typedef struct cl_shot {
    wk_future base;
    int co;               /* the coroutine's resume point */
    cl_worker *w;         /* its thread's share (borrowed) */
    uint64_t k;           /* the request */
    uint64_t due_ns;      /* when the schedule wanted it sent */
    uint64_t send_ns;     /* when it started */
    cl_send_data req;     /* the request */
} cl_shot;

/* A request ended (or was dropped): one fewer in flight; a pacer waiting for room goes on. */
static void shot_ended(cl_worker *w)
{
    w->in_flight--;
    if (w->pacer_waits) {
        w->pacer_waits = false;
        wk_waker_wake_by_ref(&w->pacer_waker);
    }
}

static wk_poll shot_poll(wk_future *f, wk_context *cx)
{
    cl_shot *s = (cl_shot *)f;
    WK_CO_BEGIN(s->co);
    WK_CO_AWAIT(s->co, &s->req, cx);
    worker_record(s->w, s->k, s->req.result, s->due_ns, s->send_ns);
    wk_future_drop(&s->req.base);
    shot_ended(s->w);
    task_ending(s->w, cx);
    WK_CO_END(s->co);
}

/* Dropped unfinished (the grace after Ctrl-C ran out): uncounted. */
static void shot_drop(wk_future *f)
{
    cl_shot *s = (cl_shot *)f;
    if (s->co != WK_CO_DONE) {
        wk_future_drop(&s->req.base);
        s->w->in_flight--;
    }
}

/* ---- the pacer (open loop): every request that has come due, then sleep -------------------- */

/* Behind schedule: a request went out more than this after its due time.  The timers wake
 * up to a millisecond late by design (rounded up), and a pass of the executor takes some
 * more; 10 ms is well past both. */
#define BEHIND_NS (10 * WK_NSEC_PER_MSEC)

/* Requests the pacer starts in one poll before it yields, so that the requests it started
 * get polled (their connects made) in between: a pacer that fell far behind would
 * otherwise start thousands before the first of them is sent.  The executor's budget. */
#define PACER_BURST WK_POLL_BUDGET

typedef struct cl_pacer {
    wk_future base;
    cl_worker *w;         /* its thread's share (borrowed) */
    wk_timer timer;       /* wakes it at the next due time */
} cl_pacer;

/* When the schedule wants request k: start + k/R, in integer nanoseconds without overflow
 * (k/R whole seconds, then the remainder; R is at most a billion). */
static uint64_t due_time(const cl_load *l, uint64_t k)
{
    uint64_t r = l->opt->rate;
    return l->start_ns + (k / r) * WK_NSEC_PER_SEC + (k % r) * WK_NSEC_PER_SEC / r;
}

static void pacer_done(cl_pacer *p, wk_context *cx)
{
    if (cx != NULL)
        task_ending(p->w, cx);
    wk_timer_disarm(&p->timer);
    wk_waker_drop(&p->w->pacer_waker);
    p->w->pacer_alive = false;
    p->w->pacer_waits = false;
}

static wk_poll pacer_poll(wk_future *f, wk_context *cx)
{
    cl_pacer *p = (cl_pacer *)f;
    cl_worker *w = p->w;
    cl_load *l = w->load;
    wk_waker_store(&w->pacer_waker, cx->waker);
    uint64_t now = wk_now_ns();
    for (unsigned burst = 0;; burst++) {
        if (w->next >= w->count || AO_load(&l->stop) != 0) {
            pacer_done(p, cx);
            return WK_READY;
        }
        uint64_t k = request_number(w, w->next);
        uint64_t due = due_time(l, k);
        /* -d ends the schedule, and also the sending: a client that fell behind stops at D
         * (plus the timers' slack) with what it could send, rather than running on to send
         * the rest late; achieved_rps then shows the shortfall. */
        if (due >= l->end_issue_ns ||
            (l->end_issue_ns != UINT64_MAX && now >= l->end_issue_ns + BEHIND_NS)) {
            pacer_done(p, cx);
            return WK_READY;
        }
        if (due > now) {
            if (wk_timer_arm(&p->timer, cx, due) < 0) {
                pacer_done(p, cx);
                return WK_READY;
            }
            return WK_PENDING;
        }
        if (w->in_flight >= w->lanes) {
            w->pacer_waits = true; /* behind: a request that ends wakes us */
            return WK_PENDING;
        }
        if (burst == PACER_BURST) {
            wk_waker_wake_by_ref(cx->waker); /* more are due: after the ones just started */
            return WK_PENDING;
        }
        cl_shot shot;
        memset(&shot, 0, sizeof shot);
        shot.base.poll = shot_poll;
        shot.base.drop = shot_drop;
        shot.w = w;
        shot.k = k;
        shot.due_ns = due;
        shot.send_ns = now;
        cl_send_data_init(&shot.req, request_target(w, k), k, request_deadline(w, now));
        if (WK_SPAWN_DETACHED(cx->executor, cl_shot, &shot) < 0) {
            /* Out of memory: wait for a request to end and its task to be freed. */
            if (w->in_flight == 0) {
                w->error = -ENOMEM;
                pacer_done(p, cx);
                return WK_READY;
            }
            w->pacer_waits = true;
            return WK_PENDING;
        }
        w->in_flight++;
        w->next++;
        w->started++;
        w->last_send_ns = now;
        if (now - due > w->max_lag_ns)
            w->max_lag_ns = now - due;
    }
}

static void pacer_drop(wk_future *f)
{
    cl_pacer *p = (cl_pacer *)f;
    pacer_done(p, NULL);
}

/* ---- the worker thread ---------------------------------------------------------------------- */

static void worker_finished(cl_worker *w)
{
    cl_load *l = w->load;
    pthread_mutex_lock(&l->lock);
    l->finished++;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

/* wk_executor_run's loop, with an ear for main's pokes (Ctrl-C): a stop wakes the pacer so
 * that it ends at once, not at its next due time; an abort leaves the loop, and freeing the
 * executor drops what is still in flight. */
static int worker_run(cl_worker *w, wk_executor *ex)
{
    while (wk_executor_task_count(ex) > 0) {
        int r = wk_executor_turn(ex, WK_TURN_WAIT);
        if (r < 0)
            return r;
        if (r & WK_TURN_WAKEUP_FD) {
            uint64_t v;
            if (read(w->wake_fd, &v, sizeof v) < 0) {
                /* EAGAIN: another pass took it; nothing else can fail on an eventfd */
            }
            if (AO_load(&w->load->abort) != 0)
                return 0;
            if (w->pacer_alive)
                wk_waker_wake_by_ref(&w->pacer_waker);
        }
    }
    return 0;
}

static void *worker_main(void *arg)
{
    cl_worker *w = arg;
    cl_load *l = w->load;
    wk_executor *ex = NULL;
    int rc = wk_executor_new(&ex);
    if (rc < 0) {
        w->error = rc;
        goto out;
    }
    rc = wk_executor_add_wakeup_fd(ex, w->wake_fd);
    if (rc == 0 && cl_open_loop(l->opt)) {
        cl_pacer pacer;
        memset(&pacer, 0, sizeof pacer);
        pacer.base.poll = pacer_poll;
        pacer.base.drop = pacer_drop;
        pacer.w = w;
        w->pacer_alive = true;
        rc = WK_SPAWN_DETACHED(ex, cl_pacer, &pacer);
        if (rc < 0)
            w->pacer_alive = false;
    } else if (rc == 0) {
        cl_spawner spawner = {.base = {spawner_poll, NULL}, .w = w};
        rc = WK_SPAWN_DETACHED(ex, cl_spawner, &spawner);
    }
    if (rc == 0)
        rc = worker_run(w, ex);
    if (rc < 0 && w->error == 0)
        w->error = rc;
    wk_executor_get_stats(ex, &w->stats);
    wk_executor_free(ex);
out:
    w->end_ns = wk_now_ns();
    worker_finished(w);
    return NULL;
}

/* ---- the run --------------------------------------------------------------------------------- */

static void worker_free(cl_worker *w)
{
    free(w->target_counts);
    free(w->errors);
    hist_free(&w->latency);
    hist_free(&w->latency_uncorrected);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    w->wake_fd = -1;
}

int cl_load_init(cl_load *l, const cl_options *o, FILE *vout)
{
    memset(l, 0, sizeof *l);
    l->opt = o;
    l->ntargets = o->ntargets;
    uint64_t timeout_ns = o->timeout_ms * WK_NSEC_PER_MSEC;
    const uint8_t *body = NULL;
    size_t body_len = 0;
    if (o->message != NULL) {
        body = (const uint8_t *)o->message;
        body_len = strlen(o->message);
    } else if (o->payload_set) {
        /* ASCII (thus valid UTF-8) letters a..z repeated, so that a server or a test can
         * tell a misplaced byte from a right one.  One buffer for every request. */
        l->payload = malloc(o->payload_bytes > 0 ? o->payload_bytes : 1);
        if (l->payload == NULL)
            goto nomem;
        for (size_t i = 0; i < o->payload_bytes; i++)
            l->payload[i] = (uint8_t)('a' + i % 26);
        body = l->payload;
        body_len = o->payload_bytes;
    }
    for (unsigned i = 0; i < o->ntargets; i++) {
        cl_target *t = &l->targets[i];
        t->addrs = o->targets[i].addrs;
        t->naddrs = o->targets[i].naddrs;
        AO_store(&t->preferred, 0);
        t->binds = o->nbinds > 0 ? o->binds : NULL;
        t->nbinds = o->nbinds;
        t->body = body;
        t->body_len = body_len;
        t->timeout_ns = timeout_ns;
    }

    bool bounded = o->duration_ns == 0 && !cl_open_loop(o);
    if (o->verbose && bounded) {
        l->results = malloc((size_t)o->requests * sizeof *l->results);
        if (l->results == NULL)
            goto nomem;
        for (uint64_t i = 0; i < o->requests; i++)
            l->results[i] = CL_E_NOT_RUN;
    } else if (o->verbose) {
        l->vout = vout;
    }

    l->nworkers = o->threads;
    l->workers = aligned_alloc(_Alignof(cl_worker), l->nworkers * sizeof *l->workers);
    if (l->workers == NULL)
        goto nomem;
    memset(l->workers, 0, l->nworkers * sizeof *l->workers);
    for (unsigned i = 0; i < l->nworkers; i++)
        l->workers[i].wake_fd = -1;
    uint64_t n = o->requests, c = o->concurrency, t = l->nworkers;
    for (uint64_t i = 0; i < t; i++) {
        cl_worker *w = &l->workers[i];
        w->load = l;
        w->index = (unsigned)i;
        /* k = i + j*t < n: j < ceil((n - i) / t).  n is at least t (threads <= concurrency
         * <= requests), so every worker has a request. */
        w->count = n == UINT64_MAX ? UINT64_MAX : (n - i + t - 1) / t;
        /* Lanes (or, under -R, its share of -c): at least one each. */
        w->lanes = (i + 1) * c / t - i * c / t;
        if (w->lanes == 0)
            w->lanes = 1;
        w->target_counts = calloc((size_t)l->ntargets * 2, sizeof *w->target_counts);
        w->errors = calloc(CL_ERROR_SLOTS, sizeof *w->errors);
        w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->target_counts == NULL || w->errors == NULL || w->wake_fd < 0 ||
            hist_init(&w->latency) < 0 ||
            (cl_open_loop(o) && hist_init(&w->latency_uncorrected) < 0))
            goto nomem;
        /* hist_init's counts come zeroed but unmapped; hist_reset writes them, so every
         * page is resident from the start and the RSS does not creep up as a long run
         * reaches new slots: memory is flat from the first request. */
        hist_reset(&w->latency);
        if (cl_open_loop(o))
            hist_reset(&w->latency_uncorrected);
        AO_store(&w->done, 0);
        AO_store(&w->failed, 0);
    }
    l->end_issue_ns = UINT64_MAX;
    AO_store(&l->stop, 0);
    AO_store(&l->abort, 0);

    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &attr);
    pthread_condattr_destroy(&attr);
    return 0;

nomem:
    if (l->workers != NULL)
        for (unsigned i = 0; i < l->nworkers; i++)
            worker_free(&l->workers[i]);
    free(l->workers);
    free(l->payload);
    free(l->results);
    memset(l, 0, sizeof *l);
    return -ENOMEM;
}

int cl_load_start(cl_load *l)
{
    int first_error = 0;
    unsigned started = 0;
    l->start_ns = wk_now_ns();
    if (l->opt->duration_ns > 0)
        l->end_issue_ns = l->start_ns + l->opt->duration_ns;
    for (unsigned i = 0; i < l->nworkers; i++) {
        cl_worker *w = &l->workers[i];
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc == 0) {
            w->thread_started = true;
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

void cl_load_stop(cl_load *l, bool abort)
{
    AO_store_full(abort ? &l->abort : &l->stop, 1);
    uint64_t one = 1;
    for (unsigned i = 0; i < l->nworkers; i++)
        if (write(l->workers[i].wake_fd, &one, sizeof one) < 0) {
            /* EAGAIN only: the counter is full of pokes already */
        }
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

/* The process's peak resident set, VmHWM, in KiB (0 when /proc cannot say).  Not
 * getrusage's ru_maxrss: that one survives exec, so a client started by a large parent
 * (a Python test) reports the parent's peak from before the exec. */
static uint64_t peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

int cl_load_finish(cl_load *l, cl_summary *s)
{
    memset(s, 0, sizeof *s);
    const cl_options *o = l->opt;
    int error = 0;
    uint64_t end_ns = l->start_ns, last_send_ns = 0, started = 0;
    cl_worker *first = &l->workers[0];
    for (unsigned i = 0; i < l->nworkers; i++) {
        cl_worker *w = &l->workers[i];
        if (w->thread_started)
            pthread_join(w->thread, NULL);
        if (error == 0)
            error = w->error;
        if (w->end_ns > end_ns)
            end_ns = w->end_ns;
        if (w->last_send_ns > last_send_ns)
            last_send_ns = w->last_send_ns;
        started += w->started;
        uint64_t counted = 0;
        for (int k = 0; k < CL_KIND_COUNT; k++) {
            s->kinds[k] += w->kinds[k];
            counted += w->kinds[k];
        }
        /* Requests a failed thread never ran (its executor failed, or it never started),
         * in a run with a fixed count: kind other. */
        if (w->error < 0 && o->duration_ns == 0 && AO_load(&l->stop) == 0 &&
            w->count != UINT64_MAX && w->count > counted) {
            s->kinds[CL_KIND_OTHER] += w->count - counted;
            w->errors[cl_error_slot(CL_E_NOT_RUN)] += w->count - counted;
        }
        if (w->started > counted)
            s->abandoned += w->started - counted;
        for (unsigned t = 0; t < l->ntargets; t++) {
            s->target_counts[t][0] += w->target_counts[t * 2];
            s->target_counts[t][1] += w->target_counts[t * 2 + 1];
        }
        if (w->max_lag_ns > s->behind_ns)
            s->behind_ns = w->max_lag_ns;
        if (i > 0) {
            for (unsigned e = 0; e < CL_ERROR_SLOTS; e++)
                first->errors[e] += w->errors[e];
            hist_merge(&first->latency, &w->latency);
            if (cl_open_loop(o))
                hist_merge(&first->latency_uncorrected, &w->latency_uncorrected);
        }

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
    s->requests = 0;
    for (int k = 0; k < CL_KIND_COUNT; k++)
        s->requests += s->kinds[k];
    s->ok = s->kinds[CL_KIND_OK];
    s->failed = s->requests - s->ok;
    s->wall_ns = end_ns - l->start_ns;
    s->threads = l->nworkers;
    s->concurrency = o->concurrency;
    s->ntargets = l->ntargets;
    s->errors = first->errors;
    s->latency = &first->latency;
    s->latency_uncorrected = cl_open_loop(o) ? &first->latency_uncorrected : NULL;
    s->interrupted = AO_load(&l->stop) != 0;

    /* The rate requests were started at: over the time from the start to the last send,
     * plus one interval (n requests on schedule span (n - 1)/R), so a run that kept its
     * schedule shows R; without -R, requests over the wall time. */
    if (cl_open_loop(o)) {
        double span = started > 0 ? (double)(last_send_ns - l->start_ns) / 1e9 + 1.0 / (double)o->rate
                                  : 0;
        s->achieved_rps = span > 0 ? (double)started / span : 0;
        s->fell_behind = s->behind_ns > BEHIND_NS;
    } else {
        s->achieved_rps = s->wall_ns > 0 ? (double)started / ((double)s->wall_ns / 1e9) : 0;
    }

    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        s->cpu_user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
        s->cpu_sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }
    s->max_rss_kb = peak_rss_kb();
    return error;
}

void cl_load_free(cl_load *l)
{
    if (l->workers != NULL) {
        pthread_cond_destroy(&l->cond);
        pthread_mutex_destroy(&l->lock);
        for (unsigned i = 0; i < l->nworkers; i++)
            worker_free(&l->workers[i]);
    }
    free(l->workers);
    free(l->payload);
    free(l->results);
    memset(l, 0, sizeof *l);
}

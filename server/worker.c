/* server/worker.c: the worker threads.
 *
 * A worker's loop (docs/design.md#park, the parking half of it done by wk_executor_turn):
 *   1. when its dispatch lane may hold something, take a bounded batch of connections
 *      (dispatch_read) and spawn a handle_client task for each (conn_spawn);
 *   2. one executor turn: poll the ready tasks; then, if the executor holds no task, park
 *      until the acceptor unparks us; otherwise wait in epoll (pipe included) until I/O,
 *      the nearest timer or a new connection.
 * No step spins: with nothing to do the thread sleeps in the kernel. */
#include "worker.h"

#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <wakeful/clock.h>
#include <wakeful/errors.h>

#include "log.h"

/* The part of each scratch buffer worker_on_park leaves resident: one page. */
static size_t scratch_keep;

/* Startup handshake: each thread posts once its executor exists (or failed). */
static sem_t startup_sem;

/* Arms the drain timerfd for an absolute CLOCK_MONOTONIC deadline in ns. */
static void arm_drain_timer(struct worker *w, uint64_t deadline)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(deadline / WK_NSEC_PER_SEC);
    its.it_value.tv_nsec = (long)(deadline % WK_NSEC_PER_SEC);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1; /* all zero would disarm it */
    timerfd_settime(w->drain_tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* conn_host.closed: a connection of this worker is gone.  struct conn_host is the first
 * member of struct worker. */
static void worker_conn_closed(struct conn_host *h)
{
    struct worker *w = (struct worker *)h;
    limit_release(w->pool->limit);
    w->open--;
    w->trim_due = 1;
    /* Draining, the loop waits in epoll with no timeout but the drain timer's; when the
     * last connection is done, make that timer expire now so the loop sees it. */
    if (w->stopping && w->open == 0)
        arm_drain_timer(w, 1);
}

/* dispatch_read's callback: a new connection for this worker. */
static void take_conn(void *arg, int fd, const struct sockaddr *peer)
{
    struct worker *w = arg;
    if (conn_spawn(fd, peer) == 0)
        w->open++;
    else
        limit_release(w->pool->limit);
}

/* The executor's park hook: the worker has no connection left, so give memory back.
 * - The scratch buffer keeps every page a large read ever touched: past its first page,
 *   release them (MADV_DONTNEED: fresh zero pages on their next use).  Only after a read
 *   of more than a page, so the common small frame costs no syscall here.
 * - The freed connection states and field3 buffers sit resident in the allocator's free
 *   lists (thousands of them after a burst): malloc_trim(0) returns their pages, in every
 *   arena.  Only when a connection closed since the last time, so a worker woken for
 *   nothing does not trim again.  On a steady stream this runs at most parks (about one
 *   per 6 requests at 64 in flight) and costs nothing measurable:
 *   bench/results/idle-trim-ab.txt.
 * With these, an idle server's RSS returns to what it was before a burst (the hostile
 * suite checks it). */
static void worker_on_park(void *arg)
{
    struct worker *w = arg;
    AO_store(&w->parks, AO_load(&w->parks) + 1); /* single writer */
    if (w->host.scratch_touched > scratch_keep) {
        madvise(w->host.scratch + scratch_keep, WORKER_SCRATCH_SIZE - scratch_keep, MADV_DONTNEED);
        w->host.scratch_touched = 0;
    }
    if (!w->trim_due)
        return;
    w->trim_due = 0;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    conn_count(&w->idle_trims);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct dispatch *d = w->pool->dispatch;
    conn_host_enter(&w->host);

    int r = wk_executor_new(&w->host.ex);
    if (r == 0)
        r = wk_executor_add_wakeup_fd(w->host.ex, d->lanes[w->index].rd);
    if (r == 0)
        r = wk_executor_add_wakeup_fd(w->host.ex, w->drain_tfd);
    if (r == 0) {
        wk_executor_on_park(w->host.ex, worker_on_park, w);
        dispatch_set_executor(d, w->index, w->host.ex);
    }
    w->init_err = r;
    sem_post(&startup_sem);
    if (r < 0) {
        if (w->host.ex)
            wk_executor_free(w->host.ex);
        w->host.ex = NULL;
        return NULL;
    }

    int more = 1;            /* the pipe may hold something: look at it once at start */
    uint64_t drain_deadline = 0;
    for (;;) {
        if (!w->stopping && more) {
            if (dispatch_read(d, w->index, take_conn, w, &more)) {
                w->stopping = 1;
                drain_deadline = AO_load_acquire(&w->pool->drain_deadline);
                /* So that the turn below wakes at the deadline even when every task
                 * waits for something later (a long read timeout, say). */
                arm_drain_timer(w, w->open == 0 ? 1 : drain_deadline);
            }
        }
        if (w->stopping && (wk_executor_task_count(w->host.ex) == 0 || wk_now_ns() >= drain_deadline))
            break;

        int events = wk_executor_turn(w->host.ex, w->stopping ? WK_TURN_WAIT
                                                            : WK_TURN_WAIT | WK_TURN_PARK);
        if (events < 0) {
            if (events == -EINTR)
                continue;
            /* epoll_wait failing otherwise is a bug (EBADF, EFAULT, EINVAL): going on
             * would spin. */
            log_line(LOG_LEVEL_ERROR, (int)w->host.id, LOG_NO_CONN, "executor: %s; aborting",
                     wk_strerror(events));
            abort();
        }
        if (events & (WK_TURN_WAKEUP_FD | WK_TURN_UNPARKED))
            more = 1;
    }

    /* Once the acceptor's thread is done unparking us or reading our statistics (see
     * exit_lock), cancel what is left: dropping a connection's future closes its socket. */
    pthread_mutex_lock(&w->exit_lock);
    size_t left = wk_executor_task_count(w->host.ex);
    wk_executor_get_stats(w->host.ex, &w->final_stats);
    w->final_stats.cancelled += left;
    wk_executor_free(w->host.ex);
    w->host.ex = NULL;
    pthread_mutex_unlock(&w->exit_lock);
    uint64_t one = 1;
    ssize_t r2 = write(w->pool->done_fd, &one, sizeof one);
    (void)r2; /* EAGAIN only when the counter is about to overflow */
    return NULL;
}

int workers_start(struct worker_pool *p, const struct server_options *opt,
                  struct dispatch *d, struct conn_limit *limit)
{
    unsigned n = opt->workers;
    p->opt = opt;
    p->dispatch = d;
    p->limit = limit;
    p->n = 0;
    p->exited = 0;
    AO_store(&p->drain_deadline, 0);
    p->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->done_fd < 0)
        return -errno;
    /* aligned_alloc wants a multiple of the alignment: sizeof(struct worker) is one (its
     * counters are alignas(64)). */
    p->w = aligned_alloc(alignof(struct worker), n * sizeof(struct worker));
    if (p->w == NULL) {
        close(p->done_fd);
        p->done_fd = -1;
        return -ENOMEM;
    }
    memset(p->w, 0, n * sizeof(struct worker));
    if (sem_init(&startup_sem, 0, 0) != 0) {
        int err = -errno;
        free(p->w);
        p->w = NULL;
        close(p->done_fd);
        p->done_fd = -1;
        return err;
    }

#ifdef __GLIBC__
    /* glibc sets its allocator up on first use, and malloc_trim does so without a lock:
     * when malloc is not glibc's (a sanitizer, a preloaded allocator), nothing has used it
     * yet, and two workers' first trims at once crash in it (seen under ASan; 6 runs in 300
     * of a 4-thread repro).  Set it up here, before there are workers. */
    malloc_trim(0);
#endif
    long page = sysconf(_SC_PAGESIZE);
    scratch_keep = page > 0 && (size_t)page < WORKER_SCRATCH_SIZE ? (size_t)page
                                                                  : WORKER_SCRATCH_SIZE;
    int err = 0;
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &p->w[i];
        w->host.id = i + 1;
        w->host.opt = opt;
        w->host.scratch_size = WORKER_SCRATCH_SIZE;
        w->host.counters = &w->counters;
        w->host.timed = opt->metrics != NULL; /* the histogram is read by /metrics only */
        w->host.closed = worker_conn_closed;
        w->index = i;
        w->pool = p;
        w->drain_tfd = -1;
        pthread_mutex_init(&w->exit_lock, NULL);
        p->n = i + 1;
        w->drain_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (w->drain_tfd < 0) {
            err = -errno;
            break;
        }
        /* Mapped on its own, page-aligned, so that worker_on_park can release it. */
        void *scratch = mmap(NULL, WORKER_SCRATCH_SIZE, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (scratch == MAP_FAILED) {
            err = -errno;
            break;
        }
        w->host.scratch = scratch;
    }

    unsigned started = 0;
    for (unsigned i = 0; err == 0 && i < n; i++) {
        struct worker *w = &p->w[i];
        int r = pthread_create(&w->thread, NULL, worker_main, w);
        if (r != 0) {
            err = -r;
            break;
        }
        w->started = 1;
        started++;
        char name[16];
        snprintf(name, sizeof name, "wk-worker-%u", w->host.id);
        pthread_setname_np(w->thread, name); /* for top -H, gdb and the tests */
    }
    for (unsigned i = 0; i < started; i++) {
        while (sem_wait(&startup_sem) != 0 && errno == EINTR)
            ;
    }
    for (unsigned i = 0; err == 0 && i < started; i++) {
        if (p->w[i].init_err < 0)
            err = p->w[i].init_err;
    }
    if (err < 0) {
        workers_stop(p);
        workers_free(p);
    }
    return err;
}

void workers_begin_stop(struct worker_pool *p, uint64_t deadline)
{
    AO_store_release(&p->drain_deadline, deadline);
    for (unsigned i = 0; i < p->n; i++) {
        struct worker *w = &p->w[i];
        if (!w->started)
            continue;
        pthread_mutex_lock(&w->exit_lock);
        if (w->host.ex != NULL) {
            int r = dispatch_stop(p->dispatch, w->index);
            if (r < 0)
                log_line(LOG_LEVEL_ERROR, (int)w->host.id, LOG_NO_CONN,
                         "cannot tell it to stop: %s", wk_strerror(r));
        }
        pthread_mutex_unlock(&w->exit_lock);
    }
}

int workers_exited(struct worker_pool *p)
{
    uint64_t count;
    if (read(p->done_fd, &count, sizeof count) == (ssize_t)sizeof count)
        p->exited += (unsigned)count;
    unsigned started = 0;
    for (unsigned i = 0; i < p->n; i++)
        started += p->w[i].started != 0;
    return p->exited >= started;
}

void workers_join(struct worker_pool *p)
{
    for (unsigned i = 0; i < p->n; i++) {
        struct worker *w = &p->w[i];
        if (w->started) {
            pthread_join(w->thread, NULL);
            w->started = 0;
        }
    }
}

void workers_stop(struct worker_pool *p)
{
    workers_begin_stop(p, wk_now_ns() + p->opt->drain_ms * WK_NSEC_PER_MSEC);
    workers_join(p);
}

void workers_free(struct worker_pool *p)
{
    for (unsigned i = 0; i < p->n; i++) {
        struct worker *w = &p->w[i];
        if (w->drain_tfd >= 0)
            close(w->drain_tfd);
        if (w->host.scratch)
            munmap(w->host.scratch, WORKER_SCRATCH_SIZE);
        pthread_mutex_destroy(&w->exit_lock);
    }
    free(p->w);
    p->w = NULL;
    p->n = 0;
    sem_destroy(&startup_sem);
    if (p->done_fd >= 0)
        close(p->done_fd);
    p->done_fd = -1;
}

static uint64_t load(const AO_t *c)
{
    return AO_load(c);
}

void workers_report(struct worker_pool *p, FILE *out, int with_executor)
{
    uint64_t tot[5] = {0, 0, 0, 0, 0};
    uint64_t cancelled = 0;

    flockfile(out);
    for (unsigned i = 0; i < p->n; i++) {
        struct worker *w = &p->w[i];
        const struct conn_counters *k = &w->counters;
        uint64_t v[5] = {load(&k->connections), load(&k->replies), load(&k->bad_frames),
                         load(&k->timeouts), load(&k->resets)};
        for (int j = 0; j < 5; j++)
            tot[j] += v[j];
        fprintf(out,
                "worker %u: connections %llu, replies %llu, bad frames %llu, timeouts %llu, "
                "resets %llu",
                w->host.id, (unsigned long long)v[0], (unsigned long long)v[1],
                (unsigned long long)v[2], (unsigned long long)v[3], (unsigned long long)v[4]);
        wk_executor_stats st;
        int live = 0;
        if (with_executor) {
            /* A worker may be exiting (a report during the drain): see exit_lock. */
            pthread_mutex_lock(&w->exit_lock);
            if (w->host.ex != NULL) {
                wk_executor_get_stats(w->host.ex, &st);
                live = 1;
            }
            pthread_mutex_unlock(&w->exit_lock);
        }
        if (live) {
            fprintf(out,
                    "; executor: spawned %llu, completed %llu, cancelled %llu, polls %llu, "
                    "wakes %llu local + %llu remote, parks %llu, epoll waits %llu, "
                    "busy %.3f ms, idle %.3f ms; idle trims %llu",
                    (unsigned long long)st.spawned, (unsigned long long)st.completed,
                    (unsigned long long)st.cancelled, (unsigned long long)st.polls,
                    (unsigned long long)st.wakes_local, (unsigned long long)st.wakes_remote,
                    (unsigned long long)st.parks, (unsigned long long)st.epoll_waits,
                    (double)st.busy_ns / 1e6, (double)st.idle_ns / 1e6,
                    (unsigned long long)load(&w->idle_trims));
        } else if (!with_executor) {
            /* After shutdown: tasks still running at the drain deadline. */
            fprintf(out, ", cancelled %llu", (unsigned long long)w->final_stats.cancelled);
            cancelled += w->final_stats.cancelled;
        }
        fputc('\n', out);
    }
    fprintf(out,
            "total: connections %llu, replies %llu, bad frames %llu, timeouts %llu, "
            "resets %llu",
            (unsigned long long)tot[0], (unsigned long long)tot[1], (unsigned long long)tot[2],
            (unsigned long long)tot[3], (unsigned long long)tot[4]);
    if (!with_executor)
        fprintf(out, ", cancelled %llu", (unsigned long long)cancelled);
    fputc('\n', out);
    funlockfile(out);
    fflush(out);
}

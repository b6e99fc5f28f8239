/* server/worker.c: the worker threads.
 *
 * A worker's loop (DESIGN-NOTES §1, the parking half of it done by wk_executor_turn):
 *   1. when the pipe may hold something, read a bounded batch of descriptors and spawn a
 *      handle_client task for each;
 *   2. one executor turn: poll the ready tasks; then, if the executor holds no task, park
 *      until the acceptor unparks us; otherwise wait in epoll (pipe included) until I/O,
 *      the nearest timer or a new connection.
 * No step spins: with nothing to do the thread sleeps in the kernel. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <wakeful/clock.h>
#include "conn.h"
#include <wakeful/errors.h>

/* Records taken from the pipe per read(), and reads per pass of the loop: 256 new
 * connections at most between two executor turns, so a flood of new connections cannot
 * starve the ones already running (the pipe is level-triggered: what is left wakes the
 * next turn at once). */
#define PIPE_BATCH 64
#define PIPE_READS_PER_PASS 4

/* How long main waits for room in a worker's pipe to write the shutdown marker.  The pipe
 * is only full while the worker is busy draining it, so this is never reached unless the
 * worker is stuck. */
#define STOP_WRITE_TIMEOUT_MS 10000

/* Each worker thread knows its worker: handle_client finds its scratch buffer and counters
 * here instead of keeping a pointer in each connection (8 bytes x 15,000 connections). */
static _Thread_local struct worker *current_worker;

/* The part of each scratch buffer worker_on_park leaves resident: one page. */
static size_t scratch_keep;

/* Startup handshake: each thread posts once its executor exists (or failed). */
static sem_t startup_sem;

struct worker *worker_current(void)
{
    return current_worker;
}

void server_conn_closed(struct server *srv)
{
    AO_t before = AO_fetch_and_sub1_full(&srv->live);
    if (before == srv->max_connections) {
        uint64_t one = 1;
        /* EAGAIN only when the counter is about to overflow: already readable then. */
        ssize_t r = write(srv->poke_fd, &one, sizeof one);
        (void)r;
    }
}

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

void worker_conn_done(struct worker *w)
{
    server_conn_closed(w->srv);
    w->open--;
    w->trim_due = 1;
    /* Draining, the loop waits in epoll with no timeout but the drain timer's; when the
     * last connection is done, make that timer expire now so the loop sees it. */
    if (w->stopping && w->open == 0)
        arm_drain_timer(w, 1);
}

/* Reads the rest of a record the kernel split (it never should: writes below PIPE_BUF are
 * atomic and reads here ask for whole records, but the reader does not rely on it).  The
 * missing bytes were written in the same write() as the ones already read, so they are in
 * the pipe now. */
static ssize_t read_rest(int fd, unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno == EINTR)
            continue;
        else
            return -1;
    }
    return (ssize_t)got;
}

/* Takes up to PIPE_READS_PER_PASS batches of connections from the pipe and spawns them.
 * Returns 1 when the shutdown marker was read (nothing follows it).  *more is set when the
 * bound was reached before the pipe was empty. */
static int drain_pipe(struct worker *w, int *more)
{
    const size_t rs = w->srv->rec_size;
    const int verbose = w->srv->opt->verbosity >= VERBOSITY_VERBOSE;
    unsigned char buf[PIPE_BATCH * sizeof(struct dispatch_rec)];

    *more = 0;
    for (int pass = 0; pass < PIPE_READS_PER_PASS; pass++) {
        ssize_t n = read(w->pipe_rd, buf, PIPE_BATCH * rs);
        if (n < 0) {
            if (errno == EINTR) {
                pass--;
                continue;
            }
            if (errno != EAGAIN)
                fprintf(stderr, "wakeful-server: worker %u: reading its pipe: %s\n", w->id,
                        strerror(errno));
            return 0;
        }
        if (n == 0)
            return 1; /* the write end is gone: nothing more will come */
        size_t part = (size_t)n % rs;
        if (part != 0) {
            if (read_rest(w->pipe_rd, buf + n, rs - part) < 0)
                return 0;
            n += (ssize_t)(rs - part);
        }
        for (size_t off = 0; off < (size_t)n; off += rs) {
            struct dispatch_rec rec;
            memcpy(&rec, buf + off, rs);
            if (rec.fd == DISPATCH_STOP)
                return 1;
            conn_spawn(w, rec.fd, verbose ? &rec.peer.sa : NULL);
        }
        if ((size_t)n < PIPE_BATCH * rs)
            return 0; /* a short read: the pipe was empty */
    }
    *more = 1;
    return 0;
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
    if (w->scratch_touched > scratch_keep) {
        madvise(w->scratch + scratch_keep, WORKER_SCRATCH_SIZE - scratch_keep, MADV_DONTNEED);
        w->scratch_touched = 0;
    }
    if (!w->trim_due)
        return;
    w->trim_due = 0;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    worker_count(&w->counters.idle_trims);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    current_worker = w;

    int r = wk_executor_new(&w->ex);
    if (r == 0)
        r = wk_executor_add_wakeup_fd(w->ex, w->pipe_rd);
    if (r == 0)
        r = wk_executor_add_wakeup_fd(w->ex, w->drain_tfd);
    if (r == 0)
        wk_executor_on_park(w->ex, worker_on_park, w);
    w->init_err = r;
    sem_post(&startup_sem);
    if (r < 0) {
        if (w->ex)
            wk_executor_free(w->ex);
        w->ex = NULL;
        return NULL;
    }

    int more = 1;            /* the pipe may hold something: look at it once at start */
    uint64_t drain_deadline = 0;
    for (;;) {
        if (!w->stopping && more) {
            if (drain_pipe(w, &more)) {
                w->stopping = 1;
                drain_deadline = wk_now_ns() + w->srv->opt->drain_ms * WK_NSEC_PER_MSEC;
                /* So that the turn below wakes at the deadline even when every task
                 * waits for something later (a long read timeout, say). */
                arm_drain_timer(w, w->open == 0 ? 1 : drain_deadline);
            }
        }
        if (w->stopping && (wk_executor_task_count(w->ex) == 0 || wk_now_ns() >= drain_deadline))
            break;

        int events = wk_executor_turn(w->ex, w->stopping ? WK_TURN_WAIT
                                                      : WK_TURN_WAIT | WK_TURN_PARK);
        if (events < 0) {
            if (events == -EINTR)
                continue;
            /* epoll_wait failing otherwise is a bug (EBADF, EFAULT, EINVAL): going on
             * would spin. */
            fprintf(stderr, "wakeful-server: worker %u: executor: %s\n", w->id,
                    wk_strerror(events));
            abort();
        }
        if (events & (WK_TURN_WAKEUP_FD | WK_TURN_UNPARKED))
            more = 1;
    }

    /* Wait until main is done unparking us (see exit_lock), then cancel what is left:
     * dropping a connection's future closes its socket. */
    pthread_mutex_lock(&w->exit_lock);
    pthread_mutex_unlock(&w->exit_lock);
    size_t left = wk_executor_task_count(w->ex);
    wk_executor_get_stats(w->ex, &w->final_stats);
    w->final_stats.cancelled += left;
    wk_executor_free(w->ex);
    w->ex = NULL;
    return NULL;
}

int workers_start(struct server *srv)
{
    unsigned n = srv->opt->workers;
    srv->nworkers = 0;
    /* aligned_alloc wants a multiple of the alignment: sizeof(struct worker) is one (its
     * counters are alignas(64)). */
    srv->workers = aligned_alloc(alignof(struct worker), n * sizeof(struct worker));
    if (srv->workers == NULL)
        return -ENOMEM;
    memset(srv->workers, 0, n * sizeof(struct worker));
    if (sem_init(&startup_sem, 0, 0) != 0) {
        free(srv->workers);
        srv->workers = NULL;
        return -errno;
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
        struct worker *w = &srv->workers[i];
        int p[2];
        w->id = i + 1;
        w->srv = srv;
        w->pipe_rd = w->pipe_wr = w->drain_tfd = -1;
        pthread_mutex_init(&w->exit_lock, NULL);
        srv->nworkers = i + 1;
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
            err = -errno;
            break;
        }
        w->pipe_rd = p[0];
        w->pipe_wr = p[1];
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
        w->scratch = scratch;
    }

    unsigned started = 0;
    for (unsigned i = 0; err == 0 && i < n; i++) {
        struct worker *w = &srv->workers[i];
        int r = pthread_create(&w->thread, NULL, worker_main, w);
        if (r != 0) {
            err = -r;
            break;
        }
        w->started = 1;
        started++;
        char name[16];
        snprintf(name, sizeof name, "wk-worker-%u", w->id);
        pthread_setname_np(w->thread, name); /* for top -H, gdb and the tests */
    }
    for (unsigned i = 0; i < started; i++) {
        while (sem_wait(&startup_sem) != 0 && errno == EINTR)
            ;
    }
    for (unsigned i = 0; err == 0 && i < started; i++) {
        if (srv->workers[i].init_err < 0)
            err = srv->workers[i].init_err;
    }
    if (err < 0) {
        workers_stop(srv);
        workers_free(srv);
    }
    return err;
}

/* Writes the shutdown marker to w's pipe, waiting for room if the pipe is full. */
static int write_stop_marker(struct worker *w)
{
    struct dispatch_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.fd = DISPATCH_STOP;
    uint64_t deadline = wk_deadline_in_ms(STOP_WRITE_TIMEOUT_MS);
    for (;;) {
        ssize_t r = write(w->pipe_wr, &rec, w->srv->rec_size);
        if (r == (ssize_t)w->srv->rec_size)
            return 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno != EAGAIN)
            return -errno;
        uint64_t now = wk_now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = w->pipe_wr, .events = POLLOUT};
        poll(&pfd, 1, (int)((deadline - now) / WK_NSEC_PER_MSEC) + 1);
    }
}

void workers_stop(struct server *srv)
{
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        if (!w->started)
            continue;
        pthread_mutex_lock(&w->exit_lock);
        if (w->ex != NULL) {
            int r = write_stop_marker(w);
            if (r < 0)
                fprintf(stderr, "wakeful-server: worker %u: cannot tell it to stop: %s\n",
                        w->id, wk_strerror(r));
            else
                wk_executor_unpark(w->ex);
        }
        pthread_mutex_unlock(&w->exit_lock);
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        if (w->started) {
            pthread_join(w->thread, NULL);
            w->started = 0;
        }
    }
}

void workers_free(struct server *srv)
{
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        if (w->pipe_rd >= 0)
            close(w->pipe_rd);
        if (w->pipe_wr >= 0)
            close(w->pipe_wr);
        if (w->drain_tfd >= 0)
            close(w->drain_tfd);
        if (w->scratch)
            munmap(w->scratch, WORKER_SCRATCH_SIZE);
        pthread_mutex_destroy(&w->exit_lock);
    }
    free(srv->workers);
    srv->workers = NULL;
    srv->nworkers = 0;
    sem_destroy(&startup_sem);
}

static uint64_t load(const AO_t *c)
{
    return AO_load(c);
}

void workers_report(const struct server *srv, FILE *out, int with_executor)
{
    uint64_t tot[5] = {0, 0, 0, 0, 0};
    uint64_t cancelled = 0;

    flockfile(out);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        const struct worker *w = &srv->workers[i];
        const struct worker_counters *k = &w->counters;
        uint64_t v[5] = {load(&k->connections), load(&k->replies), load(&k->bad_frames),
                         load(&k->timeouts), load(&k->resets)};
        for (int j = 0; j < 5; j++)
            tot[j] += v[j];
        fprintf(out,
                "worker %u: connections %llu, replies %llu, bad frames %llu, timeouts %llu, "
                "resets %llu",
                w->id, (unsigned long long)v[0], (unsigned long long)v[1],
                (unsigned long long)v[2], (unsigned long long)v[3], (unsigned long long)v[4]);
        if (with_executor && w->ex != NULL) {
            wk_executor_stats st;
            wk_executor_get_stats(w->ex, &st);
            fprintf(out,
                    "; executor: spawned %llu, completed %llu, cancelled %llu, polls %llu, "
                    "wakes %llu local + %llu remote, parks %llu, epoll waits %llu, "
                    "busy %.3f ms, idle %.3f ms; idle trims %llu",
                    (unsigned long long)st.spawned, (unsigned long long)st.completed,
                    (unsigned long long)st.cancelled, (unsigned long long)st.polls,
                    (unsigned long long)st.wakes_local, (unsigned long long)st.wakes_remote,
                    (unsigned long long)st.parks, (unsigned long long)st.epoll_waits,
                    (double)st.busy_ns / 1e6, (double)st.idle_ns / 1e6,
                    (unsigned long long)load(&k->idle_trims));
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

/* bench/micro.c: runtime micro-benchmarks for libwakeful, the counterpart of the peers'
 * tokio-micro (../shared/peers/tokio-rust/tokio-micro).  One benchmark per process run,
 * one `key=value` line on stdout, in tokio-micro's shape so that scripts/bench-runtime.sh
 * can put the two side by side.
 *
 *   wakeful-micro spawn    [N=1000000]  spawn N trivial tasks, then await all handles
 *   wakeful-micro pingpong [N=1000000]  2 tasks on one executor, each wakes the other
 *   wakeful-micro xthread  [N=100000]   plain thread <-> task ping-pong (waker / parker)
 *   wakeful-micro sleepers [N=100000]   N tasks in a 10 s wk_sleep: VmRSS before/after,
 *                                       then cancel them all by freeing the executor
 *
 * Every benchmark runs on one executor driven by the main thread (wk_block_on or
 * wk_executor_run), as tokio-micro uses a current_thread runtime.  Nothing here is a test:
 * a wrong result aborts with a message, but the point is the timing. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <wakeful/wakeful.h>

static void die(const char *what, int err)
{
    fprintf(stderr, "wakeful-micro: %s: %s\n", what, err ? wk_strerror(err) : "failed");
    exit(1);
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* A field of /proc/self/status in KiB ("VmRSS:", "VmHWM:"). */
static long vm_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        die("/proc/self/status", -errno);
    char line[256];
    long kb = -1;
    size_t len = strlen(field);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, len) == 0) {
            kb = strtol(line + len, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* Minor page faults of this process so far (/proc/self/stat field 10). */
static unsigned long minflt(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        die("/proc/self/stat", -errno);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        die("/proc/self/stat", 0);
    p += 2; /* field 3, the state */
    for (int i = 0; i < 7 && p; i++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return p ? strtoul(p, NULL, 10) : 0;
}

static wk_executor *new_executor(void)
{
    wk_executor *ex;
    int err = wk_executor_new(&ex);
    if (err < 0)
        die("wk_executor_new", err);
    return ex;
}

/* ---- (a) spawn: N trivial tasks, then await every handle ------------------------------- */

typedef struct trivial {
    wk_future base;
    uint64_t value;
} trivial;

static wk_poll trivial_poll(wk_future *f, wk_context *cx)
{
    (void)f;
    (void)cx;
    return WK_READY; /* the output is `value`, set at spawn */
}

typedef struct spawn_root {
    wk_future base;
    int co;
    uint64_t n, i, sum;
    wk_task **handles;
    wk_join join;
    uint64_t out;
    uint64_t t0, t_spawn, t_total;
} spawn_root;

static wk_poll spawn_root_poll(wk_future *f, wk_context *cx)
{
    spawn_root *r = (spawn_root *)f;
    WK_CO_BEGIN(r->co);
    r->t0 = wk_now_ns();
    for (r->i = 0; r->i < r->n; r->i++) {
        trivial t = {{trivial_poll, NULL}, r->i};
        int err = WK_SPAWN(cx->executor, trivial, &t, value, &r->handles[r->i]);
        if (err < 0)
            die("wk_spawn", err);
    }
    r->t_spawn = wk_now_ns() - r->t0;
    for (r->i = 0; r->i < r->n; r->i++) {
        wk_join_init(&r->join, r->handles[r->i], &r->out);
        WK_CO_AWAIT(r->co, &r->join, cx);
        if (r->join.result != 0)
            die("join", r->join.result);
        r->sum += r->out;
    }
    r->t_total = wk_now_ns() - r->t0;
    WK_CO_END(r->co);
}

static void bench_spawn(uint64_t n)
{
    wk_executor *ex = new_executor();
    spawn_root r;
    memset(&r, 0, sizeof r);
    r.base.poll = spawn_root_poll;
    r.n = n;
    r.handles = malloc(n * sizeof *r.handles);
    if (!r.handles)
        die("malloc", -ENOMEM);
    unsigned long f0 = minflt();
    int err = wk_block_on(ex, &r.base);
    if (err < 0)
        die("wk_block_on", err);
    unsigned long faults = minflt() - f0;
    if (r.sum != n * (n - 1) / 2)
        die("spawn: wrong sum", 0);
    double total = secs(r.t_total);
    printf("bench=spawn n=%" PRIu64 " tasks_per_s=%.0f total_s=%.4f spawn_phase_s=%.4f "
           "await_phase_s=%.4f ns_per_task=%.1f minor_faults=%lu\n",
           n, (double)n / total, total, secs(r.t_spawn), total - secs(r.t_spawn),
           total * 1e9 / (double)n, faults);
    free(r.handles);
    wk_executor_free(ex);
}

/* ---- (b) ping-pong between two tasks on one executor ----------------------------------
 * A one-thread "notify": a permit and one waiting waker, the shape of tokio's Notify (which
 * tokio-micro's pingpong-notify uses).  notify_one wakes the waiter or leaves a permit. */

typedef struct notify {
    int permit;
    wk_waker waiter;
} notify;

static void notify_one(notify *n)
{
    n->permit = 1;
    wk_waker_wake(&n->waiter); /* consumes the stored clone; nothing when none is stored */
}

/* Answers 1 when a permit was taken, 0 after storing the waker. */
static int notified(notify *n, wk_context *cx)
{
    if (n->permit) {
        n->permit = 0;
        return 1;
    }
    wk_waker_store(&n->waiter, cx->waker);
    return 0;
}

/* The future of notified(): READY once a permit was taken. */
typedef struct notified_future {
    wk_future base;
    notify *n;
} notified_future;

static wk_poll notified_poll(wk_future *f, wk_context *cx)
{
    return notified(((notified_future *)f)->n, cx) ? WK_READY : WK_PENDING;
}

typedef struct pingpong_shared {
    notify to_b, to_a;
    uint64_t value;
    int stop;
} pingpong_shared;

typedef struct pinger {
    wk_future base;
    int co;
    pingpong_shared *sh;
    uint64_t n, i;
    notified_future answer;
} pinger;

static wk_poll pinger_poll(wk_future *f, wk_context *cx)
{
    pinger *a = (pinger *)f;
    WK_CO_BEGIN(a->co);
    for (a->i = 0; a->i < a->n; a->i++) {
        a->sh->value = a->i;
        notify_one(&a->sh->to_b);
        a->answer.base.poll = notified_poll;
        a->answer.n = &a->sh->to_a;
        WK_CO_AWAIT(a->co, &a->answer, cx);
        if (a->sh->value != a->i + 1)
            die("pingpong: wrong value", 0);
    }
    a->sh->stop = 1;
    notify_one(&a->sh->to_b);
    WK_CO_END(a->co);
}

typedef struct ponger {
    wk_future base;
    pingpong_shared *sh;
} ponger;

static wk_poll ponger_poll(wk_future *f, wk_context *cx)
{
    ponger *b = (ponger *)f;
    while (notified(&b->sh->to_b, cx)) {
        if (b->sh->stop)
            return WK_READY;
        b->sh->value += 1;
        notify_one(&b->sh->to_a);
    }
    return WK_PENDING;
}

static void bench_pingpong(uint64_t n)
{
    wk_executor *ex = new_executor();
    pingpong_shared sh;
    memset(&sh, 0, sizeof sh);
    ponger b = {{ponger_poll, NULL}, &sh};
    pinger a;
    memset(&a, 0, sizeof a);
    a.base.poll = pinger_poll;
    a.sh = &sh;
    a.n = n;
    int err = WK_SPAWN_DETACHED(ex, ponger, &b);
    if (err == 0)
        err = WK_SPAWN_DETACHED(ex, pinger, &a);
    if (err < 0)
        die("wk_spawn", err);
    uint64_t t0 = wk_now_ns();
    err = wk_executor_run(ex);
    if (err < 0)
        die("wk_executor_run", err);
    double s = secs(wk_now_ns() - t0);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    printf("bench=pingpong n=%" PRIu64 " round_trips_per_s=%.0f total_s=%.4f "
           "ns_per_round_trip=%.1f polls=%" PRIu64 "\n",
           n, (double)n / s, s, s * 1e9 / (double)n, st.polls);
    wk_waker_drop(&sh.to_a.waiter);
    wk_waker_drop(&sh.to_b.waiter);
    wk_executor_free(ex);
}

/* ---- (c) cross-thread: a plain thread wakes a task, the task unparks the thread --------- */

/* A futex parker with Tokio's protocol (EMPTY / PARKED / NOTIFIED): an unpark that comes
 * before the park is remembered, so none is lost. */
enum { P_EMPTY, P_PARKED, P_NOTIFIED };
typedef struct parker {
    _Atomic int state;
} parker;

static void futex_wait(_Atomic int *addr, int val)
{
    syscall(SYS_futex, (int *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic int *addr)
{
    syscall(SYS_futex, (int *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void park(parker *p)
{
    int expected = P_NOTIFIED;
    if (atomic_compare_exchange_strong(&p->state, &expected, P_EMPTY))
        return;
    expected = P_EMPTY;
    if (!atomic_compare_exchange_strong(&p->state, &expected, P_PARKED)) {
        atomic_store(&p->state, P_EMPTY); /* it was NOTIFIED in between */
        return;
    }
    for (;;) {
        futex_wait(&p->state, P_PARKED);
        expected = P_NOTIFIED;
        if (atomic_compare_exchange_strong(&p->state, &expected, P_EMPTY))
            return;
        /* spurious wake-up: still PARKED */
    }
}

static void unpark(parker *p)
{
    if (atomic_exchange(&p->state, P_NOTIFIED) == P_PARKED)
        futex_wake(&p->state);
}

/* The task side: a cross-thread notify.  The task stores its waker once (before it first
 * announces WAITING); the thread swaps in NOTIFIED and wakes that waker if the task was
 * waiting. */
enum { N_EMPTY, N_WAITING, N_NOTIFIED };
typedef struct xthread_shared {
    _Atomic int nstate;
    wk_waker task_waker; /* written by the task before its first N_WAITING */
    _Atomic uint64_t value;
    parker thread_parker;
    uint64_t n;
    uint64_t *rtts;
} xthread_shared;

typedef struct xtask {
    wk_future base;
    xthread_shared *sh;
    int have_waker;
} xtask;

static wk_poll xtask_poll(wk_future *f, wk_context *cx)
{
    xtask *t = (xtask *)f;
    xthread_shared *sh = t->sh;
    if (!t->have_waker) {
        sh->task_waker = wk_waker_clone(cx->waker);
        t->have_waker = 1;
    }
    for (;;) {
        int expected = N_NOTIFIED;
        if (!atomic_compare_exchange_strong(&sh->nstate, &expected, N_EMPTY)) {
            if (expected == N_EMPTY &&
                atomic_compare_exchange_strong(&sh->nstate, &expected, N_WAITING))
                return WK_PENDING;
            if (expected == N_WAITING)
                return WK_PENDING; /* polled without a notify: still waiting */
            continue;              /* NOTIFIED arrived in between */
        }
        uint64_t v = atomic_load(&sh->value);
        if (v == UINT64_MAX)
            return WK_READY; /* main drops task_waker once the thread has ended */
        atomic_store(&sh->value, v + 1);
        unpark(&sh->thread_parker);
    }
}

static void xthread_notify(xthread_shared *sh)
{
    if (atomic_exchange(&sh->nstate, N_NOTIFIED) == N_WAITING)
        wk_waker_wake_by_ref(&sh->task_waker);
}

static void *xthread_pinger(void *arg)
{
    xthread_shared *sh = arg;
    for (uint64_t i = 0; i < sh->n; i++) {
        uint64_t v = 2 * i; /* the task answers v + 1 */
        uint64_t t0 = wk_now_ns();
        atomic_store(&sh->value, v);
        xthread_notify(sh);
        while (atomic_load(&sh->value) != v + 1)
            park(&sh->thread_parker);
        sh->rtts[i] = wk_now_ns() - t0;
    }
    atomic_store(&sh->value, UINT64_MAX);
    xthread_notify(sh);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void bench_xthread(uint64_t n)
{
    wk_executor *ex = new_executor();
    xthread_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.n = n;
    sh.rtts = malloc(n * sizeof *sh.rtts);
    if (!sh.rtts)
        die("malloc", -ENOMEM);
    xtask t = {{xtask_poll, NULL}, &sh, 0};
    int err = WK_SPAWN_DETACHED(ex, xtask, &t);
    if (err < 0)
        die("wk_spawn", err);
    pthread_t thread;
    if (pthread_create(&thread, NULL, xthread_pinger, &sh) != 0)
        die("pthread_create", 0);
    err = wk_executor_run(ex);
    if (err < 0)
        die("wk_executor_run", err);
    pthread_join(thread, NULL);
    wk_waker_drop(&sh.task_waker);
    qsort(sh.rtts, n, sizeof *sh.rtts, cmp_u64);
    double mean = 0;
    for (uint64_t i = 0; i < n; i++)
        mean += (double)sh.rtts[i];
    mean /= (double)n * 1000.0;
#define PCT(p) ((double)sh.rtts[(size_t)(((p) / 100.0 * (double)n) + 0.999999) - 1] / 1000.0)
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    printf("bench=xthread n=%" PRIu64 " p50_us=%.2f p10_us=%.2f p90_us=%.2f p99_us=%.2f "
           "min_us=%.2f mean_us=%.2f wakes_remote=%" PRIu64 " epoll_waits=%" PRIu64 "\n",
           n, PCT(50.0), PCT(10.0), PCT(90.0), PCT(99.0), (double)sh.rtts[0] / 1000.0, mean,
           st.wakes_remote, st.epoll_waits);
#undef PCT
    free(sh.rtts);
    wk_executor_free(ex);
}

/* ---- (d) sleepers: N tasks each in a 10 s wk_sleep ------------------------------------- */

static uint64_t started;

typedef struct sleeper {
    wk_future base;
    int co;
    wk_sleep sleep;
} sleeper;

static wk_poll sleeper_poll(wk_future *f, wk_context *cx)
{
    sleeper *s = (sleeper *)f;
    WK_CO_BEGIN(s->co);
    started++;
    wk_sleep_init(&s->sleep, 10 * WK_NSEC_PER_SEC);
    WK_CO_AWAIT(s->co, &s->sleep, cx);
    WK_CO_END(s->co);
}

static void sleeper_drop(wk_future *f)
{
    sleeper *s = (sleeper *)f;
    wk_future_drop(&s->sleep.base);
}

static void bench_sleepers(uint64_t n)
{
    wk_executor *ex = new_executor();
    wk_task **handles = malloc(n * sizeof *handles);
    if (!handles)
        die("malloc", -ENOMEM);
    /* Like tokio-micro's Vec::with_capacity, the handle array is untouched until filled, so
     * its 8 bytes per task count in the figure, as they do in tokio's. */
    wk_executor_turn(ex, 0); /* settle: first pass of the loop */
    long rss0 = vm_kb("VmRSS:");
    uint64_t t0 = wk_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        sleeper s;
        memset(&s, 0, sizeof s);
        s.base.poll = sleeper_poll;
        s.base.drop = sleeper_drop;
        int err = WK_SPAWN(ex, sleeper, &s, co, &handles[i]);
        if (err < 0)
            die("wk_spawn", err);
    }
    /* Each task is polled once (which arms its timer) before it counts. */
    while (started < n) {
        int r = wk_executor_turn(ex, 0);
        if (r < 0)
            die("wk_executor_turn", r);
    }
    double t_spawn = secs(wk_now_ns() - t0);
    long rss1 = vm_kb("VmRSS:");
    uint64_t t1 = wk_now_ns();
    wk_executor_free(ex); /* cancels every task: each future is dropped, its timer disarmed */
    uint64_t cancelled = 0;
    for (uint64_t i = 0; i < n; i++)
        if (wk_join_try(handles[i], NULL) == -ECANCELED)
            cancelled++;
    double t_cancel = secs(wk_now_ns() - t1);
    free(handles);
    long rss2 = vm_kb("VmRSS:");
    if (cancelled != n)
        die("sleepers: not every task was cancelled", 0);
    printf("bench=sleepers n=%" PRIu64 " rss_before_kb=%ld rss_sleeping_kb=%ld "
           "rss_after_abort_kb=%ld bytes_per_task=%.1f future_bytes=%zu "
           "spawn_and_poll_s=%.4f abort_and_join_s=%.4f hwm_kb=%ld\n",
           n, rss0, rss1, rss2, (double)(rss1 - rss0) * 1024.0 / (double)n, sizeof(sleeper),
           t_spawn, t_cancel, vm_kb("VmHWM:"));
}

static void usage(void)
{
    fprintf(stderr, "usage: wakeful-micro spawn|pingpong|xthread|sleepers [N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        usage();
    uint64_t n = 0;
    if (argc == 3) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(argv[2], &end, 10);
        if (errno || *end || v == 0)
            usage();
        n = v;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[1], "spawn") == 0)
        bench_spawn(n ? n : 1000000);
    else if (strcmp(argv[1], "pingpong") == 0)
        bench_pingpong(n ? n : 1000000);
    else if (strcmp(argv[1], "xthread") == 0)
        bench_xthread(n ? n : 100000);
    else if (strcmp(argv[1], "sleepers") == 0)
        bench_sleepers(n ? n : 100000);
    else
        usage();
    return 0;
}

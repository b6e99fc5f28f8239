/* runtime/executor.c: tasks, the run queues, waking, and the loop (poll, wait, park).
 * Waiting for I/O is the reactor's (reactor.h); this file decides when and how long.
 * The shape of one pass is in executor.h (wk_executor_turn); the two delicate spots, a
 * task woken while it runs and a thread that parks while work arrives, are explained where
 * they are handled (and in docs/design.md#wake-while-running and #park). */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <wakeful/clock.h>

/* The executor this thread is driving: a wake on this thread for a task of that executor
 * goes straight onto its local queue; any other wake takes the cross-thread path. */
static _Thread_local wk_executor *current_executor;

wk_executor *wk__current_executor(void)
{
    return current_executor;
}

/* ---- the task waker ------------------------------------------------------------------- */

static const wk_waker_vtable task_waker_vtable;

static void task_ref(wk_task *t)
{
    AO_fetch_and_add(&t->state, WK__REF_ONE);
}

void wk__task_unref(wk_task *t)
{
    AO_t old = AO_fetch_and_add_full(&t->state, (AO_t)0 - WK__REF_ONE);
    if ((old >> WK__REF_SHIFT) == 1) {
        /* Last reference: the future was dropped when the task completed or was cancelled,
         * and the join waker was consumed then. */
        free(t);
    }
}

static wk_waker task_waker_clone(const void *data)
{
    task_ref((wk_task *)data);
    wk_waker w = {data, &task_waker_vtable};
    return w;
}

static void task_waker_wake_by_ref(const void *data)
{
    wk__task_schedule((wk_task *)data);
}

static void task_waker_wake(const void *data)
{
    wk__task_schedule((wk_task *)data);
    wk__task_unref((wk_task *)data);
}

static void task_waker_drop(const void *data)
{
    wk__task_unref((wk_task *)data);
}

static const wk_waker_vtable task_waker_vtable = {
    task_waker_clone, task_waker_wake, task_waker_wake_by_ref, task_waker_drop,
};

/* ---- queues ----------------------------------------------------------------------------- */

static void run_queue_push(wk_executor *ex, wk_task *t)
{
    t->next = NULL;
    if (ex->run_tail)
        ex->run_tail->next = t;
    else
        ex->run_head = t;
    ex->run_tail = t;
}

static wk_task *run_queue_pop(wk_executor *ex)
{
    wk_task *t = ex->run_head;
    if (t) {
        ex->run_head = t->next;
        if (!ex->run_head)
            ex->run_tail = NULL;
    }
    return t;
}

/* Moves every task woken from other threads onto the local queue, oldest first.  The
 * remote queue is a lock-free stack: pushers CAS the head, the executor swaps it out. */
static void take_remote(wk_executor *ex)
{
    if (AO_load(&ex->remote_head) == 0)
        return;
    AO_t head;
    do {
        head = AO_load_acquire(&ex->remote_head);
    } while (!AO_compare_and_swap_full(&ex->remote_head, head, 0));
    wk_task *reversed = NULL;
    for (wk_task *t = (wk_task *)head; t;) {
        wk_task *next = t->next;
        t->next = reversed;
        reversed = t;
        t = next;
    }
    while (reversed) {
        wk_task *next = reversed->next;
        run_queue_push(ex, reversed);
        reversed = next;
    }
}

void wk__executor_notify(wk_executor *ex)
{
    AO_t s = AO_load_full(&ex->sleep_state);
    if (s == WK__WAITING) {
        if (AO_compare_and_swap_full(&ex->sleep_state, WK__WAITING, WK__AWAKE))
            wk__reactor_notify(ex->reactor);
    } else if (s == WK__PARKED) {
        wk_executor_unpark(ex);
    }
}

void wk__task_schedule(wk_task *t)
{
    AO_t s = AO_load(&t->state);
    for (;;) {
        if (s & (WK__COMPLETE | WK__NOTIFIED))
            return; /* finished, or already queued: a task is queued once */
        AO_t seen = AO_fetch_compare_and_swap_full(&t->state, s, s | WK__NOTIFIED);
        if (seen == s)
            break;
        s = seen;
    }
    if (s & WK__RUNNING)
        return; /* the executor re-queues it when the poll returns */
    wk_executor *ex = t->ex;
    if (current_executor == ex) {
        run_queue_push(ex, t);
        wk__count(&ex->stats.wakes_local, 1);
        return;
    }
    AO_t head;
    do {
        head = AO_load(&ex->remote_head);
        t->next = (wk_task *)head;
    } while (!AO_compare_and_swap_full(&ex->remote_head, head, (AO_t)t));
    AO_fetch_and_add1(&ex->stats.wakes_remote);
    wk__executor_notify(ex);
}

/* ---- creating and freeing ---------------------------------------------------------------- */

int wk_executor_new(wk_executor **out)
{
    wk_executor *ex = calloc(1, sizeof *ex);
    if (!ex)
        return -ENOMEM;
    int err = wk__reactor_create(&ex->reactor);
    if (err < 0) {
        free(ex);
        return err;
    }
    pthread_mutex_init(&ex->park_mutex, NULL);
    pthread_cond_init(&ex->park_cond, NULL);
    ex->now = wk_now_ns();
    ex->last_switch = ex->now;
    *out = ex;
    return 0;
}

static void all_unlink(wk_executor *ex, wk_task *t)
{
    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else
        ex->all_head = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
    t->all_prev = t->all_next = NULL;
    AO_store(&ex->task_count, AO_load(&ex->task_count) - 1);
}

/* Marks a task finished, hands the output to a waiting joiner and drops the executor's
 * reference.  Runs on the executor's thread; the future has been dropped already. */
static void task_finish(wk_executor *ex, wk_task *t, AO_t extra_flags)
{
    AO_t s = AO_load(&t->state);
    for (;;) {
        AO_t next = (s | WK__COMPLETE | extra_flags) & ~(WK__RUNNING | WK__NOTIFIED);
        AO_t seen = AO_fetch_compare_and_swap_full(&t->state, s, next);
        if (seen == s)
            break;
        s = seen;
    }
    all_unlink(ex, t);
    if (s & WK__JOIN_WAKER) {
        /* The joiner published its waker before we completed: it is ours to consume. */
        wk_waker_wake(&t->join_waker);
    }
    wk__task_unref(t);
}

void wk_executor_free(wk_executor *ex)
{
    if (!ex)
        return;
    wk_executor *prev = current_executor;
    current_executor = ex;
    /* Dropping a future may wake or free other tasks; take the head each time. */
    while (ex->all_head) {
        wk_task *t = ex->all_head;
        task_ref(t);
        wk_future_drop(wk__task_future(t));
        if (!(AO_load(&t->state) & WK__COMPLETE)) {
            task_finish(ex, t, WK__CANCELLED);
            wk__count(&ex->stats.cancelled, 1);
        }
        wk__task_unref(t);
    }
    current_executor = prev;
    wk__reactor_free(ex->reactor);
    pthread_cond_destroy(&ex->park_cond);
    pthread_mutex_destroy(&ex->park_mutex);
    free(ex);
}

/* ---- spawning ----------------------------------------------------------------------------- */

int wk_spawn(wk_executor *ex, const wk_future *future, size_t future_size, size_t output_offset,
             size_t output_size, wk_task **handle)
{
    if (output_offset + output_size > future_size || future_size < sizeof(wk_future) ||
        future_size > UINT32_MAX)
        return -EINVAL;
    wk_task *t = malloc(WK__TASK_FUTURE_OFFSET + future_size);
    if (!t)
        return -ENOMEM;
    AO_t refs = handle ? 2 : 1;
    t->state = refs * WK__REF_ONE | WK__NOTIFIED;
    t->ex = ex;
    t->join_waker.data = NULL;
    t->join_waker.vtable = NULL;
    t->output_offset = (uint32_t)output_offset;
    t->output_size = (uint32_t)output_size;
    memcpy(wk__task_future(t), future, future_size);

    t->all_prev = NULL;
    t->all_next = ex->all_head;
    if (ex->all_head)
        ex->all_head->all_prev = t;
    ex->all_head = t;
    AO_store(&ex->task_count, AO_load(&ex->task_count) + 1);
    wk__count(&ex->stats.spawned, 1);
    run_queue_push(ex, t);
    if (handle)
        *handle = t;
    return 0;
}

/* ---- polling ------------------------------------------------------------------------------ */

static void poll_task(wk_executor *ex, wk_task *t)
{
    /* NOTIFIED off, RUNNING on: a wake from now on is remembered, not queued. */
    AO_t s = AO_load(&t->state);
    for (;;) {
        AO_t seen =
            AO_fetch_compare_and_swap_full(&t->state, s, (s & ~WK__NOTIFIED) | WK__RUNNING);
        if (seen == s)
            break;
        s = seen;
    }
    wk_future *f = wk__task_future(t);
    if (s & WK__CANCELLED) {
        /* Aborted (wk_task_abort): drop the future instead of polling it.  This is the
         * task's next poll point, on its own thread, so nothing it holds is in use. */
        wk_future_drop(f);
        wk__count(&ex->stats.cancelled, 1);
        task_finish(ex, t, 0);
        return;
    }
    wk_waker waker = {t, &task_waker_vtable};
    wk_context cx = {&waker, ex};
    wk__count(&ex->stats.polls, 1);
    if (f->poll(f, &cx) == WK_READY) {
        wk_future_drop(f);
        wk__count(&ex->stats.completed, 1);
        task_finish(ex, t, 0);
        return;
    }
    s = AO_load(&t->state);
    for (;;) {
        AO_t seen = AO_fetch_compare_and_swap_full(&t->state, s, s & ~WK__RUNNING);
        if (seen == s)
            break;
        s = seen;
    }
    if (s & WK__NOTIFIED)
        run_queue_push(ex, t); /* woken during its own poll: back of the queue, once */
}

/* Polls up to budget ready tasks; returns how many it polled. */
static int run_ready(wk_executor *ex, int budget)
{
    int polled = 0;
    while (polled < budget) {
        wk_task *t = run_queue_pop(ex);
        if (!t)
            break;
        poll_task(ex, t);
        polled++;
    }
    return polled;
}

/* ---- waiting --------------------------------------------------------------------------- */

static void account(wk_executor *ex, AO_t *bucket)
{
    uint64_t now = wk_now_ns();
    wk__count(bucket, now - ex->last_switch);
    ex->last_switch = now;
    ex->now = now;
}

/* Waits in the reactor for at most timeout_ms (-1: no limit) and dispatches what it
 * reports.  Returns WK_TURN_WAKEUP_FD or 0, or -errno. */
static int reactor_wait(wk_executor *ex, int timeout_ms)
{
    if (timeout_ms != 0)
        account(ex, &ex->stats.busy_ns);
    wk__count(&ex->stats.epoll_waits, 1);
    int n = wk__reactor_wait(ex->reactor, ex->fired, timeout_ms);
    if (timeout_ms != 0)
        account(ex, &ex->stats.idle_ns);
    else
        ex->now = wk_now_ns();
    if (n < 0)
        return n;
    int result = 0;
    for (int i = 0; i < n; i++) {
        void *p = ex->fired[i].tag;
        if (p == &ex->wakeup_tag)
            result |= WK_TURN_WAKEUP_FD;
        else
            wk__io_ready(p, ex->fired[i].events);
    }
    return result;
}

/* The wait's timeout for the nearest timer, rounded up so that no timer fires early. */
static int timeout_for(wk_executor *ex)
{
    uint64_t next = wk__timers_next(ex);
    if (next == WK_DEADLINE_NEVER)
        return -1;
    if (next <= ex->now)
        return 0;
    uint64_t ms = (next - ex->now + WK_NSEC_PER_MSEC - 1) / WK_NSEC_PER_MSEC;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int has_ready_work(wk_executor *ex)
{
    return ex->run_head != NULL || AO_load(&ex->remote_head) != 0 ||
           (ex->in_block_on && AO_load(&ex->root_notified) != 0);
}

/* Waits until I/O, the nearest timer, or a wake from another thread. */
static int wait_for_work(wk_executor *ex)
{
    /* Announce the wait before the last look at the remote queue: a waker on another
     * thread pushes first and reads sleep_state second, so one of us sees the other. */
    AO_store_full(&ex->sleep_state, WK__WAITING);
    int timeout = has_ready_work(ex) ? 0 : timeout_for(ex);
    int r = reactor_wait(ex, timeout);
    AO_store_full(&ex->sleep_state, WK__AWAKE);
    return r;
}

/* Parks the thread until wk_executor_unpark.  The flag goes up first, with a full barrier;
 * then one last look at every source (the remote queue, and a non-blocking reactor wait, which
 * covers the wake-up descriptors such as a dispatch pipe).  Whoever hands this executor work
 * does the mirror image: hand over first, read the flag second.  So either we see the work
 * or they see the flag, and a connection is never left waiting beside a parked thread. */
static int park(wk_executor *ex)
{
    if (ex->park_hook) {
        ex->park_hook(ex->park_hook_arg);
        if (has_ready_work(ex))
            return 0; /* the hook spawned or woke something */
    }
    AO_store_full(&ex->sleep_state, WK__PARKED);
    int r = has_ready_work(ex) ? 0 : reactor_wait(ex, 0);
    if (r != 0 || has_ready_work(ex)) {
        /* Work came: lower the flag ourselves, unless an unparker already did. */
        AO_compare_and_swap_full(&ex->sleep_state, WK__PARKED, WK__AWAKE);
        return r;
    }
    account(ex, &ex->stats.busy_ns);
    wk__count(&ex->stats.parks, 1); /* counted on the way in: a parked thread shows it */
    pthread_mutex_lock(&ex->park_mutex);
    while (AO_load_full(&ex->sleep_state) == WK__PARKED)
        pthread_cond_wait(&ex->park_cond, &ex->park_mutex);
    pthread_mutex_unlock(&ex->park_mutex);
    account(ex, &ex->stats.idle_ns);
    return WK_TURN_UNPARKED;
}

void wk_executor_on_park(wk_executor *ex, wk_park_hook_fn fn, void *arg)
{
    ex->park_hook = fn;
    ex->park_hook_arg = arg;
}

int wk_executor_unpark(wk_executor *ex)
{
    if (AO_load_full(&ex->sleep_state) != WK__PARKED)
        return 0;
    if (!AO_compare_and_swap_full(&ex->sleep_state, WK__PARKED, WK__AWAKE))
        return 0;
    /* Taking the lock closes the gap between the parker's last check of the flag and its
     * cond_wait: we cannot signal in between. */
    pthread_mutex_lock(&ex->park_mutex);
    pthread_cond_signal(&ex->park_cond);
    pthread_mutex_unlock(&ex->park_mutex);
    return 1;
}

/* Waiting makes sense only while something could end the wait: a task, a timer, a wake-up
 * descriptor, or block_on's own future (which may wait on I/O without being a task). */
#define TURN_ROOT 0x100

static int can_be_woken(const wk_executor *ex, int flags)
{
    return (flags & TURN_ROOT) || AO_load(&ex->task_count) > 0 || ex->timers.count > 0 ||
           ex->wakeup_fds > 0;
}

static int turn(wk_executor *ex, int flags)
{
    ex->now = wk_now_ns();
    take_remote(ex);
    run_ready(ex, WK_POLL_BUDGET);
    take_remote(ex);
    int r;
    if (has_ready_work(ex)) {
        r = reactor_wait(ex, 0); /* collect I/O so busy tasks cannot starve it */
    } else if ((flags & WK_TURN_PARK) && AO_load(&ex->task_count) == 0 &&
               ex->timers.count == 0) {
        r = park(ex);
    } else if ((flags & WK_TURN_WAIT) && can_be_woken(ex, flags)) {
        r = wait_for_work(ex);
    } else {
        r = reactor_wait(ex, 0);
    }
    wk__timers_fire(ex);
    return r;
}

int wk_executor_turn(wk_executor *ex, int flags)
{
    wk_executor *prev = current_executor;
    current_executor = ex;
    int r = turn(ex, flags);
    current_executor = prev;
    return r;
}

int wk_executor_run_one(wk_executor *ex)
{
    wk_executor *prev = current_executor;
    current_executor = ex;
    ex->now = wk_now_ns();
    take_remote(ex);
    if (!ex->run_head) {
        reactor_wait(ex, 0);
        wk__timers_fire(ex);
    }
    int polled = run_ready(ex, 1);
    current_executor = prev;
    return polled;
}

int wk_executor_run(wk_executor *ex)
{
    wk_executor *prev = current_executor;
    current_executor = ex;
    int r = 0;
    while (AO_load(&ex->task_count) > 0) {
        r = turn(ex, WK_TURN_WAIT);
        if (r < 0)
            break;
        r = 0;
    }
    current_executor = prev;
    return r;
}

/* block_on's waker: the root future is not a task; waking it raises a flag. */
static wk_waker root_waker_clone(const void *data);

static void root_waker_wake(const void *data)
{
    wk_executor *ex = (wk_executor *)data;
    AO_store_full(&ex->root_notified, 1);
    if (current_executor != ex)
        wk__executor_notify(ex);
}

static void root_waker_drop(const void *data)
{
    (void)data;
}

static const wk_waker_vtable root_waker_vtable = {
    root_waker_clone, root_waker_wake, root_waker_wake, root_waker_drop,
};

static wk_waker root_waker_clone(const void *data)
{
    wk_waker w = {data, &root_waker_vtable};
    return w;
}

int wk_block_on(wk_executor *ex, wk_future *f)
{
    wk_executor *prev = current_executor;
    current_executor = ex;
    wk_waker waker = {ex, &root_waker_vtable};
    wk_context cx = {&waker, ex};
    int r = 0;
    ex->in_block_on = 1;
    AO_store(&ex->root_notified, 1);
    for (;;) {
        if (AO_load_full(&ex->root_notified)) {
            AO_store_full(&ex->root_notified, 0);
            ex->now = wk_now_ns();
            if (f->poll(f, &cx) == WK_READY)
                break;
        }
        r = turn(ex, WK_TURN_WAIT | TURN_ROOT);
        if (r < 0)
            break;
        r = 0;
    }
    /* A wake of the root that arrives later (a waker it left behind) must not look like
     * ready work to the loops that follow: only block_on reads the flag. */
    ex->in_block_on = 0;
    AO_store_full(&ex->root_notified, 0);
    current_executor = prev;
    return r;
}

int wk_executor_add_wakeup_fd(wk_executor *ex, int fd)
{
    int err = wk__reactor_arm(ex->reactor, fd, WK__REACTOR_READ, &ex->wakeup_tag);
    if (err < 0)
        return err;
    ex->wakeup_fds++;
    return 0;
}

size_t wk_executor_task_count(const wk_executor *ex)
{
    return (size_t)AO_load(&ex->task_count);
}

uint64_t wk_executor_now(const wk_executor *ex)
{
    return ex->now;
}

void wk_executor_get_stats(const wk_executor *ex, wk_executor_stats *out)
{
    out->spawned = AO_load(&ex->stats.spawned);
    out->completed = AO_load(&ex->stats.completed);
    out->cancelled = AO_load(&ex->stats.cancelled);
    out->polls = AO_load(&ex->stats.polls);
    out->wakes_local = AO_load(&ex->stats.wakes_local);
    out->wakes_remote = AO_load(&ex->stats.wakes_remote);
    out->parks = AO_load(&ex->stats.parks);
    out->epoll_waits = AO_load(&ex->stats.epoll_waits);
    out->busy_ns = AO_load(&ex->stats.busy_ns);
    out->idle_ns = AO_load(&ex->stats.idle_ns);
}

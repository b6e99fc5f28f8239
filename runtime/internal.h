/* runtime/internal.h: what the runtime's own files share.  Not installed, not for users. */
#ifndef WAKEFUL_INTERNAL_H
#define WAKEFUL_INTERNAL_H

#include <atomic_ops.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include <wakeful/executor.h>
#include "heap.h"
#include "reactor.h"
#include <wakeful/io.h>
#include <wakeful/timer.h>

/* ---- the task ----------------------------------------------------------------------------
 * One allocation: this header, then the future (at WK__TASK_FUTURE_OFFSET).  The state word
 * holds flags in its low bits and the reference count above them, as in async-task and
 * Tokio, so that one compare-and-swap sees both.
 *
 *   NOTIFIED    the task is queued to run, or will be queued when its current poll ends;
 *               a wake that finds it set does nothing (a task is queued once);
 *   RUNNING     the executor is polling it: a wake only sets NOTIFIED and the executor
 *               re-queues the task after poll returns PENDING;
 *   COMPLETE    the future answered READY (or was cancelled): later wakes are harmless;
 *   CANCELLED   the executor was freed before the task completed, or wk_task_abort asked
 *               for it before it completed: its next poll drops the future instead;
 *   JOIN_WAKER  the joiner stored join_waker; whoever completes the task consumes it.
 * References: one for the executor until the task completes, one for the join handle until
 * it is released, one per waker clone.  The task is freed when the count reaches zero. */
#define WK__NOTIFIED ((AO_t)0x01)
#define WK__RUNNING ((AO_t)0x02)
#define WK__COMPLETE ((AO_t)0x04)
#define WK__CANCELLED ((AO_t)0x08)
#define WK__JOIN_WAKER ((AO_t)0x10)
#define WK__REF_SHIFT 6
#define WK__REF_ONE ((AO_t)1 << WK__REF_SHIFT)

struct wk_task {
    AO_t state;
    struct wk_executor *ex;
    struct wk_task *next;      /* the local run queue, or the remote stack: never both */
    struct wk_task *all_prev;  /* the executor's list of unfinished tasks */
    struct wk_task *all_next;
    wk_waker join_waker;       /* valid while JOIN_WAKER is set */
    uint32_t output_offset;
    uint32_t output_size;
};

#define WK__TASK_FUTURE_OFFSET                                                           \
    ((sizeof(struct wk_task) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

static inline wk_future *wk__task_future(wk_task *t)
{
    return (wk_future *)((unsigned char *)t + WK__TASK_FUTURE_OFFSET);
}

void wk__task_unref(wk_task *t);

/* ---- the executor ----------------------------------------------------------------------- */

/* What the executor's thread is doing, for whoever wants to wake it (sleep_state). */
#define WK__AWAKE 0
#define WK__WAITING 1 /* in the reactor's wait: wake it with wk__reactor_notify */
#define WK__PARKED 2  /* on the condition variable: the book's parked flag */

struct wk_executor {
    wk__reactor *reactor;           /* the poller and its wake-up channel (reactor.h) */

    wk_task *run_head;              /* local run queue: ready tasks, FIFO */
    wk_task *run_tail;
    wk_task *all_head;              /* unfinished tasks, for cancellation */
    AO_t task_count;

    AO_t remote_head;               /* wk_task *: tasks woken from other threads (a stack) */
    AO_t root_notified;             /* block_on's future was woken */
    int in_block_on;                /* block_on is running: root_notified means work */
    AO_t sleep_state;               /* WK__AWAKE / WK__WAITING / WK__PARKED */
    pthread_mutex_t park_mutex;
    pthread_cond_t park_cond;

    wk_heap timers;
    uint64_t timer_seq;
    uint64_t now;                   /* cached CLOCK_MONOTONIC ns */
    uint64_t last_switch;           /* when busy/idle accounting last changed state */

    int wakeup_fds;                 /* descriptors added with wk_executor_add_wakeup_fd */
    void (*park_hook)(void *);      /* wk_executor_on_park */
    void *park_hook_arg;

    /* The reactor tag of the wake-up descriptors; every other tag is a wk_io. */
    char wakeup_tag;

    struct {
        AO_t spawned, completed, cancelled, polls, wakes_local, wakes_remote, parks,
            epoll_waits, busy_ns, idle_ns;
    } stats;

    wk__reactor_event fired[WK__REACTOR_EVENTS]; /* what the last reactor wait reported */
};

/* Queues a woken task (from any thread). */
void wk__task_schedule(wk_task *t);

/* Wakes the executor's thread if it sleeps (from any thread). */
void wk__executor_notify(wk_executor *ex);

/* The executor this thread is driving, or NULL. */
wk_executor *wk__current_executor(void);

/* Timers: fire those due at ex->now; the nearest deadline (or WK_DEADLINE_NEVER). */
void wk__timers_fire(wk_executor *ex);
uint64_t wk__timers_next(const wk_executor *ex);

/* Called by the executor for a wk_io that the reactor reported; events holds
 * WK__REACTOR_READ and/or WK__REACTOR_WRITE. */
void wk__io_ready(wk_io *io, uint32_t events);

/* A single-writer counter, readable from other threads without a data race. */
static inline void wk__count(AO_t *c, AO_t n)
{
    AO_store(c, AO_load(c) + n);
}

#endif

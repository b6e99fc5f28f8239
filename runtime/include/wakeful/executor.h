/* wakeful/executor.h: the executor, one per thread, and its join handles.
 *
 * An executor owns tasks.  A task is one allocation holding a small header and a copy of
 * the future it runs; it stays on the executor that spawned it.  The executor polls a task
 * only when something woke it (its waker is a counted reference to the task), and when no
 * task is ready it waits in epoll until I/O, the nearest timer or a wake from another
 * thread, or, when it holds no task at all, parks its thread on a condition variable.
 *
 * Threads: an executor is driven by one thread at a time, the one inside one of the run
 * functions below; spawn and the run functions are for that thread (or any thread while
 * nobody drives it).  Wakers, wk_executor_unpark, wk_executor_get_stats, wk_task_abort
 * and the blocking join work from any thread.
 *
 * Errors are negative errno values (see errors.h). */
#ifndef WAKEFUL_EXECUTOR_H
#define WAKEFUL_EXECUTOR_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "future.h"

WK_BEGIN_DECLS

typedef struct wk_executor wk_executor;
typedef struct wk_task wk_task;

/* The most ready tasks polled in one pass before I/O and timers are looked at again, so
 * that busy tasks cannot starve wake-ups that come from the reactor. */
#define WK_POLL_BUDGET 128

/* Creates an executor (its epoll instance, its eventfd).  Returns 0 or -errno. */
WK_API int wk_executor_new(wk_executor **out);

/* Cancels the tasks still alive (their futures are dropped, their joiners see -ECANCELED)
 * and frees the executor.  Call from the thread that drove it, once nobody drives it. */
WK_API void wk_executor_free(wk_executor *ex);

/* ---- spawning ------------------------------------------------------------------------
 * wk_spawn copies future_size bytes of *future into a new task (one allocation), so the
 * future must not have been polled yet (it may hold no pointers into itself).  The task's
 * output is the output_size bytes at output_offset in the future; a join handle copies them
 * out.  handle may be NULL: the task is then detached from the start.
 * Returns 0 or -ENOMEM (the future is then untouched: drop it yourself). */
WK_API int wk_spawn(wk_executor *ex, const wk_future *future, size_t future_size,
                    size_t output_offset, size_t output_size, wk_task **handle);

/* WK_SPAWN(ex, struct my_future, &fut, result, &handle): spawns fut, whose output is the
 * field `result`. */
#define WK_SPAWN(ex, type, future_ptr, output_field, handle_ptr)                         \
    wk_spawn((ex), &(future_ptr)->base, sizeof(type), offsetof(type, output_field),      \
             sizeof(((type *)0)->output_field), (handle_ptr))

/* A spawned future with no output. */
#define WK_SPAWN_DETACHED(ex, type, future_ptr)                                          \
    wk_spawn((ex), &(future_ptr)->base, sizeof(type), 0, 0, NULL)

/* ---- join handles --------------------------------------------------------------------
 * A handle (the wk_task * that wk_spawn gave) is used by one joiner, and released by
 * exactly one of: wk_join_blocking, a completed wk_join future, wk_join_try, or
 * wk_task_detach. */

/* Waits, blocking this thread, until the task finished, copies its output to out (unless
 * out is NULL) and releases the handle.  Never call it on the thread that drives the
 * task's executor (it would wait for itself).  Returns 0, or -ECANCELED when the task was
 * aborted (wk_task_abort) or the executor was freed before the task completed. */
WK_API int wk_join_blocking(wk_task *handle, void *out);

/* Non-blocking: when the task has finished, copies its output, releases the handle and
 * returns 0 (or -ECANCELED); otherwise returns -EAGAIN and keeps the handle. */
WK_API int wk_join_try(wk_task *handle, void *out);

/* Releases the handle; the task runs on and its output is discarded. */
WK_API void wk_task_detach(wk_task *handle);

/* Cancels the task, from any thread (like a waker): marks it cancelled and wakes it; at its
 * next poll point its executor drops its future instead of polling it (the drop closes what
 * it holds: descriptors, timers, child tasks' joins), and the task finishes as cancelled.
 * It does not interrupt a poll in progress: a task running now is dropped right after.
 * Returns 0 when the request came before the task finished: its join (wk_join_blocking,
 * wk_join_try, the wk_join future) then reports -ECANCELED, even if the poll running now
 * answers READY (its output is discarded).  Returns -EALREADY when the task had finished
 * already (its join reports its output as usual) or was aborted already.
 * The handle is not consumed (as with Tokio's JoinHandle::abort): release it as usual, with
 * exactly one of the calls above or wk_task_detach.  wk_join_blocking after an abort waits
 * until the future has been dropped.  Never call it with a handle already released: to
 * abort from one thread a task that another thread joins (the join may release the handle
 * at any moment), give the aborting thread its own wk_task_abort_handle. */
WK_API int wk_task_abort(wk_task *handle);

/* A second reference to the task, for wk_task_abort only, that stays valid after the join
 * handle has been released (Tokio's AbortHandle).  Thread-safe.  Release it with
 * wk_task_detach; never join it.  Costs an atomic increment, nothing else. */
WK_API wk_task *wk_task_abort_handle(wk_task *handle);

/* The join future: awaits a handle from inside another task (on any executor).  result is
 * 0 or -ECANCELED; the output is copied to out.  The handle is released when the future
 * completes or is dropped. */
typedef struct wk_join {
    wk_future base;
    wk_task *handle;
    void *out;
    int result;
} wk_join;

WK_API void wk_join_init(wk_join *j, wk_task *handle, void *out);

/* ---- running -------------------------------------------------------------------------- */

/* Polls at most one ready task (the book's executor.poll()), after taking in wakes from
 * other threads.  Never blocks.  Returns 1 when a task was polled, 0 when none was ready. */
WK_API int wk_executor_run_one(wk_executor *ex);

/* Runs until the executor holds no task.  Returns 0 or a negative errno from epoll. */
WK_API int wk_executor_run(wk_executor *ex);

/* Polls f in place (it is not copied) until it is READY, running the executor's tasks in
 * between.  Returns 0 or a negative errno from epoll. */
WK_API int wk_block_on(wk_executor *ex, wk_future *f);

/* One pass of the loop, for drivers with their own loop (the server's workers):
 *  1. takes in wakes from other threads; polls up to WK_POLL_BUDGET ready tasks;
 *  2. if tasks are still ready, collects I/O and timers without waiting;
 *  3. else if the executor holds no task and flags has WK_TURN_PARK, parks the thread until
 *     wk_executor_unpark (after one last look at every source, so nothing is missed);
 *  4. else, with WK_TURN_WAIT, waits in epoll until I/O, the nearest timer, a wake from
 *     another thread or a wake-up descriptor; without it, only collects.
 * Returns a mask of WK_TURN_* events (WK_TURN_WAKEUP_FD: a descriptor added with
 * wk_executor_add_wakeup_fd is readable; WK_TURN_UNPARKED: the thread parked and was
 * unparked), or a negative errno from epoll. */
#define WK_TURN_WAIT 1
#define WK_TURN_PARK 2
#define WK_TURN_WAKEUP_FD 4
#define WK_TURN_UNPARKED 8
WK_API int wk_executor_turn(wk_executor *ex, int flags);

/* Puts fd (level-triggered, readable) into the executor's epoll set: while it is readable,
 * a waiting executor wakes up and wk_executor_turn reports WK_TURN_WAKEUP_FD.  The caller
 * keeps the descriptor and reads it.  Returns 0 or -errno. */
WK_API int wk_executor_add_wakeup_fd(wk_executor *ex, int fd);

/* Thread-safe: if the executor's thread is parked, clears its parked flag and signals it;
 * otherwise does nothing.  Whoever hands an executor work (a descriptor on a pipe, say)
 * calls this after handing it over.  Returns 1 when it unparked the thread. */
WK_API int wk_executor_unpark(wk_executor *ex);

/* Sets a function the executor's thread runs each time it is about to park (step 3 of
 * wk_executor_turn: no task, no timer), before it raises its parked flag: the place for
 * idle housekeeping, like Tokio's on_thread_park.  It may spawn or wake tasks; the thread
 * then does not park.  NULL removes it.  Call on the executor's thread. */
typedef void (*wk_park_hook_fn)(void *arg);
WK_API void wk_executor_on_park(wk_executor *ex, wk_park_hook_fn fn, void *arg);

/* Tasks spawned and not yet finished. */
WK_API size_t wk_executor_task_count(const wk_executor *ex);

/* The executor's monotonic clock in nanoseconds, refreshed at every pass and after every
 * wait. */
WK_API uint64_t wk_executor_now(const wk_executor *ex);

/* Counters, cheap to keep, readable from any thread (each a relaxed atomic load). */
typedef struct wk_executor_stats {
    uint64_t spawned;      /* tasks spawned */
    uint64_t completed;    /* tasks that finished (READY) */
    uint64_t cancelled;    /* tasks dropped unfinished: aborted, or the executor freed */
    uint64_t polls;        /* task polls */
    uint64_t wakes_local;  /* wakes on the executor's own thread that queued a task */
    uint64_t wakes_remote; /* wakes from other threads that queued a task */
    uint64_t parks;        /* times the thread parked */
    uint64_t epoll_waits;  /* epoll_wait calls */
    uint64_t busy_ns;      /* time spent outside epoll_wait and park */
    uint64_t idle_ns;      /* time spent inside epoll_wait and park */
} wk_executor_stats;

WK_API void wk_executor_get_stats(const wk_executor *ex, wk_executor_stats *out);

WK_END_DECLS

#endif

/* wakeful/timer.h: timers, sleep and the timeout combinator.
 *
 * Each executor keeps its timers in an intrusive min-heap ordered by deadline (then by
 * arming order): arming and disarming allocate nothing.  epoll_wait sleeps until the
 * nearest deadline, rounded up to the next millisecond so that a timer never fires early.
 * A timer that expires wakes its stored waker once and leaves the heap. */
#ifndef WAKEFUL_TIMER_H
#define WAKEFUL_TIMER_H

#include "export.h"

#include <stdint.h>

#include "future.h"

WK_BEGIN_DECLS

typedef struct wk_heap_node {
    struct wk_heap_node *left;
    struct wk_heap_node *right;
    struct wk_heap_node *parent;
} wk_heap_node;

typedef struct wk_timer {
    wk_heap_node node;       /* place in the executor's heap, while armed */
    uint64_t deadline;       /* absolute, CLOCK_MONOTONIC ns */
    uint64_t seq;            /* arming order: equal deadlines fire first-armed first */
    struct wk_executor *ex;  /* the executor whose heap holds it, NULL when not armed */
    wk_waker waker;          /* woken at the deadline */
} wk_timer;

/* Makes t an unarmed timer.  A zero-filled wk_timer is one too. */
WK_API void wk_timer_init(wk_timer *t);

/* Arms t (or re-arms it with a new deadline) to wake cx's task at deadline.  A timer
 * already armed with the same deadline only has its waker refreshed (no heap work).
 * Returns 0, or -EINVAL without an executor in cx. */
WK_API int wk_timer_arm(wk_timer *t, wk_context *cx, uint64_t deadline);

/* Takes t out of its heap and drops its waker; harmless when not armed. */
WK_API void wk_timer_disarm(wk_timer *t);

static inline int wk_timer_armed(const wk_timer *t)
{
    return t->ex != NULL;
}

/* ---- sleep: READY once the deadline has passed.  result is 0 or -EINVAL. */
typedef struct wk_sleep {
    wk_future base;
    wk_timer timer;
    uint64_t duration_ns;  /* used when the deadline is set at first poll */
    uint64_t deadline;     /* 0 until the first poll when made with wk_sleep_init */
    int result;
} wk_sleep;

/* Sleeps for duration_ns, counted from the first poll. */
WK_API void wk_sleep_init(wk_sleep *s, uint64_t duration_ns);
/* Sleeps until an absolute deadline. */
WK_API void wk_sleep_until_init(wk_sleep *s, uint64_t deadline);

/* ---- timeout: races inner against a deadline.  READY when inner is READY (timed_out 0,
 * read inner's output) or when the deadline passed first (timed_out 1; inner has been
 * dropped).  inner is borrowed: it must outlive the timeout future. */
typedef struct wk_timeout {
    wk_future base;
    wk_future *inner;
    wk_timer timer;
    uint64_t deadline;
    int timed_out;
} wk_timeout;

WK_API void wk_timeout_init(wk_timeout *t, wk_future *inner, uint64_t deadline);

WK_END_DECLS

#endif

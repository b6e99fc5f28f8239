/* runtime/timer.c: the executor's timer heap, sleep and timeout.  See timer.h. */
#include "internal.h"

#include <errno.h>

#include <wakeful/clock.h>

#define timer_of(n) ((wk_timer *)((char *)(n) - offsetof(wk_timer, node)))

static int timer_less(const wk_heap_node *a, const wk_heap_node *b)
{
    const wk_timer *ta = timer_of(a), *tb = timer_of(b);
    if (ta->deadline != tb->deadline)
        return ta->deadline < tb->deadline;
    return ta->seq < tb->seq;
}

/* Most timers fired in one pass; the rest fire on the next pass, which then does not wait
 * (their deadline is in the past), so a flood of expiries cannot hold up I/O. */
#define TIMERS_PER_PASS 4096

void wk__timers_fire(wk_executor *ex)
{
    for (int i = 0; i < TIMERS_PER_PASS && ex->timers.min; i++) {
        wk_timer *t = timer_of(ex->timers.min);
        if (t->deadline > ex->now)
            break;
        wk__heap_remove(&ex->timers, &t->node, timer_less);
        t->ex = NULL;
        wk_waker_wake(&t->waker);
    }
}

uint64_t wk__timers_next(const wk_executor *ex)
{
    return ex->timers.min ? timer_of(ex->timers.min)->deadline : WK_DEADLINE_NEVER;
}

int wk_timer_arm(wk_timer *t, wk_context *cx, uint64_t deadline)
{
    wk_executor *ex = cx->executor;
    if (!ex)
        return -EINVAL;
    if (t->ex && t->deadline != deadline)
        wk_timer_disarm(t);
    if (!t->ex) {
        t->deadline = deadline;
        t->seq = ex->timer_seq++;
        t->ex = ex;
        wk__heap_insert(&ex->timers, &t->node, timer_less);
    }
    wk_waker_store(&t->waker, cx->waker);
    return 0;
}

void wk_timer_disarm(wk_timer *t)
{
    if (t->ex) {
        wk__heap_remove(&t->ex->timers, &t->node, timer_less);
        t->ex = NULL;
    }
    wk_waker_drop(&t->waker);
}

/* ---- sleep ---- */

static wk_poll sleep_poll(wk_future *f, wk_context *cx)
{
    wk_sleep *s = (wk_sleep *)f;
    if (!cx->executor) {
        s->result = -EINVAL;
        return WK_READY;
    }
    if (s->deadline == 0) {
        /* Counted from now, read fresh: the executor's cached clock may be a little old,
         * and a deadline computed from it could end the sleep early. */
        s->deadline = wk_now_ns() + s->duration_ns;
    }
    if (cx->executor->now >= s->deadline) {
        wk_timer_disarm(&s->timer);
        s->result = 0;
        return WK_READY;
    }
    s->result = wk_timer_arm(&s->timer, cx, s->deadline);
    return s->result == 0 ? WK_PENDING : WK_READY;
}

static void sleep_drop(wk_future *f)
{
    wk_timer_disarm(&((wk_sleep *)f)->timer);
}

void wk_timer_init(wk_timer *t)
{
    t->node.left = t->node.right = t->node.parent = NULL;
    t->deadline = 0;
    t->seq = 0;
    t->ex = NULL;
    t->waker.data = NULL;
    t->waker.vtable = NULL;
}

void wk_sleep_init(wk_sleep *s, uint64_t duration_ns)
{
    s->base.poll = sleep_poll;
    s->base.drop = sleep_drop;
    wk_timer_init(&s->timer);
    s->duration_ns = duration_ns;
    s->deadline = 0;
    s->result = 0;
}

void wk_sleep_until_init(wk_sleep *s, uint64_t deadline)
{
    wk_sleep_init(s, 0);
    s->deadline = deadline ? deadline : 1;
}

/* ---- timeout ---- */

static wk_poll timeout_poll(wk_future *f, wk_context *cx)
{
    wk_timeout *t = (wk_timeout *)f;
    if (wk_future_poll(t->inner, cx) == WK_READY) {
        wk_timer_disarm(&t->timer);
        t->timed_out = 0;
        return WK_READY;
    }
    if (!cx->executor || cx->executor->now >= t->deadline ||
        wk_timer_arm(&t->timer, cx, t->deadline) != 0) {
        wk_future_drop(t->inner);
        wk_timer_disarm(&t->timer);
        t->timed_out = 1;
        return WK_READY;
    }
    return WK_PENDING;
}

static void timeout_drop(wk_future *f)
{
    wk_timeout *t = (wk_timeout *)f;
    wk_timer_disarm(&t->timer);
    wk_future_drop(t->inner);
}

void wk_timeout_init(wk_timeout *t, wk_future *inner, uint64_t deadline)
{
    t->base.poll = timeout_poll;
    t->base.drop = timeout_drop;
    t->inner = inner;
    wk_timer_init(&t->timer);
    t->deadline = deadline;
    t->timed_out = 0;
}

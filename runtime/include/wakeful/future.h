/* wakeful/future.h: the future, the poll contract and the context.
 *
 * A future is a struct whose first member is a wk_future.  Its poll function answers
 * WK_PENDING or WK_READY; the output lives in the future's own fields (a result code, a
 * byte count, a descriptor...), read by whoever awaited it once it is READY.
 *
 * The poll contract (the same as Rust's Future::poll):
 *  - PENDING only after a wake has been arranged: the future stored a clone of cx->waker
 *    with whatever will make progress possible (the reactor, a timer, another task), or
 *    woke it itself.  A future that answers PENDING without arranging a wake is never
 *    polled again: the executor polls only tasks that something woke.
 *  - Never poll a future again after it answered READY.
 *  - Poll never blocks.
 *
 * A zero-filled future struct must be inert: its drop does nothing.  init functions set
 * every field; drop releases what the future holds (registrations, descriptors it owns,
 * memory it allocated) and leaves its output fields alone, so drop is safe both before
 * completion (cancellation) and after it. */
#ifndef WAKEFUL_FUTURE_H
#define WAKEFUL_FUTURE_H

#include "export.h"

#include "waker.h"

WK_BEGIN_DECLS

typedef enum wk_poll {
    WK_PENDING = 0,
    WK_READY = 1,
} wk_poll;

struct wk_executor;

/* What poll is given.  The waker is borrowed for the duration of the call: clone it to
 * keep it.  executor is the executor running the poll (NULL when a future is polled by
 * hand with a waker of the caller's own); the reactor and timer futures need it and
 * answer -EINVAL without it. */
typedef struct wk_context {
    const wk_waker *waker;
    struct wk_executor *executor;
} wk_context;

typedef struct wk_future wk_future;

struct wk_future {
    wk_poll (*poll)(wk_future *self, wk_context *cx);
    /* Releases what the future holds; NULL when there is nothing to release. */
    void (*drop)(wk_future *self);
};

static inline wk_poll wk_future_poll(wk_future *f, wk_context *cx)
{
    return f->poll(f, cx);
}

static inline void wk_future_drop(wk_future *f)
{
    if (f->drop)
        f->drop(f);
}

/* A future that runs its children one at a time keeps them in a union (they never overlap,
 * so they share memory) and names the one in flight with a `wk_future *step` field, NULL
 * when none runs.  Its drop then releases the child with wk_future_drop_step(&s->step):
 * through the member that is live, not through one arbitrary member of the union, so it
 * holds whatever the members look like.  wk_future_drop_step drops *step if it is not NULL
 * and sets it to NULL; it is idempotent.  In a coroutine, WK_CO_AWAIT_STEP (coro.h) keeps
 * step up to date; by hand:
 *
 *     wk_sleep_init(&s->u.sleep, ns);
 *     s->step = &s->u.sleep.base;         // before the first poll of the child
 *     ... poll it until READY, read s->u.sleep.result ...
 *     wk_future_drop_step(&s->step);      // done with it
 *
 * and in the parent's drop, wk_future_drop_step(&s->step) releases what is in flight. */
static inline void wk_future_drop_step(wk_future **step)
{
    wk_future *f = *step;
    if (f) {
        *step = 0;
        wk_future_drop(f);
    }
}

WK_END_DECLS

#endif

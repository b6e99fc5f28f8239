/* wakeful/waker.h: the waker, a data pointer plus a vtable, as Rust's RawWaker.
 *
 *   clone        returns a new waker for the same target (the executor's takes a task
 *                reference);
 *   wake         wakes the target and consumes the waker (as wake_by_ref, then drop);
 *   wake_by_ref  wakes the target; the waker stays valid;
 *   drop         releases the waker.
 * Anyone may build a waker from a vtable of their own (the tests count calls this way).
 * The executor's wakers may be cloned, woken and dropped on any thread. */
#ifndef WAKEFUL_WAKER_H
#define WAKEFUL_WAKER_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>

WK_BEGIN_DECLS

typedef struct wk_waker wk_waker;

typedef struct wk_waker_vtable {
    wk_waker (*clone)(const void *data);
    void (*wake)(const void *data);
    void (*wake_by_ref)(const void *data);
    void (*drop)(const void *data);
} wk_waker_vtable;

/* A waker.  A zero-filled one (vtable NULL) is "no waker": the helpers below accept it
 * and do nothing, which is how waker slots in futures start out. */
struct wk_waker {
    const void *data;
    const wk_waker_vtable *vtable;
};

static inline bool wk_waker_is_set(const wk_waker *w)
{
    return w->vtable != NULL;
}

static inline wk_waker wk_waker_clone(const wk_waker *w)
{
    if (!w->vtable)
        return *w;
    return w->vtable->clone(w->data);
}

/* Moves the waker out of *w, leaving "no waker" behind (for wake and drop, which consume). */
static inline wk_waker wk__waker_take(wk_waker *w)
{
    wk_waker taken = *w;
    w->vtable = NULL;
    w->data = NULL;
    return taken;
}

/* Consumes *w (it is zeroed). */
static inline void wk_waker_wake(wk_waker *w)
{
    wk_waker taken = wk__waker_take(w);
    if (taken.vtable)
        taken.vtable->wake(taken.data);
}

static inline void wk_waker_wake_by_ref(const wk_waker *w)
{
    if (w->vtable)
        w->vtable->wake_by_ref(w->data);
}

/* Releases *w (it is zeroed). */
static inline void wk_waker_drop(wk_waker *w)
{
    wk_waker taken = wk__waker_take(w);
    if (taken.vtable)
        taken.vtable->drop(taken.data);
}

/* True when waking a would wake the same target as waking b. */
static inline bool wk_waker_will_wake(const wk_waker *a, const wk_waker *b)
{
    return a->vtable == b->vtable && a->data == b->data;
}

/* Stores a clone of w in *slot, dropping what the slot held.  When the slot already
 * wakes the same target it is left alone: re-registering on every poll costs nothing. */
static inline void wk_waker_store(wk_waker *slot, const wk_waker *w)
{
    if (wk_waker_will_wake(slot, w))
        return;
    wk_waker_drop(slot);
    *slot = wk_waker_clone(w);
}

/* A waker whose every operation does nothing (for polling futures by hand). */
WK_API extern const wk_waker_vtable wk_noop_waker_vtable;
static inline wk_waker wk_noop_waker(void)
{
    wk_waker w = {NULL, &wk_noop_waker_vtable};
    return w;
}

WK_END_DECLS

#endif

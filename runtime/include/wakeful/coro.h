/* wakeful/coro.h: write a future that awaits other futures, top to bottom.
 *
 * A coroutine future is a struct whose fields are its "locals" (anything that must live
 * across an await) plus an int resume point.  Its poll function is:
 *
 *     static wk_poll conn_poll(wk_future *f, wk_context *cx)
 *     {
 *         struct conn *c = (struct conn *)f;
 *         WK_CO_BEGIN(c->co);
 *         wk_sleep_init(&c->sleep, 1000 * WK_NSEC_PER_MSEC);
 *         WK_CO_AWAIT(c->co, &c->sleep, cx);          // returns PENDING until READY
 *         wk_tcp_send_all_init(&c->send, &c->io, "hi", 2, WK_DEADLINE_NEVER);
 *         WK_CO_AWAIT(c->co, &c->send, cx);
 *         if (c->send.result < 0)
 *             WK_CO_RETURN(c->co);
 *         WK_CO_END(c->co);
 *     }
 *
 * How it works: WK_CO_BEGIN is a switch on the resume point; WK_CO_AWAIT stores its line
 * number as the resume point and is also a case label, so the next poll jumps straight back
 * to the await.  Consequences a reader must know: C locals do not survive an await (keep
 * them in the struct); no WK_CO_AWAIT inside a nested switch; one WK_CO_AWAIT per line.
 * WK_CO_BEGIN/END must enclose the whole body.  A finished coroutine answers READY again
 * if polled (it should not be). */
#ifndef WAKEFUL_CORO_H
#define WAKEFUL_CORO_H

#include "export.h"

#include "future.h"

WK_BEGIN_DECLS

#define WK_CO_DONE (-1)

#if defined(__GNUC__) || defined(__clang__)
#define WK__FALLTHROUGH __attribute__((fallthrough))
#else
#define WK__FALLTHROUGH ((void)0)
#endif

#define WK_CO_BEGIN(point)                                                               \
    switch (point) {                                                                     \
    case 0:

/* Awaits a poll-shaped expression: `expr` is evaluated at this point on every poll until it
 * yields WK_READY.  For a step written as a function of the coroutine's own fields (PENDING
 * after it arranged a wake, READY when done), which then needs no future struct of its own. */
#define WK_CO_AWAIT_POLL(point, expr)                                                    \
    do {                                                                                 \
        (point) = __LINE__;                                                              \
        WK__FALLTHROUGH;                                                                 \
    case __LINE__:                                                                       \
        if ((expr) == WK_PENDING)                                                        \
            return WK_PENDING;                                                           \
    } while (0)

/* Awaits a child future (a struct whose first member is `base`). */
#define WK_CO_AWAIT(point, child, cx)                                                    \
    WK_CO_AWAIT_POLL(point, wk_future_poll(&(child)->base, (cx)))

/* Gives up the rest of this poll and asks to be polled again soon, behind the other ready
 * tasks (wakes itself, then answers PENDING). */
#define WK_CO_YIELD(point, cx)                                                           \
    do {                                                                                 \
        (point) = __LINE__;                                                              \
        wk_waker_wake_by_ref((cx)->waker);                                               \
        return WK_PENDING;                                                               \
    case __LINE__:;                                                                      \
    } while (0)

#define WK_CO_RETURN(point)                                                              \
    do {                                                                                 \
        (point) = WK_CO_DONE;                                                            \
        return WK_READY;                                                                 \
    } while (0)

#define WK_CO_END(point)                                                                 \
    default:                                                                             \
        break;                                                                           \
    }                                                                                    \
    (point) = WK_CO_DONE;                                                                \
    return WK_READY

WK_END_DECLS

#endif

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
 * to the await.  Rules a reader must know: no WK_CO_AWAIT inside a nested switch; one
 * WK_CO_AWAIT per line; WK_CO_BEGIN/END enclose the whole body; a goto may jump forward
 * within the body.
 *
 * C locals do not survive an await.  Each poll is a fresh call of the poll function: a
 * local computed before an await holds garbage after it (at -O0 for sure, at -O2 when the
 * optimiser reuses its slot).  Keep anything needed after an await in the struct:
 *
 *     WRONG                                        RIGHT
 *     size_t n = strlen(c->name);                  c->n = strlen(c->name);
 *     WK_CO_AWAIT(c->co, &c->sleep, cx);           WK_CO_AWAIT(c->co, &c->sleep, cx);
 *     wk_tcp_send_all_init(&c->send, &c->io,       wk_tcp_send_all_init(&c->send, &c->io,
 *                          c->name, n, dl);                             c->name, c->n, dl);
 *
 * A local that is set and used between two awaits (never read across one) is fine.
 *
 * Misuse is loud, in every build type.  A resume point that no await of this coroutine
 * wrote (an await inside a nested switch, whose case label bound to the inner switch; a
 * point left uninitialised or shared by two poll functions) and a coroutine polled again
 * after it finished both reach WK_CO_END's `default:`, which calls wk_coro_misuse: it
 * prints the file and line of the coroutine and of the lost await to stderr and aborts.  A
 * missing WK_CO_BEGIN does not compile (the awaits and WK_CO_END name a constant that only
 * WK_CO_BEGIN declares), even when the body sits inside a switch of the caller's own.
 *
 * A coroutine that runs its children one at a time out of a union keeps a `wk_future *`
 * field that names the child in flight: WK_CO_AWAIT_STEP sets it around the await, and the
 * coroutine's drop releases whichever child that is with wk_future_drop_step (future.h),
 * whatever the union's layout. */
#ifndef WAKEFUL_CORO_H
#define WAKEFUL_CORO_H

#include "export.h"

#include "future.h"

WK_BEGIN_DECLS

/* The resume point of a coroutine that answered READY. */
#define WK_CO_DONE (-1)

#if defined(__GNUC__) || defined(__clang__)
#define WK__FALLTHROUGH __attribute__((fallthrough))
#else
#define WK__FALLTHROUGH ((void)0)
#endif

#if defined(__cplusplus)
#define WK__NORETURN [[noreturn]]
#elif defined(__GNUC__) || defined(__clang__)
#define WK__NORETURN __attribute__((noreturn))
#else
#define WK__NORETURN _Noreturn
#endif

/* Called by WK_CO_END when the resume point matches no await of the coroutine at
 * file:line (the line of its WK_CO_END).  point is the resume point found: WK_CO_DONE for a
 * coroutine polled again after READY, otherwise the line of the await that suspended (in a
 * nested switch) or garbage.  Prints one line naming them to stderr and calls abort():
 * this is a bug in the caller's coroutine, never something a peer or the environment can
 * cause.  Never returns. */
WK__NORETURN WK_API void wk_coro_misuse(const char *file, int line, int point);

/* Opens the body.  The enum constant is what every other macro names, so that an await or
 * WK_CO_END without a WK_CO_BEGIN before it fails to compile. */
#define WK_CO_BEGIN(point)                                                               \
    enum { wk__co_WK_CO_BEGIN_missing = 1 };                                             \
    switch (point) {                                                                     \
    case 0:

/* Awaits a poll-shaped expression: `expr` is evaluated at this point on every poll until it
 * yields WK_READY.  For a step written as a function of the coroutine's own fields (PENDING
 * after it arranged a wake, READY when done), which then needs no future struct of its own. */
#define WK_CO_AWAIT_POLL(point, expr)                                                    \
    do {                                                                                 \
        (void)wk__co_WK_CO_BEGIN_missing;                                                \
        (point) = __LINE__;                                                              \
        WK__FALLTHROUGH;                                                                 \
    case __LINE__:                                                                       \
        if ((expr) == WK_PENDING)                                                        \
            return WK_PENDING;                                                           \
    } while (0)

/* Awaits a child future (a struct whose first member is `base`). */
#define WK_CO_AWAIT(point, child, cx)                                                    \
    WK_CO_AWAIT_POLL(point, wk_future_poll(&(child)->base, (cx)))

/* Awaits a child future and names it in `step` (a `wk_future *` field of the coroutine,
 * NULL while no child is in flight) for as long as it runs, so that the coroutine's drop
 * can release it with wk_future_drop_step(&step).  Once the child is READY it is dropped
 * (which leaves its output fields readable) and step is NULL again. */
#define WK_CO_AWAIT_STEP(point, step, child, cx)                                         \
    do {                                                                                 \
        (step) = &(child)->base;                                                         \
        WK_CO_AWAIT(point, child, cx);                                                   \
        wk_future_drop_step(&(step));                                                    \
    } while (0)

/* Gives up the rest of this poll and asks to be polled again soon, behind the other ready
 * tasks (wakes itself, then answers PENDING). */
#define WK_CO_YIELD(point, cx)                                                           \
    do {                                                                                 \
        (void)wk__co_WK_CO_BEGIN_missing;                                                \
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

/* Closes the body: running off its end (or a `break` at its top level) answers READY; a
 * resume point that no case above matched aborts through wk_coro_misuse. */
#define WK_CO_END(point)                                                                 \
        (point) = WK_CO_DONE;                                                            \
        return WK_READY;                                                                 \
    default:                                                                             \
        (void)wk__co_WK_CO_BEGIN_missing;                                                \
        wk_coro_misuse(__FILE__, __LINE__, (point));                                     \
    }                                                                                    \
    (point) = WK_CO_DONE;                                                                \
    return WK_READY

WK_END_DECLS

#endif

/* wakeful/select.h: race futures; the first to finish wins, the others are dropped.
 *
 * The tokio::select! of this library: "serve until SIGINT" is a select of the server's
 * accept loop and a wk_signal; "read or time out" is a select of a receive and a wk_sleep
 * (wk_timeout in timer.h is the special case with a deadline built in).
 *
 *     wk_select2_init(&s->sel, &s->recv.base, &s->sleep.base);
 *     WK_CO_AWAIT(s->co, &s->sel, cx);
 *     if (s->sel.which == 0)  ... s->recv.result is the receive's output ...
 *     else                    ... timed out: the receive has been dropped ...
 *
 * The children are borrowed: inited by the caller before the select is polled, kept at
 * their address until it is READY or dropped (inside the same future struct, as the
 * coroutine's other locals; so init the select, like its children, in the poll function,
 * after wk_spawn has copied the future).  Each poll of the select polls every child once,
 * starting one child further round each time, so that when several are ready together
 * the first-listed does not always win (a busy socket listed first would starve the
 * rest).  Set `biased` to 1 after init to poll in index order instead, as select!'s
 * `biased;` does, when one child (a shutdown signal, say) must win any tie.  The select is PENDING while every child is: each one that answered
 * PENDING has arranged its own wake, which is the task's.
 *
 * When a child answers READY the select is READY with `which` = its index; the other
 * children have been dropped (wk_future_drop) and the winner has not: read its output,
 * then drop it as you would after awaiting it directly.  Dropping an unfinished select
 * drops every child; dropping a finished one does nothing.  With no children the select
 * is READY at once with `which` = -1. */
#ifndef WAKEFUL_SELECT_H
#define WAKEFUL_SELECT_H

#include "export.h"

#include <stddef.h>

#include "future.h"

WK_BEGIN_DECLS

typedef struct wk_select {
    wk_future base;
    wk_future *const *children; /* borrowed array of count children, or NULL: pair below */
    wk_future *pair[2];         /* the children of wk_select2_init, kept in the struct */
    size_t count;               /* how many children */
    size_t start;               /* the child polled first next time (when not biased) */
    int biased;                 /* 1: always poll in index order (0 after init) */
    int done;                   /* 1 once READY: drop then leaves the children alone */
    int which;                  /* the output: the winner's index, -1 until READY */
} wk_select;

/* Races the count futures children[0..count-1].  The array is borrowed too: it must stay
 * valid (and unchanged) until the select is READY or dropped.  Never fails. */
WK_API void wk_select_init(wk_select *s, wk_future *const *children, size_t count);

/* Races two futures: which is 0 when a won, 1 when b did.  The two pointers are kept in the
 * select itself (no array to keep alive); the select holds no pointer into itself, so it
 * may be copied before its first poll. */
WK_API void wk_select2_init(wk_select *s, wk_future *a, wk_future *b);

WK_END_DECLS

#endif

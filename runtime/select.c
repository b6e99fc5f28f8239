/* runtime/select.c: see select.h. */
#include <wakeful/select.h>

static wk_future *const *children_of(const wk_select *s)
{
    return s->children ? s->children : s->pair;
}

/* Drops every child but the one at index keep (pass count to drop them all). */
static void drop_children(wk_select *s, size_t keep)
{
    wk_future *const *c = children_of(s);
    for (size_t i = 0; i < s->count; i++) {
        if (i != keep)
            wk_future_drop(c[i]);
    }
}

static wk_poll select_poll(wk_future *f, wk_context *cx)
{
    wk_select *s = (wk_select *)f;
    if (s->done)
        return WK_READY;
    wk_future *const *c = children_of(s);
    size_t first = s->biased ? 0 : s->start;
    for (size_t k = 0; k < s->count; k++) {
        size_t i = (first + k) % s->count;
        if (wk_future_poll(c[i], cx) == WK_READY) {
            drop_children(s, i);
            s->which = (int)i;
            s->done = 1;
            return WK_READY;
        }
    }
    if (s->count == 0) {
        s->done = 1;
        return WK_READY; /* which stays -1 */
    }
    s->start = (s->start + 1) % s->count;
    return WK_PENDING;
}

static void select_drop(wk_future *f)
{
    wk_select *s = (wk_select *)f;
    if (!s->done) {
        drop_children(s, s->count);
        /* Once dropped, dropped: a second drop (or a poll) must not touch the children. */
        s->done = 1;
    }
}

void wk_select_init(wk_select *s, wk_future *const *children, size_t count)
{
    s->base.poll = select_poll;
    s->base.drop = select_drop;
    s->children = children;
    s->pair[0] = s->pair[1] = NULL;
    s->count = children ? count : 0;
    s->start = 0;
    s->biased = 0;
    s->done = 0;
    s->which = -1;
}

void wk_select2_init(wk_select *s, wk_future *a, wk_future *b)
{
    wk_select_init(s, NULL, 0);
    s->pair[0] = a;
    s->pair[1] = b;
    s->count = 2;
}

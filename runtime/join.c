/* runtime/join.c: join handles.  A handle is a counted reference to the task.  The joiner
 * may publish one waker (JOIN_WAKER) for the task to wake when it completes; from that
 * moment the waker belongs to whoever completes the task, so the two sides never free it
 * twice and never race on it. */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* Copies the output of a finished task and releases the handle. */
static int join_finish(wk_task *t, AO_t state, void *out)
{
    int result = (state & WK__CANCELLED) ? -ECANCELED : 0;
    if (result == 0 && out && t->output_size)
        memcpy(out, (unsigned char *)wk__task_future(t) + t->output_offset, t->output_size);
    wk__task_unref(t);
    return result;
}

int wk_join_try(wk_task *t, void *out)
{
    AO_t s = AO_load_full(&t->state);
    if (!(s & WK__COMPLETE))
        return -EAGAIN;
    return join_finish(t, s, out);
}

void wk_task_detach(wk_task *t)
{
    if (t)
        wk__task_unref(t);
}

/* Publishes w as the task's join waker, once.  Returns 1 when the task has completed
 * already (the waker was not kept), 0 when the waker is in place. */
static int join_register(wk_task *t, const wk_waker *w)
{
    AO_t s = AO_load_full(&t->state);
    if (s & WK__COMPLETE)
        return 1;
    if (s & WK__JOIN_WAKER)
        return 0; /* published by an earlier poll of the same joiner */
    t->join_waker = wk_waker_clone(w);
    for (;;) {
        if (s & WK__COMPLETE) {
            wk_waker_drop(&t->join_waker);
            return 1;
        }
        AO_t seen = AO_fetch_compare_and_swap_full(&t->state, s, s | WK__JOIN_WAKER);
        if (seen == s)
            return 0;
        s = seen;
    }
}

/* ---- blocking join: a waker over a mutex and a condition variable, on the stack ---- */

typedef struct thread_parker {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int notified;
} thread_parker;

static wk_waker parker_clone(const void *data);

static void parker_wake(const void *data)
{
    thread_parker *p = (thread_parker *)data;
    pthread_mutex_lock(&p->mutex);
    p->notified = 1;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mutex);
}

static void parker_drop(const void *data)
{
    (void)data;
}

static const wk_waker_vtable parker_vtable = {parker_clone, parker_wake, parker_wake, parker_drop};

static wk_waker parker_clone(const void *data)
{
    wk_waker w = {data, &parker_vtable};
    return w;
}

int wk_join_blocking(wk_task *t, void *out)
{
    thread_parker p;
    pthread_mutex_init(&p.mutex, NULL);
    pthread_cond_init(&p.cond, NULL);
    p.notified = 0;
    wk_waker w = {&p, &parker_vtable};
    if (join_register(t, &w) == 0) {
        /* The completer wakes us exactly once, after it set COMPLETE. */
        pthread_mutex_lock(&p.mutex);
        while (!p.notified)
            pthread_cond_wait(&p.cond, &p.mutex);
        pthread_mutex_unlock(&p.mutex);
    }
    pthread_cond_destroy(&p.cond);
    pthread_mutex_destroy(&p.mutex);
    return join_finish(t, AO_load_full(&t->state), out);
}

/* ---- the join future ---- */

static wk_poll join_poll(wk_future *f, wk_context *cx)
{
    wk_join *j = (wk_join *)f;
    if (!j->handle)
        return WK_READY;
    if (join_register(j->handle, cx->waker) == 0)
        return WK_PENDING;
    j->result = join_finish(j->handle, AO_load_full(&j->handle->state), j->out);
    j->handle = NULL;
    return WK_READY;
}

static void join_drop(wk_future *f)
{
    wk_join *j = (wk_join *)f;
    if (j->handle) {
        wk__task_unref(j->handle);
        j->handle = NULL;
    }
}

void wk_join_init(wk_join *j, wk_task *handle, void *out)
{
    j->base.poll = join_poll;
    j->base.drop = join_drop;
    j->handle = handle;
    j->out = out;
    j->result = 0;
}

/* ---- abort ---- */

wk_task *wk_task_abort_handle(wk_task *t)
{
    AO_fetch_and_add_full(&t->state, WK__REF_ONE);
    return t;
}

int wk_task_abort(wk_task *t)
{
    /* Our own reference for the length of the call: the caller's handle keeps the task
     * alive when we start, but a join on another thread may release that handle as soon as
     * the task finishes, which may be in the middle of this call. */
    AO_fetch_and_add_full(&t->state, WK__REF_ONE);
    /* CANCELLED is both the request and the outcome: once it is set before COMPLETE, the
     * joiner sees -ECANCELED whatever the task does next, so the caller's answer (0) tells
     * it what the join will report. */
    AO_t s = AO_load_full(&t->state);
    int result = 0;
    for (;;) {
        if (s & (WK__COMPLETE | WK__CANCELLED)) {
            result = -EALREADY;
            break;
        }
        AO_t seen = AO_fetch_compare_and_swap_full(&t->state, s, s | WK__CANCELLED);
        if (seen == s)
            break;
        s = seen;
    }
    /* Queue it like any wake: from another thread this writes the executor's eventfd; while
     * the task runs it only marks NOTIFIED and the executor re-queues it after the poll. */
    if (result == 0)
        wk__task_schedule(t);
    wk__task_unref(t);
    return result;
}

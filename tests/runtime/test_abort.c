/* tests/runtime/test_abort.c: wk_task_abort.  A task blocked in a receive or a sleep is
 * dropped at its next poll point (descriptor closed, timer removed) and its join reports
 * -ECANCELED; an abort from another thread wakes an executor waiting in epoll; an abort
 * during the task's own poll drops it right after; an abort after completion changes
 * nothing. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wakeful/wakeful.h>
#include "../check_run.h"
#include "helpers.h"

/* ---- a task blocked in recv on a socketpair; its drop closes its wk_io ---- */
typedef struct reader {
    wk_future base;
    int co;
    wk_io io;
    wk_tcp_recv_some recv;
    uint8_t buf[16];
    long result;
} reader;

static wk_poll reader_poll(wk_future *f, wk_context *cx)
{
    reader *r = (reader *)f;
    WK_CO_BEGIN(r->co);
    wk_tcp_recv_some_init(&r->recv, &r->io, r->buf, sizeof r->buf, WK_DEADLINE_NEVER);
    WK_CO_AWAIT(r->co, &r->recv, cx);
    r->result = (long)r->recv.result;
    wk_io_close(&r->io);
    WK_CO_END(r->co);
}

static void reader_drop(wk_future *f)
{
    reader *r = (reader *)f;
    if (r->co != 0 && r->co != WK_CO_DONE)
        wk_future_drop(&r->recv.base);
    wk_io_close(&r->io);
}

START_TEST(abort_task_blocked_in_recv)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    reader r;
    memset(&r, 0, sizeof r);
    r.base.poll = reader_poll;
    r.base.drop = reader_drop;
    wk_io_init(&r.io, sv[0]);
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, reader, &r, result, &h), 0);
    ck_assert_int_eq(wk_executor_run_one(ex), 1); /* now waiting in the reactor */
    ck_assert_int_eq(wk_join_try(h, NULL), -EAGAIN);
    int before = open_fd_count();

    ck_assert_int_eq(wk_task_abort(h), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0); /* returns: the task is gone */
    ck_assert_int_eq(wk_join_try(h, NULL), -ECANCELED);
    ck_assert_int_eq(open_fd_count(), before - 1);
    ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1); /* closed by the future's drop */
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    ck_assert_uint_eq(st.cancelled, 1);
    ck_assert_uint_eq(st.completed, 0);
    ck_assert_uint_eq(st.polls, 1); /* dropped, not polled again */
    ck_assert_uint_eq(wk_executor_task_count(ex), 0);
    close(sv[1]);
    wk_executor_free(ex);
}
END_TEST

/* ---- a task blocked in a one-hour sleep ---- */
typedef struct sleeper {
    wk_future base;
    wk_sleep sleep;
    int result;
} sleeper;

static wk_poll sleeper_poll(wk_future *f, wk_context *cx)
{
    sleeper *s = (sleeper *)f;
    if (wk_future_poll(&s->sleep.base, cx) == WK_PENDING)
        return WK_PENDING;
    s->result = 1;
    return WK_READY;
}

static void sleeper_drop(wk_future *f)
{
    wk_future_drop(&((sleeper *)f)->sleep.base);
}

static sleeper hour_sleep(void)
{
    sleeper s;
    memset(&s, 0, sizeof s);
    s.base.poll = sleeper_poll;
    s.base.drop = sleeper_drop;
    wk_sleep_init(&s.sleep, 3600 * WK_NSEC_PER_SEC);
    return s;
}

START_TEST(abort_task_blocked_in_sleep)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    sleeper s = hour_sleep();
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, sleeper, &s, result, &h), 0);
    ck_assert_int_eq(wk_executor_run_one(ex), 1);
    ck_assert_uint_eq(ex->timers.count, 1);

    ck_assert_int_eq(wk_task_abort(h), 0);
    uint64_t t0 = wk_now_ns();
    ck_assert_int_eq(wk_executor_run(ex), 0);
    /* Bounded: no timer is left to wait for, so run returns at once, not in an hour. */
    ck_assert_uint_lt(wk_now_ns() - t0, 2 * WK_NSEC_PER_SEC);
    ck_assert_uint_eq(ex->timers.count, 0);
    int out = 0;
    ck_assert_int_eq(wk_join_try(h, &out), -ECANCELED);
    ck_assert_int_eq(out, 0); /* no output copied */
    wk_executor_free(ex);
}
END_TEST

/* ---- abort from another thread while the executor waits in epoll ---- */
static void *run_executor(void *arg)
{
    wk_executor_run(arg);
    return NULL;
}

START_TEST(abort_from_another_thread)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    sleeper s = hour_sleep();
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, sleeper, &s, result, &h), 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, run_executor, ex), 0);
    wait_until_executor_waits(ex);

    uint64_t t0 = wk_now_ns();
    ck_assert_int_eq(wk_task_abort(h), 0);
    ck_assert_int_eq(wk_join_blocking(h, NULL), -ECANCELED);
    pthread_join(thread, NULL); /* run returned: nothing left */
    ck_assert_uint_lt(wk_now_ns() - t0, 2 * WK_NSEC_PER_SEC);
    ck_assert_uint_eq(ex->timers.count, 0);
    wk_executor_free(ex);
}
END_TEST

/* ---- abort after completion, and twice ---- */
typedef struct trivial {
    wk_future base;
    int result;
} trivial;

static wk_poll trivial_poll(wk_future *f, wk_context *cx)
{
    (void)cx;
    ((trivial *)f)->result = 42;
    return WK_READY;
}

START_TEST(abort_after_completion_is_harmless)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    trivial t = {{trivial_poll, NULL}, 0};
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, trivial, &t, result, &h), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    ck_assert_int_eq(wk_task_abort(h), -EALREADY);
    ck_assert_int_eq(wk_task_abort(h), -EALREADY);
    int out = 0;
    ck_assert_int_eq(wk_join_try(h, &out), 0);
    ck_assert_int_eq(out, 42);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    ck_assert_uint_eq(st.cancelled, 0);
    wk_executor_free(ex);
}
END_TEST

START_TEST(abort_twice_and_before_first_poll)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    trivial t = {{trivial_poll, NULL}, 0};
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, trivial, &t, result, &h), 0);
    ck_assert_int_eq(wk_task_abort(h), 0); /* queued, never polled */
    ck_assert_int_eq(wk_task_abort(h), -EALREADY);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    ck_assert_uint_eq(st.polls, 0);
    ck_assert_uint_eq(st.cancelled, 1);
    ck_assert_int_eq(wk_join_try(h, NULL), -ECANCELED);
    wk_executor_free(ex);
}
END_TEST

/* ---- abort during the task's own poll: re-queued once after the poll, then dropped ---- */
typedef struct self_abort {
    wk_future base;
    wk_task **handle;
    int *polls;
    int *drops;
    int answer_ready;
    int result;
} self_abort;

static wk_poll self_abort_poll(wk_future *f, wk_context *cx)
{
    (void)cx;
    self_abort *s = (self_abort *)f;
    (*s->polls)++;
    ck_assert_int_eq(wk_task_abort(*s->handle), 0);
    s->result = 7;
    /* PENDING without arranging a wake: only the abort's wake brings it back. */
    return s->answer_ready ? WK_READY : WK_PENDING;
}

static void self_abort_drop(wk_future *f)
{
    (*((self_abort *)f)->drops)++;
}

static void self_abort_case(int answer_ready)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    wk_task *h = NULL;
    int polls = 0, drops = 0;
    self_abort s = {{self_abort_poll, self_abort_drop}, &h, &polls, &drops, answer_ready, 0};
    ck_assert_int_eq(WK_SPAWN(ex, self_abort, &s, result, &h), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    ck_assert_int_eq(polls, 1);
    ck_assert_int_eq(drops, 1);
    int out = 0;
    ck_assert_int_eq(wk_join_try(h, &out), -ECANCELED); /* abort came first: output discarded */
    ck_assert_int_eq(out, 0);
    wk_executor_free(ex);
}

START_TEST(abort_while_running_pending)
{
    self_abort_case(0);
}
END_TEST

START_TEST(abort_while_running_ready)
{
    self_abort_case(1);
}
END_TEST

/* ---- the join future reports the cancellation ---- */
typedef struct aborter {
    wk_future base;
    wk_task *child;
    wk_join join;
    int started;
    int result;
} aborter;

static wk_poll aborter_poll(wk_future *f, wk_context *cx)
{
    aborter *a = (aborter *)f;
    if (!a->started) {
        a->started = 1;
        wk_join_init(&a->join, a->child, NULL);
        ck_assert_int_eq(wk_task_abort(a->child), 0);
    }
    if (wk_future_poll(&a->join.base, cx) == WK_PENDING)
        return WK_PENDING;
    a->result = a->join.result;
    return WK_READY;
}

START_TEST(join_future_reports_cancelled)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    sleeper s = hour_sleep();
    aborter a;
    memset(&a, 0, sizeof a);
    a.base.poll = aborter_poll;
    ck_assert_int_eq(WK_SPAWN(ex, sleeper, &s, result, &a.child), 0);
    ck_assert_int_eq(wk_executor_run_one(ex), 1);
    ck_assert_int_eq(wk_block_on(ex, &a.base), 0);
    ck_assert_int_eq(a.result, -ECANCELED);
    ck_assert_uint_eq(ex->timers.count, 0);
    wk_executor_free(ex);
}
END_TEST

/* ---- racing aborts from another thread against busy tasks: the answer of abort and the
 * join always agree (0 -> -ECANCELED, -EALREADY -> the output) ---- */
typedef struct yielder {
    wk_future base;
    int left;
    int result;
} yielder;

static wk_poll yielder_poll(wk_future *f, wk_context *cx)
{
    yielder *y = (yielder *)f;
    if (--y->left == 0) {
        y->result = 1;
        return WK_READY;
    }
    wk_waker_wake_by_ref(cx->waker);
    return WK_PENDING;
}

START_TEST(racing_aborts_agree_with_joins)
{
    enum { N = 2000 };
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    wk_task **h = malloc(N * sizeof *h);
    int *answer = malloc(N * sizeof *answer);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(answer);
    for (int i = 0; i < N; i++) {
        yielder y = {{yielder_poll, NULL}, 1 + (i % 64) * 8, 0};
        ck_assert_int_eq(WK_SPAWN(ex, yielder, &y, result, &h[i]), 0);
    }
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, run_executor, ex), 0);
    for (int i = 0; i < N; i++)
        answer[i] = wk_task_abort(h[i]);
    int cancelled = 0;
    for (int i = 0; i < N; i++) {
        int out = 0;
        int r = wk_join_blocking(h[i], &out);
        if (answer[i] == 0) {
            ck_assert_int_eq(r, -ECANCELED);
            cancelled++;
        } else {
            ck_assert_int_eq(answer[i], -EALREADY);
            ck_assert_int_eq(r, 0);
            ck_assert_int_eq(out, 1);
        }
    }
    pthread_join(thread, NULL);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    /* An abort that lands while the task's last poll runs counts as completed (the future
     * did answer READY), though its join reports -ECANCELED. */
    ck_assert_uint_eq(st.completed + st.cancelled, N);
    ck_assert_uint_le(st.cancelled, (uint64_t)cancelled);
    free(h);
    free(answer);
    wk_executor_free(ex);
}
END_TEST

/* ---- an abort handle: abort from one thread while another joins ---- */
typedef struct join_arg {
    wk_task *handle;
    int result;
} join_arg;

static void *join_thread(void *arg)
{
    join_arg *j = arg;
    j->result = wk_join_blocking(j->handle, NULL);
    return NULL;
}

START_TEST(abort_handle_outlives_the_join)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    sleeper s = hour_sleep();
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, sleeper, &s, result, &h), 0);
    wk_task *ah = wk_task_abort_handle(h);
    ck_assert_ptr_eq(ah, h);
    pthread_t runner, joiner;
    join_arg j = {h, 1};
    ck_assert_int_eq(pthread_create(&runner, NULL, run_executor, ex), 0);
    ck_assert_int_eq(pthread_create(&joiner, NULL, join_thread, &j), 0);
    wait_until_executor_waits(ex);
    ck_assert_int_eq(wk_task_abort(ah), 0);
    pthread_join(joiner, NULL); /* the join handle is released now */
    ck_assert_int_eq(j.result, -ECANCELED);
    ck_assert_int_eq(wk_task_abort(ah), -EALREADY); /* still a valid reference */
    wk_task_detach(ah);
    pthread_join(runner, NULL);
    wk_executor_free(ex);
}
END_TEST

START_TEST(racing_abort_and_join_threads)
{
    /* Three threads on each task: the executor's, a joiner's, an aborter's (with its own
     * abort handle).  Whatever the interleaving: no use after free (valgrind, ASan), and the
     * answers agree. */
    enum { N = 500 };
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    wk_task *h[N], *ah[N];
    join_arg j[N];
    int answer[N];
    for (int i = 0; i < N; i++) {
        yielder y = {{yielder_poll, NULL}, 1 + (i % 16) * 4, 0};
        ck_assert_int_eq(WK_SPAWN(ex, yielder, &y, result, &h[i]), 0);
        ah[i] = wk_task_abort_handle(h[i]);
        j[i].handle = h[i];
    }
    pthread_t runner, joiners[4];
    ck_assert_int_eq(pthread_create(&runner, NULL, run_executor, ex), 0);
    for (int i = 0; i < N; i++) {
        pthread_t *t = &joiners[i % 4];
        if (i >= 4)
            pthread_join(*t, NULL);
        ck_assert_int_eq(pthread_create(t, NULL, join_thread, &j[i]), 0);
        answer[i] = wk_task_abort(ah[i]);
        wk_task_detach(ah[i]);
    }
    for (int k = 0; k < 4; k++)
        pthread_join(joiners[k], NULL);
    pthread_join(runner, NULL);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(j[i].result, answer[i] == 0 ? -ECANCELED : 0);
    wk_executor_free(ex);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("abort");
    TCase *tc = tcase_create("abort");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, abort_task_blocked_in_recv);
    tcase_add_test(tc, abort_task_blocked_in_sleep);
    tcase_add_test(tc, abort_from_another_thread);
    tcase_add_test(tc, abort_after_completion_is_harmless);
    tcase_add_test(tc, abort_twice_and_before_first_poll);
    tcase_add_test(tc, abort_while_running_pending);
    tcase_add_test(tc, abort_while_running_ready);
    tcase_add_test(tc, join_future_reports_cancelled);
    tcase_add_test(tc, racing_aborts_agree_with_joins);
    tcase_add_test(tc, abort_handle_outlives_the_join);
    tcase_add_test(tc, racing_abort_and_join_threads);
    suite_add_tcase(s, tc);
    return check_run(s);
}

/* tests/runtime/test_executor.c: spawning, polling only what was woken, join handles. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <wakeful/wakeful.h>
#include "../check_run.h"

/* ---- the book's CountingFuture, counting its polls ---- */
typedef struct counting_future {
    wk_future base;
    int count;
    int wake_self; /* 0: answer PENDING without arranging a wake (a broken future) */
} counting_future;

static wk_poll counting_poll(wk_future *f, wk_context *cx)
{
    counting_future *c = (counting_future *)f;
    c->count += 1;
    if (c->count == 4)
        return WK_READY;
    if (c->wake_self)
        wk_waker_wake_by_ref(cx->waker);
    return WK_PENDING;
}

static counting_future counting(int wake_self)
{
    counting_future c = {{counting_poll, NULL}, 0, wake_self};
    return c;
}

START_TEST(counting_future_gives_4)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    counting_future a = counting(1), b = counting(1);
    wk_task *ha, *hb;
    ck_assert_int_eq(WK_SPAWN(ex, counting_future, &a, count, &ha), 0);
    ck_assert_int_eq(WK_SPAWN(ex, counting_future, &b, count, &hb), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    int ra = 0, rb = 0;
    ck_assert_int_eq(wk_join_try(ha, &ra), 0);
    ck_assert_int_eq(wk_join_try(hb, &rb), 0);
    ck_assert_int_eq(ra, 4);
    ck_assert_int_eq(rb, 4);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    ck_assert_uint_eq(st.polls, 8); /* four each: nothing polled without a wake */
    wk_executor_free(ex);
}
END_TEST

START_TEST(pending_without_wake_is_not_polled_again)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    counting_future c = counting(0);
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, counting_future, &c, count, &h), 0);
    for (int i = 0; i < 100; i++)
        wk_executor_run_one(ex);
    /* Still there, polled once, never again: the executor does not busy-poll. */
    ck_assert_uint_eq(wk_executor_task_count(ex), 1);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    ck_assert_uint_eq(st.polls, 1);
    ck_assert_int_eq(wk_join_try(h, NULL), -EAGAIN);
    wk_executor_free(ex); /* cancels it */
    ck_assert_int_eq(wk_join_try(h, NULL), -ECANCELED);
}
END_TEST

/* ---- outputs of several types ---- */
typedef struct point {
    double x, y;
    char name[16];
} point;

typedef struct typed_future {
    wk_future base;
    int as_int;
    double as_double;
    point as_struct;
    const char *as_string;
} typed_future;

static wk_poll typed_poll(wk_future *f, wk_context *cx)
{
    (void)cx;
    typed_future *t = (typed_future *)f;
    t->as_int = -42;
    t->as_double = 2.5;
    t->as_struct = (point){1.5, -3.0, "origin"};
    t->as_string = "Hello, client!";
    return WK_READY;
}

START_TEST(outputs_of_several_types)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    typed_future f = {.base = {typed_poll, NULL}};
    wk_task *hi, *hd, *hs, *hp;
    ck_assert_int_eq(WK_SPAWN(ex, typed_future, &f, as_int, &hi), 0);
    ck_assert_int_eq(WK_SPAWN(ex, typed_future, &f, as_double, &hd), 0);
    ck_assert_int_eq(WK_SPAWN(ex, typed_future, &f, as_struct, &hs), 0);
    ck_assert_int_eq(WK_SPAWN(ex, typed_future, &f, as_string, &hp), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    int i = 0;
    double d = 0;
    point p;
    const char *str = NULL;
    ck_assert_int_eq(wk_join_try(hi, &i), 0);
    ck_assert_int_eq(wk_join_try(hd, &d), 0);
    ck_assert_int_eq(wk_join_try(hs, &p), 0);
    ck_assert_int_eq(wk_join_try(hp, &str), 0);
    ck_assert_int_eq(i, -42);
    ck_assert(d == 2.5);
    ck_assert(p.x == 1.5 && p.y == -3.0);
    ck_assert_str_eq(p.name, "origin");
    ck_assert_str_eq(str, "Hello, client!");
    wk_executor_free(ex);
}
END_TEST

/* ---- blocking join from another thread ---- */
typedef struct sleepy_future {
    wk_future base;
    wk_sleep sleep;
    int co;
    long result;
} sleepy_future;

static wk_poll sleepy_poll(wk_future *f, wk_context *cx)
{
    sleepy_future *s = (sleepy_future *)f;
    WK_CO_BEGIN(s->co);
    wk_sleep_init(&s->sleep, 20 * WK_NSEC_PER_MSEC);
    WK_CO_AWAIT(s->co, &s->sleep, cx);
    s->result = 123456789L;
    WK_CO_END(s->co);
}

static void sleepy_drop(wk_future *f)
{
    wk_future_drop(&((sleepy_future *)f)->sleep.base);
}

static sleepy_future sleepy(void)
{
    sleepy_future s;
    memset(&s, 0, sizeof s);
    s.base.poll = sleepy_poll;
    s.base.drop = sleepy_drop;
    return s;
}

static void *run_executor(void *arg)
{
    wk_executor_run(arg);
    return NULL;
}

START_TEST(blocking_join_from_another_thread)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    sleepy_future s = sleepy();
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, sleepy_future, &s, result, &h), 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, run_executor, ex), 0);
    long result = 0;
    ck_assert_int_eq(wk_join_blocking(h, &result), 0);
    ck_assert_int_eq(result, 123456789L);
    pthread_join(thread, NULL);
    wk_executor_free(ex);
}
END_TEST

/* ---- awaited join: a parent task awaits its children ---- */
typedef struct parent_future {
    wk_future base;
    int co;
    wk_task *child;
    wk_join join;
    long child_result;
    long result;
} parent_future;

static wk_poll parent_poll(wk_future *f, wk_context *cx)
{
    parent_future *p = (parent_future *)f;
    WK_CO_BEGIN(p->co);
    {
        sleepy_future s = sleepy();
        if (WK_SPAWN(cx->executor, sleepy_future, &s, result, &p->child) < 0)
            WK_CO_RETURN(p->co);
    }
    wk_join_init(&p->join, p->child, &p->child_result);
    WK_CO_AWAIT(p->co, &p->join, cx);
    p->result = p->join.result == 0 ? p->child_result + 1 : -1;
    WK_CO_END(p->co);
}

static void parent_drop(wk_future *f)
{
    parent_future *p = (parent_future *)f;
    if (p->co != 0 && p->co != WK_CO_DONE)
        wk_future_drop(&p->join.base);
}

START_TEST(awaited_join)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    parent_future p;
    memset(&p, 0, sizeof p);
    p.base.poll = parent_poll;
    p.base.drop = parent_drop;
    ck_assert_int_eq(wk_block_on(ex, &p.base), 0);
    ck_assert_int_eq(p.result, 123456790L);
    ck_assert_uint_eq(wk_executor_task_count(ex), 0);
    wk_executor_free(ex);
}
END_TEST

START_TEST(awaited_join_across_executors)
{
    /* The child runs on an executor driven by another thread; the parent awaits it here. */
    wk_executor *ex, *other;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    ck_assert_int_eq(wk_executor_new(&other), 0);
    sleepy_future s = sleepy();
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(other, sleepy_future, &s, result, &h), 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, run_executor, other), 0);
    long out = 0;
    wk_join j;
    wk_join_init(&j, h, &out);
    ck_assert_int_eq(wk_block_on(ex, &j.base), 0);
    ck_assert_int_eq(j.result, 0);
    ck_assert_int_eq(out, 123456789L);
    pthread_join(thread, NULL);
    wk_executor_free(other);
    wk_executor_free(ex);
}
END_TEST

START_TEST(detach)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    sleepy_future s = sleepy();
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, sleepy_future, &s, result, &h), 0);
    wk_task_detach(h); /* runs on, output discarded; no leak (valgrind/ASan) */
    ck_assert_int_eq(wk_executor_run(ex), 0);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    ck_assert_uint_eq(st.completed, 1);
    wk_executor_free(ex);
}
END_TEST

START_TEST(free_cancels_and_drops)
{
    /* Unfinished tasks are dropped (their sleeps leave the heap) and joiners see ECANCELED. */
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    wk_task *h[10];
    for (int i = 0; i < 10; i++) {
        sleepy_future s = sleepy();
        ck_assert_int_eq(WK_SPAWN(ex, sleepy_future, &s, result, &h[i]), 0);
    }
    wk_executor_run_one(ex);
    wk_executor_run_one(ex);
    wk_executor_free(ex);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(wk_join_try(h[i], NULL), -ECANCELED);
}
END_TEST

/* ---- a hundred thousand tasks ---- */
typedef struct trivial_future {
    wk_future base;
    int result;
} trivial_future;

static wk_poll trivial_poll(wk_future *f, wk_context *cx)
{
    (void)cx;
    ((trivial_future *)f)->result += 1;
    return WK_READY;
}

START_TEST(hundred_thousand_tasks)
{
    enum { N = 100000 };
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    wk_task **h = malloc(N * sizeof *h);
    ck_assert_ptr_nonnull(h);
    for (int i = 0; i < N; i++) {
        trivial_future t = {{trivial_poll, NULL}, i};
        ck_assert_int_eq(WK_SPAWN(ex, trivial_future, &t, result, &h[i]), 0);
    }
    ck_assert_uint_eq(wk_executor_task_count(ex), N);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    for (int i = 0; i < N; i++) {
        int r = -1;
        ck_assert_int_eq(wk_join_try(h[i], &r), 0);
        ck_assert_int_eq(r, i + 1);
    }
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    ck_assert_uint_eq(st.spawned, N);
    ck_assert_uint_eq(st.completed, N);
    ck_assert_uint_eq(st.polls, N);
    free(h);
    wk_executor_free(ex);
}
END_TEST

/* ---- fairness: a task that wakes itself goes to the back of the queue ---- */
typedef struct order_future {
    wk_future base;
    int id;
    int rounds;
    int *log;
    int *log_len;
} order_future;

static wk_poll order_poll(wk_future *f, wk_context *cx)
{
    order_future *o = (order_future *)f;
    o->log[(*o->log_len)++] = o->id;
    if (--o->rounds == 0)
        return WK_READY;
    wk_waker_wake_by_ref(cx->waker);
    return WK_PENDING;
}

START_TEST(self_wake_goes_to_the_back)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int log[9], len = 0;
    for (int id = 0; id < 3; id++) {
        order_future o = {{order_poll, NULL}, id, 3, log, &len};
        ck_assert_int_eq(WK_SPAWN_DETACHED(ex, order_future, &o), 0);
    }
    ck_assert_int_eq(wk_executor_run(ex), 0);
    ck_assert_int_eq(len, 9);
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(log[i], i % 3); /* round robin, never the same task twice running */
    wk_executor_free(ex);
}
END_TEST

/* A root future that wakes itself in its last poll, then answers READY. */
static wk_poll wake_then_ready_poll(wk_future *f, wk_context *cx)
{
    (void)f;
    wk_waker_wake_by_ref(cx->waker);
    return WK_READY;
}

START_TEST(stale_root_wake_does_not_spin)
{
    /* After block_on returns, a leftover wake of its root must not make later loops think
     * work is ready: run() must sleep in epoll through the child's 50 ms, not spin. */
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    wk_future root = {wake_then_ready_poll, NULL};
    ck_assert_int_eq(wk_block_on(ex, &root), 0);
    wk_executor_stats before, after;
    wk_executor_get_stats(ex, &before);
    sleepy_future s = sleepy();
    ck_assert_int_eq(WK_SPAWN_DETACHED(ex, sleepy_future, &s), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    wk_executor_get_stats(ex, &after);
    ck_assert_uint_le(after.epoll_waits - before.epoll_waits, 10);
    wk_executor_free(ex);
}
END_TEST

START_TEST(spawn_rejects_bad_layout)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    trivial_future t = {{trivial_poll, NULL}, 0};
    wk_task *h;
    ck_assert_int_eq(wk_spawn(ex, &t.base, sizeof t, sizeof t, 4, &h), -EINVAL);
    ck_assert_uint_eq(wk_executor_task_count(ex), 0);
    wk_executor_free(ex);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("executor");
    TCase *tc = tcase_create("executor");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, counting_future_gives_4);
    tcase_add_test(tc, pending_without_wake_is_not_polled_again);
    tcase_add_test(tc, outputs_of_several_types);
    tcase_add_test(tc, blocking_join_from_another_thread);
    tcase_add_test(tc, awaited_join);
    tcase_add_test(tc, awaited_join_across_executors);
    tcase_add_test(tc, detach);
    tcase_add_test(tc, free_cancels_and_drops);
    tcase_add_test(tc, hundred_thousand_tasks);
    tcase_add_test(tc, self_wake_goes_to_the_back);
    tcase_add_test(tc, spawn_rejects_bad_layout);
    tcase_add_test(tc, stale_root_wake_does_not_spin);
    suite_add_tcase(s, tc);
    return check_run(s);
}

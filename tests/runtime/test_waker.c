/* tests/runtime/test_waker.c: the waker's contract, with a vtable of our own and with the
 * executor's task waker. */
#include <check.h>
#include <stdlib.h>

#include "counting_waker.h"
#include <wakeful/wakeful.h>
#include "../check_run.h"

START_TEST(clone_drop_balance)
{
    waker_counts c = {0};
    wk_waker w = counting_waker(&c);
    wk_waker copies[10];
    for (int i = 0; i < 10; i++)
        copies[i] = wk_waker_clone(&w);
    ck_assert_int_eq(c.clones, 10);
    for (int i = 0; i < 10; i++)
        wk_waker_drop(&copies[i]);
    ck_assert_int_eq(c.drops, 10);
    ck_assert_int_eq(c.wakes + c.wakes_by_ref, 0);
}
END_TEST

START_TEST(wake_consumes_wake_by_ref_does_not)
{
    waker_counts c = {0};
    wk_waker w = counting_waker(&c);
    wk_waker a = wk_waker_clone(&w);
    wk_waker_wake_by_ref(&a);
    ck_assert_int_eq(c.wakes_by_ref, 1);
    ck_assert(wk_waker_is_set(&a)); /* still usable */
    wk_waker_wake(&a);
    ck_assert_int_eq(c.wakes, 1);
    ck_assert(!wk_waker_is_set(&a)); /* consumed: the slot is empty */
    wk_waker_drop(&a);               /* dropping an empty slot does nothing */
    ck_assert_int_eq(c.drops, 0);
}
END_TEST

START_TEST(store_reuses_same_target)
{
    waker_counts c = {0}, d = {0};
    wk_waker w = counting_waker(&c), v = counting_waker(&d);
    wk_waker slot = {0};
    for (int i = 0; i < 5; i++)
        wk_waker_store(&slot, &w); /* re-registering the same waker clones once */
    ck_assert_int_eq(c.clones, 1);
    wk_waker_store(&slot, &v); /* another target: the old one is dropped */
    ck_assert_int_eq(c.drops, 1);
    ck_assert_int_eq(d.clones, 1);
    wk_waker_drop(&slot);
    ck_assert_int_eq(d.drops, 1);
}
END_TEST

/* A future that stores a clone of its waker in a slot owned by the test, once. */
typedef struct stash_future {
    wk_future base;
    wk_waker *slot;
    int polls;
    int done_after;
} stash_future;

static wk_poll stash_poll(wk_future *f, wk_context *cx)
{
    stash_future *s = (stash_future *)f;
    s->polls++;
    if (s->polls >= s->done_after)
        return WK_READY;
    if (!wk_waker_is_set(s->slot))
        *s->slot = wk_waker_clone(cx->waker);
    return WK_PENDING;
}

START_TEST(double_wake_queues_once)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    wk_waker slot = {0};
    stash_future s = {{stash_poll, NULL}, &slot, 0, 3};
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, stash_future, &s, polls, &h), 0);
    ck_assert_int_eq(wk_executor_run_one(ex), 1);
    ck_assert_int_eq(wk_executor_run_one(ex), 0); /* not woken: not polled */
    wk_waker_wake_by_ref(&slot);
    wk_waker_wake_by_ref(&slot);
    wk_waker_wake_by_ref(&slot);
    ck_assert_int_eq(wk_executor_run_one(ex), 1); /* three wakes, one poll */
    ck_assert_int_eq(wk_executor_run_one(ex), 0);
    wk_waker_wake(&slot); /* consumes our clone */
    ck_assert_int_eq(wk_executor_run_one(ex), 1);
    int polls = 0;
    ck_assert_int_eq(wk_join_try(h, &polls), 0);
    ck_assert_int_eq(polls, 3);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    ck_assert_uint_eq(st.polls, 3);
    ck_assert_uint_eq(st.completed, 1);
    wk_executor_free(ex);
}
END_TEST

START_TEST(wake_after_finish_is_harmless)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    wk_waker slot = {0};
    stash_future s = {{stash_poll, NULL}, &slot, 0, 2};
    ck_assert_int_eq(WK_SPAWN_DETACHED(ex, stash_future, &s), 0);
    ck_assert_int_eq(wk_executor_run_one(ex), 1);
    wk_waker_wake_by_ref(&slot);
    ck_assert_int_eq(wk_executor_run_one(ex), 1); /* completes */
    ck_assert_uint_eq(wk_executor_task_count(ex), 0);
    /* Our clone keeps the finished task's memory alive; waking it queues nothing. */
    wk_waker_wake_by_ref(&slot);
    wk_waker_wake_by_ref(&slot);
    ck_assert_int_eq(wk_executor_run_one(ex), 0);
    wk_waker_drop(&slot); /* the last reference: frees the task (valgrind/ASan check) */
    wk_executor_free(ex);
}
END_TEST

START_TEST(noop_waker_does_nothing)
{
    wk_waker w = wk_noop_waker();
    wk_waker c = wk_waker_clone(&w);
    wk_waker_wake_by_ref(&c);
    wk_waker_wake(&c);
    wk_waker_drop(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("waker");
    TCase *tc = tcase_create("waker");
    tcase_add_test(tc, clone_drop_balance);
    tcase_add_test(tc, wake_consumes_wake_by_ref_does_not);
    tcase_add_test(tc, store_reuses_same_target);
    tcase_add_test(tc, double_wake_queues_once);
    tcase_add_test(tc, wake_after_finish_is_harmless);
    tcase_add_test(tc, noop_waker_does_nothing);
    suite_add_tcase(s, tc);
    return check_run(s);
}

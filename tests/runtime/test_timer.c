/* tests/runtime/test_timer.c: the timer heap, sleep, and the timeout combinator. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include <wakeful/wakeful.h>
#include "../check_run.h"

/* ---- the heap on its own, against a sorted reference ---- */
typedef struct item {
    wk_heap_node node;
    uint64_t key;
    int in_heap;
} item;

#define item_of(n) ((item *)((char *)(n) - offsetof(item, node)))

static int item_less(const wk_heap_node *a, const wk_heap_node *b)
{
    return item_of(a)->key < item_of(b)->key;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

START_TEST(heap_random_insert_remove)
{
    enum { N = 2000 };
    static item items[N];
    wk_heap h = {NULL, 0};
    memset(items, 0, sizeof items);
    for (int round = 0; round < 20000; round++) {
        item *it = &items[rng() % N];
        if (it->in_heap) {
            wk__heap_remove(&h, &it->node, item_less);
            it->in_heap = 0;
        } else {
            it->key = rng() % 1000;
            wk__heap_insert(&h, &it->node, item_less);
            it->in_heap = 1;
        }
        if (round % 97 == 0)
            ck_assert(wk__heap_validate(&h, item_less));
    }
    ck_assert(wk__heap_validate(&h, item_less));
    /* Popping gives the keys in order. */
    uint64_t last = 0;
    size_t n = h.count;
    for (size_t i = 0; i < n; i++) {
        item *min = item_of(h.min);
        ck_assert_uint_ge(min->key, last);
        last = min->key;
        wk__heap_remove(&h, h.min, item_less);
    }
    ck_assert_uint_eq(h.count, 0);
    ck_assert_ptr_null(h.min);
}
END_TEST

/* ---- many sleeps ---- */
typedef struct sleeper {
    wk_future base;
    int co;
    wk_sleep sleep;
    uint64_t deadline;
    const uint64_t *deadlines; /* when set, the deadline is deadlines[id], read at first poll */
    uint64_t *woke_at;   /* when it finished, by clock */
    int *order;          /* finishing order */
    int *finished;
    int id;
    int polls;
    char *waited;        /* 1 when the sleeper was polled before its deadline and waited */
} sleeper;

static wk_poll sleeper_poll(wk_future *f, wk_context *cx)
{
    sleeper *s = (sleeper *)f;
    s->polls++;
    WK_CO_BEGIN(s->co);
    if (s->deadlines)
        s->deadline = s->deadlines[s->id];
    wk_sleep_until_init(&s->sleep, s->deadline);
    WK_CO_AWAIT(s->co, &s->sleep, cx);
    s->woke_at[s->id] = wk_now_ns();
    if (s->waited)
        s->waited[s->id] = s->polls > 1;
    s->order[(*s->finished)++] = s->id;
    WK_CO_END(s->co);
}

static void sleeper_drop(wk_future *f)
{
    wk_future_drop(&((sleeper *)f)->sleep.base);
}

START_TEST(hundred_thousand_sleeps)
{
    enum { N = 100000 };
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    uint64_t *deadline = malloc(N * sizeof *deadline);
    uint64_t *woke_at = calloc(N, sizeof *woke_at);
    int *order = malloc(N * sizeof *order);
    char *waited = calloc(N, 1);
    int finished = 0;
    for (int i = 0; i < N; i++) {
        sleeper s;
        memset(&s, 0, sizeof s);
        s.base.poll = sleeper_poll;
        s.base.drop = sleeper_drop;
        s.deadlines = deadline;
        s.woke_at = woke_at;
        s.order = order;
        s.finished = &finished;
        s.id = i;
        s.waited = waited;
        ck_assert_int_eq(WK_SPAWN_DETACHED(ex, sleeper, &s), 0);
    }
    /* Deadlines spread over 0.2..1.2 s from now, in random order, many equal.  Set after
     * the spawns (the sleepers read them at their first poll): on a loaded machine 100,000
     * spawns have taken over a second, which left no sleeper anything to wait for. */
    uint64_t start = wk_now_ns();
    for (int i = 0; i < N; i++)
        deadline[i] = start + 200 * WK_NSEC_PER_MSEC + (rng() % 1000) * WK_NSEC_PER_MSEC;
    ck_assert_int_eq(wk_executor_run(ex), 0);
    ck_assert_int_eq(finished, N);
    /* Timers fire in deadline order.  A sleeper first polled after its deadline (possible
     * when a slow sanitizer run takes longer than 200 ms to start them all) finishes at once,
     * out of that order by design, so the order is checked among those that waited. */
    uint64_t last = 0;
    int n_waited = 0;
    for (int i = 0; i < N; i++) {
        int id = order[i];
        ck_assert_uint_ge(woke_at[id], deadline[id]); /* never early, waited or not */
        if (!waited[id])
            continue;
        ck_assert_uint_ge(deadline[id], last);
        last = deadline[id];
        n_waited++;
    }
    ck_assert_int_gt(n_waited, 0);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    /* A sleeper that waited is polled twice (arm, fire), one that did not, once: nothing
     * is polled without a wake. */
    ck_assert_uint_eq(st.polls, (uint64_t)N + (uint64_t)n_waited);
    free(waited);
    free(deadline);
    free(woke_at);
    free(order);
    wk_executor_free(ex);
}
END_TEST

START_TEST(sleep_is_not_early)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    for (int ms = 0; ms < 30; ms += 7) {
        wk_sleep s;
        wk_sleep_init(&s, (uint64_t)ms * WK_NSEC_PER_MSEC);
        uint64_t t0 = wk_now_ns();
        ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
        ck_assert_int_eq(s.result, 0);
        ck_assert_uint_ge(wk_now_ns() - t0, (uint64_t)ms * WK_NSEC_PER_MSEC);
    }
    wk_executor_free(ex);
}
END_TEST

/* A future that never finishes and never wakes, to be timed out. */
static wk_poll never_poll(wk_future *f, wk_context *cx)
{
    (void)f;
    (void)cx;
    return WK_PENDING;
}

typedef struct dropped_future {
    wk_future base;
    int drops;
} dropped_future;

static void count_drop(wk_future *f)
{
    ((dropped_future *)f)->drops++;
}

START_TEST(timeout_fires_and_drops_inner)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    dropped_future inner = {{never_poll, count_drop}, 0};
    wk_timeout t;
    uint64_t deadline = wk_deadline_in_ms(30);
    wk_timeout_init(&t, &inner.base, deadline);
    ck_assert_int_eq(wk_block_on(ex, &t.base), 0);
    ck_assert_int_eq(t.timed_out, 1);
    ck_assert_uint_ge(wk_now_ns(), deadline);
    ck_assert_int_ge(inner.drops, 1);
    ck_assert_uint_eq(wk_executor_task_count(ex), 0);
    wk_executor_free(ex);
}
END_TEST

START_TEST(timeout_lets_fast_inner_win)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    wk_sleep inner;
    wk_sleep_init(&inner, 5 * WK_NSEC_PER_MSEC);
    wk_timeout t;
    wk_timeout_init(&t, &inner.base, wk_deadline_in_ms(5000));
    uint64_t t0 = wk_now_ns();
    ck_assert_int_eq(wk_block_on(ex, &t.base), 0);
    ck_assert_int_eq(t.timed_out, 0);
    ck_assert_uint_lt(wk_now_ns() - t0, 4000 * WK_NSEC_PER_MSEC); /* did not wait the 5 s */
    wk_future_drop(&t.base);
    wk_executor_free(ex);
}
END_TEST

/* A task that starts a long sleep, then gets dropped by the executor's free: the timer must
 * leave the heap with it (ASan/valgrind would see a dangling node otherwise). */
START_TEST(cancelled_sleep_leaves_heap)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int finished = 0, order[4];
    uint64_t woke[4];
    for (int i = 0; i < 4; i++) {
        sleeper s;
        memset(&s, 0, sizeof s);
        s.base.poll = sleeper_poll;
        s.base.drop = sleeper_drop;
        s.deadline = wk_deadline_in_ms(60000);
        s.woke_at = woke;
        s.order = order;
        s.finished = &finished;
        s.id = i;
        ck_assert_int_eq(WK_SPAWN_DETACHED(ex, sleeper, &s), 0);
    }
    for (int i = 0; i < 4; i++)
        wk_executor_run_one(ex);
    ck_assert_int_eq(finished, 0);
    wk_executor_free(ex); /* each sleep disarms itself as its task is dropped */
}
END_TEST

START_TEST(sleep_without_executor_is_an_error)
{
    wk_sleep s;
    wk_sleep_init(&s, WK_NSEC_PER_MSEC);
    wk_waker w = wk_noop_waker();
    wk_context cx = {&w, NULL};
    ck_assert_int_eq(wk_future_poll(&s.base, &cx), WK_READY);
    ck_assert_int_eq(s.result, -22); /* -EINVAL */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("timer");
    TCase *tc = tcase_create("timer");
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, heap_random_insert_remove);
    tcase_add_test(tc, hundred_thousand_sleeps);
    tcase_add_test(tc, sleep_is_not_early);
    tcase_add_test(tc, timeout_fires_and_drops_inner);
    tcase_add_test(tc, timeout_lets_fast_inner_win);
    tcase_add_test(tc, cancelled_sleep_leaves_heap);
    tcase_add_test(tc, sleep_without_executor_is_an_error);
    suite_add_tcase(s, tc);
    return check_run(s);
}
